"""The monthly report: library/anshin_monthly_usage.py counts fixture logs and a receiver database exactly,
and anshin_ops/monthly.py draws the HTML page and workbook from those counts; bad input fails cleanly."""

import datetime
import gzip
import os
import sqlite3

import openpyxl
import pytest
from anshin_common import JST

from anshin_ops import cli, incidents, monthly
from conftest import load_module
from lalert_receiver.store import SCHEMA

usage = load_module("anshin_monthly_usage")


def clf(day, hour, month=11, year=2026):
    return datetime.datetime(year, month, day, hour, 0, tzinfo=JST).strftime("%d/%b/%Y:%H:%M:%S +0900")


def access(stamp, path, status):
    return f'10.0.0.1 - - [{stamp}] "GET {path} HTTP/1.1" {status} 12 "-" "curl"\n'


@pytest.fixture
def logs(tmp_path):
    """November 2026: 3 requests on the 1st (one 404), 2 on the 30th (one 500), one on 31 Oct and one on
    1 Dec (outside), a garbage line; spread over a rotated .gz and the live file."""
    directory = tmp_path / "nginx"
    directory.mkdir()
    with gzip.open(directory / "lalert-receiver.access.log.2.gz", "wt") as fh:
        fh.write(access(clf(31, 23, month=10), "/healthz", 200))
        fh.write(access(clf(1, 0), "/healthz", 200))
        fh.write(access(clf(1, 9), "/lalert/publish?x=1", 200))
        fh.write(access(clf(1, 10), "/nope", 404))
    (directory / "lalert-receiver.access.log").write_text(
        access(clf(30, 8), "/lalert/publish", 200)
        + "garbage line\n"
        + access(clf(30, 23), "/healthz", 500)
        + access(clf(1, 0, month=12), "/healthz", 200),
        encoding="utf-8",
    )
    old = directory / "access.log.9"  # last written in September: not read
    old.write_text(access(clf(1, 1, month=9), "/old", 200), encoding="utf-8")
    os.utime(old, (datetime.datetime(2026, 9, 30, tzinfo=JST).timestamp(),) * 2)
    return str(directory / "*access.log*")


def stamp(day, month=11):
    return datetime.datetime(2026, month, day, 12, 0, tzinfo=JST).timestamp()


@pytest.fixture
def database(tmp_path):
    path = str(tmp_path / "receiver.sqlite3")
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    rows = [  # document, revision, received, status, type, real, category
        ("D1", 1, stamp(30, 10), "Actual", "Report", 1, "EvacuationOrder"),  # October: registered only
        ("D1", 2, stamp(2), "Actual", "Update", 1, "EvacuationOrder"),
        ("D2", 1, stamp(3), "Actual", "Report", 1, "Shelter"),
        ("D2", 2, stamp(4), "Actual", "Cancel", 1, "Shelter"),  # cancels D2
        ("D3", 1, stamp(5), "Exercise", "Report", 0, "EvacuationOrder"),
        ("D4", 1, stamp(6), "Actual", "Report", 1, "Weather"),
        ("D4", 2, stamp(7), "Exercise", "Cancel", 0, "Weather"),  # a drill: cancels nothing real
        ("D5", 1, stamp(2, 12), "Actual", "Report", 1, "Weather"),  # December: not counted
    ]
    for i, (doc, rev, received, status, kind, real, category) in enumerate(rows):
        conn.execute(
            "INSERT INTO messages (document_id, revision, distribution_id, sender_id, sent_at, received_at,"
            " status, dist_type, is_real, category, kind, code, headline, areas, area_codes, spool_file, raw)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                doc,
                rev,
                f"X{i}",
                "s",
                "t",
                received,
                status,
                kind,
                real,
                category,
                "k",
                "c",
                "h",
                "a",
                "36",
                f"f{i}",
                b"raw",
            ),
        )
    conn.commit()
    conn.close()
    return path


def collect(logs, database, month="2026-11", top=20):
    return usage.collect({"month": month, "access_logs": [logs], "database": database, "top_pages": top})


def test_access_counts_per_day_page_and_status(logs, database):
    got = collect(logs, database)["access"]
    assert got["total"] == 5 and got["unparsable"] == 1
    assert got["by_status"] == {"2xx": 3, "3xx": 0, "4xx": 1, "5xx": 1}
    days = {d["day"]: d for d in got["by_day"]}
    assert len(days) == 30 and days["2026-11-15"]["requests"] == 0
    assert days["2026-11-01"]["requests"] == 3 and days["2026-11-01"]["4xx"] == 1
    assert days["2026-11-30"]["requests"] == 2 and days["2026-11-30"]["5xx"] == 1
    assert got["by_page"] == [
        {"page": "/healthz", "requests": 2},
        {"page": "/lalert/publish", "requests": 2},
        {"page": "/nope", "requests": 1},
    ]
    assert not any(f["path"].endswith(".9") for f in got["files"])  # older than the month: skipped


def test_pages_beyond_the_top_are_summed(logs, database):
    pages = collect(logs, database, top=1)["access"]["by_page"]
    assert pages == [{"page": "/healthz", "requests": 2}, {"page": "その他", "requests": 3}]


def test_posts_and_registered_data(logs, database):
    got = collect(logs, database)
    posts = {p["category"]: p for p in got["posts"]}
    assert posts["EvacuationOrder"] == {
        "category": "EvacuationOrder",
        "received": 2,
        "published": 1,
        "exercise_or_test": 1,
        "cancels": 0,
    }
    assert posts["Shelter"]["received"] == 2 and posts["Shelter"]["cancels"] == 1
    assert posts["Shelter"]["published"] == 1 and posts["Weather"]["received"] == 2
    assert posts["Weather"]["exercise_or_test"] == 1
    registered = {(r["category"], r["status"]): r["rows"] for r in got["registered"]["by_category_status"]}
    assert registered == {
        ("EvacuationOrder", "Actual"): 2,
        ("EvacuationOrder", "Exercise"): 1,
        ("Shelter", "Actual"): 2,
        ("Weather", "Actual"): 1,
        ("Weather", "Exercise"): 1,
    }
    # at the end of November: D1 (revision 2) and D4 are presented; D2 is cancelled, D3 an exercise,
    # and the drill's Cancel of D4 (another track) does not hide the real D4
    assert got["registered"]["current_real"] == [
        {"category": "EvacuationOrder", "documents": 1},
        {"category": "Weather", "documents": 1},
    ]


def test_bad_input_fails_cleanly(logs, database, tmp_path, run_module):
    failed, result = run_module(usage, {"month": "2026-13", "access_logs": [logs], "database": database})
    assert failed and "is not YYYY-MM" in result["msg"]
    failed, result = run_module(
        usage, {"month": "2026-11", "access_logs": [logs], "database": str(tmp_path / "missing.sqlite3")}
    )
    assert failed and "does not exist" in result["msg"]
    failed, result = run_module(usage, {"month": "2026-11", "access_logs": [logs], "database": database})
    assert not failed and result["changed"] is False and result["access"]["total"] == 5


def test_report_drawn_from_the_counts(logs, database, tmp_path):
    counts = dict(collect(logs, database), host="lalert-vm")
    path = tmp_path / "out" / "usage-lalert-vm.json"
    path.parent.mkdir()
    path.write_text(__import__("json").dumps(counts), encoding="utf-8")
    written = monthly.render(str(path), str(tmp_path / "out"), today=datetime.date(2026, 12, 5))
    names = sorted(os.path.basename(p) for p in written)
    assert names == [
        "lalert-vm_access_by_day.png",
        "lalert-vm_access_by_page.png",
        "lalert-vm_posts_by_category.png",
        "月次報告書_2026-11_lalert-vm.html",
        "月次報告書_2026-11_lalert-vm.xlsx",
    ]
    page = (tmp_path / "out" / "月次報告書_2026-11_lalert-vm.html").read_text(encoding="utf-8")
    assert "<h2>電文受信件数 (分類別)</h2>" in page and 'src="lalert-vm_access_by_day.png"' in page
    assert "途中集計" not in page
    for png in names[:3]:
        assert (tmp_path / "out" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    book = openpyxl.load_workbook(tmp_path / "out" / "月次報告書_2026-11_lalert-vm.xlsx")
    assert book.sheetnames == [
        "日別アクセス",
        "ページ別アクセス",
        "ステータス区分",
        "電文受信件数",
        "登録データ件数",
        "公開中の情報",
    ]
    daily = book["日別アクセス"]
    assert daily["A1"].value == "アクセス件数 (日別)" and [c.value for c in daily[2]][:2] == ["日付", "件数"]
    assert [c.value for c in daily[33]][:2] == ["合計", 5] and daily._charts
    posts = [[c.value for c in row] for row in book["電文受信件数"].iter_rows(min_row=3)]
    assert posts[-1] == ["合計", 6, 3, 2, 2]
    assert not [n for n in os.listdir(tmp_path / "out") if n.startswith(".draw-")]


def test_month_checks():
    assert monthly.check_month("2026-11", today=datetime.date(2026, 11, 29)) == (2026, 11, False)
    assert monthly.check_month("2026-10", today=datetime.date(2026, 11, 29))[2] is True
    with pytest.raises(incidents.RecordError, match="has not started"):
        monthly.check_month("2026-12", today=datetime.date(2026, 11, 29))
    with pytest.raises(incidents.RecordError, match="not YYYY-MM"):
        monthly.check_month("Nov 2026")


def test_cli_refuses_a_future_month_before_running_anything(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli.runner, "run_job", lambda *a, **k: pytest.fail("nothing may run"))
    assert cli.main(["report", "monthly", "2099-01"]) == 2
    assert "has not started yet" in capsys.readouterr().err


@pytest.mark.parametrize("content, message", [("{not json", "not JSON"), ('{"month": "2026-11"}', "no 'access'")])
def test_damaged_counts_are_refused_and_nothing_is_drawn(tmp_path, content, message):
    (tmp_path / "usage-lalert-vm.json").write_text(content, encoding="utf-8")
    with pytest.raises(incidents.RecordError, match=message):
        monthly.render(str(tmp_path / "usage-lalert-vm.json"), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_the_page_is_a_template_that_escapes_every_value():
    """A requested path is anyone's text: the page (templates/monthly.html.j2) escapes it."""
    data = {
        "month": "2026-11",
        "access": {
            "by_day": [{"day": "2026-11-01", "requests": 1, "2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0}],
            "total": 1,
            "by_status": {"2xx": 1, "3xx": 0, "4xx": 0, "5xx": 0},
            "by_page": [{"page": '/"><script>alert(1)</script>', "requests": 1}],
            "unparsable": 0,
        },
        "posts": [],
        "registered": {"by_category_status": [], "current_real": []},
    }
    charts = {"access_by_day": "a.png", "access_by_page": 'b".png', "posts": "c.png"}
    page = monthly._html(data, "vm<1>", charts, finished=False)
    assert "<script>" not in page and "<title>月次報告書 2026-11 (vm&lt;1&gt;)</title>" in page
    assert '<td>/&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</td><td class="n">1</td>' in page
    assert '<img src="b&#34;.png"' in page and "<p>注: 当月の途中集計です。</p>" in page

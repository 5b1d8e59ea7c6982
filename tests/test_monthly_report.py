"""The monthly report: library/anshin_monthly_usage.py counts fixture logs and a receiver database exactly,
and anshin_ops/monthly.py draws the HTML page and workbook from those counts and from the public site's counts
(access_counts.count_month over tests/fixtures/iis_w3c); bad input fails cleanly."""

import datetime
import gzip
import json
import os
import shutil
import sqlite3
import warnings

import chromium
import openpyxl
import pytest
from anshin_common import JST

from anshin_ops import access_counts, cli, incidents, monthly
from conftest import IIS_SAMPLE, iis_sample_cut_short, load_module
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


def write_counts(logs, database, tmp_path):
    """The VM's counts of November as playbooks/monthly_usage.yml leaves them: the path of the JSON."""
    path = tmp_path / "out" / "usage-lalert-vm.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(dict(collect(logs, database), host="lalert-vm")), encoding="utf-8")
    return str(path)


def test_report_drawn_from_the_counts(logs, database, tmp_path):
    path = write_counts(logs, database, tmp_path)
    written = monthly.render(path, str(tmp_path / "out"), today=datetime.date(2026, 12, 5))
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
    # the VM's nginx figures are titled as what they are, not as the site's visits
    assert f"<h2>{monthly.H_VM_DAY}</h2>" in page and "監視・ヘルスチェックを含む, 参考" in monthly.H_VM_DAY
    assert "<h2>アクセス件数 (日別)</h2>" not in page
    for png in names[:3]:
        assert (tmp_path / "out" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    book = openpyxl.load_workbook(tmp_path / "out" / "月次報告書_2026-11_lalert-vm.xlsx")
    assert book.sheetnames == [
        "公開サイトアクセス",  # no IIS logs given: the sheet says so
        "連携サーバ日別要求(参考)",
        "連携サーバパス別要求(参考)",
        "連携サーバステータス区分(参考)",
        "電文受信件数",
        "登録データ件数",
        "公開中の情報",
    ]
    daily = book["連携サーバ日別要求(参考)"]
    assert daily["A1"].value == monthly.H_VM_DAY and [c.value for c in daily[2]][:2] == ["日付", "件数"]
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


# the public site: access_counts.count_month over the IIS sample (tests/fixtures/iis_w3c/README.md), whose
# figures tests/test_access_counts.py counts by hand
SAMPLE = IIS_SAMPLE
MONITORING = ["192.0.2.41/32", "10.20.0.0/24"]
AFTER = datetime.datetime(2026, 12, 5, 10, 0, tzinfo=JST)
SITE_HEADINGS = [
    monthly.H_MISSING,
    monthly.H_SITE_DAY,
    monthly.H_SITE_PAGE,
    monthly.H_SITE_STATUS,
    monthly.H_EXCLUDED,
    monthly.H_BAD,
]


def site(root=SAMPLE, now=AFTER, **kwargs):
    return access_counts.count_month(str(root), "2026-11", exclude_networks=MONITORING, now=now, **kwargs)


def sheet_rows(book, name):
    """The table of a sheet: the rows under the header (row 2) up to the first empty row, '' for no value."""
    rows = []
    for row in book[name].iter_rows(min_row=3, values_only=True):
        if all(v is None for v in row):
            break
        rows.append(["" if v is None else v for v in row])
    return rows


def sheet_notes(book, name):
    return [row[0] for row in book[name].iter_rows(values_only=True) if row[0] and row[1:] == (None,) * len(row[1:])]


def draw(logs, database, tmp_path, site_access, today=datetime.date(2026, 12, 5)):
    """Render with SITE_ACCESS; (page, workbook, names written)."""
    written = monthly.render(
        write_counts(logs, database, tmp_path), str(tmp_path / "out"), today=today, site_access=site_access
    )
    page = (tmp_path / "out" / "月次報告書_2026-11_lalert-vm.html").read_text(encoding="utf-8")
    book = openpyxl.load_workbook(tmp_path / "out" / "月次報告書_2026-11_lalert-vm.xlsx")
    return page, book, sorted(os.path.basename(p) for p in written)


def test_the_public_sites_sections_come_first_with_count_months_figures(logs, database, tmp_path):
    counts = site(top=3)  # three pages, then その他
    page, book, names = draw(logs, database, tmp_path, counts)
    assert "lalert-vm_site_by_day.png" in names and 'src="lalert-vm_site_by_day.png"' in page
    # every section, in this order, before the VM's
    positions = [page.index(f"<h2>{h}</h2>") for h in [*SITE_HEADINGS, monthly.H_VM_DAY]]
    assert positions == sorted(positions)
    assert book.sheetnames[:7] == [
        "欠落しているログ",
        "公開サイト日別",
        "ページ別閲覧数",
        "公開サイト応答コード",
        "除外した要求",
        "読めなかった行",
        "連携サーバ日別要求(参考)",
    ]
    assert [book[n]["A1"].value for n in book.sheetnames[:6]] == SITE_HEADINGS

    daily = sheet_rows(book, "公開サイト日別")
    assert [c.value for c in book["公開サイト日別"][2]] == ["日付", "リクエスト数", "ページビュー", "訪問者数", "備考"]
    assert [r[:4] for r in daily[:-1]] == [
        [d["day"], d["requests"], d["page_views"], d["visitors"]] for d in counts["by_day"]
    ]
    assert len(daily) == 30 + 1  # a finished month: every day, then 合計
    assert daily[0][:4] == ["2026-11-01", 24, 15, 7]  # as tests/test_access_counts.py counts it by hand
    # the total is count_month's; the visitors' is the sum of the days (延べ), and the note says so
    assert daily[-1] == ["合計", counts["requests"], counts["page_views"], counts["visitors"], ""]
    assert daily[-1][1:4] == [28, 19, 7 + 2 + 1] == [28, 19, sum(r[3] for r in daily[:-1])]
    assert any("延べ" in n and "合計" in n for n in sheet_notes(book, "公開サイト日別"))
    assert "延べ人数" in page
    assert book["公開サイト日別"]._charts

    assert sheet_rows(book, "ページ別閲覧数") == [
        ["/anshin/index.html", 7],
        ["/anshin/bousai/keihou.html", 4],
        ["/anshin/", 3],
        ["その他", 5],  # count_month's own row, as it is
    ]
    assert [[p["page"], p["page_views"]] for p in counts["top_pages"]] == sheet_rows(book, "ページ別閲覧数")
    assert sheet_rows(book, "公開サイト応答コード") == [
        ["1xx (情報)", 0],
        ["2xx (成功)", 22],
        ["3xx (リダイレクト・未更新)", 3],
        ["4xx (クライアントエラー)", 2],
        ["5xx (サーバエラー)", 1],
        ["合計", 28],
    ]
    assert sheet_rows(book, "除外した要求") == [
        ["User-Agent ^Zabbix", 1],
        ["送信元アドレス 10.20.0.0/24", 1],
        ["送信元アドレス 192.0.2.41/32", 2],
        ["合計", counts["excluded"]["requests"]],
    ]
    assert sheet_rows(book, "読めなかった行") == [
        ["#Fields に合わない行 (値の数・日付・時刻・応答コード)", 2],
        ["途中で切れたファイル末尾の行", 1],
        ["合計", 3],
    ]
    # the page shows the same tables (one definition for both)
    assert '<tr><td>その他</td><td class="n">5</td></tr>' in page
    assert '<tr><td>合計</td><td class="n">28</td><td class="n">19</td><td class="n">10</td><td></td></tr>' in page
    assert monthly.NO_SITE_LOGS.format(month="2026-11") not in page


def test_without_the_sites_logs_the_report_says_so_and_shows_no_zeros(logs, database, tmp_path):
    message = monthly.NO_SITE_LOGS.format(month="2026-11")
    assert "bin/anshin report monthly 2026-11" in message and "--no-collect" in message
    # none given (as cli.py before the IIS logs), or an empty collection with no CMS host named
    (tmp_path / "iis-logs").mkdir()
    for counts in (None, site(tmp_path / "iis-logs")):
        page, book, names = draw(logs, database, tmp_path, counts)
        assert f"<h2>{monthly.H_SITE}</h2>" in page and message in page
        assert not [h for h in SITE_HEADINGS if h in page]
        assert "リクエスト数" not in page and "ページビュー" not in page
        assert not [n for n in names if "site_by_day" in n]
        assert book.sheetnames[0] == "公開サイトアクセス" and "公開サイト日別" not in book.sheetnames
        assert [c.value for c in book["公開サイトアクセス"]["A"]] == [monthly.H_SITE, message]
        shutil.rmtree(tmp_path / "out")


def test_servers_named_but_nothing_collected_lists_them_and_shows_no_zeros(logs, database, tmp_path):
    # a failed collection: the CMS servers are named, no file came
    (tmp_path / "iis-logs").mkdir()
    page, book, names = draw(logs, database, tmp_path, site(tmp_path / "iis-logs", hosts=["cms-web1", "cms-web2"]))
    assert monthly.NO_SITE_LOGS.format(month="2026-11") in page
    assert f"<h2>{monthly.H_MISSING}</h2>" in page and "<td>cms-web1</td>" in page and "<td>cms-web2</td>" in page
    assert "<h2>公開サイト アクセス件数 (日別)</h2>" not in page and not [n for n in names if "site_by_day" in n]


def test_an_unreadable_file_is_named_without_the_controllers_folders(logs, database, tmp_path):
    root = tmp_path / "iis-logs"
    iis_sample_cut_short(root)
    page, _, _ = draw(logs, database, tmp_path, site(root))
    assert "最後まで読めなかったファイル: cms-web2 W3SVC1 u_ex261101.log.gz (EOFError" in page
    assert str(tmp_path) not in page


def test_a_host_without_any_log_is_listed_and_its_days_marked(logs, database, tmp_path):
    counts = site(hosts=["cms-web3"])
    _, book, _ = draw(logs, database, tmp_path, counts)
    assert sheet_rows(book, "欠落しているログ") == [
        ["cms-web1", "W3SVC1", 28, "2026-11-02〜2026-11-29"],
        ["cms-web1", "W3SVC2", 30, "2026-10-31, 2026-11-02〜2026-11-30"],
        ["cms-web2", "W3SVC1", 30, "2026-10-31, 2026-11-02〜2026-11-30"],
        ["cms-web3", "(全サイト)", 31, "2026-10-31〜2026-11-30"],
    ]
    remarks = {r[0]: r[4] for r in sheet_rows(book, "公開サイト日別")}
    # IIS's files are UTC days: the 10-31 file holds 11-01 0:00-9:00 JST, the 11-02 file 11-02 9:00-11-03 9:00
    assert remarks["2026-11-01"] == (
        "ログなし: cms-web1 W3SVC2 (0時〜9時), cms-web2 W3SVC1 (0時〜9時), cms-web3 (全サイト) (終日)"
    )
    assert remarks["2026-11-02"] == (
        "ログなし: cms-web1 W3SVC1 (9時〜24時), cms-web1 W3SVC2 (9時〜24時), cms-web2 W3SVC1 (9時〜24時),"
        " cms-web3 (全サイト) (終日)"
    )
    assert remarks["2026-11-15"].count("(終日)") == 4
    assert remarks["2026-11-30"].startswith("ログなし: cms-web1 W3SVC1 (0時〜9時), cms-web1 W3SVC2 (終日)")
    assert remarks["合計"] == ""


def test_during_the_month_the_days_so_far_and_a_day_with_every_log(logs, database, tmp_path):
    # only cms-web1's /anshin/ site, its files of UTC 10-31 and 11-01
    root = tmp_path / "iis-logs"
    for month in ("2026-10", "2026-11"):
        shutil.copytree(SAMPLE / "cms-web1" / month / "W3SVC1", root / "cms-web1" / month / "W3SVC1")
    (root / "cms-web1/2026-11/W3SVC1/u_ex261130.log").unlink()
    now = datetime.datetime(2026, 11, 2, 8, 0, tzinfo=JST)  # 11-01 23:00 UTC: no file of UTC 11-02 is due yet
    counts = site(root, now=now)
    assert counts["missing"] == [] and len(counts["by_day"]) == 30
    page, book, _ = draw(logs, database, tmp_path, counts, today=now.date())
    assert "途中集計" in page and monthly.H_MISSING not in page and "欠落しているログ" not in book.sheetnames
    # the days so far, none marked; tests/test_access_counts.py's 11-01 less cms-web2's E1-E5 (V6, V7), and C20
    assert sheet_rows(book, "公開サイト日別") == [
        ["2026-11-01", 19, 11, 5, ""],
        ["2026-11-02", 1, 1, 1, ""],
        ["合計", 20, 12, 6, ""],
    ]
    # an hour after 09:00 JST the file of UTC 11-02 is due: without it 11-02 is marked, from 9:00
    later = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=JST)
    shutil.rmtree(tmp_path / "out")
    _, book, _ = draw(logs, database, tmp_path, site(root, now=later), today=later.date())
    assert [r[0::4] for r in sheet_rows(book, "公開サイト日別")] == [
        ["2026-11-01", ""],
        ["2026-11-02", "ログなし: cms-web1 W3SVC1 (9時〜24時)"],
        ["合計", ""],
    ]
    assert sheet_rows(book, "欠落しているログ") == [["cms-web1", "W3SVC1", 1, "2026-11-02"]]


def test_counts_of_another_month_are_refused_before_anything_is_written(logs, database, tmp_path):
    october = access_counts.count_month(str(SAMPLE), "2026-10", now=AFTER)
    path = write_counts(logs, database, tmp_path)
    with pytest.raises(incidents.RecordError, match="of 2026-10, not of 2026-11"):
        monthly.render(path, str(tmp_path / "out"), today=datetime.date(2026, 12, 5), site_access=october)
    assert os.listdir(tmp_path / "out") == ["usage-lalert-vm.json"]


def chart_data(logs, database):
    data = collect(logs, database)
    # a path in Japanese is drawn; a character the font lacks is shown as ?, not as a box
    data["access"]["by_page"] += [{"page": "/お知らせ", "requests": 1}, {"page": "/\U0001f600", "requests": 1}]
    return data


def test_the_charts_are_drawn_in_japanese_without_missing_glyphs(logs, database, tmp_path):
    data = chart_data(logs, database)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # matplotlib's "Glyph ... missing from font(s)" is a UserWarning
        files = monthly.draw_charts(
            data, str(tmp_path), "x_", monthly.japanese_font(), site(), datetime.date(2026, 12, 5)
        )
    assert sorted(files) == ["access_by_day", "access_by_page", "posts", "site_by_day"]
    for name in files.values():
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_glyph_check_catches_a_font_without_japanese(logs, database, tmp_path, monkeypatch):
    """The control of the test above: the same charts in matplotlib's own DejaVu Sans miss glyphs."""
    monkeypatch.setattr(monthly, "FONT_FAMILY", "DejaVu Sans")
    with warnings.catch_warnings(), pytest.raises(UserWarning, match=r"Glyph \d+ .* missing from font"):
        warnings.simplefilter("error")
        monthly.draw_charts(
            chart_data(logs, database), str(tmp_path), "x_", monthly.japanese_font(), site(), datetime.date(2026, 12, 5)
        )


def test_without_the_japanese_font_nothing_is_drawn(logs, database, tmp_path, monkeypatch):
    from matplotlib import font_manager

    path = write_counts(logs, database, tmp_path)
    # not installed: neither in matplotlib's font list nor among the system's fonts
    others = [f for f in font_manager.fontManager.ttflist if f.name != monthly.FONT_FAMILY]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", others)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])
    with pytest.raises(incidents.RecordError, match=r"Noto Sans CJK JP .*fonts-noto-cjk; bin/bootstrap installs it"):
        monthly.render(path, str(tmp_path / "out"), today=datetime.date(2026, 12, 5), site_access=site())
    assert os.listdir(tmp_path / "out") == ["usage-lalert-vm.json"]


def test_a_font_installed_after_matplotlibs_cache_is_found(monkeypatch):
    from matplotlib import font_manager

    installed = monthly.japanese_font()
    # matplotlib's list as cached before fonts-noto-cjk was installed: the system's files are looked at
    others = [f for f in font_manager.fontManager.ttflist if f.name != monthly.FONT_FAMILY]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", others)
    assert monthly.japanese_font() == installed
    assert any(f.name == monthly.FONT_FAMILY for f in font_manager.fontManager.ttflist)


def test_the_page_as_a_person_sees_it_in_chromium(logs, database, tmp_path):
    """Opened in headless Chromium: every chart loads, the screenshot shows the page, and every Japanese
    character is drawn as Noto Sans CJK JP draws it (no missing-glyph boxes). The control: with fontconfig
    knowing no CJK font, the same check names the characters."""
    draw(logs, database, tmp_path, site(top=3))
    page = str(tmp_path / "out" / "月次報告書_2026-11_lalert-vm.html")
    text, images = chromium.page_text(page)
    loaded = chromium.loaded_images(page)
    assert [src for src, _, _ in loaded] == images and len(images) >= 4
    assert all(width > 300 and height > 200 for _, width, height in loaded), loaded
    shot = chromium.screenshot(page, str(tmp_path / "page.png"))
    assert not chromium.blank(shot.crop((0, 0, 1200, 200)))  # the title and the first lines are drawn
    japanese = chromium.CJK.findall(text)
    assert "月" in japanese and "公" in japanese and len(set(japanese)) > 50
    assert chromium.glyphs_unlike_reference(japanese, chromium.font_family(page)) == []
    missing = chromium.glyphs_unlike_reference(
        japanese, chromium.font_family(page), env=chromium.fonts_without_cjk(str(tmp_path))
    )
    assert set(missing) == set(japanese)

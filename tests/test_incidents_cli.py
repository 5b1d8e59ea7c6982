"""anshin_ops incident records and the CLI: create, update, close, export, availability, bad input."""

import datetime
import json
import os
import subprocess

import openpyxl
import pytest
import yaml

from anshin_ops import cli, incidents, office_calendar as cal, output
from conftest import ROOT


@pytest.fixture(autouse=True)
def records_root(tmp_path, monkeypatch):
    """Every record these tests write (availability, maintenance log) goes to tmp_path."""
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(tmp_path / "records"))
    return tmp_path / "records"


def run(tmp_path, *argv):
    return cli.main(["--records", str(tmp_path / "incidents"), *argv])


def only_id(tmp_path, exclude=()):
    (name,) = [p.stem for p in (tmp_path / "incidents").glob("*.yml") if p.stem not in exclude]
    return name


def test_an_incident_from_new_to_closed_and_exported(tmp_path, capsys):
    assert (
        run(
            tmp_path,
            "incident",
            "new",
            "--occurred",
            "2026-11-27T16:00",
            "--target",
            "lalert-vm",
            "--summary",
            "受信サービス停止",
            "--down-start",
            "2026-11-27T16:00",
            "--down-end",
            "2026-11-30T10:00",
        )
        == 0
    )
    first_id = only_id(tmp_path)
    assert incidents.ID.match(first_id) and first_id.startswith("INC-20261127-1600-")
    path = tmp_path / "incidents" / f"{first_id}.yml"
    record = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert record["status"] == "対応中" and record["occurred"] == "2026-11-27T16:00:00+09:00"
    assert run(tmp_path, "incident", "update", first_id, "--set", "workaround=再起動") == 0
    # closing needs cause, remedy, prevention, the recovery time and when the prefecture was told
    assert run(tmp_path, "incident", "close", first_id) == 2
    assert "cause: required to close the incident" in capsys.readouterr().err
    assert (
        run(
            tmp_path,
            "incident",
            "close",
            first_id,
            "--recovered",
            "2026-11-30T10:00",
            "--cause",
            "ディスク満杯",
            "--remedy",
            "ログ削除",
            "--prevention",
            "監視閾値追加",
        )
        == 2
    )
    assert "reported_to_pref: required to close the incident" in capsys.readouterr().err
    assert (
        run(
            tmp_path,
            "incident",
            "close",
            first_id,
            "--recovered",
            "2026-11-30T10:00",
            "--reported",
            "2026-11-27T15:00",
            "--cause",
            "c",
            "--remedy",
            "r",
            "--prevention",
            "p",
        )
        == 2
    )
    assert "reported_to_pref: must not be before occurred" in capsys.readouterr().err
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["status"] == "対応中"  # unchanged
    assert (
        run(
            tmp_path,
            "incident",
            "close",
            first_id,
            "--recovered",
            "2026-11-30T10:00",
            "--reported",
            "2026-11-27T16:30",
            "--cause",
            "ディスク満杯",
            "--remedy",
            "ログ削除",
            "--prevention",
            "監視閾値追加",
        )
        == 0
    )
    closed = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert closed["status"] == "完了" and closed["reported_to_pref"] == "2026-11-27T16:30"
    assert (
        run(
            tmp_path,
            "incident",
            "new",
            "--occurred",
            "2026-12-01T09:00",
            "--target",
            "lalert-vm",
            "--summary",
            "二件目",
        )
        == 0
    )
    second_id = only_id(tmp_path, exclude={first_id})
    assert second_id != first_id

    xlsx, md = tmp_path / "障害管理表.xlsx", tmp_path / "障害管理表.md"
    assert run(tmp_path, "incident", "export", "--xlsx", str(xlsx), "--markdown", str(md)) == 0
    sheet = openpyxl.load_workbook(xlsx)["障害管理表"]
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["管理番号", "発生日時", "検知日時"] and "開庁時間内停止時間(分)" in header
    first = {h: c.value for h, c in zip(header, sheet[2], strict=True)}
    # Friday 16:00 - Monday 10:00: 75 + 90 minutes in office hours, the rest outside
    assert first["開庁時間内停止時間(分)"] == 165 and first["開庁時間外停止時間(分)"] == 66 * 60 - 165
    assert first["ステータス"] == "完了" and first["県への報告日時"] == "2026-11-27T16:30"
    # begun in office hours on Friday: due by that day's close; recovered Monday, so missed
    assert first["復旧期限"] == "2026-11-27T17:15+09:00" and first["期限内復旧"] == "超過"
    assert f"| {first_id} |" in md.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "occurred, due",
    [
        ("2026-11-27T16:00", "2026-11-27T17:15"),  # Friday in office hours: the end of that office day
        ("2026-11-27T07:00", "2026-11-27T08:30"),  # Friday before opening: that morning's opening
        ("2026-11-27T18:00", "2026-11-30T08:30"),  # Friday evening: Monday's opening
        ("2026-11-22T10:00", "2026-11-24T08:30"),  # Sunday; Monday 11/23 is 勤労感謝の日
        ("2026-12-28T17:30", "2027-01-04T08:30"),  # after the last office day of the year: 12/29-1/3 closed
    ],
)
def test_recovery_deadlines_follow_the_office_calendar(occurred, due):
    got = cal.recovery_deadline(incidents.parse_time(occurred, "occurred"))
    assert got == incidents.parse_time(due, "due")


def test_deadline_met_missed_or_open():
    record = {"occurred": "2026-11-27T18:00"}
    assert incidents.deadline(dict(record, recovered="2026-11-30T08:00"))[1] == "達成"
    assert incidents.deadline(dict(record, recovered="2026-11-30T09:00"))[1] == "超過"
    monday_7 = incidents.parse_time("2026-11-30T07:00", "now")
    assert incidents.deadline(record, now=monday_7)[1] == "期限前"
    assert incidents.deadline(record, now=monday_7 + datetime.timedelta(hours=2))[1] == "超過 (未復旧)"


def test_two_clones_recording_at_once_merge_cleanly(tmp_path):
    """Each clone creates an incident for the same minute and commits; the merge has no conflict and
    keeps both (ids carry random digits, not a per-clone counter)."""
    origin = tmp_path / "origin"
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(git + ["init", "-q", "-b", "main", str(origin)], check=True)
    (origin / "README").write_text("records\n")
    subprocess.run(git + ["-C", str(origin), "add", "."], check=True)
    subprocess.run(git + ["-C", str(origin), "commit", "-qm", "start"], check=True)
    clones = []
    for name in ("a", "b"):
        clone = tmp_path / name
        subprocess.run(git + ["clone", "-q", str(origin), str(clone)], check=True)
        assert (
            cli.main(
                [
                    "--records",
                    str(clone / "incidents"),
                    "incident",
                    "new",
                    "--occurred",
                    "2026-11-28T09:10",
                    "--target",
                    "lalert-vm",
                    "--summary",
                    f"{name} の記録",
                ]
            )
            == 0
        )
        subprocess.run(git + ["-C", str(clone), "add", "."], check=True)
        subprocess.run(git + ["-C", str(clone), "commit", "-qm", name], check=True)
        clones.append(clone)
    subprocess.run(git + ["-C", str(clones[0]), "pull", "-q", "--no-rebase", str(clones[1]), "main"], check=True)
    merged = sorted(p.name for p in (clones[0] / "incidents").glob("*.yml"))
    assert len(merged) == 2 and merged[0] != merged[1]
    assert len(incidents.load(str(clones[0] / "incidents"))) == 2


def test_availability_from_the_records(tmp_path, capsys):
    run(
        tmp_path,
        "incident",
        "new",
        "--occurred",
        "2026-06-01T08:30",
        "--target",
        "lalert-vm",
        "--summary",
        "停止",
        "--down-start",
        "2026-06-01T08:30",
        "--down-end",
        "2026-06-01T17:15",
    )
    capsys.readouterr()
    assert run(tmp_path, "report", "availability", "2026") == 0
    out = capsys.readouterr().out
    assert "開庁日数 240 日" in out and "停止時間 (開庁時間内) 525.0 分 / 許容 1260.0 分" in out and "達成" in out
    # planned maintenance is left out unless asked for
    run(tmp_path, "incident", "update", only_id(tmp_path), "--set", "planned=true")
    capsys.readouterr()
    run(tmp_path, "report", "availability", "2026")
    assert "停止時間 (開庁時間内) 0.0 分" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv,message",
    [
        (["incident", "new", "--occurred", "yesterday", "--target", "x", "--summary", "y"], "is not a date and time"),
        (["incident", "update", "INC-2026-404", "--set", "cause=x"], "no incident INC-2026-404"),
        (["report", "availability", "2999"], "year 2999 has not started yet"),
        (["incident", "export"], "give --xlsx FILE and/or --markdown FILE"),
    ],
)
def test_bad_input_is_named_and_nothing_is_written(tmp_path, capsys, argv, message):
    assert run(tmp_path, *argv) == 2
    assert message in capsys.readouterr().err
    assert not list((tmp_path / "incidents").glob("*.yml")) if (tmp_path / "incidents").exists() else True


def test_a_malformed_record_is_refused(tmp_path, capsys):
    (tmp_path / "incidents").mkdir()
    (tmp_path / "incidents" / "INC-2026-001.yml").write_text("id: INC-2026-001\nstatus: 不明\n", encoding="utf-8")
    assert run(tmp_path, "incident", "list") == 2
    assert "INC-2026-001.yml: " in capsys.readouterr().err


def test_the_wrapper_runs_the_cli():
    out = subprocess.run([str(ROOT / "bin" / "anshin"), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "incident" in out.stdout and "report" in out.stdout


def test_availability_counts_an_open_outage_until_now_as_the_operations_report_does(tmp_path, capsys):
    """An outage without its end is still going on: counted up to now and named, never left out."""
    run(tmp_path, "incident", "new", "--occurred", "2026-06-01T08:30", "--target", "lalert-vm",
        "--summary", "停止中", "--down-start", "2026-06-01T08:30")  # fmt: skip
    capsys.readouterr()
    assert run(tmp_path, "report", "availability", "2026") == 0
    out = capsys.readouterr().out
    assert "停止時間 (開庁時間内) 0.0 分" not in out  # months of office hours since, not nothing
    assert f"停止終了時刻のない障害 (作成時点まで停止として算出) {only_id(tmp_path)}" in out


def test_availability_adds_the_probe_history(tmp_path, capsys, monkeypatch):
    """--probes: the failed minutes Prometheus returns (probe_history.yml) join the incident downtime; an
    outage in both counts once; an unreachable Prometheus leaves the incident figures and says so."""
    run(
        tmp_path,
        "incident",
        "new",
        "--occurred",
        "2026-06-01T09:00",
        "--target",
        "lalert-vm",
        "--summary",
        "停止",
        "--down-start",
        "2026-06-01T09:00",
        "--down-end",
        "2026-06-01T10:00",
    )
    nine_thirty = int(datetime.datetime(2026, 6, 1, 9, 30, tzinfo=cal.JST).timestamp())
    failed = [nine_thirty + 60 * i for i in range(1, 61)]  # 9:30-10:30
    failed += [nine_thirty + 86400 * 5 + 60]  # Saturday 6/6: outside office days

    def fake_run(job, inventory, limit=None, check=False, extra_vars=(), **_):
        """What probe_history.yml leaves on the controller."""
        assert job == "probe_history"
        start, end = (int(v.split("=")[1]) for v in extra_vars)
        path = os.path.join(cli.records.records_dir("local", "availability"), f"probe_history_{start}_{end}.json")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"failed_minutes": failed, "hours_with_data": 100, "start": start, "end": end}, fh)
        created.append(path)
        return 0, {"result": "成功", "artifacts": ".local/runs/x"}

    created = []
    monkeypatch.setattr(cli.runner, "run_job", fake_run)
    capsys.readouterr()
    try:
        assert run(tmp_path, "report", "availability", "2026", "--probes") == 0
    finally:
        for path in created:
            os.remove(path)
    out = capsys.readouterr().out
    assert "受信プローブ失敗 61 分 (計画保守中を除くと開庁時間内 60.0 分" in out
    assert "停止時間 (開庁時間内) 90.0 分" in out

    # a changing run of the maintenance log (planned maintenance, 10:10-10:30) is not downtime either
    output.write_yaml(
        str(tmp_path / "records" / "maintenance" / "r.yml"),
        {
            "job": "patch",
            "check": False,
            "started": "2026-06-01T10:10:00+09:00",
            "finished": "2026-06-01T10:30:00+09:00",
        },
    )
    output.write_yaml(
        str(tmp_path / "records" / "maintenance" / "c.yml"),
        {  # check mode: no maintenance
            "job": "site",
            "check": True,
            "started": "2026-06-01T10:00:00+09:00",
            "finished": "2026-06-01T10:20:00+09:00",
        },
    )
    monkeypatch.setattr(cli.runner, "run_job", fake_run)
    capsys.readouterr()
    assert run(tmp_path, "report", "availability", "2026", "--probes") == 0
    out = capsys.readouterr().out
    # the incident's 9:00-10:00 and the probes' 9:30-10:10: the patch run's 10:10-10:30 is left out
    assert "計画保守 除外 (1 件" in out and "停止時間 (開庁時間内) 70.0 分" in out
    record = (tmp_path / "records" / "availability" / "稼働率_暦年2026.md").read_text(encoding="utf-8")
    assert "停止時間 (開庁時間内)" in record and "達成" in record
    assert (tmp_path / "records" / "availability" / "稼働率_暦年2026.xlsx").exists()

    monkeypatch.setattr(cli.runner, "run_job", lambda *a, **k: (1, {"result": "失敗", "artifacts": "x"}))
    assert run(tmp_path, "report", "availability", "2026", "--probes") == 0
    captured = capsys.readouterr()
    assert "監視データを取得できませんでした" in captured.err and "停止時間 (開庁時間内) 60.0 分" in captured.out


def test_a_new_record_has_every_field_in_order_and_refuses_unknown_ones():
    occurred = incidents.parse_time("2026-11-27T16:05", "occurred")
    known = {
        "occurred": occurred.isoformat(),
        "detected": occurred.isoformat(),
        "detection": "監視",
        "target": "lalert-vm",
        "category": "障害",
        "severity": "中",
        "summary": "x",
        "status": "対応中",
    }
    record = incidents.new_record(occurred, **known)
    assert tuple(record) == incidents.RECORD_KEYS and record["id"].startswith("INC-20261127-1605-")
    assert record["cause"] == "" and record["recovered"] is None and record["planned"] is False
    with pytest.raises(ValueError, match=r"not fields of a record: \['occured'\]"):
        incidents.new_record(occurred, **known, occured="typo")
    with pytest.raises(ValueError, match=r"misses \['summary'\]"):
        incidents.new_record(occurred, **{k: v for k, v in known.items() if k != "summary"})

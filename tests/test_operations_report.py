"""運用報告書 (anshin_ops/operations.py, bin/anshin report operations): one document per month from the
inventory's records and what Prometheus saw. A month of planted records and Prometheus answers gives exactly
their figures in every section; a month without them says what is missing instead of showing zeros; the page
renders in Chromium with every Japanese character drawn."""

import datetime
import json
import os

import chromium
import openpyxl
import pytest
import yaml
from anshin_common import JST
from test_monthly_report import collect, database, logs  # noqa: F401 (fixtures: the VM's counts of November)

from anshin_ops import cli, incidents, operations
from conftest import load_module

TODAY = datetime.date(2026, 12, 1)
SETTINGS = {"hours": ("08:30", "17:15"), "extra_closed": [], "target": 99.0, "inquiry_hours": ("08:30", "17:30")}
NOV = operations.Month("2026-11", TODAY)


def at(day, hour=0, minute=0, month=11):
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=JST)


def write(path, data):
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".yml":
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    elif path.suffix == ".json":
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    else:
        path.write_text(data, encoding="utf-8-sig" if path.suffix == ".csv" else "utf-8")


def incident(occurred, down, recovered, **extra):
    record = incidents.new_record(
        occurred,
        target="lalert-vm",
        summary=extra.pop("summary", "受信サービス停止"),
        severity="中",
        occurred=occurred.isoformat(),
        detected=occurred.isoformat(),
        detection="監視",
        category="ソフトウェア",
        status="完了",
        down_start=down[0].isoformat(),
        down_end=down[1].isoformat(),
        recovered=recovered.isoformat(),
        reported_to_pref=recovered.isoformat(),
        cause="c",
        remedy="r",
        prevention="p",
        **extra,
    )
    return record


@pytest.fixture
def records(tmp_path):
    """A month of records as the jobs and commands leave them, with neighbours outside the month."""
    root = tmp_path / "records"
    # a 30-minute outage in office hours on Tue 10 Nov, one of 60 minutes in October (fiscal year only),
    # a planned one in November that must not count
    write(root / "incidents/a.yml", incident(at(10, 10), (at(10, 10), at(10, 10, 30)), at(10, 10, 30)))
    write(
        root / "incidents/b.yml",
        incident(at(6, 14, month=10), (at(6, 14, month=10), at(6, 15, month=10)), at(6, 15, month=10)),
    )
    write(
        root / "incidents/c.yml",
        incident(at(12, 9), (at(12, 9), at(12, 12)), at(12, 12), planned=True, summary="計画停止 (OS更新)"),
    )
    maintenance = {
        "20261118T100000-patch": {"job": "patch", "title": "セキュリティパッチ適用", "check": False,
                                  "approval": "危機第123号", "started": at(18, 10).isoformat(),
                                  "finished": at(18, 10, 20).isoformat(), "operator": "alice", "result": "成功"},
        "20261117T100000-patch": {"job": "patch", "title": "セキュリティパッチ適用", "check": True, "approval": None,
                                  "started": at(17, 10).isoformat(), "finished": at(17, 10, 5).isoformat(),
                                  "operator": "alice", "result": "成功"},
        "20261031T100000-site": {"job": "site", "title": "全体構築・設定反映", "check": False, "approval": "X",
                                 "started": at(31, 10, month=10).isoformat(),
                                 "finished": at(31, 11, month=10).isoformat(), "operator": "bob", "result": "成功"},
    }  # fmt: skip
    for name, entry in maintenance.items():
        write(root / f"maintenance/{name}.yml", entry)
    write(
        root / "patching/lalert-vm_202611181000.json",
        {"host": "lalert-vm", "started": "2026-11-18 10:00", "result": "ok", "changes": [{"name": "openssl"}] * 3,
         "restarted": ["nginx.service"], "rebooted": False},
    )  # fmt: skip
    write(
        root / "log_audit/lalert-vm_20261101T0000_20261102T0000.json",
        {"host": "lalert-vm", "period": {"since": "2026-11-01T00:00:00+09:00", "until": "2026-11-02T00:00:00+09:00"},
         "flagged": True, "flags": [{"name": "ssh_failures_per_source", "value": 40, "threshold": 10}]},
    )  # fmt: skip
    write(
        root / "log_audit/lalert-vm_20261001T0000_20261002T0000.json",
        {"host": "lalert-vm", "period": {"since": "2026-10-01T00:00:00+09:00", "until": "2026-10-02T00:00:00+09:00"},
         "flagged": False, "flags": []},
    )  # fmt: skip
    write(
        root / "resource_report/resource_report_20261115.json",
        {"period_start": at(16, 9, month=10).timestamp(), "period_end": at(15, 9).timestamp(), "missing": [],
         "proposals": ["lalert-vm /: ディスク使用率が 88% (基準 85%) です。ディスクの拡張を提案します。"]},
    )  # fmt: skip
    for stamp in ("20261105T010000Z", "20261120T010000Z", "20261031T010000Z"):
        write(root / f"integration_check/integration_check_{stamp}.md", "# 外部連携 確認結果\n")
    csv_text = (
        "区分,uid,属性,変更前,変更後\n追加,u1,departmentNumber,,防災課\n追加,u2,departmentNumber,,防災課\n"
        "変更,u3,title,主事,主査\n変更,u3,departmentNumber,防災課,危機管理課\n無効化,u4,departmentNumber,防災課,\n"
    )
    for stamp, mode in (("20261120T010000Z", "適用済み"), ("20261118T010000Z", "予行 (dry run: 変更なし)")):
        write(root / f"ldap_sync/ldap_sync_lalert-vm_{stamp}.csv", csv_text)
        write(root / f"ldap_sync/ldap_sync_lalert-vm_{stamp}.md", f"# LDAP同期 差分報告書\n\n- 区分: {mode}\n")
    write(
        root / "inquiries/INQ-20261109-1000-abcdef.yml",
        {"id": "INQ-20261109-1000-abcdef", "received": at(9, 10).isoformat(), "requester": "危機管理課 山田",
         "channel": "電話", "subject": "避難所情報の表示", "answered": at(9, 11).isoformat(), "answer": "説明",
         "handler": "alice", "status": "回答済"},
    )  # fmt: skip
    return root


def hourly(first, after, value_at):
    """Prometheus range points every hour from FIRST up to AFTER: [t, str(value)] while value_at(t) is not None."""
    points, t = [], int(first.timestamp())
    while t < int(after.timestamp()):
        value = value_at(t)
        if value is not None:
            points.append([t, str(value)])
        t += 3600
    return points


def last_before(t, times):
    done = [s for s in times if s <= t]
    return done[-1] if done else None


@pytest.fixture
def history():
    """What Prometheus answers for November, hourly points of gauges as it samples them: 28 nightly backups
    (none on the 10th and the 20th: those runs failed), 4 drills, one of them mismatched; probes; 28 audits
    and 2 failed ones, 3 of them crossed the attack threshold; 2 security updates pending, the oldest for 9 days."""
    first, after = at(1), at(1, month=12)
    nights = [int(at(d, 2).timestamp()) for d in range(1, 31)]
    succeeded = [int(at(31, 2, month=10).timestamp())] + [n for n in nights if n not in (nights[9], nights[19])]
    failed = [nights[9], nights[19]]
    drills = [int(at(d, 4).timestamp()) for d in (2, 9, 16, 23)]
    repo = {"instance": "lalert-vm", "repository": "backup-store"}
    # the daily audit at 06:00: October's last one crossed (its gauge lasts into 1 November), November's of
    # the 10th and 11th failed, those of the 3rd, 4th and 17th crossed the attack threshold (9, 7, 12)
    audits = [int(at(31, 6, month=10).timestamp())] + [int(at(d, 6).timestamp()) for d in range(1, 31)]
    failed_audits = {int(at(d, 6).timestamp()) for d in (10, 11)}
    found = {audits[0]: 99, int(at(3, 6).timestamp()): 9, int(at(4, 6).timestamp()): 7, int(at(17, 6).timestamp()): 12}

    def audit_at(t):
        return last_before(t, audits)

    def ok_run(t):
        return audit_at(t) if audit_at(t) not in failed_audits else None

    def failed_run(t):
        return audit_at(t) if audit_at(t) in failed_audits else None

    def crossed_count(t):  # the gauge: the count the latest successful audit found, while above the threshold
        return found.get(ok_run(t))

    def crossed_run(t):
        return ok_run(t) if crossed_count(t) is not None else None

    def while_failed(t):
        run = last_before(t, sorted(succeeded + failed))
        return run if run in failed else None

    return {
        "start": NOV.start,
        "end": NOV.end,
        "results": {
            "backup_success": [{"metric": repo, "values": hourly(first, after, lambda t: last_before(t, succeeded))}],
            "backup_failed": [{"metric": repo, "values": hourly(first, after, while_failed)}],
            "drill": [{"metric": repo, "values": hourly(first, after, lambda t: last_before(t, drills))}],
            "drill_mismatched": [
                {
                    "metric": repo,
                    "values": hourly(first, after, lambda t: drills[2] if drills[2] <= t < drills[3] else None),
                }
            ],
            "probe_success": [
                {"metric": {"probe": "receiver_lalert_vm", "kind": "receiver"}, "value": [NOV.end, "0.9995"]},
                {"metric": {"probe": "x_api", "kind": "x_api"}, "value": [NOV.end, "1"]},
            ],
            "probe_samples": [
                {"metric": {"probe": "receiver_lalert_vm", "kind": "receiver"}, "value": [NOV.end, "172800"]},
                {"metric": {"probe": "x_api", "kind": "x_api"}, "value": [NOV.end, "172800"]},
            ],
            "log_audit_run": [{"metric": {"instance": "lalert-vm"}, "values": hourly(first, after, ok_run)}],
            "log_audit_failed": [{"metric": {"instance": "lalert-vm"}, "values": hourly(first, after, failed_run)}],
            "log_audit_crossed": [
                {
                    "metric": {"instance": "lalert-vm", "check": "attack_requests"},
                    "values": hourly(first, after, crossed_count),
                }
            ],
            "log_audit_crossed_runs": [
                {
                    "metric": {"instance": "lalert-vm", "check": "attack_requests"},
                    "values": hourly(first, after, crossed_run),
                }
            ],
            "security_pending": [{"metric": {"instance": "lalert-vm"}, "value": [NOV.end, "2"]}],
            "security_oldest": [{"metric": {"instance": "lalert-vm"}, "value": [NOV.end, str(9 * 86400)]}],
        },
    }


def tables_of(records, history, usage=None):
    tables, extra = operations.build(NOV, str(records), SETTINGS, history, usage, None, TODAY, now=at(1, month=12))
    return {t.heading: t for t in tables}, tables, extra


def test_every_section_holds_the_months_figures(records, history, logs, database):  # noqa: F811
    usage = dict(collect(logs, database), host="lalert-vm")
    by, tables, _ = tables_of(records, history, usage)
    # 30 office minutes down of 19 office days x 525 minutes; the planned stop and October's outage are not in it
    month, year = by[operations.H_AVAILABILITY].rows
    assert month[:6] == ["当月", "2026-11-01 - 2026-11-30", 19, 19 * 525, 30.0, round(19 * 525 * 0.01, 1)]
    assert month[6] == f"{100 * (1 - 30 / (19 * 525)):.3f}" and month[8] == "達成"
    assert year[0] == "年度累計" and year[1].startswith("2026-04-01") and year[4] == 90.0
    incident_rows = by[operations.H_INCIDENTS].rows
    assert [r[3] for r in incident_rows] == ["受信サービス停止", "計画停止 (OS更新) (計画停止)"]
    assert incident_rows[0][1:] == [
        "2026-11-10 10:00",
        "中",
        "受信サービス停止",
        30.0,
        "2026-11-10 17:15",
        "達成",
        "2026-11-10 10:30",
        "完了",
    ]
    maintenance = by[operations.H_MAINTENANCE].rows
    assert [(r[0], r[2], r[3]) for r in maintenance] == [
        ("2026-11-17 10:00", "確認 (チェックモード)", "不要"),
        ("2026-11-18 10:00", "変更", "危機第123号"),
    ]
    assert by[operations.H_BACKUP].rows == [
        ["lalert-vm backup-store", 28, 2, "2026-11-30 02:00", 4, 1, "2026-11-23 04:00"]
    ]
    assert by[operations.H_PATCHING].rows == [["2026-11-18 10:00", "lalert-vm", 3, "nginx.service", "-", "成功"]]
    assert by[operations.H_PENDING].rows == [["lalert-vm", 2, 9.0]]
    audit = by[operations.H_LOG_AUDIT]
    # October's crossing (99) lasts into November's first hours, but was not found by a November audit
    assert [r[:4] for r in audit.rows] == [["攻撃パスへの要求", 3, 12, "lalert-vm"]]
    assert audit.rows[0][4] == operations.LOG_AUDIT_CHECKS["attack_requests"][1]  # 対策提案
    assert audit.notes[0] == "日次のログ監査の実行: lalert-vm 成功 28 回・失敗 2 回。"
    assert "失敗した監査の日の閾値超過は数えられていません。" in audit.notes
    assert by[operations.H_LOG_AUDIT_RUNS].rows == [
        ["lalert-vm_20261101T0000_20261102T0000", "lalert-vm", "要確認", "SSH 認証失敗 (送信元あたり最大) 40"]
    ]
    assert by[operations.H_RESOURCES].rows == [
        ["提案 1", "lalert-vm /: ディスク使用率が 88% (基準 85%) です。ディスクの拡張を提案します。"]
    ]
    integrations = by[operations.H_INTEGRATIONS]
    assert integrations.rows == [
        ["receiver_lalert_vm", "receiver", "99.95", 172800],
        ["x_api", "x_api", "100.00", 172800],
    ]
    assert "当月 2 回" in integrations.notes[-1]
    # people per action (u3's two attribute changes are one person); the dry run says so
    assert by[operations.H_LDAP].rows == [
        ["ldap_sync_lalert-vm_20261118T010000Z", "予行 (変更なし)", 2, 0, 1, 1, 0],
        ["ldap_sync_lalert-vm_20261120T010000Z", "適用", 2, 0, 1, 1, 0],
    ]
    assert by[operations.H_INQUIRIES].rows == [
        ["INQ-20261109-1000-abcdef", "2026-11-09 10:00", "避難所情報の表示", "回答済", 60]
    ]
    # access counts and 投稿数: the 月次報告書's own sections, from the same counts
    posts = by["電文受信件数 (分類別)"]
    assert posts.rows[-1] == ["合計", 6, 3, 2, 2]
    assert [t.heading for t in tables][:3] == [
        operations.H_AVAILABILITY,
        operations.H_INCIDENTS,
        operations.H_MAINTENANCE,
    ]


def test_a_month_without_records_or_monitoring_data_says_what_is_missing(tmp_path):
    by, tables, _ = tables_of(tmp_path / "empty", None)
    for heading in (operations.H_BACKUP, operations.H_PENDING, operations.H_LOG_AUDIT, operations.H_RESOURCES,
                    operations.H_INTEGRATIONS, "アクセス件数・投稿数"):  # fmt: skip
        table = by[heading]
        assert table.header is None and table.rows == [], heading  # no table of zeros
        assert table.notes and ("ありません" in " ".join(table.notes) or "できませんでした" in " ".join(table.notes))
    assert "bin/anshin report monthly 2026-11" in by["アクセス件数・投稿数"].notes[0]
    assert "監視データを取得できませんでした" in by[operations.H_BACKUP].notes[0]
    for heading in (operations.H_INCIDENTS, operations.H_MAINTENANCE, operations.H_PATCHING, operations.H_LDAP,
                    operations.H_INQUIRIES):  # fmt: skip
        assert by[heading].rows == [] and "ありません" in by[heading].notes[0], heading
    assert "障害管理表に記録がありません" in " ".join(by[operations.H_AVAILABILITY].notes)


def test_monitoring_data_without_a_backup_says_so_rather_than_zero(records, history):
    for key in ("backup_success", "backup_failed", "drill", "drill_mismatched", "security_pending"):
        history["results"][key] = []
    by, _, _ = tables_of(records, history)
    assert (
        by[operations.H_BACKUP].header is None and "バックアップの記録がありません" in by[operations.H_BACKUP].notes[0]
    )
    assert by[operations.H_PENDING].header is None


def test_the_document_is_written_whole_as_html_and_xlsx_and_seen_as_a_person_sees_it(
    records,
    history,
    logs,  # noqa: F811 (the fixture imported above)
    database,  # noqa: F811
    tmp_path,
):
    usage = dict(collect(logs, database), host="lalert-vm")
    tables, extra = operations.build(NOV, str(records), SETTINGS, history, usage, None, TODAY)
    out = tmp_path / "out"
    written = sorted(
        os.path.basename(p) for p in operations.render(NOV, "staging", tables, extra, usage, None, str(out), TODAY)
    )
    assert "運用報告書_2026-11.html" in written and "運用報告書_2026-11.xlsx" in written
    assert {"operations_availability.png", "operations_backups.png", "operations_integrations.png"} <= set(written)
    book = openpyxl.load_workbook(out / "運用報告書_2026-11.xlsx")
    assert book.sheetnames[:4] == ["稼働率", "障害対応", "保守作業", "バックアップ"]
    assert book["バックアップ"]["A1"].value == operations.H_BACKUP
    assert [c.value for c in book["バックアップ"][3]] == [
        "lalert-vm backup-store",
        28,
        2,
        "2026-11-30 02:00",
        4,
        1,
        "2026-11-23 04:00",
    ]
    page = str(out / "運用報告書_2026-11.html")
    text, images = chromium.page_text(page)
    for heading in (operations.H_AVAILABILITY, operations.H_BACKUP, operations.H_LOG_AUDIT, operations.H_INQUIRIES):
        assert heading in text
    loaded = chromium.loaded_images(page)
    assert [src for src, _, _ in loaded] == images and len(images) >= 6
    assert all(width > 300 and height > 150 for _, width, height in loaded), loaded
    shot = chromium.screenshot(page, str(tmp_path / "page.png"))
    assert not chromium.blank(shot.crop((0, 0, 1200, 200)))
    japanese = chromium.CJK.findall(text)
    assert "運" in japanese and "稼" in japanese
    assert chromium.glyphs_unlike_reference(japanese, chromium.font_family(page)) == []
    assert not [n for n in os.listdir(out) if n.startswith(".draw-")]


def test_the_cli_writes_into_the_inventorys_records_and_asks_prometheus_unless_told_not_to(
    records, history, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(records))
    asked = []

    def run_job(job, inventory, limit=None, extra_vars=()):
        asked.append((job, list(extra_vars)))
        write(records / "monthly" / "operations_history_2026-11.json", history)
        return 0, {"result": "成功", "artifacts": "-"}

    monkeypatch.setattr(cli.runner, "run_job", run_job)
    monkeypatch.setattr(operations.Month, "__init__", _month_as_of(TODAY))
    assert cli.main(["report", "operations", "2026-11", "-i", "local"]) == 0
    assert asked == [
        ("operations_history",
         [f"monitoring_server_operations_start={NOV.start}", f"monitoring_server_operations_end={NOV.end}"])
    ]  # fmt: skip
    written = capsys.readouterr().out.split()
    assert str(records / "monthly" / "2026-11" / "運用報告書_2026-11.html") in written
    asked.clear()
    assert cli.main(["report", "operations", "2026-11", "-i", "local", "--no-collect"]) == 0
    assert asked == []


def _month_as_of(today):
    real = operations.Month.__init__

    def init(self, month, _today):
        real(self, month, today)

    return init


def test_the_cli_refuses_a_future_month_before_asking_anything(monkeypatch, capsys):
    monkeypatch.setattr(cli.runner, "run_job", lambda *a, **k: pytest.fail("nothing may run"))
    assert cli.main(["report", "operations", "2099-01", "-i", "local"]) == 2
    assert "has not started yet" in capsys.readouterr().err


def test_the_log_audit_checks_are_the_audits_own():
    audit = load_module("anshin_log_audit")
    assert set(operations.LOG_AUDIT_CHECKS) == set(audit.DEFAULT_THRESHOLDS)


def test_a_running_month_without_an_office_day_yet_says_so_and_draws(tmp_path):
    """Run on 2 January: the month so far (1-2 January, closed days) has no office day to judge."""
    today = datetime.date(2027, 1, 2)
    month = operations.Month("2027-01", today)
    tables, extra = operations.build(month, str(tmp_path), SETTINGS, None, None, None, today)
    this_month, year = {t.heading: t for t in tables}[operations.H_AVAILABILITY].rows
    assert this_month[2] == 0 and this_month[6:] == ["-", "99.0", "対象の開庁日なし"]
    assert year[8] == "達成"  # the fiscal year so far has office days
    assert [m for m, _ in extra["availability_by_month"]] == [f"{m}月" for m in (4, 5, 6, 7, 8, 9, 10, 11, 12)]
    written = operations.render(month, "local", tables, extra, None, None, str(tmp_path / "out"), today)
    assert any(p.endswith("運用報告書_2027-01.html") for p in written)


def test_an_outage_without_its_end_is_counted_until_now_and_named(records):
    open_one = incident(at(24, 9), (at(24, 9), at(24, 9)), at(24, 9))
    open_one.update(down_end=None, recovered=None, status="対応中", reported_to_pref=None)
    write(records / "incidents/open.yml", open_one)
    tables, _ = operations.build(NOV, str(records), SETTINGS, None, None, None, TODAY, now=at(24, 10))
    (this_month, _), notes = (
        {t.heading: t for t in tables}[operations.H_AVAILABILITY].rows,
        {t.heading: t for t in tables}[operations.H_AVAILABILITY].notes,
    )
    assert this_month[4] == 30.0 + 60.0  # the closed outage and the open one's first hour
    assert any(open_one["id"] in note and "停止終了時刻のない障害" in note for note in notes)


def test_log_audit_reports_belong_to_the_month_their_period_ends_in(records):
    # a period that ends at 1 November 00:00 is October's; one that ends at 1 December 00:00 is November's
    write(
        records / "log_audit/lalert-vm_20261031T0000_20261101T0000.json",
        {"host": "lalert-vm", "flagged": False, "flags": [],
         "period": {"since": "2026-10-31T00:00:00+09:00", "until": "2026-11-01T00:00:00+09:00"}},
    )  # fmt: skip
    write(
        records / "log_audit/lalert-vm_20261130T0000_20261201T0000.json",
        {"host": "lalert-vm", "flagged": False, "flags": [],
         "period": {"since": "2026-11-30T00:00:00+09:00", "until": "2026-12-01T00:00:00+09:00"}},
    )  # fmt: skip
    by, _, _ = tables_of(records, None)
    names = [r[0] for r in by[operations.H_LOG_AUDIT_RUNS].rows]
    assert names == ["lalert-vm_20261101T0000_20261102T0000", "lalert-vm_20261130T0000_20261201T0000"]


def test_the_monitoring_hosts_own_resource_report_is_the_latest_and_says_where_it_came_from(records):
    """The month-end run on the monitoring host (rendered by operations_history.yml as *_scheduled) is newer than
    the person's run of the 15th, so its proposals are the month's; one of December is not November's."""
    write(
        records / "resource_report/resource_report_20261130_scheduled.json",
        {"period_start": at(31, 9, month=10).timestamp(), "period_end": at(30, 9).timestamp(), "missing": [],
         "proposals": ["lalert-vm: メモリ使用率が最大 93.0% (基準 90%) に達しました。メモリの増設を提案します。"]},
    )  # fmt: skip
    write(
        records / "resource_report/resource_report_20261201_scheduled.json",
        {"period_start": at(1, 9).timestamp(), "period_end": at(1, 9, month=12).timestamp(), "missing": [],
         "proposals": ["12月の提案"]},
    )  # fmt: skip
    by, _, _ = tables_of(records, None)
    resources = by[operations.H_RESOURCES]
    assert resources.rows == [
        ["提案 1", "lalert-vm: メモリ使用率が最大 93.0% (基準 90%) に達しました。メモリの増設を提案します。"]
    ]
    assert resources.notes[0].startswith("出典: resource_report_20261130_scheduled.json (監視ホストの定期実行、期間 ")


def patch_report(records, host, checked, pending, oldest):
    write(
        records / "patch_report" / f"{host}_{checked.replace('-', '').replace(' ', '').replace(':', '')}.json",
        {"host": host, "checked": checked, "pending": pending + 3, "pending_security": pending,
         "oldest_pending_security_seconds": oldest},
    )  # fmt: skip


@pytest.mark.parametrize("asked", [False, True])
def test_without_monitoring_data_pending_updates_come_from_the_months_last_patch_report(records, history, asked):
    """Prometheus not asked (or without the daily check's values): each host's last パッチ状況報告 of the month
    stands in, said to be one, with the time it was checked; October's and December's are not November's."""
    patch_report(records, "lalert-vm", "2026-11-10 10:00", 4, 3 * 86400)
    patch_report(records, "lalert-vm", "2026-11-24 10:00", 1, 12 * 86400)
    patch_report(records, "lalert-vm", "2026-10-31 10:00", 9, 86400)
    patch_report(records, "lalert-vm", "2026-12-01 10:00", 7, 86400)
    patch_report(records, "standby-vm", "2026-11-20 10:00", 0, 0)
    if asked:
        history["results"]["security_pending"] = []
        history["results"]["security_oldest"] = []
    by, _, _ = tables_of(records, history if asked else None)
    pending = by[operations.H_PENDING]
    assert pending.rows == [["lalert-vm", 1, 12.0, "2026-11-24 10:00"], ["standby-vm", 0, 0.0, "2026-11-20 10:00"]]
    assert "当月最後のパッチ状況報告" in pending.notes[-1]
    assert ("監視データを取得できませんでした" in pending.notes[0]) is not asked


def test_a_repository_answering_twice_for_its_failures_counts_each_run_once(records, history):
    """The month the VM's anshin-backup learnt the failure gauge: the 10th's failure came through the old
    fallback series, the 20th's through the gauge (which also still holds no earlier value): two failures."""
    failed = history["results"]["backup_failed"][0]
    tenth, twentieth = int(at(10, 2).timestamp()), int(at(20, 2).timestamp())
    old = {"metric": failed["metric"], "values": [[t, v] for t, v in failed["values"] if float(v) == tenth]}
    gauge = {"metric": failed["metric"], "values": [[t, str(twentieth)] for t, _ in failed["values"] if t >= twentieth]}
    history["results"]["backup_failed"] = [gauge, old]
    by, _, _ = tables_of(records, history)
    assert by[operations.H_BACKUP].rows[0][2] == 2


def test_audits_that_all_failed_never_read_as_a_clean_month(records, history):
    history["results"]["log_audit_failed"] = history["results"]["log_audit_run"]
    history["results"]["log_audit_run"] = []
    history["results"]["log_audit_crossed"] = history["results"]["log_audit_crossed_runs"] = []
    by, _, _ = tables_of(records, history)
    audit = by[operations.H_LOG_AUDIT]
    assert audit.header is None and audit.rows == []
    assert "成功 0 回・失敗 28 回" in audit.notes[0] and "閾値超過の有無は判断できません" in audit.notes[1]
    assert not [n for n in audit.notes if "超えた項目はありません" in n]


def test_an_unknown_age_is_said_not_shown_as_zero(records, history):
    history["results"]["security_oldest"] = []  # a VM whose check does not yet export the security age
    by, _, _ = tables_of(records, history)
    assert by[operations.H_PENDING].rows == [["lalert-vm", 2, "不明"]]


@pytest.mark.parametrize("kind", ["patching/x.json", "resource_report/resource_report_20261115.json"])
def test_a_damaged_record_stops_the_report_naming_the_file(records, monkeypatch, capsys, kind):
    write(records / kind, [1, 2])  # valid JSON, not a record
    with pytest.raises(incidents.RecordError, match=r"not a JSON object"):
        tables_of(records, None)
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(records))
    monkeypatch.setattr(operations.Month, "__init__", _month_as_of(TODAY))
    assert cli.main(["report", "operations", "2026-11", "-i", "local", "--no-collect"]) == 2
    assert kind.split("/")[-1] in capsys.readouterr().err


def test_a_summary_that_looks_like_a_formula_stays_text_in_the_workbook(records, tmp_path):
    write(records / "incidents/f.yml", incident(at(25, 9), (at(25, 9), at(25, 9, 5)), at(25, 9, 5),
                                                summary='=HYPERLINK("http://evil.test","x")'))  # fmt: skip
    tables, extra = operations.build(NOV, str(records), SETTINGS, None, None, None, TODAY)
    operations.render(NOV, "local", tables, extra, None, None, str(tmp_path / "out"), TODAY)
    book = openpyxl.load_workbook(tmp_path / "out" / "運用報告書_2026-11.xlsx")
    cells = [c for row in book["障害対応"].iter_rows() for c in row if str(c.value).startswith("=HYPERLINK")]
    assert cells and all(c.data_type == "s" for c in cells)

"""End to end: bin/anshin runs maintenance jobs against the local environment (inventories/local, the
podman stand-ins) through ansible-runner. The main job (site) builds the stand-ins; a job that succeeds
leaves a maintenance log entry and its artifacts; check mode is passed through; a job that fails drafts a
障害管理表 record from the failing task; the monthly report is drawn from counts read on the VM; a month of
operations: the scheduled log audit fires and alerts, and the 運用報告書 holds every section with figures from
the stand-ins. The tests run in file order: the first builds what the others use."""

import datetime
import json
import os
import subprocess
import time

import openpyxl
import pytest
import yaml
from anshin_common import JST
from localenv import local_env  # noqa: F401  (a fixture)

from conftest import ROOT

ANSHIN = str(ROOT / "bin" / "anshin")
pytestmark = pytest.mark.usefixtures("local_env")


@pytest.fixture
def records(tmp_path, monkeypatch):
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(tmp_path))
    monkeypatch.setenv("ANSHIN_OPERATOR", "保守 太郎")
    return tmp_path


def anshin(*argv):
    return subprocess.run([ANSHIN, *argv], capture_output=True, text=True, cwd=ROOT, timeout=1800)


def log_entries(records):
    directory = records / "maintenance"
    return [yaml.safe_load((directory / n).read_text(encoding="utf-8")) for n in sorted(os.listdir(directory))]


def test_the_main_job_through_the_cli(records):
    done = anshin("run", "site")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    (entry,) = log_entries(records)
    assert entry["job"] == "site" and entry["result"] == "成功" and entry["inventory"] == "local"
    assert {"lalert-vm", "backup-store", "monitoring-server"} <= set(entry["hosts"])
    assert not entry["failed"] and not entry["unreachable"]


def test_a_job_runs_and_is_logged(records):
    done = anshin("run", "patch_report", "--limit", "lalert-vm")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "適用待ち更新の確認: 成功" in done.stdout
    # the progress view: one line per task and host while it runs
    assert "] lalert-vm: " in done.stderr
    (entry,) = log_entries(records)
    assert entry["job"] == "patch_report" and entry["result"] == "成功" and entry["operator"] == "保守 太郎"
    assert entry["limit"] == "lalert-vm" and entry["check"] is False and entry["tasks"] > 3
    assert set(entry["changed"]) <= {"lalert-vm"} and not entry["failed"] and entry["incident"] is None
    artifacts = ROOT / entry["artifacts"] / "artifacts" / "run"
    assert (artifacts / "rc").read_text().strip() == "0"
    assert "PLAY RECAP" in (artifacts / "stdout").read_text(encoding="utf-8")

    # --check is passed through; the second run knows the total from the first
    checked = anshin("run", "patch_report", "--limit", "lalert-vm", "--check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"/{entry['tasks']}] lalert-vm" in checked.stderr
    second = log_entries(records)[-1]
    assert second["check"] is True
    assert "--check" in (ROOT / second["artifacts"] / "artifacts" / "run" / "command").read_text()


def test_a_failed_job_drafts_an_incident(records):
    backup = anshin("run", "backup_now")
    assert backup.returncode == 0, backup.stdout + backup.stderr[-3000:]
    # a dry run (changes nothing) asking for an archive older than any there is
    failed = anshin(
        "--records",
        str(records / "incidents"),
        "run",
        "restore",
        "--limit",
        "lalert-vm",
        "-e",
        "restore_before=2000-01-01T00:00",
        "-e",
        "restore_dry_run=true",
    )
    assert failed.returncode == 1
    entry = log_entries(records)[-1]
    assert entry["result"] == "失敗" and entry["incident"]
    draft = yaml.safe_load((ROOT / entry["incident"]).read_text(encoding="utf-8"))
    assert draft["status"] == "下書き" and draft["target"] == "lalert-vm" and draft["handler"] == "保守 太郎"
    assert draft["summary"].startswith("restore: タスク「Restore (or list what would change)」が失敗")
    assert "no archive before 2000-01-01" in draft["summary"]  # the cause, from the task's stderr
    listed = anshin("--records", str(records / "incidents"), "incident", "list")
    assert draft["id"] in listed.stdout and "下書き" in listed.stdout


def test_an_approved_job_an_incident_and_an_inquiry_reach_the_handover(records, tmp_path_factory):
    """A changing job with the prefecture's approval reference (recorded), an incident and an inquiry
    recorded, and the 引継書 lists them."""
    done = anshin("run", "backup_now", "--limit", "lalert-vm", "--approval", "徳危第42号 (2026-11-30)")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert log_entries(records)[-1]["approval"] == "徳危第42号 (2026-11-30)"
    assert (
        anshin(
            "incident", "new", "--occurred", "2026-11-30T09:10", "--target", "lalert-vm", "--summary", "E2E 受信遅延"
        ).returncode
        == 0
    )
    assert (
        anshin(
            "inquiry",
            "new",
            "--received",
            "2026-11-30T10:00",
            "--from",
            "危機管理課",
            "--channel",
            "電話",
            "--subject",
            "E2E 問合せ",
        ).returncode
        == 0
    )
    out = tmp_path_factory.mktemp("docs")
    done = anshin("docs", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    handover = (out / "引継書.md").read_text(encoding="utf-8")
    assert "E2E 受信遅延" in handover and "E2E 問合せ" in handover
    assert "徳危第42号 (2026-11-30)" in handover  # the latest backup_now, with its approval


def test_monthly_report_from_the_vm_and_the_public_sites_logs(records):
    """The month so far: the VM's counts read on it, the public site's from the local stand-in of the CMS
    servers' IIS logs (playbooks/local/iis_logs_standin.yml), counted with the local inventory's settings."""
    import datetime

    from anshin_ops import access_counts, inventory, records as records_mod

    month = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=9))).strftime("%Y-%m")
    standin = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "playbooks/local/iis_logs_standin.yml", "-e",
         f"iis_logs_standin_month={month}"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    assert standin.returncode == 0, standin.stdout[-3000:]
    done = anshin("report", "monthly", month)
    assert done.returncode == 0, done.stdout + done.stderr
    html = [line for line in done.stdout.splitlines() if line.endswith("_lalert-vm.html")]
    assert html
    with open(html[0], encoding="utf-8") as fh:
        page = fh.read()
    assert "電文受信件数 (分類別)" in page and "L-Alert連携サーバへの要求件数" in page
    settings = inventory.site_access(inventory.load("local"))
    expected = access_counts.count_month(
        records_mod.collected_dir("local", "iis-logs"),
        month,
        settings["prefix"],
        settings["exclude_networks"],
        settings["exclude_agents"],
    )
    assert expected["page_views"] > 0 and expected["excluded"]["requests"] > 0
    assert page.index("<h2>公開サイト アクセス件数 (日別)</h2>") < page.index("<h2>L-Alert連携サーバへの要求件数")
    total = (
        f'<td>合計</td><td class="n">{expected["requests"]}</td><td class="n">{expected["page_views"]}</td>'
        f'<td class="n">{expected["visitors"]}</td>'
    )
    assert total in page


def test_availability_counts_a_real_outage_from_the_probes(records):
    """The receiver stopped until a whole minute of failed probes shows in Prometheus's history on the
    monitoring host (polled through the report itself): the availability report counts it."""
    import datetime
    import re
    import time

    exec_ = ["podman", "exec", "anshin-lalert-vm", "systemctl"]
    year = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=9))).year

    def failed_minutes():
        done = anshin("report", "availability", str(year), "--probes")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "監視データを取得できませんでした" not in done.stderr
        return int(re.search(r"受信プローブ失敗 (\d+) 分", done.stdout).group(1)), done

    before, _ = failed_minutes()
    subprocess.run(exec_ + ["stop", "lalert-receiver.service"], check=True)
    try:
        # polled, not slept: a whole clock minute of failed probes is counted once it has closed
        deadline = time.monotonic() + 300
        while failed_minutes()[0] <= before:
            assert time.monotonic() < deadline, "no failed minute counted within 5 minutes of the outage"
            time.sleep(10)
    finally:
        subprocess.run(exec_ + ["start", "lalert-receiver.service"], check=True)
    failed, done = failed_minutes()
    failed -= before
    assert 1 <= failed <= 5, done.stdout


def alertmanager_alerts(name):
    """The alerts named NAME that the monitoring stand-in's Alertmanager holds now: [labels]."""
    code = (
        "import json, urllib.request\n"
        "print(urllib.request.urlopen('http://127.0.0.1:9093/api/v2/alerts', timeout=10).read().decode())"
    )
    out = subprocess.run(
        ["podman", "exec", "anshin-monitoring-server", "python3", "-c", code],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return [a["labels"] for a in json.loads(out) if a["labels"].get("alertname") == name]


def test_a_month_of_operations_the_scheduled_audit_alerts_and_the_report_holds_every_section(records):
    """Nothing here starts the audit: its timer (every 2 minutes on the stand-ins) does. Attack requests above
    the threshold reach Alertmanager as LogAuditThresholdCrossed; then an approved maintenance run, an
    incident and an inquiry are recorded, and `report operations` for the month shows them with the backup,
    the daily audits, the integrations and the pending updates Prometheus saw, and the resource report the
    monitoring host's timer made."""
    month = datetime.datetime.now(JST).strftime("%Y-%m")
    attacks = "for i in $(seq 60); do curl -sk -o /dev/null https://127.0.0.1/wp-login.php; done"
    subprocess.run(["podman", "exec", "anshin-lalert-vm", "sh", "-c", attacks], check=True)
    deadline = time.monotonic() + 420
    while not [a for a in alertmanager_alerts("LogAuditThresholdCrossed") if a.get("check") == "attack_requests"]:
        assert time.monotonic() < deadline, "no LogAuditThresholdCrossed at Alertmanager within 7 minutes"
        time.sleep(10)

    done = anshin("run", "backup_now", "--limit", "lalert-vm", "--approval", "徳危第43号")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    now = datetime.datetime.now(JST).strftime("%Y-%m-%dT%H:%M")
    assert (
        anshin("incident", "new", "--occurred", now, "--target", "lalert-vm", "--summary", "E2E 月次").returncode == 0
    )
    assert (
        anshin(
            "inquiry",
            "new",
            "--received",
            now,
            "--from",
            "危機管理課",
            "--channel",
            "電話",
            "--subject",
            "E2E 月次問合せ",
        )
    ).returncode == 0
    time.sleep(20)  # a scrape of the backup's textfile after the run (every 15 s)
    counted = anshin("report", "monthly", month)
    assert counted.returncode == 0, counted.stdout + counted.stderr
    done = anshin("report", "operations", month)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "監視データを取得できませんでした" not in done.stderr
    xlsx = next(line for line in done.stdout.splitlines() if line.endswith(f"運用報告書_{month}.xlsx"))
    book = openpyxl.load_workbook(xlsx)

    def rows(sheet):
        return [[c.value for c in row] for row in book[sheet].iter_rows(min_row=3) if row[0].value]

    assert [r[0] for r in rows("稼働率")][:2] == ["当月", "年度累計"]
    assert "E2E 月次" in [r[3] for r in rows("障害対応")]
    approved = [r for r in rows("保守作業") if r[3] == "徳危第43号"]
    assert approved and approved[0][5] == "成功"
    backups = [r for r in rows("バックアップ") if isinstance(r[1], int)]
    assert backups and max(r[1] for r in backups) >= 1, backups  # the runs of this test run, seen by Prometheus
    audit = {r[0]: r for r in rows("ログ監査") if isinstance(r[1], int)}
    assert audit["攻撃パスへの要求"][1] >= 1 and audit["攻撃パスへの要求"][2] >= 60
    assert [r for r in rows("外部連携") if r[1] == "receiver" and float(r[2]) > 50]
    assert [r for r in rows("未適用更新") if isinstance(r[1], int)]  # patch_report's check, earlier in this run
    assert "E2E 月次問合せ" in [r[2] for r in rows("問合せ")]
    # the monitoring host's own resource report (its timer, every 2 minutes here), brought into the records
    resources = rows("リソース")
    assert resources and resources[0][0] == "提案 1", resources
    assert [r for r in resources if "監視ホストの定期実行" in str(r[0])], resources
    assert rows("電文受信件数")  # the 月次報告書's counts of the month

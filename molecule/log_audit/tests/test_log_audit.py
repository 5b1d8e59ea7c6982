"""The audit on planted logs finds exactly the planted events; on real ones (sshd, sudo, nginx in the
container) it finds what was done; an empty period says so; the report is Japanese, in three formats."""

import csv
import io
import json
import os
import pathlib
import subprocess

import pytest

from conftest import PROJECT, host_name

CONVERGE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "converge.yml")
PLANT = os.path.join(PROJECT, "tests/fixtures/log_audit/plant.py")


def report_dir(host, case):
    return pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "reports" / case / host_name(host)


def audit(host, run_playbook, case, **extra):
    directory = report_dir(host, case)
    rc, out = run_playbook(CONVERGE, dict({"log_audit_report_dir": str(directory)}, **extra))
    reports = sorted(directory.glob("*.json"))
    assert len(reports) == 1, out
    base = str(reports[0])[:-5]
    return rc, out, json.loads(pathlib.Path(base + ".json").read_text()), base


@pytest.fixture(scope="module")
def planted(host):
    """Plant the fixture's events once per host: files under /var/tmp/planted, auth events via logger."""
    host.check_output("mkdir -p /var/tmp/plant")
    subprocess.run(["podman", "cp", PLANT, f"{host_name(host)}:/var/tmp/plant/plant.py"], check=True)
    base = int(host.check_output("date +%s"))
    host.check_output(f"python3 /var/tmp/plant/plant.py /var/tmp/planted {base} --journal")
    host.check_output("journalctl --sync")
    until = int(host.check_output("date +%s")) + 1
    return base, until


def period(host, since, until):
    to_iso = "date -d @{} +%Y-%m-%dT%H:%M:%S%:z"
    return {
        "log_audit_since": host.check_output(to_iso.format(since)),
        "log_audit_until": host.check_output(to_iso.format(until)),
    }


def test_planted_events_are_found_exactly(host, run_playbook, planted):
    base, until = planted
    rc, out, r, base_path = audit(
        host,
        run_playbook,
        "planted",
        **period(host, base - 86400, until),
        log_audit_access_logs=["/var/tmp/planted/nginx/*access.log*"],
        log_audit_error_logs=["/var/tmp/planted/nginx/*error.log*"],
        log_audit_auth_source="journal",
    )
    assert rc != 0 and "閾値超過" in out, out  # flagged: non-zero exit, after the report was written
    # Ansible's own become (sudo as root) of earlier runs is in the period too: counted apart
    own = sum(c["count"] for c in r["sudo"]["commands"] if c["user"] == "root")
    assert own >= 1 and {c["user"] for c in r["sudo"]["commands"]} == {"ops", "root"}
    assert r["counts"] == {
        "requests": 82,
        "status_1xx": 0,
        "status_2xx": 40,
        "status_3xx": 2,
        "status_4xx": 12,
        "status_5xx": 28,
        "ssh_failures": 8,
        "ssh_invalid_users": 6,
        "logins": 3,
        "logins_outside_ranges": 1,
        "sudo_commands": 3 + own,
        "sudo_refusals": 1,
        "attack_requests": 6,
        "receiver_rejects": 3,
        "receiver_errors": 1,
        "nginx_errors": 4,
        "unparsable_lines": 3,
        "damaged_files": 0,
    }
    assert r["ssh_failures_by_source"][0] == {"source": "203.0.113.7", "failed": 8, "invalid_user": 4, "total": 12}
    assert [x["source"] for x in r["logins_outside_ranges"]] == ["198.51.100.99"]
    assert [f["name"] for f in r["flags"]] == [
        "ssh_failures_per_source",
        "logins_outside_ranges",
        "sudo_refusals",
        "http_5xx_per_hour",
    ]
    markdown = pathlib.Path(base_path + ".md").read_text()
    for heading in (
        "# ログ監査報告書",
        "## 1. 判定",
        "## 3. SSH 認証失敗",
        "## 4. 承認範囲外からのログイン",
        "## 5. sudo の使用",
        "## 6. HTTP エラー (4xx / 5xx)",
        "### 5xx の急増",
        "## 7. 攻撃パスへの要求",
        "## 8. Lアラート受信の拒否・エラー",
        "## 10. 解析できなかった行",
    ):
        assert heading in markdown
    assert "**要確認**" in markdown and "| 203.0.113.7 | 8 | 4 | 12 |" in markdown
    raw = pathlib.Path(base_path + ".csv").read_bytes()
    assert raw.startswith("\ufeff".encode())  # Excel reads the Japanese as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["区分", "項目", "キー", "件数"]
    assert ["SSH 認証失敗 (送信元別)", "203.0.113.7", "", "12"] in rows
    assert ["Lアラート受信の拒否", "bad_digest", "", "2"] in rows


def test_real_events_are_found(host, run_playbook, planted):
    """What sshd, sudo and nginx in the container really log, after the planted events."""
    since = int(host.check_output("date +%s")) + 1
    host.check_output("sleep 1.1")
    host.run(
        "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
        "-o ConnectTimeout=5 nosuchuser@127.0.0.1 true"
    )
    host.check_output("sudo -u nobody /usr/bin/true")
    host.check_output("curl -s -o /dev/null http://127.0.0.1/wp-login.php")
    host.check_output("sleep 1; journalctl --sync")
    until = int(host.check_output("date +%s")) + 1
    rc, out, r, _ = audit(
        host,
        run_playbook,
        "real",
        **period(host, since, until),
        log_audit_thresholds={
            "ssh_failures_per_source": 10,
            "logins_outside_ranges": 0,
            "sudo_refusals": 0,
            "http_5xx_per_hour": 20,
            "attack_requests": 0,
            "receiver_rejects": 20,
            "nginx_errors": 100,
            "unparsable_lines": 100,
            "damaged_files": 0,
        },
    )
    assert rc != 0, out  # one attack request crosses a threshold of 0
    by_source = {s["source"]: s for s in r["ssh_failures_by_source"]}
    assert by_source["127.0.0.1"]["invalid_user"] == 1, r["ssh_failures_by_source"]
    assert {k: v for k, v in r["ssh_failures_by_user"][0].items() if k != "count"} == {
        "user": "nosuchuser",
        "invalid": True,
    }
    assert r["sudo"]["commands"] == [{"user": "root", "target": "nobody", "command": "/usr/bin/true", "count": 1}]
    assert r["attack_requests"]["by_pattern"] == [{"pattern": "wordpress", "count": 1}]
    assert r["counts"]["requests"] == 1 and r["counts"]["status_4xx"] == 1
    assert [f["name"] for f in r["flags"]] == ["attack_requests"]


def test_a_period_without_logs_says_so(host):
    """converge audited 2020-01-01: nothing there, no flag, exit 0, and the report says so."""
    directory = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "reports" / host_name(host)
    (markdown,) = directory.glob("*.md")
    text = markdown.read_text()
    assert "対象期間のログはありません" in text and "異常なし" in text
    assert json.loads(markdown.with_suffix(".json").read_text())["empty"] is True


def test_bad_thresholds_stop_before_reading(host, refused_before_change):
    directory = report_dir(host, "refused")
    refused_before_change(
        CONVERGE,
        {"log_audit_report_dir": str(directory), "log_audit_thresholds": {"ssh_failure": 3}},
        "log_audit_thresholds",
        lambda: not directory.exists(),
    )

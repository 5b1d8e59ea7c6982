"""The maintenance run on a controlled pending update (local apt repositories, see files/make-repo.sh):
the report shows it, patch.yml applies security updates only, holds stay, a backup comes first, the
record and the maintenance log say what happened; outside the agreed dates, during a disaster, when the
receiver's state cannot be read (even when forced) and on a failing post-check it stops, non-zero, recorded."""

import glob
import json
import os
import subprocess

from conftest import PROJECT

PATCH = os.path.join(PROJECT, "playbooks", "patch.yml")
REPORT = os.path.join(PROJECT, "playbooks", "patch_report.yml")
ALL_DAY = {"patching_window_start": "00:00", "patching_window_end": "24:00"}
EPHEMERAL = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "")
SEND = (
    "/opt/lalert-receiver/venv/bin/lalert-send --url https://127.0.0.1/lalert/publish "
    "--username tokushima-test --password-file /etc/lalert-receiver/password "
    "--cafile /etc/lalert-receiver/tls/receiver.crt --expect ok"
)
FIXTURES = os.path.join(PROJECT, "services", "lalert_receiver", "fixtures")


def version(host, package):
    return host.check_output(f"dpkg-query -W -f '${{Version}}' {package}")


def versions(host):
    return {p: version(host, p) for p in ("anshin-demo-lib", "anshin-demo-held", "anshin-demo-tool")}


def newest(pattern):
    found = sorted(glob.glob(os.path.join(EPHEMERAL, pattern)), key=os.path.getmtime)
    assert found, pattern
    return found[-1]


def read(path):
    with open(path) as fh:
        return fh.read()


def test_tooling_is_set_up(host):
    assert "anshin-demo-held" in host.check_output("apt-mark showhold")
    auto = host.file("/etc/apt/apt.conf.d/20auto-upgrades").content_string
    assert 'Unattended-Upgrade "0"' in auto and 'Update-Package-Lists "0"' in auto
    assert host.package("needrestart").is_installed


def test_report_shows_the_pending_updates(host, run_playbook):
    before = versions(host)
    rc, out = run_playbook(REPORT, {})
    assert rc == 0, out
    report = json.loads(read(newest("reports/*.json")))
    pending = {p["name"]: p for p in report["packages"] if p["name"].startswith("anshin-demo")}
    assert set(pending) == {"anshin-demo-lib", "anshin-demo-held", "anshin-demo-tool"}
    assert pending["anshin-demo-lib"]["security"] and pending["anshin-demo-held"]["security"]
    assert not pending["anshin-demo-tool"]["security"]
    assert pending["anshin-demo-lib"]["installed"] == "1.0" and pending["anshin-demo-lib"]["candidate"] == "1.1"
    markdown = read(newest("reports/*.md"))
    assert "# 更新プログラム適用状況報告書" in markdown and "## 未適用の更新" in markdown
    assert "| anshin-demo-held | 1.0 | 1.1 | ○ |" in markdown and "保留" in markdown
    prom = host.file("/var/lib/prometheus/node-exporter/anshin_patching.prom").content_string
    # the two demo packages and whatever Debian's real security suite has pending (next test)
    security = [p for p in report["packages"] if p["security"]]
    metric = [
        line.split()[1] for line in prom.splitlines() if line.startswith("anshin_patch_pending_security_updates ")
    ]
    assert [float(v) for v in metric] == [len(security)] and len(security) >= 2, prom
    assert versions(host) == before  # read-only


def test_the_daily_check_runs_as_its_timer_would_and_feeds_the_alert(host):
    """The service its timer starts (every day; a timer firing by itself is proven by the daily log audit in
    monitoring_server): through its sandbox it refreshes the package lists, marks the demo security updates,
    keeps its result and writes the metrics SecurityUpdatesPending and PatchCheckNotRunning read. Installs
    nothing."""
    before = versions(host)
    timer = host.service("anshin-pending-updates.timer")
    assert timer.is_enabled and timer.is_running
    host.check_output(
        "rm -f /var/lib/anshin-patching/last-check.json /var/lib/prometheus/node-exporter/anshin_patching.prom"
    )
    started = host.run("systemctl start anshin-pending-updates.service")
    assert started.rc == 0, host.run("journalctl -u anshin-pending-updates -n 30 --no-pager").stdout
    last = json.loads(host.file("/var/lib/anshin-patching/last-check.json").content_string)
    security = {p["name"] for p in last["packages"] if p["security"]}
    assert {"anshin-demo-lib", "anshin-demo-held"} <= security and "anshin-demo-tool" not in security
    prom = host.file("/var/lib/prometheus/node-exporter/anshin_patching.prom").content_string
    values = {line.split()[0]: float(line.split()[1]) for line in prom.splitlines() if not line.startswith("#")}
    assert values["anshin_patch_check_success"] == 1
    assert values["anshin_patch_check_last_run_timestamp_seconds"] == last["checked_at"]
    assert values["anshin_patch_pending_security_updates"] == len(security) == last["pending_security"]
    assert values["anshin_patch_oldest_pending_security_seconds"] == last["oldest_pending_security_seconds"]
    assert versions(host) == before  # read-only


# Makes sure one real update of Debian's security suite is pending: normally some are (the image is built
# from the release alone); otherwise an installed package goes back to its release version.
ENSURE_REAL_SECURITY_UPDATE = r"""
import subprocess, sys
import apt
def from_security(version):
    return any(o.site == "deb.debian.org" and o.archive.endswith("-security") for o in version.origins)
cache = apt.Cache()
pending = sorted(p.name for p in cache if p.is_upgradable and from_security(p.candidate))
if pending:
    sys.exit(print(pending[0]))
for p in cache:
    if p.is_installed and from_security(p.installed) and not p.essential:
        older = [v for v in p.versions if v < p.installed and not from_security(v) and v.downloadable]
        if older:
            subprocess.run(["apt-get", "install", "-y", "--allow-downgrades", f"{p.name}={older[0].version}"],
                           check=True, stdout=subprocess.DEVNULL)
            sys.exit(print(p.name))
sys.exit("no installed package of the security suite has an older release version")
"""


def test_the_real_security_suite_is_read_and_its_update_reported_as_security(host, run_playbook):
    sources = host.file("/etc/apt/sources.list.d/debian-security.sources").content_string
    codename = host.system_info.codename
    assert "URIs: http://deb.debian.org/debian-security" in sources and f"Suites: {codename}-security" in sources
    assert not host.file("/etc/apt/sources.list").exists  # deb822 only: nothing else decides the sources
    name = host.check_output("python3 -c %s", ENSURE_REAL_SECURITY_UPDATE).strip()
    policy = host.check_output(f"apt-cache policy {name}")
    assert f"http://deb.debian.org/debian-security {codename}-security" in policy, policy
    rc, out = run_playbook(REPORT, {})
    assert rc == 0, out
    report = json.loads(read(newest("reports/*.json")))
    entry = {p["name"]: p for p in report["packages"]}[name]
    # the origin names the suite as the archive calls it now (oldstable-security for bookworm in 2026)
    assert (
        entry["security"] and entry["origin"].startswith("Debian-Security ") and entry["origin"].endswith("-security")
    ), entry
    assert f"| {name} |" in read(newest("reports/*.md"))


def test_outside_the_agreed_dates_nothing_happens(host, run_playbook):
    before = versions(host)
    rc, out = run_playbook(PATCH, dict(ALL_DAY, patching_window_dates=["2020-01-01"]))
    assert rc != 0 and "outside the maintenance window" in out, out
    assert versions(host) == before
    record = json.loads(read(newest("records/*.json")))
    assert record["result"] == "failed" and record["failed_step"] == "window" and record["changes"] == []


def test_patch_applies_security_updates_backs_up_first_and_keeps_holds(host, run_playbook):
    rc, out = run_playbook(PATCH, ALL_DAY)
    assert rc == 0, out
    assert versions(host) == {"anshin-demo-lib": "1.1", "anshin-demo-held": "1.0", "anshin-demo-tool": "1.0"}
    record = json.loads(read(newest("records/*.json")))
    assert record["result"] == "ok" and record["failed_step"] == ""
    assert {"name": "anshin-demo-lib", "before": "1.0", "after": "1.1"} in record["changes"]
    assert not [c for c in record["changes"] if c["name"] in ("anshin-demo-held", "anshin-demo-tool")]
    archive = record["pre_change_archive"]
    assert archive and archive in host.check_output("anshin-backup list")
    markdown = read(newest("records/*.md"))
    assert "# パッチ適用記録" in markdown and "正常終了" in markdown and archive in markdown
    log = read(os.path.join(EPHEMERAL, "records", "maintenance.log"))
    assert f"{host.backend.get_hostname()} patch ok" in log and f"archive={archive}" in log


def test_a_disaster_in_progress_stops_the_run(host, run_playbook):
    subprocess.run(["podman", "cp", FIXTURES, f"{host.backend.get_hostname()}:/tmp/fx"], check=True)
    host.check_output(f"{SEND} /tmp/fx/weather_vpww53.xml")  # a real weather warning, received now
    rc, out = run_playbook(PATCH, ALL_DAY)
    assert rc != 0 and "a disaster is in progress" in out, out
    assert json.loads(read(newest("records/*.json")))["failed_step"] == "disaster"


def test_an_unreadable_receiver_state_stops_the_run_even_when_forced(host, run_playbook):
    """The real receiver command, pointed at a database that is not there: the gate fails closed;
    patching_force does not open it, only patching_disaster_check_override does, and says so."""
    host.check_output(
        "printf '[auth]\\nusername = x\\npassword = y\\n[storage]\\n"
        "database = /var/lib/lalert/missing.sqlite3\\n' > /tmp/unreadable.ini"
    )
    unreadable = dict(
        ALL_DAY,
        patching_disaster_check_command=[
            "/opt/lalert-receiver/venv/bin/lalert-receiver",
            "--config",
            "/tmp/unreadable.ini",
            "--disaster-check",
        ],
    )
    before = versions(host)
    rc, out = run_playbook(PATCH, dict(unreadable, patching_force=True))
    assert rc != 0 and "disaster state unreadable" in out and "missing.sqlite3" in out, out
    assert versions(host) == before
    record = json.loads(read(newest("records/*.json")))
    assert record["failed_step"] == "disaster" and record["disaster_check"]["state"] == "unreadable"
    assert record["pre_change_archive"] == ""  # stopped before the backup: nothing was changed

    rc, out = run_playbook(PATCH, dict(unreadable, patching_disaster_check_override=True))
    assert rc == 0, out
    record = json.loads(read(newest("records/*.json")))
    assert record["result"] == "ok" and record["forced"] == ["disaster state unreadable"]
    assert "受信データを読めず" in read(newest("records/*.md"))
    log = read(os.path.join(EPHEMERAL, "records", "maintenance.log")).splitlines()
    assert "forced=disaster_state_unreadable" in log[-1]
    assert not host.file("/var/lib/lalert/missing.sqlite3").exists  # read-only: nothing created


def test_a_failing_post_check_is_detected_and_recorded(host, run_playbook):
    host.check_output("anshin-test-make-repo publish-staged")
    try:
        rc, out = run_playbook(PATCH, dict(ALL_DAY, patching_force=True))
        assert rc != 0, out
        assert "restore.yml" in out and "restore_confirm=yes" in out  # how to get back
        record = json.loads(read(newest("records/*.json")))
        assert record["result"] == "failed" and record["failed_step"] == "postcheck"
        assert "nginx -t -q fails" in record["error"] and record["forced"] == ["during a disaster"]
        assert {"name": "anshin-demo-breaker", "before": "1.0", "after": "1.1"} in record["changes"]
        assert "step=postcheck" in read(os.path.join(EPHEMERAL, "records", "maintenance.log"))
    finally:
        host.check_output("rm -f /etc/nginx/conf.d/zz-anshin-broken.conf")

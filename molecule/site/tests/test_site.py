"""The whole site on fresh Debian 12 and 13 VMs, as a user relies on it: the receiver receives, the backup
runs and a restore brings the archived state back, and a stopped receiver raises the alert on the monitoring
host."""

import json
import os
import shlex
import time

import testinfra

from conftest import PROJECT, host_name

SEND = (
    "/opt/lalert-receiver/venv/bin/lalert-send --url https://127.0.0.1/lalert/publish "
    "--username tokushima-test --password-file /etc/lalert-receiver/password "
    "--cafile /etc/lalert-receiver/tls/receiver.crt --expect ok"
)
FIXTURES = os.path.join(PROJECT, "services", "lalert_receiver", "fixtures")
PLAYBOOKS = os.path.join(PROJECT, "playbooks")
MONITORING = testinfra.get_host("podman://site-monitoring")
STORE = testinfra.get_host("podman://site-store")


def health(host):
    return json.loads(host.check_output("curl -fsS http://127.0.0.1:8080/healthz"))["data"]


def ldap_admin(tool):
    """An LDAP tool bound as the directory's admin (the scenario's generated password)."""
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ldap_admin_password"), encoding="utf-8") as fh:
        password = fh.read().split()[0]
    return f"{tool} -x -H ldap://127.0.0.1 -D 'cn=admin,dc=anshin,dc=local' -w '{password}'"


def firing(alertname):
    """Labels of the active alerts of that name in the monitoring host's Alertmanager."""
    out = MONITORING.check_output(
        "python3 -c "
        + shlex.quote(
            "import urllib.request; print(urllib.request.urlopen("
            "'http://127.0.0.1:9093/api/v2/alerts?active=true', timeout=10).read().decode())"
        )
    )
    return [a["labels"] for a in json.loads(out) if a["labels"]["alertname"] == alertname]


def series(expr):
    """Instant query on the monitoring host's Prometheus: [(labels, value)]."""
    out = MONITORING.check_output(
        "python3 -c "
        + shlex.quote(
            "import json, urllib.parse, urllib.request\n"
            f"q = urllib.parse.urlencode({{'query': {expr!r}}})\n"
            "print(urllib.request.urlopen('http://127.0.0.1:9090/api/v1/query?' + q, timeout=10).read().decode())"
        )
    )
    return [(r["metric"], float(r["value"][1])) for r in json.loads(out)["data"]["result"]]


def test_every_part_is_running(host):
    for unit in ("lalert-receiver", "nginx", "ssh", "prometheus-node-exporter", "slapd"):
        assert host.service(unit).is_running, unit
    # the firewall is loaded (nftables.service loads it at boot) and lets only the monitoring host scrape
    assert host.service("nftables").is_enabled
    monitoring = MONITORING.interface("eth0").addresses[0]
    scrape = [line for line in host.check_output("nft list ruleset").splitlines() if "dport 9100" in line]
    assert scrape and all(monitoring in line and "accept" in line for line in scrape), scrape
    for timer in ("anshin-backup.timer", "anshin-agent-metrics.timer", "anshin-log-archive.timer"):
        assert host.service(timer).is_enabled, timer


def test_the_receiver_receives(host, copy_to_host):
    copy_to_host(FIXTURES, "/tmp/fx")
    host.check_output(f"{SEND} /tmp/fx/evacuation_order.xml /tmp/fx/weather_vpww53.xml")
    assert health(host)["messages"] == 2


def test_the_backup_runs_and_a_restore_brings_the_archived_state_back(host, copy_to_host, run_playbook):
    rc, out = run_playbook(os.path.join(PLAYBOOKS, "backup_now.yml"), {})
    assert rc == 0, out
    at_backup = health(host)
    host.check_output(f"{SEND} /tmp/fx/tsunami_vtse51.xml")
    assert health(host)["messages"] == at_backup["messages"] + 1
    rc, out = run_playbook(os.path.join(PLAYBOOKS, "restore.yml"), {"restore_latest": True, "restore_confirm": "yes"})
    assert rc == 0, out
    assert health(host) == at_backup
    # the LDAP directory site.yml built came back from its export too, and answers
    assert '"ldap-directory"' in out, out
    assert host.service("slapd").is_running
    assert (
        host.check_output(f"{ldap_admin('ldapsearch')} -LLL -b dc=anshin,dc=local -s base dn")
        == "dn: dc=anshin,dc=local"
    )
    assert host_name(host) in host.check_output("anshin-backup list")


def test_a_stopped_receiver_raises_the_alert(host):
    name = host_name(host)
    assert not [a for a in firing("LalertReceiverDown") if a.get("instance") == name]  # healthy before
    try:
        host.check_output("systemctl stop lalert-receiver")
        deadline = time.time() + 180
        while time.time() < deadline:
            if any(a.get("instance") == name for a in firing("LalertReceiverDown")):
                break
            time.sleep(5)
        else:
            raise AssertionError(f"no LalertReceiverDown for {name} in Alertmanager: {firing('LalertReceiverDown')}")
    finally:
        host.check_output("systemctl start lalert-receiver")


def test_the_backup_store_is_scraped_and_sees_the_backup_arrive(host):
    """The monitoring host scrapes the store's node_exporter (nobody else may), and the store's age of this VM's
    repository is the time the backup of the test above arrived (its append-only transaction log)."""
    repository = host_name(host)
    up = series('up{job="node", instance="site-store"}')
    assert [(labels.get("role"), value) for labels, value in up] == [("backup_store", 1.0)], up
    # the agent's own table: the VM, which reaches the store's SSH for its backups, does not reach the exporter
    address = STORE.interface("eth0").addresses[0]
    assert STORE.service("anshin-agent-firewall").is_enabled
    assert host.run(f"curl -fsS -m 5 -o /dev/null http://{address}:9100/metrics").rc != 0
    assert STORE.run("curl -fsS -m 5 -o /dev/null http://127.0.0.1:9100/metrics").rc == 0
    # the archive of test_the_backup_runs_... is logged; the metric reaches Prometheus
    arrived = float(STORE.check_output(f"stat -c %Y /srv/borg/{repository}/transactions"))
    STORE.check_output("systemctl start anshin-borg-store-metrics.service")
    selector = f'{{instance="site-store", repository="{repository}"}}'
    deadline = time.time() + 90
    while True:
        seen = series(f"anshin_backup_repository_last_change_timestamp_seconds{selector}")
        if seen and seen[0][1] >= arrived:
            break
        if time.time() > deadline:
            raise AssertionError(f"repository {repository} last changed {seen}, the backup arrived at {arrived}")
        time.sleep(5)
    assert [value for _, value in series(f"anshin_backup_repository_present{selector}")] == [1.0]
    assert series(f"anshin_backup_repository_size_bytes{selector}")[0][1] > 0
    assert not [a for a in firing("BackupRepositoryStale") if a.get("repository") == repository]


LYNIS_MINIMUM = 80  # issue 20: the converged VM's hardening index; open findings: roles/base/README.md


def test_lynis_hardening_index_meets_the_bar(host, capsys):
    """Debian's lynis on the converged VM; the index is printed, and below the bar the findings are shown."""
    host.check_output("DEBIAN_FRONTEND=noninteractive apt-get install -y -q lynis")
    host.check_output("lynis audit system --quick --no-colors --report-file /var/tmp/lynis-report.dat >/dev/null")
    report = host.file("/var/tmp/lynis-report.dat").content_string
    values = [line.split("=", 1)[1] for line in report.splitlines() if line.startswith("hardening_index=")]
    assert values, "lynis wrote no hardening_index"
    index = int(values[0])
    with capsys.disabled():
        print(f"\nLynis hardening index on {host.backend.get_hostname()}: {index} (bar {LYNIS_MINIMUM})")
    suggestions = [line.split("=", 1)[1] for line in report.splitlines() if line.startswith("suggestion[]=")]
    assert index >= LYNIS_MINIMUM, "\n".join(suggestions)

"""Failover to the standby: built from code, the primary's latest archive restored, the receiver there
answering with the same rows and latest documentID; the primary's receiver stopped; the standby takes
messages and backs itself up."""
import json
import os
import subprocess

import testinfra

from conftest import PROJECT

SEND = ("/opt/lalert-receiver/venv/bin/lalert-send --url https://127.0.0.1/lalert/publish "
        "--username tokushima-test --password-file /etc/lalert-receiver/password "
        "--cafile /etc/lalert-receiver/tls/receiver.crt --expect ok")
FIXTURES = os.path.join(PROJECT, "services", "lalert_receiver", "fixtures")
PLAYBOOKS = os.path.join(PROJECT, "playbooks")


def health(host):
    return json.loads(host.check_output("curl -fsS http://127.0.0.1:8080/healthz"))["data"]


def test_failover_restores_the_latest_archive_on_the_standby(host, copy_to_host, run_playbook):
    standby = testinfra.get_host("podman://failover-standby")
    copy_to_host(FIXTURES, "/tmp/fx")
    host.check_output(f"{SEND} /tmp/fx/evacuation_order.xml /tmp/fx/shelter.xml /tmp/fx/seismic_vxse53.xml")
    rc, out = run_playbook(os.path.join(PLAYBOOKS, "backup_now.yml"), {})
    assert rc == 0, out
    at_backup = health(host)
    assert at_backup["messages"] == 3 and at_backup["latest_document_id"]
    # a message after the archive: the primary has it, the standby cannot
    host.check_output(f"{SEND} /tmp/fx/tsunami_vtse51.xml")

    rc, out = run_playbook(os.path.join(PLAYBOOKS, "failover.yml"), {}, limit=False)
    assert rc == 0, out
    assert "the standby answers with the data of" in out and "切替手順" in out
    assert "messages after the archive are on the primary only" in out

    assert health(standby) == at_backup  # rows and latest documentID of the archive
    assert standby.check_output("sqlite3 /var/lib/lalert/receiver.sqlite3 'PRAGMA integrity_check'") == "ok"
    primary_spool = host.check_output("cd /var/spool/lalert && ls | sort")
    standby_spool = standby.check_output("cd /var/spool/lalert && ls | sort")
    assert set(standby_spool.split()) < set(primary_spool.split())  # all but the later message
    assert not host.service("lalert-receiver").is_running  # only the standby takes messages now

    subprocess.run(["podman", "cp", FIXTURES, "failover-standby:/tmp/fx"], check=True)
    standby.check_output(f"{SEND} /tmp/fx/tsunami_vtse41.xml")
    assert health(standby)["messages"] == 4
    assert standby.run("systemctl start anshin-backup.service").rc == 0  # into its own repository
    assert "failover-standby" in standby.check_output("anshin-backup list")

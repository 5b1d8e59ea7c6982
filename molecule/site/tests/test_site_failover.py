"""Failover to the standby: built from code, the primary's latest archive restored, the receiver there
answering with the same rows and latest documentID and the LDAP directory holding the same people and
groups; the primary's receiver stopped; the standby takes messages and backs itself up.

Runs on the site scenario's converge, after test_site.py (pytest collects files by name): it stops the
primary's receiver, so it comes last. The primary is site-debian12, failover.yml's groups['lalert'][0]."""

import base64
import os
import subprocess

import pytest
import testinfra
from test_site import FIXTURES, PLAYBOOKS, SEND, health, ldap_admin  # the same receiver and playbooks as the site tests

from conftest import host_name


def directory(host):
    """Every entry of the directory with its attributes, sorted."""
    out = host.check_output(f"{ldap_admin('ldapsearch')} -LLL -o ldif-wrap=no -b dc=anshin,dc=local '(objectClass=*)'")
    return sorted(entry.strip() for entry in out.split("\n\n") if entry.strip())


PEOPLE = (
    "dn: ou=people,dc=anshin,dc=local\nobjectClass: organizationalUnit\nou: people\n\n"
    "dn: uid=hanako,ou=people,dc=anshin,dc=local\nobjectClass: inetOrgPerson\nuid: hanako\n"
    f"cn:: {base64.b64encode('徳島 花子'.encode()).decode()}\nsn: tokushima\ndepartmentNumber: kikikanri\n\n"
    "dn: ou=groups,dc=anshin,dc=local\nobjectClass: organizationalUnit\nou: groups\n\n"
    "dn: cn=kikikanri,ou=groups,dc=anshin,dc=local\nobjectClass: groupOfNames\ncn: kikikanri\n"
    "member: uid=hanako,ou=people,dc=anshin,dc=local\n"
)


def test_failover_restores_the_latest_archive_on_the_standby(host, copy_to_host, run_playbook):
    if host_name(host) != "site-debian12":
        pytest.skip("one primary: failover.yml restores groups['lalert'][0]'s archive")
    standby = testinfra.get_host("podman://site-standby")
    copy_to_host(FIXTURES, "/tmp/fx")
    before = health(host)["messages"]  # what test_site.py left
    host.check_output(f"{SEND} /tmp/fx/shelter.xml /tmp/fx/seismic_vxse53.xml /tmp/fx/landslide_vxww50.xml")
    # people and a department group in the primary's directory (as a sync would leave them)
    host.check_output(f"echo {base64.b64encode(PEOPLE.encode()).decode()} | base64 -d | {ldap_admin('ldapadd')}")
    rc, out = run_playbook(os.path.join(PLAYBOOKS, "backup_now.yml"), {})
    assert rc == 0, out
    at_backup, people_at_backup = health(host), directory(host)
    assert at_backup["messages"] == before + 3 and at_backup["latest_document_id"]
    assert [e for e in people_at_backup if e.startswith("dn: uid=hanako,")]
    # a message after the archive: the primary has it, the standby cannot
    host.check_output(f"{SEND} /tmp/fx/weather_vpww54.xml")

    # the standby is built from nothing (every play of site.yml): minutes, more when the machine is busy
    rc, out = run_playbook(os.path.join(PLAYBOOKS, "failover.yml"), {}, limit=False, timeout=1800)
    assert rc == 0, out
    assert "the standby answers with the data of" in out and "切替手順" in out
    assert "the standby's LDAP directory holds the archive's" in out, out
    assert "messages after the archive are on the primary only" in out

    assert health(standby) == at_backup  # rows and latest documentID of the archive
    assert directory(standby) == people_at_backup  # the directory's people and groups came along
    assert standby.service("slapd").is_running
    assert standby.check_output("sqlite3 /var/lib/lalert/receiver.sqlite3 'PRAGMA integrity_check'") == "ok"
    primary_spool = host.check_output("cd /var/spool/lalert && ls | sort")
    standby_spool = standby.check_output("cd /var/spool/lalert && ls | sort")
    assert set(standby_spool.split()) < set(primary_spool.split())  # all but the later message
    assert not host.service("lalert-receiver").is_running  # only the standby takes messages now

    subprocess.run(["podman", "cp", FIXTURES, "site-standby:/tmp/fx"], check=True)
    standby.check_output(f"{SEND} /tmp/fx/tsunami_vtse41.xml")
    assert health(standby)["messages"] == at_backup["messages"] + 1
    assert standby.run("systemctl start anshin-backup.service").rc == 0  # into its own repository
    assert "site-standby" in standby.check_output("anshin-backup list")

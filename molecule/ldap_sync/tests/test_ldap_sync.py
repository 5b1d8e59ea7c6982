"""LDAP sync between two real slapd: the people and departments arrive with their Japanese names, a
reorganisation is reviewed as a dry-run report and then applied, the guard stops a mass deletion, a bad or
unreachable source changes nothing, and the scheduled sync does the same as the playbook."""

import base64
import glob
import json
import os
import pathlib
import shlex

import testinfra
import yaml

from conftest import PROJECT

EPHEMERAL = os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]
SOURCE = testinfra.get_host("podman://ldap-source")
PLAYBOOK = os.path.join(PROJECT, "playbooks", "ldap_sync.yml")
ROLE = os.path.join(PROJECT, "roles", "ldap_sync")
T_BASE, S_BASE = "dc=anshin,dc=local", "dc=pref,dc=tokushima,dc=test"
RENAMED = "危機管理政策課"  # department 0 of the seed


def secret(name):
    with open(os.path.join(EPHEMERAL, name), encoding="utf-8") as fh:
        return fh.read().split()[0]


def ldif_entries(text):
    entries, current = [], None
    for line in text.splitlines():
        if not line.strip():
            current = None
            continue
        attr, _, value = line.partition(":")
        value = base64.b64decode(value[1:].strip()).decode() if value.startswith(":") else value.strip()
        if attr == "dn":
            current = {"dn": [value]}
            entries.append(current)
        elif current is not None:
            current.setdefault(attr, []).append(value)
    return entries


def search(host, base, flt="(objectClass=*)", attrs="", admin=None, password=None):
    admin = admin or f"cn=admin,{T_BASE}"
    password = password or secret("ldap_admin_password")
    out = host.run(
        f"ldapsearch -x -LLL -o ldif-wrap=no -H ldap://127.0.0.1 -D '{admin}' -w '{password}' "
        f"-b '{base}' '{flt}' {attrs}"
    )
    return ldif_entries(out.stdout) if out.rc == 0 else []


def people(host, branch="people"):
    return {
        e["uid"][0]: e
        for e in search(host, f"ou={branch},{T_BASE}", "(objectClass=inetOrgPerson)", "uid cn departmentNumber mail")
    }


def groups(host):
    return {
        e["cn"][0]: sorted(m.split(",")[0][4:] for m in e.get("member", []))
        for e in search(host, f"ou=groups,{T_BASE}", "(objectClass=groupOfNames)", "cn member")
    }


def source_people():
    return {
        e["uid"][0]: e
        for e in search(
            SOURCE,
            f"ou=staff,{S_BASE}",
            "(objectClass=inetOrgPerson)",
            "uid cn ou",
            admin=f"cn=admin,{S_BASE}",
            password=secret("ldap_directory_admin_password"),
        )
    }


def source_delete(uids):
    dns = " ".join(f"'uid={u},ou=staff,{S_BASE}'" for u in uids)
    SOURCE.check_output(
        f"ldapdelete -x -H ldap://127.0.0.1 -D 'cn=admin,{S_BASE}' -w '{secret('ldap_directory_admin_password')}' {dns}"
    )


REORG = {
    "ldap_sync_reorganisation": [
        {"type": "rename", "from": RENAMED, "to": "危機管理部危機管理課", "effective": "2027-04-01"}
    ]
}
# the reorganisation as it stands from 1 April on
APPLIED = dict(REORG, ldap_sync_as_of="2027-04-01")


def test_people_and_departments_arrive_with_their_names():
    target, source = people(host_vm()), source_people()
    assert len(target) == 60 and set(target) == set(source)
    for uid, entry in source.items():
        assert target[uid]["cn"] == entry["cn"] and target[uid]["departmentNumber"] == entry["ou"]
    assert {name: len(members) for name, members in groups(host_vm()).items()} == dict.fromkeys(
        {e["ou"][0] for e in source.values()}, 10
    )


def host_vm():
    return testinfra.get_host("podman://ldap-vm")


PROGRAM = "/usr/local/lib/anshin/ldap-sync/anshin-ldap-sync /etc/anshin/ldap-sync.json"


def scheduled_run(host):
    """Start the service as its timer does; its summary line in the journal."""
    host.check_output("systemctl start anshin-ldap-sync.service")
    journal = host.check_output(
        "journalctl --sync && journalctl -u anshin-ldap-sync.service -o cat --no-pager | grep '^ldap sync' | tail -1"
    )
    return journal.strip()


def ldap_change(host, base, ldif, password):
    host.check_output(
        f"printf '%s' {shlex.quote(ldif)} | ldapmodify -x -H ldap://127.0.0.1 -D 'cn=admin,{base}' -w '{password}'"
    )


def test_the_scheduled_sync_runs_the_same_code_reading_only_what_changed(host):
    assert not host.service("anshin-ldap-sync.timer").is_enabled  # off unless asked for
    # no node_exporter in this scenario: its textfile directory, for the sync's metrics
    host.check_output("rm -f /var/lib/anshin-ldap-sync/state.json && mkdir -p /var/lib/prometheus/node-exporter")
    first = scheduled_run(host)
    assert first == "ldap sync (full reconcile: no earlier run to start from): 60 people in the source, changes none"
    assert host.file("/var/lib/anshin-ldap-sync/last.json").exists
    assert host.file("/etc/anshin/ldap-sync.json").mode == 0o600
    # a person changed in the source and a person made by hand in the target
    uid = sorted(source_people())[5]
    ldap_change(
        SOURCE,
        S_BASE,
        f"dn: uid={uid},ou=staff,{S_BASE}\nchangetype: modify\nreplace: mail\nmail: {uid}@new.pref.tokushima.test\n",
        secret("ldap_directory_admin_password"),
    )
    ldap_change(
        host,
        T_BASE,
        f"dn: uid=handmade,ou=people,{T_BASE}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: handmade\n"
        "cn: 手作業 登録\nsn: 手作業\ndepartmentNumber: 総務課\n",
        secret("ldap_admin_password"),
    )
    # the next run reads the changes only: the change arrives, the hand-made person is not seen
    second = scheduled_run(host)
    assert second.startswith("ldap sync (incremental, changes since ") and "changes {'modify': 1}" in second, second
    assert "60 people changed" not in second  # not the whole source again
    assert people(host)[uid]["mail"] == [f"{uid}@new.pref.tokushima.test"] and "handmade" in people(host)
    assert json.loads(host.file("/var/lib/anshin-ldap-sync/last.json").content_string)["transaction"] is True
    # the full reconcile finds what no change in the source shows: the hand-made person is parked
    full = host.check_output(f"{PROGRAM} --full")
    assert full == "ldap sync (full reconcile: asked for (--full)): 60 people in the source, changes {'disable': 1}"
    assert "handmade" not in people(host) and "handmade" in people(host, "disabled")
    metrics = host.file("/var/lib/prometheus/node-exporter/anshin_ldap_sync.prom").content_string
    stamps = {
        line.split()[0]: float(line.split()[1]) for line in metrics.splitlines() if line and not line.startswith("#")
    }
    # the full reconcile just run is the one the metric dates, not the first run's
    now = float(host.check_output("date +%s"))
    full_at = stamps["anshin_ldap_sync_last_full_reconcile_timestamp_seconds"]
    assert now - 60 < full_at <= now + 1 and stamps["anshin_ldap_sync_last_result"] == 1, metrics
    state = json.loads(host.file("/var/lib/anshin-ldap-sync/state.json").content_string)
    assert round(state["last_full"]) == round(full_at)
    host.check_output(
        f"ldapdelete -x -H ldap://127.0.0.1 -D 'cn=admin,{T_BASE}' -w '{secret('ldap_admin_password')}' "
        f"'uid=handmade,ou=disabled,{T_BASE}'"
    )


def test_the_initial_load_of_an_empty_target_stops_slapd_for_slapadd(host):
    password = secret("ldap_admin_password")
    before, source = groups(host), source_people()
    # the target emptied as on a new VM, and the timer's settings lowered so that 60 people load offline (the
    # role's threshold is 1,000); the run goes through the service, with its sandbox, as the timer starts it
    host.check_output(
        f"ldapdelete -r -x -H ldap://127.0.0.1 -D 'cn=admin,{T_BASE}' -w '{password}' "
        + " ".join(f"'ou={b},{T_BASE}'" for b in ("people", "groups", "disabled"))
    )
    assert people(host) == {} and groups(host) == {}
    settings = "/etc/anshin/ldap-sync.json"
    host.check_output(f"cp -p {settings} /root/ldap-sync.json.kept && rm -f /var/lib/anshin-ldap-sync/state.json")
    try:
        host.check_output(
            f'python3 -c \'import json; s = json.load(open("{settings}")); '
            's["target"]["offline_load"]["min_people"] = 10; '
            f'json.dump(s, open("{settings}", "w"))\''
        )
        pid = host.check_output("pgrep -x slapd")
        out = scheduled_run(host)
        assert out == (
            "ldap sync (full reconcile: no earlier run to start from): 60 people in the source, "
            "changes {'create': 60, 'group_create': 6}"
        ), out
        last = json.loads(host.file("/var/lib/anshin-ldap-sync/last.json").content_string)
        assert last["offline_load"] is True and "offline_load_failed" not in last
        assert host.check_output("pgrep -x slapd") != pid  # stopped and started again: a new process answers
        target = people(host)
        assert set(target) == set(source) and all(target[u]["cn"] == e["cn"] for u, e in source.items())
        assert groups(host) == before
        # slapadd ran as slapd's own user: the database stays slapd's, and slapd writes to it
        assert {host.file(f).user for f in ("/var/lib/ldap/data.mdb", "/var/lib/ldap/lock.mdb")} == {"openldap"}
        again = host.check_output(f"{PROGRAM} --full")
        assert again.endswith("changes none"), again
    finally:
        host.check_output(f"mv /root/ldap-sync.json.kept {settings}")


def test_a_reorganisation_is_reviewed_as_a_dry_run_then_applied(run_playbook):
    before = people(host_vm())
    rc, out = run_playbook(PLAYBOOK, dict(REORG, ldap_sync_as_of="2027-04-01"), check=True)
    assert rc == 0 and "dry run" in out, out
    assert people(host_vm()) == before
    report = sorted(glob.glob(os.path.join(EPHEMERAL, "reports", "ldap_sync_ldap-vm_*.md")))[-1]
    text = pathlib.Path(report).read_text(encoding="utf-8")
    assert "# LDAP同期 差分報告書" in text and "予行 (dry run: 変更なし)" in text
    moved = [uid for uid, e in before.items() if e["departmentNumber"] == [RENAMED]]
    assert f"| {moved[0]} | {RENAMED} | 危機管理部危機管理課 | 名称変更 |" in text
    assert "| 変更 | 10 |" in text
    csv = report[:-3] + ".csv"
    assert pathlib.Path(csv).read_text(encoding="utf-8").startswith("\ufeff区分,uid,属性,変更前,変更後")

    # effective later than as_of: nothing happens
    rc, out = run_playbook(PLAYBOOK, dict(REORG, ldap_sync_as_of="2027-03-31"))
    assert rc == 0 and "no change" in out and people(host_vm()) == before, out
    rc, out = run_playbook(PLAYBOOK, dict(REORG, ldap_sync_as_of="2027-04-01"))
    assert rc == 0, out
    after = people(host_vm())
    assert all(after[uid]["departmentNumber"] == ["危機管理部危機管理課"] for uid in moved)
    assert RENAMED not in groups(host_vm()) and sorted(groups(host_vm())["危機管理部危機管理課"]) == sorted(moved)
    rc, out = run_playbook(PLAYBOOK, dict(REORG, ldap_sync_as_of="2027-04-01"))
    assert rc == 0 and "changed=0" in out, out


def test_the_guard_stops_a_mass_deletion(run_playbook):
    leavers = sorted(source_people())[:8]  # 8 of 60 = 13 %
    source_delete(leavers)
    rc, out = run_playbook(PLAYBOOK, APPLIED)
    assert rc != 0 and "8 of 60 people (13.3 %) would be disabled or deleted" in out, out
    assert "changed=0" in out and len(people(host_vm())) == 60
    rc, out = run_playbook(PLAYBOOK, dict(APPLIED, ldap_sync_allow_mass_delete=True))
    assert rc == 0, out
    assert len(people(host_vm())) == 52 and sorted(people(host_vm(), "disabled")) == leavers
    assert not set(leavers) & {m for members in groups(host_vm()).values() for m in members}


def test_a_bad_or_unreachable_source_changes_nothing(run_playbook):
    before = people(host_vm())
    source = {"url": "ldap://127.0.0.1:9", "base_dn": f"ou=staff,{S_BASE}", "timeout": 3}
    rc, out = run_playbook(PLAYBOOK, dict(APPLIED, ldap_sync_source=source))
    assert rc != 0 and "source: cannot reach or bind ldap://127.0.0.1:9" in out, out
    limited = {
        "url": f"ldap://{source_address()}",
        "start_tls": True,
        "base_dn": f"ou=staff,{S_BASE}",
        "bind_dn": f"cn=limited,{S_BASE}",
        "bind_password": secret("ldap_directory_admin_password"),
    }
    rc, out = run_playbook(PLAYBOOK, dict(APPLIED, ldap_sync_source=limited))
    assert rc != 0 and "truncated by the server's size limit: nothing changed" in out, out
    wrong = dict(limited, bind_dn=f"cn=admin,{S_BASE}", bind_password="wrong-password")
    rc, out = run_playbook(PLAYBOOK, dict(APPLIED, ldap_sync_source=wrong))
    assert rc != 0 and "refused (invalid credentials)" in out, out
    assert people(host_vm()) == before


def source_address():
    with open(os.path.join(EPHEMERAL, "addresses.json"), encoding="utf-8") as fh:
        return json.load(fh)["ldap-source"]


def test_bad_input_fails_before_any_change(run_playbook):
    before = people(host_vm())
    cases = [
        # (bad input, the message, whether the inputs alone decide it: then before the directory is touched)
        ({"ldap_sync_source": {"url": "ldap://x", "base_dn": "ou=staff,,dc=pref="}}, "ldap_sync_source", True),
        ({"ldap_sync_source": {}}, "ldap_sync_source is empty", True),  # site.yml's setup is fine, a sync is not
        (
            {
                "ldap_sync_attribute_map": {
                    "uid": "uid",
                    "cn": "cn",
                    "sn": "sn",
                    "departmentNumber": "ou",
                    "shoeSize": "shoe",
                }
            },
            "unknown target attribute ['shoeSize']",
            True,
        ),
        (
            {"ldap_sync_reorganisation": [{"type": "rename", "from": "消防課", "to": "x", "effective": "2027-04-01"}]},
            "department '消防課' does not exist in the source directory",
            False,  # needs the source, read after the directory's setup
        ),
        (
            {
                "ldap_sync_reorganisation": [
                    REORG["ldap_sync_reorganisation"][0],
                    {"type": "merge", "from": [RENAMED, "総務課"], "to": "y", "effective": "2027-04-01"},
                ]
            },
            "overlapping mappings",
            False,
        ),
    ]
    with open(os.path.join(ROLE, "tasks", "directory.yml"), encoding="utf-8") as fh:
        directory_first_task = f"TASK [ldap_sync : {yaml.safe_load(fh)[0]['name']}]"
    outputs = []
    for extra, message, before_the_directory in cases:
        rc, out = run_playbook(PLAYBOOK, extra)
        assert rc != 0 and message in out and "changed=0" in out, out
        # what the inputs alone decide stops before the directory is touched: a fresh VM gets nothing
        assert (directory_first_task not in out) == before_the_directory, out
        outputs.append(out)
    # the empty source is refused by its own check, not by some other failure on the way
    assert "TASK [ldap_sync : Refuse a sync without a source]" in outputs[1], outputs[1]
    assert people(host_vm()) == before

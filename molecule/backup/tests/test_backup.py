"""What the prefecture relies on: a nightly archive that restores the state of a chosen time byte for
byte (the receiver's rows and spool, and the LDAP directory's people and groups), a drill that proves it
weekly, metrics for monitoring, and loud, harmless failures (backup host down, its disk full, a wrong
passphrase) that never touch earlier archives."""

import base64
import json
import os
import time

import testinfra

from conftest import PROJECT, host_name

DB = "/var/lib/lalert/receiver.sqlite3"
SPOOL = "/var/spool/lalert"
PROM = "/var/lib/prometheus/node-exporter/anshin_backup.prom"
SEND = (
    "/opt/lalert-receiver/venv/bin/lalert-send --url https://127.0.0.1/lalert/publish "
    "--username tokushima-test --password-file /etc/lalert-receiver/password "
    "--cafile /etc/lalert-receiver/tls/receiver.crt --expect ok"
)
RESTORE = os.path.join(PROJECT, "playbooks", "restore.yml")
RUN = str(int(time.time()))  # document IDs unique to this run: a rerun on kept containers is not a duplicate
LDAP_BASE = "dc=anshin,dc=local"


def store(host):
    return testinfra.get_host("podman://" + host_name(host).replace("backup-", "backup-store-"))


def store_address(host):
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "addresses.json"), encoding="utf-8") as fh:
        return json.load(fh)[host_name(store(host))]


def make_messages(host, tag, count):
    """count unique messages under /tmp/gen/TAG on the host; returns their paths."""
    script = (
        f"import os; from lalert_receiver.sender import synthetic\n"
        f"os.makedirs('/tmp/gen/{tag}', exist_ok=True)\n"
        f"for i in range({count}):\n"
        f"    open(f'/tmp/gen/{tag}/{{i:04d}}.xml', 'wb').write(synthetic(f'TKS-BK-{RUN}-{tag}-{{i:04d}}'))\n"
    )
    encoded = base64.b64encode(script.encode()).decode()
    host.check_output(f"echo {encoded} | base64 -d | /opt/lalert-receiver/venv/bin/python")
    return [f"/tmp/gen/{tag}/{i:04d}.xml" for i in range(count)]


def send(host, tag, count):
    host.check_output(f"{SEND} " + " ".join(make_messages(host, tag, count)))


def fingerprint(host):
    """Rows of the receiver, and the sha256, owner and mode of every spool file and of the spool itself: the
    state a restore must bring back (the restore shares the files among parallel borg extracts)."""
    rows = host.check_output(f"sqlite3 {DB} 'SELECT document_id, revision, spool_file FROM messages ORDER BY id'")
    spool = host.check_output(f"cd {SPOOL} && find . -type f -print0 | sort -z | xargs -0 -r sha256sum")
    owners = host.check_output(f"cd {SPOOL} && find . -printf '%p %u:%g %m\\n' | sort")
    return rows, spool, owners


def ldap_admin(tool):
    with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "ldap_admin_password"), encoding="utf-8") as fh:
        password = fh.read().split()[0]
    return f"{tool} -x -H ldap://127.0.0.1 -D 'cn=admin,{LDAP_BASE}' -w '{password}'"


def add_people(host, tag):
    """A branch with a person (Japanese name) and a group of them, unique to this run and tag."""
    branch = f"ou=bk-{RUN}-{tag},{LDAP_BASE}"
    name = base64.b64encode("徳島 花子".encode()).decode()
    ldif = (
        f"dn: {branch}\nobjectClass: organizationalUnit\nou: bk-{RUN}-{tag}\n\n"
        f"dn: uid=hanako-{tag},{branch}\nobjectClass: inetOrgPerson\nuid: hanako-{tag}\ncn:: {name}\n"
        f"sn: tokushima\nmail: hanako-{tag}@example.jp\n\n"
        f"dn: cn=kiki-{tag},{branch}\nobjectClass: groupOfNames\ncn: kiki-{tag}\n"
        f"member: uid=hanako-{tag},{branch}\n"
    )
    encoded = base64.b64encode(ldif.encode()).decode()
    host.check_output(f"echo {encoded} | base64 -d | {ldap_admin('ldapadd')}")
    return branch


def directory(host):
    """Every entry of the directory with its attributes, sorted: the people and groups a restore must bring
    back."""
    out = host.check_output(f"{ldap_admin('ldapsearch')} -LLL -o ldif-wrap=no -b {LDAP_BASE} '(objectClass=*)'")
    return sorted(entry.strip() for entry in out.split("\n\n") if entry.strip())


def backup(host, expect_ok=True):
    result = host.run("systemctl start anshin-backup.service")
    journal = host.run("journalctl --sync && journalctl -u anshin-backup.service -n 15 -o cat --no-pager").stdout
    assert (result.rc == 0) == expect_ok, journal
    return journal


def metric(host, name, repository):
    for line in host.file(PROM).content_string.splitlines():
        if line.startswith(f'{name}{{repository="{repository}"}} '):
            return float(line.split()[-1])
    return None


def archives(host, repository="store"):
    return json.loads(host.check_output(f"anshin-backup --repository {repository} list --json"))


def test_units_are_scheduled(host):
    backup_timer = host.check_output("systemctl show -p TimersCalendar --value anshin-backup.timer")
    assert "02:00:00" in backup_timer
    unit = host.file("/etc/systemd/system/anshin-backup.timer").content_string
    assert "RandomizedDelaySec=15min" in unit and "Persistent=true" in unit
    for timer in ("anshin-backup.timer", "anshin-backup-drill.timer", "anshin-backup-check.timer"):
        assert host.service(timer).is_enabled and host.service(timer).is_running
    assert host.file("/etc/borgmatic/anshin.passphrase").mode == 0o600
    assert store(host).service(f"anshin-borg-prune@{host_name(host)}.timer").is_enabled


def test_the_vm_key_only_runs_append_only_borg_serve(host):
    keys = store(host).file("/srv/borg/.ssh/authorized_keys").content_string
    line = [k for k in keys.splitlines() if f"anshin-backup@{host_name(host)}" in k][0]
    assert line.startswith('command="borg serve --append-only --restrict-to-repository /srv/borg/')
    assert ",restrict " in line
    address = store_address(host)
    shell = host.run(f"ssh -i /root/.ssh/anshin_backup_ed25519 -o BatchMode=yes borg@{address} id </dev/null")
    # ssh's own failure (255: unreachable, key refused, host key unknown) would prove nothing: the key got in
    assert shell.rc != 255, shell.stderr
    assert "uid=" not in shell.stdout  # no shell: the forced borg serve answers instead


def test_restore_by_time_brings_back_that_state_byte_identical(host, run_playbook):
    branch_a = add_people(host, "a")
    send(host, "a", 5)
    state_a, people_a = fingerprint(host), directory(host)
    backup(host)
    time.sleep(1.5)
    between = host.check_output("date +%Y-%m-%dT%H:%M:%S%:z")
    time.sleep(1.5)
    send(host, "b", 5)
    add_people(host, "b")
    backup(host)
    assert len(archives(host)) >= 2 and fingerprint(host) != state_a and directory(host) != people_a
    # losing data: spool emptied, rows deleted, the people of a removed from the directory
    host.check_output(f"rm -f {SPOOL}/*.json && sqlite3 {DB} 'DELETE FROM messages'")
    host.check_output(f"{ldap_admin('ldapdelete')} -r '{branch_a}'")
    lost = fingerprint(host)
    assert not [e for e in directory(host) if branch_a in e]

    rc, out = run_playbook(RESTORE, {"restore_before": between})
    assert rc != 0 and "restore_confirm" in out, out  # refuses without confirmation
    assert fingerprint(host) == lost

    rc, out = run_playbook(RESTORE, {"restore_before": between, "restore_dry_run": True})
    assert rc == 0 and '"restore": [' in out and "changed=0" in out, out
    assert "ldap-directory" in out and "archive_entries" in out, out  # the directory is in the plan
    assert fingerprint(host) == lost  # a dry run changes nothing
    assert not [e for e in directory(host) if branch_a in e]

    rc, out = run_playbook(RESTORE, {"restore_before": between, "restore_confirm": "yes"})
    assert rc == 0, out
    assert fingerprint(host) == state_a  # rows and every spool file byte for byte
    assert host.check_output(f"sqlite3 {DB} 'PRAGMA integrity_check'") == "ok"
    assert host.service("lalert-receiver").is_running
    # the directory as it was then: the people and group of a back, those of b not yet there
    assert directory(host) == people_a
    assert host.service("slapd").is_running
    assert host.check_output("stat -c %U:%G /var/lib/ldap/data.mdb") == "openldap:openldap"
    assert host.check_output("ls -d /var/backups/anshin/pre-restore-*")  # the state before is kept
    assert host.check_output("ls -d /var/backups/anshin/pre-restore-*/ldap-directory/var_lib_ldap")
    send(host, "after", 1)  # the receiver takes messages again


def test_drill_and_check_report_to_monitoring(host):
    assert host.run("systemctl start anshin-backup-drill.service").rc == 0
    run = host.check_output("systemctl show -p InvocationID --value anshin-backup-drill.service")
    drill = host.check_output(f"journalctl --sync && journalctl _SYSTEMD_INVOCATION_ID={run} -o cat --no-pager")
    assert "matches its manifest" in drill and "'ldap-directory':" in drill, drill  # the export is checked
    jobs = min(4, int(host.check_output("nproc")))  # the files shared among one borg extract per core
    assert (f": {jobs} borg extracts at once" in drill) == (jobs > 1), drill
    assert metric(host, "anshin_backup_drill_last_result", "store") == 1
    assert metric(host, "anshin_backup_drill_last_timestamp_seconds", "store") > time.time() - 300
    assert host.run("systemctl start anshin-backup-check.service").rc == 0
    assert metric(host, "anshin_backup_check_last_result", "store") == 1
    assert metric(host, "anshin_backup_check_last_result", "local") == 1
    for name in (
        "anshin_backup_last_success_timestamp_seconds",
        "anshin_backup_last_duration_seconds",
        "anshin_backup_last_original_bytes",
    ):
        assert metric(host, name, "store") > 0


def test_drill_catches_a_damaged_archive_copy(host):
    """The drill compares with the manifest: a manifest that lies must fail it (the comparison is real)."""
    host.check_output(
        "python3 - <<'EOF'\n"
        "import json\n"
        "p = '/var/backups/anshin/staging/manifest.json'\n"
        "m = json.load(open(p))\n"
        "f = next(iter(m['files']))\n"
        "m['files'][f] = '0' * 64\n"
        "json.dump(m, open('/tmp/lying-manifest.json', 'w'))\n"
        "EOF"
    )
    # archive the lying manifest on the local repository only, as if its copy had rotted
    host.check_output(
        "cp /tmp/lying-manifest.json /var/backups/anshin/staging/manifest.json && "
        "borgmatic -c /etc/anshin/borgmatic/local.yaml create"
    )
    result = host.run("anshin-backup --repository local drill")
    assert result.rc != 0 and "differs:" in result.stderr
    assert metric(host, "anshin_backup_drill_last_result", "local") == 0


def test_backup_while_the_receiver_writes_is_consistent(host):
    files = make_messages(host, "load", 300)
    before = int(host.check_output(f"sqlite3 {DB} 'SELECT COUNT(*) FROM messages'"))
    host.check_output(
        f"nohup sh -c '{SEND} {' '.join(files)} > /tmp/load.out 2>&1; echo $? > /tmp/load.rc' >/dev/null 2>&1 &"
    )
    time.sleep(0.5)
    backup(host)
    for _ in range(120):
        if host.file("/tmp/load.rc").exists:
            break
        time.sleep(1)
    assert host.file("/tmp/load.rc").content_string.strip() == "0"
    after = int(host.check_output(f"sqlite3 {DB} 'SELECT COUNT(*) FROM messages'"))
    assert after == before + 300
    plan = json.loads(host.check_output("anshin-backup restore --latest --dry-run"))
    archived = plan["plan"]["databases"]["lalert-receiver"]["archive_rows"]["messages"]
    assert before <= archived <= after
    assert host.run("systemctl start anshin-backup-drill.service").rc == 0  # integrity and rows match


def test_backup_host_unreachable_fails_loudly_and_keeps_archives(host):
    kept = archives(host)
    address = store_address(host)
    host.check_output(
        "nft add table inet anshin_test && nft add chain inet anshin_test out "
        "'{ type filter hook output priority 0; }' && "
        f"nft add rule inet anshin_test out ip daddr {address} tcp dport 22 reject with tcp reset"
    )
    try:
        journal = backup(host, expect_ok=False)
        assert "the backup host is unreachable" in journal
        assert metric(host, "anshin_backup_last_result", "store") == 0
        assert metric(host, "anshin_backup_last_result", "local") == 1  # the local copy still happened
        assert host.service("anshin-backup.service").is_running is False
        assert "failed" in host.check_output("systemctl is-failed anshin-backup.service || true")
    finally:
        host.check_output("nft delete table inet anshin_test")
    assert archives(host) == kept


def test_wrong_passphrase_is_a_clear_error(host):
    kept = archives(host)
    host.check_output(
        "cp -p /etc/borgmatic/anshin.passphrase /root/passphrase.keep && "
        "echo not-the-passphrase > /etc/borgmatic/anshin.passphrase"
    )
    try:
        journal = backup(host, expect_ok=False)
        assert "the repository passphrase is wrong" in journal
    finally:
        host.check_output("cp -p /root/passphrase.keep /etc/borgmatic/anshin.passphrase")
    assert archives(host) == kept
    backup(host)


def test_repository_disk_full_is_clear_and_keeps_archives(host):
    """The store's repository is moved onto a small tmpfs and filled; a backup with new data fails with
    the cause, earlier archives stay listable and restorable; the repository then moves back."""
    st = store(host)
    repo = f"/srv/borg/{host_name(host)}"
    kept = archives(host)
    st.check_output(
        f"mkdir -p /mnt/small && mount -t tmpfs -o size=48m tmpfs /mnt/small && "
        f"cp -a {repo} /mnt/small/ && mount --bind /mnt/small/{host_name(host)} {repo} && "
        "fallocate -l $(( $(stat -f -c '%a*%S' /mnt/small) - 2*1024*1024 )) /mnt/small/filler || "
        "dd if=/dev/zero of=/mnt/small/filler bs=1M count=$(( $(stat -f -c '%a*%S' /mnt/small) / 1048576 - 2 ))"
    )
    host.check_output("head -c 12M /dev/urandom > /etc/anshin-test-big.bin")
    try:
        journal = backup(host, expect_ok=False)
        assert "disk is full" in journal, journal
        st.check_output("rm -f /mnt/small/filler")
        assert archives(host) == kept
        assert host.run("systemctl start anshin-backup-drill.service").rc == 0
    finally:
        host.check_output("rm -f /etc/anshin-test-big.bin")
        st.check_output(
            f"umount {repo} && rm -rf {repo} && cp -a /mnt/small/{host_name(host)} {repo} && umount /mnt/small"
        )
    backup(host)


def test_the_store_prunes_to_the_retention(host):
    """Clients cannot delete (append-only): the store's own timer prunes, to the VM's retention."""
    before = [a["name"] for a in archives(host)]
    assert len(before) > 2
    st = store(host)
    result = st.run(f"systemctl start anshin-borg-prune@{host_name(host)}.service")
    assert result.rc == 0, st.run(f"journalctl -u anshin-borg-prune@{host_name(host)} -n 20 --no-pager").stdout
    # every archive is from today: keep_daily keeps the day's last, and borg keeps the oldest while
    # the daily count (7) is not reached; everything between is pruned
    assert [a["name"] for a in archives(host)] == [before[0], before[-1]]
    assert host.run("systemctl start anshin-backup-drill.service").rc == 0

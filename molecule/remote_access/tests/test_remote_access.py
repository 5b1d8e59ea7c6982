"""Who can get into the L-Alert VM, checked from real clients across the
firewall: the approved client with its key, nobody else; no passwords, no
root, no expired permit; every login and sudo session recorded."""

import json
import os
import subprocess
import time

import pytest
import testinfra

from conftest import only_debian12

with open(os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "addresses.json"), encoding="utf-8") as fh:
    ADDRESSES = json.load(fh)  # written by prepare.yml
SERVERS = ADDRESSES["servers"]
SSH = (
    "ssh -i /root/alice -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
    "-o ConnectTimeout=5"
)
HERE = os.path.dirname(os.path.abspath(__file__))
CONVERGE = os.path.join(HERE, "..", "converge.yml")


def login(client, user, server, command="true"):
    """SSH from a client; waits out OpenSSH 10's per-source penalty (a closed
    connection before authentication), never a refusal ("Permission denied")."""
    for _ in range(12):
        out = client.run(f"{SSH} {user}@{server} {command}")
        closed_early = out.rc == 255 and "Permission denied" not in out.stderr
        if not closed_early:
            return out
        time.sleep(3)
    return out


@pytest.fixture
def server(host):
    name = host.backend.get_hostname()
    if name not in SERVERS:
        pytest.skip("clients are only the other end")
    return SERVERS[name]


@pytest.fixture(scope="module")
def allowed():
    return testinfra.get_host("podman://remote_access-client-allowed")


@pytest.fixture(scope="module")
def denied():
    return testinfra.get_host("podman://remote_access-client-denied")


def test_approved_client_logs_in_with_its_key(server, allowed):
    out = login(allowed, "alice", server, "id -un")
    assert out.rc == 0 and out.stdout.strip() == "alice", out.stderr


def controller_ssh(server, *command):
    key = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "alice")
    return subprocess.run(
        [
            "ssh",
            "-i",
            key,
            "-o",
            "BatchMode=yes",
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "ConnectTimeout=5",
            f"alice@{server}",
            *command,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_controller_still_connects_over_ssh(server):
    out = controller_ssh(server, "sudo", "-n", "true")
    assert out.returncode == 0, out.stderr


def test_client_outside_the_range_is_dropped_by_the_firewall(server, allowed, denied):
    probe = f"timeout 4 bash -c '</dev/tcp/{server}/22'"
    assert allowed.run(probe).rc == 0
    # dropped, not refused: the TCP handshake never completes
    assert denied.run(probe).rc == 124


def test_password_login_is_refused(server, allowed):
    out = allowed.run(
        f"{SSH} -o PubkeyAuthentication=no -o PreferredAuthentications=password,keyboard-interactive "
        f"alice@{server} true"
    )
    assert out.rc == 255 and "Permission denied (publickey)" in out.stderr, out.stderr


def test_root_is_refused_even_with_a_key(host, server, allowed):
    host.check_output("install -d -m 700 /root/.ssh && cp ~alice/.ssh/authorized_keys /root/.ssh/authorized_keys")
    out = allowed.run(f"{SSH} root@{server} true")
    assert out.rc == 255 and "Permission denied" in out.stderr


def test_expired_permit_cannot_log_in(host, server, allowed):
    assert login(allowed, "carol", server).rc == 0
    host.check_output("usermod -e 2020-01-01 carol")  # the permit's last day has passed
    try:
        out = allowed.run(f"{SSH} carol@{server} true")  # a refusal: no waiting out penalties
        assert out.rc == 255, out.stderr
    finally:
        host.check_output("usermod -e 2099-12-31 carol")


def test_sshd_runs_the_hardened_settings(host, server):
    conf = host.check_output("sshd -T")
    for line in (
        "permitrootlogin no",
        "passwordauthentication no",
        "kbdinteractiveauthentication no",
        "allowgroups maint",
        "maxauthtries 3",
        "logingracetime 30",
        "loglevel VERBOSE",
        "authenticationmethods publickey",
        "x11forwarding no",
        "allowtcpforwarding no",
        "compression no",
        "tcpkeepalive no",
        "maxsessions 2",
        "banner /etc/issue.net",
    ):
        assert line in conf.splitlines(), line


def test_logins_and_sudo_sessions_are_recorded(host, server, allowed):
    out = login(allowed, "alice", server, "sudo -n id -u")
    assert out.rc == 0 and out.stdout.strip() == "0", out.stderr
    # by unit, not by tag: OpenSSH 10 (Debian 13) logs sessions as sshd-session
    journal = host.check_output("journalctl -u ssh --no-pager -n 300")
    assert f"Accepted publickey for alice from {ADDRESSES['allowed']}" in journal and "SHA256:" in journal
    sessions = host.check_output("sudoreplay -d /var/log/sudo-io -l user alice")
    assert "COMMAND=/usr/bin/id -u" in sessions


def test_firewall_drops_by_default_and_keeps_the_openings(host, server):
    rules = host.check_output("nft list ruleset")
    assert "policy drop" in rules
    assert f"tcp dport 443 ip saddr {ADDRESSES['allowed']} accept" in rules
    assert ADDRESSES["gateway"] in rules and ADDRESSES["denied"] not in rules


def test_ssh_audit_reports_no_failures(server, allowed):
    out = allowed.run(f"ssh-audit -n {server}")
    print(out.stdout)  # the summary, for the verify log
    assert "[fail]" not in out.stdout and "(fail)" not in out.stdout, out.stdout
    assert out.rc in (0, 1), out.stdout


def test_removed_account_is_locked_and_loses_its_keys(host, server, allowed, run_playbook):
    only_debian12(host, "re-runs the role: one server is enough")
    host.check_output(
        "useradd -m -G maint -s /bin/bash dave && install -d -o dave -m 700 ~dave/.ssh "
        "&& cp ~alice/.ssh/authorized_keys ~dave/.ssh/ && chown dave ~dave/.ssh/authorized_keys "
        "&& usermod -p '*' dave"
    )
    assert login(allowed, "dave", server).rc == 0
    rc, out = run_playbook(CONVERGE, {})
    assert rc == 0, out
    assert login(allowed, "dave", server).rc == 255
    assert not host.file("/home/dave/.ssh/authorized_keys").exists
    assert "maint" not in host.check_output("id -nG dave").split()


def test_ruleset_cutting_off_the_controller_is_rolled_back(host, server, run_playbook):
    """Apply, over SSH from the controller, a ruleset without the controller's
    address: the play fails, and the previous ruleset comes back by itself."""
    only_debian12(host, "one server is enough")
    key = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "alice")
    ssh_args = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5"
    over_ssh = {
        "ansible_connection": "ssh",
        "ansible_host": server,
        "ansible_user": "alice",
        "ansible_ssh_private_key_file": key,
        "ansible_ssh_common_args": ssh_args,
        "ansible_become": True,
    }
    cut_off = {"remote_access_ssh_allowed_sources": [{"source": ADDRESSES["allowed"] + "/32"}]}
    rc, out = run_playbook(CONVERGE, {**over_ssh, **cut_off})
    assert rc != 0, out
    assert "Wait until the controller reaches the host again" in out, out
    for _ in range(30):
        if controller_ssh(server, "true").returncode == 0:
            break
        time.sleep(2)
    else:
        pytest.fail("the previous ruleset did not come back")
    assert ADDRESSES["gateway"] in host.check_output("nft list ruleset")
    assert ADDRESSES["gateway"] + "/32" in host.file("/etc/nftables.conf").content_string
    assert "previous ruleset restored" in host.check_output("journalctl -t anshin-firewall --no-pager")


def test_the_legal_banner_comes_before_login(host, server, allowed):
    assert "不正アクセス禁止" in host.file("/etc/issue").content_string
    assert login(allowed, "alice", server).rc == 0
    # a UTF-8 locale, or the client escapes the Japanese line as octal bytes
    out = allowed.run(f"LC_ALL=C.UTF-8 {SSH} alice@{server} true")
    assert out.rc == 0 and "不正アクセス禁止" in out.stderr and "Authorized access only" in out.stderr, out.stderr


def test_a_client_that_keeps_failing_is_banned_by_fail2ban(host, server, allowed):
    """Wrong user names from the approved client until fail2ban bans it: then even its TCP connection is
    dropped; unbanned, it logs in again."""
    client = ADDRESSES["allowed"]
    status = host.check_output("fail2ban-client get sshd maxretry")
    assert int(status) == 10  # the scenario's setting (molecule.yml)
    deadline = time.time() + 180
    while client not in host.check_output("fail2ban-client get sshd banned") and time.time() < deadline:
        allowed.run(f"{SSH} mallory@{server} true")
        time.sleep(1)
    try:
        assert client in host.check_output("fail2ban-client get sshd banned"), host.check_output(
            "fail2ban-client status sshd"
        )
        assert f"{client}" in host.check_output("nft list table inet f2b-table")
        probe = allowed.run(f"timeout 5 bash -c '</dev/tcp/{server}/22'")
        assert probe.rc != 0, "a banned client still connects"
    finally:
        host.run(f"fail2ban-client set sshd unbanip {client}")
    assert login(allowed, "alice", server).rc == 0


def test_new_connections_are_rate_limited(server, allowed):
    """Runs last: it uses up the approved client's connection budget for a while."""
    burst = allowed.check_output(
        f"for i in $(seq 20); do (timeout 3 bash -c '</dev/tcp/{server}/22' && echo ok || echo dropped) & done; wait"
    )
    outcomes = burst.split()
    assert outcomes.count("dropped") >= 5 and outcomes.count("ok") >= 1, outcomes


def test_an_opening_with_no_sources_opens_nothing(host, server):
    """A dependent rule whose sources all filtered away must not become 'open to all'."""
    rules = host.check_output("nft list ruleset")
    assert "tcp dport 8443" not in rules

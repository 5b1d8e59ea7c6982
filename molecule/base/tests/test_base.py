"""What an operator relies on after the base role: verified inside the container."""
import pytest


def test_time_zone_is_japan_standard_time(host):
    assert host.file("/etc/localtime").linked_to.endswith("/Asia/Tokyo")
    assert host.check_output("date +%Z") == "JST"


def test_chrony_runs_with_inventory_servers(host, journal_on_failure):
    svc = "chrony"
    assert host.service(svc).is_running, journal_on_failure(svc)
    conf = host.file("/etc/chrony/chrony.conf").content_string
    # only the inventory's servers: no distribution pool left behind
    assert not [ln for ln in conf.splitlines() if ln.startswith(("pool ", "sourcedir "))]
    # the running chronyd reports exactly the inventory's servers as sources
    rows = host.check_output("chronyc -n -c sources").splitlines()
    assert sorted(r.split(",")[2] for r in rows) == ["127.0.0.1", "127.0.0.2"], rows
    # containers share the host clock: chronyd measures but does not steer it
    assert "-x" in host.check_output("cat /proc/$(pgrep -o -x chronyd)/cmdline | tr '\\0' ' '")


def test_japanese_locale_available(host):
    locales = host.check_output("locale -a").lower().split()
    assert "ja_jp.utf8" in locales
    out = host.check_output("LC_ALL=ja_JP.UTF-8 date +%A -d 2026-04-01")
    assert out == "水曜日"


def test_journal_is_persistent_and_bounded(host):
    journal = host.file("/var/log/journal")
    assert journal.is_directory and journal.group == "systemd-journal"
    conf = host.check_output("systemd-analyze cat-config systemd/journald.conf")
    assert "SystemMaxUse=2048M" in conf and "MaxRetentionSec=400day" in conf
    # a message written now lands in a file on disk, not only in /run
    host.check_output("logger -t anshin-verify persistent-journal-check")
    host.check_output("journalctl --flush")
    files = host.check_output("journalctl --header | grep -c '^File path: /var/log/journal' || true")
    assert int(files) >= 1
    assert "persistent-journal-check" in host.check_output("journalctl -t anshin-verify --no-pager")


def test_service_account_cannot_log_in(host):
    user = host.user("lalert")
    assert user.exists and user.group == "lalert"
    assert user.shell.endswith("nologin")
    assert user.password in ("!", "!*", "*")


@pytest.mark.parametrize("path", ["/var/lib/lalert", "/var/spool/lalert", "/var/log/lalert"])
def test_service_directories(host, path):
    d = host.file(path)
    assert d.is_directory and d.user == "lalert" and d.group == "lalert" and d.mode == 0o750


def test_sysctl_file_written(host):
    conf = host.file("/etc/sysctl.d/60-anshin.conf").content_string
    assert "net.ipv4.tcp_syncookies = 1" in conf
    assert "kernel.dmesg_restrict = 1" in conf

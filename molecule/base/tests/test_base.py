"""What an operator relies on after the base role: verified inside the container."""

import os

import pytest
import yaml

from conftest import PROJECT


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


def test_sysctl_file_holds_exactly_the_role_parameters(host):
    # written whole from base_sysctl: every key once with its value, nothing else (a dropped key leaves)
    lines = host.file("/etc/sysctl.d/60-anshin.conf").content_string.splitlines()
    pairs = [line.replace(" ", "").split("=", 1) for line in lines if line.strip() and not line.startswith("#")]
    with open(os.path.join(PROJECT, "roles", "base", "defaults", "main.yml"), encoding="utf-8") as fh:
        expected = {key: str(value) for key, value in yaml.safe_load(fh)["base_sysctl"].items()}
    assert dict(pairs) == expected and len(pairs) == len(expected)
    assert dict(pairs)["net.ipv4.tcp_syncookies"] == "1" and dict(pairs)["kernel.dmesg_restrict"] == "1"


def test_apt_reads_the_release_updates_and_security_suites(host):
    codename = host.system_info.codename
    assert not host.file("/etc/apt/sources.list").exists  # the deb822 files alone decide
    main = host.file("/etc/apt/sources.list.d/debian.sources").content_string
    assert f"Suites: {codename} {codename}-updates" in main and "URIs: http://deb.debian.org/debian" in main
    # what APT really read: the security suite's package list from Debian's security mirror
    policy = host.check_output("apt-cache policy")
    assert f"http://deb.debian.org/debian-security {codename}-security/main" in policy, policy
    assert "o=Debian,a=" in policy and f"n={codename}-security" in policy


def test_login_defaults_and_shell_limits(host):
    defs = host.file("/etc/login.defs").content_string.splitlines()
    for key, value in (("UMASK", "027"), ("HOME_MODE", "0750")):
        assert [line for line in defs if line.split()[:2] == [key, value]], key
    # a login shell of a maintenance session: files it creates are not world-readable, no core files, idle timeout
    out = host.check_output("su -s /bin/bash -l root -c 'umask; ulimit -c; echo $TMOUT'").split()
    assert out == ["0027", "0", "900"], out
    assert host.file("/etc/systemd/coredump.conf.d/60-anshin.conf").contains("^Storage=none")


def test_removable_storage_drivers_cannot_load(host):
    conf = host.file("/etc/modprobe.d/60-anshin-storage.conf").content_string
    for module in ("usb-storage", "firewire-core"):
        assert f"install {module} /bin/false" in conf and f"blacklist {module}" in conf


def test_cron_directories_are_root_only(host):
    for path in ("/etc/cron.d", "/etc/cron.daily", "/etc/cron.weekly"):
        assert host.file(path).mode == 0o700, path


def test_the_assembler_is_root_only_now_or_when_it_arrives(host):
    real = f"/usr/bin/{host.system_info.arch}-linux-gnu-as"
    assert f"root root 700 {real}" in host.check_output("dpkg-statoverride --list")  # kept across upgrades
    # binutils arrives later (with needrestart, role patching): dpkg applies the override as it unpacks
    host.check_output("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends binutils")
    assert host.file(real).mode == 0o700 and host.file(real).user == "root"


def test_aide_checks_daily_and_records_its_baseline_first(host):
    host.check_output("aide --config-check --config /etc/aide/aide.conf")
    assert host.service("dailyaidecheck.timer").is_enabled
    dropin = host.file("/etc/systemd/system/dailyaidecheck.service.d/60-anshin-baseline.conf").content_string
    assert "aideinit" in dropin
    assert "aideinit" in host.check_output("systemctl show -p ExecStartPre dailyaidecheck.service")

"""The backup host: repository account and directories locked down, and the prune unit really prunes
a repository to the retention its client wrote (clients are append-only, so this is the only delete)."""

import os

import pytest

CONVERGE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "converge.yml")


def test_account_and_directories(host):
    borg = host.user("borg")
    assert borg.home == "/srv/borg" and borg.shell == "/bin/sh"
    for path in ("/srv/borg", "/srv/borg/.ssh"):
        d = host.file(path)
        assert d.is_directory and d.user == "borg" and d.mode == 0o700
    settings = host.file("/etc/anshin-borg-store")
    assert settings.user == "root" and settings.group == "borg" and settings.mode == 0o750
    assert host.run("borg --version").rc == 0


def test_prune_unit_keeps_the_retention(host):
    host.check_output(
        "install -o root -g borg -m 0640 /dev/null /etc/anshin-borg-store/t1.passphrase && "
        "echo test-passphrase-0123456789 > /etc/anshin-borg-store/t1.passphrase"
    )
    host.check_output(
        "printf 'KEEP_DAILY=1\\nKEEP_WEEKLY=0\\nKEEP_MONTHLY=0\\n"
        "BORG_PASSCOMMAND=cat /etc/anshin-borg-store/t1.passphrase\\n' > /etc/anshin-borg-store/t1.env"
    )
    env = "BORG_PASSCOMMAND='cat /etc/anshin-borg-store/t1.passphrase' BORG_REPO=/srv/borg/t1"
    host.check_output(f"runuser -u borg -- env {env} borg init -e repokey-blake2")
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        host.check_output(
            f"runuser -u borg -- env {env} borg create --timestamp {day}T02:00:00 ::a-{day} /etc/hostname"
        )
    result = host.run("systemctl start anshin-borg-prune@t1.service")
    assert result.rc == 0, host.run("journalctl -u anshin-borg-prune@t1 -n 20 --no-pager").stdout
    left = host.check_output(f"runuser -u borg -- env {env} borg list --short").split()
    assert left == ["a-2026-11-03"]  # keep_daily 1: the newest day only
    assert host.service("anshin-borg-prune@t1.timer").is_enabled is False  # a client enables its own


@pytest.mark.parametrize(
    "values, variable",
    [
        ({"borg_store_repo_dir": "/srv"}, "borg_store_repo_dir"),
        ({"borg_store_user": "Bad User"}, "borg_store_user"),
    ],
)
def test_bad_settings_fail_before_any_change(host, refused_before_change, values, variable):
    refused_before_change(
        CONVERGE,
        dict(values, borg_store_prune_time="*-*-* 06:00:00"),
        variable,
        lambda: "06:00" not in host.file("/etc/systemd/system/anshin-borg-prune@.timer").content_string,
    )

"""Rotation of a live log: rotated, compressed one step later, the new file
with the right mode and owner, and nginx keeps writing after the rotation."""

import time


def requests(host, n):
    for _ in range(n):
        host.check_output("curl -s -o /dev/null http://127.0.0.1/")


def lines(host, path):
    return int(host.check_output(f"wc -l < {path}"))


def test_entries_are_written_and_layered(host):
    nginx = host.file("/etc/logrotate.d/anshin-nginx").content_string
    assert "daily" in nginx and "rotate 400" in nginx and "create 0640 www-data adm" in nginx
    assert "weekly" in host.file("/etc/logrotate.d/anshin-lalert-spool-audit").content_string
    assert not host.file("/etc/logrotate.d/anshin-retired").exists  # removed by a later layer
    assert not host.file("/etc/logrotate.d/nginx").exists  # the distribution's duplicate is gone
    host.check_output("logrotate -d /etc/logrotate.conf")  # the whole configuration parses


def test_forced_rotation_keeps_nginx_writing(host):
    requests(host, 3)
    before = lines(host, "/var/log/nginx/access.log")
    assert before >= 3
    host.check_output("logrotate -f /etc/logrotate.d/anshin-nginx")
    rotated = host.check_output("ls /var/log/nginx/ | grep -E '^access.log-[0-9]{8}-[0-9]+$'").split()
    assert len(rotated) == 1
    assert lines(host, f"/var/log/nginx/{rotated[0]}") == before
    new = host.file("/var/log/nginx/access.log")
    assert new.mode == 0o640 and new.user == "www-data" and new.group == "adm"
    time.sleep(1)
    requests(host, 2)
    assert lines(host, "/var/log/nginx/access.log") == 2  # reopened: nginx writes to the new file
    # one rotation later the previous file is compressed (delaycompress)
    time.sleep(1)
    host.check_output("logrotate -f /etc/logrotate.d/anshin-nginx")
    assert host.file(f"/var/log/nginx/{rotated[0]}.gz").exists
    host.check_output(f"zcat /var/log/nginx/{rotated[0]}.gz | grep -c 'GET / HTTP'")


def test_archive_timer_is_scheduled(host):
    timer = host.service("anshin-log-archive.timer")
    assert timer.is_enabled and timer.is_running
    assert "01:30:00" in host.check_output("systemctl show -p TimersCalendar --value anshin-log-archive.timer")


def test_archive_moves_old_rotations_and_expires_the_oldest(host):
    """Old rotated files move (mode, owner, content kept), young ones and live logs stay, archived files
    past the retention go; the service run is what the timer starts."""
    host.check_output("install -o www-data -g adm -m 0640 /dev/null /var/log/nginx/access.log-20261001-1.gz")
    host.check_output("echo old | gzip > /var/log/nginx/access.log-20261001-1.gz")
    host.check_output("touch -d '40 days ago' /var/log/nginx/access.log-20261001-1.gz")
    host.check_output(
        "echo young > /var/log/nginx/access.log-20261120-1 && touch -d '5 days ago' "
        "/var/log/nginx/access.log-20261120-1"
    )
    expired = "/var/log/anshin-archive/var/log/nginx/access.log-20250101-1.gz"
    host.check_output(f"mkdir -p $(dirname {expired}) && echo x > {expired} && touch -d '500 days ago' {expired}")
    host.check_output("systemctl start anshin-log-archive.service")  # oneshot: returns when done
    moved = host.file("/var/log/anshin-archive/var/log/nginx/access.log-20261001-1.gz")
    assert moved.exists and moved.user == "www-data" and moved.group == "adm" and moved.mode == 0o640
    assert host.check_output(f"zcat {moved.path}") == "old"
    assert not host.file("/var/log/nginx/access.log-20261001-1.gz").exists
    assert host.file("/var/log/nginx/access.log-20261120-1").exists
    assert host.file("/var/log/nginx/access.log").exists
    assert not host.file(expired).exists
    journal = host.check_output("journalctl -u anshin-log-archive.service -o cat --no-pager")
    assert "archived 1 files" in journal and "removed 1 expired" in journal
    archive = host.file("/var/log/anshin-archive")
    assert archive.mode == 0o750 and archive.group == "adm"


def test_sudo_session_logs_expire_after_the_retention(host):
    """The sudo I/O logs are never rotated: systemd-tmpfiles deletes a session unchanged for longer than
    logrotate_retention_days (400), keeps a recent one, and leaves the directory, its mode and owner alone."""
    conf = host.file("/etc/tmpfiles.d/anshin-log-retention.conf").content_string
    assert "e /var/log/sudo-io - - - mM:400d" in conf
    old, recent = "/var/log/sudo-io/alice/00/00/01", "/var/log/sudo-io/alice/00/00/02"
    host.check_output(
        f"install -d -m 0700 /var/log/sudo-io && mkdir -p {old} {recent} && "
        f"echo old > {old}/log && echo recent > {recent}/log && "
        f"touch -d '401 days ago' {old}/log {old} && touch -d '10 days ago' {recent}/log {recent}"
    )
    host.check_output("systemd-tmpfiles --clean /etc/tmpfiles.d/anshin-log-retention.conf")
    assert not host.file(f"{old}/log").exists
    assert host.file(f"{recent}/log").content_string == "recent\n"
    assert host.file("/var/log/sudo-io").mode == 0o700
    assert host.service("systemd-tmpfiles-clean.timer").is_enabled  # the daily run

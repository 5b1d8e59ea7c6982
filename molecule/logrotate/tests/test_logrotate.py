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

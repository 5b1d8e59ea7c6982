"""The receiver on the VM against slow clients, a full or read-only disk, and with its
retention purge timer (issue 17): what a unit test cannot show."""

import configparser
import json
import os
import time

import pytest

import test_receiver
from conftest import only_debian12
from test_receiver import DB, SEND, SPOOL, count, send, sql

fx = test_receiver.fx  # the fixture, shared with test_receiver.py

HERE = os.path.dirname(os.path.abspath(__file__))
RECEIVER_ONLY = os.path.join(os.path.dirname(HERE), "receiver_only.yml")
CURL = "curl -s --cacert /etc/lalert-receiver/tls/receiver.crt"


def health(host, seconds=30):
    """(status, body) of /healthz once the receiver answers (nginx says 502 while it starts)."""
    for _ in range(seconds):
        out = host.run(f"{CURL} -w '\\n%{{http_code}}' https://127.0.0.1/healthz").stdout
        body, _, code = out.rpartition("\n")
        if code in ("200", "503"):
            return int(code), json.loads(body)
        time.sleep(1)
    raise AssertionError(f"the receiver did not answer /healthz: {code} {body}")


def wait_healthy(host, seconds=30):
    for _ in range(seconds):
        code, body = health(host)
        if code == 200:
            return body
        time.sleep(1)
    raise AssertionError(f"/healthz never answered 200: {code} {body}")


def test_150_slow_clients_are_cut_off_and_a_publish_still_gets_through(host, copy_to_host, fx):
    copy_to_host(os.path.join(HERE, "..", "files", "slow_clients.py"), "/tmp/slow_clients.py")
    address = host.check_output("hostname -I").split()[0]
    publish = f"{SEND} {fx}/weather_vpww53.xml"
    out = host.check_output(
        f"python3 /tmp/slow_clients.py --address {address} --count 150 --seconds 30 --publish '{publish}'"
    )
    result = json.loads(out)
    assert result["opened"] == 150 and result["refused"] == 0, result
    # the valid publish is answered while 150 slow connections are open, well before nginx cuts them off
    # (10 s): not queued behind them. The time includes starting lalert-send's Python on a loaded machine
    assert result["publish_rc"] == 0 and '"code": 0' in result["publish_out"], result
    assert result["publish_seconds"] < 5, result
    # and nginx cuts every slow client off (client_header_timeout 10 s; 60 s by default)
    assert result["closed_by_server"] == 150 and result["longest_held_s"] <= 15, result


def test_a_flood_is_limited_per_address_but_never_the_l_alert_centres(host):
    address = host.check_output("hostname -I").split()[0]
    many = "https://{addr}/healthz?n=[1-120]"

    def codes(source):
        out = host.check_output(
            f"curl -sk -o /dev/null -w '%{{http_code}}\\n' --interface {source} '{many.format(addr=source)}'"
        )
        return out.split()

    flood = codes(address)  # not an L-Alert centre: refused (403) until the rate limit says 503
    assert len(flood) == 120 and "503" in flood and set(flood) <= {"403", "503"}, flood
    centre = codes("127.0.0.1")  # in lalert_receiver_allowed_sources: never limited
    assert len(centre) == 120 and "503" not in centre, centre


@pytest.fixture
def small_spool(host, journal_on_failure):
    """The spool on a 4 MiB file system of its own (tmpfs), the receiver restarted onto it."""
    owner = host.check_output(f"stat -c %u:%g {SPOOL}")
    uid, gid = owner.split(":")
    host.check_output(f"mount -t tmpfs -o size=4m,uid={uid},gid={gid},mode=0750 tmpfs {SPOOL}")
    host.check_output("systemctl restart lalert-receiver")
    yield
    host.run(f"umount {SPOOL}")
    host.check_output("systemctl restart lalert-receiver")
    wait_healthy(host)


def test_a_full_or_read_only_disk_fails_health_with_the_reason(host, fx, small_spool):
    code, body = health(host)  # 4 MiB free is below the 64 MiB threshold already
    assert code == 503 and any("spool file system" in p and "MiB free" in p for p in body["problems"]), body
    host.run(f"dd if=/dev/zero of={SPOOL}/fill bs=64k")  # ENOSPC ends it
    host.check_output(f"sed 's/TKS-SHEL-0001/TKS-FULL-0001/' {fx}/shelter.xml > {fx}/full.xml")
    before = count(host)[0]
    (reply,) = send(host, f"{fx}/full.xml", expect="fault")
    assert reply["fault"] == "storage_error", reply
    assert count(host)[0] == before  # nothing half-stored
    code, body = health(host)
    assert code == 503 and any("failed to store" in p for p in body["problems"]), body
    host.check_output(f"rm -f {SPOOL}/fill && mount -o remount,ro {SPOOL}")
    code, body = health(host)
    assert code == 503 and any("read-only" in p for p in body["problems"]), body


def test_database_files_are_0640(host):
    for suffix in ("", "-wal", "-shm"):
        f = host.file(DB + suffix)
        assert f.exists and f.mode == 0o640 and f.user == "lalert", suffix


def retention_settings(host):
    """(days, backup metrics file) as the service reads them: the scenario's settings, rendered by the role."""
    ini = configparser.ConfigParser()
    ini.read_string(host.file("/etc/lalert-receiver/receiver.ini").content_string)
    return ini.getint("retention", "days"), ini.get("retention", "backup_metrics_file")


def test_retention_purge_timer_keeps_current_real_and_unbacked_messages(host, fx):
    assert host.service("lalert-receiver-purge.timer").is_enabled
    days, backup_metrics = retention_settings(host)
    assert days > 0 and backup_metrics, "the scenario converges with retention on"
    host.check_output(f"rm -f {backup_metrics}")
    send(host, f"{fx}/evacuation_order.xml")  # stored or present: real, stays in current_real
    wait_healthy(host)
    # age every row past the retention; an old drill copy of a row is purgeable, the current real one is not
    host.check_output(f'sqlite3 {DB} "UPDATE messages SET received_at = received_at - {days + 3} * 86400"')
    rows_before = count(host)[0]
    # no backup evidence yet: the purge refuses and removes nothing
    assert host.run("systemctl start lalert-receiver-purge.service").rc != 0
    assert count(host)[0] == rows_before
    host.check_output(f"install -d -m 0755 {os.path.dirname(backup_metrics)}")
    host.check_output(f"printf 'anshin_backup_last_success_timestamp_seconds %s\\n' $(date +%s) > {backup_metrics}")
    host.check_output("systemctl start lalert-receiver-purge.service")
    current = {r["id"] for r in sql(host, "SELECT id FROM current_real")}
    left = {r["id"] for r in sql(host, "SELECT id FROM messages")}
    assert current and left == current, (current, left)
    files = set(host.check_output(f"ls {SPOOL}").split())
    assert files == {r["spool_file"] for r in sql(host, "SELECT spool_file FROM messages")}
    log = host.check_output("journalctl --sync && journalctl -u lalert-receiver-purge.service -n 5 --no-pager")
    assert '"deleted"' in log
    metrics = host.check_output(f"{CURL} https://127.0.0.1/metrics")
    assert f"lalert_spool_files {float(len(files))}" in metrics


def test_retention_off_removes_the_purge_timer_and_on_brings_it_back(host, run_playbook):
    only_debian12(host, "the same tasks on both platforms; one is enough")
    rc, out = run_playbook(RECEIVER_ONLY, {"lalert_receiver_retention_days": 0})
    assert rc == 0, out
    assert not host.service("lalert-receiver-purge.timer").is_running, out  # no purge is scheduled any more
    for unit in ("lalert-receiver-purge.timer", "lalert-receiver-purge.service"):
        assert not host.file(f"/etc/systemd/system/{unit}").exists, out
        # and systemd no longer knows them
        assert host.check_output(f"systemctl show -p LoadState --value {unit}") == "not-found", out
    rc, out = run_playbook(RECEIVER_ONLY, {})  # the scenario's settings again
    assert rc == 0, out
    assert host.service("lalert-receiver-purge.timer").is_enabled
    assert host.service("lalert-receiver-purge.timer").is_running

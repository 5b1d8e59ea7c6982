"""roles/base/files/anshin_common.py (module_utils/anshin_common.py links to it): the JST clock, whole-file
writes and the textfile metrics every part of the repo shares, on the controller and on the VMs."""

import datetime
import os
import pathlib
import shlex
import shutil
import subprocess
import time
import zoneinfo

import anshin_common as common
import pytest
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT, load_module


def test_one_file_the_role_installs_and_the_controller_imports():
    link = ROOT / "module_utils" / "anshin_common.py"
    assert link.is_symlink() and link.resolve() == ROOT / "roles" / "base" / "files" / "anshin_common.py"
    load_module("anshin_log_audit")  # registers module_utils as Ansible ships them
    from ansible.module_utils import anshin_common as shipped

    assert os.path.samefile(shipped.__file__, common.__file__)


@pytest.fixture
def machine_zone(monkeypatch):
    """Set this process's own time zone, as a VM or an operator's laptop may have another."""

    def set_zone(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield set_zone
    monkeypatch.undo()
    time.tzset()


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Tokyo"])
def test_a_time_without_a_zone_is_jst_whatever_the_machines_zone(machine_zone, zone):
    machine_zone(zone)
    moment = common.parse_time("2026-11-28T09:30")
    assert moment.utcoffset() == datetime.timedelta(hours=9)
    assert moment == datetime.datetime(2026, 11, 28, 0, 30, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    "text, utc",
    [
        ("2026-11-28T09:30:00+09:00", datetime.datetime(2026, 11, 28, 0, 30)),
        ("2026-11-28T00:30:00Z", datetime.datetime(2026, 11, 28, 0, 30)),  # a zone written out is kept
        ("2026-11-28T02:30:00+02:00", datetime.datetime(2026, 11, 28, 0, 30)),
        ("2026-11-28", datetime.datetime(2026, 11, 27, 15, 0)),  # a date alone: 00:00 JST
        (" 2026-11-28 09:30 ", datetime.datetime(2026, 11, 28, 0, 30)),  # as typed, spaces and all
        (datetime.datetime(2026, 11, 28, 9, 30), datetime.datetime(2026, 11, 28, 0, 30)),  # as YAML reads it
        (datetime.date(2026, 11, 28), datetime.datetime(2026, 11, 27, 15, 0)),
    ],
)
def test_parse_time(text, utc):
    assert common.parse_time(text) == utc.replace(tzinfo=datetime.UTC)


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "28/11/2026 09:30", ""])
def test_anything_but_iso_8601_is_a_value_error(text):
    with pytest.raises(ValueError):
        common.parse_time(text)


@pytest.mark.parametrize("day", ["2026-01-15", "2026-04-01", "2026-07-15", "2026-10-31", "2026-12-31"])
def test_jst_is_tokyos_time_all_year_round(day):
    """No daylight saving time: the fixed offset is what the tz database says for Tokyo on every day."""
    moment = common.parse_time(f"{day}T12:00")
    assert moment.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")).replace(tzinfo=None) == moment.replace(tzinfo=None)
    assert common.from_epoch(moment.timestamp()) == moment
    assert common.from_epoch(str(moment.timestamp())).utcoffset() == datetime.timedelta(hours=9)


def test_now_is_jst():
    now = common.now_jst()
    assert now.utcoffset() == datetime.timedelta(hours=9) and abs(now.timestamp() - time.time()) < 5


def test_the_backup_program_reads_before_by_the_same_rule(machine_zone):
    import importlib.machinery
    import importlib.util

    loader = importlib.machinery.SourceFileLoader("anshin_backup_time", str(ROOT / "roles/backup/files/anshin-backup"))
    backup = importlib.util.module_from_spec(importlib.util.spec_from_loader("anshin_backup_time", loader))
    loader.exec_module(backup)
    machine_zone("UTC")  # a VM whose own zone is not Tokyo's still reads an operator's time as JST
    epoch = datetime.datetime(2026, 11, 28, 0, 30, tzinfo=datetime.UTC).timestamp()
    assert backup.parse_time("2026-11-28T09:30") == epoch
    assert backup.iso(epoch) == "2026-11-28T09:30:00+09:00"


def test_a_write_is_whole_with_the_mode_given(tmp_path):
    path = str(tmp_path / "state.json")
    common.write_file(path, "一\n")
    assert pathlib.Path(path).read_text(encoding="utf-8") == "一\n"
    common.write_file(path, b"\x00\x01", mode=0o600)
    assert pathlib.Path(path).read_bytes() == b"\x00\x01"
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert os.listdir(tmp_path) == ["state.json"]


def test_an_interrupted_write_leaves_the_old_file(tmp_path):
    path = str(tmp_path / "manifest.json")
    common.write_file(path, "old\n")
    with pytest.raises(KeyboardInterrupt), common.replacing(path) as partial:
        with open(partial, "w", encoding="utf-8") as fh:
            fh.write("half of the n")
        raise KeyboardInterrupt  # killed mid-write
    assert pathlib.Path(path).read_text(encoding="utf-8") == "old\n"
    assert os.listdir(tmp_path) == ["manifest.json"]


def test_a_secret_is_never_readable_by_others_even_half_written(tmp_path):
    path = str(tmp_path / "ldap.dump")
    old = os.umask(0o022)
    try:
        with common.replacing(path, mode=0o600) as partial:
            assert oct(os.stat(partial).st_mode & 0o777) == "0o600"
            with open(partial, "wb") as fh:
                fh.write(b"userPassword: {SSHA}x\n")
    finally:
        os.umask(old)
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_a_partial_left_by_a_killed_run_is_replaced(tmp_path):
    path = str(tmp_path / "cache.json")
    (tmp_path / "cache.json.partial").write_text("stale", encoding="utf-8")
    common.write_file(path, "{}")
    assert os.listdir(tmp_path) == ["cache.json"]


def test_textfile_labels_are_escaped_by_prometheus_client(tmp_path):
    label = 'a "quoted" back\\slash\nand a newline'
    registry = CollectorRegistry()
    Gauge("anshin_test_value", "A value.", ["repository"], registry=registry).labels(repository=label).set(1.5)
    path = str(tmp_path / "anshin_test.prom")
    old = os.umask(0o077)  # an operator's shell: node_exporter must still read it
    try:
        common.write_textfile(path, registry)
    finally:
        os.umask(old)
    text = pathlib.Path(path).read_text(encoding="utf-8")
    assert 'anshin_test_value{repository="a \\"quoted\\" back\\\\slash\\nand a newline"} 1.5\n' in text
    samples = [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]
    assert samples == [("anshin_test_value", {"repository": label}, 1.5)]
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert os.listdir(tmp_path) == ["anshin_test.prom"]


def running(name):
    """Wait until a process of that name runs (the shell that started it may return before it execs)."""
    for _ in range(100):
        if subprocess.run(["pgrep", "-x", name], stdout=subprocess.DEVNULL).returncode == 0:
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} never started")


def test_wait_gone_terms_a_daemon_its_stop_left_behind_and_names_one_that_stays(tmp_path):
    # copies of sleep and bash under names of their own (pgrep -x matches the process name), started in the
    # background of a shell that exits: not this test's children, as a daemon is not anshin-backup's
    daemon, stubborn = tmp_path / "anshin-tdaemon", tmp_path / "anshin-tstays"
    shutil.copy("/bin/sleep", daemon)
    shutil.copy("/bin/bash", stubborn)
    subprocess.run(["sh", "-c", f"{daemon} 60 >/dev/null 2>&1 &"], check=True)
    running(daemon.name)
    started = time.time()
    common.wait_gone([daemon.name], seconds=10, term_after=0.5)
    assert time.time() - started < 5
    assert subprocess.run(["pgrep", "-x", daemon.name]).returncode == 1
    script = "trap '' TERM; while :; do sleep 0.1; done"
    subprocess.run(["sh", "-c", f"{stubborn} -c {shlex.quote(script)} >/dev/null 2>&1 &"], check=True)
    running(stubborn.name)
    try:
        with pytest.raises(common.StillRunning, match="still running after stop: anshin-tstays"):
            common.wait_gone([stubborn.name], seconds=1, term_after=0)
    finally:
        subprocess.run(["pkill", "-KILL", "-x", stubborn.name])
    common.wait_gone(["anshin-tnothing"])  # nothing of that name: returns at once

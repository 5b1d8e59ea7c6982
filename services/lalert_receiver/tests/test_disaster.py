"""The disaster check the maintenance run asks (`lalert-receiver --disaster-check`): real messages of
the given kinds in the last hours; drills, cancelled and other kinds are no disaster; a state that cannot
be read is said to be unreadable (exit 3), never "no disaster"."""
import datetime
import json
import sqlite3
import time

import pytest

from lalert_receiver import config as config_mod, disaster, sender, server, wsse
from lalert_receiver.app import Receiver
from test_receiver import FIXTURES, PASSWORD, USER

NOW = datetime.datetime(2026, 11, 28, 0, 0, tzinfo=datetime.timezone.utc)
KINDS = ["weather", "tsunami", "evacuation", "landslide"]


@pytest.fixture
def receiver(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    cfg = config_mod.Config(username=USER, password=PASSWORD, database=str(tmp_path / "r.sqlite3"),
                            spool_dir=str(spool))
    return Receiver(cfg, clock=lambda: NOW)


def publish(rcv, name):
    data = (FIXTURES / name).read_bytes()
    assert rcv.handle(sender.envelope(data, wsse.make_token(USER, PASSWORD, None, "2026-11-28T00:00:00Z"))) == "stored"


def check(rcv, hours=6, offset=0.0):
    """received_at is the wall clock of the store: look from now (+ offset)."""
    return disaster.disaster_messages(rcv.config.database, KINDS, hours, now=time.time() + offset)


def test_a_real_warning_is_a_disaster_for_the_given_hours(receiver):
    publish(receiver, "weather_vpww53.xml")
    publish(receiver, "seismic_vxse53.xml")  # not one of the kinds
    assert check(receiver) == {"weather": 1}
    assert check(receiver, hours=6, offset=7 * 3600) == {}  # older than the hours


def test_drills_cancelled_and_other_kinds_are_no_disaster(receiver):
    for name in ("exercise.xml", "jma_drill.xml", "test_status.xml", "shelter.xml",
                 "evacuation_order.xml", "evacuation_cancel.xml"):
        publish(receiver, name)
    assert check(receiver) == {}


@pytest.mark.parametrize("damage", ["missing", "empty", "not a database", "no view"])
def test_a_state_that_cannot_be_read_is_unreadable(tmp_path, damage):
    path = tmp_path / "r.sqlite3"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "not a database":
        path.write_bytes(b"this is not SQLite" * 100)
    elif damage == "no view":
        sqlite3.connect(path).execute("CREATE TABLE messages (id INTEGER)").connection.close()
    with pytest.raises(disaster.Unreadable):
        disaster.disaster_messages(str(path), KINDS, 6)
    assert not path.exists() or damage != "missing"  # read-only: a missing database is not created


def write_config(tmp_path, database):
    ini = tmp_path / "receiver.ini"
    ini.write_text(f"[auth]\nusername = {USER}\npassword = {PASSWORD}\n[storage]\ndatabase = {database}\n",
                   encoding="utf-8")
    return str(ini)


def test_the_command_prints_json_or_exits_3(receiver, tmp_path, capsys):
    publish(receiver, "tsunami_vtse51.xml")
    ini = write_config(tmp_path, receiver.config.database)
    assert server.main(["--config", ini, "--disaster-check", "--kinds", "tsunami,weather", "--hours", "6"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["disaster_messages"] == 1 and answer["by_kind"] == {"tsunami": 1}
    assert server.main(["--config", ini, "--disaster-check", "--kinds", "weather"]) == 0
    assert json.loads(capsys.readouterr().out)["disaster_messages"] == 0

    missing = write_config(tmp_path, str(tmp_path / "gone.sqlite3"))
    assert server.main(["--config", missing, "--disaster-check"]) == 3
    assert "disaster state unreadable" in capsys.readouterr().err

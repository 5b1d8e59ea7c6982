"""The disaster check the maintenance run asks (`lalert-receiver --disaster-check`): real messages of
the given kinds in the last hours; drills, cancelled and other kinds are no disaster; a state that cannot
be read is said to be unreadable (exit 3), never "no disaster"."""

import json
import sqlite3
import time

import pytest

import test_receiver
from lalert_receiver import disaster, server
from test_receiver import PASSWORD, USER, request

receiver = test_receiver.receiver  # the fixture, shared with the receiver's tests

KINDS = ["weather", "tsunami", "evacuation", "landslide"]


def publish(rcv, name):
    assert rcv.handle(request(name)) == "stored"


def check(rcv, hours=6, offset=0.0):
    """received_at is the wall clock of the store: look from now (+ offset)."""
    return disaster.disaster_messages(rcv.config.database, KINDS, hours, now=time.time() + offset)


def test_a_real_warning_is_a_disaster_for_the_given_hours(receiver):
    publish(receiver, "weather_vpww53.xml")
    publish(receiver, "seismic_vxse53.xml")  # not one of the kinds
    assert check(receiver) == {"weather": 1}
    assert check(receiver, hours=6, offset=7 * 3600) == {}  # older than the hours


def test_drills_cancelled_and_other_kinds_are_no_disaster(receiver):
    for name in (
        "exercise.xml",
        "jma_drill.xml",
        "test_status.xml",
        "shelter.xml",
        "evacuation_order.xml",
        "evacuation_cancel.xml",
    ):
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
    ini.write_text(
        f"[auth]\nusername = {USER}\npassword = {PASSWORD}\n[storage]\ndatabase = {database}\n", encoding="utf-8"
    )
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

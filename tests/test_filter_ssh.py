"""filter_plugins/ssh.py"""

import base64
import datetime
import importlib.util
import struct

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("ssh_filters", ROOT / "filter_plugins" / "ssh.py")
ssh = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ssh)

# a well-formed ed25519 public key (type, wire-format blob, comment)
ED25519 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWEqLt4hyIu1jK2cBV7qqA3VvrK2c3xHkbH8sYCgYGk test@example"


def wire(key_type, payload=b"\x00" * 32):
    blob = struct.pack(">I", len(key_type)) + key_type.encode() + struct.pack(">I", len(payload)) + payload
    return base64.b64encode(blob).decode()


def test_valid_keys_pass():
    assert ssh.anshin_invalid_ssh_keys([ED25519, "ssh-rsa " + wire("ssh-rsa") + " admin"]) == []


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ssh-ed25519",
        "ssh-dss " + wire("ssh-dss"),  # type we do not accept
        "ssh-ed25519 not-base64!!",
        "ssh-ed25519 " + wire("ssh-rsa"),  # blob of another type
        "ssh-ed25519 " + base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519").decode(),  # no key material
        ED25519 + "\nssh-ed25519 " + wire("ssh-ed25519"),  # two keys in one entry
        "-----BEGIN OPENSSH PRIVATE KEY-----",
        None,
    ],
)
def test_invalid_keys_are_listed(bad):
    assert ssh.anshin_invalid_ssh_keys([ED25519, bad]) == [bad]


def test_expiry_is_the_end_of_the_day_in_jst():
    epoch = ssh.anshin_expiry_epoch("2027-03-31")
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone(datetime.timedelta(hours=9)))
    assert (moment.year, moment.month, moment.day, moment.hour, moment.minute) == (2027, 3, 31, 23, 59)


@pytest.mark.parametrize("bad", ["2027-02-30", "31/03/2027", "", "tomorrow", None])
def test_unparsable_expiry_raises(bad):
    with pytest.raises((ValueError, TypeError)):
        ssh.anshin_expiry_epoch(bad)


@pytest.mark.parametrize(
    "day,ok",
    [
        ("2027-03-31", True),
        ("2028-02-29", True),
        ("2027-02-29", False),
        ("2027-3-31", False),
        ("31/03/2027", False),
        ("", False),
        (None, False),
    ],
)
def test_is_date(day, ok):
    assert ssh.anshin_is_date(day) is ok

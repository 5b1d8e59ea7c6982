"""UsernameToken digests and the settings file."""

import base64
import datetime
import hashlib

import pytest

from lalert_receiver import config as config_mod, wsse
from lalert_receiver.errors import Reject

NOW = datetime.datetime(2026, 11, 28, 0, 0, tzinfo=datetime.timezone.utc)


def test_digest_follows_the_username_token_profile():
    nonce, created, password = b"\x01" * 16, "2026-11-28T00:00:00Z", "pw"
    expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    assert wsse.password_digest(nonce, created, password) == expected


def test_token_round_trip_and_tampering():
    token = wsse.make_token("u", "pw", created="2026-11-28T00:00:00Z")
    assert wsse.verify(token, "u", "pw", NOW, 300)
    for key, value in (
        ("username", "v"),
        ("created", "2026-11-28T00:00:01Z"),
        ("nonce", base64.b64encode(b"x" * 16).decode()),
    ):
        with pytest.raises(Reject) as err:
            wsse.verify(dict(token, **{key: value}), "u", "pw", NOW, 300)
        assert err.value.reason == "bad_digest"


def test_created_in_local_time_is_understood():
    token = wsse.make_token("u", "pw", created="2026-11-28T09:04:00+09:00")
    assert wsse.verify(token, "u", "pw", NOW, 300)
    with pytest.raises(Reject):
        wsse.verify(token, "u", "pw", NOW, 60)


def write(tmp_path, text):
    path = tmp_path / "receiver.ini"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_config_reads_password_file(tmp_path):
    (tmp_path / "pw").write_text("secret\n")
    cfg = config_mod.load(
        write(tmp_path, f"[auth]\nusername = r\npassword_file = {tmp_path}/pw\n[filter]\narea_prefixes = 36, 37\n")
    )
    assert cfg.password == "secret" and cfg.area_prefixes == ("36", "37")
    assert "secret" not in repr(cfg)


@pytest.mark.parametrize(
    "text,key",
    [
        ("[auth]\nusername = r\n", "password"),
        ("[auth]\nusername = r\npassword = p\n[server]\nlisten = nowhere\n", "listen"),
        ("[auth]\nusername = r\npassword = p\n[server]\nthreads = many\n", "threads"),
        ("[auth]\nusername = r\npassword = p\n[filter]\narea_prefixes = Tokushima\n", "area_prefixes"),
        ("[auth]\nusername = r\npassword = p\n[storage]\ndatabase = relative.db\n", "database"),
        ("[auth]\npassword = p\n", "username"),
    ],
)
def test_config_errors_name_the_key(tmp_path, text, key):
    with pytest.raises(config_mod.ConfigError) as err:
        config_mod.load(write(tmp_path, text))
    assert key in str(err.value)

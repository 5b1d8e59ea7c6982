"""module_utils/anshin_logs.py: one parser per format; a line that does not fit gives None."""

import calendar

from conftest import ROOT, load_module

load_module("anshin_log_audit")  # registers module_utils as ansible.module_utils.*
from ansible.module_utils import anshin_logs as logs  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"

EPOCH = calendar.timegm((2026, 11, 27, 23, 50, 13))  # 2026-11-28 08:50:13 JST


def test_combined_line():
    rec = logs.parse_combined(
        '198.51.100.7 - - [28/Nov/2026:08:50:13 +0900] "GET /a?b=1 HTTP/1.1" 404 153 "https://example.jp/" "curl/8.0"'
    )
    assert rec == {
        "remote": "198.51.100.7",
        "user": "-",
        "time": EPOCH,
        "method": "GET",
        "path": "/a?b=1",
        "status": 404,
        "size": 153,
        "referer": "https://example.jp/",
        "agent": "curl/8.0",
    }


def test_combined_zone_and_odd_requests():
    utc = logs.parse_combined('::1 - bob [27/Nov/2026:23:50:13 +0000] "-" 400 - "-" "-"')
    assert utc["time"] == EPOCH and utc["path"] == "-" and utc["size"] == 0 and utc["user"] == "bob"
    escaped = logs.parse_combined(r'1.2.3.4 - - [28/Nov/2026:08:50:13 +0900] "GET /\"x HTTP/1.1" 200 1 "-" "a\"b"')
    assert escaped["status"] == 200 and escaped["agent"] == r"a\"b"
    common = logs.parse_combined('1.2.3.4 - - [28/Nov/2026:08:50:13 +0900] "GET / HTTP/1.0" 200 1')
    assert common["agent"] == "" and common["status"] == 200


def test_combined_rejects_garbage():
    for line in [
        "",
        "garbage",
        '1.2.3.4 - - [28/Xyz/2026:08:50:13 +0900] "GET / HTTP/1.1" 200 1 "-" "-"',
        '1.2.3.4 - - [bad] "GET / HTTP/1.1" 200 1 "-" "-"',
        '1.2.3.4 - - [28/Nov/2026:08:50:13 +0900] "GET /',
    ]:
        assert logs.parse_combined(line) is None


def test_nginx_error_line_is_local_time():
    rec = logs.parse_nginx_error(
        '2026/11/28 08:50:13 [error] 12#12: *5 open() "/x" failed, client: 1.2.3.4, '
        'server: _, request: "GET /x HTTP/1.1"'
    )
    assert rec["time"] == EPOCH and rec["level"] == "error" and rec["client"] == "1.2.3.4"
    assert logs.parse_nginx_error("2026/11/28 08:50:13 [emerg] 1#1: bind() failed")["level"] == "emerg"
    assert logs.parse_nginx_error("nginx: [emerg] unknown directive") is None


def test_syslog_both_stamps():
    modern = logs.parse_syslog("2026-11-28T08:50:13.123456+09:00 vm sshd[1]: Invalid user a from 1.2.3.4 port 1", 2000)
    assert modern == {"time": EPOCH, "host": "vm", "ident": "sshd", "message": "Invalid user a from 1.2.3.4 port 1"}
    classic = logs.parse_syslog("Nov 28 08:50:13 vm sudo: ops : PWD=/ ; USER=root ; COMMAND=/bin/true", 2026)
    assert classic["time"] == EPOCH and classic["ident"] == "sudo"
    assert logs.parse_syslog("Nov  8 08:50:13 vm CRON[5]: x", 2026)["ident"] == "CRON"
    assert logs.parse_syslog("garbage", 2026) is None


def test_sshd_events():
    assert logs.classify_sshd("Failed publickey for ops from 1.2.3.4 port 22 ssh2: ED25519 SHA256:x") == (
        "failed",
        "ops",
        "1.2.3.4",
        "publickey",
    )
    assert logs.classify_sshd("Failed password for invalid user a b from 1.2.3.4 port 22 ssh2") == (
        "failed",
        "a b",
        "1.2.3.4",
        "password",
    )
    assert logs.classify_sshd("Invalid user admin from 2001:db8::1 port 22") == (
        "invalid_user",
        "admin",
        "2001:db8::1",
        "",
    )
    assert logs.classify_sshd("Accepted publickey for ops from 10.0.0.1 port 22 ssh2: X") == (
        "accepted",
        "ops",
        "10.0.0.1",
        "publickey",
    )
    assert logs.classify_sshd("Connection closed by authenticating user ops 1.2.3.4 port 22 [preauth]") is None


def test_sudo_events():
    assert logs.classify_sudo("    ops : TTY=pts/0 ; PWD=/home/ops ; USER=root ; COMMAND=/usr/bin/id -u") == (
        "command",
        "ops",
        "root",
        "/usr/bin/id -u",
    )
    assert logs.classify_sudo("guest : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh") == (
        "refused",
        "guest",
        "user NOT in sudoers",
        "/bin/sh",
    )
    assert (
        logs.classify_sudo("ops : 3 incorrect password attempts ; PWD=/ ; USER=root ; COMMAND=/bin/sh")[2]
        == "3 incorrect password attempts"
    )
    assert logs.classify_sudo("pam_unix(sudo:session): session opened for user root") is None


def test_receiver_events():
    assert logs.classify_receiver("WARNING lalert_receiver.app: refused from 10.0.0.5: bad_digest (no)") == (
        "reject",
        "bad_digest",
        "10.0.0.5",
    )
    assert logs.classify_receiver("refused from : too_large (the request body is over 1 bytes)") == (
        "reject",
        "too_large",
        "",
    )
    assert logs.classify_receiver("ERROR lalert_receiver.app: storage failed for u r1: disk full")[0] == "error"
    assert logs.classify_receiver("INFO lalert_receiver.app: stored u r1") is None


def test_iis_w3c_log_with_a_changing_field_list():
    parser = logs.W3CParser()
    with open(FIXTURES / "iis_u_ex261127.log", encoding="utf-8") as fh:
        rows = [parser.parse(line) for line in fh]
    data = [r for r in rows if r]
    assert len(data) == 5
    assert rows.count(None) == 2  # the stray line and the short line after the second #Fields
    first = data[0]
    assert first == {
        "remote": "203.0.113.7",
        "user": "-",
        "time": 1795737601,
        "method": "GET",
        "path": "/index.html",
        "status": 200,
        "size": 0,
        "referer": "",
        "agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    }
    assert data[1]["path"] == "/bousai/map.aspx?area=36201&lang=ja"
    assert data[1]["referer"] == "https://www.pref.tokushima.lg.jp/"
    assert (data[2]["method"], data[2]["user"], data[2]["status"]) == ("POST", "staff01", 401)
    assert data[3]["path"] == "/wp-login.php" and data[3]["agent"] == ""
    # after the new #Fields: bytes are logged, no user agent column
    assert (data[4]["size"], data[4]["time"], data[4]["agent"]) == (5120, 1795737600 + 43200, "")


def test_w3c_lines_before_any_fields_directive_are_unparsable():
    parser = logs.W3CParser()
    assert parser.parse("2026-11-27 00:00:01 GET / - 1.2.3.4 200") is None
    assert parser.parse("#Version: 1.0\r\n") == {}


def test_w3c_byte_order_mark_crlf_other_order_and_values_that_are_not_times():
    parser = logs.W3CParser()
    assert parser.parse("\ufeff#Fields: time date c-ip cs(User-Agent) cs-uri-stem cs-uri-query sc-status\r\n") == {}
    assert parser.fields == ["time", "date", "c-ip", "cs(User-Agent)", "cs-uri-stem", "cs-uri-query", "sc-status"]
    rec = parser.parse("23:50:13 2026-11-27 2001:db8::1 Mozilla/5.0+(X11) /a q=1 304\r\n")
    assert (rec["time"], rec["remote"], rec["agent"], rec["path"], rec["status"]) == (
        EPOCH,
        "2001:db8::1",
        "Mozilla/5.0 (X11)",
        "/a?q=1",
        304,
    )
    assert (rec["method"], rec["user"], rec["size"], rec["referer"]) == ("", "-", 0, "")
    for line in [
        "23:50:13 2026-02-30 1.2.3.4 - /a - 200",  # not a day
        "24:00:00 2026-11-27 1.2.3.4 - /a - 200",  # not a time
        "23:50 2026-11-27 1.2.3.4 - /a - 200",
        "23:50:13 2026-11-27 1.2.3.4 - /a - 600",  # not a status
        "23:50:13 2026-11-27 1.2.3.4 - /a - 20",
        "23:50:13 2026-11-27 1.2.3.4 - /a - -",
        "23:50:13 2026-11-27 1.2.3.4  /a - 200",  # an empty value
        "23:50:13 2026-11-27 1.2.3.4 - /a - 200 ",
    ]:
        assert parser.parse(line) is None, line
    assert parser.parse("23:59:60 2026-12-31 1.2.3.4 - /a - 200")["time"] == calendar.timegm((2027, 1, 1, 0, 0, 0))

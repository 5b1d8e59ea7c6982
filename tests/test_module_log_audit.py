"""library/anshin_log_audit.py on planted logs (tests/fixtures/log_audit/plant.py): it finds exactly
the planted events, skips what lies outside the period, and survives bad input."""

import datetime
import gzip
import importlib.util

import pytest
from anshin_common import JST

from conftest import ROOT, load_module

audit = load_module("anshin_log_audit")
spec = importlib.util.spec_from_file_location("plant", ROOT / "tests/fixtures/log_audit/plant.py")
plant = importlib.util.module_from_spec(spec)
spec.loader.exec_module(plant)

BASE = int(datetime.datetime(2026, 11, 28, 9, 0, tzinfo=JST).timestamp())


def iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, JST).isoformat()


@pytest.fixture
def planted(tmp_path):
    plant.plant(str(tmp_path), BASE)
    return tmp_path


def args(directory, **extra):
    base = {
        "since": iso(BASE - 86400),
        "until": iso(BASE + 1),
        "access_logs": [f"{directory}/nginx/*access.log*"],
        "error_logs": [f"{directory}/nginx/*error.log*"],
        "auth_source": "files",
        "auth_files": [f"{directory}/auth.log*"],
        "approved_ranges": ["10.89.250.1/32"],
    }
    base.update(extra)
    return base


def test_counts_exactly_the_planted_events(planted, run_module):
    failed, r = run_module(audit, args(planted))
    assert not failed and r["changed"] is False and r["empty"] is False
    assert r["counts"] == {
        "requests": 82,
        "status_1xx": 0,
        "status_2xx": 40,
        "status_3xx": 2,
        "status_4xx": 12,
        "status_5xx": 28,
        "ssh_failures": 8,
        "ssh_invalid_users": 6,
        "logins": 3,
        "logins_outside_ranges": 1,
        "sudo_commands": 3,
        "sudo_refusals": 1,
        "attack_requests": 6,
        "receiver_rejects": 3,
        "receiver_errors": 1,
        "nginx_errors": 4,
        "unparsable_lines": 4,
        "damaged_files": 0,
    }
    assert r["ssh_failures_by_source"] == [
        {"source": "203.0.113.7", "failed": 8, "invalid_user": 4, "total": 12},
        {"source": "198.51.100.20", "failed": 0, "invalid_user": 2, "total": 2},
    ]
    assert r["ssh_failures_by_user"] == [
        {"user": "admin", "invalid": True, "count": 7},
        {"user": "ops", "invalid": False, "count": 5},
        {"user": "test", "invalid": True, "count": 2},
    ]
    assert [(x["user"], x["source"]) for x in r["logins_outside_ranges"]] == [("ops", "198.51.100.99")]
    assert r["sudo"]["commands"][0] == {
        "user": "ops",
        "target": "root",
        "command": "/usr/bin/systemctl restart nginx",
        "count": 2,
    }
    assert r["sudo"]["refusals"] == [
        {"user": "guest", "reason": "user NOT in sudoers", "command": "/bin/sh", "count": 1}
    ]
    assert r["attack_requests"]["by_pattern"] == [
        {"pattern": "wordpress", "count": 3},
        {"pattern": "secrets", "count": 2},
        {"pattern": "traversal", "count": 1},
    ]
    assert r["attack_requests"]["by_source"][0] == {"source": "203.0.113.7", "count": 5}
    assert r["receiver_rejects"] == [{"reason": "bad_digest", "count": 2}, {"reason": "replayed_nonce", "count": 1}]
    assert r["nginx_errors_by_level"] == [
        {"level": "error", "count": 3},
        {"level": "crit", "count": 1},
        {"level": "warn", "count": 1},
    ]


def test_paths_hours_and_spikes(planted, run_module):
    _, r = run_module(audit, args(planted))
    paths = {p["path"]: (p["status_4xx"], p["status_5xx"]) for p in r["http_errors_by_path"]}
    assert paths == {
        "/lalert/publish": (0, 25),
        "/missing.html": (5, 0),
        "/api/latest": (0, 3),
        "/wp-login.php": (3, 0),
        "/.env": (2, 0),
        "/../../etc/passwd": (1, 0),
        "-": (1, 0),
    }
    assert r["http_5xx_spikes"] == [{"hour": "2026-11-28 07", "status_5xx": 25}]
    assert sum(h["requests"] for h in r["http_by_hour"]) == 82
    assert {h["hour"] for h in r["http_by_hour"]} == {
        "2026-11-28 04",
        "2026-11-28 05",
        "2026-11-28 07",
        "2026-11-28 08",
    }


def test_flags_name_the_crossed_thresholds(planted, run_module):
    _, r = run_module(audit, args(planted))
    assert r["flagged"] is True
    assert r["flags"] == [
        {"name": "ssh_failures_per_source", "value": 12, "threshold": 10},
        {"name": "logins_outside_ranges", "value": 1, "threshold": 0},
        {"name": "sudo_refusals", "value": 1, "threshold": 0},
        {"name": "http_5xx_per_hour", "value": 25, "threshold": 20},
    ]
    _, relaxed = run_module(
        audit,
        args(
            planted,
            thresholds={
                "ssh_failures_per_source": 12,
                "logins_outside_ranges": 1,
                "sudo_refusals": 1,
                "http_5xx_per_hour": 25,
            },
        ),
    )
    assert relaxed["flagged"] is False and relaxed["flags"] == []


def test_unparsable_lines_are_counted_and_sampled(planted, run_module):
    _, r = run_module(audit, args(planted, samples=1))
    by_source = {u["source"].rsplit("/", 1)[-1]: u for u in r["unparsable"]}
    assert {k: v["count"] for k, v in by_source.items()} == {"access.log": 2, "error.log": 1, "auth.log": 1}
    assert by_source["access.log"]["samples"] == ["this is not an access log line"]


def test_files_before_the_period_are_skipped_unread(planted, run_module):
    _, r = run_module(audit, args(planted))
    old = [s for s in r["sources"] if s["name"].endswith("access.log-20261126-1.gz")]
    assert old == [
        {
            "name": old[0]["name"],
            "kind": "access",
            "lines": 0,
            "in_period": 0,
            "unparsable": 0,
            "skipped": "older than the period",
        }
    ]
    rotated = [s for s in r["sources"] if s["name"].endswith("-20261127-1.gz")][0]
    assert rotated["lines"] == 9 and rotated["in_period"] == 8  # one line of the day before


def test_a_period_without_logs_says_so(planted, run_module):
    failed, r = run_module(audit, args(planted, since="2020-01-01", until="2020-01-02"))
    assert not failed and r["empty"] is True and r["flagged"] is False
    assert r["counts"]["requests"] == 0 and r["http_by_hour"] == []


def test_no_log_files_at_all(tmp_path, run_module):
    failed, r = run_module(audit, args(tmp_path))
    assert not failed and r["empty"] is True and r["sources"] == []


def test_binary_and_truncated_files_do_not_crash(planted, run_module):
    (planted / "nginx/access.log").write_bytes(b"\x00\xff\xfe" * 100 + b"\n")
    with gzip.open(planted / "nginx/access.log-20261127-1.gz", "rb") as fh:
        data = fh.read()
    (planted / "nginx/access.log-20261127-1.gz").write_bytes(gzip.compress(data)[:40])  # cut mid-stream
    failed, r = run_module(audit, args(planted))
    assert not failed
    damaged = [s for s in r["sources"] if "error" in s]
    assert [s["name"].rsplit("/", 1)[-1] for s in damaged] == ["access.log-20261127-1.gz"]
    assert "EOFError" in damaged[0]["error"]
    assert {"name": "damaged_files", "value": 1, "threshold": 0} in r["flags"]  # named and flagged, not ignored
    binary = [u for u in r["unparsable"] if u["source"].endswith("/access.log")][0]
    assert binary["count"] == 1


@pytest.mark.parametrize(
    "bad, words",
    [
        ({"approved_ranges": ["10.0.0.0/33"]}, "approved_ranges"),
        ({"thresholds": {"ssh_failure": 1}}, "thresholds.ssh_failure"),  # the argument spec's suboptions
        ({"thresholds": {"attack_requests": -1}}, "thresholds.attack_requests"),
        ({"thresholds": {"attack_requests": "many"}}, "attack_requests"),
        ({"since": "yesterday"}, "since"),
        ({"since": "2026-11-28", "until": "2026-11-27"}, "must be before"),
        ({"attack_patterns": [{"name": "x", "regex": "("}]}, "attack_patterns"),
        ({"attack_patterns": [{"regex": "x"}]}, "name found in attack_patterns"),
    ],
)
def test_bad_input_is_refused_with_the_parameter_named(planted, run_module, bad, words):
    failed, r = run_module(audit, args(planted, **bad))
    assert failed and words in r["msg"]


def test_journal_is_read_when_asked(monkeypatch, planted, run_module, tmp_path):
    """The journal path: journalctl's JSON lines, byte-array messages, a bad line, a failing journalctl."""
    fake = tmp_path / "journalctl"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo \'{{"__REALTIME_TIMESTAMP": "{(BASE - 10) * 10**6}", "SYSLOG_IDENTIFIER": "sshd-session",'
        ' "MESSAGE": "Invalid user x from 192.0.2.1 port 1"}\'\n'
        f'echo \'{{"__REALTIME_TIMESTAMP": "{(BASE - 9) * 10**6}", "SYSLOG_IDENTIFIER": "sudo",'
        f' "MESSAGE": {list(b"ops : PWD=/ ; USER=root ; COMMAND=/bin/true")}}}\'\n'
        "echo 'not json'\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    _, r = run_module(audit, args(planted, auth_source="journal"))
    assert r["counts"]["ssh_invalid_users"] == 1 and r["counts"]["sudo_commands"] == 1
    assert {u["source"]: u["count"] for u in r["unparsable"]}["journal"] == 1
    fake.write_text("#!/bin/sh\necho 'No journal files were found.' >&2\nexit 1\n")
    failed, r = run_module(audit, args(planted, auth_source="journal"))
    assert failed and "journalctl failed" in r["msg"]


def test_the_documented_threshold_defaults_are_the_ones_applied():
    import yaml

    documented = yaml.safe_load(audit.DOCUMENTATION)["options"]["thresholds"]["suboptions"]
    assert {key: option["default"] for key, option in documented.items()} == audit.DEFAULT_THRESHOLDS

"""roles/log_audit/files/anshin-log-audit, the daily audit on the VM: on planted logs it writes per check the
value and the threshold Prometheus alerts on, keeps the result for the month, refuses bad settings before
anything is read, and a failed audit is exported as failed, never as a clean one. (The timer firing on its
own and the alert reaching Alertmanager: molecule/monitoring_server.)"""

import importlib.machinery
import importlib.util
import json
import os
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT

_loader = importlib.machinery.SourceFileLoader(
    "anshin_log_audit_program", str(ROOT / "roles/log_audit/files/anshin-log-audit")
)
program = importlib.util.module_from_spec(importlib.util.spec_from_loader("anshin_log_audit_program", _loader))
_loader.exec_module(program)

_spec = importlib.util.spec_from_file_location("plant", ROOT / "tests/fixtures/log_audit/plant.py")
plant = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plant)


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Planted logs of the last day, a state directory and a settings file like the role's."""
    logs = tmp_path / "logs"
    logs.mkdir()
    plant.plant(str(logs), int(time.time()) - 120)
    state = tmp_path / "state"
    monkeypatch.setattr(program, "STATE", str(state))
    settings = {
        "hours": 48,
        "access_logs": [f"{logs}/nginx/*access.log*"],
        "error_logs": [f"{logs}/nginx/*error.log*"],
        "auth_source": "files",
        "auth_files": [f"{logs}/auth.log*"],
        "receiver_identifier": "lalert-receiver",
        "approved_ranges": ["10.89.250.1/32"],
        "thresholds": {"attack_requests": 5},
        "top": 20,
        "keep_days": 62,
        "textfile": str(tmp_path / "textfile" / "anshin_log_audit.prom"),
    }
    path = tmp_path / "log-audit.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    return path, settings, state


def metrics(path):
    """{(name, check or None): value} of the textfile."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    return {
        (s.name, s.labels.get("check")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_the_audit_exports_each_check_with_its_threshold_and_keeps_the_result(site, capsys):
    path, settings, state = site
    assert program.main(["anshin-log-audit", str(path)]) == 0  # flagged, but the run itself succeeded
    m = metrics(settings["textfile"])
    assert m[("anshin_log_audit_success", None)] == 1
    assert abs(m[("anshin_log_audit_last_run_timestamp_seconds", None)] - time.time()) < 60
    assert m[("anshin_log_audit_flagged", None)] == 1
    # the planted events (tests/test_module_log_audit.py counts the same): worst SSH source 12, 6 attack requests
    assert m[("anshin_log_audit_check_value", "ssh_failures_per_source")] == 12
    assert m[("anshin_log_audit_check_threshold", "ssh_failures_per_source")] == 10
    assert m[("anshin_log_audit_check_value", "attack_requests")] == 6
    assert m[("anshin_log_audit_check_threshold", "attack_requests")] == 5  # the settings' own threshold
    assert m[("anshin_log_audit_check_threshold", "damaged_files")] == 0  # the rest at their defaults
    crossed = {
        c
        for (name, c), v in m.items()
        if name == "anshin_log_audit_check_value" and v > m[("anshin_log_audit_check_threshold", c)]
    }
    assert crossed == {
        "ssh_failures_per_source",
        "logins_outside_ranges",
        "sudo_refusals",
        "http_5xx_per_hour",
        "attack_requests",
    }
    kept = sorted(os.listdir(state))
    assert len(kept) == 1 and kept[0].startswith("audit-") and kept[0].endswith(".json")
    result = json.loads((state / kept[0]).read_text(encoding="utf-8"))
    assert result["counts"]["attack_requests"] == 6 and result["flagged"] is True
    assert oct(os.stat(state / kept[0]).st_mode & 0o777) == "0o640"
    out = capsys.readouterr().out
    assert "FLAGGED" in out and "attack_requests=6>5" in out


def test_results_older_than_keep_days_are_removed_and_newer_kept(site):
    path, settings, state = site
    state.mkdir()
    old, recent = state / "audit-20200101T0600.json", state / "audit-20200102T0600.json"
    for file, age_days in ((old, 63), (recent, 61)):
        file.write_text("{}", encoding="utf-8")
        stamp = time.time() - age_days * 86400
        os.utime(file, (stamp, stamp))
    assert program.main(["anshin-log-audit", str(path)]) == 0
    assert not old.exists() and recent.exists() and len(os.listdir(state)) == 2


def test_a_failed_audit_is_exported_as_failed_without_check_values(site, monkeypatch):
    path, settings, state = site
    settings["auth_source"] = "journal"
    path.write_text(json.dumps(settings), encoding="utf-8")
    monkeypatch.setattr(program.shutil, "which", lambda name: None)  # no journalctl: the audit cannot run
    assert program.main(["anshin-log-audit", str(path)]) == 1
    m = metrics(settings["textfile"])
    assert m[("anshin_log_audit_success", None)] == 0
    assert not [key for key in m if key[0] in ("anshin_log_audit_check_value", "anshin_log_audit_flagged")]
    assert not state.exists() or not os.listdir(state)


@pytest.mark.parametrize(
    "change,message",
    [
        ({"thresholds": {"attack_requests": -1}}, "thresholds.attack_requests: a whole number >= 0"),
        ({"thresholds": {"attack_request": 3}}, "thresholds.attack_request: unknown check"),
        ({"thresholds": {"attack_requests": "5"}}, "thresholds.attack_requests: a whole number >= 0"),
        ({"approved_ranges": ["10.0.0.0/33"]}, "approved_ranges: '10.0.0.0/33' is not a CIDR"),
        ({"since": "2026-11-01"}, "since: the scheduled audit always reads the last hours up to now"),
        ({"keep_days": 0}, "keep_days: at least 1"),
        ({"hours": "24"}, "hours: a whole number"),
        ({"access_logs": "/var/log/nginx/access.log"}, "access_logs: a list of strings"),
        ({"auth_source": "syslog"}, "auth_source: one of auto, journal, files, none"),
        ({"textfiles": "/tmp/x.prom"}, "unknown setting 'textfiles'"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_read(site, capsys, change, message):
    path, settings, state = site
    path.write_text(json.dumps(dict(settings, **change)), encoding="utf-8")
    assert program.main(["anshin-log-audit", str(path), "--check"]) == 1
    assert program.main(["anshin-log-audit", str(path)]) == 1
    assert message in capsys.readouterr().err
    assert not os.path.exists(settings["textfile"]) and not state.exists()


def test_the_check_passes_good_settings_without_reading_a_log(site):
    path, settings, state = site
    assert program.main(["anshin-log-audit", str(path), "--check"]) == 0
    assert not os.path.exists(settings["textfile"]) and not state.exists()


def test_a_settings_file_that_is_not_json_is_refused(tmp_path, capsys):
    path = tmp_path / "log-audit.json"
    path.write_text("{not json", encoding="utf-8")
    assert program.main(["anshin-log-audit", str(path), "--check"]) == 1
    assert "settings refused" in capsys.readouterr().err

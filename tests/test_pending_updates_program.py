"""roles/patching/files/anshin-pending-updates, the daily check on the VM, against the fake APT cache of
tests/test_module_pending_updates.py: it refreshes the lists, keeps its result, writes the metrics the alerts
read, and a check that cannot run is exported as failed, never as a clean one. (The service in its sandbox
against real apt repositories: molecule/patching.)"""

import importlib.machinery
import importlib.util
import json
import os
import sys
import types

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_module_pending_updates import MAIN_LISTS, SECURITY_LIST, FakeCache, origin, package

from conftest import ROOT

_loader = importlib.machinery.SourceFileLoader(
    "anshin_pending_updates_program", str(ROOT / "roles/patching/files/anshin-pending-updates")
)
program = importlib.util.module_from_spec(importlib.util.spec_from_loader("anshin_pending_updates_program", _loader))
_loader.exec_module(program)


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A fake APT cache with one security update, the program's state in tmp_path, the commands it runs."""
    cache = FakeCache(
        [
            package("openssl", "3.0.1", "3.0.2", [origin("Debian-Security", "bookworm-security")]),
            package("less", "590-2", "590-3", [origin("Debian", "bookworm")]),
        ],
        MAIN_LISTS + [SECURITY_LIST],
    )
    monkeypatch.setitem(sys.modules, "apt", types.SimpleNamespace(Cache=lambda: cache))
    monkeypatch.setattr(program.check, "running_units", dict)
    monkeypatch.setattr(program.check, "needrestart_now", lambda run, which: [])
    monkeypatch.setattr(program, "STATE", str(tmp_path / "state"))
    settings = {"state_file": str(tmp_path / "state" / "first-seen.json"), "textfile": str(tmp_path / "p.prom")}
    path = tmp_path / "pending-updates.json"
    path.write_text(json.dumps(settings), encoding="utf-8")
    fake = types.SimpleNamespace(path=path, settings=settings, calls=[], cache=cache, apt_get_update=(0, "", ""))

    def run(argv):  # apt-get update's (rc, out, err) as the test sets it
        fake.calls.append(argv)
        return fake.apt_get_update

    monkeypatch.setattr(program, "run", run)
    return fake


def host_values(path):
    with open(path, encoding="utf-8") as fh:
        return {s.name: s.value for f in text_string_to_metric_families(fh.read()) for s in f.samples}


def test_the_check_refreshes_the_lists_keeps_its_result_and_writes_the_metrics(host, capsys):
    h = host
    assert program.main(["anshin-pending-updates", str(h.path)]) == 0
    assert h.calls == [["apt-get", "update", "-q"]]  # always refreshed, though the settings do not ask
    with open(os.path.join(program.STATE, "last-check.json"), encoding="utf-8") as fh:
        last = json.load(fh)
    assert [(p["name"], p["security"]) for p in last["packages"]] == [("less", False), ("openssl", True)]
    values = host_values(h.settings["textfile"])
    assert values["anshin_patch_check_success"] == 1
    assert values["anshin_patch_check_last_run_timestamp_seconds"] == last["checked_at"]
    assert values["anshin_patch_pending_security_updates"] == 1 and values["anshin_patch_pending_updates"] == 2
    assert os.path.exists(h.settings["state_file"])  # first sight kept for the age
    assert "2 pending (1 security" in capsys.readouterr().out


def test_a_failed_refresh_is_exported_as_a_failed_check(host, capsys):
    h = host
    h.apt_get_update = (100, "", "E: Could not resolve deb.debian.org")
    assert program.main(["anshin-pending-updates", str(h.path)]) == 1
    assert "apt-get update failed: E: Could not resolve" in capsys.readouterr().err
    values = host_values(h.settings["textfile"])
    assert values["anshin_patch_check_success"] == 0
    assert "anshin_patch_pending_security_updates" not in values  # no stale count that looks like a clean one
    assert not os.path.exists(os.path.join(program.STATE, "last-check.json"))


def test_a_host_without_a_security_source_is_a_failed_check(host, capsys):
    h = host
    h.cache._cache.file_list = list(MAIN_LISTS)
    assert program.main(["anshin-pending-updates", str(h.path)]) == 1
    assert "no security source" in capsys.readouterr().err
    assert host_values(h.settings["textfile"])["anshin_patch_check_success"] == 0


@pytest.mark.parametrize(
    "change,message",
    [
        ({"state_files": "/x"}, "unknown setting 'state_files'"),
        ({"security_patterns": "-security$"}, "security_patterns: a list of strings"),
        ({"state_file": ""}, "state_file: a path"),
        ({"require_security_source": "yes"}, "require_security_source: true or false"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(host, capsys, change, message):
    h = host
    h.path.write_text(json.dumps(dict(h.settings, **change)), encoding="utf-8")
    assert program.main(["anshin-pending-updates", str(h.path), "--check"]) == 1
    assert program.main(["anshin-pending-updates", str(h.path)]) == 1
    assert message in capsys.readouterr().err
    assert h.calls == [] and not os.path.exists(h.settings["textfile"])


def test_the_check_passes_good_settings_without_running_anything(host):
    assert program.main(["anshin-pending-updates", str(host.path), "--check"]) == 0
    assert host.calls == [] and not os.path.exists(host.settings["textfile"])

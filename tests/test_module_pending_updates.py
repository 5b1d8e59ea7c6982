"""library/anshin_pending_updates.py against a fake APT cache: security marking, first sight and age,
restart and reboot prediction, metrics. (Against a real apt repository: molecule/patching.)"""

import json
import os
import sys
import time
import types

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import load_module

mod = load_module("anshin_pending_updates")
lib = sys.modules["ansible.module_utils.anshin_pending_updates"]  # the check's body, shared with the daily check


def origin(label, archive):
    return types.SimpleNamespace(label=label, archive=archive)


def package(name, installed, candidate, origins, files=(), upgradable=True):
    return types.SimpleNamespace(
        name=name,
        is_upgradable=upgradable,
        is_installed=True,
        installed=types.SimpleNamespace(version=installed),
        candidate=types.SimpleNamespace(version=candidate, origins=origins),
        installed_files=list(files),
    )


def package_file(site, archive, label):
    return types.SimpleNamespace(site=site, archive=archive, label=label, filename=f"/var/lib/apt/lists/{site}")


class FakeCache(list):
    """apt.Cache: iterates packages; _cache.file_list are the package lists read."""

    def __init__(self, packages, files):
        super().__init__(packages)
        self._cache = types.SimpleNamespace(file_list=files)


MAIN_LISTS = [package_file("deb.debian.org", "bookworm", "Debian"), package_file("", "now", "")]
SECURITY_LIST = package_file("deb.debian.org", "bookworm-security", "Debian-Security")


@pytest.fixture
def fake_apt(monkeypatch):
    cache = FakeCache(
        [
            package(
                "openssl",
                "3.0.1",
                "3.0.2",
                [origin("Debian-Security", "bookworm-security")],
                ["/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/share/doc/openssl/README"],
            ),
            package("less", "590-2", "590-3", [origin("Debian", "bookworm")], ["/usr/bin/less"]),
            package("linux-image-amd64", "6.1.1", "6.1.2", [origin("Debian", "bookworm-security")]),
            package("curl", "7.88", "7.88", [origin("Debian", "bookworm")], upgradable=False),
        ],
        MAIN_LISTS + [SECURITY_LIST],
    )
    monkeypatch.setitem(sys.modules, "apt", types.SimpleNamespace(Cache=lambda: cache))
    monkeypatch.setattr(
        lib,
        "running_units",
        lambda: {
            "/usr/lib/x86_64-linux-gnu/libssl.so.3": {"nginx.service", "lalert-receiver.service"},
            "/usr/share/doc/openssl/README": {"never.service"},
        },
    )
    monkeypatch.setattr(lib, "needrestart_now", lambda run, which: ["ssh.service"])
    return cache


def test_lists_marks_and_predicts(fake_apt, run_module, tmp_path):
    failed, r = run_module(mod, {"state_file": str(tmp_path / "seen.json"), "textfile": str(tmp_path / "p.prom")})
    assert not failed and r["changed"] is False
    assert [(p["name"], p["security"], p["reboot"]) for p in r["packages"]] == [
        ("less", False, False),
        ("linux-image-amd64", True, True),
        ("openssl", True, False),
    ]
    assert r["pending"] == 3 and r["pending_security"] == 2
    assert r["restart_units"] == ["lalert-receiver.service", "nginx.service"]  # libraries only, not docs
    assert r["reboot_after"] is True and r["restart_needed_now"] == ["ssh.service"]
    prom = (tmp_path / "p.prom").read_text()
    values = {s.name: s.value for f in text_string_to_metric_families(prom) for s in f.samples}
    assert abs(values.pop("anshin_patch_check_last_run_timestamp_seconds") - time.time()) < 60
    assert values == {
        "anshin_patch_check_success": 1,
        "anshin_patch_pending_updates": 3,
        "anshin_patch_pending_security_updates": 2,
        "anshin_patch_oldest_pending_seconds": 0,
        "anshin_patch_oldest_pending_security_seconds": 0,
        "anshin_patch_reboot_required": int(os.path.exists("/run/reboot-required")),  # the test machine's own
    }
    assert "# HELP anshin_patch_oldest_pending_seconds Age of the update pending longest.\n" in prom


def test_age_counts_from_first_sight_and_forgets_applied_updates(fake_apt, run_module, tmp_path):
    seen = tmp_path / "seen.json"
    seen.write_text(json.dumps({"openssl=3.0.2": 1000, "gone=1.0": 10}))
    _, r = run_module(mod, {"state_file": str(seen)})
    assert r["oldest_pending_seconds"] > 1_700_000_000  # since epoch 1000
    kept = json.loads(seen.read_text())
    assert kept["openssl=3.0.2"] == 1000 and "gone=1.0" not in kept and "less=590-3" in kept


def test_the_security_age_is_that_of_the_oldest_security_update_not_of_any_update(fake_apt, run_module, tmp_path):
    """An old ordinary update and a fresh security one: the alert on security updates pending for N days
    (SecurityUpdatesPending) reads the security age, so it stays quiet until the security update is old."""
    seen = tmp_path / "seen.json"
    now = int(time.time())
    seen.write_text(json.dumps({"less=590-3": now - 30 * 86400, "openssl=3.0.2": now - 2 * 86400}))
    _, r = run_module(mod, {"state_file": str(seen), "textfile": str(tmp_path / "p.prom")})
    assert 30 * 86400 <= r["oldest_pending_seconds"] < 30 * 86400 + 60
    # linux-image-amd64 (security) is seen for the first time now; openssl two days ago
    assert 2 * 86400 <= r["oldest_pending_security_seconds"] < 2 * 86400 + 60
    prom = (tmp_path / "p.prom").read_text()
    values = {s.name: s.value for f in text_string_to_metric_families(prom) for s in f.samples}
    assert values["anshin_patch_oldest_pending_security_seconds"] == r["oldest_pending_security_seconds"]


def test_a_superseded_pending_update_keeps_its_age(fake_apt, run_module, tmp_path):
    """openssl 3.0.15 was pending 10 days when 3.0.2 (the fake's candidate) replaced it, never installed: the
    package has been pending all along, so the security age does not start again."""
    seen = tmp_path / "seen.json"
    now = int(time.time())
    seen.write_text(json.dumps({"openssl=3.0.15": now - 10 * 86400}))
    _, r = run_module(mod, {"state_file": str(seen)})
    assert 10 * 86400 <= r["oldest_pending_security_seconds"] < 10 * 86400 + 60
    assert json.loads(seen.read_text())["openssl=3.0.2"] == now - 10 * 86400


def test_bad_pattern_is_refused(fake_apt, run_module, tmp_path):
    failed, r = run_module(mod, {"state_file": str(tmp_path / "s.json"), "security_patterns": ["("]})
    assert failed and "security_patterns" in r["msg"]


def test_names_the_security_sources_it_read(fake_apt, run_module, tmp_path):
    _, r = run_module(mod, {"state_file": str(tmp_path / "s.json")})
    assert r["security_sources"] == ["deb.debian.org bookworm-security"]


def test_a_host_without_a_security_source_fails_loudly(fake_apt, run_module, tmp_path):
    fake_apt._cache.file_list = list(MAIN_LISTS)
    failed, r = run_module(mod, {"state_file": str(tmp_path / "s.json")})
    assert failed and "no security source" in r["msg"] and "base_apt_security_mirror" in r["msg"]
    assert not (tmp_path / "s.json").exists()  # nothing written from a report that cannot be trusted


def test_the_source_check_can_be_switched_off(fake_apt, run_module, tmp_path):
    fake_apt._cache.file_list = list(MAIN_LISTS)
    failed, r = run_module(mod, {"state_file": str(tmp_path / "s.json"), "require_security_source": False})
    assert not failed and r["security_sources"] == [] and r["pending_security"] == 2

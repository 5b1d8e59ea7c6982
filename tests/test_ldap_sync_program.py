"""roles/ldap_sync/files/anshin-ldap-sync: when the scheduled sync reads only the changes and when it
reconciles both directories in full. (The run itself against two real slapd: molecule/ldap_sync.)"""

import importlib.machinery
import importlib.util

import pytest

from conftest import ROOT

_loader = importlib.machinery.SourceFileLoader(
    "anshin_ldap_sync_program", str(ROOT / "roles/ldap_sync/files/anshin-ldap-sync")
)
program = importlib.util.module_from_spec(importlib.util.spec_from_loader("anshin_ldap_sync_program", _loader))
_loader.exec_module(program)

SETTINGS = {
    "source": {"url": "ldaps://pref.test", "base_dn": "ou=staff,dc=pref", "bind_password": "a"},
    "target": {"url": "ldap://127.0.0.1", "base_dn": "dc=anshin", "bind_password": "b"},
    "attribute_map": {"uid": "uid", "cn": "cn", "sn": "sn", "departmentNumber": "ou"},
    "reorganisation": [{"type": "rename", "from": "防災課", "to": "危機管理課", "effective": "2027-04-01"}],
    "full_reconcile_hours": 24,
}
NOW = 1_800_000_000.0


def state(**changes):
    return {
        "fingerprint": program.fingerprint(SETTINGS, "2027-03-31"),
        "watermark": "20270331000000Z",
        "last_full": NOW - 3600,
        **changes,
    }


def test_a_run_after_a_recent_full_reconcile_reads_only_the_changes():
    # read a second after the last change: that second may still have been written to, it is read again
    since, why = program.changed_since(state(read_at="20270331000001Z"), SETTINGS, "2027-03-31", NOW, False)
    assert since == "20270331000000Z" and "changes since 20270331000000Z" in why
    # read an hour after it: that second was over, the changes read are those after it
    since, _ = program.changed_since(state(read_at="20270331010000Z"), SETTINGS, "2027-03-31", NOW, False)
    assert since == "20270331000001Z"
    since, _ = program.changed_since(state(read_at="20270331000100Z"), SETTINGS, "2027-03-31", NOW, False)
    assert since == "20270331000001Z"
    # an older state without the time of its read: the mark's second again
    assert program.changed_since(state(), SETTINGS, "2027-03-31", NOW, False)[0] == "20270331000000Z"


@pytest.mark.parametrize(
    ("the_state", "settings", "as_of", "forced", "reason"),
    [
        (state(), SETTINGS, "2027-03-31", True, "--full"),
        ({}, SETTINGS, "2027-03-31", False, "no earlier run"),
        (state(watermark=None), SETTINGS, "2027-03-31", False, "no earlier run"),  # the source gave no marks
        (state(last_full=NOW - 24 * 3600), SETTINGS, "2027-03-31", False, "24 hours old"),
        # the reorganisation comes into force: everyone in the department moves, though nobody changed
        (state(), SETTINGS, "2027-04-01", False, "reorganisation in force changed"),
        (
            state(),
            {**SETTINGS, "attribute_map": {**SETTINGS["attribute_map"], "mail": "mail"}},
            "2027-03-31",
            False,
            "settings",
        ),
        (state(), {**SETTINGS, "leaver_policy": "delete"}, "2027-03-31", False, "settings"),
    ],
)
def test_a_full_reconcile_runs_when_the_changes_alone_are_not_enough(the_state, settings, as_of, forced, reason):
    since, why = program.changed_since(the_state, settings, as_of, NOW, forced)
    assert since is None and reason in why


def test_a_new_password_alone_does_not_force_a_full_reconcile():
    rotated = {**SETTINGS, "source": {**SETTINGS["source"], "bind_password": "rotated"}}
    assert program.fingerprint(rotated, "2027-03-31") == program.fingerprint(SETTINGS, "2027-03-31")


def test_an_unreadable_state_means_a_full_reconcile(tmp_path, monkeypatch):
    monkeypatch.setattr(program, "STATE", str(tmp_path))
    (tmp_path / "state.json").write_text("{not json", encoding="utf-8")
    assert program.read_state() == {}
    (tmp_path / "state.json").write_text("[1]", encoding="utf-8")
    assert program.read_state() == {}


def test_a_wrong_command_line_is_refused(capsys):
    assert program.main(["anshin-ldap-sync", "settings.json", "--fast"]) == 2
    assert "usage: anshin-ldap-sync SETTINGS.json [--full]" in capsys.readouterr().err

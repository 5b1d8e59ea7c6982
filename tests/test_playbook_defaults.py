"""Playbooks pass one role's inputs to another (dependent lists: the receiver's paths to the backup, the sudo
logs to log retention, ...) with the owner's default as the fallback: `{{ lalert_receiver_database |
default('/var/lib/lalert/receiver.sqlite3') }}`. That fallback must be the owner's own default, or a VM
whose inventory does not set the variable would back up, check or open the wrong thing."""

import ast
import re

import pytest

from conftest import ROOT, load_yaml

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
USE = re.compile(rf"\b((?:{'|'.join(ROLES)})_[a-z0-9_]+)\s*\|\s*default\(([^()]*)\)")
FILES = sorted([ROOT / "site.yml"] + list((ROOT / "playbooks").rglob("*.yml")))


def role_defaults():
    values = {}
    for role in ROLES:
        path = ROOT / "roles" / role / "defaults" / "main.yml"
        if path.exists():
            values.update(load_yaml(path) or {})
    return values


def fallbacks():
    found = []
    for path in FILES:
        for name, argument in USE.findall(path.read_text(encoding="utf-8")):
            text = argument.split(",")[0].strip()  # default(value, true): the value
            text = {"true": "True", "false": "False"}.get(text, text)
            try:
                found.append((path.relative_to(ROOT).as_posix(), name, ast.literal_eval(text)))
            except (ValueError, SyntaxError):
                continue  # an expression, not a literal
    return found


def test_playbooks_pass_the_owners_variables_with_fallbacks():
    names = {name for _, name, _ in fallbacks()}
    for expected in (
        "lalert_receiver_database",
        "lalert_receiver_spool_dir",
        "remote_access_sudo_iolog_dir",
        "ldap_sync_target_domain",
        "lalert_receiver_install_dir",
        "lalert_receiver_config_dir",
    ):
        assert expected in names


@pytest.mark.parametrize("where, name, fallback", fallbacks(), ids=lambda v: str(v))
def test_a_fallback_is_the_owners_default(where, name, fallback):
    defaults = role_defaults()
    if name not in defaults:
        pytest.skip(f"{name} is not a role default")
    owner = defaults[name]
    if isinstance(owner, str) and "{{" in owner:
        pytest.skip(f"{name}: the owner's default is templated")
    assert fallback == owner, f"{where}: {name} | default({fallback!r}), but the role's default is {owner!r}"

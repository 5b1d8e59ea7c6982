"""Honest platforms: every role claims (meta/main.yml), accepts (tasks/platform.yml) and carries code for
exactly what the molecule scenarios test, Debian 12 (bookworm) and 13 (trixie), and refuses any other host
before any change."""

import re

import pytest
from ansible.template import Templar, trust_as_template

from conftest import ROOT, load_yaml, role_entries

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
PLATFORMS = {"Debian": {"12": "bookworm", "13": "trixie"}}
# platforms no scenario runs: nothing of theirs may stay in a role
OTHER_PLATFORMS = re.compile(
    r"red ?hat|\bdnf\b|\byum\b|rocky|centos|almalinux|\bEL ?[0-9]\b|/etc/sysconfig/", re.IGNORECASE
)
IMPORT_PLATFORM = {
    "name": "Refuse an untested platform before any change",
    "ansible.builtin.import_tasks": "platform.yml",
}


def _tasks(role, name):
    return load_yaml(ROOT / "roles" / role / "tasks" / f"{name}.yml") or []


def _platform_assert(role):
    return _tasks(role, "platform")[1]["ansible.builtin.assert"]


def test_there_are_roles():
    assert ROLES


@pytest.mark.parametrize("role", ROLES)
def test_meta_names_exactly_debian_bookworm_and_trixie(role):
    meta = load_yaml(ROOT / "roles" / role / "meta" / "main.yml")
    assert meta["galaxy_info"]["platforms"] == [{"name": "Debian", "versions": ["bookworm", "trixie"]}]
    assert meta.get("dependencies") == []


@pytest.mark.parametrize("role", ROLES)
def test_the_accepted_platforms_are_the_claimed_ones(role):
    platforms = load_yaml(ROOT / "roles" / role / "vars" / "main.yml")[f"_{role}_platforms"]
    assert platforms == PLATFORMS
    claimed = load_yaml(ROOT / "roles" / role / "meta" / "main.yml")["galaxy_info"]["platforms"]
    assert [{"name": name, "versions": sorted(versions.values())} for name, versions in platforms.items()] == claimed


@pytest.mark.parametrize("role", ROLES)
def test_no_code_for_other_platforms(role):
    base = ROOT / "roles" / role
    for path in sorted(p for p in base.rglob("*") if p.is_file()):
        text = path.read_text(encoding="utf-8", errors="replace")
        hits = [m.group(0) for m in OTHER_PLATFORMS.finditer(text)]
        assert not hits, f"{path.relative_to(ROOT)} mentions {hits}"
        assert "os_family }}" not in text, f"{path.relative_to(ROOT)} loads files per OS family"
    assert [p.name for p in (base / "vars").glob("*.yml")] == ["main.yml"], f"{role}: vars per platform"


@pytest.mark.parametrize("role", ROLES)
def test_platform_tasks_gather_then_assert(role):
    gather, check = _tasks(role, "platform")
    assert gather["ansible.builtin.setup"] == {"gather_subset": ["min"]}
    assert gather["when"] == "ansible_facts.distribution_major_version is not defined"
    assert f"_{role}_platforms" in check["ansible.builtin.assert"]["that"]
    assert check["ansible.builtin.assert"]["fail_msg"].startswith(
        f"{role} supports Debian 12 (bookworm) and 13 (trixie) only; this host is"
    )
    # on the managed host, every time: never skipped, delegated or ignored
    for task in (gather, check):
        assert not {"delegate_to", "ignore_errors", "failed_when", "run_once"} & set(task)
    assert "when" not in check


@pytest.mark.parametrize("role", ROLES)
def test_main_checks_the_platform_first(role):
    first = _tasks(role, "main")[0]
    if first.get("ansible.builtin.import_tasks") == "validate.yml":
        assert "when" not in first
        first = _tasks(role, "validate")[0]
    assert first == IMPORT_PLATFORM, f"{role}: the first task of its validation is not the platform check"


def test_every_entry_point_checks_the_platform_first():
    entries = role_entries()
    assert ("backup", "now") in entries and ("monitoring_server", "resource_report") in entries
    for role, tasks_from in sorted(entries):
        first = _tasks(role, tasks_from)[0]
        if first.get("ansible.builtin.import_tasks") == "validate.yml":
            first = _tasks(role, "validate")[0]
        assert first == IMPORT_PLATFORM, f"roles/{role}/tasks/{tasks_from}.yml does not check the platform first"


def _facts(distribution, family, version):
    return {
        "distribution": distribution,
        "os_family": family,
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0],
    }


@pytest.mark.parametrize(
    "facts, accepted",
    [
        (_facts("Debian", "Debian", "12.8"), True),
        (_facts("Debian", "Debian", "13.2"), True),
        (_facts("Debian", "Debian", "11.11"), False),
        (_facts("Debian", "Debian", "14"), False),
        (_facts("Debian", "Debian", "n/a"), False),
        (_facts("Ubuntu", "Debian", "24.04"), False),
        (_facts("Ubuntu", "Debian", "12.04"), False),  # an old Ubuntu's major version is not Debian 12
        (_facts("RedHat", "RedHat", "9.4"), False),
        (_facts("Rocky", "RedHat", "9.4"), False),
        ({"distribution": "Debian", "distribution_major_version": "12"}, False),  # no family: unknown, refused
        ({}, False),  # nothing known: refused, never let through
    ],
    ids=[
        "debian12",
        "debian13",
        "debian11",
        "debian14",
        "debian-testing",
        "ubuntu24",
        "ubuntu12",
        "rhel9",
        "rocky9",
        "no-family",
        "no-facts",
    ],
)
@pytest.mark.parametrize("role", ROLES)
def test_the_platform_condition(role, facts, accepted):
    check = _platform_assert(role)
    variables = {**load_yaml(ROOT / "roles" / role / "vars" / "main.yml"), "ansible_facts": facts}
    templar = Templar(variables=variables)
    assert templar.evaluate_conditional(trust_as_template(check["that"])) is accepted
    message = templar.template(trust_as_template(check["fail_msg"]))
    assert message.startswith(f"{role} supports Debian 12 (bookworm) and 13 (trixie) only; this host is ")
    assert message.endswith(f"{facts.get('distribution', 'unknown')} {facts.get('distribution_version', 'unknown')}")


@pytest.mark.parametrize("role", ROLES)
def test_facts_are_gathered_only_when_missing(role):
    gather = _tasks(role, "platform")[0]
    for facts, expected in (({}, True), (_facts("Debian", "Debian", "12.8"), False)):
        assert (
            Templar(variables={"ansible_facts": facts}).evaluate_conditional(trust_as_template(gather["when"]))
            is expected
        )

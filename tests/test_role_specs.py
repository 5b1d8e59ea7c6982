"""Every role documents and validates its inputs, at every way into it.

meta/argument_specs.yml declares one entry point per tasks file a play or a role enters (`main`, and each
`tasks_from:`): ansible-core validates `tasks_from: X` against `argument_specs.X` before the first task, and
runs nothing for a tasks file without one. `main` documents every input of the role (the same keys and
default values as defaults/main.yml); any other entry point documents exactly what its tasks read, each
option as `main` declares it. Every role README names its entry points."""

import functools
import re

import pytest
import yaml
from ansible.template import Templar, trust_as_template

from conftest import ROOT, load_yaml, role_entries

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
TASK_CALLS = ("ansible.builtin.import_tasks", "ansible.builtin.include_tasks", "import_tasks", "include_tasks")
# what an option must say the same way in every entry point (the description may say it for that entry point)
SAME = ("type", "elements", "default", "choices", "required", "no_log")
# tasks files a unit test includes on the controller to test them alone: parts of an entry point, not one
TESTED_DIRECTLY = {
    ("patching", "apply_gates"),  # tests/test_patching_gates.py: the disaster gate of apply.yml
    ("patching", "validate"),  # tests/test_patching_gates.py: the window's input check
    ("lalert_receiver", "artifact"),  # tests/test_receiver_artifact.py: the artifact check of validate.yml
}


@functools.cache
def _specs(role):
    return load_yaml(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]


def _spec(role):
    return _specs(role)["main"]


def _defaults(role):
    path = ROOT / "roles" / role / "defaults" / "main.yml"
    return (load_yaml(path) or {}) if path.exists() else {}


def _entry_points():
    return [(role, name) for role in ROLES for name in _specs(role)]


@functools.cache
def _entered_by_tests():
    """(role, tasks file) of the playbooks the Python tests write: `name: ROLE` then `tasks_from: FILE`, or a
    template's `tasks_from: {tasks_from}` filled in by its callers' `tasks_from="FILE"` in the same file."""
    literal = re.compile(r"name:\s*([a-z_]+)\s*\n\s*tasks_from:\s*([a-z_]+)")
    template = re.compile(r"name:\s*([a-z_]+)\s*\n\s*tasks_from:\s*\{tasks_from\}")
    filled_in = re.compile(r"\btasks_from=\"([a-z_]+)\"")
    entered = set()
    for path in [*(ROOT / "tests").rglob("*.py"), *(ROOT / "molecule").rglob("*.py")]:
        text = path.read_text(encoding="utf-8")
        entered |= set(literal.findall(text))
        entered |= {(role, name) for role in template.findall(text) for name in filled_in.findall(text)}
    return entered


def _reads(role, entry_point):
    """The role's variables an entry point reads: its tasks file and what it imports or includes (skipping
    the checks guarded off for this entry point by _ROLE_entry_point), the handlers they notify, the
    templates they name and the internals of vars/main.yml these use."""
    base = ROOT / "roles" / role
    internals = load_yaml(base / "vars" / "main.yml") or {}
    entry_var = f"_{role}_entry_point"
    texts = []

    def skipped(task, current):
        when = task.get("when")
        if not isinstance(when, str) or entry_var not in when:
            return False
        return not Templar(variables={entry_var: current}).evaluate_conditional(trust_as_template(when))

    def walk(tasks, current):
        for task in tasks or []:
            if skipped(task, current):
                continue
            for key in ("block", "rescue", "always"):
                walk(task.get(key), current)
            for key in TASK_CALLS:
                target = task.get(key)
                if isinstance(target, str) and "{{" not in target:
                    walk(load_yaml(base / "tasks" / target), (task.get("vars") or {}).get(entry_var, current))
            texts.append(yaml.safe_dump({k: v for k, v in task.items() if k not in ("block", "rescue", "always")}))

    walk(load_yaml(base / "tasks" / f"{entry_point}.yml"), "main")
    notified = set()
    for task in map(yaml.safe_load, texts):
        notify = task.get("notify", [])
        notified |= {notify} if isinstance(notify, str) else set(notify)
    handlers = base / "handlers" / "main.yml"
    for handler in (load_yaml(handlers) or []) if handlers.exists() else []:
        if {handler.get("name"), handler.get("listen")} & notified:
            texts.append(yaml.safe_dump(handler))
    text = "\n".join(texts)
    for template in sorted((base / "templates").glob("*.j2")):
        if template.name[: -len(".j2")] in text:
            text += "\n" + template.read_text(encoding="utf-8")
    seen = set()
    while True:
        used = (set(re.findall(rf"(?<![A-Za-z0-9_])_{role}_[a-z0-9_]+", text)) & set(internals)) - seen
        if not used:
            break
        seen |= used
        text += "\n" + "\n".join(yaml.safe_dump({name: internals[name]}) for name in sorted(used))
    names = set(re.findall(rf"(?<![A-Za-z0-9_]){role}_[a-z0-9_]+", text))
    return {name for name in names if not name.endswith("_")}  # backup_keep_* in a message names a family


def test_there_are_roles():
    assert ROLES


@pytest.mark.parametrize("role", ROLES)
def test_defaults_keys_equal_spec_options(role):
    options = set(_spec(role)["options"])
    defaults = set(_defaults(role))
    assert defaults - options == set(), f"{role}: defaults not in argument_specs"
    optional = {k for k, v in _spec(role)["options"].items() if not v.get("required")}
    assert optional - defaults == set(), f"{role}: optional options without a default"


@pytest.mark.parametrize("role, entry_point", _entry_points())
def test_defaults_agree_with_spec_defaults(role, entry_point):
    """Each entry point's option defaults are defaults/main.yml's; an input that is not a role default (a
    playbook passes it) is required."""
    defaults = _defaults(role)
    for key, option in (_specs(role)[entry_point].get("options") or {}).items():
        if key in defaults:
            assert option.get("default") == defaults[key], f"{role} {entry_point}: default of {key} differs"
            assert not option.get("required"), f"{role} {entry_point}: {key} has a default but is required"
        else:
            assert option.get("required"), f"{role} {entry_point}: {key} is no role default, so it is required"


@pytest.mark.parametrize("role, entry_point", _entry_points())
def test_every_option_is_prefixed_and_described(role, entry_point):
    spec = _specs(role)[entry_point]
    assert spec.get("short_description") and spec.get("description"), f"{role} {entry_point}: undocumented"
    for key, opt in (spec.get("options") or {}).items():
        assert key.startswith(role + "_"), f"{role} {entry_point}: option {key} lacks the role prefix"
        assert opt.get("description"), f"{role} {entry_point}: option {key} has no description"
        assert opt.get("type"), f"{role} {entry_point}: option {key} has no type"


@pytest.mark.parametrize("role, entry_point", [e for e in _entry_points() if e[1] != "main"])
def test_an_entry_points_options_are_mains(role, entry_point):
    """main documents every input; another entry point declares each of its options the same way."""
    main = _spec(role)["options"]
    for key, option in (_specs(role)[entry_point].get("options") or {}).items():
        assert key in main, f"{role} {entry_point}: {key} is not an input of the role (main)"
        for field in SAME:
            assert option.get(field) == main[key].get(field), f"{role} {entry_point}: {key}'s {field} differs from main"


@pytest.mark.parametrize("role, entry_point", _entry_points())
def test_an_entry_point_declares_what_it_reads(role, entry_point):
    """An entry point's options are the role's variables its tasks read; main's include every one it reads
    (main also documents what the playbooks read, such as ldap_sync_run)."""
    reads = _reads(role, entry_point)
    options = set(_specs(role)[entry_point].get("options") or {})
    assert reads - options == set(), f"{role} {entry_point}: reads variables it does not declare"
    if entry_point != "main":
        assert options - reads == set(), f"{role} {entry_point}: declares variables it does not read"


def test_every_way_into_a_role_has_an_entry_point():
    entered = role_entries()
    assert ("backup", "now") in entered and ("monitoring_server", "probe_history") in entered
    assert ("ldap_sync", "sync") in entered and ("base", "main") in entered
    for role, name in sorted(entered):
        assert role in ROLES, f"{role} is not a role of this repository"
        assert name in _specs(role), f"tasks_from: {name} of role {role} has no entry point in argument_specs"


def test_tests_enter_a_role_by_an_entry_point_or_test_a_file_alone():
    entered = _entered_by_tests()
    assert entered >= TESTED_DIRECTLY, "TESTED_DIRECTLY names a file no test includes any more"
    for role, name in sorted(entered):
        assert name in _specs(role) or (role, name) in TESTED_DIRECTLY, f"a test enters {role} by {name}"
    assert not TESTED_DIRECTLY & role_entries(), "a playbook or role enters a file only a test should include"


@pytest.mark.parametrize("role, entry_point", _entry_points())
def test_every_entry_point_has_its_tasks_file_and_is_used(role, entry_point):
    assert (ROOT / "roles" / role / "tasks" / f"{entry_point}.yml").is_file(), f"{role}: no tasks/{entry_point}.yml"
    assert (role, entry_point) in role_entries(), f"{role}: nothing enters by {entry_point}"


def _readme_entry_points(role):
    """The first column of the table under the README's '## Entry points'."""
    text = (ROOT / "roles" / role / "README.md").read_text(encoding="utf-8")
    section = re.search(r"^## Entry points\n(.*?)(?=^## |\Z)", text, re.MULTILINE | re.DOTALL)
    assert section, f"roles/{role}/README.md has no '## Entry points' section"
    return re.findall(r"^\| `([a-z_]+)` \|", section.group(1), re.MULTILINE)


@pytest.mark.parametrize("role", ROLES)
def test_the_readme_names_every_entry_point(role):
    named = _readme_entry_points(role)
    assert sorted(named) == sorted(_specs(role)), f"roles/{role}/README.md: entry points {named}"


@pytest.mark.parametrize("role", ROLES)
def test_role_internals_are_prefixed(role):
    """vars/ may only hold internals (_role_*), never inputs."""
    for path in (ROOT / "roles" / role / "vars").glob("*.yml"):
        for key in load_yaml(path) or {}:
            assert key.startswith(f"_{role}_"), f"{path.name}: {key} is not _{role}_*"

"""ansible-core really validates every entry point, the tasks_from ones too, before the entry point's first task.

One ansible-playbook run on the controller enters every role by every entry point it declares (one local
host per entry point, `include_role` with `tasks_from`): with the roles' own defaults, and a value of its type
for each required input (one no default gives: the inventory passes it, such as the receiver's artifact), each
validation passes (the defaults have the types the specs say) and, with `--tags` naming no task, nothing else
runs. A second run gives each entry point a wrongly typed input, a third leaves the required inputs out: the
validation task fails, naming the entry point and the input, and no task of the role runs. Check mode, a
throwaway inventory of `localhost` aliases with `ansible_connection: local`, and a configuration of its own:
nothing outside the test's directory is touched.
"""

import json
import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT, load_yaml

ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if p.is_dir())
ENTRY_POINTS = [
    (role, name)
    for role in ROLES
    for name in load_yaml(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
]
# a value each type refuses (a str or a path takes almost anything)
WRONG = {
    "int": "not-a-number",
    "float": "not-a-number",
    "bool": "maybe",
    "list": {"not": "a list"},
    "dict": ["not", "a dict"],
}


# a value of each type, for the required inputs
GIVEN = {"str": "given", "path": "/given/by/an/inventory", "int": 1, "float": 1.0, "bool": True, "list": [], "dict": {}}


def _options(role, entry_point):
    specs = load_yaml(ROOT / "roles" / role / "meta" / "argument_specs.yml")["argument_specs"]
    return specs[entry_point].get("options") or {}


def _required(role, entry_point):
    """The entry point's required inputs, each with a value of its type."""
    return {name: GIVEN[o["type"]] for name, o in _options(role, entry_point).items() if o.get("required")}


def _wrong_input(role, entry_point):
    """The first option of the entry point a wrong value of its type is refused for, and that value."""
    for name, option in _options(role, entry_point).items():
        if option["type"] in WRONG:
            return name, WRONG[option["type"]]
    return None


def _playbook(wrong=None, leave_out_required=False):
    """One play on one local host entering every role by each of its entry points, each include naming its role
    and tasks file literally (ansible-core takes the includes of one task on several hosts for one when only
    tasks_from differs), with its required inputs. Without `wrong`: the includes alone are tagged `always`, so
    `--tags` naming no task runs them and the validation (a role's own tasks do not inherit an include's tags,
    but would a block's). With `wrong` {(role, entry point): (input, value)}: each include in a block with its
    wrong input, the refusal rescued so the next one still runs. With `leave_out_required`: so is each entry
    point with required inputs, without them."""
    tasks = []
    for role, entry_point in ENTRY_POINTS:
        include = {
            "name": f"Enter {role} by {entry_point}",
            "ansible.builtin.include_role": {"name": role, "tasks_from": entry_point},
            "vars": _required(role, entry_point),
        }
        if leave_out_required or wrong:
            if leave_out_required and include["vars"]:
                given = {}
            elif wrong and (role, entry_point) in wrong:
                name, value = wrong[(role, entry_point)]
                given = dict(include["vars"], **{name: value})
            else:
                continue
            tasks.append(
                {
                    "name": f"{role} {entry_point}",
                    "block": [dict(include, vars=given)],
                    "rescue": [{"name": f"Refused {role} {entry_point}", "ansible.builtin.debug": {"msg": "refused"}}],
                }
            )
        else:
            tasks.append(dict(include, tags=["always"]))
    return [
        {"name": "Enter every role by each of its entry points", "hosts": "all", "gather_facts": False, "tasks": tasks}
    ]


@pytest.fixture(scope="module")
def play(tmp_path_factory):
    """Run a playbook on a local host in check mode; (exit status, the ansible.posix.json report, stderr)."""
    tmp = tmp_path_factory.mktemp("entry_points")
    (tmp / "ansible.cfg").write_text(
        "[defaults]\n"
        f"roles_path = {ROOT / 'roles'}\n"
        f"library = {ROOT / 'library'}\n"
        f"module_utils = {ROOT / 'module_utils'}\n"
        f"filter_plugins = {ROOT / 'filter_plugins'}\n"
        f"local_tmp = {tmp / 'tmp'}\n"
        "stdout_callback = ansible.posix.json\n"
        "retry_files_enabled = false\n"
    )
    # no Python on the host: the validation runs on the controller, any module (the platform check's setup,
    # every entry point's first task) fails before it runs, should a role's task ever be reached
    host = {
        "ansible_connection": "local",
        "ansible_python_interpreter": str(tmp / "no-python"),
        "anshin_records_dir": str(tmp / "records"),
    }
    (tmp / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"entry-points": host}}}))

    def run(playbook, *options):
        (tmp / "play.yml").write_text(yaml.safe_dump(playbook, allow_unicode=True))
        out = subprocess.run(
            [
                os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
                "-i",
                str(tmp / "hosts.yml"),
                str(tmp / "play.yml"),
                "--check",
                *options,
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=300,
            env=dict(os.environ, ANSIBLE_CONFIG=str(tmp / "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
        )
        try:
            return out.returncode, json.loads(out.stdout), out.stderr
        except json.JSONDecodeError:
            pytest.fail(out.stdout + out.stderr)

    return run


def _ran(report):
    """[(task name, result)] of the host, in the order the tasks ran."""
    return [(task["task"]["name"], result) for task in report["plays"][0]["tasks"] for result in task["hosts"].values()]


def _validation(role, entry_point):
    return f"{role} : Validating arguments against arg spec '{entry_point}'"


def test_there_are_tasks_from_entry_points():
    assert ("backup", "now") in ENTRY_POINTS and ("monitoring_server", "probe_history") in ENTRY_POINTS
    assert ("ldap_sync", "sync") in ENTRY_POINTS and ("ldap_sync", "schedule") in ENTRY_POINTS


def test_every_entry_point_accepts_the_role_defaults(play):
    rc, report, stderr = play(_playbook(), "--tags", "anshin-validation-only")
    assert rc == 0, json.dumps(report, indent=1) + stderr
    ran = _ran(report)
    # each include, then its validation, passed; nothing of the roles themselves (--tags names no task)
    assert len(ran) == 2 * len(ENTRY_POINTS), [name for name, _ in ran]
    for (role, entry_point), include, validation in zip(ENTRY_POINTS, ran[::2], ran[1::2], strict=True):
        assert include[0] == f"Enter {role} by {entry_point}"
        assert validation[0].startswith(_validation(role, entry_point)), validation[0]
        assert validation[1]["msg"] == "The arg spec validation passed"
        context = validation[1]["validate_args_context"]
        assert (context["name"], context["argument_spec_name"]) == (role, entry_point)


def test_a_wrongly_typed_input_stops_every_entry_point_before_its_first_task(play):
    wrong = {(r, e): _wrong_input(r, e) for r, e in ENTRY_POINTS if _wrong_input(r, e)}
    assert {
        ("monitoring_server", "probe_history"),
        ("ldap_sync", "sync"),
        ("ldap_sync", "schedule"),
        ("monitoring_server", "resource_report"),
        ("monitoring_server", "integration_check"),
    } <= set(wrong)
    rc, report, stderr = play(_playbook(wrong))
    assert rc == 0, json.dumps(report, indent=1) + stderr  # every refusal rescued
    ran = _ran(report)
    # each include, its validation, which fails, and the rescue: no task of a role ran
    assert len(ran) == 3 * len(wrong), [name for name, _ in ran]
    for ((role, entry_point), (name, _)), include, validation, rescue in zip(
        wrong.items(), ran[::3], ran[1::3], ran[2::3], strict=True
    ):
        assert include[0] == f"Enter {role} by {entry_point}"
        assert validation[0].startswith(_validation(role, entry_point)), validation[0]
        assert validation[1]["failed"] and validation[1]["validate_args_context"]["argument_spec_name"] == entry_point
        assert any(name in error for error in validation[1]["argument_errors"]), validation[1]["argument_errors"]
        assert rescue[0] == f"Refused {role} {entry_point}"
    assert report["stats"]["entry-points"]["changed"] == 0


def test_a_required_input_left_out_stops_its_entry_point_before_its_first_task(play):
    """What no default can give (the receiver's artifact and its checksum: the inventory passes them) is
    required: without it the validation fails, naming each, and no task of the role runs."""
    required = {(r, e): sorted(_required(r, e)) for r, e in ENTRY_POINTS if _required(r, e)}
    assert required[("lalert_receiver", "main")] == ["lalert_receiver_artifact", "lalert_receiver_artifact_sha256"]
    rc, report, stderr = play(_playbook(leave_out_required=True))
    assert rc == 0, json.dumps(report, indent=1) + stderr  # every refusal rescued
    ran = _ran(report)
    assert len(ran) == 3 * len(required), [name for name, _ in ran]
    for ((role, entry_point), names), include, validation, rescue in zip(
        required.items(), ran[::3], ran[1::3], ran[2::3], strict=True
    ):
        assert include[0] == f"Enter {role} by {entry_point}"
        assert validation[0].startswith(_validation(role, entry_point)), validation[0]
        assert validation[1]["failed"] and validation[1]["validate_args_context"]["argument_spec_name"] == entry_point
        errors = " ".join(validation[1]["argument_errors"])
        assert f"missing required arguments: {', '.join(names)}" in errors, errors
        assert rescue[0] == f"Refused {role} {entry_point}"
    assert report["stats"]["entry-points"]["changed"] == 0

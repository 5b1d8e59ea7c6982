"""The stand-in playbooks (playbooks/local/) live apart from the jobs of the real system and refuse it.

Each of them imports the gate (playbooks/local/standins_only.yml) as its first play; nothing the real system
runs (site.yml, playbooks/*.yml and what they import) imports one of them; the gate, run for real by
ansible-playbook, refuses staging, production and any inventory that does not declare its machines stand-ins,
on the controller before any connection (ssh is replaced by a program that records being called, and the
staging and production addresses are documentation placeholders besides), and lets the stand-ins through;
bin/anshin refuses a local-only job on staging and production before anything runs or is written."""

import io
import os
import subprocess
import sys
import types

import pytest
import yaml

from anshin_ops import cli, incidents, runner
from conftest import ROOT, load_yaml

LOCAL_DIR = ROOT / "playbooks" / "local"
GATE = LOCAL_DIR / "standins_only.yml"
LOCAL = sorted(p for p in LOCAL_DIR.glob("*.yml") if p != GATE)
IMPORT_KEYS = ("ansible.builtin.import_playbook", "import_playbook")
REFUSAL = "never for the real system"


def imported(path):
    """The playbooks a playbook imports, as paths (relative to the importing file, as Ansible reads them)."""
    return [
        (path.parent / entry[key]).resolve()
        for entry in load_yaml(path) or []
        for key in IMPORT_KEYS
        if isinstance(entry, dict) and key in entry
    ]


def test_the_stand_in_playbooks_are_in_playbooks_local():
    assert {p.name for p in LOCAL} >= {"local_env.yml", "lalert_drill.yml", "ldap_directory_standin.yml"}
    top = {p.name for p in (ROOT / "playbooks").glob("*.yml")}
    assert not top & {"local_env.yml", "lalert_drill.yml", "ldap_directory_standin.yml", "standins_only.yml"}


@pytest.mark.parametrize("path", LOCAL, ids=lambda p: p.name)
def test_a_stand_in_playbook_starts_with_the_gate(path):
    first = (load_yaml(path) or [None])[0]
    assert isinstance(first, dict) and first.get("ansible.builtin.import_playbook") == "standins_only.yml", (
        f"{path.relative_to(ROOT)}: its first play must be `ansible.builtin.import_playbook: standins_only.yml`"
    )


def test_the_gate_checks_on_the_controller_before_anything_else():
    (play,) = load_yaml(GATE)
    assert play["hosts"] == "all:localhost"  # every host of the run (within any --limit) and the controller
    assert play["gather_facts"] is False and play["any_errors_fatal"] is True
    assert not play.get("pre_tasks") and not play.get("roles")
    task = play["tasks"][0]
    assert set(task["ansible.builtin.assert"]["that"]) == {
        "anshin_standin_inventory | default(false) is sameas true",
        "ansible_inventory_sources | anshin_real_inventories == []",
    }
    assert task["delegate_to"] == "localhost" and "always" in task["tags"]


def test_nothing_the_real_system_runs_imports_a_stand_in_playbook():
    seen, todo = set(), [ROOT / "site.yml", *sorted((ROOT / "playbooks").glob("*.yml"))]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        assert LOCAL_DIR not in path.parents, f"{path.relative_to(ROOT)} is imported by a playbook of the real system"
        todo += imported(path)
    assert ROOT / "playbooks" / "backup.yml" in seen  # the walk follows site.yml's imports


def test_groups_only_the_stand_ins_have_are_targeted_by_stand_in_playbooks_only():
    """A stand-in job put back among the production ones (a play on the directory stand-in) is caught."""

    def groups(node):
        for name, child in ((node or {}).get("children") or {}).items():
            yield name
            yield from groups(child)

    def inventory_groups(name):
        return set(groups(load_yaml(ROOT / "inventories" / name / "hosts.yml")["all"]))

    only_local = inventory_groups("local") - inventory_groups("production") - inventory_groups("staging")
    assert "ldap_directory" in only_local
    for path in [ROOT / "site.yml", *(ROOT / "playbooks").glob("*.yml")]:
        for play in load_yaml(path) or []:
            hosts = {h.strip() for h in str(play.get("hosts", "")).replace(",", ":").split(":")}
            assert not hosts & only_local, f"{path.relative_to(ROOT)} targets {hosts & only_local}"


def test_jobs_of_stand_in_playbooks_are_local_only():
    for name, job in runner.jobs().items():
        assert bool(job.get("local_only")) == job["playbook"].startswith("playbooks/local/"), name
    assert runner.jobs()["lalert_drill"]["local_only"] is True


def test_only_the_local_inventory_declares_stand_ins():
    assert load_yaml(ROOT / "inventories" / "local" / "group_vars" / "all" / "standins.yml") == {
        "anshin_standin_inventory": True
    }
    for name in ("staging", "production"):
        for path in (ROOT / "inventories" / name).rglob("*.yml"):
            assert "anshin_standin_inventory" not in path.read_text(encoding="utf-8"), path


def test_the_real_inventories_are_told_apart_by_the_records_rule():
    sys.path.insert(0, str(ROOT / "filter_plugins"))
    try:
        import records
    finally:
        sys.path.remove(str(ROOT / "filter_plugins"))
    real = records.anshin_real_inventories
    staging, production = ROOT / "inventories" / "staging", ROOT / "inventories" / "production"
    assert real([f"{staging}/hosts.yml", str(production)]) == [f"{staging}/hosts.yml", str(production)]
    assert real(f"{production}/hosts.yml") == [f"{production}/hosts.yml"]
    assert real([f"{ROOT}/inventories/local/hosts.yml", "/tmp/x/hosts.yml", "lalert-vm,", ""]) == []
    assert real([]) == [] and real(None) == []


# --- the gate, run for real (no host is ever contacted) ---


@pytest.fixture
def fake_ssh(tmp_path):
    """An ssh that records being called and fails: the gate must stop the run before any connection."""
    calls = tmp_path / "ssh-calls"
    program = tmp_path / "ssh"
    program.write_text(f'#!/bin/sh\necho "$@" >> {calls}\nexit 255\n')
    program.chmod(0o755)
    return program, calls


def playbook(fake_ssh, *argv):
    program, _ = fake_ssh
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(
            os.environ,
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_SSH_EXECUTABLE=str(program),
        ),
    )
    return done.returncode, done.stdout + done.stderr


def assert_refused_at_the_gate(fake_ssh, rc, out):
    assert rc != 0, out
    assert REFUSAL in out, out
    assert out.count("PLAY [") == 1, out  # the gate's play only: nothing after it ran
    assert "UNREACHABLE" not in out and not fake_ssh[1].exists(), out


@pytest.mark.parametrize("inventory", ["inventories/staging/hosts.yml", "inventories/production"])
@pytest.mark.parametrize("path", LOCAL, ids=lambda p: p.name)
def test_a_stand_in_playbook_is_refused_on_the_real_system(fake_ssh, path, inventory):
    rc, out = playbook(fake_ssh, "-i", inventory, str(path.relative_to(ROOT)))
    assert_refused_at_the_gate(fake_ssh, rc, out)


@pytest.mark.parametrize(
    "argv",
    [
        # declared on the command line: the real inventories stay refused
        ["-i", "inventories/production", "-e", '{"anshin_standin_inventory": true}'],
        # a limit and tags do not skip the gate
        ["-i", "inventories/production", "--limit", "lalert-prod", "--tags", "nothing", "--check"],
        # the stand-ins together with a real inventory
        ["-i", "inventories/local/hosts.yml", "-i", "inventories/staging/hosts.yml"],
    ],
    ids=["marker-on-command-line", "limit-and-tags", "mixed-with-staging"],
)
def test_the_gate_cannot_be_talked_round(fake_ssh, argv):
    rc, out = playbook(fake_ssh, *argv, "playbooks/local/lalert_drill.yml")
    assert_refused_at_the_gate(fake_ssh, rc, out)


def test_an_inventory_that_does_not_declare_stand_ins_is_refused_and_one_that_does_passes(fake_ssh, tmp_path):
    hosts = {"all": {"children": {"lalert": {"hosts": {"some-vm": {"ansible_host": "192.0.2.77"}}}}}}
    (tmp_path / "plain.yml").write_text(yaml.safe_dump(hosts))
    rc, out = playbook(fake_ssh, "-i", str(tmp_path / "plain.yml"), "playbooks/local/lalert_drill.yml")
    assert_refused_at_the_gate(fake_ssh, rc, out)

    hosts["all"]["vars"] = {"anshin_standin_inventory": True}
    (tmp_path / "standins.yml").write_text(yaml.safe_dump(hosts))
    rc, out = playbook(fake_ssh, "-i", str(tmp_path / "standins.yml"), str(GATE.relative_to(ROOT)))
    assert rc == 0 and "ok: [some-vm -> localhost]" in out, out


def test_the_local_stand_ins_pass_the_gate(fake_ssh):
    rc, out = playbook(fake_ssh, str(GATE.relative_to(ROOT)))  # ansible.cfg's inventory: inventories/local
    assert rc == 0, out
    assert "ok: [lalert-vm -> localhost]" in out and "ok: [localhost]" in out
    assert not fake_ssh[1].exists()


def test_the_stand_in_playbooks_pass_the_syntax_check():
    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "--syntax-check", *map(str, LOCAL)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg")),
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- bin/anshin: a local-only job ---


@pytest.fixture
def fake_runner(tmp_path, monkeypatch):
    """ansible-runner replaced by a fake that records its calls and runs nothing."""
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(tmp_path / "records"))
    calls = []
    fake = types.SimpleNamespace(status="successful", rc=0, stats={})
    monkeypatch.setitem(
        sys.modules, "ansible_runner", types.SimpleNamespace(run=lambda **kwargs: (calls.append(kwargs), fake)[1])
    )
    monkeypatch.setattr(runner, "_new_run_dir", lambda base: (base, str(tmp_path / "run")))
    return calls


@pytest.mark.parametrize("inventory", ["staging", "production"])
def test_the_cli_refuses_a_local_only_job_on_the_real_system(fake_runner, tmp_path, inventory, capsys):
    with pytest.raises(incidents.RecordError, match="stand-ins only"):
        runner.run_job("lalert_drill", inventory, approval="徳危第1号", stream=io.StringIO())
    assert cli.main(["run", "lalert_drill", "-i", inventory, "--approval", "徳危第1号"]) == 2
    assert "lalert_drill" in capsys.readouterr().err
    assert fake_runner == [] and not (tmp_path / "records").exists()  # nothing ran, nothing written


def test_the_cli_refuses_a_local_only_job_on_an_inventory_without_stand_ins(fake_runner, tmp_path):
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    some-vm:\n      ansible_host: 192.0.2.77\n")
    with pytest.raises(incidents.RecordError, match="stand-ins only"):
        runner.run_job("lalert_drill", str(tmp_path / "hosts.yml"), stream=io.StringIO())
    assert fake_runner == []


def test_the_cli_runs_a_local_only_job_on_the_stand_ins(fake_runner):
    rc, entry = runner.run_job("lalert_drill", "local", stream=io.StringIO())
    assert rc == 0 and entry["inventory"] == "local"
    (call,) = fake_runner
    assert call["playbook"] == "playbooks/local/lalert_drill.yml"
    assert call["inventory"] == str(ROOT / "inventories" / "local" / "hosts.yml")

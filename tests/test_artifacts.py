"""The artifacts the roles install: one rule for where each is built and how its checksum is read
(filter_plugins/artifacts.py), one function that builds them (anshin_ops/artifacts.py, bin/build-artifacts)."""

import hashlib
import io
import json
import os
import subprocess
import types

import pytest
import yaml

from anshin_ops import artifacts, runner
from conftest import ROOT, ansible_here, load_yaml, seeded_wheel_cache
from filter_plugins.artifacts import ARTIFACTS, anshin_artifact, anshin_sha256sum


def test_each_artifact_is_built_under_local_artifacts_which_git_ignores():
    assert anshin_artifact("lalert-receiver") == os.path.join(ROOT, ".local", "artifacts", "lalert-receiver.tar.gz")
    for builder in ARTIFACTS.values():
        assert (ROOT / builder).is_file(), builder
    ignored = subprocess.run(["git", "check-ignore", "-q", ".local/artifacts/lalert-receiver.tar.gz.sha256"], cwd=ROOT)
    assert ignored.returncode == 0


def test_an_unknown_artifact_is_refused():
    with pytest.raises(ValueError, match="unknown artifact 'lalert_receiver'"):
        anshin_artifact("lalert_receiver")


def test_the_checksum_is_read_as_sha256sum_writes_it():
    digest = "E565CA937F21A8A8A6C112B1488ED4FAA136E5AB53BD2C21F9A0CED8AF73049E"
    assert anshin_sha256sum(f"{digest}  lalert-receiver.tar.gz\n") == digest.lower()
    assert anshin_sha256sum(digest.lower()) == digest.lower()  # a vendor's file with the digest alone
    # no file (the lookup gives None or ''): no checksum, which the role refuses naming bin/build-artifacts
    assert anshin_sha256sum(None) == "" and anshin_sha256sum("") == "" and anshin_sha256sum("\n") == ""


def test_build_makes_each_artifact_where_the_rule_says_with_its_checksum(tmp_path, monkeypatch):
    monkeypatch.setattr(artifacts._rule, "REPO", str(tmp_path))
    out = io.StringIO()
    built = artifacts.build(out, wheel_cache=str(seeded_wheel_cache(tmp_path)))
    assert set(built) == set(ARTIFACTS)
    path, sha = built["lalert-receiver"]
    assert path == str(tmp_path / ".local" / "artifacts" / "lalert-receiver.tar.gz")
    with open(path, "rb") as fh:
        assert hashlib.sha256(fh.read()).hexdigest() == sha
    with open(path + ".sha256", encoding="utf-8") as fh:
        assert anshin_sha256sum(fh.read()) == sha
    assert out.getvalue() == f"artifact lalert-receiver: {path} sha256 {sha}\n"
    # again from unchanged sources: the same bytes
    assert artifacts.build(wheel_cache=str(tmp_path / "wheels")) == built


def test_a_failed_build_is_one_line_and_a_failing_exit(monkeypatch, capsys):
    def unreachable(out, wheel_cache):
        raise subprocess.CalledProcessError(1, ["pip", "download"])

    monkeypatch.setattr(artifacts, "_builder", lambda name: types.SimpleNamespace(build=unreachable))
    with pytest.raises(artifacts.BuildError, match="building the artifact lalert-receiver failed"):
        artifacts.build()
    assert artifacts.main([]) == 1
    err = capsys.readouterr().err
    assert err.startswith("build-artifacts: building the artifact lalert-receiver failed:") and err.count("\n") == 1


def test_bin_build_artifacts_runs_the_module():
    done = subprocess.run([str(ROOT / "bin" / "build-artifacts"), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "usage: bin/build-artifacts" in done.stdout, done.stderr


INVENTORY_RULE = {
    "lalert_receiver_artifact": "{{ 'lalert-receiver' | anshin_artifact }}",
    "lalert_receiver_artifact_sha256": (
        "{{ lookup('ansible.builtin.file', lalert_receiver_artifact ~ '.sha256', errors='ignore') | anshin_sha256sum }}"
    ),
}


def test_every_inventory_and_molecule_pass_the_build_by_the_rule():
    for name in ("local", "staging", "production"):
        with open(ROOT / "inventories" / name / "group_vars" / "all" / "artifacts.yml", encoding="utf-8") as fh:
            assert yaml.safe_load(fh) == INVENTORY_RULE, name
    shared = load_yaml(ROOT / "molecule" / "shared" / "config.yml")
    group_vars = shared["provisioner"]["inventory"]["group_vars"]["all"]
    assert {k: group_vars[k] for k in INVENTORY_RULE} == INVENTORY_RULE
    # molecule builds before anything else in a test, and before a converge (its default sequence)
    assert shared["dependency"] == {"name": "shell", "command": "${MOLECULE_PROJECT_DIRECTORY}/bin/build-artifacts"}
    assert shared["scenario"]["test_sequence"][0] == "dependency"
    assert "dependency" not in shared["scenario"]["destroy_sequence"]
    # the shared prepare and destroy: molecule falls back to the driver's own when a path does not exist
    for step in ("prepare", "destroy"):
        path = shared["provisioner"]["playbooks"][step]
        assert path == f"${{MOLECULE_PROJECT_DIRECTORY}}/molecule/shared/{step}.yml", step
        assert (ROOT / "molecule" / "shared" / f"{step}.yml").is_file(), step
    for path in (ROOT / "molecule").glob("*/molecule.yml"):
        scenario = load_yaml(path) or {}  # log_audit's states no delta
        assert "dependency" not in scenario, f"{path}: the shared dependency step builds the artifacts"
        assert "test_sequence" not in scenario.get("scenario", {}), f"{path}: the shared test sequence builds first"
        for group, variables in scenario.get("provisioner", {}).get("inventory", {}).get("group_vars", {}).items():
            assert not set(INVENTORY_RULE) & set(variables or {}), f"{path}: {group} passes another artifact"


def test_the_inventories_resolve_the_path_and_the_checksum_of_the_build(tmp_path):
    """What the role receives on the local inventory's receiver VM: the path by the rule and the checksum read
    from the file beside it, or nothing when the build is missing (the role then stops, naming the build)."""

    def resolved(variable, **extra):
        done = ansible_here(
            "ansible",
            "-i",
            str(ROOT / "inventories" / "local"),
            "lalert-vm",
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"var={variable}",
            "-e",
            json.dumps(extra),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout.split("=>", 1)[1])[variable]

    assert resolved("lalert_receiver_artifact") == anshin_artifact("lalert-receiver")
    artifact = tmp_path / "lalert-receiver.tar.gz"
    assert resolved("lalert_receiver_artifact_sha256", lalert_receiver_artifact=str(artifact)) == ""
    (tmp_path / "lalert-receiver.tar.gz.sha256").write_text("ab" * 32 + "  lalert-receiver.tar.gz\n")
    assert resolved("lalert_receiver_artifact_sha256", lalert_receiver_artifact=str(artifact)) == "ab" * 32


def test_the_receiver_role_names_nothing_outside_itself():
    """The role installs and checks what it is given: no path into this repository (services/, .local/, the
    role's parent folders), no build."""
    offenders = []
    for path in sorted((ROOT / "roles" / "lalert_receiver").rglob("*")):
        if path.suffix in (".yml", ".j2") and path.is_file():
            text = path.read_text(encoding="utf-8")
            if "role_path" in text or "services/" in text or ".local" in text or "build_artifact" in text:
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


ROLE_CALLS = ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role")


def _roles_applied(playbook, seen=None):
    """The roles a playbook applies: its plays' roles: and role includes, through import_playbook."""
    seen = set() if seen is None else seen
    found = set()

    def walk(node, here):
        if isinstance(node, dict):
            target = node.get("ansible.builtin.import_playbook", node.get("import_playbook"))
            if isinstance(target, str) and (here / target).resolve() not in seen:
                seen.add((here / target).resolve())
                found.update(_roles_applied((here / target).resolve(), seen))
            for key in ROLE_CALLS:
                if isinstance(node.get(key), dict):
                    found.add(node[key]["name"])
            for entry in node["roles"] if isinstance(node.get("roles"), list) else []:
                found.add(entry if isinstance(entry, str) else entry.get("role", entry.get("name")))
            for value in node.values():
                walk(value, here)
        elif isinstance(node, list):
            for value in node:
                walk(value, here)

    walk(load_yaml(playbook), playbook.parent)
    return found


def test_a_job_builds_the_artifacts_exactly_when_its_playbook_installs_one():
    """anshin run builds before a job marked needs_artifacts (anshin_ops/jobs.yml): the jobs whose playbook
    applies a role that takes an artifact as input (lalert_receiver), no other."""
    installing = {
        path.parent.parent.name
        for path in (ROOT / "roles").glob("*/meta/argument_specs.yml")
        if any(name.endswith("_artifact") for name in load_yaml(path)["argument_specs"]["main"].get("options", {}))
    }
    assert installing == {"lalert_receiver"}
    marked = {name for name, job in runner.jobs().items() if job.get("needs_artifacts")}
    applying = {name for name, job in runner.jobs().items() if _roles_applied(ROOT / job["playbook"]) & installing}
    assert marked == applying == {"site", "failover"}

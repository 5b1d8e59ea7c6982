"""Shared helpers of the unit tests and quality gates."""

import functools
import hashlib
import pathlib

import pytest
import yaml

# library/ modules as Ansible runs them; the benchmarks use the same loader
from anshin_ops.modules import load_file, load_module  # noqa: F401  (tests import them from here)

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_yaml(path):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def seeded_wheel_cache(tmp_path):
    """The receiver's wheel cache for services/lalert_receiver/build_artifact.py without a download: its pin
    set's folder with a stand-in wheel, marked complete. The cache root."""
    pins = (ROOT / "services" / "lalert_receiver" / "requirements.txt").read_bytes()
    cache = tmp_path / "wheels" / hashlib.sha256(pins).hexdigest()[:16]
    cache.mkdir(parents=True)
    (cache / "dep-1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
    (cache / ".complete").touch()
    return tmp_path / "wheels"


# the hand-written IIS W3C sample (tests/fixtures/iis_w3c/README.md)
IIS_SAMPLE = ROOT / "tests" / "fixtures" / "iis_w3c"


def iis_sample_cut_short(root):
    """A copy of the IIS sample at ROOT whose cms-web2 day is only a gzip copy cut in half (a file that
    cannot be read to its end); returns the path of that copy."""
    import gzip
    import shutil

    shutil.copytree(IIS_SAMPLE, root)
    plain = root / "cms-web2/2026-11/W3SVC1/u_ex261101.log"
    whole = gzip.compress(plain.read_bytes())
    cut = plain.with_name(plain.name + ".gz")
    cut.write_bytes(whole[: len(whole) // 2])
    plain.unlink()
    return cut


def ansible_here(tool, *argv, timeout=120, env=None):
    """An Ansible command of this venv (ansible-playbook, ansible, ...) run on the controller in the
    repository with its ansible.cfg, output as text and never coloured (`env`: more variables)."""
    import os
    import subprocess
    import sys

    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), tool), *map(str, argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **(env or {})),
    )


ROLE_CALLS = ("ansible.builtin.include_role", "ansible.builtin.import_role", "include_role", "import_role")


@functools.cache
def role_entries():
    """(role, tasks file) for every way a play or a role enters a role: roles: lists, include/import_role, in
    site.yml, the playbooks (the stand-ins' too), the scenarios and the roles' tasks."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            for key in ROLE_CALLS:
                if isinstance(node.get(key), dict) and "name" in node[key]:
                    found.add((node[key]["name"], node[key].get("tasks_from", "main")))
            roles = node.get("roles")
            for entry in roles if isinstance(roles, list) else []:
                found.add((entry if isinstance(entry, str) else entry.get("role", entry.get("name")), "main"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    paths = [
        ROOT / "site.yml",
        *(ROOT / "playbooks").rglob("*.yml"),
        *(ROOT / "molecule").rglob("*.yml"),
        *(ROOT / "roles").glob("*/tasks/**/*.yml"),
    ]
    for path in paths:
        walk(load_yaml(path))
    return frozenset(found)


@pytest.fixture(scope="session")
def root():
    return ROOT


@pytest.fixture
def run_module(capsys):
    """Run a module's main() with arguments; returns (failed, result dict) from its JSON output."""
    import json

    from ansible.module_utils.testing import patch_module_args

    def run(module, args):
        with patch_module_args(args), pytest.raises(SystemExit) as exit_info:
            module.main()
        result = json.loads(capsys.readouterr().out)
        return exit_info.value.code != 0, result

    return run


# tests/e2e drive bin/anshin against the local environment's containers (minutes, needs podman):
# bin/test runs them as their own step with ANSHIN_E2E=1, after the molecule scenarios.
collect_ignore_glob = [] if __import__("os").environ.get("ANSHIN_E2E") == "1" else ["e2e/*"]

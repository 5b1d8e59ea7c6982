"""Shared helpers of the unit tests and quality gates."""
import pathlib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_yaml(path):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


@pytest.fixture(scope="session")
def root():
    return ROOT


def load_module(name):
    """A module of library/ as Ansible would run it: module_utils/ importable as ansible.module_utils.*."""
    import importlib
    import importlib.util
    import sys

    for path in (ROOT / "module_utils").glob("*.py"):
        alias = "ansible.module_utils." + path.stem
        if alias not in sys.modules:
            spec = importlib.util.spec_from_file_location(alias, path)
            sys.modules[alias] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(sys.modules[alias])
    spec = importlib.util.spec_from_file_location(name, ROOT / "library" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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

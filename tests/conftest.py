"""Shared helpers of the unit tests and quality gates."""

import pathlib

import pytest
import yaml

# library/ modules as Ansible runs them; the benchmarks use the same loader
from anshin_ops.modules import load_module  # noqa: F401  (tests import it from here)

ROOT = pathlib.Path(__file__).resolve().parent.parent


def load_yaml(path):
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


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

"""The local environment (bin/localenv, inventories/local) as a module-scoped fixture of the end-to-end
tests: brought up for a test module and removed again unless it was up before. bin/test brings it up once
around all of tests/e2e, so the modules share it."""

import subprocess

import pytest

from conftest import ROOT


def running():
    """Whether this checkout's local environment is up (containers trust the key of the checkout that
    made them: another checkout's are recreated by `bin/localenv up`)."""
    out = subprocess.run(
        ["podman", "ps", "--filter", f"label=anshin_root={ROOT}", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return "anshin-lalert-vm" in out


@pytest.fixture(scope="module")
def local_env():
    was_up = running()
    if not was_up:
        subprocess.run([str(ROOT / "bin" / "localenv"), "up"], check=True, stdout=subprocess.DEVNULL)
    yield
    if not was_up:
        subprocess.run([str(ROOT / "bin" / "localenv"), "down"], check=True, stdout=subprocess.DEVNULL)

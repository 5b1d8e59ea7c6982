"""playbooks/collect_iis_logs.yml without a Windows host: a bad month stops the play on the controller,
before any WinRM connection. (The WinRM part itself needs a Windows host: README "Windows hosts".)"""

import os
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "hosts.yml"
    # a documentation address: any connection attempt would fail as UNREACHABLE
    path.write_text(
        "all:\n  children:\n    cms_windows:\n      hosts:\n        cms-test:\n"
        "          ansible_host: 192.0.2.123\n          ansible_connection: winrm\n"
        "          ansible_port: 5986\n          ansible_user: reader\n          ansible_password: x\n"
    )
    return str(path)


@pytest.mark.parametrize("month", ["2026-13", "26-11", "2999-01"])
def test_a_bad_month_stops_before_any_connection(inventory, month):
    out = subprocess.run(
        [
            os.path.join(os.path.dirname(sys.executable), "ansible-playbook"),
            "-i",
            inventory,
            "playbooks/collect_iis_logs.yml",
            "-e",
            f"iis_logs_month={month}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1"),
    )
    assert out.returncode != 0
    assert f"iis_logs_month must be YYYY-MM and not in the future, got {month}" in out.stdout
    assert "UNREACHABLE" not in out.stdout and "unreachable=0" in out.stdout

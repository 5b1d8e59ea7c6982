"""AWX / Automation Platform readiness: the execution environment definition and ansible-navigator's settings.

The image itself cannot be built here (its base image lives in a registry this machine cannot reach); what is
checked: ansible-builder accepts the definition and writes a build context with our pins, the pins agree with
the controller's, and ansible-navigator loads the repo's settings.
"""

import os
import re
import subprocess
import sys

import yaml

from conftest import ROOT, load_yaml

BIN = os.path.dirname(sys.executable)


def pins(path):
    found = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\[\]-]+)==(\S+)", line.strip())
        if m:
            found[m.group(1).lower()] = m.group(2)
    return found


def test_ee_pins_are_the_controller_pins():
    controller, ee = pins(ROOT / "requirements.txt"), pins(ROOT / "ee" / "requirements.txt")
    assert ee and all(controller.get(name) == version for name, version in ee.items()), (ee, controller)
    definition = load_yaml(ROOT / "execution-environment.yml")
    assert definition["version"] == 3
    deps = definition["dependencies"]
    assert deps["ansible_core"]["package_pip"] == f"ansible-core=={controller['ansible-core']}"
    assert deps["ansible_runner"]["package_pip"] == f"ansible-runner=={controller['ansible-runner']}"
    # the collections come with the pinned ansible package, as on the controller
    assert ee["ansible"] == controller["ansible"]


def test_ansible_builder_writes_the_build_context(tmp_path):
    out = subprocess.run(
        [
            os.path.join(BIN, "ansible-builder"),
            "create",
            "-f",
            "execution-environment.yml",
            "-c",
            str(tmp_path / "context"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    containerfile = (tmp_path / "context" / "Containerfile").read_text()
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    assert "ansible-core==2.19.14" in containerfile
    built = (tmp_path / "context" / "_build" / "requirements.txt").read_text()
    assert built == (ROOT / "ee" / "requirements.txt").read_text()


def test_ansible_navigator_loads_the_settings(tmp_path):
    env = dict(os.environ, PATH=BIN + os.pathsep + os.environ["PATH"], HOME=str(tmp_path))
    (ROOT / ".local" / "logs").mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        [os.path.join(BIN, "ansible-navigator"), "settings", "--effective", "--mode", "stdout", "--ee", "false"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    settings = yaml.safe_load(out.stdout)["ansible-navigator"]
    assert settings["execution-environment"]["image"] == "anshin-ops-ee:1"
    assert settings["ansible"]["inventory"]["entries"] == [str(ROOT / "inventories" / "staging" / "hosts.yml")]
    assert settings["ansible"]["config"]["path"] == str(ROOT / "ansible.cfg")

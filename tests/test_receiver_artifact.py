"""The receiver role's artifact check (roles/lalert_receiver/tasks/artifact.yml, part of validate.yml) on the
controller, with the inventories' own values (group_vars/all/artifacts.yml): after a build it passes with the
checksum read from the .sha256 file beside the artifact; without that file, with another file's bytes, with
no file or a relative path it stops, naming the variable and bin/build-artifacts. The role builds nothing.
(On real hosts, before any change: molecule/lalert_receiver's test_role_bad_input.py and
test_vendor_artifact.py.)"""

import json
import os
import shutil
import sys

import pytest
import yaml

from conftest import ROOT, ansible_here, load_file, seeded_wheel_cache

PLAYBOOK = """
- name: The receiver's artifact check
  hosts: receiver-vm
  gather_facts: false
  tasks:
    - name: Check
      block:
        - name: Check the artifact
          ansible.builtin.include_role:
            name: lalert_receiver
            tasks_from: artifact
      rescue:
        - name: Refused
          ansible.builtin.set_fact:
            refused: >-
              {{ ansible_failed_result.results | default([ansible_failed_result]) | selectattr('failed', 'defined')
                 | selectattr('failed') | map(attribute='msg') | join('; ') }}
      always:
        - name: Outcome
          ansible.builtin.copy:
            content: "{{ {'refused': refused | default(''), 'sha256': lalert_receiver_artifact_sha256} | to_json }}"
            dest: "{{ outcome_file }}"
            mode: "0644"
          delegate_to: localhost
"""

build_artifact = load_file("services/lalert_receiver/build_artifact.py", "build_artifact")


@pytest.fixture
def built(tmp_path):
    """This repository's artifact built into a scratch folder (a wheel cache that needs no download)."""
    path = tmp_path / "artifacts" / "lalert-receiver.tar.gz"
    return path, build_artifact.build(path, seeded_wheel_cache(tmp_path))


@pytest.fixture
def check(tmp_path):
    """Run the check with the local inventory's artifacts.yml, the artifact's path set to PATH (as a vendor's
    inventory would; the checksum is still read by the inventory's rule); (refused message, checksum seen)."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    rule = ROOT / "inventories" / "local" / "group_vars" / "all" / "artifacts.yml"
    shutil.copy(rule, inventory / "group_vars" / "all")
    host = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"hosts": {"receiver-vm": host}}}))
    (tmp_path / "check.yml").write_text(PLAYBOOK)

    def run(path, **extra):
        values = {"lalert_receiver_artifact": str(path), "outcome_file": str(tmp_path / "outcome.json"), **extra}
        out = ansible_here(
            "ansible-playbook",
            "-i",
            str(inventory),
            str(tmp_path / "check.yml"),
            "-e",
            json.dumps(values),
        )
        assert out.returncode == 0, out.stdout + out.stderr
        outcome = json.loads((tmp_path / "outcome.json").read_text())
        return outcome["refused"], outcome["sha256"]

    return run


def test_a_built_artifact_passes_with_the_checksum_written_beside_it(check, built):
    path, sha = built
    refused, seen = check(path)
    assert refused == "" and seen == sha


def test_no_checksum_file_stops_naming_the_build(check, built):
    path, _ = built
    os.unlink(f"{path}.sha256")
    refused, seen = check(path)
    assert seen == ""
    assert refused.startswith("lalert_receiver_artifact_sha256: the artifact's sha256 (64 lower-case hex digits) is")
    assert f"{path}.sha256, which bin/build-artifacts writes" in refused


def test_other_bytes_stop_the_run(check, built):
    path, sha = built
    with open(path, "ab") as fh:
        fh.write(b"altered")
    refused, _ = check(path)
    assert refused.startswith(f"lalert_receiver_artifact: the sha256 of {path} (")
    assert f"differs from lalert_receiver_artifact_sha256 ({sha})" in refused and "bin/build-artifacts" in refused


def test_a_missing_artifact_stops_naming_the_build(check, built):
    path, sha = built
    os.unlink(path)  # its .sha256 is still there
    refused, seen = check(path)
    assert seen == sha
    assert refused == (
        f"lalert_receiver_artifact: {path} is not a file on the controller: build it with bin/build-artifacts, "
        "or give the path of the vendor's artifact"
    )


def test_a_vendors_path_and_checksum_given_literally(check, built):
    path, sha = built
    vendor = path.with_name("vendor-1.2.tar.gz")
    shutil.copy(path, vendor)  # no .sha256 beside it: the checksum comes with the inventory
    assert check(vendor, lalert_receiver_artifact_sha256=sha) == ("", sha)
    refused, _ = check(vendor, lalert_receiver_artifact_sha256="0" * 64)
    assert "differs from lalert_receiver_artifact_sha256" in refused


def test_a_relative_path_is_refused(check):
    refused, _ = check("lalert-receiver.tar.gz")
    assert refused.startswith("lalert_receiver_artifact: the absolute path on the controller of the artifact")

"""The vendor's build replaces the repo's: a wheelhouse tarball checked by
sha256. A missing artifact or a wrong checksum stops the play before any
change; the right one installs the new release, keeps the data and keeps
receiving.

Runs after test_receiver.py (file order) and on one platform: it swaps the
installed release."""

import glob
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile

import pytest

from conftest import only_debian12

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
SERVICE = os.path.join(PROJECT, "services", "lalert_receiver")
CONVERGE = os.path.join(HERE, "..", "receiver_only.yml")
MARKER = "/opt/lalert-receiver/venv/anshin-release"


@pytest.fixture(scope="module")
def vendor_artifact(tmp_path_factory):
    """A wheelhouse as a vendor ships it: the receiver's wheel and its dependencies."""
    tmp = tmp_path_factory.mktemp("vendor")
    wheels = tmp / "wheelhouse"
    deps = glob.glob(os.path.join(PROJECT, ".local", "wheelhouse", "*", "*.whl"))
    assert deps, "molecule's dependency step (bin/build-artifacts) should have filled the dependency wheel cache"
    # built from a copy: a build leaves build/ and egg-info behind in its source
    source = tmp / "source"
    shutil.copytree(SERVICE, source, ignore=shutil.ignore_patterns("tests", "fixtures", "__pycache__"))
    # offline: the build backend (setuptools) comes from the same cache
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-index",
            "--find-links",
            os.path.dirname(deps[0]),
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
    )
    path = tmp / "lalert-receiver-vendor.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for wheel in sorted(set(glob.glob(str(wheels / "*.whl")) + deps)):
            tar.add(wheel, arcname="wheelhouse/" + os.path.basename(wheel))
    return str(path), hashlib.sha256(path.read_bytes()).hexdigest()


def rows(host):
    return host.check_output("sqlite3 /var/lib/lalert/receiver.sqlite3 'SELECT COUNT(*) FROM messages'")


def test_wrong_checksum_stops_before_any_change(host, run_playbook, vendor_artifact):
    only_debian12(host, "swaps the installed release: one platform is enough")
    path, _ = vendor_artifact
    before = host.file(MARKER).content_string
    rc, out = run_playbook(CONVERGE, {"lalert_receiver_artifact": path, "lalert_receiver_artifact_sha256": "0" * 64})
    assert rc != 0 and "lalert_receiver_artifact" in out and "differs" in out, out
    assert "changed=0" in out, out
    assert host.file(MARKER).content_string == before


def test_missing_artifact_stops_before_any_change(host, run_playbook, vendor_artifact):
    """A path with nothing there (a build not made, a vendor's file not copied): stopped, naming the build."""
    only_debian12(host, "swaps the installed release: one platform is enough")
    _, sha = vendor_artifact
    before = host.file(MARKER).content_string
    missing = os.path.join(os.path.dirname(vendor_artifact[0]), "not-built.tar.gz")
    rc, out = run_playbook(CONVERGE, {"lalert_receiver_artifact": missing, "lalert_receiver_artifact_sha256": sha})
    assert rc != 0 and f"lalert_receiver_artifact: {missing} is not a file on the controller" in out, out
    assert "bin/build-artifacts" in out and "changed=0" in out, out
    assert host.file(MARKER).content_string == before


def test_vendor_artifact_installs_and_keeps_data(host, run_playbook, vendor_artifact):
    only_debian12(host, "swaps the installed release: one platform is enough")
    path, sha = vendor_artifact
    before = rows(host)
    rc, out = run_playbook(CONVERGE, {"lalert_receiver_artifact": path, "lalert_receiver_artifact_sha256": sha})
    assert rc == 0, out
    assert host.file(MARKER).content_string == sha[:16]
    # installed from the wheel, not from a source tree
    show = host.check_output("/opt/lalert-receiver/venv/bin/pip show -f lalert-receiver")
    assert "site-packages" in show
    assert host.service("lalert-receiver").is_running
    assert rows(host) == before
    rc, out = run_playbook(CONVERGE, {"lalert_receiver_artifact": path, "lalert_receiver_artifact_sha256": sha})
    assert rc == 0 and "changed=0" in out, out

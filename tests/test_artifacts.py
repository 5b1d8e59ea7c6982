"""The artifacts the roles install: one rule for where each is built and how its checksum is read
(filter_plugins/artifacts.py), one function that builds them (anshin_ops/artifacts.py, bin/build-artifacts)."""

import hashlib
import io
import os
import subprocess
import types

import pytest

from anshin_ops import artifacts
from conftest import ROOT
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


def seeded_cache(tmp_path):
    """The receiver's wheel cache without a download: its pin set's folder, marked complete."""
    pins = (ROOT / "services" / "lalert_receiver" / "requirements.txt").read_bytes()
    cache = tmp_path / "wheels" / hashlib.sha256(pins).hexdigest()[:16]
    cache.mkdir(parents=True)
    (cache / "dep-1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
    (cache / ".complete").touch()
    return str(tmp_path / "wheels")


def test_build_makes_each_artifact_where_the_rule_says_with_its_checksum(tmp_path, monkeypatch):
    monkeypatch.setattr(artifacts._rule, "REPO", str(tmp_path))
    out = io.StringIO()
    built = artifacts.build(out, wheel_cache=seeded_cache(tmp_path))
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

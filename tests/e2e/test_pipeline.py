"""The GitLab pipeline (.gitlab-ci.yml) run for real on this machine by gitlab-ci-local (package.json) with
its shell executor, as the prefecture's runner would run it: its rules decide which jobs there are, and
each job's script runs in this checkout.

Off the main branch the pipeline is test, then check: the check job's dry run goes to the local
stand-ins (ANSHIN_CHECK_INVENTORY=local) instead of staging, and the test job runs the static checks only
(ANSHIN_TEST_ONLY=static) since bin/test is what runs this file. The apply job is never run against
anything: it is shown absent off main, and refused by bin/deploy when named by hand."""

import csv
import os
import re
import subprocess

import pytest
from localenv import local_env  # noqa: F401  (a fixture)

from conftest import ROOT

GITLAB_CI_LOCAL = ROOT / "node_modules" / ".bin" / "gitlab-ci-local"
STATE = ".local/gitlab-ci-local"  # its state and the jobs' artifacts, relative to the checkout


def pipeline(*argv, timeout=1800):
    """gitlab-ci-local in this checkout; the branch a pipeline is for is given as CI_COMMIT_BRANCH (which
    its rules read), whatever is checked out. The CI's secrets are not passed on: with no vault password, a job
    that should have been refused still cannot reach staging."""
    env = {k: v for k, v in os.environ.items() if k not in ("ANSIBLE_VAULT_PASSWORD", "ANSHIN_SSH_KEY")}
    return subprocess.run(
        [
            str(GITLAB_CI_LOCAL),
            "--state-dir",
            STATE,
            "--no-color",
            "--ignore-predefined-vars",
            "CI_COMMIT_BRANCH",
            *argv,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def jobs(branch, *variables):
    """The jobs of the pipeline its rules give for the branch (--list-csv leaves out when: never)."""
    given = [arg for v in variables for arg in ("--variable", v)]
    listed = pipeline("--list-csv", "--variable", f"CI_COMMIT_BRANCH={branch}", *given, timeout=120)
    assert listed.returncode == 0, listed.stderr
    return [row["name"] for row in csv.DictReader(listed.stdout.splitlines(), delimiter=";")]


def test_the_apply_job_is_in_the_pipeline_of_main_only():
    assert jobs("main") == ["test", "check-staging", "apply-staging"]
    assert jobs("feature/new-timer") == ["test", "check-staging"]
    # a main pipeline started with the variables this file uses to shorten it applies nothing
    assert jobs("main", "ANSHIN_TEST_ONLY=static") == ["test", "check-staging"]
    assert jobs("main", "ANSHIN_CHECK_INVENTORY=local") == ["test", "check-staging"]


@pytest.mark.usefixtures("local_env")
def test_off_main_the_pipeline_tests_then_dry_runs_on_the_local_environment():
    ran = pipeline(
        "--variable",
        "CI_COMMIT_BRANCH=feature/new-timer",
        "--variable",
        "ANSHIN_TEST_ONLY=static",
        "--variable",
        "ANSHIN_CHECK_INVENTORY=local",
    )
    out = ran.stdout + ran.stderr
    assert ran.returncode == 0, out[-5000:]
    assert re.search(r"PASS\s+test\b", out) and re.search(r"PASS\s+check-staging\b", out), out[-3000:]
    assert "apply-staging" not in out
    # the test job ran .ci/run (bin/test's static checks), the check job bin/deploy on the stand-ins
    assert "static checks passed" in out
    (log,) = re.findall(
        r"site\.yml on inventories/local --check --diff \(log: (\.local/logs/deploy-local-[\dT]+\.log)\)", out
    )
    recap = {
        m[0]: m[1:]
        for m in re.findall(r"\b([\w-]+)\s+: ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out)
    }
    assert {"lalert-vm", "backup-store", "monitoring-server"} <= set(recap), out[-3000:]
    assert all(unreachable == "0" and failed == "0" for _, unreachable, failed in recap.values()), recap
    # each job's artifacts (.local/logs/) kept, as GitLab keeps them
    kept = ROOT / STATE / "artifacts" / "check-staging" / log
    assert kept.is_file() and "PLAY RECAP" in kept.read_text(encoding="utf-8")


def test_the_apply_job_named_by_hand_off_main_is_refused():
    """gitlab-ci-local runs a job named on its command line whatever its rules say; bin/deploy refuses."""
    ran = pipeline("apply-staging", "--variable", "CI_COMMIT_BRANCH=feature/new-timer", timeout=300)
    out = ran.stdout + ran.stderr
    assert ran.returncode != 0 and re.search(r"FAIL\s+apply-staging\b", out), out[-3000:]
    assert "--apply only from the default branch (main), not feature/new-timer" in out

"""The CI definitions for the prefecture's CI (GitLab CI, GitHub Actions) and what they call.

What they promise is checked here: test first with the README's test command, then a dry run against
staging, then the change on the main branch only, the vault password from the CI's secret store and never
from the repository. bin/deploy's gates and the vault password client are run for real. The GitLab pipeline
itself runs through gitlab-ci-local in tests/e2e/test_pipeline.py.
"""

import os
import shutil
import subprocess

import pytest

from conftest import ROOT, load_yaml

GITLAB = load_yaml(ROOT / ".gitlab-ci.yml")
GITHUB = load_yaml(ROOT / ".github" / "workflows" / "ci.yml")


def scripts(job):
    return " ".join(job.get("script", []) + [s.get("run", "") for s in job.get("steps", [])])


def test_gitlab_runs_tests_then_a_dry_run_then_applies_on_main_only():
    assert GITLAB["stages"] == ["test", "check", "apply"]
    assert scripts(GITLAB["test"]) == ".ci/run"
    assert GITLAB["check-staging"]["needs"] == ["test"]
    assert scripts(GITLAB["check-staging"]) == 'bin/deploy "$ANSHIN_CHECK_INVENTORY" --check'
    assert GITLAB["variables"] == {"ANSHIN_CHECK_INVENTORY": "staging"}
    apply = GITLAB["apply-staging"]
    assert apply["needs"] == ["check-staging"]
    assert scripts(apply) == "bin/deploy staging --apply"
    assert apply["rules"] == [
        {
            "if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $ANSHIN_TEST_ONLY == null"
            ' && $ANSHIN_CHECK_INVENTORY == "staging"'
        }
    ]


def test_github_runs_tests_then_a_dry_run_then_applies_on_main_only():
    jobs = GITHUB["jobs"]
    assert scripts(jobs["test"]).strip() == ".ci/run"
    assert jobs["check-staging"]["needs"] == "test"
    assert "bin/deploy staging --check" in scripts(jobs["check-staging"])
    assert jobs["apply-staging"]["needs"] == "check-staging"
    assert jobs["apply-staging"]["if"] == "github.ref == 'refs/heads/main' && github.event_name == 'push'"
    assert "bin/deploy staging --apply" in scripts(jobs["apply-staging"])
    for name in ("check-staging", "apply-staging"):
        env = [s.get("env", {}) for s in jobs[name]["steps"] if "bin/deploy" in s.get("run", "")][0]
        assert env["ANSIBLE_VAULT_PASSWORD"] == "${{ secrets.ANSIBLE_VAULT_PASSWORD }}"


def test_the_readme_test_command_is_what_ci_runs():
    assert "exec ./bin/test" in (ROOT / ".ci" / "run").read_text()
    assert "`bin/test`" in (ROOT / "README.md").read_text()


def run(args, **env):
    return subprocess.run(
        args,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env},
    )


def test_deploy_refuses_without_the_vault_password_or_with_bad_arguments():
    out = run(["bin/deploy", "staging", "--check"])
    assert out.returncode != 0 and "ANSIBLE_VAULT_PASSWORD is not set" in out.stderr
    out = run(["bin/deploy", "staging", "--yolo"], ANSIBLE_VAULT_PASSWORD="x")
    assert out.returncode != 0 and "mode must be --check or --apply" in out.stderr
    out = run(["bin/deploy", "nowhere", "--check"], ANSIBLE_VAULT_PASSWORD="x")
    assert out.returncode != 0 and "no inventory inventories/nowhere/hosts.yml" in out.stderr
    out = run(["bin/deploy", "local/../staging", "--apply"], ANSIBLE_VAULT_PASSWORD="x")
    assert out.returncode != 0 and "an inventory is a name under inventories/" in out.stderr


@pytest.fixture
def checkout(tmp_path):
    """A repository on main holding what bin/deploy's gates read (bin/, inventories/), as this working tree
    has them, all committed."""
    path = tmp_path / "checkout"
    for folder in ("bin", "inventories"):
        shutil.copytree(ROOT / folder, path / folder)
    (path / "site.yml").write_text("---\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run(git + ["init", "-q", "-b", "main"], cwd=path, check=True)
    subprocess.run(git + ["add", "-A"], cwd=path, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "x"], cwd=path, check=True)
    return path


def deploy(checkout, *argv, **env):
    """bin/deploy of the clone, never with a vault password: should a gate let it through, it stops at the
    password check before anything reaches staging."""
    return subprocess.run(
        [str(checkout / "bin" / "deploy"), *argv],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **env},
    )


@pytest.mark.parametrize(
    "env",
    [
        {"CI": "true", "CI_COMMIT_BRANCH": "feature/new-timer"},
        {"CI": "true", "CI_COMMIT_TAG": "v1.0"},  # a tag pipeline has no branch
        {"CI": "true", "CI_COMMIT_BRANCH": "main", "CI_DEFAULT_BRANCH": "production-ready"},
        {"CI": "true", "GITHUB_REF_NAME": "fix"},
    ],
)
def test_deploy_applies_only_from_the_default_branch_in_ci(checkout, env):
    """gitlab-ci-local runs a job named on its command line whatever its rules say: bin/deploy holds the
    pipeline's rule itself."""
    out = deploy(checkout, "staging", "--apply", **env)
    assert out.returncode != 0 and "--apply only from the default branch" in out.stderr, out.stderr


def test_deploy_by_hand_applies_only_from_a_clean_main(checkout):
    subprocess.run(["git", "checkout", "-q", "-b", "experiment"], cwd=checkout, check=True)
    out = deploy(checkout, "staging", "--apply")
    assert "--apply only from the default branch (main), not experiment" in out.stderr
    subprocess.run(["git", "checkout", "-q", "main"], cwd=checkout, check=True)
    with open(checkout / "site.yml", "a") as edited:
        edited.write("# an edit nobody committed\n")
    out = deploy(checkout, "staging", "--apply")
    assert out.returncode != 0 and "--apply only from a clean checkout" in out.stderr
    subprocess.run(["git", "checkout", "-q", "--", "site.yml"], cwd=checkout, check=True)
    (checkout / "inventories" / "staging" / "host_vars").mkdir()
    (checkout / "inventories" / "staging" / "host_vars" / "vm.yml").write_text("---\nnot_committed: true\n")
    out = deploy(checkout, "staging", "--apply")
    assert out.returncode != 0 and "--apply only from a clean checkout" in out.stderr, out.stderr
    shutil.rmtree(checkout / "inventories" / "staging" / "host_vars")
    out = deploy(checkout, "staging", "--apply", ANSHIN_TEST_ONLY="static")
    assert out.returncode != 0 and "never after a shortened test run" in out.stderr, out.stderr
    # the gates passed, the next one holds: the vault password (deploy never gets one here)
    subprocess.run(["git", "checkout", "-q", "--", "site.yml"], cwd=checkout, check=True)
    for env in ({}, {"CI": "true", "CI_COMMIT_BRANCH": "main"}):
        out = deploy(checkout, "staging", "--apply", **env)
        assert out.returncode != 0 and "ANSIBLE_VAULT_PASSWORD is not set" in out.stderr, out.stderr


def test_a_stand_in_inventory_needs_no_vault_password_and_others_do():
    """inventories/local declares itself a stand-in (no secrets, nothing to decrypt); bin/deploy decides by
    the same marker playbooks/local/ use, and staging and production do not carry it."""
    marker = "anshin_standin_inventory: true"
    found = {
        p.parent.parent.parent.name
        for p in (ROOT / "inventories").glob("*/group_vars/all/*.yml")
        if marker in p.read_text().splitlines()
    }
    assert found == {"local"}
    assert f"grep -qsx '{marker}'" in (ROOT / "bin" / "deploy").read_text()


def test_the_vault_password_client_unlocks_a_vault(tmp_path):
    secret = tmp_path / "vault.yml"
    secret.write_text("vault_backup_passphrase: correct horse battery staple\n")
    client = str(ROOT / "bin" / "vault-password-from-env")
    env = {"ANSIBLE_VAULT_PASSWORD": "ci-secret-value", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    assert run(["ansible-vault", "encrypt", "--vault-password-file", client, str(secret)], **env).returncode == 0
    assert secret.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    shown = run(["ansible-vault", "view", "--vault-password-file", client, str(secret)], **env)
    assert shown.stdout == "vault_backup_passphrase: correct horse battery staple\n", shown.stderr
    wrong = run(
        ["ansible-vault", "view", "--vault-password-file", client, str(secret)],
        ANSIBLE_VAULT_PASSWORD="wrong",
        ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
    )
    assert wrong.returncode != 0
    missing = run([client])
    assert missing.returncode == 1 and "ANSIBLE_VAULT_PASSWORD is not set" in missing.stderr


@pytest.mark.parametrize("path", [".gitlab-ci.yml", ".github/workflows/ci.yml"])
def test_no_secret_value_in_the_ci_files(path):
    text = (ROOT / path).read_text()
    assert "PRIVATE KEY" not in text and "$ANSIBLE_VAULT;" not in text

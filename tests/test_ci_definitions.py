"""The CI definitions for the prefecture's CI (GitLab CI, GitHub Actions) and what they call.

The pipelines cannot run here (no GitLab or GitHub); what they promise is checked: test first with the
README's test command, then a dry run against staging, then the change on the main branch only, the vault
password from the CI's secret store and never from the repository. bin/deploy and the vault password client
are run for real.
"""

import os
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
    assert scripts(GITLAB["check-staging"]) == "bin/deploy staging --check"
    apply = GITLAB["apply-staging"]
    assert apply["needs"] == ["check-staging"]
    assert scripts(apply) == "bin/deploy staging --apply"
    assert apply["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]


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

"""anshin_ops/runner.py without a playbook run: the progress line from runner events, the draft incident from
the first real failure, the task total from the last run, and bad input that writes nothing.
(tests/e2e runs real jobs against the local environment.)"""

import io
import os

import pytest
import yaml

from anshin_ops import cli, incidents, output, runner


def events():
    return [
        {"event": "playbook_on_task_start", "event_data": {"task": "Gathering Facts"}},
        {"event": "runner_on_start", "event_data": {"host": "lalert-vm", "task": "Gathering Facts"}},
        {"event": "runner_on_ok", "event_data": {"host": "lalert-vm", "task": "Gathering Facts"}},
        {"event": "playbook_on_task_start", "event_data": {"task": "Probe"}},
        {"event": "runner_on_start", "event_data": {"host": "lalert-vm", "task": "Probe"}},
        # an ignored failure is not the run's failure
        {
            "event": "runner_on_failed",
            "event_data": {"host": "lalert-vm", "task": "Probe", "ignore_errors": True, "res": {"msg": "ignored"}},
        },
        {"event": "playbook_on_task_start", "event_data": {"task": "Start the drill"}},
        {"event": "runner_on_start", "event_data": {"host": "lalert-vm", "task": "Start the drill"}},
        {
            "event": "runner_on_failed",
            "created": "2026-11-27T07:05:00.123456",
            "event_data": {"host": "lalert-vm", "task": "Start the drill", "res": {"msg": "unit failed"}},
        },
        {
            "event": "runner_on_unreachable",
            "event_data": {"host": "standby-vm", "task": "Start the drill", "res": {"msg": "later"}},
        },
    ]


def test_progress_counts_tasks_and_keeps_the_first_real_failure():
    out = io.StringIO()
    progress = runner.Progress(7, out)
    for event in events():
        assert progress(event) is True
    lines = out.getvalue().splitlines()
    assert lines == ["[1/7] lalert-vm: Gathering Facts", "[2/7] lalert-vm: Probe", "[3/7] lalert-vm: Start the drill"]
    assert progress.tasks == 3
    assert progress.failure["task"] == "Start the drill" and progress.failure["message"] == "unit failed"
    assert progress.failure["host"] == "lalert-vm" and not progress.failure["unreachable"]


def test_draft_incident_from_the_failure(tmp_path):
    progress = runner.Progress(None, io.StringIO())
    for event in events():
        progress(event)
    path = runner.draft_incident(str(tmp_path), "restore_drill", progress.failure, None, "保守 太郎")
    with open(path, encoding="utf-8") as fh:
        record = yaml.safe_load(fh)
    assert record["id"].startswith("INC-20261127-1605-") and record["status"] == "下書き"
    assert record["occurred"] == "2026-11-27T16:05:00+09:00"  # runner times are UTC
    assert record["target"] == "lalert-vm" and "Start the drill" in record["summary"]
    assert "unit failed" in record["summary"] and record["detection"] == "保守作業 (anshin run restore_drill)"
    assert incidents.validate(record) == []


def test_total_comes_from_the_last_finished_run_of_the_job(tmp_path):
    for name, entry in (
        ("1.yml", {"job": "patch", "result": "成功", "tasks": 40}),
        ("2.yml", {"job": "patch", "result": "中断", "tasks": 3}),
        ("3.yml", {"job": "backup_now", "result": "成功", "tasks": 5}),
    ):
        output.write_yaml(str(tmp_path / name), entry)
    assert runner.previous_total(str(tmp_path), "patch") == 40
    assert runner.previous_total(str(tmp_path), "restore") is None


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "no_such_job"], "unknown job 'no_such_job'"),
        (["run", "backup_now", "--inventory", "no_such_inventory"], "no inventory 'no_such_inventory'"),
        (["run", "backup_now", "-e", "novalue"], "-e needs NAME=VALUE"),
        (["run"], ""),
        # a changing job on production or staging without the prefecture's approval reference
        (["run", "patch", "--inventory", "production"], "give the prefecture's approval reference with --approval"),
        (["run", "site", "--inventory", "staging", "--approval", "  "], "--approval"),
        (["run", "restore", "--inventory", "production", "-e", "restore_before=2026-11-28"], "--approval"),
    ],
)
def test_bad_input_runs_and_writes_nothing(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(tmp_path / "records"))
    runs = os.path.join(runner.ROOT, ".local", "runs")
    before = set(os.listdir(runs)) if os.path.isdir(runs) else set()
    assert cli.main(["--records", str(tmp_path / "incidents"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "records").exists() and not (tmp_path / "incidents").exists()
    assert (set(os.listdir(runs)) if os.path.isdir(runs) else set()) == before


def test_every_job_names_an_existing_playbook_and_a_runbook():
    for name, job in runner.jobs().items():
        assert os.path.isfile(os.path.join(runner.ROOT, job["playbook"])), name
        assert job["title"] and job["when"] and job["steps"] and job["rollback"], name


def test_secret_looking_extra_vars_stay_out_of_the_log():
    assert runner.logged_extra_vars(
        ["restore_before=2026-11-28T01:00", "backup_passphrase=hunter2hunter2", "vault_api_token=x=y"]
    ) == ["restore_before=2026-11-28T01:00", "backup_passphrase=(秘匿)", "vault_api_token=(秘匿)"]


def test_which_runs_need_an_approval():
    jobs = runner.jobs()
    assert all(isinstance(job.get("changes"), bool) for job in jobs.values()), "every job says whether it changes"
    assert runner.needs_approval(jobs["patch"], "production", check=False)
    assert runner.needs_approval(jobs["ldap_sync"], "staging", check=False)
    assert not runner.needs_approval(jobs["patch"], "production", check=True)  # check mode
    assert not runner.needs_approval(jobs["log_audit"], "production", check=False)  # read-only
    assert not runner.needs_approval(jobs["patch"], "local", check=False)  # the stand-ins
    assert {name for name, job in jobs.items() if job["changes"]} >= {
        "site",
        "patch",
        "restore",
        "failover",
        "ldap_sync",
        "backup_now",
        "lalert_drill",
    }


def test_the_approval_goes_into_the_maintenance_log(tmp_path, monkeypatch):
    """run_job records the approval reference; ansible-runner is replaced by a fake that runs nothing."""
    import types

    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(tmp_path / "records"))
    fake = types.SimpleNamespace(status="successful", rc=0, stats={"changed": {"vm": 2}})
    calls = []
    monkeypatch.setitem(
        __import__("sys").modules,
        "ansible_runner",
        types.SimpleNamespace(run=lambda **kwargs: (calls.append(kwargs), fake)[1]),
    )
    monkeypatch.setattr(runner, "_new_run_dir", lambda base: (base, str(tmp_path / "run")))
    with open(os.devnull, "w") as devnull:
        rc, entry = runner.run_job("patch", "production", approval="徳危第123号 (2026-11-30)", stream=devnull)
    assert rc == 0 and entry["approval"] == "徳危第123号 (2026-11-30)"
    (logged,) = runner.load_log(str(tmp_path / "records" / "maintenance"))
    assert logged["approval"] == "徳危第123号 (2026-11-30)" and logged["inventory"] == "production"
    # the playbook writes its reports where bin/anshin reads them: the records folder is passed down
    assert f"anshin_records_dir={tmp_path / 'records'}" in calls[0]["cmdline"]


@pytest.fixture
def fake_build_and_runner(tmp_path, monkeypatch):
    """The artifacts' build and ansible-runner replaced: what ran, in order ("build", then the playbooks)."""
    import sys
    import types

    from anshin_ops import artifacts

    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(tmp_path / "records"))
    order = []
    fake = types.SimpleNamespace(status="successful", rc=0, stats={})
    monkeypatch.setattr(artifacts, "build", lambda stream=None, **_: order.append("build") or {})
    monkeypatch.setitem(
        sys.modules, "ansible_runner", types.SimpleNamespace(run=lambda **kw: (order.append(kw["playbook"]), fake)[1])
    )
    monkeypatch.setattr(runner, "_new_run_dir", lambda base: (base, str(tmp_path / "run")))
    return order


def test_a_job_that_installs_an_artifact_builds_it_first(fake_build_and_runner):
    """site.yml and failover.yml apply the receiver, which installs the artifact bin/build-artifacts builds (in
    check mode too: the role checks it before any change); a job that installs nothing builds nothing."""
    with open(os.devnull, "w") as devnull:
        assert runner.run_job("site", "local", check=True, stream=devnull)[0] == 0
        assert runner.run_job("failover", "local", stream=devnull)[0] == 0
        assert runner.run_job("patch_report", "local", stream=devnull)[0] == 0
    assert fake_build_and_runner == [
        "build",
        "site.yml",
        "build",
        "playbooks/failover.yml",
        "playbooks/patch_report.yml",
    ]


def test_a_failed_build_runs_and_writes_nothing(fake_build_and_runner, tmp_path, monkeypatch, capsys):
    from anshin_ops import artifacts

    def unreachable(stream=None, **_):
        raise artifacts.BuildError("building the artifact lalert-receiver failed: pip download exited 1")

    monkeypatch.setattr(artifacts, "build", unreachable)
    assert cli.main(["run", "site", "--check"]) == 2
    assert "site: building the artifact lalert-receiver failed: pip download exited 1" in capsys.readouterr().err
    assert fake_build_and_runner == [] and not (tmp_path / "records").exists() and not (tmp_path / "run").exists()


def _files_holding(root, secret):
    found = []
    for folder, _, names in os.walk(root):
        for name in names:
            with open(os.path.join(folder, name), "rb") as fh:
                if secret.encode() in fh.read():
                    found.append(os.path.relpath(os.path.join(folder, name), root))
    return found


def test_no_secret_of_the_environment_stays_in_the_run_artifacts(tmp_path, monkeypatch):
    """A real ansible-runner run (one debug task on the controller): it writes the whole environment of
    ansible-playbook into artifacts/<ident>/command; after scrub_runner_env no file of the run holds the vault
    password given through ANSIBLE_VAULT_PASSWORD, and the command is still recorded."""
    import ansible_runner

    secret = "vault-Secret-7f3a9c"
    monkeypatch.setenv("ANSIBLE_VAULT_PASSWORD", secret)
    project = tmp_path / "project"
    project.mkdir()
    (project / "noop.yml").write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug:\n        msg: hello\n"
    )
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    result = ansible_runner.run(
        private_data_dir=str(run_dir),
        project_dir=str(project),
        playbook="noop.yml",
        inventory="localhost,",
        ident="run",
        quiet=True,
        envvars=runner.runner_envvars(),
    )
    assert result.rc == 0
    assert _files_holding(run_dir, secret) == ["artifacts/run/command"]  # what ansible-runner leaves
    runner.scrub_runner_env(str(run_dir), "run")
    assert _files_holding(run_dir, secret) == []
    with open(run_dir / "artifacts" / "run" / "command", encoding="utf-8") as fh:
        assert "ansible-playbook" in fh.read()


def test_host_keys_are_checked_unless_the_operator_says_otherwise(monkeypatch):
    monkeypatch.delenv("ANSIBLE_HOST_KEY_CHECKING", raising=False)
    assert runner.runner_envvars()["ANSIBLE_HOST_KEY_CHECKING"] == "True"  # ansible-runner's own default: False
    monkeypatch.setenv("ANSIBLE_HOST_KEY_CHECKING", "False")
    assert runner.runner_envvars()["ANSIBLE_HOST_KEY_CHECKING"] == "False"

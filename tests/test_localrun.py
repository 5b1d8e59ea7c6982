"""anshin_ops/localrun.py (bin/run after bin/localenv up) over hand-written runner events
(tests/fixtures/runner_events/): what is shown is picked from the events, ansible's text goes to the logs, the
exit code is kept. ansible-runner is replaced by a fake that replays the events; no playbook runs, and the
artifacts' build (anshin_ops.artifacts, tests/test_artifacts.py) is replaced by one that records its call."""

import io
import json
import os
import sys
import types

import pytest

from anshin_ops import artifacts, localrun, runner

EVENTS = os.path.join(os.path.dirname(__file__), "fixtures", "runner_events")


def recorded(name):
    with open(os.path.join(EVENTS, f"{name}.json"), encoding="utf-8") as fh:
        return json.load(fh)


def test_the_result_of_a_named_task_is_its_debug_message():
    events = recorded("lalert_drill")["events"]
    ((host, message),) = localrun.task_results(events, "Show the replies and the stored counts")
    assert host == "lalert-vm" and message["messages_sent"] == "12" and message["answered_code_0"] == "12"
    assert localrun.task_results(events, "Show the replies") == []  # the whole name, not a prefix


def test_a_role_task_is_picked_by_role_and_name():
    events = recorded("ldap_sync")["events"]
    ((host, message),) = localrun.task_results(events, "Summarise", "ldap_sync")
    assert host == "lalert-vm" and message.startswith("applied: 5 people in the source")
    # the same name in the playbook itself or in another role is another task
    assert localrun.task_results(events, "Summarise") == []
    assert localrun.task_results(events, "Summarise", "backup") == []


def test_results_are_shown_per_host_a_mapping_as_yaml():
    events = recorded("lalert_drill")["events"]
    lines = localrun.result_lines(
        "Show the replies and the stored counts",
        localrun.task_results(events, "Show the replies and the stored counts"),
    )
    assert lines == [
        "TASK [Show the replies and the stored counts]",
        "  lalert-vm:",
        "    messages_sent: '12'",
        "    answered_code_0: '12'",
        "    stored_by_kind_and_status:",
        "    - 地震|stored|6",
        "    - 気象|stored|6",
    ]
    assert localrun.result_lines("Summarise", [("lalert-vm", "applied: no change")]) == [
        "TASK [Summarise]",
        "  lalert-vm: applied: no change",
    ]
    assert localrun.result_lines("Summarise", []) == ["TASK [Summarise]", "  (no host ran it)"]


def test_the_recap_is_ansibles_from_the_stats_event():
    lines = localrun.recap_lines(recorded("site")["events"])
    assert lines == [
        "PLAY RECAP",
        "backup-store               : ok=1    changed=0    unreachable=0    failed=0    "
        "skipped=0    rescued=0    ignored=1   ",
        "lalert-vm                  : ok=2    changed=1    unreachable=0    failed=0    "
        "skipped=3    rescued=0    ignored=0   ",
    ]
    assert localrun.recap_lines(recorded("site")["events"][:5]) == []  # a run stopped before the end


def test_the_first_real_failure_with_its_message():
    assert localrun.failure_lines(recorded("site")["events"]) == []  # an ignored failure is none
    assert localrun.failure_lines(recorded("site_failed")["events"]) == [
        "failed: [lalert-vm] TASK [Probe the time server] (play: Base of every machine)",
        "  non-zero return code: 506 Cannot talk to daemon",
    ]
    unreachable = {
        "event": "runner_on_unreachable",
        "event_data": {"host": "backup-store", "task": "Gathering Facts", "play": "Base", "res": {"msg": "timed out"}},
    }
    assert localrun.failure_lines([unreachable]) == [
        "unreachable: [backup-store] TASK [Gathering Facts] (play: Base)",
        "  timed out",
    ]


def test_the_recorder_logs_ansibles_text_without_colours_and_keeps_the_results():
    log = io.StringIO()
    recorder = localrun.Recorder(log)
    for event in recorded("site")["events"]:
        assert recorder(event) is True
    text = log.getvalue()
    assert "\x1b" not in text and "\r" not in text
    assert "TASK [base : Probe the time server] ***" in text and "changed: [lalert-vm]\n" in text
    assert [e["event"] for e in recorder.events] == [
        "runner_on_ok",
        "runner_on_failed",
        "runner_on_ok",
        "playbook_on_stats",
    ]


@pytest.fixture
def fake_runner(tmp_path, monkeypatch):
    """ansible_runner.run replaced: replays the recorded events of the playbook (by its ident, or as told in
    `runs`) to the event handler and returns its exit code; the calls are kept, and in `order` what ran: the
    artifacts' build (replaced too) and each playbook."""
    calls, runs, order = [], {}, []

    def build(stream=None, **_):
        order.append("build")
        return {}

    def run(**kwargs):
        calls.append(kwargs)
        order.append(kwargs["playbook"])
        recording = recorded(runs.get(kwargs["ident"], kwargs["ident"]))
        for event in recording["events"]:
            kwargs["event_handler"](event)
        return types.SimpleNamespace(rc=recording["rc"], status="successful" if recording["rc"] == 0 else "failed")

    monkeypatch.setitem(sys.modules, "ansible_runner", types.SimpleNamespace(run=run))
    monkeypatch.setattr(artifacts, "build", build)
    monkeypatch.setattr(localrun, "LOGS", str(tmp_path / "logs"))
    monkeypatch.setattr(runner, "_new_run_dir", lambda base: (base, str(tmp_path / "run")))
    return types.SimpleNamespace(calls=calls, runs=runs, order=order, logs=tmp_path / "logs")


def test_the_artifacts_are_built_before_site_yml(fake_runner):
    assert localrun.main(["--check"]) == 0
    assert fake_runner.order == ["build", "site.yml"]


def test_a_failed_build_runs_no_playbook(fake_runner, monkeypatch, capsys):
    def unreachable(stream=None, **_):
        raise artifacts.BuildError("building the artifact lalert-receiver failed: pip download exited 1")

    monkeypatch.setattr(artifacts, "build", unreachable)
    assert localrun.main([]) == 1
    assert fake_runner.order == []
    assert "failed: building the artifact lalert-receiver failed: pip download exited 1" in capsys.readouterr().out


def test_a_full_run_shows_the_replies_the_archive_the_summary_and_the_recap(fake_runner, capsys):
    assert localrun.main(["--diff"]) == 0
    assert [c["playbook"] for c in fake_runner.calls] == [
        "site.yml",
        "playbooks/local/lalert_drill.yml",
        "playbooks/backup_now.yml",
        "playbooks/local/ldap_directory_standin.yml",
        "playbooks/ldap_sync.yml",
    ]
    site = fake_runner.calls[0]
    # ansible-playbook's options go to site.yml only; only site.yml's text goes to the terminal as it runs
    assert site["cmdline"] == "--diff" and not site["quiet"]
    assert all(c["cmdline"] is None and c["quiet"] for c in fake_runner.calls[1:])
    assert site["envvars"]["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    out = capsys.readouterr().out
    assert "TASK [Show the replies and the stored counts]\n  lalert-vm:\n    messages_sent: '12'" in out
    assert "TASK [Report the archive made]\n  lalert-vm:\n    store: ssh://borg@backup-store" in out
    assert "TASK [Summarise]\n  lalert-vm: applied: 5 people in the source" in out
    assert "PLAY RECAP\nbackup-store               : ok=1 " in out
    assert "failed:" not in out
    logs = sorted(os.listdir(fake_runner.logs))
    assert [name.split("-")[0] for name in logs] == ["backup", "drill", "ldap", "site"]
    ldap_log = (fake_runner.logs / logs[2]).read_text(encoding="utf-8")
    # both LDAP playbooks' text in the one log, as ansible printed it
    assert "TASK [Show the stand-in's people] ***" in ldap_log and "TASK [ldap_sync : Summarise] ***" in ldap_log
    for name in logs:
        assert str(fake_runner.logs / name) in out


def test_check_mode_applies_site_yml_only(fake_runner, capsys):
    assert localrun.main(["--check", "--diff"]) == 0
    assert [c["playbook"] for c in fake_runner.calls] == ["site.yml"]
    assert fake_runner.calls[0]["cmdline"] == "--check --diff"
    assert "PLAY RECAP" in capsys.readouterr().out


def test_a_failed_site_yml_keeps_its_exit_code_and_shows_the_failure(fake_runner, capsys):
    fake_runner.runs["site"] = "site_failed"
    assert localrun.main([]) == 2
    assert [c["playbook"] for c in fake_runner.calls] == ["site.yml"]  # no drill after a failure
    out = capsys.readouterr().out
    assert "lalert-vm                  : ok=1    changed=0    unreachable=0    failed=1 " in out
    assert "failed: [lalert-vm] TASK [Probe the time server]" in out and "506 Cannot talk to daemon" in out


def test_a_failed_step_shows_its_failure_and_the_next_steps_still_run(fake_runner, capsys):
    fake_runner.runs["lalert_drill"] = "lalert_drill_failed"
    assert localrun.main([]) == 2
    assert len(fake_runner.calls) == 5  # the backup and the LDAP sync still run, as before
    out = capsys.readouterr().out
    assert "TASK [Show the replies" not in out  # the failure alone, as the replies never came
    assert "failed: [lalert-vm] TASK [Publish the synthetic messages] (play: Local)" in out
    assert "non-zero return code: ConnectionRefusedError: [Errno 111] Connection refused" in out
    assert "TASK [Report the archive made]" in out


def test_the_sync_does_not_run_when_the_stand_in_directory_failed(fake_runner, capsys):
    fake_runner.runs["ldap_directory_standin"] = "lalert_drill_failed"
    assert localrun.main([]) == 2
    assert fake_runner.calls[-1]["playbook"] == "playbooks/local/ldap_directory_standin.yml"
    assert "TASK [Summarise]" not in capsys.readouterr().out

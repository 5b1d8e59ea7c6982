"""bin/run once the stand-ins are up: the artifacts site.yml installs built (anshin_ops.artifacts, as
bin/build-artifacts does), site.yml on the local environment, then (when it passed, not in check mode) the L-Alert
drill, a backup now, and the LDAP stand-in directory with the sync from it.

Each playbook runs through ansible-runner (as `anshin run` does, anshin_ops/runner.py). What bin/run shows is
picked from the runner's events, not from ansible's text: the result of a named task (event_data.task and .role,
the debug message in .res), the recap per host (the playbook_on_stats event) and the first real failure
(runner.failure_of). Ansible's text goes to a log per step under .local/logs/ (site.yml's also to the terminal as it
runs); the events stay in the runner's artifacts under .local/runs/.

    python -m anshin_ops.localrun [ansible-playbook options...]     (bin/run runs it, after bin/localenv up)
"""

import datetime
import os
import re
import shlex
import signal
import sys

import yaml

from anshin_ops import artifacts, records, runner

ROOT = runner.ROOT
LOGS = os.path.join(ROOT, ".local", "logs")
# ansible under ansible-runner writes to a terminal: colour codes and CRLF, which the logs go without
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# the recap's columns, as ansible prints them, and the playbook_on_stats key of each
RECAP = (
    ("ok", "ok"),
    ("changed", "changed"),
    ("unreachable", "dark"),
    ("failed", "failures"),
    ("skipped", "skipped"),
    ("rescued", "rescued"),
    ("ignored", "ignored"),
)
# the steps after site.yml: log name, what is said, playbooks run one after the other into one log, and the
# (role, task) whose result is shown (a debug task; role None for a task of the playbook itself)
STEPS = (
    (
        "drill",
        "publishing the synthetic L-Alert messages to the receiver",
        ("playbooks/local/lalert_drill.yml",),
        (None, "Show the replies and the stored counts"),
    ),
    # the drill's messages go into an archive on the backup store right away
    (
        "backup",
        "backing up the VM to the backup store now",
        ("playbooks/backup_now.yml",),
        (None, "Report the archive made"),
    ),
    # the stand-in for the prefecture's directory, then a sync into the VM's directory
    (
        "ldap",
        "LDAP: stand-in directory, then the sync into the VM's directory",
        ("playbooks/local/ldap_directory_standin.yml", "playbooks/ldap_sync.yml"),
        ("ldap_sync", "Summarise"),
    ),
)
FILES = """\
  backups:          on the VM: anshin-backup list | drill | restore --help; playbooks/restore.yml
  receiver on the VM: database /var/lib/lalert/receiver.sqlite3, spool /var/spool/lalert/,
                    access log /var/log/nginx/lalert-receiver.access.log
  SSH key, known_hosts of the stand-ins: {root}/.local/ssh/
  monitoring:       Prometheus/Alertmanager on monitoring-server's loopback (README: Monitoring and alerts);
                    playbooks/integration_check.yml, playbooks/resource_report.yml
  LDAP:             playbooks/ldap_sync.yml (--check: dry run), reports in {ldap_reports}/
  operators' CLI:   bin/anshin run --list | log | incident | report availability|monthly | docs
  containers:       bin/localenv status   (remove: bin/localenv down)
"""
KEPT = ("runner_on_ok", "runner_on_failed", "runner_on_unreachable", "playbook_on_stats")


def log(message):
    sys.stderr.write(f"\033[1m==> {message}\033[0m\n")
    sys.stderr.flush()


# --- what is shown, from a list of runner events (tests/test_localrun.py) ---


def task_results(events, task, role=None):
    """(host, result) of each host that ran the task: the debug message (res.msg), else the whole result."""
    found = []
    for event in events:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok" and data.get("task") == task and (data.get("role") or None) == role:
            res = data.get("res", {}) or {}
            found.append((data.get("host", ""), res.get("msg", res)))
    return found


def result_lines(task, results):
    """The task's name, then each host's result: a line for a text, indented YAML for a mapping or a list."""
    lines = [f"TASK [{task}]"]
    for host, value in results:
        if isinstance(value, dict | list):
            lines.append(f"  {host}:")
            text = yaml.safe_dump(value, allow_unicode=True, sort_keys=False, default_flow_style=False, width=1000)
            lines += ["    " + line for line in text.splitlines()]
        else:
            lines.append(f"  {host}: {value}")
    if not results:
        lines.append("  (no host ran it)")
    return lines


def recap_lines(events):
    """PLAY RECAP as ansible prints it, from the last playbook_on_stats event; none without one."""
    stats = [e.get("event_data", {}) for e in events if e.get("event") == "playbook_on_stats"]
    if not stats:
        return []
    counts = stats[-1]
    hosts = sorted({host for _, key in RECAP for host in counts.get(key) or {}} | set(counts.get("processed") or {}))
    return ["PLAY RECAP"] + [
        f"{host:<26} : " + " ".join(f"{name}={(counts.get(key) or {}).get(host, 0):<4}" for name, key in RECAP)
        for host in hosts
    ]


def failure_lines(events):
    """The first real failure (runner.failure_of): host, task, play and the module's message."""
    for event in events:
        failure = runner.failure_of(event)
        if failure:
            what = "unreachable" if failure["unreachable"] else "failed"
            return [
                f"{what}: [{failure['host']}] TASK [{failure['task']}] (play: {failure['play']})",
                f"  {failure['message']}",
            ]
    return []


# --- running a playbook ---


class Recorder:
    """The runner's event handler: ansible's text of each event into the log (without colours), and the events
    that what is shown is picked from."""

    def __init__(self, log_fh):
        self.log_fh, self.events = log_fh, []

    def __call__(self, event):
        if event.get("stdout"):
            self.log_fh.write(ANSI.sub("", event["stdout"]).replace("\r\n", "\n") + "\n")
            self.log_fh.flush()
        if event.get("event") in KEPT:
            self.events.append(event)
        return True


def run_playbook(run_dir, playbook, args, log_fh, interrupted, show=False):
    """One playbook through ansible-runner, its text into log_fh (and to the terminal when show);
    returns (exit code of ansible-playbook, events kept)."""
    import ansible_runner

    recorder = Recorder(log_fh)
    result = ansible_runner.run(
        private_data_dir=run_dir,
        project_dir=ROOT,
        playbook=playbook,
        cmdline=shlex.join(args) or None,
        ident=os.path.splitext(os.path.basename(playbook))[0],
        quiet=not show,
        event_handler=recorder,
        cancel_callback=lambda: bool(interrupted),
        envvars=runner.runner_envvars(),
    )
    runner.scrub_runner_env(run_dir, os.path.splitext(os.path.basename(playbook))[0])
    return (130 if interrupted else result.rc), recorder.events


def _log_path(name):
    return os.path.join(LOGS, f"{name}-{datetime.datetime.now():%Y%m%dT%H%M%S}.log")


def _print(lines):
    for line in lines:
        print(line)
    sys.stdout.flush()


def main(argv):
    check = any(a in ("--check", "-C") for a in argv)
    os.makedirs(LOGS, exist_ok=True)
    _, run_dir = runner._new_run_dir(f"{datetime.datetime.now():%Y%m%dT%H%M%S}-bin-run")
    interrupted = []
    previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    try:
        return _run_all(argv, check, run_dir, interrupted)
    finally:
        signal.signal(signal.SIGINT, previous_handler)


def _run_all(argv, check, run_dir, interrupted):
    log("building the artifacts site.yml installs (bin/build-artifacts)")
    try:
        artifacts.build(sys.stderr)
    except artifacts.BuildError as exc:
        _print([f"failed: {exc}"])
        return 1
    site_log = _log_path("site")
    log(f"applying site.yml to inventories/local (log: {runner._shown(site_log)})")
    with open(site_log, "w", encoding="utf-8") as fh:
        rc, site_events = run_playbook(run_dir, "site.yml", argv, fh, interrupted, show=True)
    logs = [("run log:", site_log)]

    if rc == 0 and not check:
        for name, said, playbooks, (role, task) in STEPS:
            path = _log_path(name)
            log(f"{said} (log: {runner._shown(path)})")
            logs.append((f"{name} log:", path))
            events = []
            with open(path, "w", encoding="utf-8") as fh:
                for playbook in playbooks:
                    step_rc, step_events = run_playbook(run_dir, playbook, [], fh, interrupted)
                    events += step_events
                    if step_rc != 0:
                        rc = step_rc
                        break
            shown, failed = task_results(events, task, role), failure_lines(events)
            # a failure before the task: the failure alone
            _print((result_lines(task, shown) if shown or not failed else []) + failed)
            if interrupted:
                break

    log("recap per host (site.yml)")
    _print(recap_lines(site_events) + failure_lines(site_events))
    log("files")
    _print(
        [f"  {label:<17} {os.path.abspath(path)}" for label, path in logs]
        + [f"  runner events:    {runner._shown(run_dir)}/artifacts/<playbook>/job_events/"]
    )
    # the records folder by the one rule (anshin_ops.records), for the local inventory bin/run applies
    sys.stdout.write(FILES.format(root=ROOT, ldap_reports=runner._shown(records.records_dir("local", "ldap_sync"))))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

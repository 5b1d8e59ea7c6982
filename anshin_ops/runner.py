"""`anshin run JOB`: a maintenance playbook through ansible-runner, with a live progress line, a maintenance
log entry (保守作業記録) per run, the runner's artifacts kept per run, and a draft incident when it fails.

Where things go: anshin_ops.records (records/<inventory>/ in git for staging and production; the local
stand-ins' runs are not maintenance of the real system and stay out of git).
"""

import datetime
import getpass
import json
import os
import re
import shlex
import signal
import subprocess
import sys

import yaml

from anshin_ops import artifacts, incidents, inventory, office_calendar as cal, output, records

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JOBS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "jobs.yml")
RESULTS = {"successful": "成功", "failed": "失敗", "canceled": "中断", "timeout": "時間切れ"}
# extra vars whose values stay out of the maintenance log (it is under version control)
SECRET_NAME = re.compile(r"pass|secret|token|key", re.IGNORECASE)


def jobs():
    with open(JOBS_FILE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def operator():
    """Who runs it: ANSHIN_OPERATOR, else git's user.name, else the login name."""
    if os.environ.get("ANSHIN_OPERATOR"):
        return os.environ["ANSHIN_OPERATOR"]
    try:
        name = subprocess.run(
            ["git", "config", "user.name"], cwd=ROOT, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except OSError:
        name = ""
    return name or getpass.getuser()


def _failure_message(res):
    """The module's message, and the last line of stderr when the message alone says little
    ("non-zero return code")."""
    message = str(res.get("msg") or res.get("reason") or "")
    stderr = [line for line in str(res.get("stderr") or "").splitlines() if line.strip()]
    if stderr:
        message = f"{message}: {stderr[-1]}" if message else stderr[-1]
    return message[:500]


def failure_of(event):
    """A failed or unreachable host in a runner event, as {host, task, play, unreachable, message, time}; None for
    any other event and for a failure the task ignores (ignore_errors)."""
    kind, data = event.get("event", ""), event.get("event_data", {})
    if kind not in ("runner_on_failed", "runner_on_unreachable") or data.get("ignore_errors"):
        return None
    return {
        "host": data.get("host", ""),
        "task": data.get("task", ""),
        "play": data.get("play", ""),
        "unreachable": kind == "runner_on_unreachable",
        "message": _failure_message(data.get("res", {}) or {}),
        "time": event.get("created"),
    }


class Progress:
    """Follows runner events: tasks started, the current host and task, and the first real failure."""

    def __init__(self, expected_total, stream):
        self.expected, self.stream = expected_total, stream
        self.tasks = 0
        self.failure = None
        self.tty = stream.isatty()

    def __call__(self, event):
        kind, data = event.get("event", ""), event.get("event_data", {})
        if kind == "playbook_on_task_start":
            self.tasks += 1
        elif kind == "runner_on_start":
            total = self.expected or "?"
            line = f"[{self.tasks}/{total}] {data.get('host', '')}: {data.get('task', '')}"
            if self.tty:
                self.stream.write("\r\033[K" + line[:160])
            else:
                self.stream.write(line + "\n")
            self.stream.flush()
        elif self.failure is None:
            self.failure = failure_of(event)
        return True

    def finish(self):
        if self.tty:
            self.stream.write("\n")


def previous_total(log_dir, job):
    """Tasks of the last finished run of the same job: the progress line's total (the playbooks include
    roles dynamically, so the count is only known after a run)."""
    for entry in reversed(load_log(log_dir)):
        if entry.get("job") == job and entry.get("result") in ("成功", "失敗") and entry.get("tasks"):
            return entry["tasks"]
    return None


def load_log(log_dir):
    entries = []
    for name in sorted(os.listdir(log_dir)) if os.path.isdir(log_dir) else []:
        if name.endswith(".yml"):
            with open(os.path.join(log_dir, name), encoding="utf-8") as fh:
                entries.append(yaml.safe_load(fh) or {})
    return entries


def draft_incident(directory, job, failure, started, who):
    """A draft 障害管理表 record from the failing task; the operator completes it (incident update/close)."""
    occurred = (
        datetime.datetime.fromisoformat(failure["time"]).replace(tzinfo=datetime.UTC).astimezone(cal.JST)
        if failure.get("time")
        else started
    )
    what = "到達不能" if failure["unreachable"] else "失敗"
    record = incidents.new_record(
        occurred,
        occurred=occurred.isoformat(timespec="seconds"),
        detected=occurred.isoformat(timespec="seconds"),
        detection=f"保守作業 (anshin run {job})",
        target=failure["host"] or "(不明)",
        category="障害",
        severity="中",
        summary=f"{job}: タスク「{failure['task']}」が{what}: {failure['message']}".strip(),
        handler=who,
        status="下書き",
    )
    return incidents.save(directory, record)


def needs_approval(job_spec, inventory_name_or_path, check):
    """A changing job on staging or production needs the prefecture's approval (5(2), 6(3), 8(3)ア);
    check mode, read-only jobs and the local stand-ins need none."""
    return bool(job_spec.get("changes")) and not check and records.is_versioned(inventory_name_or_path)


def standin_inventory(inventory_name_or_path):
    """Whether a local-only job (its playbook in playbooks/local/) may run there: an inventory that declares its
    machines stand-ins (anshin_standin_inventory: true) and is not staging or production; the playbook's own
    gate (playbooks/local/standins_only.yml) applies the same rule when it runs."""
    if records.is_versioned(inventory_name_or_path):
        return False
    return inventory.load(inventory_name_or_path)["vars"].get("anshin_standin_inventory") is True


def run_job(
    job,
    inventory_name_or_path=inventory.DEFAULT,
    limit=None,
    check=False,
    extra_vars=(),
    incidents_dir=None,
    stream=None,
    approval=None,
):
    """Run one job; returns (exit code, log entry). Input is checked before anything is written."""
    import ansible_runner

    stream = stream or sys.stderr
    known = jobs()
    if job not in known:
        raise incidents.RecordError(f"unknown job {job!r}; jobs: {', '.join(sorted(known))}")
    inventory_path = inventory.path_of(inventory_name_or_path)
    for pair in extra_vars:
        if "=" not in pair:
            raise incidents.RecordError(f"-e needs NAME=VALUE, got {pair!r}")
    if known[job].get("local_only") and not standin_inventory(inventory_name_or_path):
        raise incidents.RecordError(
            f"{job} is for the stand-ins only (playbooks/local/): {inventory_name_or_path} is staging or production "
            "or does not declare anshin_standin_inventory: true"
        )
    approval = (approval or "").strip()
    if needs_approval(known[job], inventory_name_or_path, check) and not approval:
        raise incidents.RecordError(
            f"{job} changes {inventory_name_or_path}: give the prefecture's approval reference with --approval "
            "(承認番号・承認日など), or run it with --check"
        )
    if known[job].get("needs_artifacts"):
        # what the playbook installs, as the inventories pass it (bin/build-artifacts): a failed build runs nothing
        try:
            artifacts.build(stream)
        except artifacts.BuildError as exc:
            raise incidents.RecordError(f"{job}: {exc}") from exc
    inventory_name = (
        inventory_name_or_path if os.path.isdir(os.path.join(ROOT, "inventories", inventory_name_or_path)) else "custom"
    )
    log_dir = records.records_dir(inventory_name_or_path, "maintenance")
    incidents_dir = incidents_dir or records.records_dir(inventory_name_or_path, "incidents")

    started = datetime.datetime.now(cal.JST).replace(microsecond=0)
    run_id, run_dir = _new_run_dir(f"{started:%Y%m%dT%H%M%S}-{job}")
    # the playbooks write where bin/anshin reads: the same records folder, passed down (one rule)
    cmdline = [
        *(["--check", "--diff"] if check else []),
        "-e",
        f"anshin_records_dir={records.records_dir(inventory_name_or_path)}",
    ]
    for pair in extra_vars:
        cmdline += ["-e", pair]
    progress = Progress(previous_total(log_dir, job), stream)
    who = operator()
    interrupted = []
    previous_handler = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
    stream.write(
        f"anshin run {job}: {known[job]['playbook']} on {inventory_name} "
        f"({'check mode, ' if check else ''}limit {limit or 'none'}), artifacts {run_dir}\n"
    )
    result = ansible_runner.run(
        private_data_dir=run_dir,
        project_dir=ROOT,
        playbook=known[job]["playbook"],
        inventory=inventory_path,
        limit=limit,
        cmdline=" ".join(shlex.quote(c) for c in cmdline) or None,
        ident="run",
        quiet=True,
        event_handler=progress,
        cancel_callback=lambda: bool(interrupted),
        envvars=runner_envvars(),
    )
    scrub_runner_env(run_dir, "run")
    signal.signal(signal.SIGINT, previous_handler)
    progress.finish()
    stats = result.stats or {}
    entry = {
        "run": run_id,
        "job": job,
        "title": known[job]["title"],
        "playbook": known[job]["playbook"],
        "inventory": inventory_name,
        "limit": limit,
        "check": check,
        "extra_vars": logged_extra_vars(extra_vars),
        "approval": approval or None,
        "operator": who,
        "started": started.isoformat(),
        "finished": datetime.datetime.now(cal.JST).replace(microsecond=0).isoformat(),
        "result": RESULTS.get(result.status, result.status),
        "rc": result.rc,
        "tasks": progress.tasks,
        "hosts": sorted({h for counts in stats.values() if isinstance(counts, dict) for h in counts}),
        "changed": dict(stats.get("changed", {})),
        "failed": dict(stats.get("failures", {})),
        "unreachable": dict(stats.get("dark", {})),
        "artifacts": _shown(run_dir),
        "incident": None,
    }
    if result.status != "successful" and progress.failure and not check:
        entry["incident"] = _shown(draft_incident(incidents_dir, job, progress.failure, started, who))
    output.write_yaml(os.path.join(log_dir, f"{run_id}.yml"), entry)
    return (0 if result.status == "successful" else 1), entry


def logged_extra_vars(extra_vars):
    """-e NAME=VALUE as recorded: values of secret-looking names replaced."""
    return [
        f"{name}=(秘匿)" if SECRET_NAME.search(name) else f"{name}={value}"
        for name, value in (pair.split("=", 1) for pair in extra_vars)
    ]


def runner_envvars():
    """The environment ansible-runner adds for a run: the repository's ansible.cfg, and host key checking as
    ansible has it (ansible-runner turns it off unless told: a changed host key of staging or production must
    stop the run; the stand-ins' keys are pinned in .local/ssh/known_hosts)."""
    return {
        "ANSIBLE_CONFIG": os.path.join(ROOT, "ansible.cfg"),
        "ANSIBLE_HOST_KEY_CHECKING": os.environ.get("ANSIBLE_HOST_KEY_CHECKING", "True"),
    }


def scrub_runner_env(run_dir, ident):
    """ansible-runner keeps the whole environment of ansible-playbook in artifacts/<ident>/command, the vault
    password of ANSIBLE_VAULT_PASSWORD (bin/vault-password-from-env) among it: keep the command and its folder
    only, so no secret stays on disk after the run."""
    path = os.path.join(run_dir, "artifacts", ident, "command")
    try:
        with open(path, encoding="utf-8") as fh:
            kept = json.load(fh)
    except (FileNotFoundError, ValueError):
        return
    kept.pop("env", None)
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(kept, fh, ensure_ascii=False)


def _new_run_dir(base):
    """A directory of its own for each run, even for two runs started in the same second."""
    runs = os.path.join(ROOT, ".local", "runs")
    os.makedirs(runs, exist_ok=True)
    for n in range(1, 100):
        run_id = base if n == 1 else f"{base}-{n}"
        try:
            os.mkdir(os.path.join(runs, run_id))
            return run_id, os.path.join(runs, run_id)
        except FileExistsError:
            continue
    raise incidents.RecordError(f"too many runs named {base} in {runs}")


def _shown(path):
    """Paths inside the repository relative to it (the log is read on other working copies), others absolute."""
    path = os.path.abspath(path)
    return os.path.relpath(path, ROOT) if path.startswith(ROOT + os.sep) else path

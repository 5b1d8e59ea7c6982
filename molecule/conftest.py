"""Fixtures shared by every molecule scenario's testinfra tests."""

import itertools
import json
import os
import subprocess
import sys
import time

import pytest
from testinfra.backend.podman import PodmanBackend

PROJECT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(PROJECT, "molecule", "shared"))
import container_exec  # noqa: E402  (as the molecule steps' connection plugin runs its tasks)

_podman_exec_run = PodmanBackend.run


def _nsenter_run(self, command, *args, **kwargs):
    """testinfra's podman backend through nsenter (molecule/shared/container_exec.py): a `podman exec` per
    command cost about 140 ms of CPU. Commands as another user (podman://user@name) keep podman exec."""
    if self.user is not None:
        return _podman_exec_run(self, command, *args, **kwargs)
    cmd = self.get_command(command, *args)
    rc, out, err = container_exec.run(self.name, ["/bin/sh", "-c", self.encode(cmd)])
    return self.result(rc, self.encode(cmd), out, err)


PodmanBackend.run = _nsenter_run


@pytest.fixture
def journal_on_failure(host):
    """Return a function giving the unit's recent journal, for assertion messages."""

    def dump(unit, lines=60):
        return host.run(f"journalctl -u {unit} -n {lines} --no-pager").stdout

    return dump


def host_name(host):
    """Inventory name of the instance (= container name) under any backend."""
    return host.backend.get_hostname()


def only_debian12(host, reason):
    """Skip this test on every instance but the Debian 12 one: what it proves does not differ by platform."""
    if not host_name(host).endswith("debian12"):
        pytest.skip(reason)


@pytest.fixture
def copy_to_host(host):
    """Copy a controller folder or file into the instance (podman cp)."""

    def copy(src, dest):
        host.check_output(f"mkdir -p {os.path.dirname(dest.rstrip('/'))}")
        subprocess.run(["podman", "cp", src, f"{host_name(host)}:{dest}"], check=True)

    return copy


_runs = itertools.count(1)


def _keep_output(playbook, hosts, rc, output):
    """A verify step's playbook run in .local/logs/verify/SCENARIO/: a test keeps only what its assertion
    prints, and where a slow run's time goes (the failover's build of the standby) is in profile_tasks' lines.
    Numbered: runs refused before any change take less than a second, and one must not overwrite another."""
    folder = os.path.join(PROJECT, ".local", "logs", "verify", os.environ.get("MOLECULE_SCENARIO_NAME", "unknown"))
    os.makedirs(folder, exist_ok=True)
    run = next(_runs)
    name = f"{time.strftime('%H%M%S')}-{run:03d}-{os.path.splitext(os.path.basename(playbook))[0]}-{hosts}.log"
    with open(os.path.join(folder, name), "w", encoding="utf-8") as fh:
        fh.write(f"rc={rc}\n{output}")


@pytest.fixture
def run_playbook(host):
    """Run a playbook from the controller against this instance only.

    Returns (rc, output). Used to prove that bad input stops the play before
    any change: callers pass a canary change alongside the bad value.
    """

    def run(playbook, extra_vars, check=False, limit=True, timeout=600):
        cmd = [
            "ansible-playbook",
            "-i",
            os.environ["MOLECULE_INVENTORY_FILE"],
            "-e",
            json.dumps(extra_vars),
            playbook,
        ]
        if limit:  # limit=False: the playbook's own hosts (plays that span several machines)
            cmd += ["--limit", host_name(host)]
        if check:
            cmd.append("--check")
        # the scenario's own fact cache: the repo's (ansible.cfg) belongs to the local environment, whose
        # host names a scenario may share (a cached interpreter of another image breaks the next run)
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=os.path.join(PROJECT, "ansible.cfg"),
            ANSIBLE_NOCOLOR="1",
            ANSIBLE_CACHE_PLUGIN_CONNECTION=os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "facts"),
            # the pipelined podman connection, as molecule's own steps use it
            ANSIBLE_CONNECTION_PLUGINS=os.path.join(PROJECT, "molecule", "shared", "connection_plugins"),
            # and their strategy: the stock one, not ansible.cfg's Mitogen (README "Mitogen"); Mitogen would
            # also check the host key of a test's SSH connection strictly whatever its StrictHostKeyChecking=no
            ANSIBLE_STRATEGY="linear",
        )
        hosts = host_name(host) if limit else "all"
        try:
            proc = subprocess.run(
                cmd, cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired as exc:  # the run whose task times matter most: keep what it printed
            # bytes here whatever text=True says (CPython hands over the pipes' raw output on a timeout)
            printed = b"".join(part for part in (exc.stdout, exc.stderr) if part)
            _keep_output(playbook, hosts, f"timed out after {timeout} s", printed.decode("utf-8", "replace"))
            raise
        output = proc.stdout + proc.stderr
        _keep_output(playbook, hosts, proc.returncode, output)
        return proc.returncode, output

    return run


@pytest.fixture
def refused_before_change(host, run_playbook):
    """Check that bad input stops a playbook before any change.

    The caller passes the bad values together with a harmless canary change
    and a function telling whether the canary stayed away: the run must fail,
    name the variable, report changed=0 and leave the canary unapplied.
    Input checks run before any change, so one platform (Debian 12) is enough.
    """

    def check(playbook, extra_vars, variable, canary_absent):
        only_debian12(host, "input checks run before any change; one platform is enough")
        rc, out = run_playbook(playbook, extra_vars)
        assert rc != 0, out
        assert variable in out, out
        assert "changed=0" in out, out
        assert canary_absent(), out

    return check

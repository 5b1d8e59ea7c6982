"""molecule/shared/container_exec.py: what runs through nsenter sees the container as `podman exec` shows it
(root directory, namespaces, cgroups, capability bounding set, limits, umask, environment), exit codes, output
and stdin pass through, a stale or poisoned cache never runs a command outside the container, a restarted
container is found again and a stopped one is an error. Every molecule step and testinfra command relies on
it. Needs podman and the test image bin/bootstrap builds."""

import json
import os
import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "molecule" / "shared"))
import container_exec  # noqa: E402

NAME = f"anshin-unit-container-exec-{os.getpid()}"  # two checkouts' unit tests may run at once
IMAGE = "localhost/anshin-test:bookworm"


def podman(*args):
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=True).stdout


def podman_exec(command):
    return podman("exec", NAME, "/bin/sh", "-c", command)


def nsenter(command, stdin=None):
    rc, out, err = container_exec.run(NAME, ["/bin/sh", "-c", command], stdin)
    return rc, out.decode(), err.decode()


def poison_cache(**info):
    real = container_exec.container(NAME)
    with open(os.path.join(container_exec._cache_dir(), NAME), "w") as f:
        json.dump(dict(real, **info), f)


@pytest.fixture(scope="module")
def running():
    # as molecule starts them (molecule/shared/config.yml): systemd as init, its capabilities and limits
    podman(
        *("run", "-d", "--name", NAME, "--cap-add", "NET_ADMIN,SYS_ADMIN"),
        *("--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", IMAGE, "/sbin/init"),
    )
    # booted, as molecule's prepare waits for: until then systemd still writes what the probe reads
    # (/etc/machine-id), so two looks a moment apart could differ
    subprocess.run(
        ["podman", "exec", NAME, "systemctl", "is-system-running", "--wait"], capture_output=True, check=False
    )
    yield
    subprocess.run(["podman", "rm", "-f", "-t", "0", NAME], capture_output=True, check=False)


PROBE = (
    "hostname; cat /etc/machine-id; for ns in /proc/self/ns/*; do readlink $ns; done; "
    "grep -v ':/$' /proc/self/cgroup | sed 's/^[0-9]*://' | sort; grep -E '^CapBnd' /proc/self/status; "
    "grep -E 'open files|processes' /proc/self/limits; umask; env | grep -v '^PWD=' | sort; pwd; id -u; "
    "tty || true"
)


def test_commands_see_the_container_as_podman_exec_does(running):
    rc, out, err = nsenter(PROBE)
    assert rc == 0, err
    assert out == podman_exec(PROBE)
    assert podman("inspect", "--format", "{{.Id}}", NAME).startswith(out.split()[0])


def test_exit_code_output_and_stdin_pass_through(running, tmp_path):
    assert nsenter("cat; echo to-stderr >&2; exit 7", b"from stdin\n") == (7, "from stdin\n", "to-stderr\n")
    assert nsenter("kill -9 $$") == (137, "", "")  # a signal as a shell reports it, like podman exec
    data = tmp_path / "data"
    data.write_bytes(bytes(range(256)) * 4096)  # a file as stdin: binary, 1 MiB
    with open(data, "rb") as f:
        rc, out, _ = container_exec.run(NAME, ["sha256sum"], f)
    assert (rc, out.split()[0].decode()) == (0, __import__("hashlib").sha256(data.read_bytes()).hexdigest())


def test_a_poisoned_cache_never_runs_a_command_outside_the_container(running):
    container_hostname = podman_exec("hostname")
    poison_cache(pid=os.getpid(), start=container_exec._start_time(os.getpid()))  # a host process
    assert nsenter("hostname") == (0, container_hostname, "")
    gone = subprocess.Popen(["true"])
    gone.wait()
    poison_cache(pid=gone.pid)  # an init that has exited (and a pid that may come back as another process)
    assert nsenter("hostname") == (0, container_hostname, "")


def test_a_failed_way_in_is_retried_once_then_an_error(running, monkeypatch):
    gone = subprocess.Popen(["true"])
    gone.wait()
    poison_cache(pid=gone.pid)
    monkeypatch.setattr(container_exec, "_is_current", lambda info: True)  # the check passed, then init exited
    assert nsenter("echo in")[:2] == (0, "in\n")  # the second attempt looked the container up again
    stale = dict(container_exec.container(NAME), pid=gone.pid)
    poison_cache(pid=gone.pid)
    monkeypatch.setattr(container_exec, "_inspect", lambda name: stale)  # and the second look finds no way in
    with pytest.raises(container_exec.ContainerExecError, match=NAME):
        nsenter("echo in")


def test_a_restarted_container_is_found_again(running):
    before = container_exec.container(NAME)["pid"]
    podman("restart", "-t", "0", NAME)
    assert container_exec.container(NAME)["pid"] != before
    assert nsenter("cat /proc/1/comm")[:2] == (0, "systemd\n")


def test_a_stopped_or_missing_container_is_an_error(running):
    podman("stop", "-t", "0", NAME)
    with pytest.raises(container_exec.ContainerNotRunning, match="not running"):
        nsenter("true")
    with pytest.raises(container_exec.ContainerNotRunning, match="no such container"):
        container_exec.run("anshin-unit-no-such-container", ["true"])


def test_cgroups_joined_on_v1_and_v2():
    # this machine has cgroup v1 and v2 side by side (the probe above); a Debian 12 runner has v2 only
    v1 = ["9:name=systemd:/libpod_parent/libpod-c1/init.scope", "4:memory:/libpod_parent/libpod-c1", "3:hugetlb:/"]
    assert container_exec.cgroup_targets(v1, {"name=systemd": "/sys/fs/cgroup/systemd", "memory": "/cg/memory"}) == [
        ["/sys/fs/cgroup/systemd/libpod_parent/libpod-c1/cgroup.procs",
         "/sys/fs/cgroup/systemd/libpod_parent/libpod-c1/init.scope/cgroup.procs"],
        ["/cg/memory/libpod_parent/libpod-c1/cgroup.procs"],
    ]  # fmt: skip
    v2 = ["0::/machine.slice/libpod-c2.scope/container/init.scope"]
    assert container_exec.cgroup_targets(v2, {"": "/sys/fs/cgroup"}) == [
        ["/sys/fs/cgroup/machine.slice/libpod-c2.scope/container/cgroup.procs",
         "/sys/fs/cgroup/machine.slice/libpod-c2.scope/container/init.scope/cgroup.procs"],
    ]  # fmt: skip
    with pytest.raises(container_exec.ContainerExecError, match="not mounted"):
        container_exec.cgroup_targets(["0::/machine.slice/x"], {"memory": "/cg/memory"})

"""molecule/shared/container_exec.py: what runs through nsenter sees the container as `podman exec` shows it
(root directory, cgroups, limits, environment), exit codes, output and stdin pass through, a restarted
container is found again and a stopped one is an error. Every molecule step and testinfra command relies
on it. Needs podman and the test image bin/bootstrap builds."""

import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "molecule" / "shared"))
import container_exec  # noqa: E402

NAME = "anshin-unit-container-exec"
IMAGE = "localhost/anshin-test:bookworm"


def podman(*args):
    return subprocess.run(["podman", *args], capture_output=True, text=True, check=True).stdout


def podman_exec(command):
    return podman("exec", NAME, "/bin/sh", "-c", command)


def nsenter(command, stdin=None):
    rc, out, err = container_exec.run(NAME, ["/bin/sh", "-c", command], stdin)
    return rc, out.decode(), err.decode()


@pytest.fixture(scope="module")
def running():
    subprocess.run(["podman", "rm", "-f", NAME], capture_output=True, check=False)
    # as molecule starts them: systemd as init, the limits of molecule/shared/config.yml
    podman("run", "-d", "--name", NAME, "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096", IMAGE, "/sbin/init")
    yield
    subprocess.run(["podman", "rm", "-f", "-t", "0", NAME], capture_output=True, check=False)


def test_commands_see_the_container_as_podman_exec_does(running):
    # hostname, root file system (machine-id), cgroups, limits, environment, working directory, user
    probe = (
        "hostname; cat /etc/machine-id; cat /proc/self/cgroup | grep -v ':/$' | sed 's/^[0-9]*://' | sort; "
        "ulimit -n; ulimit -Hn; env | grep -v '^PWD=' | sort; pwd; id -u"
    )
    rc, out, err = nsenter(probe)
    assert rc == 0, err
    assert out == podman_exec(probe)
    assert podman("inspect", "--format", "{{.Id}}", NAME).startswith(out.split()[0])


def test_exit_code_output_and_stdin_pass_through(running):
    assert nsenter("cat; echo to-stderr >&2; exit 7", b"from stdin\n") == (7, "from stdin\n", "to-stderr\n")


def test_a_restarted_container_is_found_again(running):
    before = container_exec.container(NAME)["pid"]
    podman("restart", "-t", "0", NAME)
    assert container_exec.container(NAME)["pid"] != before
    rc, out, _ = nsenter("cat /proc/1/comm")
    assert (rc, out) == (0, "systemd\n")


def test_a_stopped_or_missing_container_is_an_error(running):
    podman("stop", "-t", "0", NAME)
    with pytest.raises(container_exec.ContainerNotRunning, match="not running"):
        nsenter("true")
    with pytest.raises(container_exec.ContainerNotRunning, match="no such container"):
        container_exec.run("anshin-unit-no-such-container", ["true"])

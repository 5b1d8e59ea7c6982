"""Run commands in a test container through nsenter instead of `podman exec`.

`podman exec` costs about 140 ms of CPU per call on the 2-core test machine
(podman, conmon and the OCI runtime start for every call), and one test run
makes thousands of them: every task of every molecule step and every testinfra
command. nsenter joins the namespaces of the container's init directly (about
3 ms). What `podman exec` also gives is kept: the container's cgroups (its pids
and memory limits, systemd's view of the process), its resource limits, its
environment and root directory. The command runs as root with root's full
capabilities, as on a VM (podman exec would drop the ones the container lacks).
Commands as another user keep `podman exec` (callers decide). Test containers
only: the molecule connection plugin and the testinfra backend use it.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess

# what `podman exec` puts in the environment (podman 4.3): these four of the container's Config.Env
EXEC_ENV = ("PATH", "TERM", "container", "HOME")
CACHE_DIR = os.path.join(os.environ.get("TMPDIR", "/tmp"), "anshin-test-containers")


class ContainerNotRunning(RuntimeError):
    pass


def _inspect(name: str) -> dict:
    proc = subprocess.run(
        ["podman", "container", "inspect", "--format", "{{.Id}} {{.State.Pid}} {{json .Config.Env}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ContainerNotRunning(f"container {name}: podman inspect failed: {proc.stderr.strip()}")
    cid, pid, env = proc.stdout.split(" ", 2)
    pid, env = int(pid), json.loads(env)
    if not pid:
        raise ContainerNotRunning(f"container {name} is not running")
    names = {e.split("=", 1)[0]: e for e in env or []}
    return {"id": cid, "pid": pid, "env": [names[n] for n in EXEC_ENV if n in names]}


def _init_cgroups(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            return f.read().splitlines()
    except OSError:
        return None


def _is_current(info: dict) -> bool:
    """The cached init still runs and belongs to the same container (names are reused, pids too)."""
    lines = _init_cgroups(info["pid"])
    return bool(lines) and any(info["id"] in line for line in lines)


def container(name: str, refresh: bool = False) -> dict:
    """Id, init pid and exec environment of a running container, cached on disk between processes
    (Ansible forks a worker per task) and checked against /proc before each use."""
    path = os.path.join(CACHE_DIR, name)
    if not refresh:
        try:
            with open(path) as f:
                info = json.load(f)
            if _is_current(info):
                return info
        except (OSError, ValueError, KeyError):
            pass
    info = _inspect(name)
    os.makedirs(CACHE_DIR, mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(info, f)
    os.replace(tmp, path)
    return info


def _join(pid: int):
    """Runs in the child before nsenter: the cgroups and resource limits of the container's init."""

    def preexec():
        for line in _init_cgroups(pid) or []:
            _, controllers, path = line.split(":", 2)
            if path == "/":
                continue
            # podman exec joins the container's cgroup, not systemd's init.scope below it
            if path.endswith("/init.scope"):
                path = path[: -len("/init.scope")]
            hierarchy = "unified" if not controllers else controllers.replace("name=", "")
            if not os.path.isdir(f"/sys/fs/cgroup/{hierarchy}"):  # cgroup v2 only: one hierarchy
                hierarchy = ""
            with open(os.path.join("/sys/fs/cgroup", hierarchy, path.lstrip("/"), "cgroup.procs"), "w") as f:
                f.write("0")
        for limit in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC):
            resource.setrlimit(limit, resource.prlimit(pid, limit))

    return preexec


def popen(name: str, argv: list, **kwargs) -> subprocess.Popen:
    """Start argv inside the container as root, in its working directory /."""
    info = container(name)
    cmd = ["nsenter", "--target", str(info["pid"]), "--all", "--", "env", "-i", *info["env"], *argv]
    try:
        return subprocess.Popen(cmd, preexec_fn=_join(info["pid"]), **kwargs)
    except subprocess.SubprocessError:
        # the container restarted between the check and the start: look it up again, once
        info = container(name, refresh=True)
        cmd[2] = str(info["pid"])
        return subprocess.Popen(cmd, preexec_fn=_join(info["pid"]), **kwargs)


def run(name: str, argv: list, input: bytes | None = None) -> tuple[int, bytes, bytes]:
    """Run argv in the container; (rc, stdout, stderr)."""
    proc = popen(name, argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(input)
    return proc.returncode, out, err

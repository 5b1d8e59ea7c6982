"""Run commands in a test container through nsenter instead of `podman exec`.

`podman exec` costs about 140 ms of CPU per call on the 2-core test machine
(podman, conmon and the OCI runtime start for every call), and one test run
makes thousands of them: every task of every molecule step and every testinfra
command. nsenter joins the namespaces of the container's init directly (a few
ms). What `podman exec` also gives is kept: the container's cgroups (its pids
and memory limits, systemd's view of the process), its capability bounding set,
resource limits, umask, environment and root directory, and a session of its
own (no controlling terminal). Not applied: the container's seccomp filter and
AppArmor profile. Commands as another user keep `podman exec` (callers decide).
Test containers only: the molecule connection plugin and the testinfra backend
use it; tests/test_container_exec.py compares what a command sees with podman exec.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import resource
import subprocess
import tempfile

# what `podman exec` (podman 4.3) puts in a command's environment, of the container's Config.Env
EXEC_ENV = ("PATH", "TERM", "container", "HOME")
# nsenter needs these to enter the namespaces; every scenario's containers have them (molecule/shared/config.yml)
NSENTER_CAPS = (18, 21)  # CAP_SYS_CHROOT, CAP_SYS_ADMIN
PR_CAPBSET_DROP = 24
# the marker of a failure of the way in (cgroups), not of the command
JOIN_FAILED = 125
PREFIX = b"container_exec: "


class ContainerNotRunning(RuntimeError):
    pass


class ContainerExecError(RuntimeError):
    pass


def _cache_dir() -> str:
    """A directory only this user can write: its files decide where root runs commands."""
    path = os.path.join(tempfile.gettempdir(), f"anshin-test-containers-{os.geteuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    st = os.lstat(path)
    if st.st_uid != os.geteuid() or st.st_mode & 0o077 or not os.path.isdir(path):
        raise ContainerExecError(f"{path} is not a private directory of this user: remove it")
    return path


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
    if not int(pid):
        raise ContainerNotRunning(f"container {name} is not running")
    names = {e.split("=", 1)[0]: e for e in json.loads(env) or []}
    info = {"id": cid, "pid": int(pid), "env": [names[n] for n in EXEC_ENV if n in names]}
    info["start"] = _start_time(info["pid"])
    return info


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]  # field 22: start time since boot
    except (OSError, IndexError):
        return None


def _is_current(info: dict) -> bool:
    """The cached init still runs (the same process: pids are reused) and is the container's, not the host's."""
    pid = info["pid"]
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            cgroups = f.read()
        in_other_mount_ns = os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    except OSError:
        return False
    return in_other_mount_ns and f"libpod-{info['id']}" in cgroups and _start_time(pid) == info["start"]


def container(name: str, refresh: bool = False) -> dict:
    """Id, init pid and exec environment of a running container, cached on disk between processes
    (Ansible forks a worker per task) and checked against /proc before each use."""
    path = os.path.join(_cache_dir(), name)
    if not refresh:
        try:
            with open(path) as f:
                info = json.load(f)
            if _is_current(info):
                return info
        except (OSError, ValueError, KeyError, TypeError):
            pass
    info = _inspect(name)
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(info, f)
    os.replace(tmp, path)
    return info


def _cgroup_mounts() -> dict:
    """Mount point of each cgroup hierarchy: "" for cgroup v2, else its controllers (v1)."""
    mounts = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            fstype, options = fields[fields.index("-") + 1], fields[-1].split(",")
            if fstype == "cgroup2":
                mounts[""] = fields[4]
            elif fstype == "cgroup":
                for opt in options:
                    mounts.setdefault(opt, fields[4])
    return mounts


def cgroup_targets(lines: list[str], mounts: dict) -> list[list[str]]:
    """For each hierarchy in lines (/proc/<init>/cgroup), the cgroup.procs files to try, in order.
    podman exec joins the container's cgroup, not systemd's init.scope below it; under cgroup v2 the
    container's cgroup may hold only child cgroups (EBUSY), then init's own, as runc does."""
    targets = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if path == "/":
            continue
        mount = mounts.get(controllers.split(",")[0] if controllers else "")
        if mount is None:
            raise ContainerExecError(f"cgroup hierarchy {controllers or 'v2'} is not mounted here")
        tries = [path]
        if path.endswith("/init.scope"):
            tries.insert(0, path[: -len("/init.scope")])
        targets.append([os.path.join(mount, p.lstrip("/"), "cgroup.procs") for p in tries])
    return targets


def _bounding_set(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    raise ContainerExecError(f"no CapBnd in /proc/{pid}/status")


def _prepare(pid: int):
    """What the child does before nsenter: everything is read here, in the parent, where an error has a
    message; the child only writes (a failure there ends it with JOIN_FAILED and the reason on stderr)."""
    with open(f"/proc/{pid}/cgroup") as f:
        targets = cgroup_targets(f.read().splitlines(), _cgroup_mounts())
    limits = [(r, resource.prlimit(pid, r)) for r in (resource.RLIMIT_NOFILE, resource.RLIMIT_NPROC)]
    keep = _bounding_set(pid) | sum(1 << c for c in NSENTER_CAPS)
    with open("/proc/sys/kernel/cap_last_cap") as f:
        drop = [c for c in range(int(f.read()) + 1) if not keep & (1 << c)]
    libc = ctypes.CDLL(None, use_errno=True)

    def preexec():
        try:
            for tries in targets:
                for i, procs in enumerate(tries):
                    try:
                        with open(procs, "w") as f:
                            f.write("0")
                        break
                    except OSError as e:
                        if e.errno != errno.EBUSY or i == len(tries) - 1:
                            raise
            for r, value in limits:
                resource.setrlimit(r, value)
            for cap in drop:
                if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), f"prctl(PR_CAPBSET_DROP, {cap})")
            os.umask(0o022)
        except Exception as e:  # noqa: BLE001  (the child has no other way to say why)
            os.write(2, PREFIX + f"cannot enter the container of pid {pid}: {e}\n".encode())
            os._exit(JOIN_FAILED)

    return preexec


def _attempt(name: str, info: dict, argv: list, stdin) -> tuple[int, bytes, bytes]:
    pid = info["pid"]
    cmd = ["nsenter", "--target", str(pid), "--all", "--", "env", "-i", *info["env"], *argv]
    proc = subprocess.Popen(
        cmd,
        preexec_fn=_prepare(pid),
        start_new_session=True,  # no controlling terminal, as under podman exec: prompts fail, not wait
        stdin=subprocess.PIPE if isinstance(stdin, (bytes, type(None))) else stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = proc.communicate(stdin if isinstance(stdin, (bytes, type(None))) else None)
    rc = proc.returncode
    return (128 - rc if rc < 0 else rc), out, err  # killed by a signal: 128+N, as a shell reports it


def _way_in_failed(rc: int, err: bytes) -> bool:
    return (rc == JOIN_FAILED and err.startswith(PREFIX)) or (rc == 1 and err.startswith(b"nsenter: "))


def run(name: str, argv: list, stdin: bytes | None = None) -> tuple[int, bytes, bytes]:
    """Run argv in the container as root, in its root directory; (rc, stdout, stderr). stdin: bytes or a
    file opened for reading. Raises ContainerNotRunning, or ContainerExecError when the way in fails."""
    for refresh in (False, True):  # a failed way in: the init may have exited since the check, look again once
        try:
            rc, out, err = _attempt(name, container(name, refresh), argv, stdin)
        except OSError as e:  # nsenter missing, /proc of an init that has just exited
            failure = str(e)
        else:
            if not _way_in_failed(rc, err):
                return rc, out, err
            failure = err.decode(errors="replace").strip()
        if hasattr(stdin, "seek"):
            stdin.seek(0)
    raise ContainerExecError(f"container {name}: {failure}")

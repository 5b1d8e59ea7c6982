"""The Python every part of anshin-ops shares: the prefecture's clock (JST) and writing a file whole.

    JST                          the zone of every time the contract, the operators and the reports speak of
    now_jst()                    the time now, in JST
    from_epoch(epoch)            an epoch time as a time in JST
    parse_time(text)             ISO 8601 to a time with a zone; the one rule for a time without one: JST
    replacing(path, mode=None)   a block that writes PATH whole or not at all (PATH.partial, synced, renamed)
    write_file(path, data, mode=None)
                                 text or bytes written whole, through replacing()
    write_textfile(path, registry)
                                 a prometheus_client registry as node_exporter's textfile, mode 0644
    wait_gone(names, seconds=30, term_after=None)
                                 no process of NAMES left (TERM after term_after, default halfway); raises StillRunning

One file, read from two places. It lives in the base role (roles/base/files/anshin_common.py), which installs
it on every L-Alert VM as /usr/local/lib/anshin/python/anshin_common.py for the scripts the other roles
install there (anshin-backup, anshin-log-archive, anshin-ldap-sync); the controller's code (library/ through
module_utils/anshin_common.py, a link to this file; anshin_ops; filter_plugins) imports the same file.
Standard library only: it runs on the VMs' system python3 (3.11 and later) as well as on the controller.
"""

import contextlib
import datetime
import os
import subprocess
import time

# Japan has kept no daylight saving time since 1951: a fixed offset is exact for every time we handle.
JST = datetime.timezone(datetime.timedelta(hours=9))


def now_jst():
    """The time now, in JST."""
    return datetime.datetime.now(JST)


def from_epoch(epoch):
    """An epoch time (seconds, int, float or numeric text) as a time in JST."""
    return datetime.datetime.fromtimestamp(float(epoch), JST)


def parse_time(text):
    """ISO 8601 text (or a date or time YAML already read) as a time with a zone; ValueError on anything else.

    The one rule for a time written without a zone: it is JST. The times the operators write (an incident's
    occurrence, a restore's --before, a log audit's period) are read off a clock in Tokushima, and the
    contract's times (office hours, recovery deadlines) are the prefecture's, so a time without a zone means
    JST wherever the code runs, on the controller or on a VM, whatever that machine's own time zone is.
    A zone written out (+09:00, +00:00, Z) is kept. A date alone is 00:00 JST of that day.
    """
    value = datetime.datetime.fromisoformat(str(text).strip())
    return value if value.tzinfo else value.replace(tzinfo=JST)


@contextlib.contextmanager
def replacing(path, mode=None):
    """Write PATH whole or not at all: yields PATH.partial, a path in the same directory to write.

    When the block ends without an error, the file written there is synced to disk and renamed over PATH
    (one atomic step: a reader, node_exporter or the next run, sees the old file or the new one, never half
    of one); when the block raises, it is removed and PATH is left as it was. MODE, when given, is the
    file's mode from its creation on (an export that holds secrets is never readable by others, not even
    half-written); without it the writer makes the file (its umask, or what a copy keeps of the original).
    A PATH.partial left by a run that was killed is replaced.
    """
    partial = path + ".partial"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(partial)
    try:
        if mode is not None:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode))
            os.chmod(partial, mode)  # the mode as given, whatever the umask took away
        yield partial
        fd = os.open(partial, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(partial, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
    # the rename itself on disk, so a crash right after cannot bring the old file back
    fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file(path, data, mode=None):
    """Text (written as UTF-8) or bytes as the whole content of PATH, through replacing()."""
    with replacing(path, mode) as partial:
        if isinstance(data, bytes):
            with open(partial, "wb") as fh:
                fh.write(data)
        else:
            with open(partial, "w", encoding="utf-8") as fh:
                fh.write(data)


def write_textfile(path, registry):
    """A prometheus_client registry as the textfile PATH that node_exporter reads (its own user: mode 0644).

    prometheus_client writes the text format (label values escaped) and renames the file into place whole;
    the umask is set for that moment only, so a file made by an operator's shell (umask 027) is readable too.
    The library comes from Debian (python3-prometheus-client), installed by the role whose program writes.
    """
    from prometheus_client import write_to_textfile

    umask = os.umask(0o022)
    try:
        write_to_textfile(path, registry)
    finally:
        os.umask(umask)


class StillRunning(RuntimeError):
    """A daemon outlived its stop."""


def wait_gone(names, seconds=30, term_after=None):
    """Wait until no process has one of these names, sending TERM after term_after seconds (default: halfway):
    an init script's stop may return early or leave the daemon behind, as Debian's LSB slapd script does in a
    container. Raises StillRunning."""
    start = time.time()
    termed = False
    while True:
        alive = [n for n in names if subprocess.run(["pgrep", "-x", n], stdout=subprocess.DEVNULL).returncode == 0]
        if not alive:
            return
        waited = time.time() - start
        if waited > seconds:
            raise StillRunning(f"still running after stop: {', '.join(alive)}")
        if not termed and waited > (seconds / 2 if term_after is None else term_after):
            for name in alive:
                subprocess.run(["pkill", "-TERM", "-x", name], check=False)
            termed = True
        time.sleep(0.05)

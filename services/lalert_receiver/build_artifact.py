#!/usr/bin/env python3
"""Build the receiver's install artifact: a reproducible .tar.gz holding

    src/         the project (pyproject.toml, src/lalert_receiver) without caches
    wheelhouse/  the pinned dependency and build wheels (requirements.txt)

and its sha256 beside it (OUT.sha256, as sha256sum writes it: `sha256sum -c` checks it), the checksum the
inventories pass to the role with the artifact's path. bin/build-artifacts runs this (anshin_ops/artifacts.py).

The same inputs give the same bytes (sorted entries, fixed times and owners, gzip without a timestamp), so the
role copies it only when something changed. The VM installs from it with `pip --no-index`: it needs no access
to PyPI. Both files are written whole (anshin_common.replacing): a reader sees the old file or the new one.
Builds of the same artifact, or into the same wheel cache, wait for each other (molecule scenarios run side by
side, each building first).

    build_artifact.py OUT.tar.gz [--wheel-cache DIR]
"""

import argparse
import contextlib
import fcntl
import gzip
import hashlib
import io
import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
SKIP = {"__pycache__", ".pytest_cache"}
_SHARED = str(HERE.parent.parent / "module_utils")
if _SHARED not in sys.path:  # the one whole-file write of the repository (module_utils/anshin_common.py)
    sys.path.append(_SHARED)
import anshin_common  # noqa: E402


@contextlib.contextmanager
def locked(directory):
    """Hold an exclusive lock on DIRECTORY (made if missing) for the block: one build at a time there."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def download_wheels(cache_root):
    """Wheels of requirements.txt, downloaded once per pin set: into a folder of their own, renamed into
    place when complete, so an interrupted download never counts as the cache."""
    pins = (HERE / "requirements.txt").read_bytes()
    cache_root = pathlib.Path(cache_root)
    cache = cache_root / hashlib.sha256(pins).hexdigest()[:16]
    with locked(cache_root):
        if not (cache / ".complete").exists():
            partial = pathlib.Path(tempfile.mkdtemp(prefix=".partial-", dir=cache_root))
            try:
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "--quiet",
                        "--only-binary=:all:",
                        "--no-deps",
                        "-r",
                        str(HERE / "requirements.txt"),
                        "-d",
                        str(partial),
                    ],
                    check=True,
                )
                (partial / ".complete").touch()
                shutil.rmtree(cache, ignore_errors=True)  # an incomplete one of an earlier version of this script
                partial.rename(cache)
            finally:
                shutil.rmtree(partial, ignore_errors=True)
    return sorted(cache.glob("*.whl"))


def project_files():
    yield HERE / "pyproject.toml", "src/pyproject.toml"
    for path in sorted((HERE / "src" / "lalert_receiver").rglob("*")):
        if path.is_file() and not SKIP & set(path.parts) and path.suffix != ".pyc":
            yield path, "src/" + path.relative_to(HERE).as_posix()


def add(tar, arcname, data):
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def build(out, wheel_cache):
    """Write OUT and OUT.sha256; returns the sha256 (hex)."""
    out = pathlib.Path(out)
    wheels = download_wheels(wheel_cache)  # under the cache's lock, released before the artifact's is taken
    with locked(out.parent):
        entries = [(arc, path.read_bytes()) for path, arc in project_files()]
        entries += [("wheelhouse/" + w.name, w.read_bytes()) for w in wheels]
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for arc, data in sorted(entries):
                add(tar, arc, data)
        packed = io.BytesIO()
        with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, filename="") as gz:
            gz.write(raw.getvalue())
        data = packed.getvalue()
        sha = hashlib.sha256(data).hexdigest()
        # the artifact first, then its checksum: a reader between the two sees a mismatch, never a wrong match
        anshin_common.write_file(str(out), data, mode=0o644)
        anshin_common.write_file(f"{out}.sha256", f"{sha}  {out.name}\n", mode=0o644)
    return sha


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--wheel-cache", default=str(HERE.parent.parent / ".local" / "wheelhouse"))
    args = parser.parse_args(argv)
    print(build(args.out, args.wheel_cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Build the receiver's install artifact: a reproducible .tar.gz holding

    src/         the project (pyproject.toml, src/lalert_receiver) without caches
    wheelhouse/  the pinned dependency and build wheels (requirements.txt)

The same inputs give the same bytes (sorted entries, fixed times and owners,
gzip without a timestamp), so the role copies it only when something changed.
The VM installs from it with `pip --no-index`: it needs no access to PyPI.

    build_artifact.py OUT.tar.gz [--wheel-cache DIR]
"""

import argparse
import gzip
import hashlib
import io
import pathlib
import subprocess
import sys
import tarfile

HERE = pathlib.Path(__file__).resolve().parent
SKIP = {"__pycache__", ".pytest_cache"}


def download_wheels(cache_root):
    """Wheels of requirements.txt, downloaded once per pin set."""
    pins = (HERE / "requirements.txt").read_bytes()
    cache = pathlib.Path(cache_root) / hashlib.sha256(pins).hexdigest()[:16]
    if not (cache / ".complete").exists():
        cache.mkdir(parents=True, exist_ok=True)
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
                str(cache),
            ],
            check=True,
        )
        (cache / ".complete").touch()
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
    entries = [(arc, path.read_bytes()) for path, arc in project_files()]
    entries += [("wheelhouse/" + w.name, w.read_bytes()) for w in download_wheels(wheel_cache)]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for arc, data in sorted(entries):
            add(tar, arc, data)
    out = pathlib.Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "wb") as fh, gzip.GzipFile(fileobj=fh, mode="wb", mtime=0, filename="") as gz:
        gz.write(raw.getvalue())
    tmp.replace(out)
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--wheel-cache", default=str(HERE.parent.parent / ".local" / "wheelhouse"))
    args = parser.parse_args(argv)
    print(build(args.out, args.wheel_cache))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The artifacts the roles install, built on the controller before a playbook that applies them runs.

A role takes what it installs as inputs (a path on the controller and its sha256) and only installs and
checks it; this builds what this repository's inventories pass: each artifact of filter_plugins/artifacts.py
(its name, its builder, where it lives: the rule the inventories read too), reproducibly (unchanged sources,
the same bytes, so a second run's copy changes nothing), with its sha256 beside it (NAME.tar.gz.sha256, which
the inventories read). The dependency wheels are downloaded once per pin set into .local/wheelhouse/.

One function for every way in: bin/build-artifacts (main below), bin/anshin run before a job marked
needs_artifacts in jobs.yml, bin/run (anshin_ops/localrun.py); molecule's dependency step runs
bin/build-artifacts.

    python -m anshin_ops.artifacts      (bin/build-artifacts)
"""

import argparse
import os
import subprocess
import sys

from anshin_ops.modules import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_rule = load_file("filter_plugins/artifacts.py", "anshin_artifacts_rule")
ARTIFACTS = _rule.ARTIFACTS
WHEEL_CACHE = os.path.join(ROOT, ".local", "wheelhouse")


class BuildError(Exception):
    """An artifact could not be built (its builder failed: a download, a missing file); one line to show."""


def _builder(name):
    return load_file(ARTIFACTS[name], "anshin_build_" + name.replace("-", "_"))


def build(stream=None, wheel_cache=WHEEL_CACHE):
    """Build every artifact where the rule says, each with its .sha256; {name: (path, sha256)}. A line per
    artifact to STREAM. BuildError when one cannot be built (what was there before stays)."""
    built = {}
    for name in ARTIFACTS:
        path = _rule.anshin_artifact(name)
        try:
            sha = _builder(name).build(path, wheel_cache)
        except (subprocess.CalledProcessError, OSError) as exc:
            raise BuildError(f"building the artifact {name} failed: {exc}") from exc
        if stream is not None:
            stream.write(f"artifact {name}: {path} sha256 {sha}\n")
            stream.flush()
        built[name] = (path, sha)
    return built


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="bin/build-artifacts",
        description="Build the artifacts the roles install (" + ", ".join(ARTIFACTS) + ") into "
        ".local/artifacts/, each with its sha256 beside it; unchanged sources give the same bytes.",
    )
    parser.parse_args(argv)
    try:
        build(sys.stdout)
    except BuildError as exc:
        sys.stderr.write(f"build-artifacts: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

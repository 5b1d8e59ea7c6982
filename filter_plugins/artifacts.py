"""Where the artifacts the roles install are built, and their checksums read: the one rule, as pure functions.

    {{ 'lalert-receiver' | anshin_artifact }}                         (inventories/*/group_vars/all/artifacts.yml)
    {{ lookup('ansible.builtin.file', PATH ~ '.sha256', errors='ignore') | anshin_sha256sum }}

A role takes what it installs as inputs (a path on the controller and its sha256) and only installs and
checks it. bin/build-artifacts (anshin_ops/artifacts.py) builds each artifact named here, reproducibly, with
its builder into .local/artifacts/NAME.tar.gz of this repository and writes its sha256 beside it
(NAME.tar.gz.sha256, as sha256sum does); the inventories pass the path by this rule and the checksum read from
that file. An inventory that installs a vendor's build sets both inputs itself instead.
"""

import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# name: its builder (run as BUILDER OUT.tar.gz --wheel-cache DIR), relative to the repository
ARTIFACTS = {
    "lalert-receiver": "services/lalert_receiver/build_artifact.py",
}


def anshin_artifact(name):
    """The path on the controller where bin/build-artifacts builds the artifact NAME."""
    if name not in ARTIFACTS:
        raise ValueError(f"unknown artifact {name!r}; artifacts: {', '.join(ARTIFACTS)}")
    return os.path.join(REPO, ".local", "artifacts", f"{name}.tar.gz")


def anshin_sha256sum(text):
    """The digest of a checksum file's text as sha256sum writes it (DIGEST, two spaces, the file's name),
    lower case; '' for no text (the file is missing: not built yet), which the role refuses."""
    fields = str(text or "").split()
    return fields[0].lower() if fields else ""


class FilterModule:
    def filters(self):
        return {"anshin_artifact": anshin_artifact, "anshin_sha256sum": anshin_sha256sum}

"""requirements.yml lists collections at versions the pinned `ansible`
package bundles (Galaxy is unreachable, so the bundle is the source)."""

import json
import pathlib

import ansible_collections
import pytest

from conftest import ROOT, load_yaml

BUNDLE = pathlib.Path(list(ansible_collections.__path__)[0])
REQUIRED = load_yaml(ROOT / "requirements.yml")["collections"]


def bundled_version(name):
    namespace, collection = name.split(".")
    manifest = BUNDLE / namespace / collection / "MANIFEST.json"
    if not manifest.exists():
        return None
    return json.loads(manifest.read_text())["collection_info"]["version"]


@pytest.mark.parametrize("req", REQUIRED, ids=[r["name"] for r in REQUIRED])
def test_collection_is_bundled_at_pinned_version(req):
    assert bundled_version(req["name"]) == req["version"]


def test_used_collections_are_listed():
    """Every collection a YAML file in the repo calls by FQCN is in requirements.yml."""
    listed = {r["name"] for r in REQUIRED} | {"ansible.builtin"}
    used = set()
    for folder in ("roles", "playbooks", "molecule"):
        for path in (ROOT / folder).rglob("*.yml"):
            for word in path.read_text(encoding="utf-8").split():
                word = word.rstrip(":")
                parts = word.split(".")
                if (
                    len(parts) == 3
                    and parts[0] in {"ansible", "community", "containers"}
                    and all(p.replace("_", "").isalnum() for p in parts)
                ):
                    used.add(".".join(parts[:2]))
    assert used - listed == set()

"""Every variable set under inventories/ is declared somewhere: by a role's
argument_specs or by inventories/inventory_vars.yml. Ansible ignores a
misspelt variable silently; this test does not."""

import pytest

from conftest import ROOT, load_yaml


def declared():
    names = set(load_yaml(ROOT / "inventories" / "inventory_vars.yml"))
    for spec in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry in load_yaml(spec)["argument_specs"].values():
            names.update(entry.get("options", {}))
    return names


def _hosts_file_vars(node):
    """Variables set inline in a hosts.yml (hosts and group vars), recursively."""
    for host_vars in (node.get("hosts") or {}).values():
        yield from (host_vars or {})
    yield from (node.get("vars") or {})
    for child in (node.get("children") or {}).values():
        yield from _hosts_file_vars(child or {})


def set_variables():
    """(file, variable) for every variable set under inventories/."""
    for path in sorted((ROOT / "inventories").rglob("*.yml")):
        rel = path.relative_to(ROOT)
        if path.name == "inventory_vars.yml":
            continue
        if path.read_text(encoding="utf-8").startswith("$ANSIBLE_VAULT"):
            continue  # vault files hold vault_* values referenced from plain files
        data = load_yaml(path) or {}
        if path.name == "hosts.yml":
            for name in _hosts_file_vars(data.get("all", {})):
                yield str(rel), name
        elif {"group_vars", "host_vars"} & set(path.parts):
            for name in data:
                yield str(rel), name


SET = sorted(set(set_variables()))


def test_inventories_set_variables():
    assert SET


@pytest.mark.parametrize("where,name", SET)
def test_variable_is_declared(where, name):
    assert name in declared(), f"{where}: {name} is declared by no role and not in inventory_vars.yml"


def test_an_undeclared_variable_is_caught(tmp_path):
    """The check itself can fail: a misspelt name is not in the declared set."""
    assert "base_timezon" not in declared()
    assert "base_timezone" in declared()

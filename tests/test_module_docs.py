"""Every module of library/ renders with ansible-doc (DOCUMENTATION, EXAMPLES and RETURN parse) and its
documented options are the ones its argument_spec accepts."""

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import ROOT

MODULES = sorted(p.stem for p in (ROOT / "library").glob("*.py"))
ANSIBLE_DOC = str(Path(sys.executable).parent / "ansible-doc")


def test_there_are_modules():
    assert MODULES


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders(name):
    out = subprocess.run(
        [ANSIBLE_DOC, "-M", str(ROOT / "library"), "--json", name], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    doc = json.loads(out)[name]
    assert doc["doc"]["short_description"] and doc["examples"].strip() and doc["return"]


@pytest.mark.parametrize("name", MODULES)
def test_documented_options_match_the_argument_spec(name):
    source = (ROOT / "library" / f"{name}.py").read_text()
    tree = ast.parse(source)
    consts = {
        t.id: n.value.value
        for n in tree.body
        if isinstance(n, ast.Assign)
        for t in n.targets
        if isinstance(t, ast.Name) and isinstance(n.value, ast.Constant)
    }
    documented = set(yaml.safe_load(consts["DOCUMENTATION"])["options"])
    spec = next(n for n in ast.walk(tree) if isinstance(n, ast.keyword) and n.arg == "argument_spec")
    accepted = {k.arg for k in spec.value.keywords}
    assert documented == accepted

"""filter_plugins/layered.py"""

import importlib.util

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("layered", ROOT / "filter_plugins" / "layered.py")
layered = importlib.util.module_from_spec(spec)
spec.loader.exec_module(layered)


def test_later_layers_replace_and_absent_removes():
    role = [{"name": "ssh", "port": 22}, {"name": "https", "port": 443}, {"name": "old", "port": 8}]
    group = [{"name": "https", "port": 8443}]
    host = [{"name": "old", "state": "absent"}, {"name": "metrics", "port": 9100}]
    assert layered.anshin_layered([role, group, host, None]) == [
        {"name": "ssh", "port": 22, "state": "present"},
        {"name": "https", "port": 8443, "state": "present"},
        {"name": "metrics", "port": 9100, "state": "present"},
    ]


def test_entries_without_name_are_refused():
    with pytest.raises(ValueError):
        layered.anshin_layered([[{"port": 22}]])

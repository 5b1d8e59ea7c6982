"""filter_plugins/packages.py."""

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("package_filters", ROOT / "filter_plugins" / "packages.py")
packages = importlib.util.module_from_spec(spec)
spec.loader.exec_module(packages)
anshin_package_changes = packages.anshin_package_changes


def test_changes_list_upgrades_installs_and_removals():
    before = {"openssl": [{"version": "3.0.1"}], "less": [{"version": "590"}], "gone": [{"version": "1"}]}
    after = {"openssl": [{"version": "3.0.2"}], "less": [{"version": "590"}], "new": [{"version": "2"}]}
    assert anshin_package_changes(before, after) == [
        {"name": "gone", "before": "1", "after": ""},
        {"name": "new", "before": "", "after": "2"},
        {"name": "openssl", "before": "3.0.1", "after": "3.0.2"},
    ]


def test_no_change_and_empty_input():
    facts = {"a": [{"version": "1"}, {"version": "1"}]}
    assert anshin_package_changes(facts, facts) == []
    assert anshin_package_changes(None, None) == []

"""filter_plugins/network.py"""

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("network", ROOT / "filter_plugins" / "network.py")
network = importlib.util.module_from_spec(spec)
spec.loader.exec_module(network)


def test_invalid_cidrs_are_listed():
    values = ["203.0.113.0/24", "2001:db8::/32", "198.51.100.7", "300.1.1.1/24", "10.0.0.0/33", "", "banana", 42]
    assert network.anshin_invalid_cidrs(values) == ["300.1.1.1/24", "10.0.0.0/33", "", "banana", 42]


def test_nothing_is_invalid_in_an_empty_list():
    assert network.anshin_invalid_cidrs([]) == [] and network.anshin_invalid_cidrs(None) == []


def test_normalise_clears_host_bits_and_dedups():
    assert network.anshin_normalise_cidrs(["198.51.100.7", "203.0.113.9/24", "203.0.113.0/24", "::1"]) == [
        "198.51.100.7/32",
        "203.0.113.0/24",
        "::1/128",
    ]


def test_filters_are_registered():
    assert set(network.FilterModule().filters()) == {"anshin_invalid_cidrs", "anshin_normalise_cidrs"}

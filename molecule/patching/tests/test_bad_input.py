"""Bad patch settings stop patch.yml before any change, naming the variable; a canary hold is never set."""

import os

import pytest

from conftest import PROJECT

PATCH = os.path.join(PROJECT, "playbooks", "patch.yml")
CASES = {
    "end before start": ({"patching_window_start": "05:00", "patching_window_end": "02:00"}, "patching_window_end"),
    "unparsable time": ({"patching_window_start": "25:00"}, "patching_window_start"),
    "unparsable date": ({"patching_window_dates": ["2026-13-01"]}, "patching_window_dates"),
    "unknown mode": ({"patching_mode": "everything"}, "patching_mode"),
    "hold naming nothing": ({"patching_holds": ["anshin-demo-tool", ""]}, "patching_holds"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_setting_fails_before_any_change(host, refused_before_change, case):
    values, variable = CASES[case]
    holds = values.pop("patching_holds", ["anshin-demo-tool"])
    refused_before_change(
        PATCH,
        dict(values, patching_holds=holds),
        variable,
        lambda: "anshin-demo-tool" not in host.check_output("apt-mark showhold"),
    )

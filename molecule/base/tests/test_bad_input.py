"""Bad input stops the base role before any change, naming the variable.

Each case also asks for a harmless change (a canary directory). If the play
got past validation, the canary would exist and the recap would show changes.
"""

import os

import pytest

CONVERGE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "converge.yml")
CANARY = "/var/lib/lalert-canary"
CANARY_DIRS = [{"path": CANARY, "mode": "0750"}]

CASES = {
    "unknown time zone": ({"base_timezone": "Asia/Atlantis"}, "base_timezone"),
    "malformed time zone": ({"base_timezone": "../../etc/passwd"}, "base_timezone"),
    "empty NTP server list": ({"base_ntp_servers": []}, "base_ntp_servers"),
    "negative journal size": ({"base_journald_max_use_mb": -5}, "base_journald_max_use_mb"),
    "journal file above total": ({"base_journald_max_file_mb": 4096}, "base_journald_max_file_mb"),
    "zero retention": ({"base_journald_retention_days": 0}, "base_journald_retention_days"),
    "size of wrong type": ({"base_journald_max_use_mb": "lots"}, "base_journald_max_use_mb"),
    "flag of wrong type": ({"base_sysctl_apply": "perhaps"}, "base_sysctl_apply"),
    "servers of wrong type": ({"base_ntp_servers": {"a": 1}}, "base_ntp_servers"),
    # the canary first in the same list: a role that made directories until the bad one would leave it
    "relative directory": (
        {"base_service_directories": [*CANARY_DIRS, {"path": "var/x", "mode": "0750"}]},
        "base_service_directories",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(host, refused_before_change, case):
    bad, variable = CASES[case]
    refused_before_change(
        CONVERGE, {"base_service_directories": CANARY_DIRS, **bad}, variable, lambda: not host.file(CANARY).exists
    )

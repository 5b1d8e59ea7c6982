"""Bad entries stop the logrotate role before any change, naming the variable.
Each case also adds a harmless canary entry that must not appear."""

import os

import pytest

CONVERGE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "converge.yml")
CANARY = {"name": "canary", "paths": ["/var/log/canary.log"]}

CASES = {
    "relative path": {"name": "web", "paths": ["var/log/web.log"]},
    "no paths": {"name": "web", "paths": []},
    "unknown frequency": {"name": "web", "paths": ["/var/log/web.log"], "frequency": "hourly-ish"},
    "rotate zero": {"name": "web", "paths": ["/var/log/web.log"], "rotate": 0},
    "create without owner": {"name": "web", "paths": ["/var/log/web.log"], "create": "0640"},
    "name with a slash": {"name": "../web", "paths": ["/var/log/web.log"]},
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_entry_fails_before_any_change(host, refused_before_change, case):
    refused_before_change(
        CONVERGE,
        {"logrotate_host_config": [CANARY, CASES[case]]},
        "logrotate_config",
        lambda: not host.file("/etc/logrotate.d/anshin-canary").exists,
    )


@pytest.mark.parametrize(
    "settings",
    [
        {"logrotate_archive_dir": "/var/log"},
        {"logrotate_archive_after_days": 0},
        {"logrotate_archive_after_days": 500},
    ],
)
def test_bad_archive_settings_fail_before_any_change(host, refused_before_change, settings):
    refused_before_change(
        CONVERGE,
        dict(settings, logrotate_host_config=[CANARY]),
        next(iter(settings)),
        lambda: not host.file("/etc/logrotate.d/anshin-canary").exists,
    )

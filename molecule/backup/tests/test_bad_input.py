"""Bad backup settings stop the play before any change, naming the variable. Each case also adds a
harmless canary source whose directory must not appear."""

import os

import pytest

from conftest import PROJECT

PLAYBOOK = os.path.join(PROJECT, "playbooks", "backup.yml")
CANARY = [{"name": "canary", "path": "/srv/anshin-canary"}]

CASES = {
    "short passphrase": ({"backup_passphrase": "too-short"}, "backup_passphrase"),
    "unknown backup host": ({"backup_remote_host": "no-such-host"}, "backup_remote_host"),
    "relative source": ({"backup_group_sources": [{"name": "web", "path": "srv/www"}]}, "backup_sources"),
    "restore of /var": ({"backup_restore_paths": ["/var"]}, "backup_restore_paths"),
    "no retention": ({"backup_keep_daily": 0, "backup_keep_weekly": 0, "backup_keep_monthly": 0}, "backup_keep_"),
    "bad repository name": ({"backup_read_repositories": ["../etc"]}, "backup_read_repositories"),
    "database without path": ({"backup_sqlite_databases": [{"name": "x"}]}, "backup_sqlite_databases"),
    "dump without restore": ({"backup_dumps": [{"name": "x", "dump": ["true"]}]}, "backup_dumps"),
    # the LDAP export backup.yml passes is ldap-directory already
    "name used twice": (
        {"backup_sqlite_databases": [{"name": "ldap-directory", "path": "/var/lib/x.sqlite3"}]},
        "each needs a name of its own",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_setting_fails_before_any_change(host, refused_before_change, case):
    values, variable = CASES[case]
    refused_before_change(
        PLAYBOOK, dict(values, backup_host_sources=CANARY), variable, lambda: not host.file("/srv/anshin-canary").exists
    )

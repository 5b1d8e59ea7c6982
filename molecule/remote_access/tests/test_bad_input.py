"""Bad input stops the remote_access role before any change, naming the variable.

Each case also asks for a harmless change (MaxSessions 5 instead of 4): had
the play got past validation, sshd would show it."""

import os

import pytest

CONVERGE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "converge.yml")
CANARY = {"remote_access_max_sessions": 5}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBWEqLt4hyIu1jK2cBV7qqA3VvrK2c3xHkbH8sYCgYGk bad-input-test"


def account(**changes):
    return [dict({"name": "erin", "public_keys": [KEY], "expires": "2099-12-31"}, **changes)]


CASES = {
    "invalid CIDR": (
        {"remote_access_ssh_allowed_sources": [{"source": "10.0.0.0/33"}]},
        "remote_access_ssh_allowed_sources",
    ),
    "empty allow-list": ({"remote_access_ssh_allowed_sources": []}, "remote_access_ssh_allowed_sources"),
    "account without a key": ({"remote_access_accounts": account(public_keys=[])}, "remote_access_accounts"),
    "expiry in the past": ({"remote_access_accounts": account(expires="2020-03-31")}, "remote_access_accounts"),
    "unparsable expiry": ({"remote_access_accounts": account(expires="31/03/2027")}, "remote_access_accounts"),
    "impossible date": ({"remote_access_accounts": account(expires="2027-02-30")}, "remote_access_accounts"),
    "not a public key": (
        {"remote_access_accounts": account(public_keys=["ssh-ed25519 AAAAnotakey erin"])},
        "remote_access_accounts",
    ),
    "private key pasted": (
        {"remote_access_accounts": account(public_keys=["-----BEGIN OPENSSH PRIVATE KEY-----"])},
        "remote_access_accounts",
    ),
    "opening without port": (
        {"remote_access_firewall_rules": [{"name": "web", "sources": ["10.0.0.0/8"]}]},
        "remote_access_firewall_rules",
    ),
    "opening with bad source": (
        {"remote_access_firewall_rules": [{"name": "web", "port": 80, "sources": ["any"]}]},
        "remote_access_firewall_rules",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_before_any_change(host, refused_before_change, case):
    bad, variable = CASES[case]
    refused_before_change(
        CONVERGE, {**CANARY, **bad}, variable, lambda: "maxsessions 2" in host.check_output("sshd -T").splitlines()
    )

"""Bad role input stops the play before any change, naming the variable.

Each case also asks for harmless changes (7 worker threads instead of 8, a 29 s channel timeout
instead of 30; a case that sets one of them still has the other): had the play got past validation,
receiver.ini would show them."""

import os

import pytest

CONVERGE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "receiver_only.yml")
CANARY = {"lalert_receiver_threads": 7, "lalert_receiver_channel_timeout": 29}

CASES = {
    "empty allow-list": ({"lalert_receiver_allowed_sources": []}, "lalert_receiver_allowed_sources"),
    "invalid CIDR": ({"lalert_receiver_allowed_sources": ["203.0.113.0/33"]}, "lalert_receiver_allowed_sources"),
    "not an address": (
        {"lalert_receiver_monitoring_sources": ["monitoring-host"]},
        "lalert_receiver_monitoring_sources",
    ),
    "empty password": ({"lalert_receiver_password": ""}, "lalert_receiver_password"),
    "empty user name": ({"lalert_receiver_username": ""}, "lalert_receiver_username"),
    "area prefix not digits": ({"lalert_receiver_area_prefixes": ["Tokushima"]}, "lalert_receiver_area_prefixes"),
    "privileged app port": ({"lalert_receiver_listen_port": 80}, "lalert_receiver_listen_port"),
    "certificate without key": (
        {"lalert_receiver_tls_certificate": "-----BEGIN CERTIFICATE-----"},
        "lalert_receiver_tls_private_key",
    ),
    # the inventory's checksum read from a .sha256 file bin/build-artifacts did not write
    "artifact without checksum": ({"lalert_receiver_artifact_sha256": ""}, "lalert_receiver_artifact_sha256"),
    # a vendor's path alone, no .sha256 beside it to read the checksum from
    "vendor artifact without checksum": (
        {"lalert_receiver_artifact": "/tmp/vendor.tar.gz"},
        "lalert_receiver_artifact_sha256",
    ),
    "checksum not 64 hex digits": (
        {"lalert_receiver_artifact_sha256": "sha256:0123"},
        "lalert_receiver_artifact_sha256",
    ),
    "artifact path not absolute": ({"lalert_receiver_artifact": "lalert-receiver.tar.gz"}, "lalert_receiver_artifact"),
    "service account not made by base": ({"lalert_receiver_user": "nosuchuser"}, "lalert_receiver_user"),
    "threads of wrong type": ({"lalert_receiver_threads": "many"}, "lalert_receiver_threads"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_role_input_fails_before_any_change(host, refused_before_change, case):
    bad, variable = CASES[case]
    refused_before_change(
        CONVERGE,
        {**CANARY, **bad},
        variable,
        lambda: all(
            line in host.file("/etc/lalert-receiver/receiver.ini").content_string.splitlines()
            for line in ("threads = 8", "channel_timeout = 30")
        ),
    )

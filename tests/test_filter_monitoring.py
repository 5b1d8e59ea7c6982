"""filter_plugins/monitoring.py"""

import importlib.util

from conftest import ROOT

spec = importlib.util.spec_from_file_location("monitoring", ROOT / "filter_plugins" / "monitoring.py")
monitoring = importlib.util.module_from_spec(spec)
spec.loader.exec_module(monitoring)

HOSTVARS = {
    "vm": {
        "ansible_host": "127.0.0.1",
        "monitoring_agent_address": "10.89.250.10",
        "monitoring_agent_listen_port": 9200,
    },
    "prod": {"ansible_host": "192.0.2.10", "monitoring_agent_address": ""},
    "bare": {},
}


def test_targets_prefer_the_monitoring_address_then_ansible_host_then_the_name():
    assert monitoring.anshin_scrape_targets(["vm", "prod", "bare"], HOSTVARS, "monitoring_agent_listen_port", 9100) == [
        {"name": "vm", "address": "10.89.250.10", "port": 9200},
        {"name": "prod", "address": "192.0.2.10", "port": 9100},
        {"name": "bare", "address": "bare", "port": 9100},
    ]


def test_no_hosts_no_targets():
    assert monitoring.anshin_scrape_targets(None, HOSTVARS, "x", 1) == []
    assert monitoring.anshin_receiver_probes([]) == []


def test_each_receiver_gets_a_health_probe_with_its_tls_settings():
    probes = monitoring.anshin_receiver_probes(
        [
            {"name": "lalert-vm", "address": "10.0.0.5", "port": 8443, "insecure_skip_verify": True},
            {"name": "lalert.prod", "address": "192.0.2.10", "ca_file": "/etc/ssl/pref-ca.pem"},
        ]
    )
    assert probes[0] == {
        "name": "receiver_lalert_vm",
        "kind": "receiver",
        "description": "L-Alert receiver health check (lalert-vm)",
        "url": "https://10.0.0.5:8443/healthz",
        "body_regex": '"status": "ok"',
        "ca_file": "",
        "insecure_skip_verify": True,
    }
    assert probes[1]["name"] == "receiver_lalert_prod"
    assert probes[1]["url"] == "https://192.0.2.10:443/healthz"
    assert probes[1]["ca_file"] == "/etc/ssl/pref-ca.pem" and probes[1]["insecure_skip_verify"] is False


def test_prometheus_text_pages_are_read():
    page = (
        "# HELP probe_success x\n# TYPE probe_success gauge\nprobe_success 1\nprobe_ip_protocol 4\n"
        'probe_http_version{a="b"} 1.1\nprobe_ssl_earliest_cert_expiry 1.8e+09\n'
    )
    assert monitoring.anshin_prometheus_samples(page) == {
        "probe_success": 1.0,
        "probe_ip_protocol": 4.0,
        'probe_http_version{a="b"}': 1.1,
        "probe_ssl_earliest_cert_expiry": 1.8e9,
    }
    assert monitoring.anshin_prometheus_samples(None) == {}


def test_integration_results_are_readable_verdicts():
    now = 1_800_000_000.0
    probes = [
        {"name": "ok", "kind": "map_link", "url": "https://map/"},
        {"name": "soon", "kind": "x_api", "url": "https://x/"},
        {"name": "down", "kind": "lalert_centre", "prober": "tcp", "target": "l:443", "tls": True},
        {"name": "http500", "kind": "public_site", "url": "http://site/"},
        {"name": "never", "kind": "other", "url": "http://none/"},
    ]
    pages = {
        "ok": {
            "probe_success": 1,
            "probe_http_status_code": 200,
            "probe_ssl_earliest_cert_expiry": now + 90 * 86400,
            "probe_duration_seconds": 0.25,
        },
        "soon": {"probe_success": 1, "probe_http_status_code": 200, "probe_ssl_earliest_cert_expiry": now + 10 * 86400},
        "down": {"probe_success": 0, "probe_duration_seconds": 3},
        "http500": {"probe_success": 0, "probe_http_status_code": 500},
    }
    last = {"down": now - 3600 * 5, "http500": 0.0}
    results = {r["name"]: r for r in monitoring.anshin_integration_results(probes, pages, last, now, 30)}
    assert results["ok"]["verdict"] == "正常" and results["ok"]["tls_days_left"] == 90.0
    assert results["ok"]["last_success"] == monitoring.anshin_jst_time(now)
    assert results["soon"]["verdict"] == "注意" and "10.0 days" in results["soon"]["reason"]
    assert results["down"]["verdict"] == "異常" and not results["down"]["reachable"]
    assert results["down"]["last_success"] == monitoring.anshin_jst_time(now - 3600 * 5)
    assert results["http500"]["reason"] == "HTTP 500" and results["http500"]["last_success"] == ""
    assert results["never"]["reason"] == "probe did not run"


def test_times_are_shown_in_jst():
    assert monitoring.anshin_jst_time(0) == ""
    assert monitoring.anshin_jst_time(1_767_193_200) == "2026-01-01 00:00"  # 2025-12-31 15:00 UTC

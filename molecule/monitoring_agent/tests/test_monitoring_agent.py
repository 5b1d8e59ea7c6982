"""The agent alone: node_exporter serves this repo's textfile metrics with the right values, the units it
watches, and Zabbix agent 2 answers the same checks; bad input stops before any change."""

import os
import re
import time

import pytest

from conftest import PROJECT

CERT = "/etc/ssl/anshin-test.crt"


def metrics(host):
    return host.check_output("curl -fsS http://127.0.0.1:9100/metrics")


def value(text, name, labels=""):
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def test_node_exporter_serves_the_agent_metrics(host, journal_on_failure):
    assert host.service("prometheus-node-exporter").is_running, journal_on_failure("prometheus-node-exporter")
    text = metrics(host)
    not_after = float(host.check_output(f'date -d "$(openssl x509 -noout -enddate -in {CERT} | cut -d= -f2)" +%s'))
    days = value(text, "anshin_tls_certificate_days_left", f'{{path="{CERT}"}}')
    assert days is not None and abs(days - (not_after - time.time()) / 86400) < 0.1, text
    assert 19 < days <= 20
    assert value(text, "anshin_tls_certificate_readable", '{path="/etc/ssl/missing.crt"}') == 0
    assert value(text, "anshin_lalert_database_readable") == 1
    assert value(text, "anshin_lalert_last_real_message_timestamp_seconds") == 1795000000.5  # not the exercise
    assert value(text, "anshin_account_expiry_timestamp_seconds", '{account="alice"}') == 4102358400
    assert value(text, "anshin_account_present", '{account="nobody-here"}') == 0
    assert time.time() - value(text, "anshin_agent_metrics_last_run_timestamp_seconds") < 600
    assert value(text, "node_textfile_scrape_error") == 0
    assert host.service("anshin-agent-metrics.timer").is_enabled


def test_the_units_that_matter_are_watched(host):
    text = metrics(host)
    active = [
        line
        for line in text.splitlines()
        if line.startswith("node_systemd_unit_state{")
        and 'name="prometheus-node-exporter.service"' in line
        and 'state="active"' in line
    ]
    assert active and active[0].endswith(" 1"), active
    assert 'name="anshin-agent-metrics.timer"' in text


def test_zabbix_agent_answers_the_same_checks(host):
    def zabbix(key):
        return host.run(f"python3 /usr/local/lib/zabbix_get.py 127.0.0.1 10050 '{key}'").stdout.strip()

    assert zabbix("agent.ping") == "1"
    assert (
        abs(
            float(zabbix(f"anshin.tls.days_left[{CERT}]"))
            - value(metrics(host), "anshin_tls_certificate_days_left", f'{{path="{CERT}"}}')
        )
        < 0.1
    )
    assert float(zabbix("anshin.lalert.last_real_message")) == 1795000000.5
    assert float(zabbix("anshin.account.expiry[alice]")) == 4102358400
    assert zabbix("anshin.metric[anshin_account_present,account=nobody-here]") == "0"


@pytest.mark.parametrize(
    "bad,variable",
    [
        ({"monitoring_agent_tls_certificates": ["relative.crt"]}, "monitoring_agent_tls_certificates"),
        ({"monitoring_agent_scrape_sources": ["10.0.0.300/32"]}, "monitoring_agent_scrape_sources"),
        ({"monitoring_agent_zabbix": True, "monitoring_agent_zabbix_servers": []}, "monitoring_agent_zabbix_servers"),
        ({"monitoring_agent_metrics_interval_minutes": 0}, "monitoring_agent_metrics_interval_minutes"),
    ],
)
def test_bad_input_stops_before_any_change(host, refused_before_change, bad, variable):
    # the canaries: a new interval that must not reach the timer, and a new account that must not reach the
    # settings (a case that sets the interval itself overrides the first)
    canaries = {"monitoring_agent_metrics_interval_minutes": 7, "monitoring_agent_accounts": ["alice", "canary-user"]}
    refused_before_change(
        os.path.join(PROJECT, "playbooks", "monitoring.yml"),
        dict(canaries, **bad),
        variable,
        lambda: (
            "7min" not in host.file("/etc/systemd/system/anshin-agent-metrics.timer").content_string
            and "canary-user" not in host.file("/etc/anshin/agent-metrics.json").content_string
        ),
    )

"""Monitoring filters: pure functions that turn inventory data into scrape targets and probes.

{{ names | anshin_scrape_targets(hostvars, 'monitoring_agent_listen_port', 9100) }}
{{ receiver_targets | anshin_receiver_probes }}
{{ probe_page_text | anshin_prometheus_samples }}
{{ probes | anshin_integration_results(probe_pages, last_success, now, warning_days) }}
{{ epoch | anshin_jst_time }}
"""

import os
import re
import sys

_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _SHARED not in sys.path:  # the one home of the JST clock (module_utils/anshin_common.py)
    sys.path.append(_SHARED)
from anshin_common import from_epoch  # noqa: E402

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def anshin_scrape_targets(names, hostvars, port_variable, default_port):
    """One target per inventory host: {name, address, port}.

    The address is the host's monitoring_agent_address when set (how the monitoring host reaches
    it), else its ansible_host, else its name; the port is the host's value of PORT_VARIABLE.
    """
    targets = []
    for name in names or []:
        host = hostvars[name]
        address = host.get("monitoring_agent_address") or host.get("ansible_host") or name
        targets.append({"name": name, "address": str(address), "port": int(host.get(port_variable, default_port))})
    return targets


def anshin_receiver_probes(targets):
    """A blackbox probe of each receiver's health check (kind receiver), with the target's TLS settings."""
    probes = []
    for target in targets or []:
        safe = "".join(c if c.isalnum() else "_" for c in str(target["name"])).lower()
        probes.append(
            {
                "name": f"receiver_{safe}",
                "kind": "receiver",
                "description": f"L-Alert receiver health check ({target['name']})",
                "url": f"https://{target['address']}:{int(target.get('port', 443))}/healthz",
                "body_regex": '"status": "ok"',
                "ca_file": target.get("ca_file", ""),
                "insecure_skip_verify": bool(target.get("insecure_skip_verify", False)),
            }
        )
    return probes


def anshin_prometheus_samples(text):
    """Samples of a Prometheus text page as {name or name{labels}: float}; comments skipped."""
    samples = {}
    for line in (text or "").splitlines():
        match = _SAMPLE.match(line.strip())
        if match and not line.startswith("#"):
            samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def anshin_jst_time(epoch):
    """Epoch seconds as 'YYYY-MM-DD HH:MM' in JST; '' for none or 0 (never)."""
    return from_epoch(epoch).strftime("%Y-%m-%d %H:%M") if epoch else ""


def anshin_integration_results(probes, pages, last_success, now, warning_days):
    """One readable result per integration, from a probe run now and Prometheus's history.

    probes: the probe settings; pages: {probe name: samples of blackbox's /probe page};
    last_success: {probe name: epoch of the last successful probe}. The verdict is 正常, 注意 (TLS
    certificate under warning_days) or 異常 (unreachable, or a certificate that fails).
    """
    results = []
    for probe in probes or []:
        page = pages.get(probe["name"]) or {}
        reachable = page.get("probe_success") == 1
        expiry = page.get("probe_ssl_earliest_cert_expiry")
        days_left = round((expiry - now) / 86400, 1) if expiry else None
        status = page.get("probe_http_status_code")
        tls = probe.get("url", "").startswith("https://") or bool(probe.get("tls"))
        if not page:
            verdict, reason = "異常", "probe did not run"
        elif not reachable:
            verdict = "異常"
            reason = f"HTTP {int(status)}" if status else "unreachable or refused"
            if tls and page.get("probe_ssl_earliest_cert_expiry") is None and status is None:
                reason = "no connection (or TLS handshake failed)"
        elif days_left is not None and days_left < warning_days:
            verdict, reason = "注意", f"TLS certificate expires in {days_left} days"
        else:
            verdict, reason = "正常", ""
        last = last_success.get(probe["name"])
        if reachable:
            last = now
        results.append(
            {
                "name": probe["name"],
                "kind": probe.get("kind", "other"),
                "description": probe.get("description", ""),
                "target": probe.get("url") or probe.get("target", ""),
                "reachable": reachable,
                "http_status": int(status) if status else None,
                "tls": tls,
                "tls_days_left": days_left,
                "duration_seconds": round(page.get("probe_duration_seconds", 0.0), 3),
                "last_success": anshin_jst_time(last),
                "verdict": verdict,
                "reason": reason,
            }
        )
    return results


class FilterModule:
    def filters(self):
        return {
            "anshin_scrape_targets": anshin_scrape_targets,
            "anshin_receiver_probes": anshin_receiver_probes,
            "anshin_prometheus_samples": anshin_prometheus_samples,
            "anshin_integration_results": anshin_integration_results,
            "anshin_jst_time": anshin_jst_time,
        }

"""Monitoring filters: pure functions that turn inventory data into scrape targets and probes.

    {{ names | anshin_scrape_targets(hostvars, 'monitoring_agent_listen_port', 9100) }}
    {{ receiver_targets | anshin_receiver_probes }}
"""


def anshin_scrape_targets(names, hostvars, port_variable, default_port):
    """One target per inventory host: {name, address, port}.

    The address is the host's monitoring_agent_address when set (how the monitoring host reaches
    it), else its ansible_host, else its name; the port is the host's value of PORT_VARIABLE.
    """
    targets = []
    for name in names or []:
        host = hostvars[name]
        address = host.get("monitoring_agent_address") or host.get("ansible_host") or name
        targets.append({"name": name, "address": str(address),
                        "port": int(host.get(port_variable, default_port))})
    return targets


def anshin_receiver_probes(targets):
    """A blackbox probe of each receiver's health check (kind receiver), with the target's TLS settings."""
    probes = []
    for target in targets or []:
        safe = "".join(c if c.isalnum() else "_" for c in str(target["name"])).lower()
        probes.append({
            "name": f"receiver_{safe}",
            "kind": "receiver",
            "description": f"L-Alert receiver health check ({target['name']})",
            "url": f"https://{target['address']}:{int(target.get('port', 443))}/healthz",
            "body_regex": '"status": "ok"',
            "ca_file": target.get("ca_file", ""),
            "insecure_skip_verify": bool(target.get("insecure_skip_verify", False)),
        })
    return probes


class FilterModule:
    def filters(self):
        return {
            "anshin_scrape_targets": anshin_scrape_targets,
            "anshin_receiver_probes": anshin_receiver_probes,
        }

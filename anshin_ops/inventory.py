"""What the CLI needs from an inventory, read through `ansible-inventory --export` (group_vars as written,
nothing templated, no vault password needed): the groups with their hosts, and the variables of the `all`
group (office calendar, contacts)."""

import datetime
import json
import os
import subprocess

from anshin_ops import incidents

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = os.environ.get("ANSHIN_INVENTORY", "local")


def path_of(name):
    """An inventory name under inventories/ or a path to an inventory file."""
    for path in (os.path.join(ROOT, "inventories", name, "hosts.yml"), name):
        if os.path.isfile(path):
            return os.path.abspath(path)
    raise incidents.RecordError(f"no inventory {name!r} (neither inventories/{name}/hosts.yml nor a file)")


def _list(name, export):
    command = [os.path.join(ROOT, ".venv", "bin", "ansible-inventory"), "-i", path_of(name), "--list"]
    done = subprocess.run(
        command + (["--export"] if export else []),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg")),
    )
    if done.returncode != 0:
        raise incidents.RecordError(f"inventory {name}: {' '.join(done.stderr.strip().splitlines()[-1:])}")
    return json.loads(done.stdout)


def load_hostvars(name):
    """Each host's variables with its groups' merged in (as written: nothing templated)."""
    return _list(name, export=False).get("_meta", {}).get("hostvars", {})


def load(name):
    """{'groups': {group: [hosts, including those of child groups]}, 'vars': all-group vars, 'hostvars': {...}}"""
    path = path_of(name)
    data = _list(name, export=True)

    def hosts(group, seen=()):
        entry = data.get(group, {})
        found = list(entry.get("hosts", []))
        for child in entry.get("children", []):
            if child not in seen:
                found += [h for h in hosts(child, seen + (group,)) if h not in found]
        return found

    groups = {g: hosts(g) for g in data if g != "_meta"}
    return {
        "name": name,
        "path": path,
        "groups": groups,
        "vars": data.get("all", {}).get("vars", {}),
        "hostvars": data.get("_meta", {}).get("hostvars", {}),
    }


def office_calendar(inv):
    """anshin_office_calendar of the inventory, checked: hours, target, extra closed days."""
    settings = dict(
        {
            "start": "08:30",
            "end": "17:15",
            "availability_target": 99.0,
            "extra_closed_days": [],
            "inquiry_start": "08:30",
            "inquiry_end": "17:30",
        },
        **(inv["vars"].get("anshin_office_calendar") or {}),
    )
    try:
        hours = tuple(datetime.datetime.strptime(str(settings[k]), "%H:%M").strftime("%H:%M") for k in ("start", "end"))
        inquiry_hours = tuple(
            datetime.datetime.strptime(str(settings[k]), "%H:%M").strftime("%H:%M")
            for k in ("inquiry_start", "inquiry_end")
        )
        closed = [datetime.date.fromisoformat(str(d)) for d in settings["extra_closed_days"] or []]
        target = float(settings["availability_target"])
    except (ValueError, TypeError) as exc:
        raise incidents.RecordError(f"inventory {inv['name']}: anshin_office_calendar: {exc}") from exc
    if hours[0] >= hours[1] or inquiry_hours[0] >= inquiry_hours[1] or not 0 < target < 100:
        raise incidents.RecordError(
            f"inventory {inv['name']}: anshin_office_calendar: start before end, "
            f"inquiry_start before inquiry_end, 0 < availability_target < 100"
        )
    return {"hours": hours, "extra_closed": closed, "target": target, "inquiry_hours": inquiry_hours}


def site_access(inv):
    """anshin_site_access of the inventory, checked: the subsite's path prefix and what to leave out
    (anshin_ops.access_counts; empty exclude_agents: its defaults, what our probes send)."""
    import ipaddress
    import re

    from anshin_ops import access_counts

    settings = inv["vars"].get("anshin_site_access") or {}
    where = f"inventory {inv['name']}: anshin_site_access"
    if not isinstance(settings, dict) or set(settings) - {"prefix", "exclude_networks", "exclude_agents"}:
        raise incidents.RecordError(f"{where}: a mapping of prefix, exclude_networks, exclude_agents")
    prefix = settings.get("prefix", access_counts.DEFAULT_PREFIX)
    networks = settings.get("exclude_networks") or []
    agents = settings.get("exclude_agents") or list(access_counts.DEFAULT_EXCLUDE_AGENTS)
    if not isinstance(prefix, str) or (prefix and not prefix.startswith("/")):
        raise incidents.RecordError(f"{where}: prefix must be a path starting with /, got {prefix!r}")
    for network in networks:
        try:
            ipaddress.ip_network(str(network), strict=False)
        except ValueError:
            raise incidents.RecordError(f"{where}: exclude_networks: {network!r} is not an address or CIDR") from None
    for agent in agents:
        try:
            re.compile(str(agent))
        except re.error as exc:
            raise incidents.RecordError(
                f"{where}: exclude_agents: {agent!r} is not a regular expression ({exc})"
            ) from None
    return {
        "prefix": prefix,
        "exclude_networks": [str(n) for n in networks],
        "exclude_agents": [str(a) for a in agents],
    }

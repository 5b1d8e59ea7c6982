#!/usr/bin/python
"""Pending package updates of a Debian host, security ones marked (contract clause 9(4))."""

DOCUMENTATION = r"""
---
module: anshin_pending_updates
short_description: List pending package updates, mark security ones, predict restarts and reboots
description:
  - Reads the APT cache (python3-apt) of a Debian host and returns every upgradable package with its installed
    and candidate versions, whether the candidate comes from a security archive, and when this host first saw
    that update pending (kept in O(state_file), so the age of the oldest pending update can be reported).
  - Predicts which running services would need a restart (processes that map a library or run a binary of a
    pending package, named by their systemd unit) and whether a reboot would be needed (kernel, microcode).
  - Also reports what is needed now, after earlier updates - C(/run/reboot-required) and, when installed,
    C(needrestart -b).
  - Writes nothing but O(state_file) and, when given, O(textfile) (metrics for the monitoring agent); never
    changes a package. Returns C(changed=false); check mode returns the same result.
version_added: "1.0.0"
author: anshin-ops
options:
  update_cache:
    description: Refresh the package lists first (apt-get update).
    type: bool
    default: false
  state_file:
    description: JSON file remembering when each pending update (package and version) was first seen.
    type: path
    default: /var/lib/anshin-patching/first-seen.json
  textfile:
    description: Prometheus textfile to write (pending, pending security, age of the oldest); empty for none.
    type: path
    default: ""
  security_patterns:
    description: Regular expressions; a candidate whose origin label or archive matches one is a security update.
    type: list
    elements: str
    default: ["^Debian-Security$", "-security$"]
  require_security_source:
    description:
      - Fail when APT reads no package list of a security archive (an origin label or archive matching
        O(security_patterns)), since on such a host the report would never show a security update.
    type: bool
    default: true
  reboot_packages:
    description: Regular expressions of package names whose update needs a reboot.
    type: list
    elements: str
    default: ["^linux-image-", "^intel-microcode$", "^amd64-microcode$"]
notes:
  - Debian family only (python3-apt).
requirements:
  - python3-apt
"""

EXAMPLES = r"""
- name: What is pending
  anshin_pending_updates:
    update_cache: true
    textfile: /var/lib/prometheus/node-exporter/anshin_patching.prom
  register: __pending
"""

RETURN = r"""
security_sources:
  description: The security archives APT reads (site and archive of each package list).
  returned: always
  type: list
  sample: [deb.debian.org bookworm-security]
packages:
  description: Upgradable packages, sorted by name.
  returned: always
  type: list
  sample: [{name: openssl, installed: 3.0.15-1~deb12u1, candidate: 3.0.17-1~deb12u2, security: true,
            origin: Debian-Security bookworm-security, first_seen: 1795850000, restart: [nginx.service],
            reboot: false}]
pending:
  description: Number of upgradable packages.
  returned: always
  type: int
pending_security:
  description: Number of those from a security archive.
  returned: always
  type: int
oldest_pending_seconds:
  description: Age of the update pending longest (0 when none), by first sight on this host.
  returned: always
  type: int
restart_units:
  description: Units that would need a restart after the pending updates.
  returned: always
  type: list
reboot_after:
  description: True when a pending update needs a reboot.
  returned: always
  type: bool
reboot_required_now:
  description: True when /run/reboot-required exists (an earlier update needs a reboot).
  returned: always
  type: bool
restart_needed_now:
  description: Units needrestart says need a restart now (empty when needrestart is not installed).
  returned: always
  type: list
"""

import contextlib
import json
import os
import re
import time

from ansible.module_utils.anshin_common import write_file, write_textfile
from ansible.module_utils.basic import AnsibleModule

try:  # Debian's python3-prometheus-client (role patching installs it): for the textfile only
    from prometheus_client import CollectorRegistry, Gauge

    HAS_PROMETHEUS_CLIENT = True
except ImportError:
    HAS_PROMETHEUS_CLIENT = False

LIB_OR_BIN = re.compile(r"(\.so(\.[0-9.]+)?$|/s?bin/)")


def security_sources(cache, patterns):
    """The package lists APT read from a security archive, as 'site archive'."""
    files = getattr(getattr(cache, "_cache", None), "file_list", None) or []
    return sorted(
        {
            f"{f.site or f.filename} {f.archive}".strip()
            for f in files
            if any(rx.search(f.label or "") or rx.search(f.archive or "") for rx in patterns)
        }
    )


def running_units():
    """{path: set(unit)} of files mapped or executed by running processes, units from their cgroup."""
    by_path = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cgroup", encoding="utf-8") as fh:
                cgroup = fh.read()
            units = re.findall(r"/([^/\n]+\.service)(?:/|$)", cgroup, re.M)
            if not units:
                continue
            unit = units[-1]
            paths = set()
            with contextlib.suppress(OSError):
                paths.add(os.readlink(f"/proc/{pid}/exe"))
            with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    parts = line.split(None, 5)
                    if len(parts) == 6 and parts[5].startswith("/"):
                        paths.add(parts[5].strip().replace(" (deleted)", ""))
        except OSError:  # gone, or not ours to read
            continue
        for path in paths:
            by_path.setdefault(path, set()).add(unit)
    return by_path


def needrestart_now(module):
    binary = module.get_bin_path("needrestart")
    if not binary:
        return []
    rc, out, _err = module.run_command([binary, "-b", "-r", "l"])
    return sorted({line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("NEEDRESTART-SVC:")})


def main():
    module = AnsibleModule(
        argument_spec=dict(
            update_cache=dict(type="bool", default=False),
            state_file=dict(type="path", default="/var/lib/anshin-patching/first-seen.json"),
            textfile=dict(type="path", default=""),
            security_patterns=dict(type="list", elements="str", default=["^Debian-Security$", "-security$"]),
            require_security_source=dict(type="bool", default=True),
            reboot_packages=dict(
                type="list", elements="str", default=["^linux-image-", "^intel-microcode$", "^amd64-microcode$"]
            ),
        ),
        supports_check_mode=True,
    )
    try:
        import apt  # python3-apt, on every Debian host Ansible manages packages on
    except ImportError:
        module.fail_json(msg="python3-apt is not installed (Debian family only)")
    try:
        security = [re.compile(p) for p in module.params["security_patterns"]]
        reboot = [re.compile(p) for p in module.params["reboot_packages"]]
    except re.error as exc:
        module.fail_json(msg=f"security_patterns / reboot_packages: bad regular expression: {exc}")
    if module.params["textfile"] and not HAS_PROMETHEUS_CLIENT:
        module.fail_json(msg="python3-prometheus-client is not installed: it writes the textfile (role patching)")

    if module.params["update_cache"]:
        rc, _out, err = module.run_command(["apt-get", "update", "-q"])
        if rc != 0:
            module.fail_json(msg=f"apt-get update failed: {err.strip()}")
    cache = apt.Cache()
    sources = security_sources(cache, security)
    if module.params["require_security_source"] and not sources:
        module.fail_json(
            msg="no security source: APT reads no package list of a security archive, so this report "
            "would never show a security update. Add the release's -security suite "
            "(role base: base_apt_security_mirror) and run again."
        )
    state_file = module.params["state_file"]
    try:
        with open(state_file, encoding="utf-8") as fh:
            first_seen = json.load(fh)
    except (OSError, ValueError):
        first_seen = {}
    now = int(time.time())
    mapped = running_units()
    packages, seen = [], {}
    for pkg in cache:
        if not pkg.is_upgradable:
            continue
        cand = pkg.candidate
        origins = cand.origins
        is_security = any(rx.search(o.label or "") or rx.search(o.archive or "") for o in origins for rx in security)
        key = f"{pkg.name}={cand.version}"
        seen[key] = first_seen.get(key, now)
        restart = set()
        for path in pkg.installed_files if pkg.is_installed else []:
            if LIB_OR_BIN.search(path):
                restart |= mapped.get(path, set())
        packages.append(
            {
                "name": pkg.name,
                "installed": pkg.installed.version,
                "candidate": cand.version,
                "security": is_security,
                "origin": " ".join(sorted({f"{o.label} {o.archive}".strip() for o in origins})),
                "first_seen": seen[key],
                "restart": sorted(restart),
                "reboot": any(rx.search(pkg.name) for rx in reboot),
            }
        )
    packages.sort(key=lambda p: p["name"])
    os.makedirs(os.path.dirname(state_file), exist_ok=True)
    write_file(state_file, json.dumps(seen, indent=1, sort_keys=True))

    oldest = max([now - p["first_seen"] for p in packages] or [0])
    result = {
        "security_sources": sources,
        "packages": packages,
        "pending": len(packages),
        "pending_security": len([p for p in packages if p["security"]]),
        "oldest_pending_seconds": oldest,
        "restart_units": sorted({u for p in packages for u in p["restart"]}),
        "reboot_after": any(p["reboot"] for p in packages),
        "reboot_required_now": os.path.exists("/run/reboot-required"),
        "restart_needed_now": needrestart_now(module),
    }
    if module.params["textfile"]:
        registry = CollectorRegistry()
        for name, help_text, value in (
            ("anshin_patch_pending_updates", "Upgradable packages.", result["pending"]),
            (
                "anshin_patch_pending_security_updates",
                "Upgradable packages from a security archive.",
                result["pending_security"],
            ),
            ("anshin_patch_oldest_pending_seconds", "Age of the update pending longest.", oldest),
            (
                "anshin_patch_reboot_required",
                "1 when an installed update needs a reboot.",
                int(result["reboot_required_now"]),
            ),
        ):
            Gauge(name, help_text, registry=registry).set(value)
        path = module.params["textfile"]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_textfile(path, registry)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

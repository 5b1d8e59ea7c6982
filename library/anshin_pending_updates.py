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
    description:
      - Prometheus textfile to write (pending, pending security, age of the oldest pending update and of the oldest
        security update, when the check ran); empty for none.
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
oldest_pending_security_seconds:
  description: Age of the security update pending longest (0 when none), by first sight on this host.
  returned: always
  type: int
restart_needed_now:
  description: Units needrestart says need a restart now (empty when needrestart is not installed).
  returned: always
  type: list
"""

from ansible.module_utils.anshin_pending_updates import DEFAULTS, PendingError, pending
from ansible.module_utils.basic import AnsibleModule


def main():
    d = DEFAULTS
    module = AnsibleModule(
        argument_spec=dict(
            update_cache=dict(type="bool", default=d["update_cache"]),
            state_file=dict(type="path", default=d["state_file"]),
            textfile=dict(type="path", default=d["textfile"]),
            security_patterns=dict(type="list", elements="str", default=d["security_patterns"]),
            require_security_source=dict(type="bool", default=d["require_security_source"]),
            reboot_packages=dict(type="list", elements="str", default=d["reboot_packages"]),
        ),
        supports_check_mode=True,
    )
    try:
        result = pending(module.params, module.run_command, module.get_bin_path)
    except PendingError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
"""Sync people and departments from the prefecture's directory into the system's LDAP (clause 9(9))."""

DOCUMENTATION = r"""
---
module: ldap_sync
short_description: Sync people and department groups from the prefecture's directory, with a reorganisation mapping
description:
  - Reads every person of the I(source) directory (paged search, LDAPS or StartTLS with a CA file), maps the
    attributes with O(attribute_map), rewrites departments with the O(reorganisation) mappings in force on
    O(as_of), and makes the I(target) directory match - people under C(ou=people), one C(groupOfNames) per
    department under C(ou=groups), leavers moved to C(ou=disabled) or deleted (O(leaver_policy)).
  - Creates only missing people, modifies only attributes that changed, re-enables a returning person.
  - Safety - when more than O(max_delete_percent) of the target's people would be disabled or deleted the
    module fails and changes nothing unless O(allow_mass_delete) is set; an unreachable source, a refused bind,
    an empty result or a result truncated by a size limit fail with no change; bad input (malformed DN,
    unknown attribute in the map, a mapping naming a department the source does not have, overlapping
    mappings) fails before any connection to the target.
  - Check mode and C(--diff) show exactly what would change; the same operations come back in RV(operations)
    for the Japanese report. A second run changes nothing; an interrupted run completes when run again.
version_added: "1.0.0"
author: anshin-ops
options:
  source:
    description:
      - The prefecture's directory - C(url) (ldap:// or ldaps://), C(base_dn), C(filter) (default
        C((objectClass=inetOrgPerson))), C(bind_dn), C(bind_password) (vault), C(start_tls), C(ca_file),
        C(page_size) (500), C(timeout) (10 s).
    type: dict
    required: true
  target:
    description:
      - The system's directory - C(url), C(base_dn), C(bind_dn), C(bind_password) (vault), C(start_tls),
        C(ca_file), C(timeout).
      - C(offline_load) (optional, only for a slapd on the host the module runs on) - C(service), C(process),
        C(user) (slapd's own), C(directory) (its database files) and C(min_people). A full sync into a target
        that holds nothing but its base, the three branches and the bind entry, creating at least C(min_people)
        people, stops the service, loads the plan with C(slapadd -q) after a dry run and starts it again; when
        the load fails, the database before it is put back and the same plan is completed over LDAP.
    type: dict
    required: true
  attribute_map:
    description:
      - Target attribute to source attribute. Targets are inetOrgPerson attributes C(uid), C(cn), C(sn),
        C(givenName), C(displayName), C(mail), C(telephoneNumber), C(title), C(employeeNumber) and
        C(departmentNumber) (the department); C(uid), C(cn), C(sn), C(departmentNumber) are required.
    type: dict
    required: true
  reorganisation:
    description:
      - 'Mappings applied to the source departments - C({type: rename, from: OLD, to: NEW, effective: DATE}),
        C({type: merge, from: [A, B], to: NEW, effective: DATE}), C({type: split, from: OLD,
        to: {NEW1: [uid, ...]}, default: NEW2, effective: DATE}).'
    type: list
    elements: dict
    default: []
  as_of:
    description: Date (YYYY-MM-DD, JST) the mappings are judged on; empty = today. A late-March dry run passes 1 April.
    type: str
    default: ""
  leaver_policy:
    description: What happens to a person no longer in the source.
    type: str
    choices: [disable, delete]
    default: disable
  max_delete_percent:
    description: Most people of the target that one run may disable or delete.
    type: float
    default: 10
  allow_mass_delete:
    description: Let a run disable or delete more than O(max_delete_percent) (after reviewing the dry-run report).
    type: bool
    default: false
requirements:
  - ldap3 (Debian python3-ldap3) on the host that runs the module
notes:
  - Supports check mode and diff mode.
"""

EXAMPLES = r"""
- name: Dry run for the 1 April reorganisation
  ldap_sync:
    source: {url: "ldaps://ldap.pref.example", base_dn: "ou=staff,dc=pref,dc=example",
             bind_dn: "cn=anshin-sync,dc=pref,dc=example", bind_password: "{{ vault_ldap_sync_source_password }}",
             ca_file: /etc/ssl/certs/pref-ca.pem}
    target: {url: "ldap://127.0.0.1", base_dn: "dc=anshin,dc=local", bind_dn: "cn=admin,dc=anshin,dc=local",
             bind_password: "{{ vault_ldap_admin_password }}"}
    attribute_map: {uid: uid, cn: cn, sn: sn, mail: mail, departmentNumber: ou}
    reorganisation:
      - {type: rename, from: 防災課, to: 危機管理課, effective: "2027-04-01"}
    as_of: "2027-04-01"
  check_mode: true
  register: __plan
"""

RETURN = r"""
operations:
  description: People operations, in order - create, enable, modify (with before and after of the changed
    attributes), disable, delete.
  returned: success
  type: list
  elements: dict
  sample: [{op: modify, uid: a001, changes: {mail: [new@pref]}, before: {mail: [old@pref]}}]
group_operations:
  description: Department group operations - group_create, group_members (added, removed), group_delete.
  returned: success
  type: list
  elements: dict
moves:
  description: People whose department a reorganisation mapping rewrote.
  returned: success
  type: list
  elements: dict
skipped:
  description: Source entries left out, with the reason (no uid, missing required attribute, uid twice).
  returned: success
  type: list
  elements: dict
summary:
  description: Number of operations by kind.
  returned: success
  type: dict
  sample: {create: 3, modify: 12, disable: 1, group_members: 4}
source_count:
  description: People read from the source (after skipping).
  returned: success
  type: int
target_count:
  description: Active people in the target before the run.
  returned: success
  type: int
mode:
  description: full (both directories read in full; the module always runs so) or incremental (the scheduled
    sync between full reconciles, reading only the source entries changed since changed_since).
  returned: success
  type: str
  sample: full
watermark:
  description: The latest modifyTimestamp among the source entries read (GeneralizedTime), where the next
    incremental run starts; null when the source gives none for some entry.
  returned: success
  type: str
  sample: "20270401001500Z"
transaction:
  description: True when the changes were written in one LDAP transaction (RFC 5805; all or nothing).
  returned: success
  type: bool
offline_load:
  description: True when the plan was loaded with slapadd while slapd was stopped (the initial load of an
    empty target, see O(target)).
  returned: success
  type: bool
offline_load_failed:
  description: Why the offline load failed; the plan was then completed over LDAP.
  returned: when the offline load failed
  type: str
"""

from ansible.module_utils import anshin_ldap_io as io
from ansible.module_utils.basic import AnsibleModule


def diff_text(result):
    lines = []
    for op in result["operations"]:
        if op["op"] == "modify":
            for attr, values in sorted(op["changes"].items()):
                lines.append(f"~ {op['uid']} {attr}: {op['before'].get(attr)} -> {values}")
        else:
            lines.append(f"{'+' if op['op'] in ('create', 'enable') else '-'} {op['uid']} ({op['op']})")
    for op in result["group_operations"]:
        lines.append(
            f"* group {op['group']} ({op['op']}): {op.get('added', op['members'])}"
            + (f" removed {op['removed']}" if op.get("removed") else "")
        )
    return "\n".join(lines) + ("\n" if lines else "")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            source=dict(type="dict", required=True, no_log=False),
            target=dict(type="dict", required=True, no_log=False),
            attribute_map=dict(type="dict", required=True),
            reorganisation=dict(type="list", elements="dict", default=[]),
            as_of=dict(type="str", default=""),
            leaver_policy=dict(type="str", choices=["disable", "delete"], default="disable"),
            max_delete_percent=dict(type="float", default=10),
            allow_mass_delete=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for settings in (p["source"], p["target"]):
        if settings.get("bind_password"):
            module.no_log_values.add(settings["bind_password"])
    as_of = p["as_of"] or io.today_jst()
    try:
        result = io.sync(
            p["source"],
            p["target"],
            p["attribute_map"],
            p["reorganisation"],
            as_of,
            p["leaver_policy"],
            p["max_delete_percent"],
            p["allow_mass_delete"],
            module.check_mode,
        )
    except io.SyncError as exc:
        module.fail_json(msg=str(exc))
    if module._diff:
        result["diff"] = {"before": "", "after": diff_text(result), "after_header": "ldap_sync plan"}
    module.exit_json(**result)


if __name__ == "__main__":
    main()

#!/usr/bin/python
"""Log audit of one host for a period (contract clause 9(2))."""

DOCUMENTATION = r"""
---
module: anshin_log_audit
short_description: Audit a host's logs for unauthorized access and server errors over a period
description:
  - Reads, on the target, the SSH and sudo records (journal or auth log files), the L-Alert receiver's
    journal, and nginx access and error logs (current, rotated, compressed and archived files) for one
    period, and returns counts ready for a report (contract clause 9(2)).
  - Counts SSH failures by source and user, logins from outside the approved ranges, sudo use and
    refusals, HTTP 4xx/5xx by path and by hour, hours with a 5xx spike, requests for common attack paths,
    receiver rejects by reason, and nginx error-log entries by level.
  - Compares the counts with thresholds and returns the crossed ones in C(flags); C(flagged) is true when
    any is crossed. The module itself never fails on a flag, so the caller can write the report first.
  - A line that does not parse is counted and sampled per source, never fatal. Reads only; check mode
    returns the same result.
version_added: "1.0.0"
author: anshin-ops
options:
  since:
    description:
      - Start of the period, ISO 8601 (C(2026-11-27T09:00), C(2026-11-27), with or without an offset; no
        offset means JST). Default C(until) minus O(hours).
    type: str
  until:
    description: End of the period (exclusive), same format. Default now.
    type: str
  hours:
    description: Length of the period when O(since) is not given.
    type: int
    default: 24
  access_logs:
    description: Globs of combined-format access logs, rotated and compressed (.gz, .xz, .bz2) files included.
    type: list
    elements: str
    default: ["/var/log/nginx/*access.log*"]
  error_logs:
    description: Globs of nginx error logs.
    type: list
    elements: str
    default: ["/var/log/nginx/*error.log*"]
  auth_source:
    description:
      - Where the SSH, sudo and receiver records come from. V(auto) reads the journal when journalctl
        exists, else the files of O(auth_files). V(none) skips them.
    type: str
    choices: [auto, journal, files, none]
    default: auto
  auth_files:
    description: Globs of syslog-format auth logs, used when O(auth_source) is V(files).
    type: list
    elements: str
    default: ["/var/log/auth.log*", "/var/log/secure*"]
  receiver_identifier:
    description: Syslog identifier of the L-Alert receiver.
    type: str
    default: lalert-receiver
  approved_ranges:
    description: CIDRs logins may come from; an accepted login from elsewhere is reported. Empty skips the check.
    type: list
    elements: str
    default: []
  thresholds:
    description:
      - Counts that flag the result when exceeded (a value of 0 flags any occurrence), whole numbers >= 0;
        a key left out keeps its default.
    type: dict
    default: {}
    suboptions:
      ssh_failures_per_source:
        description: Failed SSH logins from one source.
        type: int
        default: 10
      logins_outside_ranges:
        description: Logins from outside O(approved_ranges).
        type: int
        default: 0
      sudo_refusals:
        description: Refused sudo commands.
        type: int
        default: 0
      http_5xx_per_hour:
        description: Server errors in one hour.
        type: int
        default: 20
      attack_requests:
        description: Requests that match O(attack_patterns).
        type: int
        default: 50
      receiver_rejects:
        description: Messages the L-Alert receiver rejected.
        type: int
        default: 20
      nginx_errors:
        description: Lines of nginx's error log at level error or above.
        type: int
        default: 100
      unparsable_lines:
        description: Lines no parser could read.
        type: int
        default: 100
      damaged_files:
        description: Files that could not be read to the end, such as a cut-off archive.
        type: int
        default: 0
  attack_patterns:
    description: Named regular expressions matched against the request path (case-insensitive); default a built-in list.
    type: list
    elements: dict
    suboptions:
      name:
        description: The pattern's name in the result.
        type: str
        required: true
      regex:
        description: A Python regular expression.
        type: str
        required: true
  utc_offset_hours:
    description: Offset of the host's local time, for log formats that carry no zone (nginx error log, RFC 3164 syslog).
    type: int
    default: 9
  top:
    description: Rows kept in each ranked table.
    type: int
    default: 20
  samples:
    description: Unparsable lines kept per source, each cut to 200 characters.
    type: int
    default: 5
notes:
  - Hours in the result are JST (C(YYYY-MM-DD HH)), whatever the log's own zone.
  - An SSH failure is one C(Failed <method> for ...) line or one C(Invalid user ...) line; OpenSSH 10's
    C(sshd-session) identifier is read as well as C(sshd).
"""

EXAMPLES = r"""
- name: Audit the last 24 hours
  anshin_log_audit:
    approved_ranges: [10.89.250.1/32]
  register: __audit

- name: Audit November, with strict thresholds
  anshin_log_audit:
    since: "2026-11-01"
    until: "2026-12-01"
    thresholds:
      ssh_failures_per_source: 5
      attack_requests: 0
"""

RETURN = r"""
period:
  description: The audited period, ISO 8601 in JST.
  returned: always
  type: dict
  sample: {since: "2026-11-27T09:00:00+09:00", until: "2026-11-28T09:00:00+09:00"}
empty:
  description: True when no line of any source fell in the period.
  returned: always
  type: bool
sources:
  description:
    - Every file or stream read, with lines read, lines in the period and unparsable lines; C(skipped)
      says why a file was not read, C(error) why one could not be read to the end.
  returned: always
  type: list
  sample: [{name: /var/log/nginx/access.log, kind: access, lines: 1200, in_period: 800, unparsable: 1}]
counts:
  description: Totals of the period.
  returned: always
  type: dict
  sample: {requests: 800, status_2xx: 700, status_4xx: 90, status_5xx: 10, ssh_failures: 3,
           ssh_invalid_users: 2, logins: 4, logins_outside_ranges: 0, sudo_commands: 6, sudo_refusals: 0,
           attack_requests: 12, receiver_rejects: 1, receiver_errors: 0, nginx_errors: 5, unparsable_lines: 1,
           damaged_files: 0}
ssh_failures_by_source:
  description: SSH failures (failed authentications and invalid users) per source, most first.
  returned: always
  type: list
  sample: [{source: 203.0.113.7, failed: 4, invalid_user: 2, total: 6}]
ssh_failures_by_user:
  description: SSH failures per user name tried.
  returned: always
  type: list
  sample: [{user: admin, count: 3, invalid: true}]
logins_outside_ranges:
  description: Accepted logins whose source lies outside O(approved_ranges).
  returned: always
  type: list
  sample: [{time: "2026-11-28 08:50:13", user: ops, source: 198.51.100.9, method: publickey}]
sudo:
  description: sudo commands per user and command, and refusals with their reason.
  returned: always
  type: dict
  sample: {commands: [{user: ops, target: root, command: /usr/bin/systemctl restart nginx, count: 2}],
           refusals: [{user: guest, reason: user NOT in sudoers, command: /bin/sh, count: 1}]}
http_errors_by_path:
  description: 4xx and 5xx responses per path, most first.
  returned: always
  type: list
  sample: [{path: /missing, status_4xx: 5, status_5xx: 0, total: 5}]
http_by_hour:
  description: Requests, 4xx and 5xx per JST hour that had any request.
  returned: always
  type: list
  sample: [{hour: "2026-11-28 08", requests: 120, status_4xx: 3, status_5xx: 0}]
http_5xx_spikes:
  description: Hours whose 5xx count exceeds the C(http_5xx_per_hour) threshold.
  returned: always
  type: list
  sample: [{hour: "2026-11-28 03", status_5xx: 48}]
attack_requests:
  description: Requests matching an attack pattern, per pattern and per source.
  returned: always
  type: dict
  sample: {by_pattern: [{pattern: wordpress, count: 9}], by_source: [{source: 203.0.113.7, count: 9}]}
receiver_rejects:
  description: Requests the L-Alert receiver refused, per reason.
  returned: always
  type: list
  sample: [{reason: bad_digest, count: 2}]
receiver_errors:
  description: Error lines of the receiver (first ones, with counts).
  returned: always
  type: list
  sample: [{message: "storage failed for urn:x r1: disk I/O error", count: 1}]
nginx_errors_by_level:
  description: nginx error-log entries per level.
  returned: always
  type: list
  sample: [{level: error, count: 5}]
unparsable:
  description: Unparsable lines per source, with samples.
  returned: always
  type: list
  sample: [{source: /var/log/nginx/access.log, count: 1, samples: ["garbage"]}]
thresholds:
  description: The thresholds applied (defaults merged with O(thresholds)).
  returned: always
  type: dict
checks:
  description: Every threshold with the value found and whether it was crossed, in a fixed order.
  returned: always
  type: list
  sample: [{name: attack_requests, value: 12, threshold: 50, crossed: false}]
flags:
  description: Thresholds crossed, each with the value found.
  returned: always
  type: list
  sample: [{name: attack_requests, value: 120, threshold: 50}]
flagged:
  description: True when any threshold is crossed.
  returned: always
  type: bool
"""

from ansible.module_utils.anshin_log_audit import AUTH_SOURCES, DEFAULT_THRESHOLDS, DEFAULTS, problems, run
from ansible.module_utils.basic import AnsibleModule

__all__ = ["DEFAULT_THRESHOLDS", "DEFAULTS", "run"]  # tests and the benchmark call the audit through this module


def main():
    d = DEFAULTS
    module = AnsibleModule(
        argument_spec=dict(
            since=dict(type="str"),
            until=dict(type="str"),
            hours=dict(type="int", default=d["hours"]),
            access_logs=dict(type="list", elements="str", default=d["access_logs"]),
            error_logs=dict(type="list", elements="str", default=d["error_logs"]),
            auth_source=dict(type="str", default=d["auth_source"], choices=list(AUTH_SOURCES)),
            auth_files=dict(type="list", elements="str", default=d["auth_files"]),
            receiver_identifier=dict(type="str", default=d["receiver_identifier"]),
            approved_ranges=dict(type="list", elements="str", default=d["approved_ranges"]),
            thresholds=dict(
                type="dict",
                default={},
                options={key: dict(type="int", default=value) for key, value in DEFAULT_THRESHOLDS.items()},
            ),
            attack_patterns=dict(
                type="list",
                elements="dict",
                options=dict(name=dict(type="str", required=True), regex=dict(type="str", required=True)),
            ),
            utc_offset_hours=dict(type="int", default=d["utc_offset_hours"]),
            top=dict(type="int", default=d["top"]),
            samples=dict(type="int", default=d["samples"]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    # the keys, the types and the defaults are the argument spec's (suboptions); what no type says, here
    found = problems(params)
    if found:
        module.fail_json(msg="; ".join(found))
    try:
        result = run(params, which=lambda name: module.get_bin_path(name))
    except (ValueError, RuntimeError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

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

import datetime
import glob
import ipaddress
import json
import lzma
import os
import re
import subprocess
import zlib

from ansible.module_utils.anshin_common import JST, from_epoch, now_jst, parse_time
from ansible.module_utils.anshin_logs import (
    SSHD_IDENTS,
    classify_receiver,
    classify_sshd,
    classify_sudo,
    open_log,
    parse_combined,
    parse_nginx_error,
    parse_syslog,
)
from ansible.module_utils.basic import AnsibleModule

DEFAULT_THRESHOLDS = {
    "ssh_failures_per_source": 10,
    "logins_outside_ranges": 0,
    "sudo_refusals": 0,
    "http_5xx_per_hour": 20,
    "attack_requests": 50,
    "receiver_rejects": 20,
    "nginx_errors": 100,
    "unparsable_lines": 100,
    "damaged_files": 0,
}

# Probes seen on every public web server; none of these paths exists on ours.
DEFAULT_ATTACK_PATTERNS = [
    {"name": "wordpress", "regex": r"wp-(?:login|admin|content|includes)|xmlrpc\.php"},
    {"name": "php", "regex": r"\.php\d?(?:$|\?)|phpmyadmin|/pma/|phpunit"},
    {"name": "secrets", "regex": r"/\.(?:env|git|svn|hg|aws|ssh|htpasswd|DS_Store)(?:/|$|\?)"},
    {"name": "traversal", "regex": r"\.\./|%2e%2e|/etc/passwd|win\.ini"},
    {"name": "cgi", "regex": r"/cgi-bin/|\.(?:cgi|asp|aspx|jsp)(?:$|\?)"},
    {"name": "admin-consoles", "regex": r"/(?:actuator|console|manager/html|server-status|solr|boaform|HNAP1)"},
    {"name": "injection", "regex": r"\$\{jndi:|<script|union(?:\+|%20| )select|%27(?:\+|%20)or"},
]

HTTP_ERROR_LEVELS = ("error", "crit", "alert", "emerg")


def hour_of(epoch):
    return from_epoch(epoch).strftime("%Y-%m-%d %H")


def ranked(counter, key_names, top):
    """[(key, count)] -> list of dicts, most first, ties by key."""
    rows = sorted(counter.items(), key=lambda kv: (-kv[1], str(kv[0])))[:top]
    out = []
    for key, count in rows:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(key_names, key, strict=True))
        row["count"] = count
        out.append(row)
    return out


class Audit:
    def __init__(self, since, until, params):
        self.since, self.until = since, until
        self.params = params
        self.top, self.max_samples = params["top"], params["samples"]
        self.offset = params["utc_offset_hours"] * 3600
        self.thresholds = dict(DEFAULT_THRESHOLDS, **(params["thresholds"] or {}))
        patterns = params["attack_patterns"] or DEFAULT_ATTACK_PATTERNS
        self.patterns = [(p["name"], re.compile(p["regex"], re.IGNORECASE)) for p in patterns]
        self.attack_any = re.compile("|".join(f"(?:{p['regex']})" for p in patterns), re.IGNORECASE)
        self.ranges = [ipaddress.ip_network(r, strict=False) for r in params["approved_ranges"]]
        self.sources = []
        self.unparsable = {}
        self.in_period = 0
        # counters
        self.status_class = {}
        self.requests = 0
        self.errors_by_path = {}
        self.by_hour = {}
        self.attack_by_pattern, self.attack_by_source = {}, {}
        self.attack_total = 0
        self.ssh_by_source, self.ssh_by_user = {}, {}
        self.ssh_failed = self.ssh_invalid = self.logins = 0
        self.outside = []
        self.sudo_commands, self.sudo_refusals = {}, {}
        self.receiver_rejects, self.receiver_errors = {}, {}
        self.nginx_levels = {}

    # -- bookkeeping ------------------------------------------------------
    def _source(self, name, kind):
        entry = {"name": name, "kind": kind, "lines": 0, "in_period": 0, "unparsable": 0}
        self.sources.append(entry)
        return entry

    def _bad(self, entry, line):
        entry["unparsable"] += 1
        slot = self.unparsable.setdefault(entry["name"], {"source": entry["name"], "count": 0, "samples": []})
        slot["count"] += 1
        if len(slot["samples"]) < self.max_samples:
            slot["samples"].append(line.rstrip("\n")[:200])

    def _files(self, globs, kind):
        """Files of the globs whose last write is not before the period (older ones cannot hold lines of it)."""
        paths = sorted({p for g in globs for p in glob.glob(g) if os.path.isfile(p)})
        since = self.since.timestamp()
        for path in paths:
            if os.path.getmtime(path) < since:
                self.sources.append(
                    {
                        "name": path,
                        "kind": kind,
                        "lines": 0,
                        "in_period": 0,
                        "unparsable": 0,
                        "skipped": "older than the period",
                    }
                )
                continue
            yield path

    def read_file(self, path, kind, reader):
        """Feed one file to a reader; a damaged file (cut-off archive, I/O error) is named in its source
        entry and flagged, and what was read before the damage still counts."""
        entry = self._source(path, kind)
        try:
            with open_log(path) as lines:
                reader(lines, entry)
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
        self.in_period += entry["in_period"]

    # -- nginx --------------------------------------------------------------
    def read_access(self, lines, entry):
        since, until = self.since.timestamp(), self.until.timestamp()
        parse, attack_any = parse_combined, self.attack_any
        status_class, by_hour, errors_by_path = self.status_class, self.by_hour, self.errors_by_path
        for line in lines:
            entry["lines"] += 1
            rec = parse(line)
            if rec is None:
                if line.strip():
                    self._bad(entry, line)
                continue
            if not since <= rec["time"] < until:
                continue
            entry["in_period"] += 1
            status = rec["status"]
            cls = status // 100
            status_class[cls] = status_class.get(cls, 0) + 1
            hour = rec["time"] // 3600  # labelled once, in result()
            slot = by_hour.get(hour)
            if slot is None:
                slot = by_hour[hour] = [0, 0, 0]
            slot[0] += 1
            if cls in (4, 5):
                slot[cls - 3] += 1
                path = rec["path"].split("?", 1)[0]
                counts = errors_by_path.setdefault(path, [0, 0])
                counts[cls - 4] += 1
            if attack_any.search(rec["path"]):
                self.attack_total += 1
                for name, rx in self.patterns:
                    if rx.search(rec["path"]):
                        self.attack_by_pattern[name] = self.attack_by_pattern.get(name, 0) + 1
                        break
                self.attack_by_source[rec["remote"]] = self.attack_by_source.get(rec["remote"], 0) + 1
            self.requests += 1

    def read_errors(self, lines, entry):
        since, until = self.since.timestamp(), self.until.timestamp()
        for line in lines:
            entry["lines"] += 1
            rec = parse_nginx_error(line, self.offset)
            if rec is None:
                if line.strip():
                    self._bad(entry, line)
                continue
            if since <= rec["time"] < until:
                entry["in_period"] += 1
                self.nginx_levels[rec["level"]] = self.nginx_levels.get(rec["level"], 0) + 1

    # -- ssh, sudo, receiver ------------------------------------------------
    def record(self, epoch, ident, message):
        """One auth/receiver record already known to be inside the period."""
        if ident in SSHD_IDENTS:
            event = classify_sshd(message)
            if event is None:
                return
            kind, user, source, method = event
            if kind == "accepted":
                self.logins += 1
                if self.ranges and not self._approved(source):
                    self.outside.append(
                        {
                            "time": from_epoch(epoch).strftime("%Y-%m-%d %H:%M:%S"),
                            "user": user,
                            "source": source,
                            "method": method,
                        }
                    )
                return
            invalid = kind == "invalid_user" or message.startswith(f"Failed {method} for invalid user")
            if kind == "failed":
                self.ssh_failed += 1
            else:
                self.ssh_invalid += 1
            slot = self.ssh_by_source.setdefault(source, {"source": source, "failed": 0, "invalid_user": 0})
            slot["failed" if kind == "failed" else "invalid_user"] += 1
            key = (user, invalid)
            self.ssh_by_user[key] = self.ssh_by_user.get(key, 0) + 1
        elif ident == "sudo":
            event = classify_sudo(message)
            if event is None:
                return
            kind, user, what, command = event
            table = self.sudo_commands if kind == "command" else self.sudo_refusals
            table[(user, what, command)] = table.get((user, what, command), 0) + 1
        elif ident == self.params["receiver_identifier"]:
            event = classify_receiver(message)
            if event is None:
                return
            if event[0] == "reject":
                self.receiver_rejects[event[1]] = self.receiver_rejects.get(event[1], 0) + 1
            else:
                self.receiver_errors[event[1]] = self.receiver_errors.get(event[1], 0) + 1

    def _approved(self, source):
        try:
            address = ipaddress.ip_address(source)
        except ValueError:
            return False
        return any(address in net for net in self.ranges)

    def read_journal(self, journalctl):
        entry = self._source("journal", "auth")
        idents = list(SSHD_IDENTS) + ["sudo", self.params["receiver_identifier"]]
        cmd = [
            journalctl,
            "--no-pager",
            "-q",
            "-o",
            "json",
            "--since",
            f"@{int(self.since.timestamp())}",
            "--until",
            f"@{int(self.until.timestamp())}",
        ]
        cmd += [f"SYSLOG_IDENTIFIER={i}" for i in idents]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        since, until = self.since.timestamp(), self.until.timestamp()
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            entry["lines"] += 1
            try:
                rec = json.loads(line)
                message = rec.get("MESSAGE", "")
                if isinstance(message, list):  # journald stores non-UTF-8 messages as byte arrays
                    message = bytes(message).decode("utf-8", "replace")
                epoch = int(rec["__REALTIME_TIMESTAMP"]) / 1e6
                ident = rec.get("SYSLOG_IDENTIFIER", "")
            except (ValueError, KeyError, TypeError):
                self._bad(entry, line)
                continue
            if not since <= epoch < until:  # --until is inclusive to the second
                continue
            entry["in_period"] += 1
            self.record(epoch, ident, message)
        stderr = proc.stderr.read().decode("utf-8", "replace")
        if proc.wait() != 0:
            raise RuntimeError(f"journalctl failed ({proc.returncode}): {stderr.strip()}")
        self.in_period += entry["in_period"]

    def read_auth(self, lines, entry):
        """One syslog-format auth log. RFC 3164 has no year: the file's last write gives it (a line from
        December read in January belongs to the year before)."""
        since, until = self.since.timestamp(), self.until.timestamp()
        wanted = set(SSHD_IDENTS) | {"sudo", self.params["receiver_identifier"]}
        last = from_epoch(os.path.getmtime(entry["name"]))
        for line in lines:
            entry["lines"] += 1
            rec = parse_syslog(line, last.year, self.offset)
            if rec is None:
                if line.strip():
                    self._bad(entry, line)
                continue
            if rec["time"] > last.timestamp() + 86400:
                rec["time"] = parse_syslog(line, last.year - 1, self.offset)["time"]
            if not since <= rec["time"] < until:
                continue
            entry["in_period"] += 1
            if rec["ident"] in wanted:
                self.record(rec["time"], rec["ident"], rec["message"])

    # -- result ---------------------------------------------------------------
    def result(self):
        top = self.top
        ssh_sources = sorted(
            self.ssh_by_source.values(), key=lambda s: (-(s["failed"] + s["invalid_user"]), s["source"])
        )
        for row in ssh_sources:
            row["total"] = row["failed"] + row["invalid_user"]
        errors_by_path = sorted(
            (
                {"path": p, "status_4xx": c[0], "status_5xx": c[1], "total": c[0] + c[1]}
                for p, c in self.errors_by_path.items()
            ),
            key=lambda r: (-r["total"], r["path"]),
        )[:top]
        by_hour = [
            {"hour": hour_of(h * 3600), "requests": v[0], "status_4xx": v[1], "status_5xx": v[2]}
            for h, v in sorted(self.by_hour.items())
        ]
        t = self.thresholds
        spikes = [
            {"hour": r["hour"], "status_5xx": r["status_5xx"]}
            for r in by_hour
            if r["status_5xx"] > t["http_5xx_per_hour"]
        ]
        unparsable_total = sum(s["unparsable"] for s in self.sources)
        nginx_errors = sum(c for lvl, c in self.nginx_levels.items() if lvl in HTTP_ERROR_LEVELS)
        counts = {
            "requests": self.requests,
            "status_1xx": self.status_class.get(1, 0),
            "status_2xx": self.status_class.get(2, 0),
            "status_3xx": self.status_class.get(3, 0),
            "status_4xx": self.status_class.get(4, 0),
            "status_5xx": self.status_class.get(5, 0),
            "ssh_failures": self.ssh_failed,
            "ssh_invalid_users": self.ssh_invalid,
            "logins": self.logins,
            "logins_outside_ranges": len(self.outside),
            "sudo_commands": sum(self.sudo_commands.values()),
            "sudo_refusals": sum(self.sudo_refusals.values()),
            "attack_requests": self.attack_total,
            "receiver_rejects": sum(self.receiver_rejects.values()),
            "receiver_errors": sum(self.receiver_errors.values()),
            "nginx_errors": nginx_errors,
            "unparsable_lines": unparsable_total,
            "damaged_files": len([s for s in self.sources if "error" in s]),
        }
        worst_source = ssh_sources[0]["total"] if ssh_sources else 0
        checks = [
            ("ssh_failures_per_source", worst_source),
            ("logins_outside_ranges", counts["logins_outside_ranges"]),
            ("sudo_refusals", counts["sudo_refusals"]),
            ("http_5xx_per_hour", max([r["status_5xx"] for r in by_hour] or [0])),
            ("attack_requests", counts["attack_requests"]),
            ("receiver_rejects", counts["receiver_rejects"]),
            ("nginx_errors", nginx_errors),
            ("unparsable_lines", unparsable_total),
            ("damaged_files", counts["damaged_files"]),
        ]
        checks = [{"name": n, "value": v, "threshold": t[n], "crossed": v > t[n]} for n, v in checks]
        flags = [{"name": c["name"], "value": c["value"], "threshold": c["threshold"]} for c in checks if c["crossed"]]
        return {
            "period": {
                "since": self.since.astimezone(JST).isoformat(),
                "until": self.until.astimezone(JST).isoformat(),
            },
            "empty": self.in_period == 0,
            "sources": self.sources,
            "counts": counts,
            "ssh_failures_by_source": ssh_sources[:top],
            "ssh_failures_by_user": [
                {"user": u, "invalid": inv, "count": c}
                for (u, inv), c in sorted(self.ssh_by_user.items(), key=lambda kv: (-kv[1], kv[0][0]))[:top]
            ],
            "logins_outside_ranges": self.outside[:top],
            "sudo": {
                "commands": ranked(self.sudo_commands, ("user", "target", "command"), top),
                "refusals": ranked(self.sudo_refusals, ("user", "reason", "command"), top),
            },
            "http_errors_by_path": errors_by_path,
            "http_by_hour": by_hour,
            "http_5xx_spikes": spikes,
            "attack_requests": {
                "by_pattern": ranked(self.attack_by_pattern, ("pattern",), top),
                "by_source": ranked(self.attack_by_source, ("source",), top),
            },
            "receiver_rejects": ranked(self.receiver_rejects, ("reason",), top),
            "receiver_errors": ranked(self.receiver_errors, ("message",), top),
            "nginx_errors_by_level": ranked(self.nginx_levels, ("level",), top),
            "unparsable": sorted(self.unparsable.values(), key=lambda u: u["source"]),
            "thresholds": t,
            "checks": checks,
            "flags": flags,
            "flagged": bool(flags),
        }


def run(params, which=None):
    """The audit as a plain function (the module's body; benchmarks and tests call it too)."""
    until = parse_time(params["until"]) if params.get("until") else now_jst().replace(microsecond=0)
    since = parse_time(params["since"]) if params.get("since") else until - datetime.timedelta(hours=params["hours"])
    if since >= until:
        raise ValueError(f"since ({since.isoformat()}) must be before until ({until.isoformat()})")
    audit = Audit(since, until, params)
    for path in audit._files(params["access_logs"], "access"):
        audit.read_file(path, "access", audit.read_access)
    for path in audit._files(params["error_logs"], "error"):
        audit.read_file(path, "error", audit.read_errors)
    source = params["auth_source"]
    journalctl = (which or (lambda name: None))("journalctl")
    if source == "auto":
        source = "journal" if journalctl else "files"
    if source == "journal":
        if not journalctl:
            raise RuntimeError("auth_source is journal but journalctl is not installed")
        audit.read_journal(journalctl)
    elif source == "files":
        for path in audit._files(params["auth_files"], "auth"):
            audit.read_file(path, "auth", audit.read_auth)
    return audit.result()


def main():
    module = AnsibleModule(
        argument_spec=dict(
            since=dict(type="str"),
            until=dict(type="str"),
            hours=dict(type="int", default=24),
            access_logs=dict(type="list", elements="str", default=["/var/log/nginx/*access.log*"]),
            error_logs=dict(type="list", elements="str", default=["/var/log/nginx/*error.log*"]),
            auth_source=dict(type="str", default="auto", choices=["auto", "journal", "files", "none"]),
            auth_files=dict(type="list", elements="str", default=["/var/log/auth.log*", "/var/log/secure*"]),
            receiver_identifier=dict(type="str", default="lalert-receiver"),
            approved_ranges=dict(type="list", elements="str", default=[]),
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
            utc_offset_hours=dict(type="int", default=9),
            top=dict(type="int", default=20),
            samples=dict(type="int", default=5),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problems = []
    for cidr in params["approved_ranges"]:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            problems.append(f"approved_ranges: {cidr!r} is not a CIDR")
    # the keys, the types and the defaults are the argument spec's (suboptions); what no type says, here
    problems += [
        f"thresholds.{key}: a whole number >= 0, got {value!r}"
        for key, value in params["thresholds"].items()
        if value is None or value < 0
    ]
    for pattern in params["attack_patterns"] or []:
        try:
            re.compile(pattern["regex"])
        except re.error as exc:
            problems.append(f"attack_patterns: {pattern['name']}: {pattern['regex']!r} is not a valid regex ({exc})")
    if params["hours"] < 1 or params["top"] < 1 or params["samples"] < 0:
        problems.append("hours and top must be >= 1, samples >= 0")
    for key in ("since", "until"):
        if params[key]:
            try:
                parse_time(params[key])
            except ValueError:
                problems.append(f"{key}: {params[key]!r} is not an ISO 8601 date or time")
    if problems:
        module.fail_json(msg="; ".join(problems))
    try:
        result = run(params, which=lambda name: module.get_bin_path(name))
    except (ValueError, RuntimeError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

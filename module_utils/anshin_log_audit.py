"""The log audit (contract clause 9(2)): the anshin_log_audit module's body, and the scheduled audit's on the
VM (roles/log_audit/files/anshin-log-audit), which runs it without Ansible."""

import datetime
import glob
import ipaddress
import json
import lzma
import os
import re
import subprocess
import zlib

try:
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
except ImportError:  # the scheduled audit on the VM runs without Ansible: next to that file, and the base role's
    from anshin_common import JST, from_epoch, now_jst, parse_time
    from anshin_logs import (
        SSHD_IDENTS,
        classify_receiver,
        classify_sshd,
        classify_sudo,
        open_log,
        parse_combined,
        parse_nginx_error,
        parse_syslog,
    )

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

# the module's argument defaults; the scheduled audit fills what its settings leave out from these too
DEFAULTS = {
    "since": None,
    "until": None,
    "hours": 24,
    "access_logs": ["/var/log/nginx/*access.log*"],
    "error_logs": ["/var/log/nginx/*error.log*"],
    "auth_source": "auto",
    "auth_files": ["/var/log/auth.log*", "/var/log/secure*"],
    "receiver_identifier": "lalert-receiver",
    "approved_ranges": [],
    "thresholds": {},
    "attack_patterns": None,
    "utc_offset_hours": 9,
    "top": 20,
    "samples": 5,
}
AUTH_SOURCES = ("auto", "journal", "files", "none")


def problems(params):
    """What is wrong with the (type-checked) parameters, as messages; empty when they can be run."""
    found = []
    for cidr in params["approved_ranges"]:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            found.append(f"approved_ranges: {cidr!r} is not a CIDR")
    found += [
        f"thresholds.{key}: a whole number >= 0, got {value!r}"
        for key, value in (params["thresholds"] or {}).items()
        if not isinstance(value, int) or isinstance(value, bool) or value < 0
    ]
    found += [f"thresholds.{key}: unknown check" for key in params["thresholds"] or {} if key not in DEFAULT_THRESHOLDS]
    for pattern in params["attack_patterns"] or []:
        try:
            re.compile(pattern["regex"])
        except re.error as exc:
            found.append(f"attack_patterns: {pattern['name']}: {pattern['regex']!r} is not a valid regex ({exc})")
    if params["hours"] < 1 or params["top"] < 1 or params["samples"] < 0:
        found.append("hours and top must be >= 1, samples >= 0")
    if params["auth_source"] not in AUTH_SOURCES:
        found.append(f"auth_source: one of {', '.join(AUTH_SOURCES)}, got {params['auth_source']!r}")
    for key in ("since", "until"):
        if params[key]:
            try:
                parse_time(params[key])
            except ValueError:
                found.append(f"{key}: {params[key]!r} is not an ISO 8601 date or time")
    return found


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

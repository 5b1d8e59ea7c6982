"""One parser per log format, shared by every job that reads that format.

Pure functions over one line each; a line that does not fit returns None so
the caller counts it as unparsable instead of crashing. Times come back as
epoch seconds (UTC-based), so files in different zones compare.

    open_log(path)             a log file as text lines, plain or rotated (.gz, .xz, .bz2)
    parse_combined(line)       nginx/Apache "combined" access log
    W3CParser().parse(line)    IIS W3C extended log (stateful: the #Fields directive names the columns)
    parse_nginx_error(line)    nginx error log
    parse_syslog(line, year)   auth.log / secure (RFC 3164 or RFC 3339 stamp)
    classify_sshd(message)     sshd event: failed / invalid_user / accepted
    classify_sudo(message)     sudo event: command or refusal
    classify_receiver(message) L-Alert receiver reject or error
"""

import bz2
import calendar
import gzip
import lzma
import re

MONTHS = {
    m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)
}

# host ident authuser [time] "request" status size "referer" "agent"
_COMBINED = re.compile(
    r'(\S+) \S+ (\S+) \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) (\d+|-)'
    r'(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?'
)
_CLF_TIME = re.compile(r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")
_time_cache = {}


def open_log(path):
    """Text lines of a log, compressed by logrotate or not; undecodable bytes are replaced, not fatal."""
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    if path.endswith(".xz"):
        return lzma.open(path, "rt", encoding="utf-8", errors="replace")
    if path.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def clf_time(stamp):
    """Epoch seconds of '28/Nov/2026:08:50:13 +0900', or None."""
    epoch = _time_cache.get(stamp)
    if epoch is not None:
        return epoch
    m = _CLF_TIME.match(stamp)
    if not m or m.group(2) not in MONTHS:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    offset = (int(oh) * 60 + int(om)) * 60 * (1 if sign == "+" else -1)
    epoch = calendar.timegm((int(year), MONTHS[mon], int(day), int(hh), int(mm), int(ss))) - offset
    if len(_time_cache) > 100000:  # a log spans few distinct seconds per line; bound the cache anyway
        _time_cache.clear()
    _time_cache[stamp] = epoch
    return epoch


def parse_combined(line):
    """dict(remote, user, time, method, path, status, size, referer, agent) or None."""
    m = _COMBINED.match(line)
    if not m:
        return None
    epoch = clf_time(m.group(3))
    if epoch is None:
        return None
    request = m.group(4).split(" ")
    if len(request) == 3:
        method, path = request[0], request[1]
    else:  # "-" or a malformed request line: nginx logs it as sent (status 400)
        method, path = "", m.group(4)
    size = m.group(6)
    return {
        "remote": m.group(1),
        "user": m.group(2),
        "time": epoch,
        "method": method,
        "path": path,
        "status": int(m.group(5)),
        "size": 0 if size == "-" else int(size),
        "referer": m.group(7) or "",
        "agent": m.group(8) or "",
    }


class W3CParser:
    """IIS W3C extended log format, one line at a time.

    Directives (#Software, #Version, #Date, #Fields) set the columns; #Fields may change mid-file
    (IIS writes a new header when the logging settings change). Data lines come back in the shape of
    parse_combined (remote, user, time, method, path with query, status, size, referer, agent);
    comments return {} and lines that do not fit the current #Fields return None. IIS writes
    date/time in UTC; spaces inside a field are written as '+' (User-Agent, Referer).
    """

    def __init__(self):
        self.fields = None

    def parse(self, line):
        line = line.rstrip("\r\n")
        if line.startswith("#"):
            if line.startswith("#Fields:"):
                self.fields = line[len("#Fields:") :].split()
            return {}
        if not self.fields:
            return None
        values = line.split(" ")
        if len(values) != len(self.fields):
            return None
        row = dict(zip(self.fields, values, strict=True))
        try:
            year, month, day = (int(x) for x in row["date"].split("-"))
            hh, mm, ss = (int(float(x)) for x in row["time"].split(":"))
            status = int(row["sc-status"])
        except (KeyError, ValueError):
            return None
        path = row.get("cs-uri-stem", "-")
        query = row.get("cs-uri-query", "-")
        size = row.get("sc-bytes", "-")

        def text(key):
            value = row.get(key, "-")
            return "" if value == "-" else value.replace("+", " ")

        return {
            "remote": row.get("c-ip", "-"),
            "user": row.get("cs-username", "-"),
            "time": calendar.timegm((year, month, day, hh, mm, ss)),
            "method": row.get("cs-method", ""),
            "path": path + ("" if query == "-" else "?" + query),
            "status": status,
            "size": int(size) if size.isdigit() else 0,
            "referer": text("cs(Referer)"),
            "agent": text("cs(User-Agent)"),
        }


_NGINX_ERROR = re.compile(r"(\d{4})/(\d{2})/(\d{2}) (\d{2}):(\d{2}):(\d{2}) \[(\w+)\] \d+#\d+: (?:\*\d+ )?(.*)$")
_NGINX_CLIENT = re.compile(r", client: ([^,]+)")


def parse_nginx_error(line, utc_offset=9 * 3600):
    """dict(time, level, message, client) or None. nginx writes local time without a zone:
    utc_offset says which (JST by default)."""
    m = _NGINX_ERROR.match(line)
    if not m:
        return None
    y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
    client = _NGINX_CLIENT.search(m.group(8))
    return {
        "time": calendar.timegm((y, mo, d, hh, mi, ss)) - utc_offset,
        "level": m.group(7),
        "message": m.group(8),
        "client": client.group(1) if client else "",
    }


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(Z|[+-]\d{2}:\d{2}) (\S+) ([^\s:\[]+)(?:\[\d+\])?: (.*)$"
)
_RFC3164 = re.compile(r"([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\S+) ([^\s:\[]+)(?:\[\d+\])?: (.*)$")


def parse_syslog(line, year, utc_offset=9 * 3600):
    """dict(time, host, ident, message) or None. RFC 3164 stamps carry no year or zone:
    the caller passes the year and the host's offset."""
    m = _RFC3339.match(line)
    if m:
        y, mo, d, hh, mi, ss = (int(g) for g in m.groups()[:6])
        zone = m.group(7)
        offset = 0 if zone == "Z" else (int(zone[1:3]) * 60 + int(zone[4:6])) * 60 * (1 if zone[0] == "+" else -1)
        return {
            "time": calendar.timegm((y, mo, d, hh, mi, ss)) - offset,
            "host": m.group(8),
            "ident": m.group(9),
            "message": m.group(10),
        }
    m = _RFC3164.match(line)
    if m and m.group(1) in MONTHS:
        hh, mi, ss = int(m.group(3)), int(m.group(4)), int(m.group(5))
        epoch = calendar.timegm((year, MONTHS[m.group(1)], int(m.group(2)), hh, mi, ss)) - utc_offset
        return {"time": epoch, "host": m.group(6), "ident": m.group(7), "message": m.group(8)}
    return None


SSHD_IDENTS = ("sshd", "sshd-session")  # OpenSSH 10 logs sessions as sshd-session
_SSH_FAILED = re.compile(r"Failed (\S+) for (invalid user )?(.*?) from (\S+) port \d+")
_SSH_INVALID = re.compile(r"Invalid user (.*?) from (\S+) port \d+")
_SSH_ACCEPTED = re.compile(r"Accepted (\S+) for (\S+) from (\S+) port \d+")


def classify_sshd(message):
    """('failed', user, source, method) | ('invalid_user', user, source, '') |
    ('accepted', user, source, method) | None for everything else sshd says."""
    m = _SSH_ACCEPTED.match(message)
    if m:
        return ("accepted", m.group(2), m.group(3), m.group(1))
    m = _SSH_FAILED.match(message)
    if m:
        return ("failed", m.group(3), m.group(4), m.group(1))
    m = _SSH_INVALID.match(message)
    if m:
        return ("invalid_user", m.group(1), m.group(2), "")
    return None


def classify_sudo(message):
    """('command', user, target, command) | ('refused', user, reason, command) | None.
    sudo writes 'USER : [REASON ; ]TTY=.. ; PWD=.. ; USER=.. ; COMMAND=..'."""
    user, sep, rest = message.strip().partition(" : ")
    if not sep or " " in user or "COMMAND=" not in rest:
        return None
    fields, reason = {}, ""
    for part in rest.split(" ; "):
        key, eq, value = part.partition("=")
        if eq and key.isupper():
            fields[key] = value
        elif not fields and not reason:
            reason = part
    command = rest[rest.index("COMMAND=") + 8 :]
    if reason:
        return ("refused", user, reason, command)
    return ("command", user, fields.get("USER", ""), command)


_REFUSED = re.compile(r"(?:\w+ \S+: )?refused from (\S*?): (\S+) \(")
_RECEIVER_ERROR = re.compile(r"(?:ERROR|CRITICAL) \S+: (.*)$")


def classify_receiver(message):
    """('reject', reason, source) | ('error', message, '') | None."""
    m = _REFUSED.match(message)
    if m:
        return ("reject", m.group(2), m.group(1))
    m = _RECEIVER_ERROR.match(message)
    if m:
        return ("error", m.group(1), "")
    return None

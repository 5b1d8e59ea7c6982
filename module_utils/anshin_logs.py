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
import datetime
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


_W3C_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})$")
_W3C_TIME = re.compile(r"(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?$")
_w3c_days = {}
_w3c_seconds = {}


def _w3c_day(text):
    """Epoch of 00:00 UTC of a W3C date ('2026-11-27'), or None for anything that is not a real day."""
    epoch = _w3c_days.get(text, False)
    if epoch is False:
        m = _W3C_DATE.match(text)
        try:
            epoch = calendar.timegm(datetime.date(*(int(g) for g in m.groups())).timetuple()) if m else None
        except ValueError:  # 2026-02-30: timegm alone would roll it over into March
            epoch = None
        if len(_w3c_days) > 10000:
            _w3c_days.clear()
        _w3c_days[text] = epoch
    return epoch


def _w3c_time(text):
    """Seconds since midnight of a W3C time ('23:50:13', fractions dropped), or None."""
    seconds = _w3c_seconds.get(text, False)
    if seconds is False:
        m = _W3C_TIME.match(text)
        seconds = None
        if m:
            hh, mm, ss = (int(g) for g in m.groups())
            if hh < 24 and mm < 60 and ss < 61:  # 60: a leap second
                seconds = hh * 3600 + mm * 60 + ss
        if len(_w3c_seconds) > 200000:  # 86,400 seconds a day; fractions could make more
            _w3c_seconds.clear()
        _w3c_seconds[text] = seconds
    return seconds


class W3CParser:
    """IIS W3C extended log format, one line at a time.

    Directives (#Software, #Version, #Date, #Fields) set the columns; #Fields may change mid-file
    (IIS writes a new header when the logging settings change) and names the columns in any order. Data
    lines come back in the shape of parse_combined (remote, user, time, method, path with query, status,
    size, referer, agent); comments return {} and lines that do not fit the current #Fields return None:
    another number of values, an empty value (two spaces, a line cut after a space), a date that is not a
    real day (2026-02-30), a time outside 00:00:00-23:59:60 or a status outside 100-599. IIS writes
    date/time in UTC; spaces inside a field are written as '+' (User-Agent, Referer), '-' is an empty
    field. A byte order mark where a file starts (a copy saved by a Windows tool) is not part of the line.
    """

    def __init__(self):
        self.fields = None
        self._columns = None

    def parse(self, line):
        line = line.rstrip("\r\n")
        if line[:1] == "\ufeff":
            line = line[1:]
        if line[:1] == "#":
            if line.startswith("#Fields:"):
                self.fields = line[len("#Fields:") :].split()
                index = {name: i for i, name in enumerate(self.fields)}
                self._columns = (len(self.fields),) + tuple(
                    index.get(name)
                    for name in (
                        "date",
                        "time",
                        "sc-status",
                        "c-ip",
                        "cs-username",
                        "cs-method",
                        "cs-uri-stem",
                        "cs-uri-query",
                        "sc-bytes",
                        "cs(Referer)",
                        "cs(User-Agent)",
                    )
                )
            return {}
        if not self.fields:
            return None
        n, i_date, i_time, i_status, i_ip, i_user, i_method, i_stem, i_query, i_size, i_referer, i_agent = self._columns
        values = line.split(" ")
        if len(values) != n or "" in values or i_date is None or i_time is None or i_status is None:
            return None
        day = _w3c_day(values[i_date])
        seconds = _w3c_time(values[i_time])
        status = values[i_status]
        if day is None or seconds is None or not (len(status) == 3 and status.isdigit() and "100" <= status < "600"):
            return None

        query = "-" if i_query is None else values[i_query]
        size = "-" if i_size is None else values[i_size]
        referer = "-" if i_referer is None else values[i_referer]
        agent = "-" if i_agent is None else values[i_agent]
        return {
            "remote": "-" if i_ip is None else values[i_ip],
            "user": "-" if i_user is None else values[i_user],
            "time": day + seconds,
            "method": "" if i_method is None else values[i_method],
            "path": ("-" if i_stem is None else values[i_stem]) + ("" if query == "-" else "?" + query),
            "status": int(status),
            "size": int(size) if size.isdigit() else 0,
            "referer": "" if referer == "-" else referer.replace("+", " "),
            "agent": "" if agent == "-" else agent.replace("+", " "),
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

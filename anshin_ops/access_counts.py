"""アクセス件数 of the public site (the /anshin/ subsite on the prefecture's CMS web servers, issue 19 item 2),
counted from the IIS W3C logs playbooks/collect_iis_logs.yml brings to <anshin_iis_logs_dir>/<host>/<YYYY-MM>/<site>/
(.local/collected/<inventory>/iis-logs: filter_plugins/records.py).

    count_month(root, month, prefix=...)     a JST month of every host and site under ROOT
    month_files(root, month)                 which files that reads, and which days have no file
    count_files(paths, since, until, ...)    the counting itself, over any files and period

Every figure counts the requests of the period under the subsite's path PREFIX (an inventory setting,
"/anshin/"; compared without regard to case, as IIS serves paths; the prefix without its last slash, the
address that redirects to it, is inside too), minus the requests of our own monitoring and health checks:

- requests (リクエスト数): every such request, whatever it asked for and whatever the answer.
- page views (ページビュー): requests for a page answered 200 (OK) or 304 (Not Modified: the browser showed the
  copy it had, a view all the same). A page is any path not ending in an asset extension (ASSET_EXTENSIONS:
  style sheets, scripts, images, fonts, media, and the JSON/XML/text files scripts poll, which would
  otherwise count every minute a page stays open); HTML, ASP.NET pages and documents (PDF, Office files:
  the hazard maps and shelter lists people read) are pages. 301/302 are left out because the browser asks
  again for the address they name, which is counted then; 206 (a PDF viewer fetching ranges) because the
  first 200 counted the view; errors because nothing was shown. The method is not looked at (GoAccess
  and AWStats do not either): on this read-only site it is GET but for the odd form; HEAD comes from link
  checkers and health checks, the latter left out below.
- visitors per day (訪問者数): GoAccess's definition: the same client address, the same day (JST) and the
  same User-Agent are one visitor, across hosts and sites; requests answered 4xx are not looked at
  (GoAccess's default: a scanner probing for missing paths is nobody's visit). The month's figure is the
  sum of the days (延べ人数), as GoAccess's unique_visitors.
- top pages (ページ別): page views per path, the query string dropped, lower-cased (IIS paths are not
  case-sensitive: /Anshin/Index.html is /anshin/index.html); the first TOP, then the rest as その他.
- status classes (応答コード別): requests per 1xx-5xx.
- excluded (除外): requests of our own monitoring, by the rule that matched first: the client address in
  one of EXCLUDE_NETWORKS (an IPv4-mapped IPv6 address ::ffff:a.b.c.d is a.b.c.d), else the User-Agent
  matching one of EXCLUDE_AGENTS (regular expressions, searched without regard to case). Default agents:
  DEFAULT_EXCLUDE_AGENTS, what our monitoring sends (blackbox_exporter's public_site probe, Zabbix web
  checks); no default networks: the inventory names the monitoring host's address as the CMS sees it and the
  load balancer's health-check sources.

Days are JST days: IIS writes date and time in UTC whatever the server's zone, so 2026-10-31 15:00 UTC is
2026-11-01 00:00 JST and belongs to November. Odd input neither stops the count nor slips into it: lines
that do not fit their #Fields (module_utils/anshin_logs.py W3CParser: #Fields may change mid-file and name
the columns in any order; '-' is an empty field, '+' a space; a byte order mark and CRLF line ends are
read through), lines whose c-ip is not an address, data before any #Fields and a last line cut short are
counted as bad lines, by reason, with samples; undecodable bytes (a server not logging in UTF-8) are
replaced and the lines counted and reported; a compressed file (.gz/.xz/.bz2) is read like a plain one, a
compressed copy of a file also there plain is skipped (not counted twice), and a file that cannot be read
to its end is reported with what it held up to there.
"""

import argparse
import calendar
import datetime
import ipaddress
import json
import os
import re
import sys

from anshin_common import JST, now_jst
from anshin_logs import W3CParser, open_log

DEFAULT_PREFIX = "/anshin/"
DEFAULT_EXCLUDE_AGENTS = (
    r"^Blackbox Exporter/",  # the monitoring host's blackbox_exporter (its public_site probe)
    r"^Zabbix",  # Zabbix web scenarios, where the optional Zabbix checks are used
)
DEFAULT_EXCLUDE_NETWORKS = ()
# paths ending so are assets, not pages (compared in lower case, as GoAccess's static files)
ASSET_EXTENSIONS = (
    ".css",
    ".js",
    ".mjs",
    ".map",
    ".json",
    ".xml",
    ".rss",
    ".atom",
    ".txt",
    ".ico",
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".svg",
    ".webp",
    ".avif",
    ".bmp",
    ".tif",
    ".tiff",
    ".woff",
    ".woff2",
    ".ttf",
    ".otf",
    ".eot",
    ".mp3",
    ".mp4",
    ".m4a",
    ".webm",
    ".ogg",
    ".wav",
    ".swf",
    ".zip",
    ".gz",
)
PAGE_STATUSES = (200, 304)
CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
TOP = 20
SAMPLES = 20
OTHERS = "その他"
BAD_REASONS = {
    "no_fields": "data before any #Fields directive",
    "misfit": "does not fit its #Fields (values, date, time or status)",
    "no_column": "its #Fields lacks c-ip or cs-uri-stem",
    "not_an_address": "c-ip is not an IP address",
    "truncated": "last line of the file cut short",
}
# u_exYYMMDD.log (daily) or u_exYYMMDDHH.log (hourly rollover), as IIS names them; compressed by someone
LOG_NAME = re.compile(r"^u_ex(\d{2})(\d{2})(\d{2})(\d{2})?\.log(\.gz|\.xz|\.bz2)?$")
COMPRESSED = (".gz", ".xz", ".bz2")


class _Rules:
    """The monitoring exclusions, decided once per address and per User-Agent."""

    def __init__(self, networks, agents):
        self.networks = [(f"network {n}", ipaddress.ip_network(n, strict=False)) for n in networks]
        self.agents = [(f"agent {a}", re.compile(a, re.IGNORECASE)) for a in agents]
        self._addresses = {}
        self._agents = {}

    def address(self, text):
        """False when TEXT is not an IP address, else the name of the network rule it matches, or None."""
        try:
            return self._addresses[text]
        except KeyError:
            pass
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            rule = False
        else:
            if addr.version == 6 and addr.ipv4_mapped:
                addr = addr.ipv4_mapped
            rule = next((name for name, net in self.networks if addr in net), None)
        if len(self._addresses) > 1_000_000:
            self._addresses.clear()
        self._addresses[text] = rule
        return rule

    def agent(self, text):
        try:
            return self._agents[text]
        except KeyError:
            pass
        rule = next((name for name, rx in self.agents if rx.search(text)), None)
        if len(self._agents) > 100_000:
            self._agents.clear()
        self._agents[text] = rule
        return rule


def _epoch(moment):
    return calendar.timegm(moment.utctimetuple())


def count_files(
    paths,
    since,
    until,
    prefix=DEFAULT_PREFIX,
    exclude_networks=DEFAULT_EXCLUDE_NETWORKS,
    exclude_agents=DEFAULT_EXCLUDE_AGENTS,
    top=TOP,
):
    """The counts (module docstring) of the W3C files PATHS over [SINCE, UNTIL).

    SINCE is midnight in the zone whose days are counted (JST for the reports; a fixed offset) and UNTIL a
    later midnight. PREFIX "" counts the whole site. TOP None lists every page.
    """
    if since.tzinfo is None or until.tzinfo is None or since.utcoffset() != until.utcoffset():
        raise ValueError("since and until need the same fixed zone")
    if since.timetz().replace(tzinfo=None) != datetime.time(0) or until <= since:
        raise ValueError("since must be a midnight and until a later one")
    prefix = prefix.lower()
    if prefix and not prefix.startswith("/"):
        raise ValueError(f"prefix must start with '/': {prefix!r}")
    bare = prefix.rstrip("/") if len(prefix) > 1 else None
    rules = _Rules(exclude_networks, exclude_agents)
    start, end = _epoch(since), _epoch(until)
    ndays = (until - since).days
    day_names = [(since + datetime.timedelta(days=i)).strftime("%Y-%m-%d") for i in range(ndays)]
    requests, page_views = [0] * ndays, [0] * ndays
    statuses = [dict.fromkeys(CLASSES, 0) for _ in range(ndays)]
    visitors = [set() for _ in range(ndays)]
    pages, excluded, bad = {}, {}, dict.fromkeys(BAD_REASONS, 0)
    samples, files = [], []
    outside_period = outside_prefix = undecodable = 0

    for path in paths:
        parser = W3CParser()
        entry = {"path": str(path), "lines": 0, "bad": 0, "bom": False, "truncated": False}
        files.append(entry)

        def bad_line(reason, number, line, entry=entry):
            bad[reason] += 1
            entry["bad"] += 1
            if len(samples) < SAMPLES:
                samples.append(
                    {"path": entry["path"], "line": number, "reason": BAD_REASONS[reason], "text": line[:200]}
                )

        number, fields, columns = 0, None, False
        try:
            with open_log(str(path)) as fh:
                for number, line in enumerate(fh, 1):
                    if number == 1 and line[:1] == "\ufeff":
                        entry["bom"] = True
                    rec = parser.parse(line)
                    if not rec:
                        if rec is None and line.strip():
                            if not line.endswith("\n"):
                                entry["truncated"] = True
                                bad_line("truncated", number, line)
                            elif parser.fields is None:
                                bad_line("no_fields", number, line)
                            else:
                                bad_line("misfit", number, line)
                        continue
                    if parser.fields is not fields:  # a new #Fields: does it have what the counts need?
                        fields = parser.fields
                        columns = "c-ip" in fields and "cs-uri-stem" in fields
                    if not columns:
                        bad_line("no_column", number, line)
                        continue
                    if "\ufffd" in line:
                        undecodable += 1
                    agent = rec["agent"]
                    remote = rec["remote"]
                    stem = rec["path"].split("?", 1)[0].lower()
                    network = rules.address(remote)
                    if network is False:
                        bad_line("not_an_address", number, line)
                        continue
                    t = rec["time"]
                    if not start <= t < end:
                        outside_period += 1
                        continue
                    if prefix and not (stem.startswith(prefix) or stem == bare):
                        outside_prefix += 1
                        continue
                    rule = network or rules.agent(agent)
                    if rule:
                        excluded[rule] = excluded.get(rule, 0) + 1
                        continue
                    i = (t - start) // 86400
                    status = rec["status"]
                    requests[i] += 1
                    statuses[i][CLASSES[status // 100 - 1]] += 1
                    if not 400 <= status < 500:
                        visitors[i].add((remote, agent))
                    if status in PAGE_STATUSES and not stem.endswith(ASSET_EXTENSIONS):
                        page_views[i] += 1
                        pages[stem] = pages.get(stem, 0) + 1
        except (OSError, EOFError, ValueError) as exc:  # unreadable, a cut or corrupt compressed file
            entry["error"] = f"{type(exc).__name__}: {exc}"
        entry["lines"] = number

    ranked = sorted(pages.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ranked if top is None else ranked[:top]
    top_pages = [{"page": p, "page_views": n} for p, n in shown]
    if len(ranked) > len(shown):
        top_pages.append({"page": OTHERS, "page_views": sum(n for _, n in ranked[len(shown) :])})
    by_day = [
        {
            "day": day_names[i],
            "requests": requests[i],
            "page_views": page_views[i],
            "visitors": len(visitors[i]),
            **statuses[i],
        }
        for i in range(ndays)
    ]
    return {
        "since": since.isoformat(),
        "until": until.isoformat(),
        "prefix": prefix,
        "requests": sum(requests),
        "page_views": sum(page_views),
        "visitors": sum(len(v) for v in visitors),
        "by_day": by_day,
        "by_status": {c: sum(d[c] for d in by_day) for c in CLASSES},
        "top_pages": top_pages,
        "excluded": {"requests": sum(excluded.values()), "by_rule": dict(sorted(excluded.items()))},
        "outside_period": outside_period,
        "outside_prefix": outside_prefix,
        "bad_lines": {
            "count": sum(bad.values()),
            "by_reason": {BAD_REASONS[k]: n for k, n in bad.items() if n},
            "samples": samples,
        },
        "undecodable_lines": undecodable,
        "files": files,
    }


def month_bounds(month):
    """(since, until): the JST midnights that start the month 'YYYY-MM' and the next; ValueError otherwise."""
    try:
        if not re.fullmatch(r"\d{4}-\d{2}", month or ""):
            raise ValueError
        since = datetime.datetime.strptime(month, "%Y-%m").replace(tzinfo=JST)
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from None
    until = (since + datetime.timedelta(days=32)).replace(day=1)
    return since, until


def _log_day(name):
    m = LOG_NAME.match(name)
    if not m:
        return None
    try:
        return datetime.date(2000 + int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def month_files(root, month, hosts=None, now=None):
    """The files count_month reads for MONTH (JST) under ROOT/<host>/<YYYY-MM>/<site>/, and what is missing.

    IIS names its daily files by the UTC day (unless set to local time: then the extra file adds nothing,
    its lines fall before the month). The JST month starts at 15:00 UTC of the previous month's last day, so
    that day's file is read too: collect_iis_logs.yml brings it with the month, and it may also be there
    from the previous month's collection (then it is read once: the month's own copy, taken after the day
    ended, whether plain or compressed). Returns (files, skipped, missing):
    files are {path, host, site, day}; skipped are files left alone with the reason (not a log file, a
    compressed copy of a file read plain); missing are {host, site, days}: the UTC days up to NOW (the
    current day included) that have no file, for every host and site seen or host named in HOSTS (a host
    without any file of the month: site None and every day).
    """
    since, until = month_bounds(month)
    first_utc = since.astimezone(datetime.UTC).date()  # the previous month's last day
    last_utc = (until - datetime.timedelta(seconds=1)).astimezone(datetime.UTC).date()
    today = (now or now_jst()).astimezone(datetime.UTC).date()
    wanted = []
    day = first_utc
    while day <= min(last_utc, today):
        wanted.append(day)
        day += datetime.timedelta(days=1)
    previous = first_utc.strftime("%Y-%m")
    names = set(hosts or ())
    if os.path.isdir(root):
        names |= {h for h in os.listdir(root) if os.path.isdir(os.path.join(root, h))}
    files, skipped, missing = [], [], []
    for host in sorted(names):
        sites, seen = {}, set()
        # the month's own folder first: its copy of the previous month's last day was collected after that
        # day ended, a copy collected with the previous month may have been taken before
        for folder in (month, previous):
            base = os.path.join(root, host, folder)
            for site in sorted(os.listdir(base)) if os.path.isdir(base) else ():
                if not os.path.isdir(os.path.join(base, site)):
                    continue
                entries = sorted(os.listdir(os.path.join(base, site)))
                plain = {e for e in entries if not e.endswith(COMPRESSED)}
                for name in entries:
                    path = os.path.join(base, site, name)
                    day = _log_day(name)
                    if not os.path.isfile(path) or (folder == previous and day != first_utc):
                        continue
                    if name.endswith(COMPRESSED) and name.rsplit(".", 1)[0] in plain:
                        skipped.append({"path": path, "reason": "a compressed copy of a file read plain"})
                        continue
                    if day is None and ".log" not in name:
                        skipped.append({"path": path, "reason": "not an IIS log file"})
                        continue
                    # the previous month's last day is collected with both months: read once, plain or compressed
                    key = (site, name.rsplit(".", 1)[0] if name.endswith(COMPRESSED) else name)
                    if key in seen:
                        skipped.append({"path": path, "reason": "the same file collected with another month"})
                        continue
                    seen.add(key)
                    days = sites.setdefault(site, set())
                    if day is not None:
                        days.add(day)
                    files.append({"path": path, "host": host, "site": site, "day": day.isoformat() if day else None})
        if not sites:
            missing.append({"host": host, "site": None, "days": [d.isoformat() for d in wanted]})
        for site, days in sorted(sites.items()):
            gaps = [d.isoformat() for d in wanted if d not in days]
            if gaps:
                missing.append({"host": host, "site": site, "days": gaps})
    files.sort(key=lambda f: (f["host"], f["site"], f["day"] or "", f["path"]))
    return files, skipped, missing


def count_month(
    root,
    month,
    prefix=DEFAULT_PREFIX,
    exclude_networks=DEFAULT_EXCLUDE_NETWORKS,
    exclude_agents=DEFAULT_EXCLUDE_AGENTS,
    hosts=None,
    top=TOP,
    now=None,
):
    """The month's counts (count_files) of every host and site under ROOT, with month_files' skipped and
    missing files: a month with missing days says so instead of showing smaller figures as if complete."""
    since, until = month_bounds(month)
    files, skipped, missing = month_files(root, month, hosts, now)
    result = count_files([f["path"] for f in files], since, until, prefix, exclude_networks, exclude_agents, top)
    for entry, found in zip(result["files"], files, strict=True):
        entry.update(host=found["host"], site=found["site"])
    return {"month": month, **result, "skipped_files": skipped, "missing": missing}


def main(argv=None):
    """python -m anshin_ops.access_counts ROOT YYYY-MM [options]: the counts as JSON on stdout."""
    ap = argparse.ArgumentParser(prog="python -m anshin_ops.access_counts", description=main.__doc__)
    ap.add_argument("root", help="the collected logs, .local/collected/<inventory>/iis-logs")
    ap.add_argument("month", help="YYYY-MM (JST)")
    ap.add_argument("--prefix", default=DEFAULT_PREFIX, help="the subsite's path prefix ('' for the whole site)")
    ap.add_argument("--exclude-network", action="append", default=[], help="a monitoring source (CIDR)")
    ap.add_argument(
        "--exclude-agent",
        action="append",
        default=None,
        help="a monitoring User-Agent (regular expression); replaces the defaults",
    )
    ap.add_argument("--top", type=int, default=TOP)
    args = ap.parse_args(argv)
    try:
        result = count_month(
            args.root,
            args.month,
            args.prefix,
            args.exclude_network,
            DEFAULT_EXCLUDE_AGENTS if args.exclude_agent is None else args.exclude_agent,
            top=args.top,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

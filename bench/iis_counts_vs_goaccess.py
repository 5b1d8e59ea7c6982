#!/usr/bin/env python3
"""The public site's access counts (anshin_ops/access_counts.py) on a month of IIS W3C logs, side by side
with GoAccess on the same files: the counts must be equal, and the speed is printed as a ratio.

    bench/iis_counts_vs_goaccess.py [LINES] [ROUNDS]

Input: the month playbooks/local/files/make_iis_logs.py writes (LINES lines, 1,000,000 by default, in daily
files from 2026-10-31 to 2026-11-30 UTC) and, beside it, the hand-written sample tests/fixtures/iis_w3c (two
more servers, a BOM and CRLF, #Fields changing mid-file, fields in another order, IPv6, a last line cut short,
a User-Agent with raw spaces ...), so the counter is not fed by its own generator alone. The files are those
count_month reads for November (JST); GoAccess 1.7 is given the same files.

Timed, best of ROUNDS taken in turn: count_month as the monthly report runs it (JST month, prefix /anshin/,
the monitoring network and default agents left out) and GoAccess's JSON report of the same files
(`--log-format=W3C`), once with every panel and once with only the panels our figures have a counterpart in
(TRIM: no browsers, OS, referrers ...). The speed ratio is ours / GoAccess in lines per second (below 1:
slower).

Where the definitions differ, and how the comparison makes them equal:
- GoAccess reads W3C in one layout, IIS's default 15 fields, and ignores #Fields. The sample's lines written
  under another #Fields (a mid-file change, another order) are handed to GoAccess rearranged into the
  default layout (relayout(): columns moved by their #Fields names, nothing of our parser); a line that does
  not fit its #Fields becomes a line GoAccess cannot parse either. Every other line reaches both byte for
  byte.
- GoAccess has no zone for W3C times (--tz converts only times parsed with %z, which IIS never writes), so
  its days are UTC days: our counter is run once more over the same files with UTC days
  (count_files with since/until in UTC, from the first file's day). Our JST days are checked against a
  third GoAccess run with hourly buckets (--date-spec=hr), summed into JST days.
- GoAccess cannot filter by path: the comparison runs are over the whole site (prefix ""). Monitoring is
  left out by network in both (ours: exclude_networks; GoAccess: -e ranges); GoAccess has no User-Agent
  exclusion, so ours runs without agent rules there.
- A byte order mark makes GoAccess fail the directive line it starts, which we read as a directive: its
  failed lines are ours plus one per such file (checked from the files' first bytes).
- Page views: GoAccess's requests panel holds non-static requests but for 404s; a second GoAccess run
  ignores every status but 200 and 304 (--ignore-status for each status code the first run saw) and uses
  our asset extensions as its static files (--static-file, case-insensitive in both), merges methods
  (--http-method=no); its keys, stem?query, are cut at '?', lower-cased and summed, as our pages are.
- Visitors: both leave 4xx out (GoAccess's default) and key by address, day and User-Agent.
Compared exactly: valid requests, failed lines, excluded requests, the sum of daily visitors, status
classes, hits and visitors per UTC day, page views per page and in total, hits per JST day. Exit 1 when one
differs. Also printed, not compared: the report's own figures (JST, /anshin/, monitoring left out).
"""

import datetime
import ipaddress
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from anshin_ops import access_counts as ac  # noqa: E402

JST = ac.JST

MONTH = "2026-11"
SAMPLE = ROOT / "tests" / "fixtures" / "iis_w3c"
# the generator's monitoring host and load balancer, and the sample's (the mapped ::ffff:192.0.2.41 line
# stays in: GoAccess's -e does not map IPv4 into IPv6)
MONITORING = ["192.0.2.200/32", "10.30.0.0/29"]
DEFAULT_FIELDS = (
    b"date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) "
    b"sc-status sc-substatus sc-win32-status time-taken"
).split()
BOM = b"\xef\xbb\xbf"
AFTER = datetime.datetime(2026, 12, 5, tzinfo=JST)  # the month is over: every day's file is expected
# GoAccess's panels our figures have no counterpart of (browsers, OS, referrers, hours ...)
TRIM = [
    f"--ignore-panel={panel}"
    for panel in [
        "OS",
        "BROWSERS",
        "VISIT_TIMES",
        "HOSTS",
        "REFERRERS",
        "REFERRING_SITES",
        "KEYPHRASES",
        "GEO_LOCATION",
        "REMOTE_USER",
        "VIRTUAL_HOSTS",
        "CACHE_STATUS",
        "MIME_TYPE",
        "TLS_TYPE",
    ]
]


def best(fns, rounds):
    """The best time of each of FNS over ROUNDS rounds, taken in turn (a load that comes and goes falls on
    all of them), and each one's last result."""
    times, results = [float("inf")] * len(fns), [None] * len(fns)
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            results[i] = fn()
            times[i] = min(times[i], time.perf_counter() - start)
    return times, results


def relayout(path, out):
    """PATH as GoAccess can read it: lines under IIS's default #Fields as they are, lines under another
    #Fields moved into the default columns ('-' for those it lacks), a line that does not fit its #Fields
    replaced by one GoAccess cannot parse either. Returns PATH itself when nothing needs moving."""
    data = pathlib.Path(path).read_bytes()
    if all(line.split()[1:] == DEFAULT_FIELDS for line in re.findall(rb"^(?:\xef\xbb\xbf)?#Fields:.*$", data, re.M)):
        return path
    fields, lines = DEFAULT_FIELDS, []
    for line in data.splitlines(keepends=True):
        bare = line.removeprefix(BOM)
        if bare.startswith(b"#"):
            if bare.startswith(b"#Fields:"):
                fields = bare.split()[1:]
                line = b"#Fields: " + b" ".join(DEFAULT_FIELDS) + b"\n"
            lines.append(line)
        elif fields == DEFAULT_FIELDS:
            lines.append(line)
        else:
            values = line.rstrip(b"\r\n").split(b" ")
            if len(values) != len(fields):
                lines.append(b"unfit line\n")
                continue
            row = dict(zip(fields, values, strict=True))
            lines.append(b" ".join(row.get(name, b"-") for name in DEFAULT_FIELDS) + b"\n")
    target = os.path.join(out, f"{len(os.listdir(out))}-{os.path.basename(path)}")
    pathlib.Path(target).write_bytes(b"".join(lines))
    return target


def goaccess(files, out, *extra):
    ranges = []
    for cidr in MONITORING:
        net = ipaddress.ip_network(cidr)
        ranges += ["-e", f"{net[0]}-{net[-1]}"]
    subprocess.run(
        ["goaccess", *files, "--log-format=W3C", "--no-global-config", "--num-tests=0", "--http-method=no"]
        + [f"--static-file={ext}" for ext in ac.ASSET_EXTENSIONS]
        + ranges
        + list(extra)
        + ["-o", out],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return json.loads(pathlib.Path(out).read_text())


def table(title, header, rows):
    print(f"\n{title}")
    print("".join(f"{h:>{w}}" for h, w in header))
    for row in rows:
        print(
            "".join(f"{v:>{w},}" if isinstance(v, int) else f"{v:>{w}}" for v, (_, w) in zip(row, header, strict=True))
        )


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if not shutil.which("goaccess"):
        sys.exit("goaccess is not installed: apt-get install goaccess (bin/bootstrap does)")
    work = tempfile.mkdtemp(prefix="anshin-bench-iis-")
    try:
        logs = os.path.join(work, "iis-logs")
        generator = ROOT / "playbooks" / "local" / "files" / "make_iis_logs.py"
        subprocess.run([sys.executable, str(generator), logs, str(lines)], check=True)
        for host in sorted(os.listdir(SAMPLE)):
            if os.path.isdir(SAMPLE / host):
                shutil.copytree(SAMPLE / host, os.path.join(logs, host))
        files, _, _ = ac.month_files(logs, MONTH, now=AFTER)
        paths = [f["path"] for f in files]
        moved = os.path.join(work, "relayout")
        os.mkdir(moved)
        for_goaccess = [relayout(p, moved) for p in paths]
        boms = sum(pathlib.Path(p).read_bytes()[:4] == BOM + b"#" for p in for_goaccess)
        total_lines = sum(pathlib.Path(p).read_bytes().count(b"\n") for p in paths)
        size = sum(os.path.getsize(p) for p in paths) / 2**20
        version = subprocess.run(["goaccess", "--version"], capture_output=True, text=True).stdout.split()[2]
        version = version.rstrip(".")
        print(
            f"{lines:,} generated lines and the sample tests/fixtures/iis_w3c: {len(paths)} files of "
            f"{len({f['host'] for f in files})} hosts, {total_lines:,} lines, {size:.0f} MiB; "
            f"best of {rounds} rounds (goaccess {version})"
        )

        report_args = {"prefix": ac.DEFAULT_PREFIX, "exclude_networks": MONITORING, "top": 10}
        (t_go, t_trim, t_ours), (go, _, report) = best(
            [
                lambda: goaccess(for_goaccess, os.path.join(work, "go.json")),
                lambda: goaccess(for_goaccess, os.path.join(work, "trim.json"), *TRIM),
                lambda: ac.count_month(logs, MONTH, now=AFTER, **report_args),
            ],
            rounds,
        )
        print(f"\n{'':50}{'seconds':>9}{'lines/s':>12}{'ours / GoAccess':>17}")
        for name, t in (
            (f"GoAccess {version}, JSON report, every panel", t_go),
            (f"GoAccess {version}, only the panels compared", t_trim),
            ("access_counts.count_month (JST, /anshin/)", t_ours),
        ):
            ratio = f"{t / t_ours:16.2f}x" if t is not t_ours else ""
            print(f"{name:50}{t:9.2f}{total_lines / t:12,.0f}{ratio}")

        # the comparison runs (untimed)
        first = min(datetime.date.fromisoformat(f["day"]) for f in files)
        since = datetime.datetime(first.year, first.month, first.day, tzinfo=datetime.UTC)
        until = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)
        utc = ac.count_files(paths, since, until, "", MONITORING, (), top=None)
        jst = ac.count_month(logs, MONTH, "", MONITORING, (), top=None, now=AFTER)
        seen = sorted({i["data"][:3] for row in go["status_codes"]["data"] for i in row["items"]})
        if not all(code.isdigit() for code in seen) or len(seen) > 60:
            sys.exit(f"GoAccess saw status codes it cannot name or too many to ignore: {seen}")
        ignore = [f"--ignore-status={code}" for code in seen if code not in ("200", "304")]
        go_pages = goaccess(for_goaccess, os.path.join(work, "pages.json"), "--max-items=100000", *ignore)
        go_hours = goaccess(for_goaccess, os.path.join(work, "hours.json"), "--date-spec=hr", "--max-items=100000")

        same = True

        def check(theirs, ours):
            nonlocal same
            equal = theirs == ours
            same &= equal
            return equal

        g = go["general"]
        table(
            "whole site, monitoring network left out by both",
            [("", 24), ("GoAccess", 12), ("ours", 12), ("", 11)],
            [
                (k, a, b, "" if check(a, b) else "DIFFERENT")
                for k, a, b in (
                    ("valid requests", g["valid_requests"], utc["requests"]),
                    ("failed lines", g["failed_requests"], utc["bad_lines"]["count"] + boms),
                    ("excluded (monitoring)", g["excluded_hits"], utc["excluded"]["requests"]),
                    ("visitors (days summed)", g["unique_visitors"], utc["visitors"]),
                )
            ]
            + [
                (f"status {c}", a, b, "" if check(a, b) else "DIFFERENT")
                for c in ac.CLASSES
                for a, b in [
                    (
                        sum(r["hits"]["count"] for r in go["status_codes"]["data"] if r["data"].startswith(c[0])),
                        utc["by_status"][c],
                    )
                ]
            ],
        )
        if boms:
            print(f"  (failed lines, ours: {utc['bad_lines']['count']} bad + {boms} directive after a BOM)")

        go_days = {r["data"]: (r["hits"]["count"], r["visitors"]["count"]) for r in go["visitors"]["data"]}
        our_days = {d["day"].replace("-", ""): (d["requests"], d["visitors"]) for d in utc["by_day"] if d["requests"]}
        go_jst = {}
        for r in go_hours["visitors"]["data"]:
            hour = datetime.datetime.strptime(r["data"], "%Y%m%d%H").replace(tzinfo=datetime.UTC)
            day = hour.astimezone(JST).strftime("%Y%m%d")
            go_jst[day] = go_jst.get(day, 0) + r["hits"]["count"]
        our_jst = {d["day"].replace("-", ""): d["requests"] for d in jst["by_day"] if d["requests"]}
        rows = []
        for day in sorted(set(go_days) | set(our_days) | set(our_jst)):
            ga, oa = go_days.get(day, (0, 0)), our_days.get(day, (0, 0))
            in_month = day.startswith(MONTH.replace("-", ""))
            gj, oj = (go_jst.get(day, 0), our_jst.get(day, 0)) if in_month else ("", "")
            ok = check(ga, oa) & (not in_month or check(gj, oj))
            rows.append((day, ga[0], oa[0], ga[1], oa[1], gj, oj, "" if ok else "DIFFERENT"))
        table(
            "per day: hits and visitors per UTC day; hits per JST day (GoAccess's hours summed)",
            [("day", 9), ("UTC hits GoA", 14), ("ours", 9), ("visitors GoA", 14), ("ours", 8)]
            + [("JST hits GoA", 14), ("ours", 9), ("", 11)],
            rows,
        )

        theirs = {}
        for r in go_pages["requests"]["data"]:
            page = r["data"].split("?", 1)[0].lower()
            theirs[page] = theirs.get(page, 0) + r["hits"]["count"]
        ours = {p["page"]: p["page_views"] for p in utc["top_pages"]}
        check(theirs, ours)
        ranked = sorted(ours.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        table(
            f"page views (200/304, not assets), top 10 of {len(ours)} pages; all pages "
            + ("equal" if theirs == ours else "DIFFERENT"),
            [("page", 36), ("GoAccess", 10), ("ours", 10)],
            [(p, theirs.get(p, 0), n) for p, n in ranked] + [("total", sum(theirs.values()), utc["page_views"])],
        )
        check(sum(theirs.values()), utc["page_views"])

        print(f"\nthe report's figures ({MONTH} JST, prefix {ac.DEFAULT_PREFIX}, monitoring left out; not compared):")
        print(
            f"  requests {report['requests']:,}, page views {report['page_views']:,}, "
            f"visitors (days summed) {report['visitors']:,}, status {report['by_status']}"
        )
        print(f"  excluded {report['excluded']['by_rule']}")
        print(
            f"  left out: {report['outside_period']:,} outside the JST month, {report['outside_prefix']:,} outside "
            f"the prefix; bad lines {report['bad_lines']['by_reason']}"
        )
        print(
            "\nevery comparable count equals GoAccess's" if same else "\nMISMATCH with GoAccess",
        )
        return 0 if same else 1
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())

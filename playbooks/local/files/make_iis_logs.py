#!/usr/bin/env python3
"""Write a deterministic month of IIS 10 W3C logs as playbooks/collect_iis_logs.yml leaves them collected:
the local environment's stand-in for the CMS web servers' logs (playbooks/local/iis_logs_standin.yml) and
the input of bench/iis_counts_vs_goaccess.py.

    make_iis_logs.py OUT LINES [SEED] [--month YYYY-MM] [--host NAME] [--until YYYY-MM-DDTHH:MM:SS]

OUT/<host>/<YYYY-MM>/W3SVC1/u_exYYMMDD.log (host cms-bench, month 2026-11 unless given), one file per UTC day
from the previous month's last day (it holds the first nine hours of the month in JST) to the month's last
day, and no line after --until (UTC; the stand-in passes now: no lines from the future), LINES data lines
spread evenly over them, in IIS's default 15 fields with its header block at the start of each file and again
at noon (a restart). Mixes the subsite's pages (a few in other case, with and without query strings), its
assets, the rest of the prefecture's site, a PDF fetched whole then in ranges, redirects, 404 probes, 5xx,
HEAD and POST, IPv4 and IPv6 clients (some behind one address with several browsers), the monitoring host's
blackbox_exporter (192.0.2.200), the load balancer's health checks (10.30.0.1-4, no User-Agent) and one line
in 5,000 whose User-Agent has raw spaces (a line that does not fit). The same arguments give the same files.
"""

import argparse
import datetime
import os
import random

FIELDS = (
    "date time s-ip cs-method cs-uri-stem cs-uri-query s-port cs-username c-ip cs(User-Agent) cs(Referer) "
    "sc-status sc-substatus sc-win32-status time-taken"
)
SERVER = "192.0.2.90"
PAGES = [
    "/anshin/",
    "/anshin/index.html",
    "/anshin/bousai/keihou.html",
    "/anshin/bousai/hinanjo.html",
    "/anshin/bousai/hinanjo.pdf",
    "/anshin/kasen/suii.html",
    "/anshin/jishin/shindo.html",
    "/anshin/tsunami/index.html",
    "/anshin/dosha/keikai.html",
    "/anshin/oshirase/2026/11/01.html",
    "/anshin/search.aspx",
    "/Anshin/Index.html",
    "/anshin/Bousai/Keihou.html",
]
ASSETS = [
    ("/anshin/css/style.css", "-"),
    ("/anshin/js/app.js", "v=20261101"),
    ("/anshin/img/logo.png", "-"),
    ("/anshin/img/map.PNG", "-"),
    ("/anshin/data/latest.json", "t=1"),
    ("/anshin/favicon.ico", "-"),
]
OUTSIDE = ["/", "/kenmin/index.html", "/docs/2026/keikaku.pdf", "/cms/login.aspx", "/robots.txt"]
PROBES = ["/anshin/wp-login.php", "/anshin/.env", "/.git/config", "/anshin/phpmyadmin/index.php", "/xmlrpc.php"]
BROWSERS = [
    "Mozilla/5.0+(Windows+NT+10.0;+Win64;+x64)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/130.0.0.0+Safari/537.36",
    "Mozilla/5.0+(iPhone;+CPU+iPhone+OS+17_6+like+Mac+OS+X)+AppleWebKit/605.1.15+(KHTML,+like+Gecko)+Version/17.6+Mobile/15E148+Safari/604.1",
    "Mozilla/5.0+(Linux;+Android+14;+Pixel+8)+AppleWebKit/537.36+(KHTML,+like+Gecko)+Chrome/130.0.0.0+Mobile+Safari/537.36",
    "Mozilla/5.0+(Macintosh;+Intel+Mac+OS+X+14_6)+AppleWebKit/605.1.15+(KHTML,+like+Gecko)+Version/17.6+Safari/605.1.15",
    "Mozilla/5.0+(compatible;+Googlebot/2.1;++http://www.google.com/bot.html)",
    "-",
]
REFERERS = ["-", "https://www.pref.tokushima.lg.jp/", "https://www.google.co.jp/", "https://anshin.example.jp/anshin/"]


def header(stamp):
    return (
        "#Software: Microsoft Internet Information Services 10.0\n#Version: 1.0\n"
        f"#Date: {stamp:%Y-%m-%d %H:%M:%S}\n#Fields: {FIELDS}\n"
    )


def clients(rng):
    """(address, User-Agent) pairs: 4,000 IPv4 and 1,000 IPv6 addresses, every tenth shared by two browsers."""
    found = []
    for i in range(5000):
        if i < 4000:
            address = f"{rng.choice((198, 203))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        else:
            address = f"2001:db8:{rng.randint(1, 0xFFFF):x}::{rng.randint(1, 0xFFFF):x}"
        found.append((address, rng.choice(BROWSERS)))
        if i % 10 == 0:
            found.append((address, rng.choice(BROWSERS)))
    return found


def line(rng, stamp, pool):
    when = f"{stamp:%Y-%m-%d %H:%M:%S}"
    roll = rng.random()
    method, query, sub, win32 = "GET", "-", 0, 0
    if roll < 0.01:  # the monitoring host's probe of the public site
        ip, agent, path, status = "192.0.2.200", "Blackbox+Exporter/0.23.0", "/anshin/", 200
    elif roll < 0.02:  # the load balancer's health check
        ip, agent, path, status, method = f"10.30.0.{rng.randint(1, 4)}", "-", "/anshin/index.html", 200, "HEAD"
    else:
        ip, agent = rng.choice(pool)
        kind = rng.random()
        if kind < 0.45:
            path = rng.choice(PAGES)
            status = rng.choice((200,) * 14 + (304, 304, 304, 500, 503))
            if path.endswith(".pdf") and rng.random() < 0.5:
                status = 206
            if path.endswith(".aspx"):
                method, query = ("POST", "-") if rng.random() < 0.5 else ("GET", "q=hinanjo")
            elif rng.random() < 0.1:
                query = "lang=en"
            if rng.random() < 0.02:
                method = "HEAD"
        elif kind < 0.80:
            path, query = rng.choice(ASSETS)
            status = rng.choice((200, 200, 304))
        elif kind < 0.92:
            path = rng.choice(OUTSIDE)
            status = rng.choice((200, 200, 304, 302))
        elif kind < 0.95:
            path, status = "/anshin", 301
        else:
            path, status, sub, win32 = rng.choice(PROBES), 404, 0, 2
    taken = rng.randint(0, 900)
    return (
        f"{when} {SERVER} {method} {path} {query} 443 - {ip} {agent} {rng.choice(REFERERS)} "
        f"{status} {sub} {win32} {taken}\n"
    )


def days_of(month, until=None):
    """The UTC days whose files hold the JST month: its eve to its last day, none after UNTIL's day."""
    first = datetime.datetime.strptime(month, "%Y-%m").replace(tzinfo=datetime.UTC)
    last = (first + datetime.timedelta(days=32)).replace(day=1) - datetime.timedelta(days=1)
    if until is not None:
        last = min(last, until.replace(hour=0, minute=0, second=0, microsecond=0))
    day, days = first - datetime.timedelta(days=1), []
    while day <= last:
        days.append(day)
        day += datetime.timedelta(days=1)
    return days


def main(out, lines, seed=1, month="2026-11", host="cms-bench", until=None):
    rng = random.Random(seed)
    pool = clients(rng)
    days = days_of(month, until)
    per_day, extra = divmod(lines, len(days))
    written = 0
    for d, day in enumerate(days):
        count = per_day + (d < extra)
        folder = os.path.join(out, host, month, "W3SVC1")  # the eve too: collected with the month
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"u_ex{day:%y%m%d}.log"), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(header(day))
            for i in range(count):
                stamp = day + datetime.timedelta(seconds=86400 * i // count)
                if until is not None and stamp > until:
                    break
                if i == count // 2:
                    fh.write(header(stamp))
                if (written + i) % 5000 == 4999:
                    fh.write(f"{stamp:%Y-%m-%d %H:%M:%S} {SERVER} GET /anshin/ - 443 - 203.0.113.9 ")
                    fh.write("Mozilla/5.0 (compatible; raw) - 200 0 0 15\n")
                else:
                    fh.write(line(rng, stamp, pool))
        written += count


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("lines", type=int)
    ap.add_argument("seed", type=int, nargs="?", default=1)
    ap.add_argument("--month", default="2026-11")
    ap.add_argument("--host", default="cms-bench")
    ap.add_argument("--until", type=datetime.datetime.fromisoformat, default=None, help="UTC, e.g. 2026-11-30T17:40:00")
    a = ap.parse_args()
    if a.until is not None:
        a.until = a.until.replace(tzinfo=datetime.UTC)
    main(a.out, a.lines, a.seed, a.month, a.host, a.until)

#!/usr/bin/env python3
"""Write a deterministic combined-format access log: LINES lines over one JST day.

    gen_access_log.py OUT LINES [SEED]

Mixes pages, assets, the receiver's endpoint, probes for attack paths, the
statuses a real site sees (2xx..5xx, 499) and one garbage line per thousand,
so both the audit and GoAccess have every branch to take. The same arguments
give the same file.
"""

import datetime
import os
import random
import sys

sys.path.append(os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils"))
from anshin_common import JST  # noqa: E402

DAY = datetime.datetime(2026, 11, 27, tzinfo=JST)
PATHS = [
    "/",
    "/index.html",
    "/bousai/keihou.html",
    "/bousai/hinan.html",
    "/css/site.css",
    "/js/app.js",
    "/img/map.png",
    "/lalert/publish",
    "/healthz",
    "/api/latest?area=36",
]
PROBES = [
    "/wp-login.php",
    "/.env",
    "/.git/config",
    "/phpmyadmin/index.php",
    "/cgi-bin/test.cgi",
    "/../../etc/passwd",
    "/actuator/health",
    "/?q=${jndi:ldap://x}",
]
STATUSES = [200] * 70 + [206, 301, 304, 304, 304, 400, 403, 404, 404, 404, 404, 499, 500, 502, 503]
AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64)",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)",
    "curl/8.5.0",
    "Googlebot/2.1 (+http://www.google.com/bot.html)",
]


def main(out, lines, seed=1):
    rng = random.Random(seed)
    step = 86400 / lines
    with open(out, "w", encoding="ascii") as fh:
        for i in range(lines):
            if i % 1000 == 999:
                fh.write(f"garbage line {i} without a request\n")
                continue
            t = (DAY + datetime.timedelta(seconds=int(i * step))).strftime("%d/%b/%Y:%H:%M:%S %z")
            probe = rng.random() < 0.02
            path = rng.choice(PROBES) if probe else rng.choice(PATHS)
            status = 404 if probe else rng.choice(STATUSES)
            method = "POST" if path == "/lalert/publish" else "GET"
            ip = f"{rng.choice((198, 203))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            fh.write(
                f'{ip} - - [{t}] "{method} {path} HTTP/1.1" {status} {rng.randint(0, 90000)} '
                f'"-" "{rng.choice(AGENTS)}"\n'
            )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1)

#!/usr/bin/python
"""Monthly usage counts on the L-Alert VM (contract clause 9(1)ウエ)."""

DOCUMENTATION = r"""
---
module: anshin_monthly_usage
short_description: Count a month's web accesses, received messages and registered data on the L-Alert VM
description:
  - Reads the nginx access logs of one month (plain and rotated, compressed or not) and counts requests per
    day (JST), per page (path without query string) and per status class.
  - Reads the receiver's SQLite database read-only and counts the messages accepted that month by category
    (all, published as real, exercise or test, cancels) and the rows registered at the end of the month by
    category and distribution status.
  - Changes nothing; the controller turns the result into the monthly report (C(bin/anshin report monthly)).
options:
  month:
    description: The month, C(YYYY-MM), in JST.
    required: true
    type: str
  access_logs:
    description:
      - Globs of the nginx access logs (combined format), rotated files included.
      - The default also reads the logrotate role's archive, where rotated logs move after 30 days (a month
        reported in the next one is partly there already).
    type: list
    elements: str
    default: ["/var/log/nginx/*access.log*", "/var/log/anshin-archive/var/log/nginx/*access.log*"]
  database:
    description: The receiver's SQLite database. Counts of messages are skipped when empty.
    type: str
    default: /var/lib/lalert/receiver.sqlite3
  top_pages:
    description: How many pages to list; the rest are summed as C(その他).
    type: int
    default: 20
author: anshin-ops
"""

EXAMPLES = r"""
- name: Count November 2026
  anshin_monthly_usage:
    month: "2026-11"
  register: __usage
"""

RETURN = r"""
month:
  description: The month counted.
  returned: always
  type: str
  sample: "2026-11"
access:
  description: >-
    Requests per day (every day of the month, zeros included), per page (top_pages, then その他), per status
    class, the total, unparsable lines and the files read.
  returned: always
  type: dict
  sample: {"total": 3, "by_day": [{"day": "2026-11-01", "requests": 3, "2xx": 3, "3xx": 0, "4xx": 0,
           "5xx": 0}], "by_page": [{"page": "/", "requests": 3}], "by_status": {"2xx": 3}}
posts:
  description: Messages accepted in the month by category (received, published, exercise_or_test, cancels).
  returned: always
  type: list
  sample: [{"category": "EvacuationOrder", "received": 4, "published": 3, "exercise_or_test": 1, "cancels": 0}]
registered:
  description: Rows in the database at the end of the month by category and distribution status, and the
    documents the web side presents as real (current_real) by category.
  returned: always
  type: dict
"""

import calendar
import datetime
import glob
import os
import sqlite3

from ansible.module_utils.anshin_common import JST
from ansible.module_utils.anshin_logs import open_log, parse_combined
from ansible.module_utils.basic import AnsibleModule

CLASSES = ("2xx", "3xx", "4xx", "5xx")
DEFAULT_ACCESS_LOGS = ["/var/log/nginx/*access.log*", "/var/log/anshin-archive/var/log/nginx/*access.log*"]


def month_bounds(month):
    """(first day, epoch start, epoch end) of a 'YYYY-MM' month in JST; ValueError on anything else."""
    first = datetime.datetime.strptime(month, "%Y-%m").replace(tzinfo=JST)
    days = calendar.monthrange(first.year, first.month)[1]
    end = first + datetime.timedelta(days=days)
    return first, first.timestamp(), end.timestamp(), days


def count_access(month, globs, top):
    first, start, end, days = month_bounds(month)
    by_day = {
        (first + datetime.timedelta(days=i)).strftime("%Y-%m-%d"): dict.fromkeys(("requests",) + CLASSES, 0)
        for i in range(days)
    }
    slots = [by_day[day] for day in sorted(by_day)]
    pages, files, unparsable = {}, [], 0
    paths = sorted({p for g in globs for p in glob.glob(g) if os.path.isfile(p)})
    for path in paths:
        # a rotated file last written before the month holds none of its lines
        if os.path.getmtime(path) < start:
            continue
        entry = {"path": path, "lines": 0, "in_month": 0}
        try:
            with open_log(path) as lines:
                for line in lines:
                    entry["lines"] += 1
                    rec = parse_combined(line)
                    if rec is None:
                        unparsable += bool(line.strip())
                        continue
                    if not start <= rec["time"] < end:
                        continue
                    entry["in_month"] += 1
                    # JST has no daylight saving: day N of the month starts N * 86400 s after the first
                    slot = slots[int((rec["time"] - start) // 86400)]
                    slot["requests"] += 1
                    cls = f"{rec['status'] // 100}xx"
                    if cls in slot:
                        slot[cls] += 1
                    page = rec["path"].split("?", 1)[0] or "/"
                    pages[page] = pages.get(page, 0) + 1
        except (OSError, EOFError, ValueError) as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"
        files.append(entry)
    ranked = sorted(pages.items(), key=lambda kv: (-kv[1], kv[0]))
    by_page = [{"page": p, "requests": n} for p, n in ranked[:top]]
    if len(ranked) > top:
        by_page.append({"page": "その他", "requests": sum(n for _, n in ranked[top:])})
    rows = [dict(day=day, **counts) for day, counts in sorted(by_day.items())]
    return {
        "total": sum(r["requests"] for r in rows),
        "by_day": rows,
        "by_page": by_page,
        "by_status": {c: sum(r[c] for r in rows) for c in CLASSES},
        "unparsable": unparsable,
        "files": files,
    }


def count_database(month, database):
    """Posts accepted in the month and rows registered at its end, read-only (a running receiver is not
    disturbed; WAL readers do not block its writer)."""
    _, start, end, _ = month_bounds(month)
    if not database:
        return [], {"by_category_status": [], "current_real": []}
    if not os.path.exists(database):
        raise ValueError(f"database {database} does not exist")
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        posts = [
            dict(zip(("category", "received", "published", "exercise_or_test", "cancels"), row, strict=True))
            for row in conn.execute(
                "SELECT category, COUNT(*),"
                " SUM(is_real = 1 AND dist_type != 'Cancel'), SUM(is_real = 0), SUM(dist_type = 'Cancel')"
                " FROM messages WHERE received_at >= ? AND received_at < ? GROUP BY category ORDER BY category",
                (start, end),
            )
        ]
        by_status = [
            dict(zip(("category", "status", "rows"), row, strict=True))
            for row in conn.execute(
                "SELECT category, status, COUNT(*) FROM messages WHERE received_at < ?"
                " GROUP BY category, status ORDER BY category, status",
                (end,),
            )
        ]
        # what the web side presents as real at the end of the month (store.py's current_real, as of then)
        current = [
            dict(zip(("category", "documents"), row, strict=True))
            for row in conn.execute(
                "SELECT m.category, COUNT(*) FROM messages m WHERE m.received_at < :end AND m.is_real = 1"
                " AND m.dist_type != 'Cancel' AND m.revision = (SELECT MAX(revision)"
                " FROM messages WHERE document_id = m.document_id AND is_real = 1 AND received_at < :end)"
                # the real track only: a drill's Cancel or Update never hides a real document
                " AND NOT EXISTS (SELECT 1 FROM messages c WHERE c.document_id = m.document_id AND c.is_real = 1"
                " AND c.dist_type = 'Cancel' AND c.revision >= m.revision AND c.received_at < :end)"
                " GROUP BY m.category ORDER BY m.category",
                {"end": end},
            )
        ]
    finally:
        conn.close()
    return posts, {"by_category_status": by_status, "current_real": current}


def collect(params):
    posts, registered = count_database(params["month"], params["database"])
    return {
        "month": params["month"],
        "access": count_access(params["month"], params["access_logs"], params["top_pages"]),
        "posts": posts,
        "registered": registered,
    }


def main():
    module = AnsibleModule(
        argument_spec=dict(
            month=dict(type="str", required=True),
            access_logs=dict(type="list", elements="str", default=DEFAULT_ACCESS_LOGS),
            database=dict(type="str", default="/var/lib/lalert/receiver.sqlite3"),
            top_pages=dict(type="int", default=20),
        ),
        supports_check_mode=True,
    )
    try:
        month_bounds(module.params["month"])
    except ValueError:
        module.fail_json(msg=f"month: {module.params['month']!r} is not YYYY-MM")
    if module.params["top_pages"] < 1:
        module.fail_json(msg="top_pages: must be at least 1")
    try:
        result = collect(module.params)
    except (ValueError, sqlite3.Error) as exc:
        module.fail_json(msg=f"database {module.params['database']}: {exc}")
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()

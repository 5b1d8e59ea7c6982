#!/usr/bin/env python3
"""Log audit and monthly-count throughput on a 1,000,000-line combined access log, side by side with GoAccess.

    bench/log_audit_vs_goaccess.py [LINES] [ROUNDS]

Runs, on one generated file: the parser alone (access counting), the whole audit
(anshin_log_audit, access logs only), the monthly report's counts
(anshin_monthly_usage: per day, per page, per status class) and GoAccess (JSON
output); prints lines/s and ratios to GoAccess, and checks that the request
totals, the unparsable lines and the status-class counts equal GoAccess's.
Exit 1 when they differ.
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from anshin_ops.modules import load_module  # noqa: E402  (module_utils as Ansible ships them)

audit = load_module("anshin_log_audit")
usage = load_module("anshin_monthly_usage")
from ansible.module_utils.anshin_logs import parse_combined  # noqa: E402

CLASSES = {"1xx": "1xx", "2xx": "2xx", "3xx": "3xx", "4xx": "4xx", "5xx": "5xx"}


def best(fn, rounds):
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def parse_only(path):
    counts, bad = {}, 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            rec = parse_combined(line)
            if rec is None:
                bad += 1
                continue
            cls = f"{rec['status'] // 100}xx"
            counts[cls] = counts.get(cls, 0) + 1
    return {"requests": sum(counts.values()), "unparsable": bad, **counts}


def full_audit(path):
    r = audit.run(
        dict(
            audit.DEFAULTS,
            since="2026-11-27T00:00:00+09:00",
            until="2026-11-28T00:00:00+09:00",
            access_logs=[path],
            error_logs=[],
            auth_source="none",
            auth_files=[],
        )
    )
    c = r["counts"]
    return {
        "requests": c["requests"],
        "unparsable": c["unparsable_lines"],
        **{k: c["status_" + k] for k in CLASSES if c["status_" + k]},
    }, r


def monthly_counts(path):
    """The month the generated log lies in (gen_access_log.py writes 2026-11-27)."""
    got = usage.count_access("2026-11", [path], 20)
    return {
        "requests": got["total"],
        "unparsable": got["unparsable"],
        **{k: v for k, v in got["by_status"].items() if v},
    }


def goaccess(path, out):
    subprocess.run(
        ["goaccess", path, "--log-format=COMBINED", "--no-global-config", "-o", out],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    data = json.loads(pathlib.Path(out).read_text())
    counts = {"requests": data["general"]["valid_requests"], "unparsable": data["general"]["failed_requests"]}
    for row in data["status_codes"]["data"]:
        counts[row["data"][:3]] = row["hits"]["count"]
    return counts


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    if not shutil.which("goaccess"):
        sys.exit("goaccess is not installed: apt-get install goaccess")
    work = tempfile.mkdtemp(prefix="anshin-bench-")
    try:
        log = os.path.join(work, "access.log")
        subprocess.run([sys.executable, str(ROOT / "bench/gen_access_log.py"), log, str(lines)], check=True)
        size = os.path.getsize(log) / 2**20
        version = subprocess.run(["goaccess", "--version"], capture_output=True, text=True).stdout.split()[2]
        print(f"{lines:,} lines, {size:.0f} MiB, best of {rounds} rounds (goaccess {version.rstrip('.')})")
        t_go, go = best(lambda: goaccess(log, os.path.join(work, "goaccess.json")), rounds)
        t_parse, parsed = best(lambda: parse_only(log), rounds)
        t_audit, (audited, full) = best(lambda: full_audit(log), rounds)
        t_month, month = best(lambda: monthly_counts(log), rounds)
        print(f"{'':38}{'seconds':>9}{'lines/s':>12}{'vs goaccess':>13}")
        for name, t in (
            ("GoAccess 1.7 (JSON report)", t_go),
            ("parser only (access counting)", t_parse),
            ("anshin_log_audit (full audit)", t_audit),
            ("anshin_monthly_usage (monthly counts)", t_month),
        ):
            print(f"{name:38}{t:9.2f}{lines / t:12,.0f}{t_go / t:12.2f}x")
        print(f"\n{'':14}{'GoAccess':>10}{'parser':>10}{'audit':>10}{'monthly':>10}")
        same = True
        for key in ["requests", "unparsable", "1xx", "2xx", "3xx", "4xx", "5xx"]:
            row = [go.get(key, 0), parsed.get(key, 0), audited.get(key, 0), month.get(key, 0)]
            same &= len(set(row)) == 1
            print(f"{key:14}" + "".join(f"{v:10,}" for v in row) + ("" if len(set(row)) == 1 else "  DIFFERENT"))
        print(
            f"\naudit extras: {full['counts']['attack_requests']:,} attack-path requests, "
            f"{len(full['http_5xx_spikes'])} hours over the 5xx threshold"
        )
        print("totals and status classes equal GoAccess's" if same else "MISMATCH with GoAccess")
        return 0 if same else 1
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())

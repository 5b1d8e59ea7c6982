#!/usr/bin/env python3
"""What the receiver's request threads cost: its own work per message (parse, check, spool file, group
commit) with one request thread against several, in one process and without HTTP, side by side.

    bench/receiver_threads.py [COUNT] [THREADS] [ROUNDS]      default 4000 8 3

bench/receiver_throughput.sh measures the whole path (senders, nginx + TLS, waitress, the receiver); this
one isolates the receiver's Python. Each round publishes COUNT signed Exercise messages through
Receiver.handle into a new database and spool under /var/tmp (the file system of the VM's data), first
from one thread (no batches: a commit and an fsync per message), then from THREADS threads (group commit),
and prints the CPU time of the process per message (user and system) and the messages per second. Rounds
alternate; medians are printed. Run with the project's venv (bin/bootstrap):

    .venv/bin/python bench/receiver_threads.py
"""

import os
import pathlib
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "services/lalert_receiver/src"))

from lalert_receiver import app, config, sender, wsse  # noqa: E402

USER, PASSWORD = "bench", "bench-password-0123456789"


def one_round(count, threads, tag):
    work = tempfile.mkdtemp(prefix="anshin-bench-receiver.", dir="/var/tmp")
    spool = tempfile.mkdtemp(prefix="anshin-bench-spool.", dir="/dev/shm")
    try:
        cfg = config.Config(username=USER, password=PASSWORD, database=os.path.join(work, "r.sqlite3"), spool_dir=spool)
        receiver = app.Receiver(cfg)
        queue = [
            sender.envelope(sender.synthetic(f"{tag}-{i:06d}"), wsse.make_token(USER, PASSWORD)) for i in range(count)
        ]
        lock, failed = threading.Lock(), []

        def worker():
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                outcome = receiver.handle(body)
                if outcome != "stored":
                    failed.append(outcome)

        before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
        if failed:
            raise SystemExit(f"{len(failed)} messages not stored: {sorted(set(failed))}")
        return {
            "user": (after.ru_utime - before.ru_utime) / count * 1000,
            "sys": (after.ru_stime - before.ru_stime) / count * 1000,
            "rate": count / wall,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(spool, ignore_errors=True)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    results = {1: [], threads: []}
    for r in range(rounds):
        for n in results:
            results[n].append(one_round(count, n, f"T{n}R{r}"))

    def median(n, key):
        return statistics.median(result[key] for result in results[n])

    print(f"\nL-Alert receiver in one process, {count} Exercise messages per round, medians of {rounds} rounds")
    print(f"  {'request threads':34} {1:>10} {threads:>10} {'ratio':>8}")
    for key, label in (("user", "CPU per message, user (ms)"), ("sys", "CPU per message, system (ms)")):
        one, many = median(1, key), median(threads, key)
        print(f"  {label:34} {one:10.3f} {many:10.3f} {many / one:8.2f}")
    cpu1, cpun = median(1, "user") + median(1, "sys"), median(threads, "user") + median(threads, "sys")
    print(f"  {'CPU per message (ms)':34} {cpu1:10.3f} {cpun:10.3f} {cpun / cpu1:8.2f}")
    print(f"  {'messages per second':34} {median(1, 'rate'):10.0f} {median(threads, 'rate'):10.0f}")
    print("(one thread commits and fsyncs each message; the threads share commits, so any CPU they add")
    print(" per message is the cost of running the receiver's Python in several threads at once)")


if __name__ == "__main__":
    main()

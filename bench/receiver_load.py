"""Load generator run ON the L-Alert VM by bench/receiver_throughput.sh.

Publishes N synthetic Exercise messages (unique documentIDs) with C
concurrent senders through nginx + TLS on loopback, then counts rows (zero
lost, zero duplicated), and measures a plain SQLite insert loop of the same
rows with the same durability settings: the storage limit, as a baseline.
Prints one JSON object.
"""

import argparse
import http.client
import json
import os
import sqlite3
import ssl
import statistics
import tempfile
import threading
import time
import uuid

from lalert_receiver import sender, store, wsse


def publish_all(args, docs, password):
    ctx = ssl.create_default_context(cafile=args.cafile)
    latencies, failures, lock = [], [], threading.Lock()
    # signed before the clock starts: a sender's own CPU is not the receiver's cost (and shares these 2 cores)
    queue = [
        (doc, sender.envelope(sender.synthetic(doc), wsse.make_token(args.username, password)))
        for doc in reversed(docs)
    ]

    def worker():
        conn = http.client.HTTPSConnection("127.0.0.1", args.port, context=ctx, timeout=60)
        while True:
            with lock:
                if not queue:
                    break
                doc, body = queue.pop()
            start = time.perf_counter()
            conn.request("POST", args.path, body, {"Content-Type": "text/xml; charset=utf-8"})
            resp = conn.getresponse()
            text = resp.read()
            took = time.perf_counter() - start
            with lock:
                latencies.append(took)
                if resp.status != 200 or b"<code>0</code>" not in text:
                    failures.append((doc, resp.status))
        conn.close()

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start, latencies, failures


def sqlite_baseline(docs, database):
    """The same rows, same schema and settings (WAL, synchronous=FULL, a commit per row),
    on the same file system as the receiver's database, with nothing else in the way."""
    with tempfile.TemporaryDirectory(dir=os.path.dirname(database)) as tmp:
        spool = os.path.join(tmp, "spool")
        os.mkdir(spool)
        st = store.Store(os.path.join(tmp, "b.sqlite3"), spool)
        conn = st._conn()
        start = time.perf_counter()
        for doc in docs:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO messages (document_id, revision, distribution_id, sender_id, sent_at, received_at,"
                " status, dist_type, is_real, category, kind, code, headline, areas, area_codes, spool_file, raw)"
                " VALUES (?,1,?,'bench','',?, 'Exercise','Report',0,'EvacuationOrder','evacuation','','','[]',"
                "'362018','',?)",
                (doc, doc + "-d1", time.time(), sender.synthetic(doc)),
            )
            conn.execute("COMMIT")
        return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--port", type=int, default=443)
    parser.add_argument("--path", default="/lalert/publish")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password-file", default="/etc/lalert-receiver/password")
    parser.add_argument("--cafile", default="/etc/lalert-receiver/tls/receiver.crt")
    parser.add_argument("--database", default="/var/lib/lalert/receiver.sqlite3")
    args = parser.parse_args()
    with open(args.password_file, encoding="utf-8") as fh:
        password = fh.read().strip()
    run = "BENCH-" + uuid.uuid4().hex[:8]
    docs = [f"{run}-{i:06d}" for i in range(args.count)]

    wall, latencies, failures = publish_all(args, docs, password)
    with sqlite3.connect(args.database) as conn:
        rows, distinct = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT document_id) FROM messages WHERE document_id LIKE ?", (run + "-%",)
        ).fetchone()
        real = conn.execute("SELECT COUNT(*) FROM current_real WHERE document_id LIKE ?", (run + "-%",)).fetchone()[0]
    baseline = sqlite_baseline(docs, args.database)
    latencies.sort()
    print(
        json.dumps(
            {
                "run": run,
                "messages": args.count,
                "concurrency": args.concurrency,
                "failed_replies": len(failures),
                "rows": rows,
                "lost": args.count - distinct,
                "duplicated": rows - distinct,
                "presented_as_real": real,
                "publish_per_s": round(args.count / wall, 1),
                "p50_ms": round(statistics.median(latencies) * 1000, 2),
                "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
                "sqlite_insert_per_s": round(args.count / baseline, 1),
            }
        )
    )


if __name__ == "__main__":
    main()

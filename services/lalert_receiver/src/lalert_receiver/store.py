"""Durable storage: SQLite in WAL mode, and a spool of one file per message.

A message is committed to SQLite (synchronous=FULL) before the sender hears
success. Its spool file is written (temp file, fsync, rename) inside the same
transaction and removed again if the commit fails, so the two never disagree.
"""
import hashlib
import json
import os
import re
import sqlite3
import tempfile
import threading
import time

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    distribution_id TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    received_at REAL NOT NULL,
    status TEXT NOT NULL,
    dist_type TEXT NOT NULL,
    is_real INTEGER NOT NULL,
    category TEXT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    headline TEXT NOT NULL,
    areas TEXT NOT NULL,
    area_codes TEXT NOT NULL,
    cancelled INTEGER NOT NULL DEFAULT 0,
    spool_file TEXT NOT NULL,
    raw BLOB NOT NULL,
    UNIQUE (document_id, revision)
);
CREATE TABLE IF NOT EXISTS nonces (
    nonce TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nonces_seen_at ON nonces (seen_at);
-- What the web side may present as real: latest revision, not cancelled, Actual.
CREATE VIEW IF NOT EXISTS current_real AS
    SELECT m.* FROM messages m
    WHERE m.is_real = 1 AND m.cancelled = 0 AND m.dist_type != 'Cancel'
      AND m.revision = (SELECT MAX(revision) FROM messages WHERE document_id = m.document_id);
"""

SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Store:
    def __init__(self, database, spool_dir):
        self.database = database
        self.spool_dir = spool_dir
        self._local = threading.local()
        # one writer at a time inside the process: threads queue here instead of
        # in SQLite's busy handler, whose growing sleeps make latency spikes
        self._write_lock = threading.Lock()
        self._purged_at = 0.0
        with self._conn() as conn:
            conn.executescript(SCHEMA)

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.database, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    def _record_nonce(self, conn, nonce, window_seconds, now):
        """Inside a write transaction: False if the nonce is a replay."""
        if now - self._purged_at > 60:  # old nonces go at most once a minute
            conn.execute("DELETE FROM nonces WHERE seen_at < ?", (now - 2 * window_seconds,))
            self._purged_at = now
        try:
            conn.execute("INSERT INTO nonces (nonce, seen_at) VALUES (?, ?)", (nonce, now))
        except sqlite3.IntegrityError:
            return False
        return True

    def use_nonce(self, nonce, window_seconds):
        """Record a nonce alone (messages that are not stored); False on a replay."""
        conn = self._conn()
        with self._write_lock:
            conn.execute("BEGIN IMMEDIATE")
            try:
                fresh = self._record_nonce(conn, nonce, window_seconds, time.time())
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT" if fresh else "ROLLBACK")
        return fresh

    def accept(self, msg, summary, raw, nonce, window_seconds):
        """Record the nonce and store the message in one transaction.

        Returns 'stored', 'duplicate', 'older_revision' or 'replayed_nonce'.
        """
        with self._write_lock:
            return self._accept(msg, summary, raw, nonce, window_seconds)

    def _accept(self, msg, summary, raw, nonce, window_seconds):
        conn = self._conn()
        received = time.time()
        is_real = int(msg.is_actual and summary["real"])
        conn.execute("BEGIN IMMEDIATE")
        spool_path = None
        try:
            if not self._record_nonce(conn, nonce, window_seconds, received):
                conn.execute("ROLLBACK")
                return "replayed_nonce"
            latest = conn.execute("SELECT MAX(revision) FROM messages WHERE document_id = ?",
                                  (msg.document_id,)).fetchone()[0]
            if latest is not None and latest >= msg.revision:
                conn.execute("COMMIT")  # keeps the nonce: a replay of this request stays refused
                return "duplicate" if latest == msg.revision else "older_revision"
            record = {
                "document_id": msg.document_id, "revision": msg.revision,
                "distribution_id": msg.distribution_id, "sender_id": msg.sender_id,
                "sent_at": msg.date_time_sent, "received_at": received,
                "status": msg.status, "dist_type": msg.dist_type, "is_real": is_real,
                "category": msg.category, "kind": summary["kind"], "code": summary["code"],
                "headline": summary["headline"], "areas": summary["areas"],
                "area_codes": msg.area_codes, "area_names": msg.area_names,
                "label": summary["label"], "info_type": summary["info_type"],
            }
            spool_name = self._spool_name(msg)
            conn.execute(
                "INSERT INTO messages (document_id, revision, distribution_id, sender_id, sent_at,"
                " received_at, status, dist_type, is_real, category, kind, code, headline, areas,"
                " area_codes, spool_file, raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (msg.document_id, msg.revision, msg.distribution_id, msg.sender_id,
                 msg.date_time_sent, received, msg.status, msg.dist_type, is_real, msg.category,
                 summary["kind"], summary["code"], summary["headline"],
                 json.dumps(summary["areas"], ensure_ascii=False), ",".join(msg.area_codes),
                 spool_name, raw))
            if msg.dist_type == "Cancel":
                conn.execute("UPDATE messages SET cancelled = 1 WHERE document_id = ?", (msg.document_id,))
            spool_path = self._write_spool(spool_name, record, raw)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if spool_path:
                os.unlink(spool_path)
            raise
        return "stored"

    def _spool_name(self, msg):
        digest = hashlib.sha256(msg.document_id.encode("utf-8")).hexdigest()[:12]
        readable = SAFE.sub("_", msg.document_id)[:60]
        return f"{readable}-{digest}-r{msg.revision}.json"

    def _write_spool(self, name, record, raw):
        """Atomic: the web side sees the whole file or none of it."""
        record = dict(record, raw_xml=raw.decode("utf-8", errors="replace"))
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=self.spool_dir)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh, ensure_ascii=False, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o640)
            final = os.path.join(self.spool_dir, name)
            os.replace(tmp, final)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        dir_fd = os.open(self.spool_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return final

    # read side: health and metrics
    def ping(self):
        self._conn().execute("SELECT 1").fetchone()

    def summary(self):
        """Rows and the latest message received: the facts a restored copy must match."""
        conn = self._conn()
        rows = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        latest = conn.execute("SELECT document_id, revision FROM messages ORDER BY id DESC LIMIT 1").fetchone()
        return {"messages": rows, "latest_document_id": latest[0] if latest else None,
                "latest_revision": latest[1] if latest else None}

    def counts(self):
        rows = self._conn().execute(
            "SELECT CASE WHEN kind = 'unknown' THEN category ELSE kind END, status, COUNT(*)"
            " FROM messages GROUP BY 1, 2").fetchall()
        return rows

    def last_real_received(self):
        value = self._conn().execute("SELECT MAX(received_at) FROM messages WHERE is_real = 1").fetchone()[0]
        return value or 0.0

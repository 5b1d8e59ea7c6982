"""Durable storage: SQLite in WAL mode, and a spool of one file per message.

A message is committed to SQLite (synchronous=FULL) before the sender hears
success: the database is the record. Its spool file (what the web side reads)
is written to a temporary name by the request's own thread before the
transaction and renamed into place after the commit, before the answer: the
web side never sees a message that is not committed, and a full disk fails
the request before anything is stored. The spool is derived from the
database: it is not fsynced per file; at start-up repair_spool() rewrites any
file a crash left missing or torn and removes the temporary files of writers
that are gone, and a repeat (or a replay, still refused) of a stored message
puts back a spool file that is missing.

Group commit: requests that arrive together are written in one transaction
(one WAL fsync for all of them). The first waiting thread leads and writes
the batch; the others wait for its commit. Each request has its own
savepoint, so one bad request fails alone. The batch's leader only runs SQL:
the spool files are written by each request's thread, outside the write lock.

Tracks: real traffic (Actual, payload status 通常) and non-real traffic
(Exercise, Test, System, or a payload saying 訓練/試験) are kept apart. The
same documentID on the two tracks are two documents: a drill can neither
supersede, cancel nor duplicate a real alert, and current_real reads the real
track only.

Revisions: a higher revision supersedes; an equal one is a duplicate (or a
conflict, when its content differs: the first is kept, the second recorded
in `conflicts`); a lower one is older and ignored. A Cancel cancels its
revision and every lower one on its track. An Update with a higher revision
than the Cancel arrives later: it is the sender's latest word and is shown
again (current_real takes the highest revision of the real track).
"""

import contextlib
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time

from . import edxl, payload
from .errors import Reject

SCHEMA_VERSION = 1

TABLES = """
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
    content_sha256 TEXT,
    UNIQUE (document_id, is_real, revision)
);
CREATE INDEX IF NOT EXISTS messages_received_at ON messages (received_at);
CREATE TABLE IF NOT EXISTS nonces (
    nonce TEXT PRIMARY KEY,
    seen_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS nonces_seen_at ON nonces (seen_at);
-- the highest revision a purge removed, per document and track: a late resend of a purged
-- (perhaps cancelled) document stays older and is never shown again
CREATE TABLE IF NOT EXISTS purged (
    document_id TEXT NOT NULL,
    is_real INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (document_id, is_real)
);
-- same documentID and revision, other content: the first is kept, these are the evidence
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY,
    document_id TEXT NOT NULL,
    revision INTEGER NOT NULL,
    is_real INTEGER NOT NULL,
    received_at REAL NOT NULL,
    kept_sha256 TEXT,
    content_sha256 TEXT NOT NULL,
    raw BLOB NOT NULL
);
"""

VIEWS = """
-- What the web side may present as real: the real track's latest revision, not cancelled.
CREATE VIEW IF NOT EXISTS current_real AS
    SELECT m.* FROM messages m
    WHERE m.is_real = 1 AND m.cancelled = 0 AND m.dist_type != 'Cancel'
      AND m.revision = (SELECT MAX(revision) FROM messages
                        WHERE document_id = m.document_id AND is_real = 1);
-- The same for drills and tests (Exercise, Test, System, 訓練, 試験): never shown as real.
CREATE VIEW IF NOT EXISTS current_drill AS
    SELECT m.* FROM messages m
    WHERE m.is_real = 0 AND m.cancelled = 0 AND m.dist_type != 'Cancel'
      AND m.revision = (SELECT MAX(revision) FROM messages
                        WHERE document_id = m.document_id AND is_real = 0);
"""

SCHEMA = TABLES + VIEWS  # what readers and test fixtures build a database from

# version 0 → 1: one (documentID, revision) per track instead of one overall, the content
# digest, and cancellations recomputed per track (a drill Cancel may have marked real rows)
MIGRATE_0_TO_1 = """
DROP VIEW IF EXISTS current_real;
ALTER TABLE messages RENAME TO messages_v0;
{tables}
INSERT INTO messages (id, document_id, revision, distribution_id, sender_id, sent_at, received_at,
    status, dist_type, is_real, category, kind, code, headline, areas, area_codes, cancelled,
    spool_file, raw)
    SELECT id, document_id, revision, distribution_id, sender_id, sent_at, received_at, status,
        dist_type, is_real, category, kind, code, headline, areas, area_codes, 0, spool_file, raw
    FROM messages_v0;
DROP TABLE messages_v0;
UPDATE OR IGNORE messages SET document_id = nfkc(document_id);
UPDATE messages SET cancelled = EXISTS (SELECT 1 FROM messages c WHERE c.document_id = messages.document_id
    AND c.is_real = messages.is_real AND c.dist_type = 'Cancel' AND c.revision >= messages.revision);
"""

log = logging.getLogger("lalert_receiver")
SAFE = re.compile(r"[^A-Za-z0-9._-]+")
FILE_MODE = 0o640
MAX_BATCH = 64
# a crash can tear only the spool files written just before it: those are re-read at start-up
REPAIR_RECENT_SECONDS = 600


class _Pending:
    """One write waiting for a group commit: work(conn, now) -> result. Its thread sleeps on a
    lock of its own until the write is done or it is asked to lead the next batch: one wake-up
    per request, not every waiting thread woken for every batch."""

    __slots__ = ("_wake", "done", "error", "leads", "result", "work")

    def __init__(self, work):
        self.work, self.done, self.result, self.error, self.leads = work, False, None, None, False
        self._wake = threading.Lock()
        self._wake.acquire()

    def wait(self):
        self._wake.acquire()

    def wake(self):
        self._wake.release()

    def outcome(self):
        if self.error is not None:
            raise self.error
        return self.result


class Store:
    def __init__(self, database, spool_dir):
        self.database = database
        self.spool_dir = spool_dir
        self._local = threading.local()
        self._queue_lock = threading.Lock()
        self._queue = []
        self._leading = False  # a batch is being written; when False, nobody is queued
        self._stored_in_batch = set()  # (documentID, is_real, revision) the batch being written stored
        self._purged_at = 0.0
        self._secure_files()
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            self._migrate(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._secure_files()
        self._identity = _identity(self.database)  # the file this process writes (file_problems)

    def repair_spool(self):
        """Make the spool match the database: rewrite missing or torn files of stored
        messages (from their raw request), remove files no row names (never acknowledged)
        and the temporary files of writers that are gone. Run before serving. Returns the counts.

        Under the database's write lock: a final spool file appears only after its row is
        committed, so none of another running receiver's is taken for unacknowledged; its
        temporary files (written before its transactions) are left to it."""
        conn = self._conn()
        done = {"rewritten": 0, "removed": 0, "failed": 0}
        conn.execute("BEGIN IMMEDIATE")
        try:
            on_disk = set(os.listdir(self.spool_dir))
            named = {}
            newest = 0.0
            for row_id, spool_file, received in conn.execute("SELECT id, spool_file, received_at FROM messages"):
                named[spool_file] = (row_id, received)
                newest = max(newest, received)
            for name in sorted(on_disk - set(named)):
                if name.startswith(".tmp-") and not self._stale_temp(name):
                    continue
                if name.endswith(".json") or name.startswith(".tmp-"):
                    _unlink_quietly(os.path.join(self.spool_dir, name))
                    done["removed"] += 1
            for name, (row_id, received) in named.items():
                if name in on_disk and (received < newest - REPAIR_RECENT_SECONDS or self._spool_ok(name)):
                    continue
                try:
                    self._rewrite_spool(conn, row_id)
                    done["rewritten"] += 1
                except Exception as exc:  # one unreadable old row must not keep the receiver from serving
                    log.error("spool file %s of row %s not rewritten: %s", name, row_id, exc)
                    done["failed"] += 1
            if done["rewritten"] or done["removed"]:
                self._fsync_dir(self.spool_dir)
        finally:
            conn.execute("COMMIT")
        return done

    def _stale_temp(self, name):
        """A temporary spool file whose writer process is gone, or older than any request takes
        (.tmp-PID-THREAD-NAME: a receiver started by hand beside the service leaves its files)."""
        try:
            pid = int(name.split("-", 2)[1])
            if time.time() - os.stat(os.path.join(self.spool_dir, name)).st_mtime > REPAIR_RECENT_SECONDS:
                return True
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:  # another user's process: alive
            return False
        except (ValueError, IndexError, OSError):  # not ours, or already gone
            return True
        return False  # its writer runs: the file is renamed or removed by it

    def _spool_ok(self, name):
        try:
            with open(os.path.join(self.spool_dir, name), encoding="utf-8") as fh:
                return "raw_xml" in json.load(fh)
        except (OSError, ValueError):
            return False

    def _rewrite_spool(self, conn, row_id):
        raw, received, is_real, spool_file = conn.execute(
            "SELECT raw, received_at, is_real, spool_file FROM messages WHERE id = ?", (row_id,)
        ).fetchone()
        token, root, text = edxl.parse_request(raw)
        msg = edxl.parse_edxl(root)
        record = _record(msg, payload.summarise(msg.payload), received, is_real)
        tmp = self._write_spool(spool_file, record, edxl.spool_text(text, token))
        try:
            with open(tmp, "rb") as fh:  # repaired files are made durable one by one
                os.fsync(fh.fileno())
            os.replace(tmp, os.path.join(self.spool_dir, spool_file))
        finally:
            _unlink_quietly(tmp)

    def _secure_files(self):
        """0640 whatever the umask of whoever creates the database (SQLite gives the
        -wal and -shm files the database file's mode). By path only: closing any
        descriptor of the database file would drop this process's SQLite locks on it."""
        with contextlib.suppress(FileExistsError):
            os.close(os.open(self.database, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE))
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(self.database + suffix, FILE_MODE)

    def _migrate(self, conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"database schema {version} is newer than this receiver's {SCHEMA_VERSION}")
        old = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'messages'").fetchone()
        if version == 0 and old:
            conn.create_function("nfkc", 1, lambda text: edxl.normalise(text) if text else text)
            for statement in MIGRATE_0_TO_1.format(tables=TABLES).split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            self._rename_drill_spool_files(conn)
        for statement in (TABLES + VIEWS).split(";\n"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _rename_drill_spool_files(self, conn):
        """Version 0 named a drill's spool file like a real one's: give it the drill track's name,
        so a real message of the same documentID and revision never shares (or overwrites) it."""
        rows = conn.execute(
            "SELECT id, spool_file FROM messages WHERE is_real = 0 AND spool_file NOT LIKE '%-drill-r%'"
        )
        for row_id, name in rows.fetchall():
            new = re.sub(r"-r(\d+)\.json$", r"-drill-r\1.json", name)
            if new == name:
                continue
            with contextlib.suppress(FileNotFoundError):  # repair_spool writes it again
                os.replace(os.path.join(self.spool_dir, name), os.path.join(self.spool_dir, new))
            conn.execute("UPDATE messages SET spool_file = ? WHERE id = ?", (new, row_id))

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.database, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA busy_timeout=30000")
            self._local.conn = conn
        return conn

    # write side: every write goes through one group commit
    def _submit(self, work):
        pending, batch = _Pending(work), []
        with self._queue_lock:
            self._queue.append(pending)
            lead, self._leading = not self._leading, True
        if not lead:
            try:
                pending.wait()
            except BaseException:  # interrupted while queued: never leave the others without a leader
                self._abandon(pending)
                raise
            if pending.done:
                return pending.outcome()
        # leading: this request is the first queued, so it is in the batch
        try:
            with self._queue_lock:
                batch = self._queue[:MAX_BATCH]
                del self._queue[: len(batch)]
            self._write_batch(batch)
        finally:
            self._hand_over()
            for other in batch:
                if other is not pending:
                    other.wake()
        return pending.outcome()

    def _hand_over(self):
        """The first request still waiting leads the next batch; with none, nobody leads."""
        with self._queue_lock:
            self._hand_over_locked()

    def _hand_over_locked(self):
        if self._queue:
            self._queue[0].leads = True
            self._queue[0].wake()  # it wakes not done: it leads
        else:
            self._leading = False

    def _abandon(self, pending):
        """A queued request that stops waiting leaves the queue; if it was to lead, the next one does."""
        with self._queue_lock:
            if pending in self._queue:
                self._queue.remove(pending)
            if pending.leads and not pending.done:
                self._hand_over_locked()

    def _write_batch(self, batch):
        """One transaction for the batch; every request of it is done afterwards, whatever fails."""
        conn = None
        try:
            conn = self._conn()
            now = time.time()
            self._stored_in_batch.clear()
            conn.execute("BEGIN IMMEDIATE")
            for pending in batch:
                conn.execute("SAVEPOINT request")
                try:
                    pending.result = pending.work(conn, now)
                except Exception as exc:  # this request fails alone (a defect of it included)
                    conn.execute("ROLLBACK TO request")
                    pending.result, pending.error = None, exc
                conn.execute("RELEASE request")
            conn.execute("COMMIT")
        except BaseException as exc:
            # first: nobody of this batch hears success; then the clean-up, which may fail too
            failure = exc if isinstance(exc, Exception) else OSError("write interrupted")
            for pending in batch:
                if pending.error is None:
                    pending.result, pending.error = None, failure
            try:
                if conn is not None and conn.in_transaction:
                    conn.execute("ROLLBACK")
            except Exception as rollback_error:  # the connection is unusable: a new one next time
                log.error("rollback failed: %s", rollback_error)
                self._local.conn = None
        finally:
            for pending in batch:
                pending.done = True

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
        return self._submit(lambda conn, now: self._record_nonce(conn, nonce, window_seconds, now))

    def accept(self, msg, summary, raw, nonce, window_seconds, text=None, digest=None):
        """Record the nonce and store the message in one transaction; its spool file is in
        place when this returns 'stored' (a repeat or a replay of a stored message whose file
        is missing puts it back).

        raw: the request as received (bytes, kept as evidence); text: the request decoded
        (what the spool file carries); digest: a function giving the content digest of
        this message, called only when its documentID and revision are already stored.
        Returns 'stored', 'duplicate', 'conflict', 'older_revision' or 'replayed_nonce'.
        """
        text = raw.decode("utf-8", errors="replace") if text is None else text
        received = time.time()
        is_real = int(msg.is_actual and summary["real"])
        spool_name = self._spool_name(msg, is_real)
        # before the transaction, in this thread: a full disk fails here, with nothing stored
        tmp = self._write_spool(spool_name, _record(msg, summary, received, is_real), text)
        key = (msg.document_id, is_real, msg.revision)

        def work(conn, now):
            outcome = self._accept(
                conn, received, msg, is_real, spool_name, summary, raw, nonce, window_seconds, digest
            )
            return outcome, key in self._stored_in_batch  # then its own request puts the file in place

        try:
            outcome, stored_in_batch = self._submit(work)
            final = os.path.join(self.spool_dir, spool_name)
            if outcome == "stored":
                os.replace(tmp, final)
                tmp = None
            elif (
                outcome in ("duplicate", "conflict", "replayed_nonce")
                and not stored_in_batch
                and not os.path.exists(final)
            ):
                _unlink_quietly(tmp)  # the file is made from the stored row, not from this request
                tmp = None
                self._respool(*key)
        finally:
            if tmp:
                try:
                    _unlink_quietly(tmp)
                except OSError as exc:  # repair_spool removes it at the next start
                    log.error("temporary spool file %s not removed: %s", tmp, exc)
        return outcome

    def _respool(self, document_id, is_real, revision):
        """A repeat found its message stored but not spooled (a crash between the commit and the
        rename, or a failed rename): the web side must not miss it until the next start. The file
        is made from the stored row, as repair_spool() makes it."""
        conn = self._conn()
        row = conn.execute(
            "SELECT id FROM messages WHERE document_id = ? AND is_real = ? AND revision = ?",
            (document_id, is_real, revision),
        ).fetchone()
        if row:  # purged meanwhile: nothing to show
            self._rewrite_spool(conn, row[0])
            log.warning("spool file of %s r%d was missing: written again from the database", document_id, revision)

    def _accept(self, conn, received, msg, is_real, spool_name, summary, raw, nonce, window_seconds, digest):
        if not self._record_nonce(conn, nonce, window_seconds, received):
            return "replayed_nonce"
        latest = conn.execute(
            "SELECT MAX(r) FROM (SELECT MAX(revision) AS r FROM messages WHERE document_id = ?1 AND is_real = ?2"
            " UNION ALL SELECT revision FROM purged WHERE document_id = ?1 AND is_real = ?2)",
            (msg.document_id, is_real),
        ).fetchone()[0]
        if latest is not None and latest > msg.revision:
            return "older_revision"  # the nonce is kept: a replay of this request stays refused
        if latest == msg.revision:
            row = conn.execute(
                "SELECT id, content_sha256, raw FROM messages WHERE document_id = ? AND is_real = ? AND revision = ?",
                (msg.document_id, is_real, msg.revision),
            ).fetchone()
            if digest is None or row is None:  # no digest asked for, or the row was purged
                return "duplicate"
            row_id, kept, kept_raw = row
            try:
                content_sha256 = digest()
            except Exception:  # unreadable for the digest (e.g. nested too deep): kept as evidence
                content_sha256 = "unreadable"
            if kept is None:  # digests are made only when a repeat arrives: the first one's now
                kept = _digest_of_raw(kept_raw)
                conn.execute("UPDATE messages SET content_sha256 = ? WHERE id = ?", (kept, row_id))
            if kept in (None, content_sha256):
                return "duplicate"
            conn.execute(
                "INSERT INTO conflicts (document_id, revision, is_real, received_at, kept_sha256, content_sha256, raw)"
                " VALUES (?,?,?,?,?,?,?)",
                (msg.document_id, msg.revision, is_real, received, kept, content_sha256, raw),
            )
            return "conflict"
        conn.execute(
            "INSERT INTO messages (document_id, revision, distribution_id, sender_id, sent_at,"
            " received_at, status, dist_type, is_real, category, kind, code, headline, areas,"
            " area_codes, spool_file, raw, content_sha256) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                msg.document_id, msg.revision, msg.distribution_id, msg.sender_id, msg.date_time_sent,
                received, msg.status, msg.dist_type, is_real, msg.category, summary["kind"], summary["code"],
                summary["headline"], json.dumps(summary["areas"], ensure_ascii=False), ",".join(msg.area_codes),
                spool_name, raw, None,
            ),
        )  # fmt: skip
        if msg.dist_type == "Cancel":
            conn.execute(
                "UPDATE messages SET cancelled = 1 WHERE document_id = ? AND is_real = ? AND revision <= ?",
                (msg.document_id, is_real, msg.revision),
            )
        self._stored_in_batch.add((msg.document_id, is_real, msg.revision))
        return "stored"

    def _spool_name(self, msg, is_real):
        digest = hashlib.sha256(msg.document_id.encode("utf-8")).hexdigest()[:12]
        # never a leading dot: a hidden file, or one named like a temporary one, the web side skips
        readable = SAFE.sub("_", msg.document_id)[:60].lstrip(".") or "_"
        track = "" if is_real else "-drill"
        return f"{readable}-{digest}{track}-r{msg.revision}.json"

    def _write_spool(self, name, record, text):
        """The spool file under a temporary name of its own (requests write theirs at the same
        time); the caller renames it into place: the web side sees the whole file or none of it.
        Not fsynced: the database is the record, and repair_spool() restores what a crash tore."""
        record = dict(record, raw_xml=text)
        tmp = os.path.join(self.spool_dir, f".tmp-{os.getpid()}-{threading.get_ident()}-{name}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                os.fchmod(fh.fileno(), FILE_MODE)  # whatever the umask
                fh.write(json.dumps(record, ensure_ascii=False))  # the C encoder (indent= takes the Python one)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp

    @staticmethod
    def _fsync_dir(path):
        dir_fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # retention
    def purge(self, older_than, batch=500):
        """Delete messages and conflicts received before older_than (epoch seconds), never
        a row current_real shows, and their spool files. Returns the counts."""
        conn = self._conn()
        deleted = {"messages": 0, "conflicts": 0, "spool_files": 0}
        while True:
            # small transactions: the receiver's writes get in between
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = conn.execute(
                    "SELECT id, spool_file FROM messages WHERE received_at < ?"
                    " AND id NOT IN (SELECT id FROM current_real) LIMIT ?",
                    (older_than, batch),
                ).fetchall()
                # remember the highest revision removed, so a late resend stays older
                conn.executemany(
                    "INSERT INTO purged (document_id, is_real, revision) SELECT document_id, is_real, revision"
                    " FROM messages WHERE id = ? ON CONFLICT (document_id, is_real)"
                    " DO UPDATE SET revision = MAX(revision, excluded.revision)",
                    [(row[0],) for row in rows],
                )
                conn.executemany("DELETE FROM messages WHERE id = ?", [(row[0],) for row in rows])
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            for _, spool_file in rows:
                still_named = conn.execute("SELECT 1 FROM messages WHERE spool_file = ?", (spool_file,)).fetchone()
                if not still_named and _unlink_quietly(os.path.join(self.spool_dir, spool_file)):
                    deleted["spool_files"] += 1
            deleted["messages"] += len(rows)
            if len(rows) < batch:
                break
        cursor = conn.execute("DELETE FROM conflicts WHERE received_at < ?", (older_than,))
        deleted["conflicts"] = cursor.rowcount
        return deleted

    # read side: health, metrics and the area filter
    def knows(self, document_id):
        """Whether a message of this documentID is stored, on either track."""
        return (
            self._conn().execute("SELECT 1 FROM messages WHERE document_id = ? LIMIT 1", (document_id,)).fetchone()
            is not None
        )

    def file_problems(self):
        """Why what this process stores would be lost although each commit succeeds: the database at its
        path is not the file open here (removed or replaced under it), or its -wal or -shm file was removed
        (this process then commits into unlinked files, which the next start does not find)."""
        if _identity(self.database) != self._identity:
            return [f"database {self.database} was removed or replaced while the receiver runs: restart it"]
        return [
            f"{self.database}{suffix} was removed while the receiver runs: restart it"
            for suffix in ("-wal", "-shm")
            if not os.path.exists(self.database + suffix)
        ]

    def ping(self):
        self._conn().execute("SELECT 1").fetchone()

    def summary(self):
        """Rows and the latest message received: the facts a restored copy must match."""
        conn = self._conn()
        rows = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        latest = conn.execute("SELECT document_id, revision FROM messages ORDER BY id DESC LIMIT 1").fetchone()
        return {
            "messages": rows,
            "latest_document_id": latest[0] if latest else None,
            "latest_revision": latest[1] if latest else None,
        }

    def counts(self):
        rows = (
            self._conn()
            .execute(
                "SELECT CASE WHEN kind = 'unknown' THEN category ELSE kind END, status, COUNT(*)"
                " FROM messages GROUP BY 1, 2"
            )
            .fetchall()
        )
        return rows

    def conflict_count(self):
        return self._conn().execute("SELECT COUNT(*) FROM conflicts").fetchone()[0]

    def last_real_received(self):
        value = self._conn().execute("SELECT MAX(received_at) FROM messages WHERE is_real = 1").fetchone()[0]
        return value or 0.0

    def sizes(self):
        """Bytes of the database (with its WAL) and of the spool, and the spool's files."""
        database = sum(_size(self.database + suffix) for suffix in ("", "-wal"))
        spool_bytes = spool_files = 0
        with os.scandir(self.spool_dir) as entries:
            for entry in entries:
                if entry.is_file(follow_symlinks=False) and entry.name.endswith(".json") and entry.name[0] != ".":
                    spool_files += 1
                    spool_bytes += entry.stat(follow_symlinks=False).st_size
        return {"database_bytes": database, "spool_bytes": spool_bytes, "spool_files": spool_files}


def _record(msg, summary, received, is_real):
    """What a spool file says of a message (besides its raw text)."""
    return {
        "document_id": msg.document_id,
        "revision": msg.revision,
        "distribution_id": msg.distribution_id,
        "sender_id": msg.sender_id,
        "sent_at": msg.date_time_sent,
        "received_at": received,
        "status": msg.status,
        "dist_type": msg.dist_type,
        "is_real": is_real,
        "category": msg.category,
        "kind": summary["kind"],
        "code": summary["code"],
        "headline": summary["headline"],
        "areas": summary["areas"],
        "area_codes": msg.area_codes,
        "area_names": msg.area_names,
        "label": summary["label"],
        "info_type": summary["info_type"],
    }


def _digest_of_raw(raw):
    """The kept message's digest; "unreadable" as for a repeat (e.g. nested too deep for the digest):
    an exception here failed every later repeat of it with storage_error"""
    try:
        return edxl.content_digest(edxl.parse_request(raw)[1])
    except Reject:
        return None
    except Exception:
        return "unreadable"


def _identity(path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_dev, st.st_ino


def _size(path):
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return 0


def _unlink_quietly(path):
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False

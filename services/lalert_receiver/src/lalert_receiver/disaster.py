"""Is a disaster in progress? The maintenance run asks before any change
(`lalert-receiver --disaster-check --kinds weather,tsunami --hours 6`).

A disaster: a real message (current_real: not Exercise/Test/System, not cancelled, the
latest revision) of one of the given kinds received within the last hours. The database
is opened read-only. When it cannot be read (missing, not a receiver database, locked,
damaged) the caller is told so, never "no disaster": the gate fails closed.
"""

import sqlite3
import time
import urllib.parse


class Unreadable(RuntimeError):
    """The receiver's state cannot be read: nobody can say there is no disaster."""


def disaster_messages(database, kinds, hours, now=None):
    """{kind: count} of real messages of these kinds received in the last hours (kinds with none
    are left out). Raises Unreadable."""
    if not kinds or hours < 0:
        raise ValueError("needs at least one kind and hours >= 0")
    now = time.time() if now is None else now
    uri = "file:" + urllib.parse.quote(database) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise Unreadable(f"cannot open {database}: {exc}") from None
    try:
        marks = ",".join("?" * len(kinds))
        found = conn.execute(
            f"SELECT kind, COUNT(*) FROM current_real WHERE kind IN ({marks}) AND received_at > ? GROUP BY kind",
            [*kinds, now - hours * 3600],
        ).fetchall()
    except sqlite3.Error as exc:  # no such file (mode=ro opens lazily), no view, locked, not a database
        raise Unreadable(f"cannot read {database}: {exc}") from None
    finally:
        conn.close()
    return dict(found)

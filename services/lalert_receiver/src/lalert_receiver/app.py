"""WSGI application: POST publish (SOAP 1.1), GET /healthz, GET /metrics."""

import datetime
import json
import logging
import os
import threading
import time
from xml.sax.saxutils import escape

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from . import edxl, payload, wsse
from .errors import Reject
from .store import Store

log = logging.getLogger("lalert_receiver")

RESPONSE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soap:Envelope xmlns:soap="{edxl.SOAP11_NS}"><soap:Body>'
    f'<pcs:publishResponse xmlns:pcs="{edxl.PCS_NS}"><code>0</code></pcs:publishResponse>'
    "</soap:Body></soap:Envelope>\n"
)


def fault(reject):
    side = "Client" if reject.client else "Server"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{edxl.SOAP11_NS}"><soap:Body><soap:Fault>'
        f"<faultcode>soap:{side}</faultcode><faultstring>{escape(reject.message)}</faultstring>"
        f'<detail><pcs:reason xmlns:pcs="{edxl.PCS_NS}">{escape(reject.reason)}</pcs:reason></detail>'
        "</soap:Fault></soap:Body></soap:Envelope>\n"
    )


def replayed():
    return Reject("replayed_nonce", "this Nonce was already used: the request is a replay")


class Metrics:
    """In-process counters; stored totals come from the database at scrape time.

    Written with prometheus_client, which escapes label values as the exposition
    format says: a category with a quote or a newline cannot forge a line.
    """

    OUTCOMES = ("stored", "duplicate", "conflict", "older_revision", "filtered", "rejected")
    # the kinds of titles.json are about ten; the rest is room for the categories of unknown payloads
    MAX_CATEGORIES = 30
    OTHER = "(other)"

    def __init__(self, store):
        self._lock = threading.Lock()
        self.outcomes = {}
        self.rejects = {}
        self.store = store
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)

    @classmethod
    def bounded_counts(cls, rows):
        """{(category, status): count} with at most MAX_CATEGORIES categories: an unknown payload's category
        is the sender's free text, and one series per spelling would grow the monitoring host's storage
        without bound; the least stored fold into OTHER (ties by name, so the series are stable)."""
        totals = {}
        for category, _, count in rows:
            totals[category] = totals.get(category, 0) + count
        kept = set(sorted(totals, key=lambda c: (-totals[c], c))[: cls.MAX_CATEGORIES])
        bounded = {}
        for category, status, count in rows:
            key = (category if category in kept else cls.OTHER, status)
            bounded[key] = bounded.get(key, 0) + count
        return bounded

    def outcome(self, name):
        with self._lock:
            self.outcomes[name] = self.outcomes.get(name, 0) + 1

    def reject(self, reason):
        with self._lock:
            self.rejects[reason] = self.rejects.get(reason, 0) + 1

    def collect(self):
        with self._lock:
            outcomes, rejects = dict(self.outcomes), dict(self.rejects)
        published = CounterMetricFamily("lalert_publish", "Publish requests answered, by outcome.", labels=["outcome"])
        for name in self.OUTCOMES:
            published.add_metric([name], outcomes.get(name, 0))
        yield published
        refused = CounterMetricFamily(
            "lalert_rejects", "Requests refused with a SOAP Fault, by reason.", labels=["reason"]
        )
        for reason, count in sorted(rejects.items()):
            refused.add_metric([reason], count)
        yield refused
        stored = GaugeMetricFamily(
            "lalert_messages_stored",
            f"Messages in the database, by category and status (beyond {self.MAX_CATEGORIES} categories, the"
            f" least stored are counted as {self.OTHER!r}).",
            labels=["category", "status"],
        )
        for (category, status), count in sorted(self.bounded_counts(self.store.counts()).items()):
            stored.add_metric([category, status], count)
        yield stored
        yield GaugeMetricFamily(
            "lalert_conflicts_stored",
            "Messages that repeated a documentID and revision with other content (kept apart).",
            value=self.store.conflict_count(),
        )
        yield GaugeMetricFamily(
            "lalert_last_real_message_timestamp_seconds",
            "When the last real (Actual) message arrived.",
            value=self.store.last_real_received(),
        )
        sizes = self.store.sizes()
        yield GaugeMetricFamily(
            "lalert_database_bytes", "Size of the database and its WAL.", value=sizes["database_bytes"]
        )
        yield GaugeMetricFamily("lalert_spool_bytes", "Size of the spool files.", value=sizes["spool_bytes"])
        yield GaugeMetricFamily("lalert_spool_files", "Spool files.", value=sizes["spool_files"])

    def render(self):
        return generate_latest(self.registry).decode("utf-8")


def storage_problems(config, recent_error=None):
    """Why a publish would fail now: file systems full, read-only or not writable."""
    problems = []
    database_dir = os.path.dirname(config.database) or "."
    for label, path in (("database", database_dir), ("spool", config.spool_dir)):
        try:
            fs = os.statvfs(path)
        except OSError as exc:
            problems.append(f"{label} directory {path}: {exc.strerror}")
            continue
        free_mb = fs.f_bavail * fs.f_frsize // (1024 * 1024)
        if fs.f_flag & os.ST_RDONLY:
            problems.append(f"{label} file system ({path}) is read-only")
        elif not os.access(path, os.W_OK):
            problems.append(f"{label} directory {path} is not writable")
        if free_mb < config.min_free_mb:
            problems.append(f"{label} file system ({path}) has {free_mb} MiB free, below {config.min_free_mb} MiB")
        if fs.f_files and not fs.f_favail:
            problems.append(f"{label} file system ({path}) has no free inodes")
    if os.path.exists(config.database) and not os.access(config.database, os.W_OK):
        problems.append(f"database {config.database} is not writable")
    if recent_error:
        problems.append(f"the last publish failed to store: {recent_error}")
    return problems


class Receiver:
    def __init__(self, config, store=None, clock=None):
        self.config = config
        self.store = store or Store(config.database, config.spool_dir)
        self.metrics = Metrics(self.store)
        self.clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))
        self._storage_error = (0.0, "")  # (when, what): health reports it for a minute

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        if path == self.config.publish_path:
            if method != "POST":
                return self._reply(start_response, "405 Method Not Allowed", "text/plain", "POST only\n")
            return self._publish(environ, start_response)
        if path == "/healthz" and method in ("GET", "HEAD"):
            return self._health(start_response)
        if path == "/metrics" and method == "GET":
            return self._reply(start_response, "200 OK", CONTENT_TYPE_LATEST, self.metrics.render())
        return self._reply(start_response, "404 Not Found", "text/plain", "not found\n")

    @staticmethod
    def _reply(start_response, status, ctype, text):
        body = text.encode("utf-8")
        start_response(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))])
        return [body]

    def _health(self, start_response):
        problems, data = [], {}
        try:
            self.store.ping()
            data = self.store.summary()  # what a failover compares with the archive it restored
            problems += self.store.file_problems()
        except Exception as exc:  # report, do not crash the health check
            problems.append(f"database: {exc}")
        when, what = self._storage_error
        problems += storage_problems(self.config, what if time.time() - when < 60 else None)
        status = "200 OK" if not problems else "503 Service Unavailable"
        return self._reply(
            start_response,
            status,
            "application/json",
            json.dumps({"status": "ok" if not problems else "fail", "problems": problems, "data": data}) + "\n",
        )

    def _read_body(self, environ):
        limit = self.config.max_body_bytes
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if length > limit:
            raise Reject("too_large", f"the request body is over {limit} bytes")
        body = environ["wsgi.input"].read(limit + 1 if length < 0 else length)
        if len(body) > limit:
            raise Reject("too_large", f"the request body is over {limit} bytes")
        return body

    def _publish(self, environ, start_response):
        try:
            body = self._read_body(environ)
            outcome = self.handle(body)
        except Reject as exc:
            reject = exc
        except Exception:  # a defect of ours: still a Fault, and the traceback in the log
            log.exception("unexpected error while handling a publish from %s", environ.get("REMOTE_ADDR"))
            reject = Reject("internal_error", "the receiver failed on this request; retry later", client=False)
        else:
            self.metrics.outcome(outcome)
            return self._reply(start_response, "200 OK", "text/xml; charset=utf-8", RESPONSE)
        self.metrics.reject(reject.reason)
        self.metrics.outcome("rejected")
        log.warning("refused from %s: %s (%s)", environ.get("REMOTE_ADDR"), reject.reason, reject.message)
        return self._reply(start_response, "500 Internal Server Error", "text/xml; charset=utf-8", fault(reject))

    def _stores(self, call, msg):
        """call() against the database or spool: whatever fails, the sender hears storage_error and health
        reports it for a minute (the filtered path's nonce included: it had ended as a bare internal_error)."""
        try:
            return call()
        except Exception as exc:
            log.error("storage failed for %s r%d: %s", msg.document_id, msg.revision, exc)
            self._storage_error = (time.time(), str(exc))
            raise Reject("storage_error", "the message could not be stored; retry later", client=False) from None

    def handle(self, body):
        """Check and store one publish request body. Returns the outcome; raises Reject."""
        token, edxl_root, text = edxl.parse_request(body)
        nonce = wsse.verify(
            token, self.config.username, self.config.password, self.clock(), self.config.created_window_seconds
        )
        replay_key = wsse.replay_key(nonce)
        msg = edxl.parse_edxl(edxl_root)
        window = self.config.created_window_seconds
        # an Update or Cancel of a stored document counts whatever areas it lists (a tsunami warning lifted
        # for Tokushima lists the others, or none): filtering it kept the old alert shown
        if not any(code.startswith(self.config.area_prefixes) for code in msg.area_codes) and not self._stores(
            lambda: self.store.knows(msg.document_id), msg
        ):
            if msg.area_problem:
                raise Reject(*msg.area_problem)
            if not self._stores(lambda: self.store.use_nonce(replay_key, window), msg):
                raise replayed()
            log.info("filtered %s r%d for areas %s", msg.document_id, msg.revision, msg.area_codes)
            return "filtered"
        if msg.unusable_areas:
            log.warning(
                "%s r%d: targetArea without a usable jisX0402 code ignored (name, codes): %s",
                msg.document_id,
                msg.revision,
                list(msg.unusable_areas)[:10],
            )
        summary = payload.summarise(msg.payload)
        # a drill marker in any Control/Status of the distribution (訓練, 試験) makes it non-real; so does
        # a status that is neither (empty, unknown): the real track only takes what says 通常
        titles = payload.titles()
        statuses = [edxl.normalise(status) for status in msg.control_statuses]
        if any(status not in titles["real_statuses"] for status in statuses):
            summary = dict(summary, real=False)
            odd = sorted({s for s in statuses if s not in titles["real_statuses"] + titles["drill_statuses"]})
            if msg.is_actual and odd:
                log.warning(
                    "%s r%d is Actual but its Control/Status %s is neither real nor a drill: stored on the drill track",
                    msg.document_id,
                    msg.revision,
                    ", ".join(repr(s) for s in odd),
                )
        outcome = self._stores(
            lambda: self.store.accept(
                msg,
                summary,
                body,
                replay_key,
                window,
                text=edxl.spool_text(text, token),
                digest=lambda: edxl.content_digest(edxl_root),
            ),
            msg,
        )
        if outcome == "replayed_nonce":
            raise replayed()
        if outcome == "conflict":
            log.warning(
                "conflict: %s r%d came again with other content; the first is kept, this one "
                "recorded in the conflicts table",
                msg.document_id,
                msg.revision,
            )
        else:
            log.info(
                "%s %s r%d %s/%s %s on the %s track: %s",
                outcome,
                msg.document_id,
                msg.revision,
                msg.status,
                msg.dist_type,
                summary["kind"],
                "real" if msg.is_actual and summary["real"] else "drill",
                summary["headline"],
            )
        return outcome

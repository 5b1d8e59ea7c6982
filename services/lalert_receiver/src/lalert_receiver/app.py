"""WSGI application: POST publish (SOAP 1.1), GET /healthz, GET /metrics."""
import datetime
import json
import logging
import os
import sqlite3
import threading
from xml.sax.saxutils import escape

from . import edxl, payload, wsse
from .errors import Reject
from .store import Store

log = logging.getLogger("lalert_receiver")

RESPONSE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<soap:Envelope xmlns:soap="{edxl.SOAP11_NS}"><soap:Body>'
    f'<pcs:publishResponse xmlns:pcs="{edxl.PCS_NS}"><code>0</code></pcs:publishResponse>'
    '</soap:Body></soap:Envelope>\n'
)


def fault(reject):
    side = "Client" if reject.client else "Server"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{edxl.SOAP11_NS}"><soap:Body><soap:Fault>'
        f'<faultcode>soap:{side}</faultcode><faultstring>{escape(reject.message)}</faultstring>'
        f'<detail><pcs:reason xmlns:pcs="{edxl.PCS_NS}">{escape(reject.reason)}</pcs:reason></detail>'
        '</soap:Fault></soap:Body></soap:Envelope>\n'
    )


def replayed():
    return Reject("replayed_nonce", "this Nonce was already used: the request is a replay")


class Metrics:
    """In-process counters; stored totals come from the database at scrape time."""

    def __init__(self):
        self._lock = threading.Lock()
        self.outcomes = {}
        self.rejects = {}

    def outcome(self, name):
        with self._lock:
            self.outcomes[name] = self.outcomes.get(name, 0) + 1

    def reject(self, reason):
        with self._lock:
            self.rejects[reason] = self.rejects.get(reason, 0) + 1

    def render(self, store):
        lines = [
            "# HELP lalert_publish_total Publish requests answered, by outcome.",
            "# TYPE lalert_publish_total counter",
        ]
        with self._lock:
            outcomes, rejects = dict(self.outcomes), dict(self.rejects)
        for name in ("stored", "duplicate", "older_revision", "filtered", "rejected"):
            lines.append(f'lalert_publish_total{{outcome="{name}"}} {outcomes.get(name, 0)}')
        lines += ["# HELP lalert_rejects_total Requests refused with a SOAP Fault, by reason.",
                  "# TYPE lalert_rejects_total counter"]
        for reason, count in sorted(rejects.items()):
            lines.append(f'lalert_rejects_total{{reason="{reason}"}} {count}')
        lines += ["# HELP lalert_messages_stored Messages in the database, by category and status.",
                  "# TYPE lalert_messages_stored gauge"]
        for category, status, count in store.counts():
            lines.append(f'lalert_messages_stored{{category="{category}",status="{status}"}} {count}')
        lines += ["# HELP lalert_last_real_message_timestamp_seconds When the last real (Actual) message arrived.",
                  "# TYPE lalert_last_real_message_timestamp_seconds gauge",
                  f"lalert_last_real_message_timestamp_seconds {store.last_real_received():.3f}"]
        return "\n".join(lines) + "\n"


class Receiver:
    def __init__(self, config, store=None, clock=None):
        self.config = config
        self.store = store or Store(config.database, config.spool_dir)
        self.metrics = Metrics()
        self.clock = clock or (lambda: datetime.datetime.now(datetime.timezone.utc))

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
            return self._reply(start_response, "200 OK", "text/plain; version=0.0.4",
                               self.metrics.render(self.store))
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
        except Exception as exc:  # report, do not crash the health check
            problems.append(f"database: {exc}")
        if not os.access(self.config.spool_dir, os.W_OK):
            problems.append("spool directory is not writable")
        status = "200 OK" if not problems else "503 Service Unavailable"
        return self._reply(start_response, status, "application/json", json.dumps(
            {"status": "ok" if not problems else "fail", "problems": problems, "data": data}) + "\n")

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
        except Reject as reject:
            self.metrics.reject(reject.reason)
            self.metrics.outcome("rejected")
            log.warning("refused from %s: %s (%s)", environ.get("REMOTE_ADDR"),
                        reject.reason, reject.message)
            return self._reply(start_response, "500 Internal Server Error", "text/xml; charset=utf-8", fault(reject))
        self.metrics.outcome(outcome)
        return self._reply(start_response, "200 OK", "text/xml; charset=utf-8", RESPONSE)

    def handle(self, body):
        """Check and store one publish request body. Returns the outcome; raises Reject."""
        token, edxl_root = edxl.parse_request(body)
        wsse.verify(token, self.config.username, self.config.password, self.clock(),
                            self.config.created_window_seconds)
        msg = edxl.parse_edxl(edxl_root)
        window = self.config.created_window_seconds
        if not any(code.startswith(self.config.area_prefixes) for code in msg.area_codes):
            if not self.store.use_nonce(token["nonce"], window):
                raise replayed()
            log.info("filtered %s r%d for areas %s", msg.document_id, msg.revision, msg.area_codes)
            return "filtered"
        summary = payload.summarise(msg.payload)
        try:
            outcome = self.store.accept(msg, summary, body, token["nonce"], window)
        except (OSError, sqlite3.Error) as exc:
            log.error("storage failed for %s r%d: %s", msg.document_id, msg.revision, exc)
            raise Reject("storage_error", "the message could not be stored; retry later", client=False) from None
        if outcome == "replayed_nonce":
            raise replayed()
        log.info("%s %s r%d %s/%s %s %s", outcome, msg.document_id, msg.revision, msg.status,
                 msg.dist_type, summary["kind"], summary["headline"])
        return outcome

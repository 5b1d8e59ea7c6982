"""The receiver's rules, end to end through Receiver.handle and the WSGI app.

Every fixture under fixtures/ is published; every bad-input case must be
refused with a Fault and leave nothing behind (no row, no spool file).
"""

import datetime
import io
import json
import os
import pathlib
import sqlite3

import pytest
from prometheus_client.parser import text_string_to_metric_families

from lalert_receiver import config as config_mod, sender, wsse
from lalert_receiver.app import Receiver
from lalert_receiver.errors import Reject

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "fixtures"
USER, PASSWORD = "tokushima-recv", "correct horse battery staple"
NOW = datetime.datetime(2026, 11, 28, 0, 0, tzinfo=datetime.timezone.utc)
CREATED = "2026-11-28T00:00:00Z"


@pytest.fixture
def receiver(tmp_path):
    spool = tmp_path / "spool"
    spool.mkdir()
    cfg = config_mod.Config(
        username=USER, password=PASSWORD, database=str(tmp_path / "r.sqlite3"), spool_dir=str(spool)
    )
    return Receiver(cfg, clock=lambda: NOW)


def request(name, password=PASSWORD, created=CREATED, nonce=None, folder=FIXTURES):
    data = (folder / name).read_bytes()
    return sender.envelope(data, wsse.make_token(USER, password, nonce, created))


def rows(rcv, sql="SELECT document_id, revision, status, is_real, dist_type, cancelled, kind FROM messages"):
    with sqlite3.connect(rcv.config.database) as conn:
        return conn.execute(sql).fetchall()


def spool_files(rcv):
    return sorted(p for p in os.listdir(rcv.config.spool_dir))


GOOD = sorted(
    p.name
    for p in FIXTURES.glob("*.xml")
    if p.name not in {"other_area.xml", "evacuation_order_r2.xml", "evacuation_cancel.xml"}
)


@pytest.mark.parametrize("name", GOOD)
def test_every_fixture_is_stored_with_its_spool_file(receiver, name):
    assert receiver.handle(request(name)) == "stored"
    (row,) = rows(receiver)
    (spooled,) = spool_files(receiver)
    record = json.loads((pathlib.Path(receiver.config.spool_dir) / spooled).read_text(encoding="utf-8"))
    assert record["document_id"] == row[0] and record["revision"] == row[1]
    assert "<edxlde:EDXLDistribution" in record["raw_xml"]


@pytest.mark.parametrize(
    "name,kind,code,areas",
    [
        ("weather_vpww53.xml", "weather", "VPWW53", ["徳島市", "鳴門市"]),
        ("weather_vpww54.xml", "weather", "VPWW54", ["阿南市", "美波町"]),
        ("landslide_vxww50.xml", "landslide", "VXWW50", ["那賀町"]),
        ("seismic_vxse51.xml", "seismic", "VXSE51", ["徳島県北部", "徳島県南部"]),
        ("seismic_vxse52.xml", "seismic", "VXSE52", ["徳島県北部"]),
        ("seismic_vxse53.xml", "seismic", "VXSE53", ["徳島県北部", "徳島県南部"]),
        ("tsunami_vtse41.xml", "tsunami", "VTSE41", ["徳島県"]),
        ("tsunami_vtse51.xml", "tsunami", "VTSE51", ["徳島県"]),
        ("evacuation_order.xml", "evacuation", "PC-EVAC", ["徳島市"]),
        ("shelter.xml", "shelter", "PC-SHELTER", ["徳島市"]),
    ],
)
def test_payloads_are_summarised_from_the_data_table(receiver, name, kind, code, areas):
    receiver.handle(request(name))
    ((got_kind, got_code, headline, got_areas),) = rows(receiver, "SELECT kind, code, headline, areas FROM messages")
    assert (got_kind, got_code, json.loads(got_areas)) == (kind, code, areas)
    assert headline


@pytest.mark.parametrize("name", ["exercise.xml", "test_status.xml", "system.xml", "jma_drill.xml"])
def test_non_actual_traffic_is_stored_but_never_real(receiver, name):
    assert receiver.handle(request(name)) == "stored"
    assert rows(receiver, "SELECT is_real FROM messages") == [(0,)]
    assert rows(receiver, "SELECT COUNT(*) FROM current_real") == [(0,)]
    assert "\nlalert_last_real_message_timestamp_seconds 0.0\n" in receiver.metrics.render()


def test_revisions_dedup_and_cancel(receiver):
    assert receiver.handle(request("evacuation_order.xml")) == "stored"
    assert receiver.handle(request("evacuation_order.xml")) == "duplicate"
    assert receiver.handle(request("evacuation_order_r2.xml")) == "stored"
    assert receiver.handle(request("evacuation_order.xml")) == "older_revision"
    current = rows(receiver, "SELECT document_id, revision FROM current_real")
    assert current == [("TKS-EVAC-0001", 2)]
    assert receiver.handle(request("evacuation_cancel.xml")) == "stored"
    assert rows(receiver, "SELECT COUNT(*) FROM current_real") == [(0,)]
    assert rows(receiver, "SELECT revision, cancelled FROM messages ORDER BY revision") == [(1, 1), (2, 1), (3, 1)]
    assert len(spool_files(receiver)) == 3


def test_other_areas_are_acknowledged_not_stored(receiver):
    assert receiver.handle(request("other_area.xml")) == "filtered"
    assert rows(receiver) == [] and spool_files(receiver) == []


BAD = {
    "malformed XML": (lambda: request("malformed.xml", folder=FIXTURES / "bad"), "malformed_xml"),
    "XXE": (lambda: (FIXTURES / "bad" / "xxe_request.xml").read_bytes(), "forbidden_dtd"),
    "billion laughs": (lambda: (FIXTURES / "bad" / "billion_laughs_request.xml").read_bytes(), "forbidden_dtd"),
    "wrong EDXL namespace": (lambda: request("wrong_namespace.xml", folder=FIXTURES / "bad"), "wrong_namespace"),
    "wrong operation namespace": (
        lambda: (FIXTURES / "bad" / "wrong_operation_namespace_request.xml").read_bytes(),
        "wrong_namespace",
    ),
    "SOAP 1.2 envelope": (lambda: (FIXTURES / "bad" / "soap12_request.xml").read_bytes(), "wrong_namespace"),
    "missing documentID": (lambda: request("missing_document_id.xml", folder=FIXTURES / "bad"), "missing_field"),
    "bad digest": (lambda: request("evacuation_order.xml", password="wrong"), "bad_digest"),
    "stale timestamp": (lambda: request("evacuation_order.xml", created="2026-11-27T23:50:00Z"), "stale_timestamp"),
    "future timestamp": (lambda: request("evacuation_order.xml", created="2026-11-28T00:10:00Z"), "stale_timestamp"),
    "no security header": (
        lambda: (
            request("evacuation_order.xml")
            .replace(b"<soap:Header>", b"<soap:Header><x/>")
            .replace(b"wsse:UsernameToken>", b"wsse:Other>")
        ),
        "missing_security",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_refused_and_leaves_nothing(receiver, case):
    make, reason = BAD[case]
    with pytest.raises(Reject) as err:
        receiver.handle(make())
    assert err.value.reason == reason
    assert rows(receiver) == [] and spool_files(receiver) == []


def test_replayed_nonce_is_refused(receiver):
    nonce = b"0123456789abcdef"
    assert receiver.handle(request("evacuation_order.xml", nonce=nonce)) == "stored"
    with pytest.raises(Reject) as err:
        receiver.handle(request("shelter.xml", nonce=nonce))
    assert err.value.reason == "replayed_nonce"
    assert rows(receiver, "SELECT document_id FROM messages") == [("TKS-EVAC-0001",)]


def samples(text):
    """{(name, sorted labels): value} of an exposition, read by prometheus_client's parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def call(rcv, method, path, body=b""):
    captured = {}

    def start_response(status, headers):
        captured["status"], captured["headers"] = status, dict(headers)

    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "127.0.0.1",
    }
    out = b"".join(rcv(environ, start_response)).decode("utf-8")
    return captured["status"], out


def test_wsgi_publish_answers_code_zero(receiver):
    status, out = call(receiver, "POST", "/lalert/publish", request("shelter.xml"))
    assert status.startswith("200") and "<code>0</code>" in out and "publishResponse" in out


def test_wsgi_oversized_body_gets_a_fault_and_nothing_stored(receiver):
    body = request("shelter.xml").replace(b"<soap:Body>", b"<soap:Body><!--" + b"x" * (2 * 1024 * 1024) + b"-->")
    status, out = call(receiver, "POST", "/lalert/publish", body)
    assert status.startswith("500") and "<faultcode>soap:Client</faultcode>" in out and "too_large" in out
    assert rows(receiver) == []


def test_wsgi_fault_names_the_reason(receiver):
    status, out = call(receiver, "POST", "/lalert/publish", b"<not xml")
    assert status.startswith("500") and "malformed_xml" in out and "not well-formed" in out


def test_metrics_count_messages_rejects_and_last_real(receiver):
    call(receiver, "POST", "/lalert/publish", request("seismic_vxse51.xml"))
    call(receiver, "POST", "/lalert/publish", request("exercise.xml"))
    call(receiver, "POST", "/lalert/publish", request("other_area.xml"))
    call(receiver, "POST", "/lalert/publish", request("shelter.xml", password="nope"))
    status, text = call(receiver, "GET", "/metrics")
    assert status.startswith("200")
    got = samples(text)
    assert got[("lalert_messages_stored", (("category", "seismic"), ("status", "Actual")))] == 1
    assert got[("lalert_messages_stored", (("category", "evacuation"), ("status", "Exercise")))] == 1
    assert got[("lalert_publish_total", (("outcome", "filtered"),))] == 1
    assert got[("lalert_rejects_total", (("reason", "bad_digest"),))] == 1
    assert got[("lalert_last_real_message_timestamp_seconds", ())] > 1.7e9


def test_healthz_reports_rows_and_the_latest_message(receiver):
    status, out = call(receiver, "GET", "/healthz")
    assert json.loads(out)["data"] == {"messages": 0, "latest_document_id": None, "latest_revision": None}
    receiver.handle(request("shelter.xml"))
    receiver.handle(request("evacuation_order.xml"))
    data = json.loads(call(receiver, "GET", "/healthz")[1])["data"]
    assert data == {"messages": 2, "latest_document_id": "TKS-EVAC-0001", "latest_revision": 1}


def test_healthz_reports_a_missing_spool(receiver):
    assert call(receiver, "GET", "/healthz")[0].startswith("200")
    os.rmdir(receiver.config.spool_dir)
    status, out = call(receiver, "GET", "/healthz")
    assert status.startswith("503") and "spool" in out


def test_spool_failure_rolls_back_the_row(receiver, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(receiver.store, "_write_spool", broken)
    with pytest.raises(Reject) as err:
        receiver.handle(request("shelter.xml"))
    assert err.value.reason == "storage_error" and not err.value.client
    assert rows(receiver) == []


def test_restart_keeps_data(receiver):
    receiver.handle(request("shelter.xml"))
    again = Receiver(receiver.config, clock=lambda: NOW)
    assert again.handle(request("shelter.xml")) == "duplicate"
    assert rows(again, "SELECT COUNT(*) FROM messages") == [(1,)]


def test_concurrent_publishers_lose_and_duplicate_nothing(receiver):
    """8 threads at once, each document sent by two different threads: stored exactly once."""
    import threading

    template = (FIXTURES / "shelter.xml").read_bytes()
    docs = [f"TKS-CONC-{i:03d}" for i in range(80)]
    outcomes, lock = [], threading.Lock()

    def worker(part):
        for doc in part:
            body = sender.envelope(
                template.replace(b"TKS-SHEL-0001", doc.encode()), wsse.make_token(USER, PASSWORD, created=CREATED)
            )
            result = receiver.handle(body)
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=worker, args=(docs[i::8] + docs[(i + 1) % 8 :: 8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("stored") == 80 and outcomes.count("duplicate") == 80
    assert rows(receiver, "SELECT COUNT(*), COUNT(DISTINCT document_id) FROM messages") == [(80, 80)]
    assert len(spool_files(receiver)) == 80

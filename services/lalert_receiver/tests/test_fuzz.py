"""Property-based fuzzing (hypothesis) of the parser and the whole request path: every
input ends either stored (an outcome) or as a Reject / SOAP Fault, never as an exception."""

import io
import tempfile
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from lalert_receiver import config as config_mod, edxl, sender, wsse
from lalert_receiver.app import Receiver
from lalert_receiver.errors import Reject
from test_receiver import CREATED, FIXTURES, NOW, PASSWORD, USER

EVAC = (FIXTURES / "evacuation_order.xml").read_text(encoding="utf-8")
OUTCOMES = {"stored", "duplicate", "conflict", "older_revision", "filtered"}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FIELDS = [
    "distributionStatus>Actual",
    "distributionType>Report",
    "jisX0402>362018",
    "documentID>TKS-EVAC-0001",
    "documentRevision>1",
    "category>EvacuationOrder",
    "distributionID>TKS-EVAC-0001-d1-Actual",
    "Status>通常",
    "Title>避難情報",
    'encoding="UTF-8"',
]
# text a careless sender writes: digits of every script, full width, combining marks, controls
ODD_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30) | st.sampled_from(
    ["", " ", "０", "①", "٣", "9" * 30, "-1", "1e3", "\u0301", "NaN", "Actual\u200b", "３６２０１８", "\x00"]
)


@pytest.fixture(scope="module")
def receiver():
    folder = tempfile.mkdtemp(prefix="lalert-fuzz-")
    spool = f"{folder}/spool"
    import os

    os.mkdir(spool)
    cfg = config_mod.Config(
        username=USER, password=PASSWORD, database=f"{folder}/r.sqlite3", spool_dir=spool, min_free_mb=0
    )
    return Receiver(cfg, clock=lambda: NOW)


def signed(message_text, encoding="utf-8"):
    body = sender.envelope(message_text.encode("utf-8"), wsse.make_token(USER, PASSWORD, created=CREATED))
    if encoding != "utf-8":
        body = body.decode("utf-8").encode(encoding, errors="replace")
    return body


def outcome_or_reject(rcv, body):
    try:
        assert rcv.handle(body) in OUTCOMES
    except Reject as reject:
        assert reject.reason and reject.message


def wsgi(rcv, body):
    captured = {}
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/lalert/publish",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "REMOTE_ADDR": "127.0.0.1",
    }
    out = b"".join(rcv(environ, lambda status, headers: captured.update(status=status))).decode("utf-8")
    assert (
        captured["status"].startswith("200")
        and "<code>0</code>" in out
        or (captured["status"].startswith("500") and "<soap:Fault>" in out and "internal_error" not in out)
    ), out


@FUZZ
@given(st.binary(max_size=3000))
def test_any_bytes_are_an_outcome_or_a_fault(receiver, body):
    outcome_or_reject(receiver, body)
    wsgi(receiver, body)


@FUZZ
@given(
    field=st.sampled_from(FIELDS),
    value=ODD_TEXT,
    escaped=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-16", "shift_jis", "euc-jp", "latin-1"]),
)
def test_signed_requests_with_odd_field_values(receiver, field, value, escaped, encoding):
    name, _, old = field.partition(">") if ">" in field else (field, "", "")
    if ">" in field:
        text = EVAC.replace(f"{name}>{old}<", f"{name}>{escape(value) if escaped else value}<", 1)
    else:
        text = EVAC.replace(field, f'encoding="{escape(value, {chr(34): "&quot;"})}"', 1)
    body = signed(text, encoding)
    outcome_or_reject(receiver, body)
    wsgi(receiver, signed(text, encoding))


@FUZZ
@given(st.data())
def test_byte_mutations_of_a_valid_request(receiver, data):
    body = bytearray(signed(EVAC.replace("TKS-EVAC-0001", "FUZZ-" + data.draw(st.uuids()).hex)))
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(body) - 1))
        action = data.draw(st.sampled_from(["flip", "insert", "delete"]))
        if action == "flip":
            body[at] = data.draw(st.integers(0, 255))
        elif action == "insert":
            body[at:at] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del body[at : at + data.draw(st.integers(1, 8))]
    outcome_or_reject(receiver, bytes(body))


@FUZZ
@given(st.text(max_size=200), st.text(max_size=20) | st.sampled_from(["shift_jis", "utf-16", "rot13", "zlib", ""]))
def test_the_parser_alone_never_raises_anything_but_reject(text, encoding):
    declared = f'<?xml version="1.0" encoding="{encoding}"?>'
    for body in (text.encode("utf-8"), text.encode("utf-16"), (declared + text).encode("utf-8", "replace")):
        try:
            _, root, _ = edxl.parse_request(body)
            edxl.parse_edxl(root)
        except Reject:
            pass

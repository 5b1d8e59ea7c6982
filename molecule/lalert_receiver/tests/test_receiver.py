"""What L-Alert and the web side rely on, checked on the deployed VM:
every fixture published over HTTPS through nginx, rows and spool files,
de-dup, Cancel, Exercise flagging, bad input refused with nothing stored,
allow-list, metrics, restart keeps data, sandboxing."""

import json
import os
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

FIXTURES = os.path.join(os.path.dirname(__file__), "..", "..", "..", "services", "lalert_receiver", "fixtures")
ON_HOST = "/tmp/lalert-fixtures"
DB = "/var/lib/lalert/receiver.sqlite3"
SPOOL = "/var/spool/lalert"
SEND = (
    "/opt/lalert-receiver/venv/bin/lalert-send --url https://127.0.0.1/lalert/publish "
    "--username tokushima-test --password-file /etc/lalert-receiver/password "
    "--cafile /etc/lalert-receiver/tls/receiver.crt"
)
_copied = set()


@pytest.fixture
def fx(host, copy_to_host):
    """Fixtures copied to the host once per host; returns their folder there."""
    if host.backend.get_hostname() not in _copied:
        copy_to_host(os.path.abspath(FIXTURES), ON_HOST)
        _copied.add(host.backend.get_hostname())
    return ON_HOST


def send(host, *files, options="", expect="ok"):
    cmd = f"{SEND} {options} --expect {expect} " + " ".join(files)
    result = host.run(cmd)
    assert result.rc == 0, f"{cmd}\n{result.stdout}\n{result.stderr}"
    return [json.loads(line) for line in result.stdout.splitlines()]


def sql(host, query):
    out = host.check_output(f'sqlite3 -json {DB} "{query}"')
    return json.loads(out) if out.strip() else []


def count(host):
    rows = sql(host, "SELECT COUNT(*) AS n FROM messages")[0]["n"]
    files = int(host.check_output(f"find {SPOOL} -maxdepth 1 -type f -name '*.json' | wc -l"))
    return rows, files


STORED = {
    "evacuation_order.xml": ("TKS-EVAC-0001", "evacuation", 1),
    "shelter.xml": ("TKS-SHEL-0001", "shelter", 1),
    "weather_vpww53.xml": ("TKS-JMA-VPWW53-0001", "weather", 1),
    "weather_vpww54.xml": ("TKS-JMA-VPWW54-0001", "weather", 1),
    "landslide_vxww50.xml": ("TKS-JMA-VXWW50-0001", "landslide", 1),
    "seismic_vxse51.xml": ("TKS-JMA-VXSE51-0001", "seismic", 1),
    "seismic_vxse52.xml": ("TKS-JMA-VXSE52-0001", "seismic", 1),
    "seismic_vxse53.xml": ("TKS-JMA-VXSE53-0001", "seismic", 1),
    "tsunami_vtse41.xml": ("TKS-JMA-VTSE41-0001", "tsunami", 1),
    "tsunami_vtse51.xml": ("TKS-JMA-VTSE51-0001", "tsunami", 1),
    "exercise.xml": ("TKS-EXER-0001", "evacuation", 0),
    "test_status.xml": ("TKS-TEST-0001", "evacuation", 0),
    "system.xml": ("TKS-SYS-0001", "evacuation", 0),
    "jma_drill.xml": ("TKS-JMA-DRILL-0001", "seismic", 0),
}


def test_every_fixture_is_received_stored_and_spooled(host, fx):
    replies = send(host, *(f"{fx}/{name}" for name in STORED))
    assert all(r["http"] == 200 and r["code"] == 0 for r in replies), replies
    rows = {r["document_id"]: r for r in sql(host, "SELECT document_id, kind, is_real, spool_file FROM messages")}
    for name, (doc, kind, real) in STORED.items():
        assert rows[doc]["kind"] == kind and rows[doc]["is_real"] == real, name
        spool = host.file(f"{SPOOL}/{rows[doc]['spool_file']}")
        assert spool.exists and spool.user == "lalert" and spool.mode == 0o640
        assert json.loads(spool.content_string)["document_id"] == doc
    # exercise, test, system and JMA drill traffic is never presented as real
    real_docs = {r["document_id"] for r in sql(host, "SELECT document_id FROM current_real")}
    assert not real_docs & {"TKS-EXER-0001", "TKS-TEST-0001", "TKS-SYS-0001", "TKS-JMA-DRILL-0001"}


def test_revisions_are_deduplicated_and_cancel_is_honoured(host, fx):
    send(host, f"{fx}/evacuation_order.xml")  # present already or stored now
    before = count(host)
    assert send(host, f"{fx}/evacuation_order.xml")[0]["code"] == 0  # duplicate: acknowledged
    assert count(host) == before
    send(host, f"{fx}/evacuation_order_r2.xml")
    send(host, f"{fx}/evacuation_order.xml")  # older revision: acknowledged, ignored
    assert sql(host, "SELECT revision FROM current_real WHERE document_id = 'TKS-EVAC-0001'") == [{"revision": 2}]
    send(host, f"{fx}/evacuation_cancel.xml")
    assert sql(host, "SELECT COUNT(*) AS n FROM current_real WHERE document_id = 'TKS-EVAC-0001'") == [{"n": 0}]
    assert count(host) == (before[0] + 2, before[1] + 2)


def test_other_areas_are_acknowledged_but_not_stored(host, fx):
    before = count(host)
    assert send(host, f"{fx}/other_area.xml")[0]["code"] == 0
    assert count(host) == before
    assert not sql(host, "SELECT id FROM messages WHERE document_id = 'KGW-EVAC-0001'")


def _oversize(host, fx):
    path = f"{fx}/oversize.xml"
    host.check_output(
        f"python3 -c \"import sys; d=open('{fx}/shelter.xml').read(); "
        f"d=d.replace('<commons:category>', '<!--' + 'x' * (2*1024*1024+100) + '--><commons:category>'); "
        f"open('{path}', 'w').write(d.replace('TKS-SHEL-0001', 'TKS-BIG-0001'))\""
    )
    return path


BAD = [
    ("malformed XML", "bad/malformed.xml", "", "malformed_xml"),
    ("XXE", "bad/xxe_request.xml", "--raw", "forbidden_dtd"),
    ("billion laughs", "bad/billion_laughs_request.xml", "--raw", "forbidden_dtd"),
    ("wrong namespace", "bad/wrong_namespace.xml", "", "wrong_namespace"),
    ("wrong operation namespace", "bad/wrong_operation_namespace_request.xml", "--raw", "wrong_namespace"),
    ("missing documentID", "bad/missing_document_id.xml", "", "missing_field"),
    ("stale timestamp", "shelter.xml", "--created 2020-01-01T00:00:00Z", "stale_timestamp"),
]


@pytest.mark.parametrize("case,name,options,reason", BAD, ids=[b[0] for b in BAD])
def test_bad_input_gets_a_fault_and_stores_nothing(host, fx, case, name, options, reason):
    before = count(host)
    (reply,) = send(host, f"{fx}/{name}", options=options, expect="fault")
    assert reply["http"] == 500 and reply["fault"] == reason, reply
    assert count(host) == before


def test_oversized_body_gets_a_fault_and_stores_nothing(host, fx):
    before = count(host)
    (reply,) = send(host, _oversize(host, fx), expect="fault")
    assert reply["fault"] == "too_large", reply
    assert count(host) == before


def test_bad_digest_is_refused(host, fx):
    host.check_output(f"echo not-the-password > {fx}/wrong-password")
    before = count(host)
    cmd = SEND.replace("/etc/lalert-receiver/password", f"{fx}/wrong-password")
    out = host.run(f"{cmd} --expect fault {fx}/seismic_vxse51.xml")
    assert out.rc == 0 and json.loads(out.stdout)["fault"] == "bad_digest", out.stdout
    assert count(host) == before


def test_replayed_nonce_is_refused(host, fx):
    nonce = "--nonce " + "QW5zaGluVG9rdXNoaW1hMDE="
    send(host, f"{fx}/shelter.xml", options=nonce)
    before = count(host)
    (reply,) = send(host, f"{fx}/shelter.xml", options=nonce, expect="fault")
    assert reply["fault"] == "replayed_nonce"
    assert count(host) == before


def test_sources_outside_the_allow_list_are_refused_by_nginx(host):
    address = host.check_output("hostname -I").split()[0]
    code = host.check_output(
        f"curl -sk -o /dev/null -w '%{{http_code}}' --interface {address} -d x https://{address}/lalert/publish"
    )
    assert code == "403"


def test_health_and_metrics(host, fx):
    health = host.check_output("curl -s --cacert /etc/lalert-receiver/tls/receiver.crt https://127.0.0.1/healthz")
    assert json.loads(health)["status"] == "ok"
    send(host, f"{fx}/seismic_vxse53.xml")
    metrics = host.check_output("curl -s --cacert /etc/lalert-receiver/tls/receiver.crt https://127.0.0.1/metrics")
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
    }
    assert got[("lalert_messages_stored", (("category", "seismic"), ("status", "Actual")))] >= 1, metrics
    assert got[("lalert_messages_stored", (("category", "evacuation"), ("status", "Exercise")))] == 1
    assert got[("lalert_last_real_message_timestamp_seconds", ())] > 1.7e9
    assert sum(v for (name, _), v in got.items() if name == "lalert_rejects_total") >= 1


def test_restart_keeps_data(host, fx, journal_on_failure):
    before = count(host)
    assert before[0] > 0
    host.check_output("systemctl restart lalert-receiver")
    host.check_output(
        "for i in $(seq 30); do curl -sf --cacert /etc/lalert-receiver/tls/receiver.crt "
        "https://127.0.0.1/healthz >/dev/null && exit 0; sleep 1; done; exit 1"
    )
    assert count(host) == before, journal_on_failure("lalert-receiver")
    assert send(host, f"{fx}/tsunami_vtse41.xml")[0]["code"] == 0  # duplicate after restart
    assert count(host) == before


def test_service_is_sandboxed_and_listens_on_loopback_only(host):
    show = host.check_output(
        "systemctl show lalert-receiver -p User -p NoNewPrivileges -p ProtectSystem "
        "-p PrivateTmp -p ReadWritePaths -p Restart"
    )
    props = dict(line.split("=", 1) for line in show.splitlines())
    assert props["User"] == "lalert" and props["NoNewPrivileges"] == "yes"
    assert props["ProtectSystem"] == "strict" and props["PrivateTmp"] == "yes"
    assert props["Restart"] == "on-failure"
    assert set(props["ReadWritePaths"].split()) == {"/var/lib/lalert", SPOOL}
    assert host.socket("tcp://127.0.0.1:8080").is_listening
    assert not host.socket("tcp://0.0.0.0:8080").is_listening


def test_access_log_is_combined_format(host, fx):
    send(host, f"{fx}/tsunami_vtse51.xml")
    last = host.check_output("tail -n 1 /var/log/nginx/lalert-receiver.access.log")
    assert re.match(r'^127\.0\.0\.1 - - \[[^\]]+\] "POST /lalert/publish HTTP/1\.1" 200 \d+ "-" "[^"]*"$', last), last

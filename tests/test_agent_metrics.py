"""roles/monitoring_agent/files/anshin-agent-metrics: the textfile metrics and the Zabbix reader."""

import importlib.machinery
import importlib.util
import json
import sqlite3
import subprocess

import pytest
from prometheus_client import generate_latest

from conftest import ROOT

_loader = importlib.machinery.SourceFileLoader(
    "anshin_agent_metrics", str(ROOT / "roles/monitoring_agent/files/anshin-agent-metrics")
)
am = importlib.util.module_from_spec(importlib.util.spec_from_loader("anshin_agent_metrics", _loader))
_loader.exec_module(am)

NOW = 1_800_000_000.0


@pytest.fixture
def certificate(tmp_path):
    path = tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "20",
            "-subj",
            "/CN=t",
            "-keyout",
            str(tmp_path / "key.pem"),
            "-out",
            str(path),
        ],
        check=True,
        capture_output=True,
    )
    return str(path)


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "receiver.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE messages (received_at REAL, is_real INTEGER)")
    conn.executemany("INSERT INTO messages VALUES (?, ?)", [(100.0, 1), (250.5, 1), (900.0, 0)])
    conn.commit()
    conn.close()
    return str(path)


@pytest.fixture
def shadow(tmp_path):
    path = tmp_path / "shadow"
    path.write_text(
        "root:*:19000:0:99999:7:::\nalice:!:19000:0:99999:7::20000:\nbob:!:19000:0:99999:7:::\n", encoding="utf-8"
    )
    return str(path)


def values(families):
    return {
        (name, tuple(sorted(labels.items()))): value
        for name, _help, _kind, samples in families
        for labels, value in samples
    }


def test_every_metric_is_collected(certificate, database, shadow, tmp_path):
    settings = {
        "certificates": [certificate, str(tmp_path / "missing.pem")],
        "database": database,
        "accounts": ["alice", "bob", "carol"],
    }
    got = values(am.collect(settings, now=NOW, shadow=shadow))
    not_after = got[("anshin_tls_certificate_not_after_timestamp_seconds", (("path", certificate),))]
    assert abs(not_after - __import__("time").time() - 20 * 86400) < 120
    assert got[("anshin_tls_certificate_days_left", (("path", certificate),))] == round((not_after - NOW) / 86400, 2)
    assert got[("anshin_tls_certificate_readable", (("path", certificate),))] == 1
    assert got[("anshin_tls_certificate_readable", (("path", str(tmp_path / "missing.pem")),))] == 0
    assert ("anshin_tls_certificate_days_left", (("path", str(tmp_path / "missing.pem")),)) not in got
    # the newest real message, not the newer exercise
    assert got[("anshin_lalert_last_real_message_timestamp_seconds", ())] == 250.5
    assert got[("anshin_lalert_database_readable", ())] == 1
    assert got[("anshin_account_expiry_timestamp_seconds", (("account", "alice"),))] == 20000 * 86400
    assert got[("anshin_account_expiry_timestamp_seconds", (("account", "bob"),))] == float("inf")
    assert got[("anshin_account_present", (("account", "carol"),))] == 0
    assert ("anshin_account_expiry_timestamp_seconds", (("account", "carol"),)) not in got
    assert got[("anshin_agent_metrics_last_run_timestamp_seconds", ())] == NOW


def test_an_unreadable_database_is_reported_not_hidden(tmp_path):
    got = values(am.collect({"database": str(tmp_path / "none.sqlite3")}, now=NOW))
    assert got[("anshin_lalert_database_readable", ())] == 0
    assert ("anshin_lalert_last_real_message_timestamp_seconds", ()) not in got


def test_no_real_message_yet_is_zero(tmp_path):
    path = tmp_path / "empty.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE messages (received_at REAL, is_real INTEGER)")
    got = values(am.collect({"database": str(path)}, now=NOW))
    assert got[("anshin_lalert_last_real_message_timestamp_seconds", ())] == 0


def test_written_atomically_and_read_back_by_get(certificate, database, shadow, tmp_path, monkeypatch):
    textfile = tmp_path / "prom" / "anshin_agent.prom"
    settings = {"textfile": str(textfile), "certificates": [certificate], "database": database, "accounts": ["alice"]}
    # the fixed clock and the fixture's shadow file
    monkeypatch.setattr(am, "collect", lambda s, _c=am.collect: _c(s, now=NOW, shadow=shadow))
    am.write(settings)
    text = textfile.read_text(encoding="utf-8")
    assert not (tmp_path / "prom" / "anshin_agent.prom.partial").exists()
    assert "# TYPE anshin_tls_certificate_days_left gauge" in text
    (tmp_path / "prom" / "other.prom").write_text('anshin_backup_last_result{repository="store"} 1\n')
    assert am.get(str(tmp_path / "prom"), "anshin_lalert_last_real_message_timestamp_seconds", {}) == "250.5"
    assert am.get(str(tmp_path / "prom"), "anshin_account_expiry_timestamp_seconds", {"account": "alice"}) == str(
        20000 * 86400
    )
    assert am.get(str(tmp_path / "prom"), "anshin_tls_certificate_days_left", {"path": certificate}) is not None
    assert am.get(str(tmp_path / "prom"), "anshin_backup_last_result", {"repository": "store"}) == "1"
    assert am.get(str(tmp_path / "prom"), "anshin_backup_last_result", {"repository": "local"}) is None


def test_infinity_and_label_escaping_in_the_text_format(tmp_path):
    path = 'a"b\\c\nd'  # a quote, a backslash, a newline: prometheus_client escapes each
    text = generate_latest(am.registry_of([("m", "h", "gauge", [({"path": path}, float("inf"))])])).decode()
    assert 'm{path="a\\"b\\\\c\\nd"} +Inf\n' in text
    (tmp_path / "m.prom").write_text(text, encoding="utf-8")
    assert am.get(str(tmp_path), "m", {"path": path}) == "+Inf"


def test_a_family_without_samples_writes_no_series():
    text = generate_latest(am.registry_of([("m", "h", "gauge", []), ("n", "h", "gauge", [({}, 2.5)])])).decode()
    assert text == "# HELP n h\n# TYPE n gauge\nn 2.5\n"


def test_a_file_that_is_not_the_text_format_is_passed_over(tmp_path):
    (tmp_path / "a.prom").write_text("this is not { the format\n", encoding="utf-8")
    (tmp_path / "b.prom").write_text('x{k="v"} 12.5\n', encoding="utf-8")
    assert am.get(str(tmp_path), "x", {"k": "v"}) == "12.5"


def test_selectors_must_be_label_value_and_empty_ones_are_ignored():
    assert am.parse_selector(["account=alice", "", ""]) == {"account": "alice"}
    with pytest.raises(ValueError):
        am.parse_selector(["alice"])


def test_get_from_the_command_line_exits_1_on_an_unknown_metric(tmp_path, monkeypatch, capsys):
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"textfile": str(tmp_path / "anshin_agent.prom")}))
    (tmp_path / "anshin_agent.prom").write_text("x 1\n")
    monkeypatch.setattr(am, "DEFAULT_SETTINGS", str(settings))
    assert am.main(["get", "x"]) == 0
    assert capsys.readouterr().out == "1\n"
    assert am.main(["get", "y"]) == 1
    assert am.main(["get", "x", "bad"]) == 2

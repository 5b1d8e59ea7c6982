"""roles/monitoring_server/files/anshin-resource-report, the monthly resource report on the monitoring host:
against a stand-in Prometheus on loopback it keeps the result with its series, writes the textfile the alert
rules read (findings, success, when it ran), refuses bad settings before asking anything, and a report it
could not make, or made without the data of an expected host, is exported as failed, never as clean. (The
timer firing on its own and the alert reaching the receivers: molecule/monitoring_server; the rules:
molecule/monitoring_server/files/rules.hours.test.yml.)"""

import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_module_resource_report import THRESHOLDS  # the report's own thresholds in its tests

from conftest import ROOT

PROGRAM = ROOT / "roles/monitoring_server/files/anshin-resource-report"
_loader = importlib.machinery.SourceFileLoader("anshin_resource_report_program", str(PROGRAM))
program = importlib.util.module_from_spec(importlib.util.spec_from_loader("anshin_resource_report_program", _loader))
_loader.exec_module(program)

METRICS = ["cpu", "memory", "disk", "inodes", "load"]


class StandIn:
    """Prometheus's query_range, answering per metric key for the hosts in `hosts`."""

    def __init__(self):
        self.values = dict.fromkeys(METRICS, 10.0) | {"load": 0.3}
        self.empty = set()
        self.prometheus_status = 200
        self.asked = []
        self.hosts = ["lalert-vm"]
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _answer(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query))
                stand_in.asked.append(params)
                if stand_in.prometheus_status != 200:
                    self._answer(stand_in.prometheus_status, {"status": "error", "error": "parse error at char 3"})
                    return
                key = params["query"]  # the settings' queries are the keys themselves
                start, end, step = int(params["start"]), int(params["end"]), int(params["step"])
                mount = {"mountpoint": "/"} if key in ("disk", "inodes") else {}
                result = [] if key in stand_in.empty else [
                    {"metric": {"instance": host} | mount,
                     "values": [[t, str(stand_in.values[key])] for t in range(start, end + 1, step)]}
                    for host in stand_in.hosts
                ]  # fmt: skip
                self._answer(200, {"status": "success", "data": {"resultType": "matrix", "result": result}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def stand_in():
    server = StandIn()
    yield server
    server.server.shutdown()


@pytest.fixture
def settings(tmp_path, stand_in):
    given = {
        "prometheus_url": stand_in.url,
        "days": 30,
        "queries": {key: key for key in METRICS},
        "thresholds": THRESHOLDS,
        "keep_days": 400,
        "expected": ["lalert-vm"],
        "textfile": str(tmp_path / "textfile" / "anshin_resource_report.prom"),
        "state_dir": str(tmp_path / "state"),
    }
    (tmp_path / "textfile").mkdir()
    path = tmp_path / "resource-report.json"
    path.write_text(json.dumps(given), encoding="utf-8")
    return path, given


def metrics(given):
    """{name: value} of the textfile, read as node_exporter reads it."""
    with open(given["textfile"], encoding="utf-8") as fh:
        text = fh.read()
    return {s.name: s.value for family in text_string_to_metric_families(text) for s in family.samples}


def saved_report(given, name):
    with open(os.path.join(given["state_dir"], name), encoding="utf-8") as fh:
        return json.load(fh)


def reports(given):
    return sorted(p for p in os.listdir(given["state_dir"]) if p.endswith(".json"))


def test_a_finding_is_kept_with_its_series_and_exported_for_the_rules(settings, stand_in, capsys):
    path, given = settings
    stand_in.values["cpu"] = 95.0
    before = time.time()
    assert program.main(["anshin-resource-report", str(path)]) == 0
    (name,) = reports(given)
    saved = saved_report(given, name)
    assert saved["period_end"] - saved["period_start"] == 30 * 86400
    assert saved["thresholds"] == THRESHOLDS
    assert set(saved["series"]) == set(METRICS) and saved["missing"] == []
    assert saved["findings"] == saved["proposals"] and "CPU 使用率の95パーセンタイルが 95.0%" in saved["findings"][0]
    # about 300 points a series, as the on-demand playbook asks
    assert {int(a["step"]) for a in stand_in.asked} == {30 * 86400 // 300}
    exported = metrics(given)
    assert exported["anshin_resource_report_findings"] == 1
    assert exported["anshin_resource_report_success"] == 1
    assert exported["anshin_resource_report_missing"] == 0
    assert before - 1 <= exported["anshin_resource_report_last_run_timestamp_seconds"] <= time.time()
    assert "1 proposal(s)" in capsys.readouterr().out


def test_a_quiet_month_exports_no_finding(settings, stand_in):
    path, given = settings
    assert program.main(["anshin-resource-report", str(path)]) == 0
    saved = saved_report(given, reports(given)[0])
    assert saved["findings"] == [] and saved["proposals"] == [program.analysis.NO_FINDINGS]
    assert metrics(given)["anshin_resource_report_findings"] == 0
    assert metrics(given)["anshin_resource_report_success"] == 1


def test_a_metric_without_data_is_a_failed_run_not_a_clean_report(settings, stand_in, capsys):
    path, given = settings
    stand_in.empty = {"inodes"}
    assert program.main(["anshin-resource-report", str(path)]) == 1
    saved = saved_report(given, reports(given)[0])
    assert saved["missing"] == ["inodes"]
    assert saved["proposals"][-1].startswith(program.analysis.INCOMPLETE)
    assert program.analysis.NO_FINDINGS not in saved["proposals"]
    exported = metrics(given)
    assert exported["anshin_resource_report_success"] == 0 and exported["anshin_resource_report_missing"] == 1
    assert "no data for inodes" in capsys.readouterr().out


def test_an_expected_host_without_data_is_missing_though_another_answered(settings, stand_in):
    """The backup store answered all month, the L-Alert VM never: not "all within the thresholds"."""
    path, given = settings
    stand_in.hosts = ["backup-store"]
    given["expected"] = ["lalert-vm", "backup-store"]
    path.write_text(json.dumps(given), encoding="utf-8")
    assert program.main(["anshin-resource-report", str(path)]) == 1
    saved = saved_report(given, reports(given)[0])
    assert saved["missing"] == [f"{key}:lalert-vm" for key in METRICS]
    assert saved["findings"] == [] and program.analysis.NO_FINDINGS not in saved["proposals"]
    assert metrics(given)["anshin_resource_report_success"] == 0


@pytest.mark.parametrize("status", [400, 503])
def test_prometheus_refusing_is_exported_as_a_failure_and_nothing_is_kept(settings, stand_in, capsys, status):
    path, given = settings
    stand_in.prometheus_status = status
    assert program.main(["anshin-resource-report", str(path)]) == 1
    assert not os.path.exists(given["state_dir"]) or reports(given) == []
    exported = metrics(given)
    assert exported["anshin_resource_report_success"] == 0
    assert exported["anshin_resource_report_last_run_timestamp_seconds"] > 0
    assert f"HTTP {status}" in capsys.readouterr().err


def test_prometheus_unreachable_is_exported_as_a_failure(settings, stand_in, capsys):
    path, given = settings
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = closed.server_address[1]
    closed.server_close()  # nothing listens there now
    given["prometheus_url"] = f"http://127.0.0.1:{port}"
    path.write_text(json.dumps(given), encoding="utf-8")
    assert program.main(["anshin-resource-report", str(path)]) == 1
    assert metrics(given)["anshin_resource_report_success"] == 0
    assert "could not be asked" in capsys.readouterr().err


def test_an_unexpected_error_is_still_a_failure(settings, stand_in, monkeypatch, capsys):
    path, given = settings
    monkeypatch.setattr(program.analysis, "analyse", lambda *a: 1 / 0)
    assert program.main(["anshin-resource-report", str(path)]) == 1
    assert metrics(given)["anshin_resource_report_success"] == 0
    assert "ZeroDivisionError" in capsys.readouterr().err


def test_old_results_and_half_written_ones_are_pruned_and_recent_ones_kept(settings, stand_in):
    path, given = settings
    os.makedirs(given["state_dir"])
    old = os.path.join(given["state_dir"], "resource_report_20250101.json")
    recent = os.path.join(given["state_dir"], "resource_report_20261001.json")
    half = os.path.join(given["state_dir"], "resource_report_20261031.json.partial")
    for name in (old, recent, half):
        with open(name, "w", encoding="utf-8") as fh:
            fh.write("{}")
    os.utime(old, (time.time() - 401 * 86400,) * 2)
    os.utime(recent, (time.time() - 60 * 86400,) * 2)
    os.utime(half, (time.time() - 2 * 86400,) * 2)
    assert program.main(["anshin-resource-report", str(path)]) == 0
    assert not os.path.exists(old) and not os.path.exists(half) and os.path.exists(recent)
    assert len(reports(given)) == 2


def test_the_installed_layout_runs_as_the_timer_runs_it(settings, stand_in, tmp_path):
    """The program, the analysis and the common code side by side, as the role installs them, run as a command;
    its textfile readable by node_exporter whatever the caller's umask."""
    path, given = settings
    libexec = tmp_path / "libexec"
    libexec.mkdir()
    shutil.copy(PROGRAM, libexec / "anshin-resource-report")
    shutil.copy(ROOT / "module_utils/anshin_resource_report.py", libexec / "anshin_resource_report.py")
    shutil.copy(ROOT / "module_utils/anshin_common.py", libexec / "anshin_common.py")
    done = subprocess.run(
        [sys.executable, str(libexec / "anshin-resource-report"), str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": os.environ["PATH"]},
        umask=0o077,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert metrics(given)["anshin_resource_report_success"] == 1
    assert oct(os.stat(given["textfile"]).st_mode & 0o777) == "0o644"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"colour": "red"}, "unknown setting 'colour'"),
        ({"days": 0}, "days: a whole number of at least 1"),
        ({"keep_days": True}, "keep_days: a whole number"),
        ({"keep_days": "500"}, "keep_days: a whole number"),
        ({"prometheus_url": "ftp://x"}, "prometheus_url: an http(s) URL"),
        ({"queries": {"cpu": "up"}}, "queries: one PromQL expression for each of"),
        ({"queries": dict.fromkeys(METRICS, "")}, "queries: each a non-empty"),
        ({"thresholds": dict(THRESHOLDS, cpu_percent=0)}, "thresholds: each a number above 0"),
        ({"thresholds": {"cpu_percent": 80}}, "thresholds: a number for each of"),
        ({"textfile": "relative.prom"}, "textfile: an absolute path"),
        ({"expected": "lalert-vm"}, "expected: a list of host names"),
    ],
)
def test_bad_settings_are_refused_before_anything_is_asked(settings, stand_in, capsys, change, said):
    path, given = settings
    path.write_text(json.dumps(given | change), encoding="utf-8")
    assert program.main(["anshin-resource-report", str(path), "--check"]) == 2
    assert program.main(["anshin-resource-report", str(path)]) == 2
    assert said in capsys.readouterr().err
    assert stand_in.asked == [] and not os.path.exists(given["textfile"])


def test_the_check_passes_good_settings_and_refuses_a_broken_file(settings, tmp_path, capsys):
    path, _ = settings
    assert program.main(["anshin-resource-report", str(path), "--check"]) == 0
    broken = tmp_path / "broken.json"
    broken.write_text("{", encoding="utf-8")
    assert program.main(["anshin-resource-report", str(broken), "--check"]) == 2
    assert "broken.json" in capsys.readouterr().err

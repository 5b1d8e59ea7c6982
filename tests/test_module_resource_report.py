"""library/anshin_resource_report.py and its analysis (module_utils/anshin_resource_report.py): figures, trends,
proposals and the written report."""

import json

import anshin_resource_report as analysis  # module_utils: the analysis the monitoring host's run shares
import pytest

from conftest import load_module

mod = load_module("anshin_resource_report")

DAY = 86400
START = 1_790_000_000
THRESHOLDS = {
    "cpu_percent": 80,
    "memory_percent": 90,
    "disk_percent": 85,
    "inode_percent": 85,
    "load_per_core": 2.0,
    "days_to_full": 90,
}


def series(labels, values, step=3600):
    return {"metric": labels, "values": [[START + i * step, str(v)] for i, v in enumerate(values)]}


def quiet_series():
    hours = 24 * 10
    return {
        "cpu": [series({"instance": "vm"}, [5 + (i % 3) for i in range(hours)])],
        "memory": [series({"instance": "vm"}, [40] * hours)],
        "disk": [series({"instance": "vm", "mountpoint": "/"}, [30] * hours)],
        "inodes": [series({"instance": "vm", "mountpoint": "/"}, [10] * hours)],
        "load": [series({"instance": "vm"}, [0.2] * hours)],
    }


def test_percentile_and_slope():
    assert analysis.percentile([1, 2, 3, 4, 5], 0.5) == 3
    assert analysis.percentile(list(range(101)), 0.95) == 95
    assert analysis.percentile([], 0.95) is None
    # one point per hour rising 0.5 per hour = 12 per day
    assert analysis.slope_per_day([(i * 3600, i * 0.5) for i in range(48)]) == pytest.approx(12)
    assert analysis.slope_per_day([(0, 1)]) == 0


def test_a_quiet_system_gets_no_proposal_but_says_so():
    figures, proposals, missing = analysis.analyse(quiet_series(), THRESHOLDS)
    assert missing == []
    assert proposals == ["期間中のリソース使用率はいずれも基準内で、増加傾向も問題ありません。現状の構成で十分です。"]
    cpu = figures["cpu"][0]
    assert (cpu["avg"], cpu["max"], cpu["series"]) == (6.0, 7.0, "vm")
    assert figures["disk"][0]["days_to_full"] is None  # flat: never full


def test_each_threshold_gives_its_proposal():
    data = quiet_series()
    hours = 24 * 10
    data["cpu"] = [series({"instance": "vm"}, [95] * hours)]
    data["memory"] = [series({"instance": "vm"}, [40] * (hours - 1) + [97])]
    data["inodes"] = [series({"instance": "vm", "mountpoint": "/var"}, [90] * hours)]
    data["load"] = [series({"instance": "vm"}, [3.0] * hours)]
    # 50 % rising 1 point a day: 50 days to full, under the 90-day threshold
    data["disk"] = [series({"instance": "vm", "mountpoint": "/"}, [40 + i / 24 for i in range(hours)])]
    figures, proposals, _ = analysis.analyse(data, THRESHOLDS)
    text = "\n".join(proposals)
    assert "CPU 使用率の95パーセンタイルが 95.0%" in text
    assert "メモリ使用率が最大 97.0%" in text
    assert "vm /var: inode 使用率が 90.0%" in text
    assert "負荷 (15分平均/コア) の95パーセンタイルが 3.0" in text
    disk = figures["disk"][0]
    assert disk["per_day"] == pytest.approx(1, rel=0.01)
    assert disk["days_to_full"] == pytest.approx(50, abs=1)
    assert "満杯になります" in text
    assert len(proposals) == 5


def test_a_full_disk_is_named_before_its_trend():
    data = quiet_series()
    data["disk"] = [series({"instance": "vm", "mountpoint": "/"}, [90] * 48)]
    _, proposals, _ = analysis.analyse(data, THRESHOLDS)
    assert proposals == [
        "vm /: ディスク使用率が 90.0% (基準 85%) です。ディスクの拡張、またはログ保存期間"
        " (logrotate_retention_days) の見直しを提案します。"
    ]


def test_missing_metrics_are_listed_and_nan_skipped():
    data = quiet_series()
    data["inodes"] = []
    data["load"] = [series({"instance": "vm"}, ["NaN", "NaN"])]
    _, proposals, missing = analysis.analyse(data, THRESHOLDS)
    assert missing == ["inodes", "load"]
    # never "all within the thresholds" over data that is not there
    assert proposals == [analysis.INCOMPLETE + "inodes, load"]
    assert analysis.findings_of(proposals) == []


def test_an_expected_host_without_data_is_missing_though_another_answered():
    data = quiet_series()  # the host "vm" answers every metric
    _, proposals, missing = analysis.analyse(data, THRESHOLDS, expected=["vm", "lalert-vm"])
    assert missing == [f"{key}:lalert-vm" for key in ("cpu", "memory", "disk", "inodes", "load")]
    assert analysis.NO_FINDINGS not in proposals
    assert analysis.analyse(data, THRESHOLDS, expected=["vm"])[1] == [analysis.NO_FINDINGS]


def test_the_module_writes_html_with_charts_markdown_and_json(run_module, tmp_path):
    failed, result = run_module(
        mod,
        {
            "series": quiet_series(),
            "top_processes": {"vm": ["PID USER %CPU", "1 root 0.1"]},
            "period_start": START,
            "period_end": START + 10 * DAY,
            "thresholds": THRESHOLDS,
            "dest": str(tmp_path),
            "name": "r",
        },
    )
    assert not failed, result
    names = sorted(p.rsplit("/", 1)[1] for p in result["files"])
    assert names == [
        "r.html",
        "r.json",
        "r.md",
        "r_cpu.png",
        "r_disk.png",
        "r_inodes.png",
        "r_load.png",
        "r_memory.png",
    ]
    assert (tmp_path / "r_cpu.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    for heading in ("リソース使用状況報告書", "チューニング提案", "CPU 使用率", "上位プロセス"):
        assert heading in page
    assert '<img src="r_disk.png"' in page and "1 root 0.1" in page
    data = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert data["figures"]["memory"][0]["avg"] == 40
    assert result["hosts"]["vm"]["cpu"][0]["max"] == 7.0


def test_bad_input_fails_clearly(run_module, tmp_path):
    failed, result = run_module(
        mod, {"series": {}, "period_start": 10, "period_end": 5, "thresholds": THRESHOLDS, "dest": str(tmp_path)}
    )
    assert failed and "period_end" in result["msg"]
    failed, result = run_module(
        mod,
        {"series": {}, "period_start": 1, "period_end": 5, "thresholds": {"cpu_percent": 80}, "dest": str(tmp_path)},
    )
    assert failed and "days_to_full" in result["msg"]
    assert list(tmp_path.iterdir()) == []


def test_the_page_is_a_template_that_escapes_every_value(tmp_path):
    figures, proposals, missing = analysis.analyse(quiet_series(), THRESHOLDS)
    params = {
        "dest": str(tmp_path),
        "name": 'r"<x>',
        "period_start": START,
        "period_end": START + DAY,
        "thresholds": THRESHOLDS,
        "top_processes": {"vm<script>": ["1 root </pre><script>alert(1)</script>"]},
    }
    mod.write_report(params, figures, proposals + ['<img src=x onerror="y">'], missing)
    page = (tmp_path / 'r"<x>.html').read_text(encoding="utf-8")
    assert "<script>" not in page and "<img src=x" not in page
    assert "<h3>vm&lt;script&gt;</h3><pre>1 root &lt;/pre&gt;&lt;script&gt;" in page
    assert '<img src="r&#34;&lt;x&gt;_cpu.png"' in page  # the chart's file name too (was not escaped)

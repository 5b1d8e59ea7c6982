"""`bin/anshin report monthly` counts the public site's accesses from the CMS web servers' IIS logs: it
collects them (playbooks/collect_iis_logs.yml, into the inventory's collected folder), counts them with the
inventory's settings (anshin_site_access) and hands the counts to the report; a failed collection still
gives a report that lists the days without a log. Also the local stand-in for those logs."""

import json
import os
import shutil

import pytest

from anshin_ops import access_counts, cli, incidents, inventory
from conftest import IIS_SAMPLE, ansible_here

SAMPLE = IIS_SAMPLE
USAGE = {"host": "lalert-vm", "month": "2026-11", "access": {}, "posts": [], "registered": {}}


def inventory_file(tmp_path, cms_hosts, site_access=None):
    hosts = "".join(f"        {h}:\n          ansible_host: 192.0.2.{50 + i}\n" for i, h in enumerate(cms_hosts))
    text = "all:\n  children:\n    lalert:\n      hosts:\n        lalert-vm:\n"
    if cms_hosts:
        text += "    cms_windows:\n      hosts:\n" + hosts
    if site_access is not None:
        text += "  vars:\n    anshin_site_access: " + json.dumps(site_access) + "\n"
    path = tmp_path / "inv" / "hosts.yml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def report(tmp_path, monkeypatch):
    """Runs `report monthly 2026-11` against a scratch inventory: the jobs run are recorded (collect_iis_logs
    copies the sample, or fails), render() is recorded instead of drawing."""
    records_root = tmp_path / "records"
    (records_root / "monthly" / "2026-11").mkdir(parents=True)
    (records_root / "monthly" / "2026-11" / "usage-lalert-vm.json").write_text(json.dumps(USAGE), encoding="utf-8")
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(records_root))
    collected = tmp_path / "collected"
    monkeypatch.setattr(cli.records, "collected_dir", lambda inv, what: str(collected))
    runs, rendered = [], []

    def run_job(job, inv, limit, check=False, extra_vars=(), **kwargs):
        runs.append((job, list(extra_vars)))
        report.limits.append((job, limit))
        if job == "collect_iis_logs" and not report.collection_fails:
            shutil.copytree(SAMPLE, collected, dirs_exist_ok=True)
        failed = job == "collect_iis_logs" and report.collection_fails
        return (2 if failed else 0), {"result": "失敗" if failed else "成功", "artifacts": "artifacts-dir"}

    def render(path, out_dir, today=None, site_access=None):
        rendered.append((path, site_access))
        return [path]

    monkeypatch.setattr(cli.runner, "run_job", run_job)
    monkeypatch.setattr(cli.monthly, "render", render)
    report.collection_fails = False
    report.limits = []
    report.runs, report.rendered, report.collected = runs, rendered, collected
    report.inventory = lambda *a, **k: inventory_file(tmp_path, *a, **k)
    return report


def test_the_cms_logs_are_collected_and_counted_with_the_inventorys_settings(report, capsys):
    settings = {"prefix": "/anshin/", "exclude_networks": ["192.0.2.41/32"], "exclude_agents": []}
    inv = report.inventory(["cms-web1", "cms-web2"], settings)
    assert cli.main(["report", "monthly", "2026-11", "-i", inv]) == 0, capsys.readouterr().err
    assert [job for job, _ in report.runs] == ["monthly_usage", "collect_iis_logs"]
    assert report.runs[1][1] == ["iis_logs_month=2026-11"]
    assert report.limits == [("monthly_usage", None), ("collect_iis_logs", None)]
    ((_, site),) = report.rendered
    expected = access_counts.count_month(
        str(SAMPLE), "2026-11", "/anshin/", ["192.0.2.41/32"], access_counts.DEFAULT_EXCLUDE_AGENTS
    )
    for key in ("requests", "page_views", "visitors", "by_day", "top_pages", "by_status", "excluded"):
        assert site[key] == expected[key], key
    assert site["requests"] > 0 and site["excluded"]["by_rule"]  # the sample's monitoring was left out


def test_a_failed_collection_still_reports_and_says_which_days_have_no_log(report, capsys):
    report.collection_fails = True
    inv = report.inventory(["cms-web1"])
    assert cli.main(["report", "monthly", "2026-11", "-i", inv]) == 0
    assert "collecting the IIS logs failed (失敗; see artifacts-dir)" in capsys.readouterr().err
    ((_, site),) = report.rendered
    assert site["requests"] == 0
    assert site["missing"][0]["host"] == "cms-web1" and site["missing"][0]["site"] is None
    assert site["missing"][0]["days"][:2] == ["2026-10-31", "2026-11-01"]  # the JST month's first UTC day too


def test_a_limit_to_the_vm_still_collects_from_every_cms_server(report):
    assert cli.main(["report", "monthly", "2026-11", "--limit", "lalert-vm", "-i", report.inventory(["cms-web1"])]) == 0
    assert report.limits == [("monthly_usage", "lalert-vm"), ("collect_iis_logs", None)]
    assert report.rendered[0][1]["files"]  # the sample was collected


def test_no_cms_server_and_nothing_collected_gives_no_counts_rather_than_zeros(report):
    assert cli.main(["report", "monthly", "2026-11", "-i", report.inventory([])]) == 0
    assert [job for job, _ in report.runs] == ["monthly_usage"]  # nothing to collect from
    assert report.rendered[0][1] is None


def test_no_collect_reads_what_was_collected_before(report):
    shutil.copytree(SAMPLE, report.collected)
    assert cli.main(["report", "monthly", "2026-11", "--no-collect", "-i", report.inventory(["cms-web1"])]) == 0
    assert report.runs == []
    assert report.rendered[0][1]["requests"] == access_counts.count_month(str(SAMPLE), "2026-11")["requests"]


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"prefix": "anshin/"}, "prefix must be a path"),
        ({"exclude_networks": ["192.0.2.999/32"]}, "not an address or CIDR"),
        ({"exclude_agents": ["Blackbox("]}, "not a regular expression"),
        ({"prefx": "/anshin/"}, "a mapping of prefix"),
    ],
)
def test_bad_site_settings_stop_before_anything_runs(report, capsys, settings, message):
    inv = report.inventory(["cms-web1"], settings)
    assert cli.main(["report", "monthly", "2026-11", "-i", inv]) == 2
    assert message in capsys.readouterr().err
    assert report.runs == []


def test_the_real_inventories_settings_are_valid_and_leave_the_monitoring_host_out():
    for name in ("local", "staging", "production"):
        settings = inventory.site_access(inventory.load(name))
        assert settings["prefix"] == "/anshin/"
        assert settings["exclude_networks"] and settings["exclude_agents"] == list(access_counts.DEFAULT_EXCLUDE_AGENTS)
    with pytest.raises(incidents.RecordError, match="anshin_site_access"):
        inventory.site_access({"name": "x", "vars": {"anshin_site_access": ["/anshin/"]}})


def test_the_local_standin_writes_a_month_to_count_and_refuses_the_real_inventories(tmp_path):
    dest = tmp_path / "iis-logs"
    inv = tmp_path / "standin.yml"
    inv.write_text(
        "all:\n  vars:\n    anshin_standin_inventory: true\n  children:\n    lalert:\n      hosts:\n"
        f"        vm:\n          ansible_host: 192.0.2.1\n          anshin_iis_logs_dir: {dest}\n",
        encoding="utf-8",
    )
    args = ("-i", inv, "playbooks/local/iis_logs_standin.yml", "-e", "iis_logs_standin_month=2026-10")
    first = ansible_here("ansible-playbook", *args, "-e", "iis_logs_standin_lines=3100")
    assert first.returncode == 0 and "changed=1" in first.stdout, first.stdout[-2000:]
    second = ansible_here("ansible-playbook", *args, "-e", "iis_logs_standin_lines=3100")
    assert second.returncode == 0 and "changed=0" in second.stdout  # the month is there: left as it is
    counts = access_counts.count_month(str(dest), "2026-10", hosts=["cms-standin"])
    assert counts["missing"] == [] and counts["page_views"] > 0 and counts["excluded"]["requests"] > 0
    assert counts["visitors"] > 0 and len(counts["files"]) == 32  # 30 September's file and 31 of October's
    refused = ansible_here("ansible-playbook", "-i", "inventories/production/hosts.yml", *args[2:])
    assert refused.returncode != 0 and "for stand-ins only" in refused.stdout
    from anshin_ops import records

    assert not os.path.exists(os.path.join(records.collected_dir("production", "iis-logs"), "cms-standin"))

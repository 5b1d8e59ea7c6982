"""One place decides where an inventory's records live (filter_plugins/records.py): the playbooks and
roles through the inventory's anshin_records_dir, bin/anshin through anshin_ops.records."""

import os
import subprocess

import pytest
import yaml

from anshin_ops import incidents, records
from conftest import ROOT
from filter_plugins.records import KINDS, anshin_collected_dir, anshin_records_dir


def test_staging_and_production_keep_their_records_in_git_each_apart(monkeypatch):
    monkeypatch.delenv("ANSHIN_RECORDS_ROOT", raising=False)
    assert records.records_dir("production") == os.path.join(ROOT, "records", "production")
    assert records.records_dir("staging", "patching") == os.path.join(ROOT, "records", "staging", "patching")
    assert records.records_dir("local", "incidents") == os.path.join(ROOT, ".local", "records", "incidents")
    ignored = subprocess.run(["git", "check-ignore", "-q", "records/production/incidents/x.yml"], cwd=ROOT)
    assert ignored.returncode == 1  # versioned
    assert subprocess.run(["git", "check-ignore", "-q", ".local/records/incidents/x.yml"], cwd=ROOT).returncode == 0


def test_an_inventory_that_is_not_ours_never_writes_into_the_versioned_records():
    assert anshin_records_dir("/tmp/molecule.x/inventory") == os.path.join(ROOT, ".local", "records")
    assert anshin_records_dir("/elsewhere/inventories/production") == "/elsewhere/records/production"
    assert anshin_records_dir(os.path.join(ROOT, "inventories", "local")) == os.path.join(ROOT, ".local", "records")


def test_unknown_inventories_and_kinds_are_refused(monkeypatch):
    with pytest.raises(incidents.RecordError, match="no inventory"):
        records.records_dir("prodution")
    with pytest.raises(incidents.RecordError, match="unknown kind"):
        records.records_dir("production", "incident")
    with pytest.raises(ValueError, match="unknown kind"):
        anshin_records_dir(os.path.join(ROOT, "inventories", "production"), "reports")


def test_every_inventory_takes_the_rule_and_every_role_default_uses_it():
    for name in ("local", "staging", "production"):
        with open(os.path.join(ROOT, "inventories", name, "group_vars", "all", "records.yml"), encoding="utf-8") as fh:
            assert yaml.safe_load(fh) == {
                "anshin_records_dir": "{{ inventory_dir | anshin_records_dir }}",
                "anshin_iis_logs_dir": "{{ inventory_dir | anshin_collected_dir('iis-logs') }}",
            }
    report_vars = {}
    for role in os.listdir(os.path.join(ROOT, "roles")):
        path = os.path.join(ROOT, "roles", role, "defaults", "main.yml")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                defaults = yaml.safe_load(fh) or {}
            report_vars.update({k: v for k, v in defaults.items() if k.endswith(("_report_dir", "_records_dir"))})
    assert report_vars, "no report directories found"
    for name, value in report_vars.items():
        assert value.startswith("{{ anshin_records_dir }}"), (name, value)
        kind = value.replace("{{ anshin_records_dir }}", "").strip("/")
        assert kind == "" or kind in KINDS, (name, kind)


def test_collected_logs_stay_out_of_git_and_apart_per_inventory():
    production = records.collected_dir("production", "iis-logs")
    assert production == os.path.join(ROOT, ".local", "collected", "production", "iis-logs")
    assert records.collected_dir("local", "iis-logs") != production  # a stand-in sample never mixes in
    assert (
        subprocess.run(["git", "check-ignore", "-q", production + "/cms/2026-11/W3SVC1/u_ex261101.log"]).returncode == 0
    )
    with pytest.raises(incidents.RecordError, match="unknown kind of collected log"):
        records.collected_dir("production", "nginx")
    with pytest.raises(ValueError, match="inventory's directory"):
        anshin_collected_dir("", "iis-logs")


def test_no_command_or_playbook_names_a_records_folder_of_its_own():
    offenders = []
    for folder in ("anshin_ops", "playbooks", "roles", "library"):
        for base, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith((".py", ".yml", ".j2")):
                    with open(os.path.join(base, name), encoding="utf-8") as fh:
                        text = fh.read()
                    if any(
                        folder in text
                        for folder in (".local/reports", '".local", "records"', ".local/records", ".local/iis-logs")
                    ):
                        offenders.append(os.path.relpath(os.path.join(base, name), ROOT))
    assert offenders == []

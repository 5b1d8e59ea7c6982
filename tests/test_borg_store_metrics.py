"""roles/borg_store/files/anshin-borg-store-metrics: the age and size of each repository on the backup host."""

import importlib.machinery
import importlib.util
import json
import os
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT

_loader = importlib.machinery.SourceFileLoader(
    "anshin_borg_store_metrics", str(ROOT / "roles/borg_store/files/anshin-borg-store-metrics")
)
bm = importlib.util.module_from_spec(importlib.util.spec_from_loader("anshin_borg_store_metrics", _loader))
_loader.exec_module(bm)

NOW = 1_800_000_000.0


def repository(base, name, created, transactions=None, segments=()):
    """A borg 1.x repository's layout: config, data/0/N segments, the append-only transaction log."""
    path = base / name
    (path / "data" / "0").mkdir(parents=True)
    (path / "config").write_text("[repository]\nversion = 1\n", encoding="utf-8")
    os.utime(path / "config", (created, created))
    for number, (size, mtime) in enumerate(segments):
        segment = path / "data" / "0" / str(number)
        segment.write_bytes(b"x" * size)
        os.utime(segment, (mtime, mtime))
    if transactions is not None:
        (path / "transactions").write_text("transaction 3, UTC time 2027-01-15T00:00:00.000000\n", encoding="utf-8")
        os.utime(path / "transactions", (transactions, transactions))
    return path


@pytest.fixture
def store(tmp_path):
    repos, env = tmp_path / "srv" / "borg", tmp_path / "etc"
    repos.mkdir(parents=True)
    env.mkdir()
    (repos / ".ssh").mkdir()  # the account's home: not a repository
    (repos / "stray").mkdir()  # not a repository either
    return {"textfile": str(tmp_path / "prom" / "anshin_borg_store.prom"), "repo_dir": str(repos), "env_dir": str(env)}


def values(families):
    return {
        (name, tuple(sorted(labels.items()))): value
        for name, _help, _kind, samples in families
        for labels, value in samples
    }


def test_the_last_change_is_the_last_client_commit_not_the_stores_own_compaction(store):
    # the store's daily compact wrote the newest segment; the client's last archive is in the log
    repository(
        Path(store["repo_dir"]), "vm1", created=1000.0, transactions=5000.0, segments=[(100, 4000.0), (20, 9000.0)]
    )
    got = values(bm.collect(store, now=NOW))
    labels = (("repository", "vm1"),)
    assert got[("anshin_backup_repository_last_change_timestamp_seconds", labels)] == 5000.0
    assert got[("anshin_backup_repository_present", labels)] == 1
    # config (26 bytes), both segments and the log
    size = sum(f.stat().st_size for f in Path(store["repo_dir"], "vm1").rglob("*") if f.is_file())
    assert got[("anshin_backup_repository_size_bytes", labels)] == size > 120
    assert got[("anshin_backup_store_metrics_last_run_timestamp_seconds", ())] == NOW
    assert {labels for _name, labels in got if labels} == {labels}


def test_a_repository_no_client_wrote_to_yet_counts_from_its_creation(store):
    repository(Path(store["repo_dir"]), "new-vm", created=1234.5)
    got = values(bm.collect(store, now=NOW))
    assert got[("anshin_backup_repository_last_change_timestamp_seconds", (("repository", "new-vm"),))] == 1234.5


def test_a_registered_repository_that_is_gone_is_reported_not_hidden(store):
    (Path(store["env_dir"]) / "vm1.env").write_text("KEEP_DAILY=7\n", encoding="utf-8")
    (Path(store["env_dir"]) / "vm1.passphrase").write_text("secret\n", encoding="utf-8")
    got = values(bm.collect(store, now=NOW))
    assert got[("anshin_backup_repository_present", (("repository", "vm1"),))] == 0
    assert ("anshin_backup_repository_last_change_timestamp_seconds", (("repository", "vm1"),)) not in got
    assert ("anshin_backup_repository_present", (("repository", "vm1.passphrase"),)) not in got


def test_an_empty_store_still_says_it_ran(store):
    got = values(bm.collect(store, now=NOW))
    assert got == {("anshin_backup_store_metrics_last_run_timestamp_seconds", ()): NOW}
    missing = dict(store, repo_dir=store["repo_dir"] + "-none")
    assert values(bm.collect(missing, now=NOW)) == got


def test_written_atomically_in_the_text_format_node_exporter_reads(store, tmp_path):
    repository(Path(store["repo_dir"]), 'odd"name', created=1000.0, transactions=2000.0, segments=[(10, 1500.0)])
    settings = tmp_path / "metrics.json"
    settings.write_text(json.dumps(store), encoding="utf-8")
    assert bm.main(["write", str(settings)]) == 0
    assert not os.path.exists(store["textfile"] + ".partial")
    assert oct(os.stat(store["textfile"]).st_mode & 0o777) == "0o644"
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(Path(store["textfile"]).read_text(encoding="utf-8"))
        for s in family.samples
    }
    assert samples[("anshin_backup_repository_last_change_timestamp_seconds", (("repository", 'odd"name'),))] == 2000
    assert samples[("anshin_backup_repository_present", (("repository", 'odd"name'),))] == 1
    assert ("anshin_backup_store_metrics_last_run_timestamp_seconds", ()) in samples


def test_usage_without_write_exits_2(capsys):
    assert bm.main([]) == 2
    assert bm.main(["read"]) == 2
    assert "anshin-borg-store-metrics write" in capsys.readouterr().err

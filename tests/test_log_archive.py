"""roles/logrotate/files/anshin-log-archive: which files move, what they keep, what expires."""

import importlib.machinery
import importlib.util
import json
import os

import pytest

from conftest import ROOT

_path = str(ROOT / "roles/logrotate/files/anshin-log-archive")
_loader = importlib.machinery.SourceFileLoader("anshin_log_archive", _path)
_spec = importlib.util.spec_from_loader("anshin_log_archive", _loader)
archiver = importlib.util.module_from_spec(_spec)
_loader.exec_module(archiver)

DAY = 86400
NOW = 2_000_000_000


def touch(path, age_days, text="x\n", mode=0o640):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    os.utime(path, (NOW - age_days * DAY, NOW - age_days * DAY))
    return path


@pytest.fixture
def tree(tmp_path):
    logs = tmp_path / "log/nginx"
    files = {
        "live": touch(logs / "access.log", 0),
        "old_dated": touch(logs / "access.log-20261001-1759276800.gz", 40, mode=0o600),
        "old_numbered": touch(logs / "error.log.3.gz", 35),
        "old_plain_dated": touch(logs / "access.log-20261002", 39),
        "recent": touch(logs / "access.log-20261120-1763596800.gz", 8),
        "other_log": touch(logs / "unrelated.txt.1", 90),
    }
    archive = tmp_path / "archive"
    expired = touch(archive / str(logs).lstrip("/") / "access.log-20250101-1.gz", 500)
    kept = touch(archive / str(logs).lstrip("/") / "access.log-20260101-1.gz", 300)
    config = {"archive_dir": str(archive), "after_days": 30, "retention_days": 400, "paths": [f"{logs}/*.log"]}
    return files, archive, expired, kept, config


def test_moves_old_rotated_files_keeping_mode_and_times(tree, capsys):
    files, archive, expired, kept, config = tree
    assert archiver.run(config, now=NOW) == 0
    for key in ("old_dated", "old_numbered", "old_plain_dated"):
        source = files[key]
        target = archive / str(source).lstrip("/")
        assert not source.exists() and target.exists(), key
        assert target.stat().st_mtime == NOW - {"old_dated": 40, "old_numbered": 35, "old_plain_dated": 39}[key] * DAY
    assert (archive / str(files["old_dated"]).lstrip("/")).stat().st_mode & 0o777 == 0o600
    for key in ("live", "recent", "other_log"):  # live logs, young rotations, files of no configured log stay
        assert files[key].exists(), key
    assert not expired.exists() and kept.exists()
    assert "archived 3 files" in capsys.readouterr().out


def test_dry_run_changes_nothing(tree, capsys):
    files, archive, expired, kept, config = tree
    before = sorted(p for p in archive.parent.rglob("*"))
    assert archiver.run(config, dry_run=True, now=NOW) == 0
    assert sorted(p for p in archive.parent.rglob("*")) == before
    out = capsys.readouterr().out
    assert out.count("would move") == 3 and out.count("would remove") == 1


def test_an_existing_target_is_never_overwritten(tree, capsys):
    files, archive, expired, kept, config = tree
    clash = archive / str(files["old_numbered"]).lstrip("/")
    clash.parent.mkdir(parents=True, exist_ok=True)
    clash.write_text("earlier copy\n")
    os.utime(clash, (NOW, NOW))
    assert archiver.run(config, now=NOW) == 1  # the unit fails, so monitoring sees it
    assert files["old_numbered"].exists() and clash.read_text() == "earlier copy\n"
    assert "already exists" in capsys.readouterr().err


def test_copy_across_file_systems(tree, monkeypatch):
    files, archive, expired, kept, config = tree
    real_rename = os.rename

    def rename(src, dst):
        if not str(src).endswith(".partial"):
            raise OSError(18, "Invalid cross-device link")
        return real_rename(src, dst)

    monkeypatch.setattr(archiver.os, "rename", rename)
    monkeypatch.setattr(archiver.os, "chown", lambda *a: None)  # tests do not run as root everywhere
    assert archiver.run(config, now=NOW) == 0
    target = archive / str(files["old_dated"]).lstrip("/")
    assert target.read_text() == "x\n" and not files["old_dated"].exists()
    assert not list(archive.rglob("*.partial"))


@pytest.mark.parametrize(
    "change, words",
    [
        ({"archive_dir": "/var/log"}, "archive_dir"),
        ({"archive_dir": "relative"}, "archive_dir"),
        ({"after_days": 0}, "after_days"),
        ({"retention_days": 10}, "retention_days > after_days"),
        ({"paths": ["var/log/*.log"]}, "absolute glob"),
        ({"after_days": "30"}, "after_days: missing or not int"),
    ],
)
def test_check_config_refuses_bad_settings(tmp_path, capsys, change, words):
    config = {
        "archive_dir": "/var/log/anshin-archive",
        "after_days": 30,
        "retention_days": 400,
        "paths": ["/var/log/nginx/*.log"],
    }
    config.update(change)
    path = tmp_path / "c.json"
    path.write_text(json.dumps(config))
    assert archiver.main(["--check-config", str(path)]) == 2
    assert words in capsys.readouterr().err


def test_check_config_accepts_good_settings(tmp_path):
    path = tmp_path / "c.json"
    path.write_text(
        json.dumps(
            {
                "archive_dir": "/var/log/anshin-archive",
                "after_days": 30,
                "retention_days": 400,
                "paths": ["/var/log/nginx/*.log"],
            }
        )
    )
    assert archiver.main(["--check-config", str(path)]) == 0

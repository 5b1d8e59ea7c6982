"""roles/backup/files/anshin-backup without borg: choosing archives, naming causes, database copies,
manifests and the comparison the drill and the restore rely on. (With borg: molecule/backup.)"""

import importlib.machinery
import importlib.util
import io
import json
import os
import pathlib
import re
import sqlite3
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import ROOT

_loader = importlib.machinery.SourceFileLoader("anshin_backup", str(ROOT / "roles/backup/files/anshin-backup"))
ab = importlib.util.module_from_spec(importlib.util.spec_from_loader("anshin_backup", _loader))
_loader.exec_module(ab)

REPO = {"label": "store", "config": "/dev/null", "create": True}


@pytest.fixture
def listed(monkeypatch):
    found = [{"name": "vm-1", "time": 1000.0}, {"name": "vm-2", "time": 2000.0}, {"name": "vm-3", "time": 3000.0}]
    monkeypatch.setattr(ab, "archives", lambda repo: found)
    return found


def test_pick_by_name_time_or_latest(listed):
    assert ab.pick_archive(REPO)["name"] == "vm-3"
    assert ab.pick_archive(REPO, name="vm-1")["name"] == "vm-1"
    assert ab.pick_archive(REPO, before=2500)["name"] == "vm-2"
    assert ab.pick_archive(REPO, before=2000)["name"] == "vm-2"  # at or before
    with pytest.raises(ab.Failure, match="no archive before"):
        ab.pick_archive(REPO, before=999)
    with pytest.raises(ab.Failure, match="no archive named vm-9; latest is vm-3"):
        ab.pick_archive(REPO, name="vm-9")


@pytest.mark.parametrize(
    "stderr, cause",
    [
        ("passphrase supplied in BORG_PASSCOMMAND is incorrect.", "passphrase is wrong"),
        ("Remote: ssh: connect to host 10.0.0.9 port 22: Connection refused", "unreachable"),
        ("Insufficient free space to complete transaction (required: 10 MB, available: 1 MB).", "disk is full"),
        ("OSError: [Errno 28] No space left on device", "disk is full"),
        ("Remote: Host key verification failed.", "SSH key is not the trusted one"),
        ("borg@10.0.0.9: Permission denied (publickey).", "refused this VM's key"),
    ],
)
def test_borg_errors_get_a_one_line_cause(monkeypatch, stderr, cause):
    class Done:
        returncode, stdout = 2, ""

    Done.stderr = stderr + "\nCRITICAL\nCRITICAL Need some help? https://torsion.org/borgmatic/#issues\n"
    monkeypatch.setattr(ab.subprocess, "run", lambda *a, **k: Done)
    with pytest.raises(ab.Failure) as err:
        ab.borgmatic(REPO, "create")
    assert cause in str(err.value) and str(err.value).startswith("store: ")


def test_unknown_errors_give_the_last_meaningful_line():
    text = (
        "CRITICAL /etc/x.yaml: Error running configuration file\n"
        "CRITICAL Command 'borg create' returned non-zero exit status 2.\nCRITICAL\n"
        "CRITICAL Need some help? https://torsion.org/borgmatic/#issues\n"
    )
    assert ab.last_message(text, 2) == "Command 'borg create' returned non-zero exit status 2."
    assert ab.last_message("", 2) == "exit status 2"


def make_settings(tmp_path):
    data = tmp_path / "data"
    (data / "spool").mkdir(parents=True)
    for i in range(3):
        (data / "spool" / f"m{i}.json").write_text(f"message {i}\n")
    (data / "spool" / ".tmp-inflight").write_text("being written\n")
    db = sqlite3.connect(data / "db.sqlite3")
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, document_id TEXT)")
    db.executemany("INSERT INTO messages (document_id) VALUES (?)", [(f"D{i}",) for i in range(50)])
    db.commit()
    db.close()
    return {
        "repositories": [REPO],
        "staging_dir": str(tmp_path / "staging"),
        "sources": [str(data)],
        "exclude_patterns": ["*/.tmp-*"],
        "databases": [
            {
                "name": "receiver",
                "path": str(data / "db.sqlite3"),
                "queries": {"latest": "SELECT document_id FROM messages ORDER BY id DESC LIMIT 1"},
            }
        ],
        "restore_paths": [str(data / "spool")],
        "services": [],
        "dumps": [],
        "textfile": str(tmp_path / "m.prom"),
        "state_file": str(tmp_path / "state.json"),
        "scratch_dir": str(tmp_path / "scratch"),
        "safety_dir": str(tmp_path / "safety"),
    }


def extract_like_borg(settings, root):
    """What borg extract would give: every source and the staging directory under root."""
    import shutil

    for path in settings["sources"] + [settings["staging_dir"]]:
        shutil.copytree(path, root + path, ignore=shutil.ignore_patterns("db.sqlite3*", ".tmp-*"), dirs_exist_ok=True)


def test_manifest_records_files_and_a_consistent_database_copy(tmp_path):
    settings = make_settings(tmp_path)
    manifest = ab.write_manifest(settings)
    assert sorted(os.path.basename(p) for p in manifest["files"]) == ["m0.json", "m1.json", "m2.json"]
    facts = manifest["databases"]["receiver"]
    assert facts["integrity"] == "ok" and facts["rows"] == {"messages": 50} and facts["queries"] == {"latest": "D49"}
    copy = sqlite3.connect(facts["copy"])
    assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # self-contained, no -wal needed


def test_verify_finds_a_good_tree_and_every_kind_of_damage(tmp_path):
    settings = make_settings(tmp_path)
    ab.write_manifest(settings)
    root = str(tmp_path / "restored")
    extract_like_borg(settings, root)
    problems, summary, _ = ab.verify_tree(root, settings)
    assert problems == [] and summary["files"] == 3
    spool = root + settings["restore_paths"][0]
    with open(os.path.join(spool, "m1.json"), "a") as fh:
        fh.write("bit rot\n")
    os.unlink(os.path.join(spool, "m2.json"))
    copy = root + settings["staging_dir"] + "/receiver.sqlite3"
    sqlite3.connect(copy).execute("DELETE FROM messages WHERE id = 1").connection.commit()
    problems, _, _ = ab.verify_tree(root, settings)
    assert any(p.startswith("differs:") and p.endswith("m1.json") for p in problems)
    assert any(p.startswith("missing:") and p.endswith("m2.json") for p in problems)
    assert any("rows" in p for p in problems) and any("checksum" in p for p in problems)


def test_copy_under_concurrent_writes_is_a_consistent_snapshot(tmp_path):
    settings = make_settings(tmp_path)
    db_path = settings["databases"][0]["path"]
    stop, committed, lock = threading.Event(), [50], threading.Lock()

    def writer():
        conn = sqlite3.connect(db_path, timeout=30)
        while not stop.is_set():
            conn.execute("INSERT INTO messages (document_id) VALUES ('w')")
            conn.commit()
            with lock:
                committed[0] += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while committed[0] < 60 and time.monotonic() < deadline:  # copies begin while it writes
            time.sleep(0.01)
        copies = []
        for i in range(5):
            (tmp_path / f"copy{i}").mkdir()
            with lock:
                before = committed[0]
            facts = ab.snapshot_database(settings["databases"][0], str(tmp_path / f"copy{i}"))
            with lock:
                after = committed[0]
            copies.append((before, facts, after))
    finally:
        stop.set()
        thread.join()
    for before, facts, after in copies:
        rows = sqlite3.connect(facts["copy"]).execute("SELECT COUNT(*) FROM messages").fetchone()[0]
        # every commit made before the copy began is in it (a copy of the main file alone misses what the
        # WAL holds), and none that had not been made when it ended
        assert before <= rows <= after, (before, rows, after)
        assert facts["integrity"] == "ok" and facts["rows"]["messages"] == rows
    assert copies[-1][0] > copies[0][0] >= 60  # the writer really wrote during the copies


def test_restore_plan_lists_what_would_change(tmp_path):
    settings = make_settings(tmp_path)
    ab.write_manifest(settings)
    root = str(tmp_path / "restored")
    extract_like_borg(settings, root)
    spool = settings["restore_paths"][0]
    with open(os.path.join(spool, "m0.json"), "w") as fh:
        fh.write("changed\n")
    os.unlink(os.path.join(spool, "m1.json"))
    with open(os.path.join(spool, "new.json"), "w") as fh:
        fh.write("new\n")
    plan, _ = ab.plan_restore(settings, root)
    assert plan["paths"][spool] == {
        "restore": ["m1.json"],
        "replace": ["m0.json"],
        "remove": [".tmp-inflight", "new.json"],
        "unchanged": 1,
    }
    assert plan["databases"]["receiver"]["archive_rows"] == {"messages": 50}


def test_restore_plan_reads_contents_not_only_sizes(tmp_path):
    """A live file of the archived size but other contents is replaced; an unreadable one too."""
    settings = make_settings(tmp_path)
    ab.write_manifest(settings)
    root = str(tmp_path / "restored")
    extract_like_borg(settings, root)
    spool = settings["restore_paths"][0]
    with open(os.path.join(spool, "m0.json"), "w") as fh:
        fh.write("massage 0\n")  # same length as "message 0"
    os.chmod(os.path.join(spool, "m2.json"), 0)
    plan, _ = ab.plan_restore(settings, root)
    expected = ["m0.json"] if os.geteuid() == 0 else ["m0.json", "m2.json"]  # root reads mode 0 files
    assert plan["paths"][spool]["replace"] == expected


def samples(path):
    """[(name, labels, value)] of a textfile, read as node_exporter reads it."""
    text = pathlib.Path(path).read_text(encoding="utf-8")
    return [(s.name, s.labels, s.value) for f in text_string_to_metric_families(text) for s in f.samples]


def test_metrics_keep_the_last_success_through_a_failure(tmp_path):
    settings = make_settings(tmp_path)
    ab.update_state(settings, backup_result={"store": 1}, backup_success={"store": 1700000000})
    ab.update_state(settings, backup_result={"store": 0})
    assert samples(settings["textfile"]) == [
        ("anshin_backup_last_success_timestamp_seconds", {"repository": "store"}, 1700000000),
        ("anshin_backup_last_result", {"repository": "store"}, 0),
    ]
    text = pathlib.Path(settings["textfile"]).read_text()
    assert "# HELP anshin_backup_last_result 1 when the last backup succeeded, 0 when it failed.\n" in text
    assert oct(os.stat(settings["textfile"]).st_mode & 0o777) == "0o644"
    assert json.loads(pathlib.Path(settings["state_file"]).read_text())["backup_result"] == {"store": 0}


def test_a_failure_a_retry_fixed_stays_in_the_metrics(tmp_path, monkeypatch):
    """A night that failed and the backup_now run that fixed it within the hour: Prometheus samples hourly, so
    the failure's own timestamp must outlive the success (the 運用報告書 counts each distinct value as a run)."""
    import argparse

    settings = make_settings(tmp_path)
    answers = iter([ab.Failure("borg: the store is unreachable"), {"archive": {"name": "vm-2", "stats": {}}}])

    def create(repo, *args):
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(ab, "borgmatic_json", create)
    now = {"t": 1_790_000_000.0}
    monkeypatch.setattr(ab.time, "time", lambda: now["t"])
    with pytest.raises(ab.Failure, match="unreachable"):
        ab.cmd_run(settings, argparse.Namespace())
    now["t"] += 1800  # the retry, half an hour later
    ab.cmd_run(settings, argparse.Namespace())
    metrics = {name: value for name, _labels, value in samples(settings["textfile"])}
    assert metrics["anshin_backup_last_result"] == 1
    assert metrics["anshin_backup_last_failure_timestamp_seconds"] == 1_790_000_000
    assert metrics["anshin_backup_last_run_timestamp_seconds"] == 1_790_001_800


def test_a_snapshot_that_fails_and_a_drill_that_fails_leave_their_own_timestamps(tmp_path, monkeypatch):
    import argparse

    settings = make_settings(tmp_path)
    monkeypatch.setattr(ab, "write_manifest", lambda settings: (_ for _ in ()).throw(OSError("disk full")))
    monkeypatch.setattr(ab.time, "time", lambda: 1_790_000_000.0)
    with pytest.raises(ab.Failure, match="snapshot: disk full"):
        ab.cmd_run(settings, argparse.Namespace())
    monkeypatch.setattr(ab, "pick_archive", lambda repo, name=None, before=None: {"name": "vm-1", "time": 1.0})
    monkeypatch.setattr(ab, "extract", lambda *a, **k: (_ for _ in ()).throw(ab.Failure("borg: segment missing")))
    monkeypatch.setattr(ab.time, "time", lambda: 1_790_000_600.0)
    with pytest.raises(ab.Failure, match="segment missing"):
        ab.cmd_drill(settings, argparse.Namespace(repository=None))
    metrics = {name: value for name, _labels, value in samples(settings["textfile"])}
    assert metrics["anshin_backup_last_failure_timestamp_seconds"] == 1_790_000_000
    assert metrics["anshin_backup_drill_last_failure_timestamp_seconds"] == 1_790_000_600
    assert metrics["anshin_backup_drill_last_result"] == 0


def test_a_repository_name_cannot_forge_a_metrics_line(tmp_path):
    settings = make_settings(tmp_path)
    evil = 'x"} 1\nanshin_forged 1\n#\\'
    ab.update_state(settings, backup_success={evil: 1700000000})
    assert samples(settings["textfile"]) == [
        ("anshin_backup_last_success_timestamp_seconds", {"repository": evil}, 1700000000)
    ]


def test_bad_input_exits_2_with_the_reason(tmp_path, capsys):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(make_settings(tmp_path)))
    assert ab.main(["--config", str(path), "restore", "--before", "yesterday"]) == 2
    assert "bad input" in capsys.readouterr().err


def test_unchanged_files_are_not_hashed_again(tmp_path, monkeypatch):
    settings = make_settings(tmp_path)
    ab.write_manifest(settings)
    spool = settings["restore_paths"][0]
    with open(os.path.join(spool, "m0.json"), "w") as fh:
        fh.write("message X\n")  # same size, new content and mtime
    real, read = ab.sha256, []
    monkeypatch.setattr(ab, "sha256", lambda path: read.append(os.path.basename(path)) or real(path))
    manifest = ab.write_manifest(settings)
    assert [f for f in read if f.endswith(".json")] == ["m0.json"]
    assert manifest["files"][os.path.join(spool, "m0.json")] == real(os.path.join(spool, "m0.json"))


LDIF_A = (
    "dn: dc=anshin,dc=local\ndc: anshin\n\ndn: ou=people,dc=anshin,dc=local\nou: people\n\n"
    "dn: uid=hanako,ou=people,dc=anshin,dc=local\ncn: 徳島 花子\n\n"
)


def add_dump(tmp_path, settings):
    """A stand-in directory service: its data file is dumped with cat and loaded with cat, like
    slapcat/slapadd with the live directory in /var/lib/ldap."""
    import getpass

    directory = tmp_path / "ldap"
    directory.mkdir()
    (directory / "data").write_text(LDIF_A, encoding="utf-8")
    settings["dumps"] = [
        {
            "name": "directory",
            "dump": ["cat", str(directory / "data")],
            "restore": ["sh", "-c", f"cat > {directory}/data"],
            "clear": [str(directory)],
            "owner": getpass.getuser(),
            "services": ["slapd.service"],
            "processes": [],
            "count": "^dn:",
        }
    ]
    return directory


def test_a_dump_is_taken_counted_and_verified(tmp_path):
    settings = make_settings(tmp_path)
    add_dump(tmp_path, settings)
    manifest = ab.write_manifest(settings)
    facts = manifest["dumps"]["directory"]
    assert facts["entries"] == 3 and pathlib.Path(facts["copy"]).read_text(encoding="utf-8") == LDIF_A
    assert os.stat(facts["copy"]).st_mode & 0o777 == 0o600  # an LDAP export holds password hashes
    root = str(tmp_path / "restored")
    extract_like_borg(settings, root)
    problems, summary, _ = ab.verify_tree(root, settings)
    assert problems == [] and summary["dumps"] == {"directory": 3}
    with open(root + facts["copy"], "a") as fh:
        fh.write("dn: uid=intruder\n")
    assert ab.verify_tree(root, settings)[0] == ["dump directory: checksum differs"]
    os.unlink(root + facts["copy"])
    assert ab.verify_tree(root, settings)[0] == ["dump missing: directory"]


@pytest.mark.parametrize(
    "command, cause",
    [
        (["sh", "-c", "echo 'slapcat: database not found' >&2; exit 1"], "sh failed: slapcat: database not found"),
        (["/nonexistent/slapcat"], "cannot run /nonexistent/slapcat"),
    ],
)
def test_a_failing_dump_fails_the_backup_with_its_cause(tmp_path, command, cause):
    settings = make_settings(tmp_path)
    add_dump(tmp_path, settings)
    settings["dumps"][0]["dump"] = command
    with pytest.raises(ab.Failure, match=cause):
        ab.write_manifest(settings)
    assert not [n for n in os.listdir(settings["staging_dir"]) if n.startswith("directory.dump")]


def restore_setup(tmp_path, monkeypatch):
    import argparse

    settings = make_settings(tmp_path)
    directory = add_dump(tmp_path, settings)
    ab.write_manifest(settings)
    monkeypatch.setattr(ab, "pick_archive", lambda repo, name=None, before=None: {"name": "vm-1", "time": 1000.0})
    monkeypatch.setattr(
        ab, "extract", lambda repo, archive, destination, paths=None: extract_like_borg(settings, destination)
    )
    monkeypatch.setattr(ab, "extract_jobs", lambda: 1)  # one extract: the stand-in above (shared: below)
    calls = []
    monkeypatch.setattr(ab, "systemctl", lambda action, units: calls.append((action, list(units))))
    args = argparse.Namespace(repository=None, archive=None, before=None, yes=True)
    return settings, directory, calls, args


def test_restore_loads_the_dump_into_an_emptied_directory_with_its_service_stopped(tmp_path, monkeypatch, capsys):
    settings, directory, calls, args = restore_setup(tmp_path, monkeypatch)
    (directory / "data").write_text("dn: dc=anshin,dc=local\n", encoding="utf-8")  # people lost
    (directory / "lock.mdb").write_text("stale\n")
    args.yes = False
    ab.cmd_restore(settings, args)  # a dry run: the plan, nothing changed
    plan = json.loads(capsys.readouterr().out)["plan"]
    assert plan["dumps"]["directory"] == {"archive_entries": 3, "live_entries": 1, "restorable": True}
    assert calls == [] and (directory / "lock.mdb").exists()
    db_path = settings["databases"][0]["path"]
    archived_mode = os.stat(db_path).st_mode & 0o777
    with sqlite3.connect(db_path) as conn:  # rows lost, and the file's mode changed by hand
        conn.execute("DELETE FROM messages")
    os.chmod(db_path, 0o600)
    args.yes = True
    ab.cmd_restore(settings, args)
    with sqlite3.connect(db_path) as conn:  # the database copy put in place with the mode recorded
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 50
    assert os.stat(db_path).st_mode & 0o777 == archived_mode != 0o600
    assert (directory / "data").read_text(encoding="utf-8") == LDIF_A
    assert sorted(os.listdir(directory)) == ["data"]  # loaded into an emptied directory
    assert calls == [("stop", ["slapd.service"]), ("start", ["slapd.service"])]
    (safety,) = [p for p in os.listdir(settings["safety_dir"]) if p.startswith("pre-restore-")]
    kept = os.path.join(settings["safety_dir"], safety, "directory", str(directory).strip("/").replace("/", "_"))
    assert sorted(os.listdir(kept)) == ["data", "lock.mdb"]  # the state before is kept


def test_a_failed_load_puts_the_state_before_back(tmp_path, monkeypatch):
    settings, directory, calls, args = restore_setup(tmp_path, monkeypatch)
    (directory / "data").write_text("dn: dc=anshin,dc=local\n", encoding="utf-8")
    settings["dumps"][0]["restore"] = ["sh", "-c", "cat > /dev/null; echo 'slapadd: could not add entry' >&2; exit 1"]
    with pytest.raises(ab.Failure, match="could not add entry; the state before is back in place"):
        ab.cmd_restore(settings, args)
    assert (directory / "data").read_text(encoding="utf-8") == "dn: dc=anshin,dc=local\n"
    assert calls[-1] == ("start", ["slapd.service"])  # the services come back either way


def test_an_archive_dump_this_vm_cannot_restore_stops_the_restore(tmp_path, monkeypatch):
    settings, directory, calls, args = restore_setup(tmp_path, monkeypatch)
    settings["dumps"] = []
    with pytest.raises(ab.Failure, match="no restore for: directory"):
        ab.cmd_restore(settings, args)
    assert calls == []  # nothing was stopped


def borg_matches(pattern_text, path):
    """Whether borg extracts path with this pattern file, by borg's rules (borg/patterns.py): each line
    stripped, full-path (pf:) patterns looked up first, then the others in order, the first match decides;
    no match includes (no PATH arguments are given)."""
    full, ordered = {}, []
    for line in (raw.strip() for raw in io.StringIO(pattern_text, newline=None)):  # as open() reads it
        if not line:
            continue
        include, (style, value) = line[0] == "+", line[1:].lstrip().split(":", 1)
        if style == "pf":
            full[os.path.normpath(value).lstrip("/")] = include
        else:
            ordered.append((style, value, include))
    if path in full:
        return full[path]
    for style, value, include in ordered:
        if (style == "pp" and (path == value or path.startswith(value.rstrip("/") + "/"))) or (
            style == "re" and re.search(value, path)
        ):
            return include
    return True


ODD = ["spool/trail ", "spool/new\nline", "spool/cr\r", "spool/bad\udcff", "spool/./dot"]  # no pattern names them


@pytest.mark.parametrize("paths", [None, ["/var/spool/lalert", "/var/lib/anshin-backup/staging"]])
@pytest.mark.parametrize("jobs", [2, 3])
def test_a_shared_extract_takes_every_archived_path_exactly_once(paths, jobs):
    spool = [f"/var/spool/lalert/TKS-{i:04d}-r1.json" for i in range(50)] + ["/var/spool/lalert/" + o for o in ODD]
    spool += ["/var/spool/lalert/津波 警報.json"]
    staging = ["/var/lib/anshin-backup/staging/manifest.json", "/var/lib/anshin-backup/staging/receiver.sqlite3"]
    etc = ["/etc/hostname", "/etc/ssh/sshd_config"]
    directories = ["var", "var/spool", "var/spool/lalert", "var/spool/lalert/spool", "etc", "etc/ssh"]
    link = "var/spool/lalert/latest.json"  # a link: not in the manifest's files
    archived = [p.lstrip("/") for p in spool + staging + etc] + directories + [link]
    files = spool + staging + etc
    patterns = ab.extract_patterns(paths, ab.share_files(paths, files, jobs))
    assert len(patterns) == jobs
    wanted = [p for p in archived if not paths or any(borg_matches(f"+ pp:{w.lstrip('/')}\n- re:.", p) for w in paths)]
    for path in archived:
        takers = [k for k, text in enumerate(patterns) if borg_matches(text, path)]
        assert len(takers) == (path in wanted), path
        if path in directories or path == link:
            assert takers in ([], [0]), path  # what is not a manifest file stays with the first
    shared = [p for text in patterns[1:] for p in archived if borg_matches(text, p)]
    assert shared and not set(shared) & {o.join(["var/spool/lalert/", ""]) for o in ODD}  # odd names: the first
    sizes = [sum(borg_matches(text, p) for p in archived if p.startswith("var/spool/lalert/TKS")) for text in patterns]
    assert max(sizes) - min(sizes) <= 1  # dealt round evenly


def test_one_job_or_no_files_is_one_plain_extract():
    assert ab.extract_patterns(None, ab.share_files(None, ["/a/b"], 1)) == ["\n"]
    assert len(ab.extract_patterns(["/a"], ab.share_files(["/a"], ["/b/c"], 4))) == 1


def standin_borgmatic(tmp_path, monkeypatch, first):
    """A borgmatic on PATH for a shared extract: each process notes its arguments in ../calls (relative to the
    directory it runs in), and what the spool's directory held; the first process (its pattern file excludes
    the others' files) runs FIRST, the others end 0.6 s later and well."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "borgmatic").write_text(
        "#!/bin/sh\n"
        "patterns=$(eval echo \\${$#})\n"
        'ls -A spool/sub >> ../listing; echo "$*" >> ../calls\n'
        f'if head -1 "$patterns" | grep -q "^- pf:"; then {first}; fi\n'
        "sleep 0.6; echo 'terminating with success status, rc 0'; echo done >> ../ended\n"
    )
    (bin_dir / "borgmatic").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")


FILES = [f"/spool/sub/TKS-{i}.json" for i in range(4)]


def test_a_failed_process_fails_the_extract_after_every_process_ended(tmp_path, monkeypatch):
    refused = "echo 'CRITICAL: Remote: ssh: connect to host 10.0.0.9 port 22: Connection refused'; exit 2"
    standin_borgmatic(tmp_path, monkeypatch, refused)
    monkeypatch.setattr(ab, "borgmatic_version", lambda: (1, 7))
    with pytest.raises(ab.Failure, match="store: the backup host is unreachable"):
        ab.extract_shared(REPO, "vm-1", str(tmp_path / "out"), ["/spool"], FILES, 2)
    assert (tmp_path / "ended").read_text() == "done\n"  # the slower one was waited for, not left running
    calls = (tmp_path / "calls").read_text().splitlines()
    assert len(calls) == 2
    assert all(
        c.startswith("-c /dev/null --no-color borg --archive vm-1 extract --show-rc --patterns-from ") for c in calls
    )
    # the shared files' directories were made first, not empty while the processes ran (borg removes an
    # empty directory before extracting its item, racing the others), and emptied again afterwards
    assert (tmp_path / "listing").read_text().startswith(".anshin-extract-")
    assert (tmp_path / "out/spool/sub").is_dir() and not os.listdir(tmp_path / "out/spool/sub")
    monkeypatch.setattr(ab, "borgmatic_version", lambda: (1, 9))
    (tmp_path / "calls").unlink()
    with pytest.raises(ab.Failure):
        ab.extract_shared(REPO, "vm-1", str(tmp_path / "out"), ["/spool"], FILES, 2)
    calls = (tmp_path / "calls").read_text().splitlines()
    assert all(" borg extract ::vm-1 --show-rc --patterns-from " in c for c in calls)


def test_a_borg_warning_fails_a_shared_extract(tmp_path, monkeypatch):
    """borgmatic's borg action exits 0 on a borg warning (a file it could not write): the extract fails."""
    warned = (
        "echo 'spool/sub/TKS-0.json: open: [Errno 13] Permission denied'; echo 'terminating with warning status, rc 1'"
    )
    standin_borgmatic(tmp_path, monkeypatch, f"{warned}; exit 0")
    monkeypatch.setattr(ab, "borgmatic_version", lambda: (1, 7))
    with pytest.raises(ab.Failure, match="store: terminating with warning status, rc 1"):
        ab.extract_shared(REPO, "vm-1", str(tmp_path / "out"), ["/spool"], FILES, 2)
    standin_borgmatic(tmp_path, monkeypatch, "true")
    ab.extract_shared(REPO, "vm-1", str(tmp_path / "out"), ["/spool"], FILES, 2)  # success says success


def test_a_restore_path_the_archive_does_not_hold_stops_the_restore(tmp_path, monkeypatch):
    settings, directory, calls, args = restore_setup(tmp_path, monkeypatch)
    settings["restore_paths"].append(str(tmp_path / "data" / "added-later"))  # configured after the archive
    (tmp_path / "data" / "added-later").mkdir()
    settings["sources"] = [settings["restore_paths"][0]]  # the archive holds the spool only
    with pytest.raises(ab.Failure, match="holds no .*added-later, not restored"):
        ab.cmd_restore(settings, args)
    assert calls == [] and (tmp_path / "data" / "added-later").is_dir()  # nothing stopped, nothing moved

"""問合せ記録 and 打合せ議事録 (bin/anshin inquiry, minutes): written into the inventory's records, answer
times in inquiry hours, bad input refused before anything is written, both in the 引継書."""

import os

import pytest
import yaml

from anshin_ops import cli, docs, inquiries
from conftest import ROOT


@pytest.fixture(autouse=True)
def records_root(tmp_path, monkeypatch):
    monkeypatch.setenv("ANSHIN_RECORDS_ROOT", str(tmp_path / "records"))
    return tmp_path / "records"


def only(folder):
    (path,) = folder.glob("*.yml")
    return path


def test_an_inquiry_received_and_answered_in_inquiry_hours(records_root, capsys):
    assert (
        cli.main(
            [
                "inquiry",
                "new",
                "--received",
                "2026-11-27T17:00",
                "--from",
                "危機管理課 山田",
                "--channel",
                "電話",
                "--subject",
                "避難情報の表示について",
            ]
        )
        == 0
    )
    path = only(records_root / "inquiries")
    record = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert inquiries.ID.match(record["id"]) and record["status"] == "受付"
    capsys.readouterr()
    # Friday 17:00 -> Monday 9:00: 30 minutes on Friday (until 17:30) and 30 on Monday (from 8:30)
    assert (
        cli.main(["inquiry", "answer", record["id"], "--answered", "2026-11-30T09:00", "--answer", "表示を修正"]) == 0
    )
    assert "回答までの時間 (問合せ対応時間内) 60.0 分" in capsys.readouterr().out
    answered = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert answered["status"] == "回答済" and answered["answer"] == "表示を修正"
    assert cli.main(["inquiry", "list"]) == 0
    assert "回答済" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["inquiry", "new", "--received", "2026-13-01T10:00", "--from", "x", "--channel", "電話", "--subject", "s"],
            "is not a date and time",
        ),
        (
            ["inquiry", "new", "--received", "2026-11-30T10:00", "--from", "", "--channel", "電話", "--subject", "s"],
            "requester: required",
        ),
        (
            ["inquiry", "answer", "INQ-20261130-1000-abcdef", "--answered", "2026-11-30T11:00", "--answer", "a"],
            "no inquiry INQ-20261130-1000-abcdef",
        ),
        (["minutes", "new", "--date", "2026-02-30"], "is not YYYY-MM-DD"),
        (["minutes", "new", "--date", "2026-12-01", "--title", "a/b"], "without '/'"),
        (["inquiry", "list", "--inventory", "no_such"], "no inventory 'no_such'"),
    ],
)
def test_bad_input_writes_nothing(argv, message, records_root, capsys):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err
    assert not records_root.exists()


def test_an_answer_before_the_inquiry_is_refused(records_root, capsys):
    cli.main(
        ["inquiry", "new", "--received", "2026-11-30T10:00", "--from", "x", "--channel", "メール", "--subject", "s"]
    )
    record_id = yaml.safe_load(only(records_root / "inquiries").read_text(encoding="utf-8"))["id"]
    assert cli.main(["inquiry", "answer", record_id, "--answered", "2026-11-30T09:00", "--answer", "a"]) == 2
    assert "answered: must not be before received" in capsys.readouterr().err


def test_minutes_are_dated_from_the_template_and_never_overwritten(records_root, capsys):
    assert cli.main(["minutes", "new", "--date", "2026-12-01"]) == 0
    path = records_root / "minutes" / "2026-12-01_定例会.md"
    text = path.read_text(encoding="utf-8")
    assert "| 日時 | 2026-12-01 HH:MM-HH:MM |" in text and "## 4. 決定事項" in text
    assert cli.main(["minutes", "new", "--date", "2026-12-01"]) == 2
    assert "exists already" in capsys.readouterr().err


def test_the_handover_lists_incidents_inquiries_and_minutes(records_root, tmp_path):
    cli.main(["incident", "new", "--occurred", "2026-11-28T09:10", "--target", "lalert-vm", "--summary", "受信停止"])
    cli.main(
        [
            "inquiry",
            "new",
            "--received",
            "2026-11-30T10:00",
            "--from",
            "危機管理課",
            "--channel",
            "メール",
            "--subject",
            "月次報告の様式",
        ]
    )
    cli.main(["minutes", "new", "--date", "2026-12-01"])
    written, _ = docs.generate("local", str(tmp_path / "docs"))
    handover = (tmp_path / "docs" / "引継書.md").read_text(encoding="utf-8")
    assert "## 6. 記録 (障害・問合せ・打合せ)" in handover
    assert "受信停止" in handover and "月次報告の様式" in handover and "2026-12-01_定例会.md" in handover
    assert any(w.endswith("引継書.md") for w in written)


def test_a_fresh_clone_hands_over_production_from_what_is_in_git(tmp_path, monkeypatch):
    """Records of production written and committed in one working copy; a fresh clone of it (no .local)
    writes the 引継書 with them."""
    import subprocess
    import sys

    monkeypatch.delenv("ANSHIN_RECORDS_ROOT", raising=False)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    first, fresh = tmp_path / "first", tmp_path / "fresh"
    subprocess.run(git + ["clone", "-q", ROOT, str(first)], check=True)
    for name in ("filter_plugins/records.py", "anshin_ops"):  # this working copy's code, committed there
        subprocess.run(["cp", "-r", os.path.join(ROOT, name), os.path.dirname(str(first / name))], check=True)

    def anshin(where, *argv):
        if not (where / ".venv").exists():  # a clone after bin/bootstrap: the same pinned toolchain
            (where / ".venv").symlink_to(os.path.join(ROOT, ".venv"))
        env = {k: v for k, v in os.environ.items() if k != "ANSHIN_RECORDS_ROOT"}
        done = subprocess.run(
            [
                os.path.abspath(sys.executable),
                "-c",
                "import sys; from anshin_ops import cli; sys.exit(cli.main(sys.argv[1:]))",
                *argv,
            ],
            cwd=where,
            env=dict(env, PYTHONPATH=str(where)),
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    anshin(
        first,
        "incident",
        "new",
        "-i",
        "production",
        "--occurred",
        "2026-11-28T09:10",
        "--target",
        "lalert-vm",
        "--summary",
        "本番の受信停止",
    )
    anshin(
        first,
        "inquiry",
        "new",
        "-i",
        "production",
        "--received",
        "2026-11-30T10:00",
        "--from",
        "危機管理課",
        "--channel",
        "電話",
        "--subject",
        "本番の問合せ",
    )
    subprocess.run(git + ["-C", str(first), "add", "-A"], check=True)
    subprocess.run(git + ["-C", str(first), "commit", "-qm", "records"], check=True)
    subprocess.run(git + ["clone", "-q", str(first), str(fresh)], check=True)
    assert not (fresh / ".local").exists()
    anshin(fresh, "docs", "-i", "production")
    handover = (fresh / "records" / "production" / "docs" / "引継書.md").read_text(encoding="utf-8")
    assert "本番の受信停止" in handover and "本番の問合せ" in handover
    assert "記録の場所: `records/production`" in handover

"""A task that every host of a play delegates to one host, and that edits lines of a file there, runs one
host at a time (`throttle: 1`): the modules read the file, change their line and write it back, so two
hosts at once lose one's change. The backup key of one of the site scenario's two VMs went missing from
the backup host's authorized_keys this way, and its repository could not be created."""

import pytest

from conftest import ROOT, load_yaml

# modules that rewrite a whole file to change lines of it
LINE_EDITORS = {
    f"{prefix}{name}"
    for name, prefixes in {
        "authorized_key": ("ansible.posix.", ""),
        "lineinfile": ("ansible.builtin.", ""),
        "blockinfile": ("ansible.builtin.", ""),
        "known_hosts": ("ansible.builtin.", ""),
        "ini_file": ("community.general.", ""),
    }.items()
    for prefix in prefixes
}
TASK_FILES = sorted(
    [*(ROOT / "roles").glob("*/tasks/*.yml"), *(ROOT / "playbooks").rglob("*.yml"), *ROOT.glob("*.yml")]
)


def _tasks(items):
    for item in items or []:
        if not isinstance(item, dict):
            continue
        yield item
        for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks", "handlers"):
            yield from _tasks(item.get(key))


def delegated_line_edits():
    for path in TASK_FILES:
        for task in _tasks(load_yaml(path)):
            if "delegate_to" in task and LINE_EDITORS & set(task):
                yield path.relative_to(ROOT).as_posix(), task.get("name", "")


def test_the_backup_key_task_is_found():
    assert ("roles/backup/tasks/remote.yml", "Allow the key on the backup host, restricted to borg serve") in set(
        delegated_line_edits()
    )


@pytest.mark.parametrize(("path", "name"), sorted(set(delegated_line_edits())))
def test_a_delegated_line_edit_runs_one_host_at_a_time(path, name):
    task = next(t for t in _tasks(load_yaml(ROOT / path)) if t.get("name", "") == name and "delegate_to" in t)
    assert task.get("throttle") == 1, f"{path}: '{name}' edits a file on another host for every host of the play"

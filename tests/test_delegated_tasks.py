"""A task that every host of a play delegates to one host, and that edits lines of a file there, runs one
host at a time (`throttle: 1`): the modules read the file, change their line and write it back, so two
hosts at once lose one's change. The backup key of one of the site scenario's two VMs went missing from
the backup host's authorized_keys this way, and its repository could not be created."""

import pytest

from conftest import ROOT, load_yaml

# modules that rewrite a whole file to change lines of it
LINE_EDITORS = {
    "ansible.posix.authorized_key",
    "ansible.builtin.lineinfile",
    "ansible.builtin.blockinfile",
    "ansible.builtin.known_hosts",
    "community.general.ini_file",
    "authorized_key",
    "lineinfile",
    "blockinfile",
    "known_hosts",
    "ini_file",
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
    """{(path, task name): its throttle} of every delegated task that edits lines of a file."""
    return {
        (path.relative_to(ROOT).as_posix(), task.get("name", "")): task.get("throttle")
        for path in TASK_FILES
        for task in _tasks(load_yaml(path))
        if "delegate_to" in task and LINE_EDITORS & set(task)
    }


def test_the_backup_key_task_is_found():
    assert ("roles/backup/tasks/remote.yml", "Allow the key on the backup host, restricted to borg serve") in (
        delegated_line_edits()
    )


@pytest.mark.parametrize(
    ("path", "name", "throttle"), sorted((*key, value) for key, value in delegated_line_edits().items())
)
def test_a_delegated_line_edit_runs_one_host_at_a_time(path, name, throttle):
    assert throttle == 1, f"{path}: '{name}' edits a file on another host for every host of the play"

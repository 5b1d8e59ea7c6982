"""ansible.cfg runs plays with Mitogen's linear strategy (strategy_plugins/mitogen_linear.py, the pinned
mitogen package): one Python per host for the whole run. Proved by behaviour, not by configuration alone:
under Mitogen two tasks' commands share their parent process (the host's one interpreter), under the stock
linear strategy each task starts its own. Also: a host the controller has no facts of is reached at once
(ansible.cfg names the interpreter: under Mitogen, discovery left such a host unreachable), and
ANSIBLE_STRATEGY=linear still works."""

import pytest

from conftest import ansible_here

PLAY = """
- hosts: all
  gather_facts: false
  tasks:
    - name: First command
      ansible.builtin.command: sh -c 'echo $PPID'
      register: first
      changed_when: false
    - name: Second command
      ansible.builtin.command: sh -c 'echo $PPID'
      register: second
      changed_when: false
    - name: Say whether they share a parent
      ansible.builtin.debug:
        msg: "shared parent: {{ first.stdout == second.stdout }}"
"""


@pytest.fixture
def play(tmp_path, monkeypatch):
    (tmp_path / "play.yml").write_text(PLAY, encoding="utf-8")
    # an inventory host on the controller, no interpreter named, no facts cached: as a new machine
    (tmp_path / "hosts.yml").write_text("all:\n  hosts:\n    ctl:\n      ansible_connection: local\n")
    monkeypatch.setenv("ANSIBLE_CACHE_PLUGIN_CONNECTION", str(tmp_path / "facts"))
    return lambda: ansible_here("ansible-playbook", "-i", tmp_path / "hosts.yml", tmp_path / "play.yml")


def test_the_repo_settings_run_every_task_of_a_host_in_one_interpreter(play):
    done = play()
    assert done.returncode == 0, done.stdout[-3000:]
    assert "shared parent: True" in done.stdout
    assert "ctl                        : ok=3" in done.stdout


def test_the_stock_strategy_still_runs_when_chosen(play, monkeypatch):
    monkeypatch.setenv("ANSIBLE_STRATEGY", "linear")
    done = play()
    assert done.returncode == 0, done.stdout[-3000:]
    assert "shared parent: False" in done.stdout

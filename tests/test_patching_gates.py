"""The patch run's window and disaster gates (roles/patching/tasks/apply_gates.yml) on the controller, with
stand-ins for the receiver's disaster check: a disaster stops the run unless forced; a state that cannot be
read stops it too (fail closed) and only patching_disaster_check_override, never patching_force, lets it run,
recorded as forced. (On a real receiver: molecule/patching.)"""

import json
import sys

import pytest

from conftest import ansible_here

PLAYBOOK = """
- name: Disaster gate
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Start as apply.yml does
      ansible.builtin.set_fact:
        __patching_forced: []
        __patching_disaster_state: {state: not checked, messages: null, detail: ""}
    - name: Gates
      block:
        - name: Gates
          ansible.builtin.include_role:
            name: patching
            tasks_from: apply_gates
      rescue:
        - name: Refused
          ansible.builtin.set_fact:
            refused: "{{ ansible_failed_result.msg }}"
      always:
        - name: Outcome
          ansible.builtin.copy:
            content: >-
              {{ {'state': __patching_disaster_state, 'forced': __patching_forced,
                  'refused': refused | default('')} | to_json }}
            dest: "{{ outcome_file }}"
            mode: "0644"
"""

STANDINS = {
    "clear": '#!/bin/sh\necho "$@" > "$0.args"\necho \'{"disaster_messages": 0, "by_kind": {}}\'\n',
    "disaster": '#!/bin/sh\necho \'{"disaster_messages": 2, "by_kind": {"weather": 2}}\'\n',
    "unreadable": "#!/bin/sh\necho 'lalert-receiver: disaster state unreadable: "
    "cannot open /var/lib/lalert/receiver.sqlite3' >&2\nexit 3\n",
    "garbage": "#!/bin/sh\necho 'hello'\n",
}


@pytest.fixture
def gate(tmp_path):
    (tmp_path / "gate.yml").write_text(PLAYBOOK)
    for name, text in STANDINS.items():
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)

    def run(command, **extra):
        argv = [str(tmp_path / command)] if command in STANDINS else ([command] if command else [])
        values = dict(
            {
                "patching_disaster_check_command": argv,
                "_patching_now_jst": "2026-11-28 03:00",
                "patching_disaster_kinds": ["weather", "tsunami"],
                "patching_disaster_hours": 6,
                "outcome_file": str(tmp_path / "outcome.json"),
                "ansible_python_interpreter": sys.executable,
            },
            **extra,
        )
        out = ansible_here(
            "ansible-playbook",
            "-i",
            "localhost,",
            str(tmp_path / "gate.yml"),
            "-e",
            json.dumps(values),
        )
        assert out.returncode == 0, out.stdout + out.stderr
        outcome = json.loads((tmp_path / "outcome.json").read_text())
        return {k: outcome[k] for k in ("state", "forced")}, outcome["refused"]

    return run


@pytest.mark.parametrize(
    ("now", "start", "end", "inside"),
    [
        ("2026-11-28 23:59", "00:00", "24:00", True),  # 24:00: the whole of the last minute of the day
        ("2026-11-28 00:00", "00:00", "24:00", True),
        ("2026-11-28 23:59", "00:00", "23:59", False),  # the end is not part of the window
        ("2026-11-28 05:00", "02:00", "05:00", False),
        ("2026-11-28 02:00", "02:00", "05:00", True),
        ("2026-11-28 01:59", "02:00", "05:00", False),
    ],
)
def test_the_window_is_from_its_start_up_to_its_end(gate, now, start, end, inside):
    outcome, refused = gate(
        "clear", _patching_now_jst=now, patching_window_start=start, patching_window_end=end, patching_window_dates=[]
    )
    if inside:
        assert refused == "" and outcome["forced"] == [], refused
    else:
        assert refused.startswith(f"outside the maintenance window: now {now} JST, window {start}-{end}"), refused


def test_no_disaster_lets_the_run_go_and_asks_with_the_kinds_and_hours(gate, tmp_path):
    outcome, refused = gate("clear")
    assert refused == "" and outcome == {"state": {"state": "clear", "messages": 0, "detail": ""}, "forced": []}
    assert (tmp_path / "clear.args").read_text().split() == ["--kinds", "weather,tsunami", "--hours", "6"]


def test_a_disaster_stops_the_run_unless_forced(gate):
    outcome, refused = gate("disaster")
    assert "a disaster is in progress: 2 real weather/tsunami message(s)" in refused
    outcome, refused = gate("disaster", patching_force=True)
    assert refused == "" and outcome["forced"] == ["during a disaster"]


@pytest.mark.parametrize(
    "command, detail",
    [
        ("unreadable", "cannot open /var/lib/lalert/receiver.sqlite3"),
        ("/nonexistent/lalert-receiver", "/nonexistent/lalert-receiver: "),
        ("garbage", "unexpected answer: hello"),
        ("", "patching_disaster_check_command is empty"),
    ],
)
def test_an_unreadable_state_stops_the_run_even_when_forced(gate, command, detail):
    outcome, refused = gate(command, patching_force=True)  # forced for the window and a disaster: not this
    assert refused.startswith("disaster state unreadable: ") and detail in refused, refused
    assert "patching_disaster_check_override=true" in refused
    assert outcome["state"]["state"] == "unreadable" and outcome["forced"] == []


def test_only_the_dedicated_override_runs_on_an_unreadable_state_and_says_so(gate):
    outcome, refused = gate("unreadable", patching_disaster_check_override=True)
    assert refused == "" and outcome["forced"] == ["disaster state unreadable"]
    assert "cannot open" in outcome["state"]["detail"]


VALIDATE = """
- name: Validate the inputs
  hosts: localhost
  connection: local
  gather_facts: true
  tasks:
    - name: Validate
      ansible.builtin.include_role:
        name: patching
        tasks_from: validate
"""


@pytest.mark.parametrize(
    ("start", "end", "accepted"),
    [("00:00", "24:00", True), ("02:00", "05:00", True), ("24:00", "24:00", False), ("00:00", "24:01", False)],
)
def test_the_window_may_end_at_the_end_of_the_day_and_no_later(tmp_path, start, end, accepted):
    """The role's input check (tasks/validate.yml) on this controller (a Debian 12, which it supports)."""
    (tmp_path / "validate.yml").write_text(VALIDATE)
    values = {"patching_window_start": start, "patching_window_end": end, "ansible_python_interpreter": sys.executable}
    out = ansible_here("ansible-playbook", "-i", "localhost,", tmp_path / "validate.yml", "-e", json.dumps(values))
    assert (out.returncode == 0) == accepted, out.stdout[-2000:]
    if not accepted:
        assert "24:00 for the" in out.stdout, out.stdout[-2000:]

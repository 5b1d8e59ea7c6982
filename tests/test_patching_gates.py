"""The patch run's window and disaster gates (roles/patching/tasks/apply_gates.yml) on the controller, with
stand-ins for the receiver's disaster check: a disaster stops the run unless forced; a state that cannot be
read stops it too (fail closed) and only patching_disaster_check_override, never patching_force, lets it run,
recorded as forced. (On a real receiver: molecule/patching.)"""

import json
import sys

import pytest

from conftest import ansible_here

# Every case is a host of one run (one ansible-playbook start-up instead of one per case); its inputs are
# set as facts, which outrank the role's own vars (_patching_now_jst) as the extra vars of a lone run would.
PLAYBOOK = """
- name: Cases of roles/patching/tasks/{tasks_from}.yml
  hosts: all
  connection: local
  gather_facts: {gather_facts}
  tasks:
    - name: The case's inputs
      ansible.builtin.set_fact:
        "{{{{ item.key }}}}": "{{{{ item.value }}}}"
      loop: "{{{{ case | dict2items }}}}"
    - name: Start as apply.yml does
      ansible.builtin.set_fact:
        __patching_forced: []
        __patching_disaster_state: {{state: not checked, messages: null, detail: ""}}
    - name: Run the tasks
      block:
        - name: Run the tasks
          ansible.builtin.include_role:
            name: patching
            tasks_from: {tasks_from}
      rescue:
        - name: Refused
          ansible.builtin.set_fact:
            refused: "{{{{ ansible_failed_result.msg }}}}"
      always:
        - name: Outcome
          ansible.builtin.copy:
            content: >-
              {{{{ {{'state': __patching_disaster_state, 'forced': __patching_forced,
                  'refused': refused | default('')}} | to_json }}}}
            dest: "{{{{ outcome_dir }}}}/{{{{ inventory_hostname }}}}.json"
            mode: "0644"
"""


def run_as_hosts(tmp_path, cases, tasks_from, gather_facts=False):
    """Each case (name: inputs) a host of one run of the role's TASKS_FROM: {name: {state, forced, refused}}."""
    (tmp_path / "cases.yml").write_text(PLAYBOOK.format(tasks_from=tasks_from, gather_facts=gather_facts))
    hosts = {name: {"case": case, "ansible_python_interpreter": sys.executable} for name, case in cases.items()}
    (tmp_path / "hosts.json").write_text(json.dumps({"all": {"hosts": hosts}}))
    (tmp_path / "outcomes").mkdir()
    extra = json.dumps({"outcome_dir": str(tmp_path / "outcomes")})
    out = ansible_here("ansible-playbook", "-i", tmp_path / "hosts.json", tmp_path / "cases.yml", "-e", extra)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    return {name: json.loads((tmp_path / "outcomes" / f"{name}.json").read_text()) for name in cases}


STANDINS = {
    "clear": '#!/bin/sh\necho "$@" > "$0.args"\necho \'{"disaster_messages": 0, "by_kind": {}}\'\n',
    "disaster": '#!/bin/sh\necho \'{"disaster_messages": 2, "by_kind": {"weather": 2}}\'\n',
    "unreadable": "#!/bin/sh\necho 'lalert-receiver: disaster state unreadable: "
    "cannot open /var/lib/lalert/receiver.sqlite3' >&2\nexit 3\n",
    "garbage": "#!/bin/sh\necho 'hello'\n",
}

WINDOWS = [  # (now, start, end, inside)
    ("2026-11-28 23:59", "00:00", "24:00", True),  # 24:00: the whole of the last minute of the day
    ("2026-11-28 00:00", "00:00", "24:00", True),
    ("2026-11-28 23:59", "00:00", "23:59", False),  # the end is not part of the window
    ("2026-11-28 05:00", "02:00", "05:00", False),
    ("2026-11-28 02:00", "02:00", "05:00", True),
    ("2026-11-28 01:59", "02:00", "05:00", False),
]
UNREADABLE = [  # (command, detail)
    ("unreadable", "cannot open /var/lib/lalert/receiver.sqlite3"),
    ("/nonexistent/lalert-receiver", "/nonexistent/lalert-receiver: "),
    ("garbage", "unexpected answer: hello"),
    ("", "patching_disaster_check_command is empty"),
]
CASES = {  # host name: (stand-in or command, inputs beyond the defaults below)
    **{
        f"window{i}": (
            "clear",
            dict(_patching_now_jst=now, patching_window_start=start, patching_window_end=end, patching_window_dates=[]),
        )
        for i, (now, start, end, _) in enumerate(WINDOWS)
    },
    "clear": ("clear", {}),
    "disaster": ("disaster", {}),
    "disaster_forced": ("disaster", dict(patching_force=True)),
    # forced for the window and a disaster: not for this
    **{f"unreadable{i}": (command, dict(patching_force=True)) for i, (command, _) in enumerate(UNREADABLE)},
    "overridden": ("unreadable", dict(patching_disaster_check_override=True)),
}


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    """Every case's outcome from one run: gate(name) -> ({state, forced}, refused)."""
    tmp_path = tmp_path_factory.mktemp("gate")
    for name, text in STANDINS.items():
        (tmp_path / name).write_text(text)
        (tmp_path / name).chmod(0o755)
    cases = {}
    for name, (command, extra) in CASES.items():
        argv = [str(tmp_path / command)] if command in STANDINS else ([command] if command else [])
        cases[name] = {
            "patching_disaster_check_command": argv,
            "_patching_now_jst": "2026-11-28 03:00",
            "patching_disaster_kinds": ["weather", "tsunami"],
            "patching_disaster_hours": 6,
            **extra,
        }
    outcomes = run_as_hosts(tmp_path, cases, tasks_from="apply_gates")

    def outcome(name):
        found = outcomes[name]
        return {k: found[k] for k in ("state", "forced")}, found["refused"]

    outcome.stand_ins = tmp_path
    return outcome


@pytest.mark.parametrize(("case", "now", "start", "end", "inside"), [(f"window{i}", *w) for i, w in enumerate(WINDOWS)])
def test_the_window_is_from_its_start_up_to_its_end(gate, case, now, start, end, inside):
    outcome, refused = gate(case)
    if inside:
        assert refused == "" and outcome["forced"] == [], refused
    else:
        assert refused.startswith(f"outside the maintenance window: now {now} JST, window {start}-{end}"), refused


def test_no_disaster_lets_the_run_go_and_asks_with_the_kinds_and_hours(gate):
    outcome, refused = gate("clear")
    assert refused == "" and outcome == {"state": {"state": "clear", "messages": 0, "detail": ""}, "forced": []}
    # every case that asks the "clear" stand-in asks with the same kinds and hours
    assert (gate.stand_ins / "clear.args").read_text().split() == ["--kinds", "weather,tsunami", "--hours", "6"]


def test_a_disaster_stops_the_run_unless_forced(gate):
    outcome, refused = gate("disaster")
    assert "a disaster is in progress: 2 real weather/tsunami message(s)" in refused
    outcome, refused = gate("disaster_forced")
    assert refused == "" and outcome["forced"] == ["during a disaster"]


@pytest.mark.parametrize(("case", "detail"), [(f"unreadable{i}", detail) for i, (_, detail) in enumerate(UNREADABLE)])
def test_an_unreadable_state_stops_the_run_even_when_forced(gate, case, detail):
    outcome, refused = gate(case)
    assert refused.startswith("disaster state unreadable: ") and detail in refused, refused
    assert "patching_disaster_check_override=true" in refused
    assert outcome["state"]["state"] == "unreadable" and outcome["forced"] == []


def test_only_the_dedicated_override_runs_on_an_unreadable_state_and_says_so(gate):
    outcome, refused = gate("overridden")
    assert refused == "" and outcome["forced"] == ["disaster state unreadable"]
    assert "cannot open" in outcome["state"]["detail"]


BOUNDS = [("00:00", "24:00", True), ("02:00", "05:00", True), ("24:00", "24:00", False), ("00:00", "24:01", False)]


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """The role's input check (tasks/validate.yml) on this controller (a Debian 12, which it supports), for
    every window of BOUNDS in one run: what it refused each with ('' when accepted)."""
    cases = {
        f"bounds{i}": {"patching_window_start": start, "patching_window_end": end}
        for i, (start, end, _) in enumerate(BOUNDS)
    }
    outcomes = run_as_hosts(tmp_path_factory.mktemp("validate"), cases, tasks_from="validate", gather_facts=True)
    return {name: outcome["refused"] for name, outcome in outcomes.items()}


@pytest.mark.parametrize(("case", "start", "end", "accepted"), [(f"bounds{i}", *b) for i, b in enumerate(BOUNDS)])
def test_the_window_may_end_at_the_end_of_the_day_and_no_later(refusals, case, start, end, accepted):
    assert (refusals[case] == "") == accepted, refusals[case]
    if not accepted:
        assert "24:00 for the" in refusals[case], refusals[case]

"""Where bin/test's time went: the table printed at its end (and kept in .local/logs/test-times.txt).

    step_times.py stamp < OUTPUT > LOG
        copy stdin to stdout line by line, each line prefixed with the epoch seconds it arrived at
        (molecule's own lines carry no time)
    step_times.py report --started EPOCH --times TSV [--junit XML] [--out FILE] [MOLECULE_LOG...]
        the table: bin/test's steps (TSV: "name<TAB>seconds[<TAB>beside]" lines), each molecule
        scenario and each of its steps (from the stamped logs), and each end to end test (pytest's
        JUnit XML), slowest first

A molecule step starts at the line molecule logs when it begins an action, plain
    INFO     [logrotate > converge] Executing
or with colours (ANSI codes around the words)
    INFO     logrotate ➜ converge: Executing
and lasts until the next step's start line, or the end of the log. bin/test writes a first line of
its own ("bin/test: ...") just before molecule starts and a last one with molecule's exit code, so
a log without that last line ended early (bin/test was interrupted).
"""

import argparse
import re
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

STAMP = re.compile(r"^(\d+(?:[.,]\d+)?) (.*)$")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
# the scenario and action of a molecule log line, plain or coloured (colours already stripped)
CONTEXT = r"[A-Z]+ +(?:\[(?P<s1>[^\]]+?) > (?P<a1>[\w-]+)\]|(?P<s2>\S+) ➜ (?P<a2>[\w-]+):) "
STEP_START = re.compile(rf"^{CONTEXT}Executing\s*$")
STEP_DONE = re.compile(rf"^{CONTEXT}Executed: (?P<state>[^(]+?)\s*(?:\(.*\))?\s*$")
EXIT = re.compile(r"^bin/test: molecule exit code (\d+)\s*$")
# why a scenario failed: Ansible's failed tasks and pytest's failed tests (molecule indents playbook output with "│")
FAILURE = re.compile(r"^(?:│\s*)?((?:fatal|failed): \[.*|FAILED .*|ERROR +(?:\S+ ➜ |\[).*|E {3}.*)$")
FAILURE_LINES = 8  # the last ones of a log: the failure that stopped it comes last
FAILURE_WIDTH = 400


def stamp(src=None, dst=None):
    """Prefix every line of src with the time it was read (epoch seconds, milliseconds)."""
    src = src or sys.stdin.buffer
    dst = dst or sys.stdout.buffer
    for line in iter(src.readline, b""):
        dst.write(b"%.3f " % time.time() + line)
        dst.flush()


@dataclass
class Step:
    name: str
    start: float
    end: float = 0.0
    state: str = "unfinished"  # molecule's "Executed: ..." word, lower case; unfinished: none came

    @property
    def seconds(self):
        return self.end - self.start


@dataclass
class Scenario:
    name: str
    start: float = 0.0
    end: float = 0.0
    # None: the log has no exit line (bin/test did not see molecule end)
    exit_code: int | None = None
    steps: list[Step] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  # the log's last failure lines (FAILURE)

    @property
    def seconds(self):
        return self.end - self.start

    @property
    def result(self):
        if self.exit_code is None:
            return "UNFINISHED"
        return "PASS" if self.exit_code == 0 else "FAIL"


def _match_names(match):
    return match["s1"] or match["s2"], match["a1"] or match["a2"]


def parse_log(text, name=""):
    """A stamped molecule log (stamp's output) as a Scenario. Lines without a stamp are skipped."""
    scenario = Scenario(name)
    seen = {}
    stamps = []
    for raw in text.splitlines():
        m = STAMP.match(raw)
        if not m:
            continue
        at = float(m[1].replace(",", "."))
        line = ANSI.sub("", m[2]).replace("\r", "").strip()
        stamps.append(at)
        if (exit_line := EXIT.match(line)) is not None:
            scenario.exit_code = int(exit_line[1])
            continue
        if (failure := FAILURE.match(line)) is not None:
            scenario.failures = [*scenario.failures[1 - FAILURE_LINES :], failure[1][:FAILURE_WIDTH]]
        if (start := STEP_START.match(line)) is not None:
            scenario_name, action = _match_names(start)
            scenario.name = scenario.name or scenario_name
            seen[action] = seen.get(action, 0) + 1
            label = action if seen[action] == 1 else f"{action} #{seen[action]}"
            if scenario.steps:
                scenario.steps[-1].end = at
            elif stamps[0] < at:  # molecule's start-up before its first action
                scenario.steps.append(Step("(start-up)", stamps[0], at, ""))
            scenario.steps.append(Step(label, at))
            continue
        done = STEP_DONE.match(line)
        if done is not None and scenario.steps and _match_names(done)[1] == scenario.steps[-1].name.split(" #")[0]:
            scenario.steps[-1].state = done["state"].strip().lower()
    if stamps:
        scenario.start, scenario.end = stamps[0], stamps[-1]
        if scenario.steps:
            scenario.steps[-1].end = scenario.end
    return scenario


def read_times(path):
    """bin/test's own steps, in the order they ran: (name, seconds, beside) from "name<TAB>seconds" lines; a
    third field "beside" marks a step that ran at the same time as the others (not one after another)."""
    rows = []
    if path and Path(path).is_file():
        for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
            name, seconds, *rest = line.split("\t") + [""]
            try:
                rows.append((name, float(seconds), rest[:1] == ["beside"]))
            except ValueError:
                continue
    return rows


def read_junit(path):
    """Each test of a pytest JUnit XML file: (name, seconds, outcome, message of a failure or error)."""
    if not path or not Path(path).is_file():
        return []
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:
        return []
    tests = []
    for case in root.iter("testcase"):
        module = (case.get("classname") or "").rpartition(".")[2]
        name = f"{module}::{case.get('name')}" if module else case.get("name", "?")
        outcome, message = "passed", ""
        for child, word in (
            ("failure", "failed"),
            ("error", "error"),
            ("skipped", "skipped"),
        ):
            if (found := case.find(child)) is not None:
                outcome = word
                message = found.get("message", "") if word != "skipped" else ""
                break
        tests.append((name, float(case.get("time") or 0), outcome, message))
    return tests


def clock(seconds):
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


def table(title, rows, note_heading="", share_of=None, width=44):
    """A section: rows of (name, seconds, note), slowest first."""
    rows = sorted(rows, key=lambda row: -row[1])
    if not rows:
        return []
    width = max(width, *(len(name) for name, _, _ in rows))
    share = "  share" if share_of else ""
    lines = [
        "",
        title,
        f"  {'':<{width}}  {'seconds':>8}{share}  {note_heading}".rstrip(),
    ]
    for name, seconds, note in rows:
        percent = f"  {100 * seconds / share_of:4.0f}%" if share_of else ""
        lines.append(f"  {name:<{width}}  {seconds:8.1f}{percent}  {note}".rstrip())
    return lines


def report(total, times, scenarios, e2e):
    """The table as lines of text."""
    sections = []  # (title, rows, note heading, share of)
    rows = [(name, seconds, "ran beside other steps" if beside else "") for name, seconds, beside in times]
    accounted = sum(seconds for _, seconds, beside in times if not beside)
    if times and total - accounted >= 1:
        rows.append(("(the rest: between the steps)", total - accounted, ""))
    sections.append(("bin/test steps, one after another unless marked", rows, "", total or None))
    rows = [(s.name, s.seconds, s.result) for s in scenarios]
    title = "molecule scenarios (side by side: together more than the molecule step)"
    sections.append((title, rows, "result", None))
    rows = [(f"{s.name} > {step.name}", step.seconds, step.state) for s in scenarios for step in s.steps]
    sections.append(("molecule steps, each scenario", rows, "state", None))
    per_action = {}
    for s in scenarios:
        for step in s.steps:
            action = step.name.split(" #")[0]
            count, seconds = per_action.get(action, (0, 0.0))
            per_action[action] = (count + 1, seconds + step.seconds)
    if len(scenarios) > 1:
        rows = [
            (action, seconds, f"{count} run{'s' if count > 1 else ''}")
            for action, (count, seconds) in per_action.items()
        ]
        sections.append(("molecule steps, added up over the scenarios", rows, "", None))
    title = "end to end tests (tests/e2e; a module fixture's set-up counts toward its first test)"
    sections.append((title, [(name, seconds, outcome) for name, seconds, outcome, _ in e2e], "outcome", None))
    width = max([44] + [len(row[0]) for _, rows, _, _ in sections for row in rows])
    lines = ["Where the time went (no start time given)"]
    if total:
        lines = [f"Where the time went: bin/test took {clock(total)} ({total:.0f} s) wall time"]
    for title, rows, note_heading, share_of in sections:
        lines += table(title, rows, note_heading, share_of, width)
    missing = [s.name for s in scenarios if not s.steps]
    if missing:
        lines += ["", f"no molecule steps found in the logs of: {', '.join(missing)}"]
    # last, so the end of bin/test's output (all a CI log's tail may show) says what failed
    for s in scenarios:
        if s.result != "PASS" and s.steps:
            failed = next((step.name for step in s.steps if step.state in ("failed", "unfinished")), "?")
            lines += ["", f"{s.name}: {s.result}, in {failed}; its last failure lines (molecule-{s.name}.log):"]
            lines += [f"  {line}" for line in s.failures] or ["  (none found)"]
    for name, _, outcome, message in e2e:
        if outcome in ("failed", "error"):
            lines += ["", f"end to end {name}: {outcome}", f"  {' '.join(message.split())[:FAILURE_WIDTH]}"]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("stamp", help="prefix each line of stdin with the epoch seconds it arrived at")
    rep = sub.add_parser("report", help="print the table")
    rep.add_argument("--started", type=float, help="epoch seconds bin/test started at (default: now)")
    rep.add_argument("--times", help='bin/test\'s steps, "name<TAB>seconds" lines')
    rep.add_argument("--junit", help="pytest JUnit XML of tests/e2e")
    rep.add_argument("--out", help="also write the table to this file")
    rep.add_argument("logs", nargs="*", help="stamped molecule logs (.local/logs/molecule-NAME.log)")
    args = parser.parse_args(argv)
    if args.command == "stamp":
        stamp()
        return 0
    scenarios = []
    for log in args.logs:
        path = Path(log)
        name = path.stem.removeprefix("molecule-")
        if path.is_file():
            scenarios.append(parse_log(path.read_text(encoding="utf-8", errors="replace"), name))
        else:
            scenarios.append(Scenario(name))
    total = time.time() - args.started if args.started else 0.0
    text = "\n".join(report(total, read_times(args.times), scenarios, read_junit(args.junit))) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

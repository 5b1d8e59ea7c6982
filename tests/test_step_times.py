"""bin/lib/step_times.py, the table of where bin/test's time went: molecule logs cut into steps at
molecule's "Executing" lines (plain and coloured), a failed scenario, a log that ends mid-step, bin/test's
own steps and the end to end tests' JUnit XML."""

import importlib.util
import io

from conftest import ROOT

spec = importlib.util.spec_from_file_location("step_times", ROOT / "bin" / "lib" / "step_times.py")
step_times = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step_times)

# as bin/test writes it: its own first and last lines, molecule's output stamped (NO_COLOR: plain)
PASSED = """\
1000.000000 bin/test: molecule -c molecule/shared/config.yml test -s logrotate
1001.500 INFO     Found config file /work/main/.config/molecule/config.yml
1001.900 CRITICAL 'molecule/default/molecule.yml' glob failed.  Exiting.
1001.900 INFO     default scenario not found, disabling shared state.
1001.900 INFO     [logrotate > discovery] scenario test matrix: destroy, create, prepare, check, converge, \
idempotence, verify, destroy
1002.000 INFO     [logrotate > destroy] Executing
1002.100 PLAY [Destroy] *****************************************************************
1012.000 INFO     [logrotate > destroy] Executed: Successful
1012.000 INFO     [logrotate > create] Executing
1040.000 INFO     [logrotate > create] Executed: Successful
1040.000 INFO     [logrotate > prepare] Executing
1070.000 INFO     [logrotate > prepare] Executed: Successful
1070.000 INFO     [logrotate > check] Executing
1100.000 INFO     [logrotate > check] Executed: Successful
1100.000 INFO     [logrotate > converge] Executing
1100.100 TASK [logrotate : Install logrotate] ********************************************
1160.000 INFO     [logrotate > converge] Executed: Successful
1160.000 INFO     [logrotate > idempotence] Executing
1200.000 INFO     [logrotate > idempotence] Executed: Successful
1200.000 INFO     [logrotate > verify] Executing
1200.000 INFO     [logrotate > verify] Executing Testinfra tests found in /work/main/molecule/logrotate/tests/...
1215.000 INFO     [logrotate > verify] Executed: Successful
1215.000 INFO     [logrotate > destroy] Executing
1225.000 INFO     [logrotate > destroy] Executed: Successful
1225.500 SCENARIO RECAP
1225.500 logrotate > destroy: Executed: Successful
1225.500 logrotate > create: Executed: Successful
1225.500 logrotate                 : actions=8  successful=8  disabled=0  skipped=0  missing=0  failed=0
1226.000000 bin/test: molecule exit code 0
"""

# converge failed, molecule cleaned up and exited 1; coloured (TERM=xterm) and some lines unstamped
FAILED = """\
2000.000000 bin/test: molecule -c molecule/shared/config.yml test -s base
2002.000 \x1b[36mINFO    \x1b[0m \x1b[32mbase\x1b[0m ➜ \x1b[33mdestroy\x1b[0m: \x1b[36mExecuting\x1b[0m
2005.000 \x1b[36mINFO    \x1b[0m \x1b[32mbase\x1b[0m ➜ \x1b[33mdestroy\x1b[0m: \x1b[32mExecuted: Successful\x1b[0m
2005.000 \x1b[36mINFO    \x1b[0m \x1b[32mbase\x1b[0m ➜ \x1b[33mcreate\x1b[0m: \x1b[36mExecuting\x1b[0m
2030.000 \x1b[36mINFO    \x1b[0m \x1b[32mbase\x1b[0m ➜ \x1b[33mcreate\x1b[0m: \x1b[32mExecuted: Successful\x1b[0m
2030.000 \x1b[36mINFO    \x1b[0m \x1b[32mbase\x1b[0m ➜ \x1b[33mconverge\x1b[0m: \x1b[36mExecuting\x1b[0m
2060.000   \u2502 fatal: [base-debian13]: FAILED! => {"changed": false, "msg": "an ignored one"}
2060.000   \u2502 ...ignoring
2100.000   \u2502 fatal: [base-debian12]: FAILED! => {"changed": false, "msg": "unit failed"}
an unstamped line
2100.500 \x1b[31mERROR   \x1b[0m \x1b[32mbase\x1b[0m ➜ \x1b[33mconverge\x1b[0m: \x1b[31mExecuted: Failed\x1b[0m
2100.500 \x1b[31mWARNING \x1b[0m \x1b[32mbase\x1b[0m ➜ \x1b[33mconverge\x1b[0m: An error occurred during the \
test sequence action: 'converge'. Cleaning up.
2101.000 \x1b[36mINFO    \x1b[0m \x1b[32mbase\x1b[0m ➜ \x1b[33mdestroy\x1b[0m: \x1b[36mExecuting\x1b[0m
2110.000 \x1b[36mINFO    \x1b[0m \x1b[32mbase\x1b[0m ➜ \x1b[33mdestroy\x1b[0m: \x1b[32mExecuted: Successful\x1b[0m
2111.000000 bin/test: molecule exit code 1
"""

# bin/test was interrupted during idempotence: no completion line, no exit line
CUT_SHORT = """\
3000.000000 bin/test: molecule -c molecule/shared/config.yml test -s backup
3001.000 INFO     [backup > converge] Executing
3050.000 INFO     [backup > converge] Executed: Successful
3050.000 INFO     [backup > idempotence] Executing
3080.000 TASK [backup : Install restic] *************************************************
"""

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="3">
<testcase classname="tests.e2e.test_anshin_cli" name="test_the_main_job_through_the_cli" time="612.250" />
<testcase classname="tests.e2e.test_anshin_cli" name="test_check_mode" time="45.5">
<failure message="assert 1 == 0">...</failure></testcase>
<testcase classname="tests.e2e.test_anshin_cli" name="test_later" time="0.001">
<skipped message="not today" /></testcase>
</testsuite></testsuites>
"""


def steps(scenario):
    return [(s.name, round(s.seconds, 3), s.state) for s in scenario.steps]


def test_a_passing_log_is_cut_into_molecule_steps():
    scenario = step_times.parse_log(PASSED, "logrotate")
    assert scenario.result == "PASS"
    assert scenario.seconds == 226
    assert steps(scenario) == [
        ("(start-up)", 2, ""),
        ("destroy", 10, "successful"),
        ("create", 28, "successful"),
        ("prepare", 30, "successful"),
        ("check", 30, "successful"),
        ("converge", 60, "successful"),
        ("idempotence", 40, "successful"),
        ("verify", 15, "successful"),
        ("destroy #2", 11, "successful"),  # to the exit line, recap included
    ]
    assert sum(s.seconds for s in scenario.steps) == scenario.seconds


def test_a_failed_coloured_log_keeps_the_failed_step_and_the_clean_up():
    scenario = step_times.parse_log(FAILED, "base")
    assert scenario.result == "FAIL"
    assert steps(scenario) == [
        ("(start-up)", 2, ""),
        ("destroy", 3, "successful"),
        ("create", 25, "successful"),
        ("converge", 71, "failed"),
        ("destroy #2", 10, "successful"),
    ]
    assert scenario.failures == [
        'fatal: [base-debian13]: FAILED! => {"changed": false, "msg": "an ignored one"}',
        'fatal: [base-debian12]: FAILED! => {"changed": false, "msg": "unit failed"}',
        "ERROR    base ➜ converge: Executed: Failed",
    ]


def test_only_the_last_failure_lines_are_kept_and_each_is_cut_short():
    lines = [f"{4000 + i}.000 failed: [vm] (item={i}) => {{}}" for i in range(20)]
    lines.append("4100.000 FAILED molecule/x/tests/test_x.py::test_y - " + "x" * 1000)
    scenario = step_times.parse_log("\n".join(lines))
    assert len(scenario.failures) == step_times.FAILURE_LINES
    assert scenario.failures[0] == "failed: [vm] (item=13) => {}"
    assert scenario.failures[-1].startswith("FAILED molecule/x/tests/test_x.py::test_y - xxx")
    assert len(scenario.failures[-1]) == step_times.FAILURE_WIDTH


def test_a_log_that_ends_mid_step_ends_at_its_last_line():
    scenario = step_times.parse_log(CUT_SHORT, "backup")
    assert scenario.result == "UNFINISHED"
    assert scenario.seconds == 80
    assert steps(scenario)[-1] == ("idempotence", 30, "unfinished")


def test_the_scenario_name_comes_from_the_log_when_not_given():
    assert step_times.parse_log(CUT_SHORT).name == "backup"


def test_the_stamp_filter_prefixes_every_line_with_the_time():
    out = io.BytesIO()
    step_times.stamp(io.BytesIO(b"first\n\xff not utf-8\nno newline"), out)
    lines = out.getvalue().split(b"\n")
    assert [line.split(b" ", 1)[1] for line in lines] == [
        b"first",
        b"\xff not utf-8",
        b"no newline",
    ]
    assert all(float(line.split(b" ", 1)[0]) > 1.7e9 for line in lines)


def test_the_report_lists_everything_slowest_first(tmp_path):
    times = tmp_path / "steps.tsv"
    times.write_text(
        "bootstrap (packages, venv, test images)\t3.5\nyamllint\t12.25\n"
        "ansible-lint (production profile, offline)\t95.0\nmolecule: 3 scenario(s), 2 at a time\t230.0\n"
        "broken line\n",
        encoding="utf-8",
    )
    junit = tmp_path / "e2e-junit.xml"
    junit.write_text(JUNIT, encoding="utf-8")
    logs = []
    for name, text in (("logrotate", PASSED), ("base", FAILED), ("backup", CUT_SHORT)):
        logs.append(tmp_path / f"molecule-{name}.log")
        logs[-1].write_text(text, encoding="utf-8")
    out = tmp_path / "test-times.txt"
    step_times.main(
        ["report", "--times", str(times), "--junit", str(junit), "--out", str(out)] + [str(p) for p in logs]
    )
    text = out.read_text(encoding="utf-8")
    lines = text.splitlines()

    def section(title):
        start = next(i for i, line in enumerate(lines) if line.startswith(title)) + 2
        end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
        return [line.split() for line in lines[start:end]]

    assert [row[0] for row in section("bin/test steps")] == [
        "molecule:",
        "ansible-lint",
        "yamllint",
        "bootstrap",
    ]
    assert section("molecule scenarios") == [
        ["logrotate", "226.0", "PASS"],
        ["base", "111.0", "FAIL"],
        ["backup", "80.0", "UNFINISHED"],
    ]
    molecule_steps = section("molecule steps, each scenario")
    assert molecule_steps[0] == ["base", ">", "converge", "71.0", "failed"]
    assert ["backup", ">", "idempotence", "30.0", "unfinished"] in molecule_steps
    assert len(molecule_steps) == 9 + 5 + 3
    seconds = [float(next(w for w in row if w[0].isdigit())) for row in molecule_steps]
    assert seconds == sorted(seconds, reverse=True)
    added_up = section("molecule steps, added up")
    assert added_up[0] == ["converge", "180.0", "3", "runs"]
    assert ["destroy", "34.0", "4", "runs"] in added_up
    assert ["verify", "15.0", "1", "run"] in added_up
    assert section("end to end tests") == [
        ["test_anshin_cli::test_the_main_job_through_the_cli", "612.2", "passed"],
        ["test_anshin_cli::test_check_mode", "45.5", "failed"],
        ["test_anshin_cli::test_later", "0.0", "skipped"],
    ]
    # what failed comes last, where a CI log's tail shows it; the passed scenario has no such lines
    tail = lines[lines.index("base: FAIL, in converge; its last failure lines (molecule-base.log):") :]
    assert tail[2] == '  fatal: [base-debian12]: FAILED! => {"changed": false, "msg": "unit failed"}'
    assert tail[5:7] == [
        "backup: UNFINISHED, in idempotence; its last failure lines (molecule-backup.log):",
        "  (none found)",
    ]
    # a failed end to end test with its failure's message; passed and skipped ones are not repeated
    assert tail[-3:] == ["", "end to end test_anshin_cli::test_check_mode: failed", "  assert 1 == 0"]
    assert not any(line.startswith("logrotate:") for line in lines)


def test_a_step_beside_the_others_is_marked_and_not_counted_as_one_after_another():
    """The end to end tests run beside the scenarios: their time is listed, and what the steps one after another
    leave of the wall time ("the rest") is counted without them."""
    times = [("yamllint", 10.0, False), ("molecule and e2e", 100.0, False), ("end to end", 60.0, True)]
    lines = step_times.report(130, times, [], [])

    def row(name):
        return next(line.split() for line in lines if line.startswith(f"  {name}  "))

    assert row("end to end")[-6:] == ["60.0", "46%", "ran", "beside", "other", "steps"]
    assert row("molecule and e2e")[-2:] == ["100.0", "77%"]
    assert row("(the rest: between the steps)")[-2:] == ["20.0", "15%"]


def test_the_beside_mark_is_read_from_a_third_field(tmp_path):
    times = tmp_path / "steps.tsv"
    times.write_text("yamllint\t10.0\nend to end\t60.5\tbeside\nbroken line\n", encoding="utf-8")
    assert step_times.read_times(times) == [("yamllint", 10.0, False), ("end to end", 60.5, True)]


def test_missing_inputs_give_a_table_and_say_what_is_missing(tmp_path, capsys):
    assert step_times.main(["report", "--started", "1", str(tmp_path / "molecule-gone.log")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Where the time went: bin/test took ")
    assert "gone" in text and "no molecule steps found in the logs of: gone" in text
    step_times.main(["report"])
    assert capsys.readouterr().out == "Where the time went (no start time given)\n"

"""Incident records (障害管理表, contract clauses 5(3), 8(4)): one YAML file per incident, exported as
Markdown and xlsx with the downtime split into office-hours and outside-hours minutes.

A record is written whole to a temporary file and renamed, so a failed command never leaves half a file.
What a record must hold is its JSON Schema (schemas/incident.schema.json, inquiries: inquiry.schema.json);
the checks between two of its times are here.
"""

import contextlib
import datetime
import json
import os
import re
import secrets

import jsonschema
import yaml

from anshin_ops import office_calendar as cal, output

# (key in the YAML file, column of the 障害管理表)
COLUMNS = [
    ("id", "管理番号"),
    ("occurred", "発生日時"),
    ("detected", "検知日時"),
    ("detection", "検知方法"),
    ("target", "対象"),
    ("category", "障害区分"),
    ("severity", "重要度"),
    ("summary", "障害内容"),
    ("impact", "影響範囲"),
    ("office_minutes", "開庁時間内停止時間(分)"),
    ("outside_minutes", "開庁時間外停止時間(分)"),
    ("workaround", "暫定対応"),
    ("cause", "原因"),
    ("remedy", "対処"),
    ("prevention", "再発防止策"),
    ("recovered", "復旧日時"),
    ("recovery_deadline", "復旧期限"),
    ("deadline_met", "期限内復旧"),
    ("reported_to_pref", "県への報告日時"),
    ("handler", "対応者"),
    ("status", "ステータス"),
]
SCHEMAS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemas")


def load_schema(kind):
    with open(os.path.join(SCHEMAS, f"{kind}.schema.json"), encoding="utf-8") as fh:
        return json.load(fh)


SCHEMA = load_schema("incident")
# 下書き: drafted by `anshin run` from a failed job, not yet confirmed as an incident by an operator
STATUSES = tuple(SCHEMA["properties"]["status"]["enum"])
SEVERITIES = tuple(SCHEMA["properties"]["severity"]["enum"])
TIMES = ("occurred", "detected", "recovered", "reported_to_pref", "down_start", "down_end")
# INC-<occurred YYYYMMDD-HHMM>-<6 random hex>: two clones recording at once never pick the same id
# (older records numbered per clone, INC-YYYY-NNN, stay valid)
ID = re.compile(SCHEMA["properties"]["id"]["pattern"])


class RecordError(Exception):
    pass


def parse_time(value, field):
    """A record's time (cal.parse_time: one without a zone is JST); None when empty, RecordError naming FIELD."""
    if value in (None, ""):
        return None
    try:
        return cal.parse_time(value)
    except ValueError:
        raise RecordError(f"{field}: {value!r} is not a date and time like 2026-11-28T09:30") from None


# "format": "anshin-time" of the schemas: a time parse_time reads (empty is the absence of one)
FORMATS = jsonschema.FormatChecker()


@FORMATS.checks("anshin-time", raises=ValueError)
def _is_time(value):
    return value in (None, "") or cal.parse_time(value) is not None


def schema_problems(record, schema):
    """The record's problems against its JSON Schema, one line each, FIELD: what is wrong (x-message)."""
    if not isinstance(record, dict):
        return [f"the record is not a mapping of fields: {record!r}"]
    problems = []
    for error in jsonschema.Draft202012Validator(schema, format_checker=FORMATS).iter_errors(record):
        field = "/".join(str(p) for p in error.path) or "record"
        said = error.schema.get("x-message")
        if error.validator == "required":
            messages = error.schema.get("x-messages", {})
            problems += [
                f"{f}: {messages.get(f, said or 'required')}" for f in error.validator_value if f not in record
            ]
        elif error.validator == "not":
            problems.append(f"{field}: {said or 'required'}")
        elif error.validator == "enum":
            problems.append(f"{field}: one of {', '.join(error.validator_value)}, got {error.instance!r}")
        elif error.validator == "format":
            problems.append(f"{field}: {error.instance!r} is not a date and time like 2026-11-28T09:30")
        else:
            problems.append(f"{field}: {error.instance!r} {said}" if said else f"{field}: {error.message}")
    return list(dict.fromkeys(problems))  # a required list names every missing field in each of its errors


def readable_times(record, fields):
    """{field: time} of the fields that hold a time parse_time reads (the schema reports the others)."""
    times = {}
    for field in fields:
        with contextlib.suppress(RecordError):
            times[field] = parse_time(record.get(field), field)
    return times


def validate(record):
    """The record's problems, one line each (empty when sound): the schema's, then its times in order."""
    problems = schema_problems(record, SCHEMA)
    if not isinstance(record, dict):
        return problems
    times = readable_times(record, TIMES)
    if times.get("down_start") and times.get("down_end") and times["down_end"] <= times["down_start"]:
        problems.append("down_end: must be after down_start")
    if times.get("occurred") and times.get("recovered") and times["recovered"] < times["occurred"]:
        problems.append("recovered: must not be before occurred")
    if times.get("occurred") and times.get("reported_to_pref") and times["reported_to_pref"] < times["occurred"]:
        problems.append("reported_to_pref: must not be before occurred")
    return problems


def deadline(record, hours=("08:30", "17:15"), extra_closed=(), now=None):
    """(recovery deadline, 達成 | 超過 | 期限前 | 超過 (未復旧)) of a record (contract 8(3)ウエ)."""
    occurred = parse_time(record.get("occurred"), "occurred")
    due = cal.recovery_deadline(occurred, hours, extra_closed)
    recovered = parse_time(record.get("recovered"), "recovered")
    if recovered:
        return due, "達成" if recovered <= due else "超過"
    now = now or datetime.datetime.now(cal.JST)
    return due, "期限前" if now <= due else "超過 (未復旧)"


def downtime(record, hours=("08:30", "17:15"), extra_closed=()):
    """(office minutes, outside minutes) of the record's outage; (0, 0) when it had none."""
    start, end = parse_time(record.get("down_start"), "down_start"), parse_time(record.get("down_end"), "down_end")
    if not start or not end:
        return 0.0, 0.0
    return cal.split_downtime(start, end, hours, extra_closed)


def outages(records, now, include_planned=False):
    """(start, end) of the records' outages (planned ones left out unless asked for) and the ids of those
    still open, counted up to NOW: the one rule of report availability and report operations."""
    intervals, still_open = [], []
    for record in records:
        if (record.get("planned") and not include_planned) or not record.get("down_start"):
            continue
        start = parse_time(record["down_start"], "down_start")
        end = parse_time(record.get("down_end"), "down_end")
        if end is None:
            still_open.append(record["id"])
            end = max(start, now)
        intervals.append((start, end))
    return intervals, still_open


def load(directory, check=None):
    """Every record of a directory, each checked (by validate, or the check given: inquiries use theirs)."""
    check = check or validate
    records = []
    for name in sorted(os.listdir(directory)) if os.path.isdir(directory) else []:
        if name.endswith(".yml"):
            with open(os.path.join(directory, name), encoding="utf-8") as fh:
                record = yaml.safe_load(fh) or {}
            problems = check(record)
            if problems:
                raise RecordError(f"{name}: " + "; ".join(problems))
            records.append(record)
    return records


# a new record's keys in the order its file shows them, and what is not known when it is opened
RECORD_KEYS = (
    "id", "occurred", "detected", "detection", "target", "category", "severity", "summary", "impact",
    "down_start", "down_end", "planned", "workaround", "cause", "remedy", "prevention", "recovered",
    "reported_to_pref", "handler", "status",
)  # fmt: skip
NOT_YET_KNOWN = {
    "impact": "", "down_start": None, "down_end": None, "planned": False, "workaround": "", "cause": "",
    "remedy": "", "prevention": "", "recovered": None, "reported_to_pref": None, "handler": "",
}  # fmt: skip


def new_record(occurred, /, **known):
    """A new 障害管理表 record: its id from when it occurred, what is known, the rest empty (NOT_YET_KNOWN)."""
    values = {"id": new_id(occurred), **NOT_YET_KNOWN, **known}
    missing, unknown = set(RECORD_KEYS) - set(values), set(values) - set(RECORD_KEYS)
    if missing or unknown:
        raise ValueError(f"a new record misses {sorted(missing)}, not fields of a record: {sorted(unknown)}")
    return {key: values[key] for key in RECORD_KEYS}


def new_id(occurred):
    """An id no other clone picks: the time it occurred and six random hex digits."""
    return f"INC-{occurred.astimezone(cal.JST):%Y%m%d-%H%M}-{secrets.token_hex(3)}"


def save(directory, record, check=None):
    """Validate, then write atomically; nothing is written when the record is not sound."""
    problems = (check or validate)(record)
    if problems:
        raise RecordError("; ".join(problems))
    path = os.path.join(directory, f"{record['id']}.yml")
    output.write_yaml(path, record)
    return path


def rows(records, hours=("08:30", "17:15"), extra_closed=(), now=None):
    """The 障害管理表: one list of cells per record, in COLUMNS order."""
    table = []
    for record in records:
        office, outside = downtime(record, hours, extra_closed)
        due, met = deadline(record, hours, extra_closed, now)
        values = dict(
            record,
            office_minutes=office,
            outside_minutes=outside,
            recovery_deadline=due.isoformat(timespec="minutes"),
            deadline_met=met,
        )
        table.append(["" if values.get(key) is None else str(values.get(key, "")) for key, _ in COLUMNS])
    return table


def export_markdown(records, path, **kw):
    table = output.markdown_table([title for _, title in COLUMNS], rows(records, **kw))
    output.write_text(path, f"# 障害管理表\n\n{table}\n")


def export_xlsx(records, path, **kw):
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "障害管理表"
    sheet.append([title for _, title in COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for cells in rows(records, **kw):
        sheet.append([float(c) if i in (9, 10) else c for i, c in enumerate(cells)])
    sheet.freeze_panes = "B2"
    output.save_workbook(book, path)

"""Inquiry register (問合せ記録, contract 5(1), 9(6)): one YAML file per inquiry in the inventory's records,
with the time to answer counted in inquiry hours (office days, 8:30-17:30 unless the inventory says)."""

import re
import secrets

from anshin_ops import incidents, office_calendar as cal

SCHEMA = incidents.load_schema("inquiry")  # what a record must hold: schemas/inquiry.schema.json
CHANNELS = tuple(SCHEMA["properties"]["channel"]["enum"])
STATUSES = tuple(SCHEMA["properties"]["status"]["enum"])
ID = re.compile(SCHEMA["properties"]["id"]["pattern"])
COLUMNS = [
    ("id", "管理番号"),
    ("received", "受付日時"),
    ("requester", "問合せ者"),
    ("channel", "受付方法"),
    ("subject", "件名"),
    ("answered", "回答日時"),
    ("answer", "回答内容"),
    ("answer_minutes", "回答までの時間(問合せ対応時間内, 分)"),
    ("handler", "対応者"),
    ("status", "ステータス"),
]


def new_id(received):
    return f"INQ-{received.astimezone(cal.JST):%Y%m%d-%H%M}-{secrets.token_hex(3)}"


def validate(record):
    """The record's problems, one line each (empty when sound): the schema's, then its times in order."""
    problems = incidents.schema_problems(record, SCHEMA)
    if not isinstance(record, dict):
        return problems
    times = incidents.readable_times(record, ("received", "answered"))
    if times.get("received") and times.get("answered") and times["answered"] < times["received"]:
        problems.append("answered: must not be before received")
    return problems


def answer_minutes(record, hours=("08:30", "17:30"), extra_closed=()):
    """Minutes from receipt to answer inside inquiry hours (None while unanswered)."""
    received = incidents.parse_time(record.get("received"), "received")
    answered = incidents.parse_time(record.get("answered"), "answered")
    if not answered:
        return None
    if answered == received:
        return 0.0
    return cal.split_downtime(received, answered, hours, extra_closed)[0]


def rows(records, hours=("08:30", "17:30"), extra_closed=()):
    table = []
    for record in records:
        values = dict(record, answer_minutes=answer_minutes(record, hours, extra_closed))
        table.append(["" if values.get(key) is None else str(values.get(key, "")) for key, _ in COLUMNS])
    return table

"""anshin_ops/schemas/*.schema.json: what an incident or an inquiry record must hold, checked by jsonschema;
the problems read as before, FIELD: what is wrong, one line each."""

import datetime
import json

import jsonschema
import pytest

from anshin_ops import incidents, inquiries

SOUND_INCIDENT = {
    "id": "INC-20261128-0910-a1b2c3",
    "occurred": "2026-11-28T09:10",
    "summary": "受信停止",
    "target": "lalert-vm",
    "status": "対応中",
    "severity": "中",
}


@pytest.mark.parametrize("kind", ["incident", "inquiry"])
def test_the_schemas_are_json_schema_2020_12(kind, root):
    schema = json.loads((root / "anshin_ops" / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)


def test_a_sound_record_has_no_problem_whether_yaml_read_its_times_or_not():
    assert incidents.validate(SOUND_INCIDENT) == []
    assert incidents.validate(dict(SOUND_INCIDENT, occurred=datetime.datetime(2026, 11, 28, 9, 10))) == []
    assert incidents.validate(dict(SOUND_INCIDENT, id="INC-2026-001")) == []  # the older numbering


def test_each_problem_is_one_line_naming_its_field():
    record = dict(SOUND_INCIDENT, id="INC-1", occurred="yesterday", summary="", severity="大")
    del record["target"]
    assert incidents.validate(record) == [
        "target: required",
        "id: 'INC-1' is not INC-YYYY-NNN",
        "occurred: 'yesterday' is not a date and time like 2026-11-28T09:30",
        "summary: required",
        "severity: one of 重大, 中, 軽微, got '大'",
    ]


def test_closing_needs_the_cause_the_remedy_and_the_report():
    closed = dict(SOUND_INCIDENT, status="完了", recovered="2026-11-28T10:00", cause="", remedy="r", prevention="p")
    assert incidents.validate(closed) == [
        "reported_to_pref: required to close the incident (when it was reported to the prefecture, 8(1)イ)",
        "cause: required to close the incident",
    ]


def test_times_are_compared_after_the_schema():
    record = dict(SOUND_INCIDENT, down_start="2026-11-28T10:00", down_end="2026-11-28T09:00")
    assert incidents.validate(record) == ["down_end: must be after down_start"]


def test_an_answered_inquiry_needs_its_answer():
    record = {
        "id": "INQ-20261128-0900-abcdef",
        "received": "2026-11-28T09:00",
        "requester": "危機管理課",
        "subject": "訓練の日程",
        "channel": "電話",
        "status": "回答済",
        "answer": "",
    }
    assert inquiries.validate(record) == [
        "answered: required once the inquiry is answered",
        "answer: required once the inquiry is answered",
    ]
    assert inquiries.validate(dict(record, answered="2026-11-28T10:00", answer="12月")) == []


def test_a_file_that_is_not_a_mapping_is_said_so():
    assert incidents.validate(["a", "list"]) == ["the record is not a mapping of fields: ['a', 'list']"]

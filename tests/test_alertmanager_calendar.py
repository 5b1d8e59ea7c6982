"""One office calendar everywhere: Alertmanager's office-hours routing is generated from the inventory's
calendar (filter_plugins/office_calendar.py) and mutes office e-mail on closed weekdays. Alertmanager's
`amtool config routes test` ignores time intervals, so the routing is evaluated here on the rendered
alertmanager.yml with Alertmanager's documented time-interval rules (weekdays, times, days_of_month,
months, years, location)."""

import datetime
import json
import re
import zoneinfo

import jinja2
import pytest
import yaml

from conftest import ROOT
from filter_plugins.office_calendar import anshin_closed_weekdays

CALENDAR = {"start": "08:30", "end": "17:15", "extra_closed_days": ["2026-12-28"]}
WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]


def test_closed_weekdays_come_from_the_calendar():
    closed = anshin_closed_weekdays(CALENDAR, "2026-11-30")
    assert closed[0] >= "2026-04-01" and closed[-1] <= "2028-03-31"  # this fiscal year and the next
    for day in ("2026-11-23", "2026-12-28", "2026-12-29", "2026-12-31", "2027-01-01", "2027-01-11"):
        assert day in closed, day  # 勤労感謝の日, extra closed day, year end, 元日, 成人の日
    for day in ("2026-12-01", "2026-11-28", "2027-01-04"):
        assert day not in closed, day  # a Tuesday, a Saturday (outside office hours anyway), the first office day
    assert anshin_closed_weekdays(CALENDAR, "2027-03-31") == closed  # stable within the fiscal year
    with pytest.raises(ValueError, match="anshin_closed_weekdays"):
        anshin_closed_weekdays({"extra_closed_days": ["2026-02-30"]}, "2026-11-30")


def render(closed_days):
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(ROOT / "roles/monitoring_server/templates")),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["to_json"] = lambda value: json.dumps(value, ensure_ascii=False)
    env.filters["bool"] = bool
    defaults = yaml.safe_load((ROOT / "roles/monitoring_server/defaults/main.yml").read_text(encoding="utf-8"))
    text = env.get_template("alertmanager.yml.j2").render(
        defaults,
        ansible_managed="test",
        monitoring_server_smtp={},
        monitoring_server_office_hours={
            "weekdays": ["monday:friday"],
            "start": "08:30",
            "end": "17:15",
            "location": "Asia/Tokyo",
        },
        monitoring_server_closed_days=closed_days,
        monitoring_server_alert_email_oncall=["oncall@example.invalid"],
        monitoring_server_alert_email_office=["office@example.invalid"],
        monitoring_server_alert_webhooks=[],
    )
    return yaml.safe_load(text)


def _in_ranges(value, ranges, names=None):
    def to_int(v):
        return names.index(v) if names else int(v)

    for item in ranges:
        low, _, high = str(item).partition(":")
        if to_int(low) <= value <= to_int(high or low):
            return True
    return False


def in_interval(spec, moment):
    """Alertmanager's time_interval: every field given must match; times are [start, end)."""
    local = moment.astimezone(zoneinfo.ZoneInfo(spec.get("location", "UTC")))
    if "weekdays" in spec and not _in_ranges(local.weekday(), spec["weekdays"], WEEKDAYS):
        return False
    if "times" in spec:
        minute = local.hour * 60 + local.minute
        if not any(
            int(t["start_time"][:2]) * 60 + int(t["start_time"][3:])
            <= minute
            < int(t["end_time"][:2]) * 60 + int(t["end_time"][3:])
            for t in spec["times"]
        ):
            return False
    for field, value in (("days_of_month", local.day), ("months", local.month), ("years", local.year)):
        if field in spec and not _in_ranges(value, spec[field]):
            return False
    return True


def matches(matcher, labels):
    """One equality matcher of the routing tree: label="value" or label!="value"."""
    name, op, value = re.fullmatch(r'(\w+)(!?=)"(.*)"', matcher).groups()
    return (labels.get(name, "") == value) == (op == "=")


def receivers_at(config, severity, moment, alertname="DiskSpaceWarning"):
    """Receivers of an alert at a moment: the routing tree with active and mute time intervals applied."""
    intervals = {t["name"]: t["time_intervals"] for t in config.get("time_intervals", [])}
    labels = {"severity": severity, "alertname": alertname}
    found = []
    for route in config["route"]["routes"]:
        if not all(matches(m, labels) for m in route.get("matchers", [])):
            continue
        active = all(
            any(in_interval(s, moment) for s in intervals[name]) for name in route.get("active_time_intervals", [])
        )
        muted = any(
            any(in_interval(s, moment) for s in intervals[name]) for name in route.get("mute_time_intervals", [])
        )
        if active and not muted:
            found.append(route["receiver"])
        if not route.get("continue"):
            break
    return found


@pytest.mark.parametrize(
    "when, office",
    [
        ("2026-12-01T10:00", True),  # a Tuesday in office hours
        ("2026-12-01T17:30", False),  # after closing
        ("2026-11-23T10:00", False),  # 勤労感謝の日 (a Monday)
        ("2027-01-01T10:00", False),  # 元日
        ("2026-12-29T10:00", False),  # 12/29-1/3
        ("2026-12-28T10:00", False),  # the inventory's extra closed day
        ("2027-01-04T08:30", True),  # the first office day of the year, at opening
    ],
)
def test_a_warning_emails_the_office_only_in_office_hours_of_office_days(when, office):
    config = render(anshin_closed_weekdays(CALENDAR, "2026-11-30"))
    moment = datetime.datetime.fromisoformat(when).replace(tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))
    got = receivers_at(config, "warning", moment)
    assert ("office" in got) == office, got
    assert "webhooks" in got  # warnings always reach the webhooks
    assert receivers_at(config, "critical", moment) == ["oncall"]  # on-call at any hour
    assert receivers_at(config, "none", moment, alertname="Watchdog") == ["watchdog"]  # the dead man's switch only


def test_without_closed_days_the_template_names_no_empty_interval():
    config = render([])
    assert [t["name"] for t in config["time_intervals"]] == ["office_hours"]
    assert "mute_time_intervals" not in config["route"]["routes"][1]

"""The prefecture's office calendar and availability over office hours (contract clause 7).

Office days are weekdays minus national holidays (the `holidays` library), minus 12/29-1/3 (地方自治法 4条の2
and the prefecture's ordinance), minus extra closed days from the inventory. Office hours are a window on
those days (8:30-17:15 by default). All times are JST.
"""

import datetime

import holidays

# module_utils/anshin_common.py, on the path through anshin_ops/__init__.py (or filter_plugins/office_calendar.py);
# the rest of anshin_ops reads the clock from here: office_calendar.JST, .now_jst(), .parse_time()
from anshin_common import JST, now_jst, parse_time  # noqa: F401

YEAR_END = {(12, 29), (12, 30), (12, 31), (1, 1), (1, 2), (1, 3)}


def is_office_day(day, extra_closed=()):
    if day.weekday() >= 5 or (day.month, day.day) in YEAR_END or day in set(extra_closed):
        return False
    return day not in holidays.Japan(years=day.year)


def period(year, fiscal=False):
    """(first day, day after the last) of a calendar year, or of fiscal year YEAR (4/1 - 3/31)."""
    if fiscal:
        return datetime.date(year, 4, 1), datetime.date(year + 1, 4, 1)
    return datetime.date(year, 1, 1), datetime.date(year + 1, 1, 1)


def office_days(start, end, extra_closed=()):
    """Office days in [start, end)."""
    closed = set(extra_closed)
    days, day = [], start
    while day < end:
        if is_office_day(day, closed):
            days.append(day)
        day += datetime.timedelta(days=1)
    return days


def _window(day, hours):
    (sh, sm), (eh, em) = (map(int, h.split(":")) for h in hours)
    return (
        datetime.datetime(day.year, day.month, day.day, sh, sm, tzinfo=JST),
        datetime.datetime(day.year, day.month, day.day, eh, em, tzinfo=JST),
    )


def recovery_deadline(moment, hours=("08:30", "17:15"), extra_closed=()):
    """Contract 8(3)ウエ: a failure begun in office hours is restored the same office day (its end); one
    begun outside them by the start of the next office hours."""
    moment = moment.astimezone(JST)
    day = moment.date()
    if is_office_day(day, extra_closed):
        start, end = _window(day, hours)
        if start <= moment < end:
            return end
        if moment < start:
            return start
    day += datetime.timedelta(days=1)
    while not is_office_day(day, extra_closed):
        day += datetime.timedelta(days=1)
    return _window(day, hours)[0]


def office_minutes(days, hours=("08:30", "17:15")):
    start, end = _window(datetime.date(2000, 1, 3), hours)
    return len(days) * int((end - start).total_seconds() // 60)


def split_downtime(start, end, hours=("08:30", "17:15"), extra_closed=()):
    """Minutes of [start, end) inside office hours and outside them: (office, outside)."""
    if end <= start:
        raise ValueError(f"end {end.isoformat()} is not after start {start.isoformat()}")
    start, end = start.astimezone(JST), end.astimezone(JST)
    office = 0.0
    day = start.date()
    while day <= end.date():
        if is_office_day(day, extra_closed):
            open_, close = _window(day, hours)
            overlap = (min(end, close) - max(start, open_)).total_seconds()
            office += max(0.0, overlap)
        day += datetime.timedelta(days=1)
    total = (end - start).total_seconds()
    return round(office / 60, 1), round((total - office) / 60, 1)


def merge(intervals):
    """Overlapping or touching (start, end) intervals joined, sorted: an outage seen both in an incident
    record and in the probe history counts once."""
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def subtract(intervals, cuts):
    """The parts of (start, end) intervals outside every cut: probe failures during planned maintenance
    are not downtime."""
    result = []
    cuts = merge(cuts)
    for start, end in merge(intervals):
        for cut_start, cut_end in cuts:
            if cut_end <= start or cut_start >= end:
                continue
            if cut_start > start:
                result.append((start, cut_start))
            start = max(start, cut_end)
            if start >= end:
                break
        if start < end:
            result.append((start, end))
    return result


def availability(year, downtimes, fiscal=False, hours=("08:30", "17:15"), extra_closed=(), target=99.0):
    """Availability over office hours for a year from (start, end) downtimes (planned ones left out by the caller)."""
    first, after = period(year, fiscal)
    return availability_between(first, after, downtimes, hours, extra_closed, target)


def availability_between(first, after, downtimes, hours=("08:30", "17:15"), extra_closed=(), target=99.0):
    """Availability over the office hours of the days FIRST up to AFTER (excluded): a month, a year to date."""
    days = office_days(first, after, extra_closed)
    total = office_minutes(days, hours)
    used = 0.0
    begin = datetime.datetime(first.year, first.month, first.day, tzinfo=JST)
    finish = datetime.datetime(after.year, after.month, after.day, tzinfo=JST)
    for start, end in merge(downtimes):
        start, end = max(start, begin), min(end, finish)
        if end > start:
            used += split_downtime(start, end, hours, extra_closed)[0]
    allowed = total * (100 - target) / 100
    return {
        "period": f"{first.isoformat()} - {(after - datetime.timedelta(days=1)).isoformat()}",
        "office_days": len(days),
        "office_minutes": total,
        "downtime_minutes": round(used, 1),
        "allowed_minutes": round(allowed, 1),
        # no office day in the period (a running month's first days, the new year's holidays): nothing to judge
        "availability_percent": round(100 * (1 - used / total), 3) if total else None,
        "target_percent": target,
        "met": used <= allowed if total else None,
    }

"""anshin_ops/office_calendar.py: the office calendar, the downtime split, availability over office hours."""

import datetime

import holidays
import pytest

from anshin_ops import office_calendar as cal


def at(*args):
    return datetime.datetime(*args, tzinfo=cal.JST)


def test_2026_has_240_office_days_and_2100_office_hours():
    days = cal.office_days(*cal.period(2026))
    assert len(days) == 240
    assert cal.office_minutes(days) == 2100 * 60
    result = cal.availability(2026, [])
    assert result["allowed_minutes"] == 21 * 60 and result["availability_percent"] == 100.0


@pytest.mark.parametrize("year", [2024, 2025, 2027, 2028])
def test_other_years_against_the_holiday_library(year):
    days = cal.office_days(*cal.period(year))
    jp = holidays.Japan(years=year)
    expected = [
        d
        for d in (datetime.date(year, 1, 1) + datetime.timedelta(n) for n in range(366))
        if d.year == year and d.weekday() < 5 and d not in jp and (d.month, d.day) not in cal.YEAR_END
    ]
    assert days == expected


def test_fiscal_year_and_extra_closed_days():
    first, after = cal.period(2026, fiscal=True)
    assert (first, after) == (datetime.date(2026, 4, 1), datetime.date(2027, 4, 1))
    closed = [datetime.date(2026, 8, 14)]  # a Friday the prefecture closes
    assert len(cal.office_days(first, after, closed)) == len(cal.office_days(first, after)) - 1


def test_downtime_is_split_at_office_hours():
    # Friday 2026-11-27 16:00 to Monday 2026-11-30 10:00: 75 min Friday + 90 min Monday in office hours
    office, outside = cal.split_downtime(at(2026, 11, 27, 16, 0), at(2026, 11, 30, 10, 0))
    assert office == 165 and office + outside == 66 * 60
    # a holiday (2026-11-23, Labour Thanksgiving Day) is all outside office hours
    assert cal.split_downtime(at(2026, 11, 23, 9), at(2026, 11, 23, 12)) == (0, 180)
    # 12/29-1/3 are closed days
    assert cal.split_downtime(at(2026, 12, 29, 9), at(2026, 12, 29, 17)) == (0, 480)
    with pytest.raises(ValueError):
        cal.split_downtime(at(2026, 1, 5, 9), at(2026, 1, 5, 9))


def test_availability_counts_only_office_hours_within_the_year():
    downtimes = [
        (at(2026, 6, 1, 8, 30), at(2026, 6, 1, 17, 15)),  # a whole office day: 525 min
        (at(2026, 6, 6, 0, 0), at(2026, 6, 7, 23, 0)),  # a weekend: 0
        (at(2025, 12, 31, 0, 0), at(2026, 1, 5, 9, 30)),
    ]  # only 1/5 08:30-09:30 is in 2026 office hours
    result = cal.availability(2026, downtimes)
    assert result["downtime_minutes"] == 525 + 60
    assert result["availability_percent"] == round(100 * (1 - 585 / 126000), 3)
    assert result["met"] is True
    assert cal.availability(2026, [(at(2026, 6, 1), at(2026, 6, 30))])["met"] is False


def test_overlapping_outages_count_once():
    # an incident 9:00-10:00 and the probe failing 9:30-10:30 the same morning: 90 minutes, not 120
    incident = (at(2026, 6, 1, 9, 0), at(2026, 6, 1, 10, 0))
    minute = datetime.timedelta(minutes=1)
    probe = [(at(2026, 6, 1, 9, 30) + i * minute, at(2026, 6, 1, 9, 31) + i * minute) for i in range(60)]
    assert cal.merge([incident] + probe) == [(at(2026, 6, 1, 9, 0), at(2026, 6, 1, 10, 30))]
    assert cal.availability(2026, [incident] + probe)["downtime_minutes"] == 90
    assert cal.merge([]) == []


def test_planned_windows_are_cut_out_of_downtime():
    def t(hhmm):
        return datetime.datetime(2026, 6, 1, int(hhmm[:2]), int(hhmm[3:]), tzinfo=cal.JST)

    got = cal.subtract(
        [(t("09:00"), t("11:00")), (t("13:00"), t("14:00"))], [(t("09:30"), t("10:00")), (t("10:30"), t("13:30"))]
    )
    assert got == [(t("09:00"), t("09:30")), (t("10:00"), t("10:30")), (t("13:30"), t("14:00"))]
    assert cal.subtract([(t("09:00"), t("10:00"))], [(t("08:00"), t("12:00"))]) == []
    assert cal.subtract([(t("09:00"), t("10:00"))], []) == [(t("09:00"), t("10:00"))]


@pytest.mark.parametrize(
    "change, message",
    [
        ({"start": "8:70"}, "anshin_office_calendar"),
        ({"start": "17:30", "end": "08:30"}, "start before end"),
        ({"inquiry_start": "17:30", "inquiry_end": "08:30"}, "inquiry_start before inquiry_end"),
        ({"extra_closed_days": ["2026-02-30"]}, "anshin_office_calendar"),
        ({"availability_target": 100}, "0 < availability_target < 100"),
    ],
)
def test_a_bad_calendar_entry_is_refused(change, message):
    from anshin_ops import incidents, inventory

    inv = {"name": "t", "vars": {"anshin_office_calendar": dict({"start": "08:30", "end": "17:15"}, **change)}}
    with pytest.raises(incidents.RecordError, match=message):
        inventory.office_calendar(inv)

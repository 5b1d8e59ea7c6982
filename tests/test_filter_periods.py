"""filter_plugins/periods.py"""

import calendar
import importlib.util

import pytest

from conftest import ROOT

spec = importlib.util.spec_from_file_location("periods", ROOT / "filter_plugins" / "periods.py")
periods = importlib.util.module_from_spec(spec)
spec.loader.exec_module(periods)


def utc(*args):
    return calendar.timegm(args)


def test_months_are_counted_in_jst():
    # 2026-11-30 15:30 UTC is already 2026-12-01 00:30 in JST
    assert periods.anshin_jst_month(utc(2026, 11, 30, 15, 30, 0)) == "2026-12"
    assert periods.anshin_previous_month(utc(2026, 11, 30, 15, 30, 0)) == "2026-11"
    assert periods.anshin_previous_month(utc(2026, 11, 30, 14, 59, 0)) == "2026-10"


def test_the_month_before_january_is_december_of_the_year_before():
    assert periods.anshin_previous_month(utc(2027, 1, 15, 0, 0, 0)) == "2026-12"
    assert periods.anshin_previous_month(str(utc(2026, 3, 1, 0, 0, 0))) == "2026-02"


def test_a_jst_month_needs_the_iis_file_of_the_previous_utc_day():
    assert periods.anshin_iis_log_patterns("2026-11") == ["u_ex2611*.log", "u_ex261031*.log"]
    assert periods.anshin_iis_log_patterns("2027-01") == ["u_ex2701*.log", "u_ex261231*.log"]
    assert periods.anshin_iis_log_patterns("2028-03") == ["u_ex2803*.log", "u_ex280229*.log"]  # leap year
    # hourly files (IIS rolling over every hour) of the eve match too, the day after it does not
    import fnmatch

    eve = periods.anshin_iis_log_patterns("2026-11")[1]
    assert fnmatch.fnmatch("u_ex26103123.log", eve) and fnmatch.fnmatch("u_ex261031.log", eve)
    assert not fnmatch.fnmatch("u_ex261030.log", eve)


def test_a_bad_month_names_no_files():
    with pytest.raises(ValueError, match="YYYY-MM"):
        periods.anshin_iis_log_patterns("2026-13")

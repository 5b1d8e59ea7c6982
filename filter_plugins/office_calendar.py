"""The office calendar for Alertmanager, as a pure function over anshin_ops/office_calendar.py's rule.

    {{ anshin_office_calendar | anshin_closed_weekdays(now().strftime('%Y-%m-%d')) }}

The weekdays that are not office days (national holidays from the holidays library, 12/29-1/3, the
inventory's extra closed days) from the start of the fiscal year of the given date to the end of the
next fiscal year, as YYYY-MM-DD: Alertmanager mutes office e-mail on them. Saturdays and Sundays are
outside its office-hours interval already. Stable within a fiscal year, so a re-run changes nothing.
"""

import datetime
import importlib.util
import os
import sys

_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _SHARED not in sys.path:  # the rule reads the JST clock from module_utils/anshin_common.py
    sys.path.append(_SHARED)
_path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "anshin_ops", "office_calendar.py")
_spec = importlib.util.spec_from_file_location("anshin_office_calendar_rule", _path)
_cal = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cal)


def anshin_closed_weekdays(calendar, on_date):
    try:
        day = datetime.date.fromisoformat(str(on_date)[:10])
        extra = [datetime.date.fromisoformat(str(d)) for d in (calendar or {}).get("extra_closed_days") or []]
    except ValueError as exc:
        raise ValueError(f"anshin_closed_weekdays: {exc}") from None
    start = datetime.date(day.year if day.month >= 4 else day.year - 1, 4, 1)
    end = datetime.date(start.year + 2, 4, 1)
    closed = []
    while start < end:
        if start.weekday() < 5 and not _cal.is_office_day(start, extra):
            closed.append(start.isoformat())
        start += datetime.timedelta(days=1)
    return closed


class FilterModule:
    def filters(self):
        return {"anshin_closed_weekdays": anshin_closed_weekdays}

"""Period filters: pure functions over dates in JST (the prefecture's calendar).

{{ now(utc=true).timestamp() | anshin_previous_month }}   "2026-10" on any day of November (JST)
{{ now(utc=true).timestamp() | anshin_jst_month }}        "2026-11"
{{ "2026-11" | anshin_iis_log_patterns }}                ["u_ex2611*.log", "u_ex261031*.log"]
"""

import datetime
import os
import sys

_SHARED = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils")
if _SHARED not in sys.path:  # the one home of the JST clock (module_utils/anshin_common.py)
    sys.path.append(_SHARED)
from anshin_common import from_epoch  # noqa: E402


def anshin_jst_month(epoch):
    """The month (YYYY-MM) of an epoch time in JST."""
    return from_epoch(epoch).strftime("%Y-%m")


def anshin_previous_month(epoch):
    """The month before the JST month of an epoch time, as YYYY-MM."""
    first = from_epoch(epoch).replace(day=1)
    return (first - datetime.timedelta(days=1)).strftime("%Y-%m")


def anshin_iis_log_patterns(month):
    """File name patterns of the IIS daily logs that hold a JST month: IIS names them by the UTC day, and
    the JST month starts at 15:00 UTC of the previous month's last day, so that day's file is needed too
    (or its hourly files, u_exYYMMDDHH.log, when IIS rolls over every hour)."""
    try:
        first = datetime.datetime.strptime(str(month), "%Y-%m")
    except ValueError:
        raise ValueError(f"month must be YYYY-MM, got {month!r}") from None
    eve = first - datetime.timedelta(days=1)
    return [f"u_ex{first:%y%m}*.log", f"u_ex{eve:%y%m%d}*.log"]


class FilterModule:
    def filters(self):
        return {
            "anshin_jst_month": anshin_jst_month,
            "anshin_previous_month": anshin_previous_month,
            "anshin_iis_log_patterns": anshin_iis_log_patterns,
        }

"""Period filters: pure functions over dates in JST (the prefecture's calendar).

{{ now(utc=true).timestamp() | anshin_previous_month }}   "2026-10" on any day of November (JST)
{{ now(utc=true).timestamp() | anshin_jst_month }}        "2026-11"
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


class FilterModule:
    def filters(self):
        return {"anshin_jst_month": anshin_jst_month, "anshin_previous_month": anshin_previous_month}

"""Period filters: pure functions over dates in JST (the prefecture's calendar).

{{ now(utc=true).timestamp() | anshin_previous_month }}   "2026-10" on any day of November (JST)
{{ now(utc=true).timestamp() | anshin_jst_month }}        "2026-11"
"""

import datetime

JST = datetime.timezone(datetime.timedelta(hours=9))


def anshin_jst_month(epoch):
    """The month (YYYY-MM) of an epoch time in JST."""
    return datetime.datetime.fromtimestamp(float(epoch), JST).strftime("%Y-%m")


def anshin_previous_month(epoch):
    """The month before the JST month of an epoch time, as YYYY-MM."""
    first = datetime.datetime.fromtimestamp(float(epoch), JST).replace(day=1)
    return (first - datetime.timedelta(days=1)).strftime("%Y-%m")


class FilterModule:
    def filters(self):
        return {"anshin_jst_month": anshin_jst_month, "anshin_previous_month": anshin_previous_month}

"""The one-line freshness warning of `spendlens build`: is the newest usable order line older
than var freshness_warn_after_days (the same threshold as `dbt source freshness`)?"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

DEFAULT_WARN_AFTER_DAYS = 3


def stale_warning(db: Path, warn_after_days: int, today: date | None = None) -> str | None:
    """The warning for the built database `db`, or None when its data is fresh enough (or it
    has no usable line, which the data-quality checks report already)."""
    today = today or date.today()
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("select last_order_date from intermediate.int_analysis_dates").fetchall()
    newest = rows[0][0] if rows else None
    if newest is None:
        return None
    age = (today - newest).days
    if age <= warn_after_days:
        return None
    return (f"warning: the newest usable order line is from {newest.isoformat()}, {age} days ago "
            f"(more than freshness_warn_after_days = {warn_after_days}): is the input export "
            "current? (`dbt source freshness` checks the same; set the var to silence this for "
            "historical data)")

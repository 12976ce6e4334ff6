"""Stash's scene date: "YYYY-MM-DD", or "YYYY-MM" / "YYYY" when only the month or the year
is known (Stash's date precision). StashHog keeps it as that text, which sorts in date
order; a partial date counts as the first day of its month or year, as Stash counts it."""

import re
from datetime import date

PATTERN = r"^\d{4}(-\d{2}(-\d{2})?)?$"
_FORM = re.compile(PATTERN)


def stash_date(value: object) -> str | None:
    """``value`` if it is such a date (a real one), else None."""
    if not isinstance(value, str) or not _FORM.match(value):
        return None
    try:
        date.fromisoformat((value + "-01-01")[:10])  # the day it counts as
    except ValueError:  # "2024-13", "2023-02-30"
        return None
    return value


def lower_bound(day: date) -> str:
    """The text every date on or after ``day`` sorts at or after, whatever its precision:
    "2024-01-01" is also the year "2024" and the month "2024-01", which sort before it."""
    text = day.isoformat()
    while text.endswith("-01"):
        text = text[:-3]
    return text

"""What DRF's fields show, for serializers that build their output directly (a list page
field by field through DRF costs more CPU than the queries behind it)."""

from datetime import datetime, tzinfo


def iso_datetime(value: datetime | None, zone: tzinfo) -> str | None:
    """What DRF's DateTimeField shows (ISO 8601 in the current time zone, UTC as "Z"),
    without its per-value time zone lookups."""
    if value is None:
        return None
    text = value.astimezone(zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text

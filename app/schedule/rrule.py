"""Recurrence rules as requests carry them: the part of RFC 5545's RRULE that publishing
needs, and IANA time zone names, each documented exactly as it is validated."""

from __future__ import annotations

import functools
from importlib import resources
from typing import Annotated

from pydantic import AfterValidator, Field, WithJsonSchema

from app.core.schemas import Instant, RequestModel


def _list(item: str, most: int = 12) -> str:
    return rf"{item}(?:,{item}){{0,{most - 1}}}"


_WEEKDAY = r"(?:MO|TU|WE|TH|FR|SA|SU)"
# The part of RFC 5545's RRULE that publishing needs, in a fixed order: how often (daily to
# yearly, every n), how many times, and which months, days and wall-clock times. Every rule
# the pattern admits is one python-dateutil expands; finer ones (BYSETPOS, BYWEEKNO,
# BYYEARDAY, more than daily) are refused, as is DTSTART (the series starts at publish_at).
RRULE_PATTERN = (
    r"^FREQ=(?:DAILY|WEEKLY|MONTHLY|YEARLY)"
    r"(?:;INTERVAL=[1-9][0-9]{0,2})?"
    r"(?:;COUNT=[1-9][0-9]{0,2})?"
    rf"(?:;BYMONTH={_list(r'(?:[1-9]|1[0-2])')})?"
    rf"(?:;BYMONTHDAY={_list(r'-?(?:[1-9]|[12][0-9]|3[01])')})?"
    rf"(?:;BYDAY={_list(rf'(?:-?[1-5])?{_WEEKDAY}', 7)})?"
    rf"(?:;BYHOUR={_list(r'(?:[0-9]|1[0-9]|2[0-3])', 24)})?"
    rf"(?:;BYMINUTE={_list(r'(?:[0-9]|[1-5][0-9])')})?"
    rf"(?:;WKST={_WEEKDAY})?$"
)


@functools.cache
def time_zones() -> list[str]:
    """IANA zone names, from the pinned `tzdata` package, so the document's enum and the
    validation agree on every machine."""
    return sorted(resources.files("tzdata").joinpath("zones").read_text().split())


@functools.cache
def _zone_names() -> frozenset[str]:
    return frozenset(time_zones())


def _known_zone(value: str) -> str:
    if value not in _zone_names():
        raise ValueError("not an IANA time zone name (such as Europe/London)")
    return value


TimeZone = Annotated[
    str,
    AfterValidator(_known_zone),
    WithJsonSchema(
        {
            "type": "string",
            "enum": time_zones(),
            "description": "An IANA time zone, e.g. `Europe/London`.",
        }
    ),
]


class Recurrence(RequestModel):
    rrule: str = Field(
        max_length=1000,
        pattern=RRULE_PATTERN,
        description="An RFC 5545 RRULE without DTSTART, e.g. `FREQ=WEEKLY;BYDAY=FR;BYHOUR=18`;"
        " the series starts at `publish_at`; BYHOUR/BYMINUTE are wall-clock in `timezone`."
        " Parts in this order: FREQ (DAILY to YEARLY), INTERVAL, COUNT, BYMONTH, BYMONTHDAY,"
        " BYDAY, BYHOUR, BYMINUTE, WKST.",
        examples=["FREQ=WEEKLY;BYDAY=FR;BYHOUR=18;BYMINUTE=0"],
    )
    timezone: TimeZone
    until: Instant | None = None

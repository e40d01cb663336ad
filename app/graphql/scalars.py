"""The DateTime scalar in Rocket.Chat's own format (JavaScript's toISOString)."""

from __future__ import annotations

from datetime import datetime
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from app.backends.rocketchat_json import format_datetime, parse_datetime

DateTime = NewType("DateTime", datetime)


class NotADate(str):
    """A DateTime argument that does not read as a date. It reaches the resolver, which
    refuses it as INVALID_PARAMS data like any other bad argument, rather than graphql-core
    failing the whole request on it."""


def parse_date_time(value: object) -> datetime | NotADate:
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError, OSError):
        return NotADate(value)


SCALAR_MAP: dict[object, ScalarDefinition] = {
    DateTime: strawberry.scalar(
        name="DateTime",
        description='ISO-8601 with milliseconds and "Z", as Rocket.Chat sends it.',
        serialize=format_datetime,
        parse_value=parse_date_time,
    )
}

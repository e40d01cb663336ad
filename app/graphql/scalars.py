"""The DateTime scalar in Rocket.Chat's own format (JavaScript's toISOString)."""

from __future__ import annotations

from datetime import datetime
from typing import NewType

import strawberry
from strawberry.types.scalar import ScalarDefinition

from app.backends.rocketchat_json import format_datetime, parse_datetime

DateTime = NewType("DateTime", datetime)

SCALAR_MAP: dict[object, ScalarDefinition] = {
    DateTime: strawberry.scalar(
        name="DateTime",
        description='ISO-8601 with milliseconds and "Z", as Rocket.Chat sends it.',
        serialize=format_datetime,
        parse_value=parse_datetime,
    )
}

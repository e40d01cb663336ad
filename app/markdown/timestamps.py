"""Timestamps: `<t:1630360800:f>`, ISO instants and times of day, and their escaped form.

Rules:
    Timestamp = "<t:" Instant (":" [DFRTdft])? ">"
    Instant   = 10 digits / ISO date-time with or without milliseconds / HH:MM(:SS)? ; each
                ISO form and time of day takes an optional [+-]HH:MM offset
    Escaped   = "\\" Timestamp, which reads as the plain text of the tag

The value is the instant in whole seconds, computed as JavaScript's Date would (including its
32-bit truncation); an instant JavaScript cannot read gives "0". A time of day lands on the
date of the injected clock and needs an offset (without one the reference reads an invalid
date, "0"); an ISO instant without an offset is read as UTC, as on a server.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from app.markdown import nodes
from app.markdown.state import Node, Result, State

_OFFSET = r"([+-][0-9]{2}:[0-9]{2})?"
UNIX = re.compile(r"[0-9]{10}")
ISO_WITH_MS = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})\.([0-9]{3})" + _OFFSET
)
ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})" + _OFFSET)
TIME_WITH_SECONDS = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})" + _OFFSET)
TIME = re.compile(r"([0-9]{2}):([0-9]{2})" + _OFFSET)
STYLE = "DFRTdft"


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 in the proleptic Gregorian calendar (any year, day may overflow)."""
    year -= month <= 2
    era = (year if year >= 0 else year - 399) // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


def _int32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def _seconds(
    date: tuple[int, int, int], time: tuple[int, int, int, int], offset: str | None
) -> str:
    """JavaScript's `(new Date(iso).getTime() / 1000 | 0).toString()`."""
    year, month, day = date
    hour, minute, second, millis = time
    valid = 1 <= month <= 12 and 1 <= day <= 31 and minute <= 59 and second <= 59
    valid = valid and (hour <= 23 or (hour == 24 and minute == second == millis == 0))
    shift = 0
    if offset:
        offset_hours, offset_minutes = int(offset[1:3]), int(offset[4:6])
        valid = valid and offset_hours <= 23 and offset_minutes <= 59
        shift = (offset_hours * 60 + offset_minutes) * (1 if offset[0] == "+" else -1)
    if not valid:
        return "0"
    minutes = _days_from_civil(year, month, day) * 1440 + hour * 60 + minute - shift
    millis_total = (minutes * 60 + second) * 1000 + millis
    whole = abs(millis_total) // 1000 * (1 if millis_total >= 0 else -1)
    return str(_int32(whole))


def _instant(s: State, pos: int) -> Result[str]:
    """Instant: the first of the four forms that matches, committed to as PEG does."""
    text = s.text
    match = UNIX.match(text, pos)
    if match:
        return match.group(0), match.end()
    if (match := ISO_WITH_MS.match(text, pos)) or (match := ISO.match(text, pos)):
        groups = match.groups()
        parts = [int(part) for part in groups[:6]]
        millis = int(groups[6]) if len(groups) == 8 and groups[6] else 0
        value = _seconds(
            (parts[0], parts[1], parts[2]), (parts[3], parts[4], parts[5], millis), groups[-1]
        )
        return value, match.end()
    if (match := TIME_WITH_SECONDS.match(text, pos)) or (match := TIME.match(text, pos)):
        groups = match.groups()
        if groups[-1] is None:
            # The reference appends the missing offset as the text "null": an invalid date.
            return "0", match.end()
        second = int(groups[2]) if len(groups) == 4 else 0
        today = (s.now or datetime.now(UTC)).astimezone(UTC)
        value = _seconds(
            (today.year, today.month, today.day),
            (int(groups[0]), int(groups[1]), second, 0),
            groups[-1],
        )
        return value, match.end()
    return None


def _tag(s: State, pos: int) -> Result[tuple[str, str | None, int]]:
    """ "<t:" Instant (":" style)? ">" -> (seconds, style, where the instant text ends)"""
    if not s.text.startswith("<t:", pos) or not s.occurs_after(">", pos + 3):
        return None
    instant = _instant(s, pos + 3)
    if instant is None:
        return None
    value, end = instant
    text = s.text
    styled = text.startswith(":", end) and end + 2 <= s.length and text[end + 1] in STYLE
    if styled and text.startswith(">", end + 2):
        return (value, text[end + 1], end), end + 3
    if text.startswith(">", end):
        return (value, None, end), end + 1
    return None


def timestamp(s: State, pos: int) -> Result[Node]:
    tag = _tag(s, pos)
    if tag is None:
        return None
    (value, style, _), end = tag
    return nodes.timestamp(value, style, [pos, end]), end


def escaped_timestamp(s: State, pos: int) -> Result[Node]:
    """ "\\" Timestamp -> the tag as plain text"""
    if not s.text.startswith("\\", pos):
        return None
    tag = _tag(s, pos + 1)
    if tag is None:
        return None
    (_, style, instant_end), end = tag
    instant = s.text[pos + 4 : instant_end]
    shown = f"<t:{instant}:{style}>" if style else f"<t:{instant}>"
    return nodes.plain(shown), end

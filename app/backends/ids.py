"""Rocket.Chat's ids and clock, injectable so tests can make them predictable."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime

ID_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
ID_LENGTH = 17

# What an id that goes into a URL path may be: Rocket.Chat's own ids (`Random.id()`, above) and
# what clients choose in their place are letters, digits, '-' and '_'. Anything else ('..', '/',
# '?', '%') could change the path it is put into, so no such id reaches an upstream call.
PATH_ID = re.compile(r"[A-Za-z0-9_-]+")

IdGenerator = Callable[[], str]
Clock = Callable[[], datetime]


_ID_SPACE = len(ID_ALPHABET) ** ID_LENGTH


def random_id() -> str:
    """A 17-character id from Meteor's `Random.id()` alphabet, as Rocket.Chat makes them:
    one uniform draw below 55**17 written in base 55, so every id is as likely as with a
    `secrets.choice` per character, from one read of the OS's randomness instead of 17 (a
    visible share of a send's CPU)."""
    number = secrets.randbelow(_ID_SPACE)
    characters = []
    for _ in range(ID_LENGTH):
        number, digit = divmod(number, len(ID_ALPHABET))
        characters.append(ID_ALPHABET[digit])
    return "".join(characters)


def utc_now() -> datetime:
    """The current instant, at the millisecond precision Rocket.Chat stores."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)

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


def random_id() -> str:
    """A 17-character id from Meteor's `Random.id()` alphabet, as Rocket.Chat makes them."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(ID_LENGTH))


def utc_now() -> datetime:
    """The current instant, at the millisecond precision Rocket.Chat stores."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)

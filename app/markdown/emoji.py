"""Emoji: `:shortcode:`, unicode emoji (as UTF-16 units), and ASCII emoticons.

Rules:
    Emoji      = ":" [0-9a-zA-Z-_+.]+ ":" / UnicodeEmoji
    Emoticon   = (when the emoticons option is on) one of EMOTICONS, tried in table order
    BigEmoji   = blanks (Emoji / Emoticon) blanks, one to three times, and nothing else
"""

from __future__ import annotations

import re

from app.markdown import nodes
from app.markdown.state import Node, Result, State

BLANKS = re.compile(r"[ \t\r\n]++")
SHORTCODE = re.compile(r":([0-9a-zA-Z\-_+.]++):")

_VS = "[\ufe00-\ufe0f]?+"
# One emoji "atom" that may be joined by ZWJ, with an optional skin tone.
_ATOM = (
    "(?:\ud83e[\udd00-\udfff]"
    f"|\ud83c[\udf00-\udfff]{_VS}"
    f"|\ud83d[\udc00-\uddff]{_VS}"
    f"|\ud83d[\ude00-\ude4f]{_VS}"
    f"|\ud83d[\ude80-\udeff]{_VS}"
    f"|[\u2700-\u27bf]{_VS}"
    f"|[\u2600-\u26ff]{_VS}"
    f"|[\u2194-\u2195]{_VS}"
    f"|[\u2b1b-\u2b1c]{_VS}|\ud83d[\udfe0-\udfeb\udff0]{_VS})"
    "(?:\ud83c[\udffb-\udfff])?+"
)
UNICODE_EMOJI = re.compile(
    # subdivision flags (England, Scotland, Wales)
    "\ud83c\udff4(?:\udb40[\udc20-\udc7e])++\udb40\udc7f"
    # keycaps
    "|[0-9#*]\ufe0f?+\u20e3"
    # ZWJ sequences of atoms
    f"|(?:{_ATOM}\u200d)*+{_ATOM}"
    f"|\ud83d[\ude00-\ude4f]{_VS}"
    f"|\ud83d[\ude80-\udeff]{_VS}"
    f"|[\u2300-\u23ff]{_VS}"
    f"|[\u2600-\u26ff]{_VS}"
    f"|[\u2700-\u27bf]{_VS}"
    f"|[\u2b1b-\u2b1c]{_VS}|\ud83d[\udfe0-\udfeb\udff0]{_VS}"
    f"|\ud83c[\udccf\udd8e\udd91-\udd9a\ude01\ude32-\ude3a\ude50-\ude51]{_VS}"
    "|[\xa9\xae\u203c\u2049\u2122\u2139\u2196-\u2199\u21a9-\u21aa\u24c2\u25aa-\u25ab\u25b6"
    "\u25c0\u25fb-\u25fe\u2934-\u2935\u2b05-\u2b07\u2b50\u2b55\u3030\u303d\u3297\u3299]\ufe0f"
    "|\ud83c[\udc04\udd70-\udd71\udd7e-\udd7f\ude02\ude1a\ude2f]\ufe0f"
    "|\ud83c[\udde6-\uddff]\ud83c[\udde6-\uddff]"
)

# (emoticon, shortcode) in the order the reference tries them, grouped by first character.
EMOTICONS: list[tuple[str, str]] = [
    (":-D", "smiley"), (":D", "smiley"), (":')", "joy"), (":'-)", "joy"),
    (":-)", "slight_smile"), (":)", "slight_smile"), (":]", "slight_smile"),
    (":-*", "kissing_heart"), (":*", "kissing_heart"), (":^*", "kissing_heart"),
    (":-P", "stuck_out_tongue"), (":P", "stuck_out_tongue"), (":-\u00de", "stuck_out_tongue"),
    (":\u00de", "stuck_out_tongue"), (":-b", "stuck_out_tongue"), (":b", "stuck_out_tongue"),
    (":-(", "disappointed"), (":(", "disappointed"), (":-[", "disappointed"),
    (":[", "disappointed"),
    (":-/", "confused"), (":-.", "confused"), (":/", "confused"), (":\\", "confused"),
    (":L", "confused"),
    (":'(", "cry"), (":@", "angry"), (":$", "flushed"),
    (":-X", "no_mouth"), (":X", "no_mouth"), (":-#", "no_mouth"), (":#", "no_mouth"),
    (":-O", "open_mouth"), (":O", "open_mouth"),
    (";)", "wink"), (";-)", "wink"), (";-]", "wink"), (";]", "wink"), (";D", "wink"),
    (";^)", "wink"), (";(", "cry"), (";-(", "cry"),
    ("</3", "broken_heart"), ("<3", "heart"),
    (">:)", "laughing"), (">;)", "laughing"), (">:-)", "laughing"), (">=)", "laughing"),
    (">.<", "persevere"), (">:P", "stuck_out_tongue_winking_eye"), (">:\\", "confused"),
    (">;/", "confused"), (">:(", "angry"), (">:-(", "angry"), (">:[", "disappointed"),
    (">:O", "open_mouth"),
    ("=D", "smiley"), ("=]", "slight_smile"), ("=)", "slight_smile"), ("=*", "kissing_heart"),
    ("=P", "stuck_out_tongue"), ("=(", "disappointed"), ("=/", "confused"), ("=\\", "confused"),
    ("=L", "confused"), ("=$", "flushed"), ("=X", "no_mouth"), ("=#", "no_mouth"),
    ("D:", "fearful"),
    ("B-)", "sunglasses"), ("B)", "sunglasses"), ("B-D", "sunglasses"),
    ("8)", "sunglasses"), ("8-)", "sunglasses"), ("8-D", "sunglasses"),
    ("':)", "sweat_smile"), ("':-)", "sweat_smile"), ("'=)", "sweat_smile"),
    ("':D", "sweat_smile"), ("':-D", "sweat_smile"), ("'=D", "sweat_smile"),
    ("':(", "sweat"), ("':-(", "sweat"), ("'=(", "sweat"),
    ("O:-)", "innocent"), ("O:)", "innocent"), ("O;-)", "innocent"), ("O=)", "innocent"),
    ("O:-3", "innocent"), ("O:3", "innocent"), ("O_O", "open_mouth"),
    ("0:-3", "innocent"), ("0:3", "innocent"), ("0:-)", "innocent"), ("0:)", "innocent"),
    ("0;^)", "innocent"), ("0;-)", "innocent"),
    ("*-)", "wink"), ("*)", "wink"), ("*\\0/*", "person_gesturing_ok"),
    ("*\\O/*", "person_gesturing_ok"),
    ("X-P", "stuck_out_tongue_winking_eye"), ("X)", "dizzy_face"), ("X-)", "dizzy_face"),
    ("#-)", "dizzy_face"), ("#)", "dizzy_face"), ("%-)", "dizzy_face"), ("%)", "dizzy_face"),
    ("(y)", "thumbsup"),
    ("-___-", "expressionless"), ("-__-", "expressionless"), ("-_-", "expressionless"),
    ("\\0\\/", "person_gesturing_ok"), ("\\O\\/", "person_gesturing_ok"),
]  # fmt: skip

_BY_FIRST_CHAR: dict[str, list[tuple[str, str]]] = {}
for _text, _name in EMOTICONS:
    _BY_FIRST_CHAR.setdefault(_text[0], []).append((_text, _name))
EMOTICON_FIRST_CHARS = "".join(_BY_FIRST_CHAR)
# Every emoticon has two characters at least: one that does not start with one of these starts
# no emoticon.
EMOTICON_PREFIXES = frozenset(text[:2] for text, _ in EMOTICONS)
# One alternation per first character, in table order: a regex tries its alternatives in
# order and takes the first that matches, as the reference does (not the longest).
_EMOTICON_BY_FIRST_CHAR = {
    char: re.compile("|".join(re.escape(text) for text, _ in entries))
    for char, entries in _BY_FIRST_CHAR.items()
}
_SHORTCODES = dict(reversed(EMOTICONS))  # the first entry wins if a text were listed twice


def could_start(char: str) -> bool:
    """Whether an emoji may start with `char`: a shortcode's ":", a keycap's digit, "#" or
    "*", or a character outside ASCII (every other form starts there)."""
    return char in ":0123456789#*" or char >= "\x80"


def emoji(s: State, pos: int) -> Result[Node]:
    """Emoji = ":" name ":" / UnicodeEmoji"""
    match = SHORTCODE.match(s.text, pos)
    if match:
        return nodes.emoji(match.group(1)), match.end()
    match = UNICODE_EMOJI.match(s.text, pos)
    if match:
        return nodes.emoji_unicode(match.group(0)), match.end()
    return None


def shortcode_or_unicode(s: State, pos: int) -> Result[Node]:
    """`emoji`, trying only the form the character at `pos` can start (":" a shortcode, any
    other character a unicode emoji)."""
    if s.text.startswith(":", pos):
        match = SHORTCODE.match(s.text, pos)
        return (nodes.emoji(match.group(1)), match.end()) if match else None
    match = UNICODE_EMOJI.match(s.text, pos)
    return (nodes.emoji_unicode(match.group(0)), match.end()) if match else None


def emoticon(s: State, pos: int) -> Result[Node]:
    """Emoticon = an entry of EMOTICONS, when the emoticons option is on"""
    if not s.emoticons or s.text[pos : pos + 2] not in EMOTICON_PREFIXES:
        return None
    pattern = _EMOTICON_BY_FIRST_CHAR.get(s.text[pos])
    match = pattern.match(s.text, pos) if pattern else None
    if match is None:
        return None
    found = match.group(0)
    return nodes.emoticon(found, _SHORTCODES[found]), match.end()


def _blanks(s: State, pos: int) -> int:
    blanks = BLANKS.match(s.text, pos)
    return blanks.end() if blanks else pos


def big_emoji(s: State, pos: int) -> Result[list[Node]]:
    """BigEmoji = blanks (Emoji / Emoticon blanks){1,3}, covering the whole message"""
    found: list[Node] = []
    pos = _blanks(s, pos)
    while len(found) < 3:
        item = emoji(s, pos) or emoticon(s, pos)
        if item is None:
            break
        found.append(item[0])
        pos = _blanks(s, item[1])
    if not found:
        return None
    return [nodes.typed("BIG_EMOJI", found)], pos

"""Links: markdown and Slack-style references, and images, with the guards that keep them linear.

Rules (Target: see urls.py):
    Reference  = "[" Title* "](" Target ")" / "<" Target "|" Label ">"
    Image      = "![" Line? "](" Target ")"
"""

from __future__ import annotations

import re

from app.markdown import nodes, urls
from app.markdown.state import Flag, Memo, Node, Result, Scanned, State, unnested
from app.markdown.text import line, reduce_plain_texts, whitespace
from app.markdown.urls import BLANK, could_start_url

CLOSING_BRACKET = re.compile(r"\]")
SLACK_LABEL = re.compile(r"[ -;=?-{}-\uffff]++")
TITLE_STOP = re.compile(r"[\]()*_~ \t\r\n]")
_TITLE_STOPS = frozenset("]()*_~ \t\r\n")
# Title text runs joined by blanks, read in one step: no emphasis opens at a run's start (it
# needs "*", "_" or "~" there, or letters and then "_" for `word_`, which the lookahead rules
# out), so the items would be these runs and blanks, merged into this one text.
TITLE_WORDS = re.compile(r"(?:[^\]()*_~ \t\r\n]++[ \t]++)*[^\]()*_~ \t\r\n]++(?!_)")


def _closing_target(s: State, pos: int) -> Result[str | None]:
    """`urls.target` after a "](", cached: it depends on the position only, and both
    `last_link_closer` and the link whose title ends there read it."""
    targets = s.targets
    if pos in targets:
        found: Result[str | None] = targets[pos]
        return found
    found = targets[pos] = urls.target(s, pos)
    return found


def _href(s: State, pos: int, target: tuple[str | None, int]) -> str:
    """The href of the target `urls.target` read from `pos`."""
    href, stop = target
    return s.text[pos:stop] if href is None else href


def _title_words_end(s: State, pos: int) -> int:
    """Where TITLE_WORDS matched at `pos` ends (pos: no match).

    Each "[" of a long run starts a title, so the words would be read again from every one of
    them to the same end: quadratic in the run. A match from `pos` ends where the last one did
    when `pos` is a character of it that is not a blank (the runs and blanks after it are the
    same, and so is what decides the end), so the last match is kept, as `next_of` keeps its
    answers."""
    last = s.scans.get(TITLE_WORDS)
    if last is not None and last.start < pos < last.end and s.text[pos] not in BLANK:
        return last.answer
    words = TITLE_WORDS.match(s.text, pos)
    if words is None:
        return pos
    s.scans[TITLE_WORDS] = Scanned(pos, words.end(), words.end(), 0)
    return words.end()


def _link_title(s: State, pos: int) -> Result[Node]:
    """Title = blanks / Emphasis / text / one character that does not close the title"""
    text = s.text
    if pos >= s.length:
        return None
    end = _title_words_end(s, pos)
    if end > pos:
        return nodes.plain(text[pos:end]), end
    if text[pos] in BLANK:
        return whitespace(s, pos)
    if text[pos] in _EMPHASIS_STARTS:
        found = s.emphasis(pos)
        if found:
            return found
    if text[pos] not in _TITLE_STOPS:
        run_end = s.span(TITLE_STOP, pos)
        return nodes.plain(text[pos:run_end]), run_end
    if text.startswith("](", pos) and pos + 2 < s.length:
        return None
    if text.startswith("] [", pos):
        close = s.next_of(CLOSING_BRACKET, pos + 3)
        if close >= 0 and text.startswith("](", close):
            return None
    return nodes.plain(text[pos]), pos + 1


# Where an emphasis may start: a marker, or the letters of `word_` (text, not italic).
_EMPHASIS_STARTS = frozenset("*_~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


# How many of a message's "](" `last_link_closer` tries, from the last one back.
_CLOSERS_TRIED = 8


def last_link_closer(s: State) -> int:
    """Where the message's last "](" that a Target and ")" follow starts (-1: none).

    A title ends at a "](" and the reference then needs a Target and ")" there, which do not
    depend on where the title began nor on the flags: a "[" or "![" after the last such "]("
    opens no link, and its title need not be read. Without this, every "[" of a message whose
    only "](" takes no target (`[y](z)`) read its title to that "](" once per combination of
    open emphases: some 300 calls a character. Only the last few are tried (each may read a
    long target; a "](" before a character no target starts with is passed over for free):
    past them a "](" is taken to close, which only costs the reads it saves."""
    if s.link_closer is None:
        text, length = s.text, s.length
        at = text.rfind("](")
        tries = _CLOSERS_TRIED
        while at >= 0:
            if at + 2 < length and could_start_url(text[at + 2]):
                if not tries:
                    break
                tries -= 1
                target = _closing_target(s, at + 2)
                if target is not None and text.startswith(")", target[1]):
                    break
            at = text.rfind("](", 0, at)  # "](" cannot overlap itself
        s.link_closer = at
    return s.link_closer


LINK_CLOSER = re.compile(r"\]\(")
_MARKERS = "*_~"


def _fails_at_first_closer(s: State, pos: int) -> bool:
    """Whether the "[" at `pos` opens no link whatever emphases are open around it.

    A title stops at a "](" unless an emphasis item of the title spans it, and such an item
    ends with a "*", "_" or "~" after the "](" (its closing marker; only letters may follow
    that). So when the first "](" after the "[" takes no target and ")" and no marker follows
    it, the title ends there or earlier under any flags and the link fails. Found this way
    once per "[", instead of reading the title up to that "](" once per combination of open
    emphases (the memo of the title is keyed by them) to fail there each time. The answer
    depends on that "](" only, so it is kept for it: a run of "[" shares one first closer."""
    first = s.next_of(LINK_CLOSER, pos + 1)
    if first < 0:
        return True
    fails = s.closer_fails.get(first)
    if fails is None:
        fails = s.closer_fails[first] = _closer_fails(s, first)
    return fails


def _closer_fails(s: State, first: int) -> bool:
    """`_fails_at_first_closer` for a "[" whose first "](" is at `first`."""
    after = first + 2
    if any(s.occurs_after(marker, after) for marker in _MARKERS):
        return False
    target = _closing_target(s, after)
    return target is None or not s.text.startswith(")", target[1])


def _bracket_reference(s: State, pos: int) -> Result[Node]:
    """ "[" Title* "](" Target ")": the title must end at a "](" that a target follows, so
    without one ahead there is no reference and the title is not read at all."""
    if not s.text.startswith("[", pos) or last_link_closer(s) < pos + 1:
        return None
    if _fails_at_first_closer(s, pos):
        return None
    end = s.repeat_end(Memo.LINK_TITLE, _link_title, pos + 1)
    if not s.text.startswith("](", end):
        return None
    target = _closing_target(s, end + 2)
    if target is None or not s.text.startswith(")", target[1]):
        return None
    href = _href(s, end + 2, target)
    title = s.collect(Memo.LINK_TITLE, _link_title, pos + 1, end)
    label = reduce_plain_texts(title) if title else None
    return nodes.link(href, label), target[1] + 1


# What no part of a Slack-style target holds: a host's characters exclude them all (a host
# ends at a blank, a line end, "\\" or "|", even after the "_" or "-" that takes the next
# character), a body stops at each, and a scheme, user info, port or phone has none. So the
# target from a "<" ends at the first of these at the latest, and the link needs a "|" there.
_ANGLE_TARGET_STOP = re.compile(r"[ \t\r\n\\|]")
# The same answer when the "|" is close (most Slack links), in one short match; a longer run
# is left to `next_of`, whose kept answer keeps a long run of "<" linear.
_NEAR_BAR = re.compile(r"[^ \t\r\n\\|]{1,63}+\|")


def _angle_reference(s: State, pos: int) -> Result[Node]:
    """ "<" Target "|" Label ">": not tried without a ">" ahead and a "|" as the first of
    `_ANGLE_TARGET_STOP` after the "<" (a run of `<t:` read a target at every "<" otherwise,
    to fail at the blank that ends it)."""
    text = s.text
    if not text.startswith("<", pos) or not s.occurs_after(">", pos + 1):
        return None
    last = s.scans.get(_ANGLE_TARGET_STOP)  # `next_of`'s kept answer, when it holds here
    if last is not None and last.start <= pos + 1 <= last.end:
        if last.answer < pos + 2 or text[last.answer] != "|":
            return None
    elif not _NEAR_BAR.match(text, pos + 1):
        stop = s.next_of(_ANGLE_TARGET_STOP, pos + 1)  # kept per message: linear in a run
        if stop < pos + 2 or text[stop] != "|":
            return None
    target = urls.target(s, pos + 1, angle=True)
    if target is None or not s.text.startswith("|", target[1]):
        return None
    label = SLACK_LABEL.match(s.text, target[1] + 1)
    if not label or not s.text.startswith(">", label.end()):
        return None
    href = _href(s, pos + 1, target)
    return nodes.link(href, [nodes.plain(label.group(0))]), label.end() + 1


# A reference of either form; none may open inside another.
bracket_reference = unnested(Flag.LINK, _bracket_reference, "[")
angle_reference = unnested(Flag.LINK, _angle_reference, "<")


def image(s: State, pos: int) -> Result[Node]:
    """Image = "![" Line? "](" Target ")" """
    if not s.text.startswith("![", pos) or last_link_closer(s) < pos + 2:
        return None
    end = pos + 2
    title = line(s, end)
    if title:
        end = title[1]
    if not s.text.startswith("](", end):
        return None
    target = _closing_target(s, end + 2)
    if target is None or not s.text.startswith(")", target[1]):
        return None
    href = _href(s, end + 2, target)
    return nodes.image(href, title[0] if title else None), target[1] + 1

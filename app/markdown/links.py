"""Links: markdown and Slack-style references, images, and autolinked URLs, emails and phones.

Rules (U is a URL: scheme "//" [user[:pass]@] host, or a bare host; host is a domain name,
"localhost" or a dotted quad, with an optional port):
    Reference  = "[" Title* "](" Target ")" / "<" Target "|" Label ">"
    Image      = "![" Line? "](" Target ")"
    Target     = U Body* / scheme Body+ / Phone          (the body stops at blanks and ")")
    AutoURL    = U Tail*        linked when its host has a public suffix (see domains.py)
    AutoEmail  = "mailto:"? Local "@" Domain
    Phone      = "+" digits, with an optional "(area)" and one "-"; linked from 5 digits up
"""

from __future__ import annotations

import re

from app.markdown import domains, nodes
from app.markdown.state import Flag, Memo, Node, Result, State, unnested
from app.markdown.text import line, reduce_plain_texts, whitespace
from app.markdown.unicode_classes import ALNUM_OR_MARK_CHAR

EXTRA = frozenset(".,!%~*\"':;()=")  # the reference's "Extra": punctuation a URL may not end in
LINK_EXTRA = frozenset(".,!%*\"':;=")
SAFE = frozenset("$@&+_#?-")
BLANK = frozenset(" \t")
LINE_END = frozenset("\r\n")
NOT_IN_HOST = frozenset("\r\n \t\\/|><%`[]")

SCHEME = re.compile(r"[A-Za-z0-9+\-]{1,32}+:")
USER_INFO = re.compile(r"[A-Za-z0-9$&+_#?\-]++(?::[A-Za-z0-9$&+_#?\-]++)?+@")
DOTTED_QUAD = re.compile(r"[0-9]++(?:\.[0-9]++){3}+")
PORT = re.compile(r":[0-9]++")
DIGITS = re.compile(r"[0-9]++")
LOCAL_PART = re.compile(
    f"(?:[{ALNUM_OR_MARK_CHAR}]++[!#$%&'*+/=?^_`{{|}}~\\-]*+)++"
    f"(?:\\.(?:[{ALNUM_OR_MARK_CHAR}]++[!#$%&'*+/=?^_`{{|}}~\\-]*+)++)*+@"
)
LOCAL_START = re.compile(f"[{ALNUM_OR_MARK_CHAR}]")
CLOSING_BRACKET = re.compile(r"\]")
SLACK_LABEL = re.compile(r"[ -;=?-{}-\uffff]++")
TITLE_STOP = re.compile(r"[\]()*_~ \t\r\n]")
_TITLE_STOPS = frozenset("]()*_~ \t\r\n")
# Title text runs joined by blanks, read in one step: no emphasis opens at a run's start (it
# needs "*", "_" or "~" there, or letters and then "_" for `word_`, which the lookahead rules
# out), so the items would be these runs and blanks, merged into this one text.
TITLE_WORDS = re.compile(r"(?:[^\]()*_~ \t\r\n]++[ \t]++)*[^\]()*_~ \t\r\n]++(?!_)")
HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,31}://")
URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file"})


# Characters a link target may hold (the reference's classes, by code unit): any from " " up
# but these. A set test per character: a target is read a character at a time.
_NOT_TARGET = frozenset("()\\|\x7f")
_NOT_ANGLE = frozenset(")\\|\x7f")


def _domain_char(s: State, pos: int) -> int:
    """DomainChar; `_` and `-` take the character after them too, as the reference's do."""
    text, length = s.text, s.length
    if pos >= length:
        return -1
    char = text[pos]
    if char.isascii() and char.isalnum():
        return pos + 1
    if char in EXTRA:
        return -1
    if char in "_-":
        pos += 1
    elif char in SAFE:
        return -1
    if pos >= length or text[pos] in NOT_IN_HOST:
        return -1
    return pos + 1


def could_start_url(char: str) -> bool:
    """Whether a URL may start with `char`: a scheme's or a host's first character (a host
    never starts with "_", and "+" only starts a scheme)."""
    return char in "+-" or not (char in EXTRA or char in SAFE or char in NOT_IN_HOST)


def _domain_step(s: State, pos: int) -> Result[None]:
    end = _domain_char(s, pos)
    return (None, end) if end >= 0 else None


def _label(s: State, pos: int) -> int:
    """Label = DomainChar+ ("-" DomainChar+)*; a DomainChar already takes any "-" that a
    DomainChar could follow, so this is DomainChar+ (its end memoized for linear time)."""
    end = s.repeat_end(Memo.DOMAIN_CHARS, _domain_step, pos)
    return end if end > pos else -1


# A label of letters and digits that ends at a character no label goes on with and that is
# not its ".": no domain name (most words a target or URL is tried at). Bounded, so that a
# long word costs no more than the memoized `_label`.
_LABEL_ENDS = re.escape("".join(sorted((EXTRA | SAFE | NOT_IN_HOST) - frozenset("._-"))))
_LABEL_WITHOUT_DOT = re.compile(f"[A-Za-z0-9]{{1,63}}+(?:[{_LABEL_ENDS}]|\\Z)")


def domain_name(s: State, pos: int) -> int:
    """DomainName = "localhost" / !"_" Label ("." DomainChar Label*)+"""
    text = s.text
    if text.startswith("localhost", pos):
        return pos + 9
    if text.startswith("_", pos) or _LABEL_WITHOUT_DOT.match(text, pos):
        return -1
    end = _label(s, pos)
    if end < 0:
        return -1
    dots = 0
    while text.startswith(".", end):
        step = _label(s, end + 1)
        if step < 0:
            break
        end = step
        dots += 1
    return end if dots else -1


def host(s: State, pos: int) -> int:
    """Host = (DomainName / digits "." digits "." digits "." digits) (":" digits)?"""
    end = domain_name(s, pos)
    if end < 0:
        match = DOTTED_QUAD.match(s.text, pos)
        if not match:
            return -1
        end = match.end()
    port = PORT.match(s.text, end)
    return port.end() if port else end


def _scheme(s: State, pos: int) -> int:
    match = SCHEME.match(s.text, pos)
    return match.end() if match else -1


def _scheme_and_authority(s: State, pos: int) -> int:
    """scheme "//" userinfo? Host, or a bare Host"""
    end = _scheme(s, pos)
    if end >= 0 and s.text.startswith("//", end):
        user = USER_INFO.match(s.text, end + 2)
        after = host(s, user.end() if user else end + 2)
        if after >= 0:
            return after
    return host(s, pos)


def _trailing(s: State, pos: int, chars: frozenset[str], *, end_counts: bool) -> tuple[bool, int]:
    """Is the run of `chars` at `pos` trailing punctuation (followed by a blank, a line end or,
    when `end_counts`, the end of the text)? Also where the run ends, so that callers walking
    through it ask once per run, not once per character."""
    text, length = s.text, s.length
    end = pos
    while end < length and text[end] in chars:
        end += 1
    if end >= length:
        return end_counts, end
    return text[end] in BLANK or text[end] in LINE_END, end


def _autolink_tail(s: State, pos: int) -> int:
    """Tail*: anything up to a blank, punctuation at the very end excluded."""
    text, length = s.text, s.length
    while pos < length:
        char = text[pos]
        if char in BLANK or char in LINE_END:
            break
        if char not in EXTRA:
            pos += 1
            continue
        trailing, run_end = _trailing(s, pos, EXTRA, end_counts=True)
        if trailing:
            break
        pos = run_end
    return pos


def _target_body(s: State, pos: int) -> int:
    """Body* of a markdown link target: no blanks, parentheses only balanced."""
    text, length = s.text, s.length
    checked_until = pos
    while pos < length:
        char = text[pos]
        if char in BLANK:
            break
        if char in LINK_EXTRA and pos >= checked_until:
            trailing, checked_until = _trailing(s, pos, LINK_EXTRA, end_counts=False)
            if trailing:
                break
        if char == ")":
            break
        if char >= " " and char not in _NOT_TARGET:
            pos += 1
            continue
        if char != "(":
            break
        inner = pos + 1
        while inner < length:
            inner_char = text[inner]
            if inner_char in BLANK or inner_char in LINE_END or inner_char == ")":
                break
            if inner_char < " " or inner_char in _NOT_ANGLE:
                break
            inner += 1
        if not text.startswith(")", inner):
            break
        pos = inner + 1
    return pos


def _angle_body(s: State, pos: int) -> int:
    """Body* of a Slack-style target `<url|label>`.

    Whether the body stops at a position does not depend on where it started, so an answer
    holds for every start between the one asked and the stop found: kept, it makes a run of
    `<t:` (each a scheme opening a body that runs to the end) linear."""
    last = s.scans.get(_angle_body)
    if last is not None and last[0] <= pos <= last[1]:
        return last[2]
    end = _read_angle_body(s, pos)
    s.scans[_angle_body] = (pos, end, end, 0)
    return end


def _read_angle_body(s: State, pos: int) -> int:
    text, length = s.text, s.length
    checked_until = pos
    while pos < length:
        char = text[pos]
        if char in BLANK:
            break
        if char in EXTRA and pos >= checked_until:
            trailing, checked_until = _trailing(s, pos, EXTRA, end_counts=True)
            if trailing:
                break
        if char < " " or char in _NOT_ANGLE:
            break
        pos += 1
    return pos


def _target(s: State, pos: int, *, angle: bool = False) -> Result[str | None]:
    """Target = U Body* / scheme Body+ / Phone -> (a phone's href, or None for the text read,
    which `_href` cuts once the rule around has matched: a run of `<t:` reads a target to
    the end of the run from every "<", and copying each would be quadratic)"""
    if pos >= s.length or not could_start_url(s.text[pos]):
        return None  # each form starts as a URL may ("+" too: a phone)
    read_body = _angle_body if angle else _target_body
    end = _scheme_and_authority(s, pos)
    if end >= 0:
        return None, read_body(s, end)
    end = _scheme(s, pos)
    if end >= 0:
        stop = read_body(s, end)
        if stop > end:
            return None, stop
    number = phone(s, pos)
    if number:
        (_, digits), stop = number
        return f"tel:{digits}", stop
    return None


def _closing_target(s: State, pos: int) -> Result[str | None]:
    """`_target` after a "](", cached: it depends on the position only, and both
    `last_link_closer` and the link whose title ends there read it."""
    targets = s.targets
    if pos in targets:
        found: Result[str | None] = targets[pos]
        return found
    found = targets[pos] = _target(s, pos)
    return found


def _href(s: State, pos: int, target: tuple[str | None, int]) -> str:
    """The href of the target `_target` read from `pos`."""
    href, stop = target
    return s.text[pos:stop] if href is None else href


def phone(s: State, pos: int) -> Result[tuple[str, str]]:
    """Phone = "+" (Prefix "-" digits / Prefix digits "-" digits / Prefix digits / digits)"""
    text = s.text
    if not text.startswith("+", pos):
        return None
    start = pos + 1

    def prefix(at: int) -> tuple[str, str, int] | None:
        digits = DIGITS.match(text, at)
        if digits:
            return digits.group(0), digits.group(0), digits.end()
        if text.startswith("(", at):
            inner = DIGITS.match(text, at + 1)
            if inner and text.startswith(")", inner.end()):
                return f"({inner.group(0)})", inner.group(0), inner.end() + 1
        return None

    found = prefix(start)
    if found:
        shown, number, end = found
        if text.startswith("-", end) and (tail := DIGITS.match(text, end + 1)):
            return ("+" + shown + "-" + tail.group(0), number + tail.group(0)), tail.end()
        middle = DIGITS.match(text, end)
        if middle:
            last = (
                DIGITS.match(text, middle.end() + 1) if text.startswith("-", middle.end()) else None
            )
            if last:
                digits = number + middle.group(0) + last.group(0)
                return ("+" + shown + middle.group(0) + "-" + last.group(0), digits), last.end()
            return ("+" + shown + middle.group(0), number + middle.group(0)), middle.end()
    plain_digits = DIGITS.match(text, start)
    if plain_digits:
        return ("+" + plain_digits.group(0), plain_digits.group(0)), plain_digits.end()
    return None


def autolinked_phone(s: State, pos: int) -> Result[Node]:
    found = phone(s, pos)
    if found is None:
        return None
    (shown, number), end = found
    if len(number) < 5:
        return nodes.plain(shown), end
    return nodes.link(f"tel:{number}", [nodes.plain(shown)]), end


def _title_words_end(s: State, pos: int) -> int:
    """Where TITLE_WORDS matched at `pos` ends (pos: no match).

    Each "[" of a long run starts a title, so the words would be read again from every one of
    them to the same end: quadratic in the run. A match from `pos` ends where the last one did
    when `pos` is a character of it that is not a blank (the runs and blanks after it are the
    same, and so is what decides the end), so the last match is kept, as `next_of` keeps its
    answers."""
    last = s.scans.get(TITLE_WORDS)
    if last is not None and last[0] < pos < last[1] and s.text[pos] not in BLANK:
        return last[1]
    words = TITLE_WORDS.match(s.text, pos)
    if words is None:
        return pos
    s.scans[TITLE_WORDS] = (pos, words.end(), words.end(), 0)
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
    if last is not None and last[0] <= pos + 1 <= last[1]:
        if last[2] < pos + 2 or text[last[2]] != "|":
            return None
    elif not _NEAR_BAR.match(text, pos + 1):
        stop = s.next_of(_ANGLE_TARGET_STOP, pos + 1)  # kept per message: linear in a run
        if stop < pos + 2 or text[stop] != "|":
            return None
    target = _target(s, pos + 1, angle=True)
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


def _can_parse_url(url: str) -> bool:
    """Roughly WHATWG's URL.canParse: a scheme, and for web schemes a host after it."""
    match = URL_SCHEME.match(url)
    if not match:
        return False
    if match.group(1).lower() not in SPECIAL_SCHEMES:
        return True
    rest = url[match.end() :].lstrip("/\\")
    return bool(rest) and rest[0] not in "?#"


def autolinked_url(s: State, pos: int) -> Result[Node]:
    """AutoURL = U Tail*, when the host is a known one"""
    end = _scheme_and_authority(s, pos)
    if end < 0:
        return None
    end = _autolink_tail(s, end)
    url = s.text[pos:end]
    if not domains.url_links(url, s.custom_domains):
        return nodes.plain(url), end
    linked = (
        url if _can_parse_url(url) or url.startswith("//") or HAS_SCHEME.match(url) else f"//{url}"
    )
    return nodes.link(linked, [nodes.plain(url)]), end


def autolinked_email(s: State, pos: int) -> Result[Node]:
    """AutoEmail = "mailto:"? Local "@" Domain"""
    start = pos + 7 if s.text.startswith("mailto:", pos) else pos
    local = LOCAL_PART.match(s.text, start)
    if not local:
        return None
    end = domain_name(s, local.end())
    if end < 0:
        return None
    address = s.text[start:end]
    if domains.email_links(address):
        return nodes.link(f"mailto:{address}", [nodes.plain(address)]), end
    return nodes.plain(address), end

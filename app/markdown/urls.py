"""URLs: hosts, schemes, link targets, phones, and the URLs, addresses and phones autolinked.

Rules (U is a URL: scheme "//" [user[:pass]@] host, or a bare host; host is a domain name,
"localhost" or a dotted quad, with an optional port):
    Target     = U Body* / scheme Body+ / Phone          (the body stops at blanks and ")")
    AutoURL    = U Tail*        linked when its host has a public suffix (see domains.py)
    AutoEmail  = "mailto:"? Local "@" Domain
    Phone      = "+" digits, with an optional "(area)" and one "-"; linked from 5 digits up
The scanners that return a position answer -1 for no match, as the `Result` rules answer None.
"""

from __future__ import annotations

import re

from app.markdown import domains, nodes
from app.markdown.state import Memo, Node, Result, Scanned, State
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
HAS_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]{0,31}://")
URL_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
SPECIAL_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp", "file"})


# Characters a link target's body may hold (the reference's classes, by code unit): any from
# " " up but these. A set test per character: a target is read a character at a time.
_NOT_IN_BODY = frozenset(")\\|\x7f")


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


def _body(s: State, pos: int, *, angle: bool) -> int:
    """Body* of a link target: up to a blank, a control character or one of `_NOT_IN_BODY`,
    trailing punctuation left out (a run of it before a blank or a line end; for a Slack
    target, of EXTRA and before the end too; for a markdown target, of LINK_EXTRA). In a
    markdown target "(" opens parentheses that must close before a blank; in a Slack one it
    is a character like any other."""
    extra, end_counts = (EXTRA, True) if angle else (LINK_EXTRA, False)
    text, length = s.text, s.length
    checked_until = pos
    while pos < length:
        char = text[pos]
        if char in BLANK:
            break
        if char in extra and pos >= checked_until:
            trailing, checked_until = _trailing(s, pos, extra, end_counts=end_counts)
            if trailing:
                break
        if char < " " or char in _NOT_IN_BODY:
            break
        if char != "(" or angle:
            pos += 1
            continue
        inner = pos + 1
        while inner < length:
            inner_char = text[inner]
            if inner_char in BLANK or inner_char < " " or inner_char in _NOT_IN_BODY:
                break
            inner += 1
        if not text.startswith(")", inner):
            break
        pos = inner + 1
    return pos


def _angle_body(s: State, pos: int) -> int:
    """`_body` of a Slack-style target `<url|label>`.

    Whether that body stops at a position does not depend on where it started (no
    parentheses to balance), so an answer holds for every start between the one asked and
    the stop found: kept, it makes a run of `<t:` (each a scheme opening a body that runs to
    the end) linear."""
    last = s.scans.get(_angle_body)
    if last is not None and last.start <= pos <= last.end:
        return last.answer
    end = _body(s, pos, angle=True)
    s.scans[_angle_body] = Scanned(pos, end, end, 0)
    return end


def _markdown_body(s: State, pos: int) -> int:
    return _body(s, pos, angle=False)


def target(s: State, pos: int, *, angle: bool = False) -> Result[str | None]:
    """Target = U Body* / scheme Body+ / Phone -> (a phone's href, or None for the text read,
    which the link cuts once the rule around has matched: a run of `<t:` reads a target to
    the end of the run from every "<", and copying each would be quadratic)"""
    if pos >= s.length or not could_start_url(s.text[pos]):
        return None  # each form starts as a URL may ("+" too: a phone)
    read_body = _angle_body if angle else _markdown_body
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

"""Which hosts autolink: the public-suffix test the reference makes with `tldts`.

A URL or email links when its host ends in a known public suffix (ICANN or private section of
the Public Suffix List: `public_suffix_list.dat` here, the list of 2025-04-07, VERSION
2025-04-07_15-51-09_UTC in its header, which is the one the conformance corpora were checked
against), is an IP address (URLs only), or ends in
`localhost` or one of the configured custom domains. Host extraction and validation follow
tldts, quirks included (a `/` in an email's local part hides its domain, for instance).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import re
from collections.abc import Sequence

Trie = dict[str, "Trie"]
RULE = "\0"  # key marking a node that ends a rule
SUFFIX_LIST = "public_suffix_list.dat"
# A rule is a line's first word (comments start with "//", which this cannot match).
SUFFIX_RULE = re.compile(r"^([.*!]*\w\S*)", re.MULTILINE)


def _suffix_trie() -> Trie:
    """The Public Suffix List as a trie of labels, last label first; `*` is a wildcard."""
    listed = importlib.resources.files(__package__).joinpath(SUFFIX_LIST)
    root: Trie = {}
    for match in SUFFIX_RULE.finditer(listed.read_text(encoding="utf-8")):
        rule = match.group(1)
        if rule.startswith("!"):
            continue  # an exception only ever shortens a suffix its wildcard already knows
        forms = {rule}
        with contextlib.suppress(UnicodeError):
            forms.add(rule.encode("idna").decode("ascii"))
        for form in forms:
            node = root
            for label in reversed(form.split(".")):
                node = node.setdefault(label, {})
            node[RULE] = {}
    return root


SUFFIXES = _suffix_trie()  # built at import (~35 ms) so no message pays for it


def _known_suffix(labels: list[str]) -> bool:
    node: Trie | None = SUFFIXES
    found = False
    for label in reversed(labels):
        assert node is not None
        node = node.get(label, node.get("*"))
        if node is None:
            break
        found = found or RULE in node
    return found


def _hostname_char(code: int) -> bool:
    return 97 <= code <= 122 or 48 <= code <= 57 or code > 127


def is_valid_hostname(host: str) -> bool:
    """tldts' hostname check (lower-case letters, digits, `-`, `_`, dots, any non-ASCII)."""
    if not host or len(host) > 255:
        return False
    first = ord(host[0])
    if not _hostname_char(first) and first not in (46, 95):
        return False
    last_dot, previous = -1, -1
    for index, char in enumerate(host):
        code = ord(char)
        if code == 46:
            if index - last_dot > 64 or previous in (46, 45, 95):
                return False
            last_dot = index
        elif not _hostname_char(code) and code not in (45, 95):
            return False
        previous = code
    return len(host) - last_dot - 1 <= 63 and previous != 45


def extract_hostname(url: str) -> str | None:
    """The host of a URL-ish string, as tldts finds it."""
    start, end, upper = 0, len(url), False
    if is_valid_hostname(url):
        while end > start + 1 and url[end - 1] == ".":
            end -= 1
        return url[start:end]
    if url.startswith("data:"):
        return None
    while start < len(url) and ord(url[start]) <= 32:
        start += 1
    while end > start + 1 and ord(url[end - 1]) <= 32:
        end -= 1
    if url.startswith("//", start):
        start += 2
    else:
        scheme_end = url.find(":/", start)
        if scheme_end != -1:
            scheme = url[start:scheme_end].lower()
            if scheme not in ("https", "http", "wss", "ws") and not all(
                char.isascii() and (char.isalnum() or char in ".-+") for char in scheme
            ):
                return None
            start = scheme_end + 2
            while url.startswith("/", start):
                start += 1
    at, bracket, colon = -1, -1, -1
    for index in range(start, end):
        char = url[index]
        if char in "#/?":
            end = index
            break
        if char == "@":
            at = index
        elif char == "]":
            bracket = index
        elif char == ":":
            colon = index
        elif "A" <= char <= "Z":
            upper = True
    if at != -1 and start < at < end:
        start = at + 1
    if url.startswith("[", start):
        return url[start + 1 : bracket].lower() if bracket != -1 else None
    if colon != -1 and start < colon < end:
        end = colon
    while end > start + 1 and url[end - 1] == ".":
        end -= 1
    host = url[start:end]
    return host.lower() if upper else host


def _is_ipv4(host: str) -> bool:
    if not 7 <= len(host) <= 15 or host[0] == "." or host[-1] == ".":
        return False
    return all(char == "." or "0" <= char <= "9" for char in host) and host.count(".") == 3


def _is_ipv6(host: str) -> bool:
    if len(host) < 3:
        return False
    start = 1 if host.startswith("[") else 0
    end = len(host) - 1 if host.endswith("]") else len(host)
    if end - start > 39:
        return False
    body = host[start:end]
    allowed = all(
        char.isascii() and (char.isdigit() or char in ":abcdef" or char.isupper()) for char in body
    )
    return allowed and ":" in body


def _host_in(host: str, hosts: Sequence[str]) -> bool:
    return any(host == name or host.endswith("." + name) for name in hosts)


def url_links(url: str, custom_domains: Sequence[str]) -> bool:
    """Whether an autolink candidate becomes a link (else it stays plain text)."""
    host = extract_hostname(url)
    if host is None:
        return False
    if _is_ipv6(host) or _is_ipv4(host):
        return True
    if not is_valid_hostname(host):
        return False
    return _known_suffix(host.split(".")) or _host_in(host, ["localhost", *custom_domains])


def email_links(address: str) -> bool:
    """Whether an email address becomes a mailto: link."""
    host = extract_hostname(f"mailto:{address}")
    if host is None or not is_valid_hostname(host):
        return False
    return _known_suffix(host.split("."))

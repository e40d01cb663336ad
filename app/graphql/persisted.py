"""Automatic persisted queries, as Apollo Client's persisted-queries link speaks them.

A client first sends only `extensions.persistedQuery.sha256Hash`. If the document is known,
it runs; if not, the answer is `PERSISTED_QUERY_NOT_FOUND` (HTTP 200) and the client sends the
text with its hash once, which is checked and remembered in an LRU cache bounded by the bytes
of the texts it holds (a count of entries let 1,000 documents of a megabyte each stay). Both
request paths resolve documents here: the lean POST path (`app.graphql.lean`) and the edge's
middleware (`app.persisted_queries`) in front of Strawberry's view.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cachetools import LRUCache

from app.graphql.errors import Code

# The documents clients have registered (by digest), least recently used dropped first.
DocumentCache = LRUCache[str, str]
# What an entry costs beside its text: the digest key and the cache's own records.
ENTRY_BYTES = 200


def document_cache(max_bytes: int) -> DocumentCache:
    """An empty cache that holds at most `max_bytes` of texts (a character as a byte: texts
    are ASCII but for their strings; and Python keeps ASCII text a byte a character)."""
    return LRUCache(max_bytes, getsizeof=lambda text: ENTRY_BYTES + len(text))


class Refusal(Exception):
    """A persisted-query request answered with an error instead of run."""

    def __init__(self, status: int, message: str, code: Code) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def resolve(cache: DocumentCache, query: Any, extensions: Any) -> str | None:
    """The document to run, or None to leave the request as it is."""
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise Refusal(
            400, "Unsupported persisted query version.", Code.PERSISTED_QUERY_NOT_SUPPORTED
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str):
        raise Refusal(400, "The persisted query has no sha256Hash.", Code.BAD_REQUEST)
    if isinstance(query, str) and query:
        if hashlib.sha256(query.encode()).hexdigest() != digest.lower():
            raise Refusal(
                400, "The provided sha256Hash does not match the query.", Code.BAD_REQUEST
            )
        if ENTRY_BYTES + len(query) <= cache.maxsize:  # a larger one runs, but is not kept
            cache[digest.lower()] = query
        return query
    known = cache.get(digest.lower())
    if known is None:
        raise Refusal(200, "PersistedQueryNotFound", Code.PERSISTED_QUERY_NOT_FOUND)
    return known

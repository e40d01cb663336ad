"""Automatic persisted queries, as Apollo Client's persisted-queries link speaks them.

A client first sends only `extensions.persistedQuery.sha256Hash`. If the document is known,
it runs; if not, the answer is `PERSISTED_QUERY_NOT_FOUND` (HTTP 200) and the client sends the
text with its hash once, which is checked and remembered in a bounded LRU cache. Both request
paths resolve documents here: the lean POST path (`app.graphql.lean`) and the edge's middleware
(`app.persisted_queries`) in front of Strawberry's view.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cachetools import LRUCache

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"


# The documents clients have registered (by digest), least recently used dropped first.
DocumentCache = LRUCache[str, str]


class Refusal(Exception):
    """A persisted-query request answered with an error instead of run."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def resolve(cache: DocumentCache, query: Any, extensions: Any) -> str | None:
    """The document to run, or None to leave the request as it is."""
    if not isinstance(extensions, dict) or "persistedQuery" not in extensions:
        return None
    persisted = extensions["persistedQuery"]
    if not isinstance(persisted, dict) or persisted.get("version") != 1:
        raise Refusal(400, "Unsupported persisted query version.", "PERSISTED_QUERY_NOT_SUPPORTED")
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str):
        raise Refusal(400, "The persisted query has no sha256Hash.", "BAD_REQUEST")
    if isinstance(query, str) and query:
        if hashlib.sha256(query.encode()).hexdigest() != digest.lower():
            raise Refusal(400, "The provided sha256Hash does not match the query.", "BAD_REQUEST")
        cache[digest.lower()] = query
        return query
    known = cache.get(digest.lower())
    if known is None:
        raise Refusal(200, "PersistedQueryNotFound", NOT_FOUND)
    return known

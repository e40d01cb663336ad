"""A cap on the bytes of one answer, the same on every path that answers a GraphQL request.

The cost estimate (`app.graphql.cost`) bounds what a document may ask; what it gets depends on
the data (a page of 100 messages of 5,000 mentions each answers tens of megabytes). An answer
over the cap is replaced, whole, by a GraphQL error that says how large it was: a client never
receives a truncated body it cannot parse, and the bytes are never sent.
"""

from __future__ import annotations

import orjson

from app.graphql.errors import Code


def capped(body: bytes, max_bytes: int) -> bytes:
    """`body`, or the error that replaces it when it is over `max_bytes`."""
    if len(body) <= max_bytes:
        return body
    return orjson.dumps(
        {
            "data": None,
            "errors": [
                {
                    "message": f"The answer is {len(body)} bytes; at most {max_bytes}. Ask for "
                    "fewer items (a smaller limit) or fewer fields.",
                    "extensions": {
                        "code": Code.BAD_REQUEST,
                        "answerBytes": len(body),
                        "maxAnswerBytes": max_bytes,
                    },
                }
            ],
        }
    )

"""One error vocabulary: the failure classes are the only list, and what is derived from them
(the GraphQL enum, the drawing in base.py's docstring) says the same."""

from __future__ import annotations

import re

from app.backends import base
from app.graphql.errors import LivechatErrorCode


def test_the_drawn_tree_names_every_failure_with_its_code_and_id() -> None:
    doc = base.__doc__ or ""
    branch = doc[doc.index("── LivechatFailure") : doc.index("── BackendFailure")]
    drawn = {
        match.group(1): match.group(2)
        for match in re.finditer(r"[├└]── (\w+)\s+([A-Z_]+)\b", branch)
    }
    assert set(drawn) == {kind.__name__ for kind in base.FAILURES}
    for kind in base.FAILURES:
        assert drawn[kind.__name__] == kind.code, kind
        line = next(line for line in branch.splitlines() if f" {kind.__name__} " in line)
        assert kind.error in line, kind


def test_the_graphql_enum_is_the_set_of_codes() -> None:
    assert [member.name for member in LivechatErrorCode] == list(
        dict.fromkeys(kind.code for kind in base.FAILURES)
    )


def test_each_rocket_chat_id_has_one_class() -> None:
    ids = [kind.error for kind in base.FAILURES if kind.error]
    assert len(ids) == len(set(ids))
    assert base.FAILURE_BY_ERROR["error-action-not-allowed"] is base.ActionNotAllowed

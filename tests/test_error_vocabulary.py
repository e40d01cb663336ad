"""One error vocabulary: the failure classes are the only list, and what is derived from them
(the GraphQL enum, the drawing in base.py's docstring) says the same."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import app
from app.backends import base
from app.graphql.errors import ERROR_CODES, Code, LivechatErrorCode

APP = Path(app.__file__).parent


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


def test_the_codes_are_the_request_codes_and_every_failure_code() -> None:
    """24 codes of the core API, and the widget areas' own: the request-level `Code`s, the
    LivechatFailure codes and the BackendFailure codes (storage full or unavailable among
    them), which metrics label by."""
    family: list[type[base.BackendFailure]] = [
        base.BackendFailure,
        *subclasses(base.BackendFailure),
    ]
    backend = {kind.code for kind in family}
    assert {*Code, *(kind.code for kind in base.FAILURES), *backend} == ERROR_CODES
    assert {"STORAGE_FULL", "STORAGE_UNAVAILABLE", "NOT_FOUND", "METHOD_NOT_ALLOWED"} < ERROR_CODES
    # 24 of the core; the widget's config area adds 5 and its agents 2, its files 3.
    widget_codes = {
        "LIVECHAT_DISABLED",
        "INVALID_DEPARTMENT",
        "INVALID_EMAIL",
        "INVALID_CUSTOM_FIELD",
        "VISITOR_HAS_OPEN_ROOMS",
        "NO_AGENT",
        "NO_AGENT_ONLINE",
        "UPLOAD_DISABLED",
        "FILE_TOO_LARGE",
        "FILE_TYPE_NOT_ALLOWED",
    }
    assert widget_codes < ERROR_CODES
    assert len(ERROR_CODES) == 24 + len(widget_codes)


def subclasses(kind: type[base.BackendFailure]) -> list[type[base.BackendFailure]]:
    return [member for sub in kind.__subclasses__() for member in (sub, *subclasses(sub))]


def test_no_request_code_is_spelled_outside_the_vocabulary() -> None:
    """Every emitter names a `Code` member: no string literal in app/ spells a request code
    except the enum's own definition."""
    spelled = []
    for path in sorted(APP.rglob("*.py")):
        if path == APP / "graphql" / "errors.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in set(Code):
                spelled.append(f"{path.relative_to(APP)}:{node.lineno} {node.value}")
    assert spelled == []

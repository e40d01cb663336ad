"""The reference markdown parser, @rocket.chat/message-parser 0.32.0, in one Node process.

tests/clients/markdown-oracle/oracle.js answers one JSON line of cases with one JSON line of
trees, so a whole batch costs one round trip; `npm ci` installs the pinned parser from the
lockfile the first time.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from app.markdown import MarkdownSyntaxError, parse
from tests.helpers import ROOT, npm_ci

ORACLE = ROOT / "tests" / "clients" / "markdown-oracle"
NODE = shutil.which("node")
# The instant time-of-day timestamps land on, for both parsers.
NOW = datetime.fromisoformat("2025-07-22T00:00:00+00:00")

Case = tuple[str, dict[str, Any]]


class Reference:
    """The reference parser as a function of a batch of cases."""

    def __init__(self) -> None:
        npm_ci(ORACLE)
        assert NODE is not None
        self.process = subprocess.Popen(
            [NODE, "oracle.js"], cwd=ORACLE, text=True, encoding="utf-8",
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )  # fmt: skip

    def send(self, cases: Sequence[Case]) -> None:
        """Ask for a batch; the answer is read by `receive`, so our parser can work meanwhile.
        The whole batch is written before the oracle answers (it reads a line first)."""
        assert self.process.stdin is not None
        batch = [
            {"input": text, "options": options, "now": NOW.isoformat()} for text, options in cases
        ]
        self.process.stdin.write(json.dumps(batch) + "\n")
        self.process.stdin.flush()

    def receive(self) -> list[dict[str, Any]]:
        """Per case: {"ast": tree} or {"error": message}."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the reference oracle stopped (exit status {self.process.poll()})"
        answers: list[dict[str, Any]] = json.loads(line)
        return answers

    def answers(self, cases: Sequence[Case]) -> list[dict[str, Any]]:
        self.send(cases)
        return self.receive()

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


def ours(text: str, options: dict[str, Any]) -> dict[str, Any]:
    """Our parser's answer in the oracle's shape (an error where the reference throws)."""
    try:
        return {"ast": parse(text, options, now=NOW)}
    except MarkdownSyntaxError as error:
        return {"error": str(error)}


def agree(mine: dict[str, Any], reference: dict[str, Any]) -> bool:
    """Same tree, or both refuse the message (the messages differ, their kind is the same)."""
    return mine.get("ast") == reference.get("ast") and ("error" in mine) == ("error" in reference)


def minimise(text: str, differs: Callable[[list[str]], list[bool]]) -> str:
    """A shortest input that still `differs`, by delta debugging (Zeller's ddmin): drop ever
    smaller chunks while the difference stays, down to single characters, so that no one
    character of the answer can go. `differs` answers all the candidates of a step at once:
    one round trip to the reference per step."""
    chunks = 2
    while len(text) >= 2:
        size = -(-len(text) // chunks)
        parts = [text[i : i + size] for i in range(0, len(text), size)]
        subsets = [part for part in parts if part]
        complements = ["".join(parts[:i] + parts[i + 1 :]) for i in range(len(parts))]
        candidates = [c for c in subsets + complements if c and c != text]
        found = next(
            (c for c, bad in zip(candidates, differs(candidates), strict=True) if bad), None
        )
        if found is not None:
            text = found
            chunks = 2 if found in subsets else max(chunks - 1, 2)
        elif chunks >= len(text):
            break
        else:
            chunks = min(chunks * 2, len(text))
    return text

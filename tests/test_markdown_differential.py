"""Our parser against the reference itself, on messages generated afresh each run.

The corpora hold fixed answers; a shortcut can be right on all of them and wrong on a message
they lack. Here @rocket.chat/message-parser 0.32.0 runs next to our parser on 20,000 generated
messages (tests/markdown_messages.py: every construct, glued together, in every combination of
the options), fed in batches to one Node process. The seed is printed; `--markdown-seed N`
repeats a run (also through PYTEST_ADDOPTS) and `--markdown-messages` changes its size. A
difference fails with the message cut down by delta debugging to the shortest input that still
differs, and both trees. A difference found goes into
tests/fixtures/markdown/regressions.expected.jsonl, whose answers are checked against the
reference here too.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.markdown_messages import generate
from tests.markdown_reference import Case, Reference, agree, minimise, ours
from tests.test_markdown_conformance import FIXTURES

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="needs Node 20 and npm on PATH",
)
BATCH = 1000
SHOWN = 5  # differences minimised and shown when the test fails


@pytest.fixture(scope="module")
def reference() -> Iterator[Reference]:
    oracle = Reference()
    yield oracle
    oracle.close()


def differs(reference: Reference, options: dict[str, Any]) -> Callable[[list[str]], list[bool]]:
    """Which of some texts the two parsers answer differently, under `options`."""

    def check(texts: list[str]) -> list[bool]:
        answers = reference.answers([(text, options) for text in texts])
        return [
            not agree(ours(text, options), answer)
            for text, answer in zip(texts, answers, strict=True)
        ]

    return check


def fewest_options(reference: Reference, text: str, options: dict[str, Any]) -> dict[str, Any]:
    """`options` without each setting the difference does not need."""
    for key in ("emoticons", "colors", "customDomains", "katex"):
        if options.get(key):
            fewer = {name: value for name, value in options.items() if name != key}
            if differs(reference, fewer)([text]) == [True]:
                options = fewer
    return options


def report(reference: Reference, case: Case) -> str:
    text, options = case
    options = fewest_options(reference, text, options)
    short = minimise(text, differs(reference, options))
    answer = reference.answers([(short, options)])[0]
    return "\n".join(
        [
            f"generated {json.dumps(text, ensure_ascii=False)}",
            f"minimised {json.dumps(short, ensure_ascii=False)}, options {json.dumps(options)}",
            f"  ours      {json.dumps(ours(short, options), ensure_ascii=False)}",
            f"  reference {json.dumps(answer, ensure_ascii=False)}",
        ]
    )


# Both parsers over 20,000 messages: about half a minute on an idle 2-core machine, a few
# minutes on a busy one, so more than the suite's 300 s is allowed before a hang is called.
@pytest.mark.timeout(900)
def test_generated_messages_parse_as_the_reference_parses_them(
    reference: Reference, request: pytest.FixtureRequest, capsys: pytest.CaptureFixture[str]
) -> None:
    seed: int = request.config.getoption("--markdown-seed")
    count: int = request.config.getoption("--markdown-messages")
    with capsys.disabled():
        print(f"\nmarkdown differential: {count} messages, --markdown-seed {seed}")
    cases = list(generate(seed, count))
    differing: list[Case] = []
    for start in range(0, len(cases), BATCH):
        batch = cases[start : start + BATCH]
        reference.send(batch)  # the reference parses the batch while ours does
        mine = [ours(text, options) for text, options in batch]
        answers = reference.receive()
        differing += [
            case
            for case, my_answer, answer in zip(batch, mine, answers, strict=True)
            if not agree(my_answer, answer)
        ]
    if differing:
        reports = [report(reference, case) for case in differing[:SHOWN]]
        pytest.fail(
            f"{len(differing)} of {count} messages parse differently from the reference "
            f"(--markdown-seed {seed} repeats the run):\n\n" + "\n\n".join(reports)
        )


def test_the_regression_fixtures_hold_the_references_answers(reference: Reference) -> None:
    """The answers the shortcuts are held to are the reference's, not a copy of ours."""
    lines = (FIXTURES / "regressions.expected.jsonl").read_text().splitlines()
    cases = [json.loads(line) for line in lines]
    answers = reference.answers([(case["input"], case["options"]) for case in cases])
    assert [answer.get("ast") for answer in answers] == [case["expected"] for case in cases]


def test_a_difference_is_cut_down_to_the_shortest_message_that_shows_it() -> None:
    """What a failure shows: the generated message cut down to the characters it needs."""
    asked: list[int] = []

    def shows(texts: list[str]) -> list[bool]:
        asked.append(len(texts))
        return ["_" in text and ":/" in text.split("_", 1)[1] for text in texts]

    message = "x *y* _ :/ :/ :l: h_e ~z~ [t](u.io)"
    assert minimise(message, shows) == "_:/"
    assert len(asked) < len(message)  # a batch per step, not a round trip per candidate

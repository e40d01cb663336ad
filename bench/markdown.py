"""Markdown speed: our parser against @rocket.chat/message-parser on the same messages, same run.

    python bench/markdown.py [--rounds 3] [--seed 2] [--fuzz 3000] [--worst-rounds 5] [--check]
                             [--adversarial-only] [--ours-only]

Suites: the conformance corpora in tests/fixtures/markdown/, a fresh sample of generated chat
messages (bench/markdown_fuzz.py, seeded: a parser tuned on dev-fuzz must hold on the next
sample too), and an adversarial set of 5,000-character messages (runs of each delimiter,
nested and unclosed openers, prefixes, long URLs, emoji, timestamps, KaTeX; some again with
the closers at the end, and with links that close there). Each suite is
timed for us and, when Node is available, for the reference (bench/reference, installed with
`npm ci` on first use), in the same run. Messages per second are the best of --rounds passes;
the worst message is the slowest one when each is timed best of its passes (the adversarial
messages best of --worst-rounds), so a busy machine inflates it less; "ours cpu ms" is the
same in CPU time of this process, which other processes on a shared machine do not inflate.
--check also compares our trees with the reference's on the fresh sample and prints how many
differ. --adversarial-only skips the corpora and the fresh sample, --ours-only the reference
(both for quick looks while working on the parser; report full runs).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from markdown_fuzz import generate

from app.markdown import MarkdownSyntaxError, parse

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "markdown"
REFERENCE = ROOT / "bench" / "reference"
CORPORA = ("public-cases", "public-emoji", "dev-fuzz")
LENGTH = 5000
OPTIONS = {
    "colors": True,
    "emoticons": True,
    "katex": {"dollarSyntax": True, "parenthesisSyntax": True},
}


def _repeat(unit: str) -> str:
    return (unit * (LENGTH // len(unit) + 1))[:LENGTH]


ADVERSARIAL: dict[str, str] = {
    **{f"run of {char!r}": _repeat(char) for char in "*_~`|[]()<>:@#\\$!-+= \t\n"},
    "nested **_~~": _repeat("**_~~"),
    "nested [[*_": _repeat("[[*_"),
    "alternating *a_": _repeat("*a_"),
    "alternating _a*": _repeat("_a*"),
    "mixed markup": _repeat("*_~[|`<"),
    "unclosed bolds": _repeat("**a "),
    "unclosed links": _repeat("[a]("),
    "unclosed slack links": _repeat("<a|"),
    "images": _repeat("!["),
    "spoilers": _repeat("||a"),
    "snake words": _repeat("a_"),
    "quote prefixes": _repeat("> "),
    "quote lines": _repeat("> a\n"),
    "list prefixes": _repeat("- "),
    "task prefixes": _repeat("- [ ] "),
    "ordered prefixes": _repeat("1. "),
    "list lines": _repeat("- a\n"),
    "table rows": _repeat("| a "),
    "code fences": _repeat("```\n"),
    "long URL": "https://example.com/" + "a" * (LENGTH - 20),
    "dotted host": "https://" + _repeat("a.")[8:],
    "long email": _repeat("a.")[:-6] + "@x.com",
    "emoji shortcodes": _repeat(":smile:"),
    "unclosed shortcodes": _repeat(":a"),
    "emoticons": _repeat(":) "),
    "unicode emoji": _repeat("😀"),
    "timestamps": _repeat("<t:1630360800:f>"),
    "unclosed timestamps": _repeat("<t:"),
    "katex parentheses": _repeat("\\("),
    "katex dollars": _repeat("$"),
    "katex blocks": _repeat("\\["),
    "bold words": _repeat("*a* "),
    "italic words": _repeat("_a_ "),
    "nested words": _repeat("**a _b_ ~c~** "),
    "links": _repeat("[a](http://b.com) "),
    "mentions": _repeat("@a #b "),
    "colours": _repeat("color:#fff "),
    "phones": _repeat("+1234 "),
}
# The same openers with every closer a rule looks ahead for at the end ("@", ".", "#", ">",
# "]("), so that no rule is ruled out for the whole message: each opener is then tried.
CLOSERS = " see a.b@c.de #x > [y](z)"
# And with links that do close there (a "](" and a "|" that a target comes before), so that
# no link is ruled out either.
LINKED = CLOSERS + " [y](a.bc) <a.bc|y>"
_CLOSED = (
    "nested [[*_",
    "mixed markup",
    "unclosed links",
    "unclosed slack links",
    "images",
    "unicode emoji",
    "unclosed timestamps",
    "katex blocks",
)
for _suffix, _closers in (("closed", CLOSERS), ("linked", LINKED)):
    ADVERSARIAL.update(
        {
            f"{name}, {_suffix}": ADVERSARIAL[name][: LENGTH - len(_closers)] + _closers
            for name in _CLOSED
        }
    )


def corpus(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{name}.expected.jsonl").read_text().splitlines()
    return [
        {"input": c["input"], "options": c.get("options") or {}} for c in map(json.loads, lines)
    ]


def ours(cases: list[dict[str, Any]], rounds: int) -> dict[str, float]:
    """Best pass over all cases, and the slowest case when each is timed best of `rounds`."""
    best = float("inf")
    each = [float("inf")] * len(cases)
    each_cpu = [float("inf")] * len(cases)
    for _ in range(rounds):
        start = time.perf_counter()
        for index, case in enumerate(cases):
            began, began_cpu = time.perf_counter(), time.process_time()
            with contextlib.suppress(MarkdownSyntaxError):
                parse(case["input"], case["options"])
            each_cpu[index] = min(each_cpu[index], time.process_time() - began_cpu)
            each[index] = min(each[index], time.perf_counter() - began)
        best = min(best, time.perf_counter() - start)
    worst = max(range(len(cases)), key=each.__getitem__)
    return {
        "messages": len(cases),
        "seconds": best,
        "worst_ms": each[worst] * 1000,
        "worst_cpu_ms": max(each_cpu) * 1000,
        "worst_len": len(cases[worst]["input"]),
    }


def _node() -> str | None:
    node = shutil.which("node")
    if node is not None and not (REFERENCE / "node_modules").exists():
        subprocess.run(["npm", "ci", "--silent"], cwd=REFERENCE, check=True)
    return node


def _run_reference(cases: list[dict[str, Any]], argument: str) -> str | None:
    node = _node()
    if node is None:
        return None
    payload = "\n".join(json.dumps(case) for case in cases)
    done = subprocess.run(
        [node, str(REFERENCE / "bench.js"), argument],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


def reference(cases: list[dict[str, Any]], rounds: int) -> dict[str, float] | None:
    out = _run_reference(cases, str(rounds))
    if out is None:
        return None
    answer: dict[str, float] = json.loads(out)
    answer["worst_len"] = answer.pop("worst_input_length")
    return answer


def differences(cases: list[dict[str, Any]]) -> int | None:
    """How many of `cases` we parse differently from the reference."""
    out = _run_reference(cases, "ast")
    if out is None:
        return None
    differ = 0
    # split on "\n" only: the reference's JSON may hold U+2028, which splitlines() splits on
    for case, line in zip(cases, out.rstrip("\n").split("\n"), strict=True):
        theirs = json.loads(line)
        try:
            mine: dict[str, Any] = {"ast": parse(case["input"], case["options"])}
        except MarkdownSyntaxError:
            mine = {"error": True}
        differ += ("error" in theirs) != ("error" in mine) or theirs.get("ast") != mine.get("ast")
    return differ


def row(label: str, cases: list[dict[str, Any]], rounds: int, *, with_reference: bool) -> str:
    mine = ours(cases, rounds)
    theirs = reference(cases, rounds) if with_reference else None
    rate = mine["messages"] / mine["seconds"]
    line = f"{label:22} {len(cases):6d} {rate:12.0f}"
    if theirs:
        their_rate = theirs["messages"] / theirs["seconds"]
        line += f" {their_rate:12.0f} {rate / their_rate:9.2f}"
        line += f" {mine['worst_ms']:14.2f} {theirs['worst_ms']:13.2f}"
    else:
        missing = "(no node)" if with_reference else "(not run)"
        line += f" {missing:>12} {'':9} {mine['worst_ms']:14.2f} {'':13}"
    return line + f" {mine['worst_cpu_ms']:14.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--worst-rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2, help="of the fresh fuzz sample")
    parser.add_argument("--fuzz", type=int, default=3000, help="messages in the fresh sample")
    parser.add_argument("--check", action="store_true", help="compare trees on the fresh sample")
    parser.add_argument("--adversarial-only", action="store_true", help="skip the corpora")
    parser.add_argument("--ours-only", action="store_true", help="do not run the reference")
    arguments = parser.parse_args()
    rounds = arguments.rounds
    with_reference = not arguments.ours_only
    suites = {name: corpus(name) for name in CORPORA}
    suites["all corpora"] = [case for name in CORPORA for case in suites[name]]
    fresh = [
        {"input": case["input"], "options": case["options"]}
        for case in generate(arguments.seed, arguments.fuzz)
    ]
    suites[f"fresh fuzz (seed {arguments.seed})"] = fresh
    header = f"{'suite':22} {'msgs':>6} {'ours msg/s':>12} {'ref msg/s':>12} {'ours/ref':>9}"
    worst = f" {'ours worst ms':>14} {'ref worst ms':>13} {'ours cpu ms':>14}"
    if not arguments.adversarial_only:
        print(header + worst, flush=True)
        for label, cases in suites.items():
            print(row(label, cases, rounds, with_reference=with_reference), flush=True)
    print(f"\nadversarial, {LENGTH} characters each, best of {arguments.worst_rounds}:")
    print(header + f" {'ours ms':>14} {'ref ms':>13} {'ours cpu ms':>14}", flush=True)
    for label, text in ADVERSARIAL.items():
        case = {"input": text, "options": OPTIONS}
        print(row(label, [case], arguments.worst_rounds, with_reference=with_reference), flush=True)
    if arguments.check:
        differ = differences(fresh)
        print(f"\nfresh fuzz trees that differ from the reference's: {differ} of {len(fresh)}")


if __name__ == "__main__":
    main()

"""Markdown speed: our parser against @rocket.chat/message-parser on the same messages, same run.

    python bench/markdown.py [--rounds 3]

Reads the conformance corpora in tests/fixtures/markdown/ and a set of adversarial messages of
5000 characters (long delimiter runs), times our parser and, when Node is available, the
reference (bench/reference, installed with `npm ci` on first use), and prints a table with
messages per second and the ratio. Best of --rounds for throughput; worst single message too.
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

from app.markdown import MarkdownSyntaxError, parse

ROOT = Path(__file__).resolve().parent.parent

FIXTURES = ROOT / "tests" / "fixtures" / "markdown"
REFERENCE = ROOT / "bench" / "reference"
CORPORA = ("public-cases", "public-emoji", "dev-fuzz")
LENGTH = 5000
ADVERSARIAL = {
    "5000 *": "*" * LENGTH,
    "5000 _": "_" * LENGTH,
    "5000 ~": "~" * LENGTH,
    "5000 [": "[" * LENGTH,
    "5000 |": "|" * LENGTH,
    "5000 `": "`" * LENGTH,
    "5000 <": "<" * LENGTH,
    "> nesting": "> " * (LENGTH // 2),
    "mixed markup": ("*_~[|`<" * LENGTH)[:LENGTH],
    "open bolds": ("**a " * LENGTH)[:LENGTH],
}
OPTIONS = {"colors": True, "emoticons": True, "katex": {"parenthesisSyntax": True}}


def corpus(name: str) -> list[dict[str, Any]]:
    lines = (FIXTURES / f"{name}.expected.jsonl").read_text().splitlines()
    return [
        {"input": c["input"], "options": c.get("options") or {}} for c in map(json.loads, lines)
    ]


def ours(cases: list[dict[str, Any]], rounds: int) -> dict[str, float]:
    best, worst, worst_length = float("inf"), 0.0, 0
    for _ in range(rounds):
        start = time.perf_counter()
        for case in cases:
            began = time.perf_counter()
            with contextlib.suppress(MarkdownSyntaxError):
                parse(case["input"], case["options"])
            took = (time.perf_counter() - began) * 1000
            if took > worst:
                worst, worst_length = took, len(case["input"])
        best = min(best, time.perf_counter() - start)
    return {"messages": len(cases), "seconds": best, "worst_ms": worst, "worst_len": worst_length}


def reference(cases: list[dict[str, Any]], rounds: int) -> dict[str, float] | None:
    node = shutil.which("node")
    if node is None:
        return None
    if not (REFERENCE / "node_modules").exists():
        subprocess.run(["npm", "ci", "--silent"], cwd=REFERENCE, check=True)
    payload = "\n".join(json.dumps(case) for case in cases)
    done = subprocess.run(
        [node, str(REFERENCE / "bench.js"), str(rounds)],
        input=payload,
        capture_output=True,
        text=True,
        check=True,
    )
    answer: dict[str, float] = json.loads(done.stdout)
    answer["worst_len"] = answer.pop("worst_input_length")
    return answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    rounds = parser.parse_args().rounds
    suites = {name: corpus(name) for name in CORPORA}
    suites["all corpora"] = [case for name in CORPORA for case in suites[name]]
    for label, text in ADVERSARIAL.items():
        suites[label] = [{"input": text, "options": OPTIONS}]
    header = f"{'suite':16} {'msgs':>6} {'ours msg/s':>12} {'ref msg/s':>12} {'ours/ref':>9}"
    print(header + f" {'ours worst ms':>14} {'ref worst ms':>13}")
    for label, cases in suites.items():
        mine = ours(cases, rounds)
        theirs = reference(cases, rounds)
        rate = mine["messages"] / mine["seconds"]
        row = f"{label:16} {len(cases):6d} {rate:12.0f}"
        if theirs:
            their_rate = theirs["messages"] / theirs["seconds"]
            row += f" {their_rate:12.0f} {rate / their_rate:9.2f}"
            row += f" {mine['worst_ms']:14.2f} {theirs['worst_ms']:13.2f}"
        else:
            row += f" {'(no node)':>12} {'':9} {mine['worst_ms']:14.2f}"
        print(row, flush=True)


if __name__ == "__main__":
    main()

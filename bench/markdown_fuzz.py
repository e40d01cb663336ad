"""Fresh chat messages for the markdown benchmark, shaped like tests/fixtures/markdown/dev-fuzz.

    python bench/markdown_fuzz.py [--seed 2] [--count 3000] > messages.jsonl

The dev-fuzz corpus is one sample of a generator of chat messages: everyday one-liners, dense
blocks (quotes, lists, tasks, code, tables), long lines packed with inline markup, long runs of
one word or delimiter, and edge cases (emoji sequences, invisible characters, timestamps,
KaTeX). A parser tuned on one sample can be slow on the next, so the benchmark also times a new
sample of the same families, seeded so that a run can be repeated.
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable
from typing import Any

WORDS = [
    "deploy", "fix", "build", "test", "merge", "review", "lgtm", "asap", "wip", "todo", "done",
    "broken", "crash", "failing", "green", "red", "prod", "staging", "qa", "node", "java",
    "python", "rust", "go", "sql", "redis", "mongo", "postgres", "docker", "kubernetes", "cache",
    "queue", "token", "login", "logout", "api", "client", "server", "thread", "reply", "room",
    "message", "meeting", "standup", "release", "ticket", "issue", "bug", "latency", "memory",
    "cpu", "p99", "ms", "timeout", "retry", "worker", "tomorrow", "friday", "weekend", "morning",
    "evening", "hello", "hey", "thanks", "cool", "nice", "great", "ok", "see", "look", "check",
    "update", "changed", "we", "you", "it", "this", "that", "the", "a", "of", "to", "and", "for",
    "with", "on", "at", "be", "have", "can", "do", "is", "are", "again", "later", "just",
]  # fmt: skip
UNICODE_WORDS = [
    "mañana", "naïve", "résumé", "über", "Straße", "Привет", "日本語", "مرحبا", "नमस्ते",
    "γειά", "ทดสอบ", "李祖阳", "ﬁle", "zero\u200bwidth", "a\u00a0b", "\u202ertl\u202c",
    "¯\\_(ツ)_/¯",
]  # fmt: skip
EMOJI = [
    "😀", "❤️", "👍🏽", "🇧🇷", "👨\u200d👩\u200d👧\u200d👦", "🧑🏾\u200d💻", "©️", "#️⃣", "⚽", "🤖",
    "🏳️\u200d🌈", "❤", "🙂",
]  # fmt: skip
SHORTCODES = [
    ":smile:", ":+1:", ":-1:", ":eyes:", ":fire:", ":joy:", ":pray:", ":x:", ":smile_cat:",
]  # fmt: skip
EMOTICONS = [":)", ":-)", ":D", ";)", ":'(", ":P", "<3", "</3", "=)", "D:", "8)", ":$", ":/", "-_-"]
MENTIONS = [
    "@rocket.cat", "@all", "@here", "@admin", "@guilherme.gazzo", "@marcos.defendi:matrix.org",
    "@dev-ops", "@téstãçâò", "@user1", "#general", "#GENERAL", "#a.b", "#dev_ops",
]  # fmt: skip
HOSTS = ["github.com", "gitlab.ai", "docs.example.co.uk", "open.rocket.chat", "n-tv.de",
         "1test.io", "sub.domain.example.com", "localhost", "192.168.0.10:8080", "te_st.la",
         "rocket.testt", "intranet", "example.local", "www.docs.example.app:4366"]  # fmt: skip
PATHS = ["", "/", "/files", "/~user", "/a_b", "/(W(601))", "/%C3%A7", "/with-hyphen",
         "/releases/tag/6.0.0-rc.3", "/index.html", "?q=fix&page=42", "#section-2",
         "#fragment_with_underscore", "..."]  # fmt: skip
SCHEMES = ["https://", "http://", "", "ftp://", "custom://", "//"]
OPTIONS: list[tuple[dict[str, Any], int]] = [
    ({}, 39),
    ({"emoticons": True}, 27),
    ({"colors": True}, 9),
    ({"katex": {"dollarSyntax": True, "parenthesisSyntax": True}}, 9),
    (
        {
            "colors": True,
            "emoticons": True,
            "katex": {"dollarSyntax": True, "parenthesisSyntax": True},
            "customDomains": ["local"],
        },
        8,
    ),
    ({"customDomains": ["local", "intranet"]}, 5),
    ({"emoticons": False, "colors": False}, 3),
]


class Messages:
    """One seeded stream of messages; each method is one family of the generator."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def words(self, low: int, high: int) -> str:
        rng = self.rng
        chosen = [
            rng.choice(UNICODE_WORDS) if rng.random() < 0.08 else rng.choice(WORDS)
            for _ in range(rng.randint(low, high))
        ]
        return " ".join(chosen)

    def url(self) -> str:
        rng = self.rng
        path = "".join(rng.choice(PATHS) for _ in range(rng.randint(0, 3)))
        return rng.choice(SCHEMES) + rng.choice(HOSTS) + path

    def email(self) -> str:
        rng = self.rng
        local = rng.choice(["joe", "joe_roe", "a1", "joe.roe", "joe'roe", "X-PJOE"])
        return f"{rng.choice(['', 'mailto:'])}{local}@{rng.choice(HOSTS)}"

    def token(self) -> str:
        """One inline element: a word, or a piece of markup around some words."""
        rng = self.rng
        kind = rng.randrange(26)
        inner = self.words(1, 4)
        return [
            lambda: f"*{inner}*",
            lambda: f"**{inner}**",
            lambda: f"_{inner}_",
            lambda: f"__{inner}__",
            lambda: f"~{inner}~",
            lambda: f"~~{inner}~~",
            lambda: f"`{inner}`",
            lambda: f"||{inner}||",
            lambda: f"[{inner}]({self.url()})",
            lambda: f"![{inner}]({self.url()})",
            lambda: f"<{self.url()}|{inner}>",
            lambda: self.url(),
            lambda: self.email(),
            lambda: rng.choice(MENTIONS),
            lambda: rng.choice(SHORTCODES),
            lambda: rng.choice(EMOJI),
            lambda: rng.choice(EMOTICONS),
            lambda: f"<t:{rng.randint(1_000_000_000, 1_999_999_999)}:{rng.choice('dDfFRtT')}>",
            lambda: f"<t:2025-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T10:00:00+02:00>",
            lambda: f"color:#{rng.choice(['fff', 'c7c7c7', 'FFF', 'c7c7c7c7', 'zzz'])}",
            lambda: rng.choice(["$a_b$", "\\(x^2\\)", "\\[a_b\\]", "$$x$$"]),
            lambda: rng.choice(["+1234", "+(075)63546725", "+1.599123", "+55 11 99999"]),
            lambda: rng.choice(["a_b", "snake_case_word", "_a.com", "1\\. not list", "\\*x\\*"]),
            lambda: f"_{inner} {self.words(1, 2)}_{rng.choice(['', 'x', ' '])}",
            lambda: f"*{inner}",
            lambda: f"{rng.choice('*_~')}{inner}{rng.choice('*_~')}",
        ][kind]()

    def inline_line(self, low: int, high: int) -> str:
        rng = self.rng
        parts = []
        for _ in range(rng.randint(low, high)):
            parts.append(self.token() if rng.random() < 0.35 else self.words(1, 3))
            parts.append(rng.choice([" ", " ", " ", "\t", "  ", ", ", ". "]))
        return "".join(parts).rstrip() or "x"

    def one_liner(self) -> str:
        rng = self.rng
        makers: list[Callable[[], str]] = [
            lambda: f"Deploy to *{rng.choice(WORDS)}* done {rng.choice(EMOJI)}",
            lambda: f"mail me at {self.email()} or call {rng.choice(['+1234', '+5511999'])}",
            lambda: f"PR {self.url()} fixes #{rng.randint(1, 99999)} {rng.choice(SHORTCODES)}",
            lambda: f"run `{self.words(1, 3)}` and {self.words(1, 3)}",
            lambda: f"Hello {rng.choice(MENTIONS)}, can you check {self.url()}?",
            lambda: f"meeting moved to <t:{rng.randint(1_500_000_000, 1_900_000_000)}:t>",
            lambda: f"cc {rng.choice(MENTIONS)} {rng.choice(MENTIONS)}",
            lambda: self.inline_line(1, 6),
            lambda: " ".join(rng.choice(EMOJI + SHORTCODES) for _ in range(rng.randint(1, 3))),
        ]
        return rng.choice(makers)()

    def block(self) -> str:
        rng = self.rng
        kind = rng.randrange(10)
        if kind == 0:
            depth = rng.randint(1, 12)
            return "> " * depth + self.inline_line(1, 4)
        if kind == 1:
            items = [
                f"{rng.choice(['-', '*', '+', '1.', '2.'])} {self.inline_line(1, 4)}"
                for _ in range(rng.randint(1, 5))
            ]
            return "\n".join(items)
        if kind == 2:
            items = [
                f"- [{rng.choice(['x', ' ', 'X', 'y', ''])}] {self.inline_line(1, 4)}"
                for _ in range(rng.randint(1, 5))
            ]
            return "\n".join(items)
        if kind == 3:
            body = "\n".join(self.words(1, 6) for _ in range(rng.randint(1, 5)))
            return f"```{rng.choice(['', 'go', 'bash', 'json', 'bash c'])}\n{body}\n```"
        if kind == 4:
            columns = rng.randint(1, 4)
            rows = [
                "| " + " | ".join(self.inline_line(1, 2) for _ in range(columns)) + " |"
                for _ in range(rng.randint(1, 4))
            ]
            aligns = [rng.choice(["---", ":---:", "-", "--:"]) for _ in range(columns)]
            delimiter = "| " + " | ".join(aligns)
            return "\n".join([rows[0], delimiter + " |", *rows[1:]])
        if kind == 5:
            return f"{'#' * rng.randint(1, 5)} {self.inline_line(1, 5)}"
        if kind == 6:
            return f"||\n{self.inline_line(1, 4)}\n||"
        if kind == 7:
            return rng.choice(["---", "   ---   ", "***", "$$\nx^2\n$$", "\\[x\\]"])
        return self.inline_line(1, 8)

    def dense(self) -> str:
        rng = self.rng
        blocks = [self.block() for _ in range(rng.randint(2, 8))]
        return rng.choice(["\n", "\r\n", "\n\n"]).join(blocks)

    def long_line(self) -> str:
        return self.inline_line(30, 300)[:5000]

    def repeated(self) -> str:
        rng = self.rng
        if rng.random() < 0.8:
            unit = rng.choice(WORDS)
            return unit * rng.randint(20, 5000 // len(unit))
        # runs of one delimiter stay short: the reference is quadratic on them
        unit = rng.choice(["*", "_", "~", "`", "[", "|", "<", "> ", "**a ", "a_", "```"])
        return unit * rng.randint(10, 200 // len(unit))

    def edge(self) -> str:
        rng = self.rng
        makers: list[Callable[[], str]] = [
            lambda: "",
            lambda: " ",
            lambda: rng.choice(EMOJI) * rng.randint(1, 4),
            lambda: f"{self.url()}{'a' * rng.randint(50, 300)}",
            lambda: f"{rng.choice(UNICODE_WORDS)} {rng.choice(EMOTICONS)}",
            lambda: f"<t:{rng.choice(['10:30', '10:30:00+01:00', '2025-01-02T10:00:00.000'])}>",
            lambda: "\\" + rng.choice(["*x*", "_y_", "<t:1630360800:f>", "`z`", "#a"]),
            lambda: f"{self.words(1, 3)}\r\n{self.words(1, 3)}\r{self.words(1, 2)}",
        ]
        return rng.choice(makers)()

    def message(self) -> str:
        family = self.rng.random()
        if family < 0.5:
            return self.one_liner()
        if family < 0.8:
            return self.dense()
        if family < 0.9:
            return self.edge()
        if family < 0.985:
            return self.long_line()
        return self.repeated()

    def options(self) -> dict[str, Any]:
        choices, weights = zip(*OPTIONS, strict=True)
        chosen: dict[str, Any] = self.rng.choices(choices, weights)[0]
        return chosen


def generate(seed: int, count: int) -> list[dict[str, Any]]:
    """`count` cases {id, input, options}, the same for the same seed."""
    stream = Messages(seed)
    return [
        {"id": f"fuzz-{seed}-{index:05d}", "input": stream.message(), "options": stream.options()}
        for index in range(1, count + 1)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--count", type=int, default=3000)
    arguments = parser.parse_args()
    for case in generate(arguments.seed, arguments.count):
        print(json.dumps(case, ensure_ascii=False))


if __name__ == "__main__":
    main()

"""What the grammar's shortcuts assume about the rule tables, checked on the tables themselves."""

from __future__ import annotations

import pytest

from app.markdown import emoji, grammar, inline, text
from app.markdown.state import Needs


@pytest.mark.parametrize("char", sorted(inline.EMOJI_RUN_STARTS))
@pytest.mark.parametrize("lacks", range(Needs.ALL + 1))
def test_an_emoji_run_stands_for_the_rules_before_the_emoji(char: str, lacks: int) -> None:
    """`inline.emoji_run` answers for an address, a URL, a channel and then the emoji, so at
    the characters it starts at no other rule may come before the emoji in the item table."""
    rules = list(grammar.ITEM.candidates(char, lacks))
    assert rules[0] is inline.emoji_run
    assert emoji.shortcode_or_unicode in rules
    before = rules[1 : rules.index(emoji.shortcode_or_unicode)]
    assert set(before) <= {inline.email, inline.url, text.channel_mention}, before

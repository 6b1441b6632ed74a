"""The linear-time `name` filter agrees with Python's `re` on the syntax it supports, and
rejects what it does not support."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compute.name_filter import MAX_PATTERN, NameFilter, PatternError

PIECES = ["a", "b", ".", "[ab]", "[^a]", "(a|b)", "(?:ab)", "a*", "b+", "a?", "(a|b)*", "^",
          "$", "a{1,2}", "b{2}", "\\d", "[a-c0-9]", "(a*|b)+", "a*?"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=5),
       st.lists(st.text(alphabet="ab1c-", max_size=8), min_size=1, max_size=5))
def test_agrees_with_python_re(pieces, names):
    pattern = "".join(pieces)
    compiled = NameFilter(pattern)
    expected = re.compile(pattern)
    for name in names:
        assert compiled.matches(name) == bool(expected.search(name)), (pattern, name)


@pytest.mark.timeout(60)  # a backtracking engine needs years for these; this one, ms
@pytest.mark.parametrize(("pattern", "on_ab"), [
    ("(a+)+$", False), ("(a|a)*b", True), ("a*" * 30 + "b", True), ("(.*a){20}!", False)])
def test_hostile_patterns_are_answered(pattern, on_ab):
    compiled = NameFilter(pattern)
    assert {compiled.matches("a" * 254 + str(i)) for i in range(200)} == {False}
    assert compiled.matches("a" * 20 + "b!") is on_ab


@pytest.mark.parametrize("pattern", [
    "(", ")", "a)", "*a", "a{1000}", "a{3,1}", "\\1", "\\b", "(?=a)", "(?i)a", "(?P<x>a)",
    "a++", "[z-a]", "[a", "x" * (MAX_PATTERN + 1),
])
def test_unsupported_or_malformed_patterns_are_rejected(pattern):
    with pytest.raises(PatternError):
        NameFilter(pattern)

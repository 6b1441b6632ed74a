"""common.untrusted_json: every unacceptable body is one UntrustedJSONError, nothing else."""
from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.untrusted_json import MAX_DEPTH, UntrustedJSONError, parse_untrusted_json

documents = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**64, 2**64),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=5), inner, max_size=4)),
    max_leaves=20)


@settings(max_examples=200, deadline=None)
@given(documents)
def test_valid_documents_come_back_unchanged(doc):
    assert parse_untrusted_json(json.dumps(doc).encode()) == doc


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_bytes_parse_or_raise_only_untrusted_json_error(raw):
    try:
        parse_untrusted_json(raw)
    except UntrustedJSONError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize("raw, fragment", [
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper"),
    (b'{"a":' * 50_000 + b"1" + b"}" * 50_000, "nested deeper"),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "nested deeper"),
    (b"\xff{}", "UTF-8"),
    (b"{", "not valid JSON"),
    (b"NaN", "NaN"),
    (b'{"a": -Infinity}', "Infinity"),
    (b"1e999", "out of range"),
    (b"1" * 5000, "not valid JSON"),
    (b'"\\ud800"', "surrogate"),
    (b'{"\\udfff": 1}', "surrogate"),
])
def test_unacceptable_bodies(raw, fragment):
    with pytest.raises(UntrustedJSONError, match=fragment):
        parse_untrusted_json(raw)


def test_nesting_up_to_the_limit_is_accepted():
    raw = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert parse_untrusted_json(raw) is not None

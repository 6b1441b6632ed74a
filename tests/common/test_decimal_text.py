"""`common.decimal_text.capped_decimal`: min(int, cap) for ASCII digits, whatever their count."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from common.decimal_text import BEYOND_ANY_LENGTH, capped_decimal


@given(st.integers(0, 10**30), st.integers(0, 10**20), st.integers(0, 5))
def test_digits_read_as_their_value_up_to_the_cap(number, cap, zeros):
    assert capped_decimal("0" * zeros + str(number), cap) == min(number, cap)


def test_thousands_of_digits_are_the_cap():
    assert capped_decimal("9" * 5000, BEYOND_ANY_LENGTH) == BEYOND_ANY_LENGTH
    assert capped_decimal("0" * 5000 + "7", 10) == 7


@given(st.text(min_size=1).filter(lambda t: not (t.isascii() and t.isdigit())))
def test_anything_but_ascii_digits_is_none(text):
    assert capped_decimal(text, 10**9) is None


def test_what_int_would_accept_is_still_refused():
    for text in ("", "+5", "-5", " 5", "5 ", "1_000", "²", "١٢", "0x10", "1e3"):
        assert capped_decimal(text, 10**9) is None, text

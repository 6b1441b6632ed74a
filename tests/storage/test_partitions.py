"""Partition numbers in paths, headers and directory names: canonical ASCII digits only.

Python's int() also takes '\u0661\u0662' (Arabic-Indic digits), ' 12' and '1_0'; a partition
written any other way than str(n) would name a second directory for the same partition.
"""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from storage.backend_common import BadRequestPath, is_partition, validate_partition


@given(st.text(max_size=12))
def test_partition_names_are_canonical_ascii_digits(text):
    if is_partition(text):
        assert text.isascii() and str(int(text)) == text
    else:
        assert not (text.isascii() and text.isdigit() and str(int(text)) == text
                    and len(text) <= 10)


@given(st.integers(min_value=0, max_value=2**32 - 1))
def test_every_partition_number_is_a_partition_name(number):
    assert is_partition(str(number))
    validate_partition(str(number))


@pytest.mark.parametrize("text", ["\u0661\u0662", " 12", "12 ", "1_0", "+1", "-1", "012", "",
                                  "\u00b2", "1" * 11])
def test_what_int_would_take_is_refused(text):
    assert not is_partition(text)
    with pytest.raises(BadRequestPath, match="invalid partition"):
        validate_partition(text)

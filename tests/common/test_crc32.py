"""common.crc32 gives zlib's CRC32 values: stored block tables stay valid either way."""
import zlib

from hypothesis import given
from hypothesis import strategies as st

from common.crc32 import crc32


@given(st.binary(max_size=200_000), st.integers(min_value=0, max_value=2**32 - 1))
def test_same_values_as_zlib(data, start):
    assert crc32(data) == zlib.crc32(data)
    assert crc32(data, start) == zlib.crc32(data, start)


@given(st.binary(max_size=5000), st.binary(max_size=5000))
def test_chained_over_pieces_and_memoryviews(first, second):
    whole = first + second
    assert crc32(memoryview(whole)[len(first):], crc32(memoryview(whole)[:len(first)])) == \
        zlib.crc32(whole)

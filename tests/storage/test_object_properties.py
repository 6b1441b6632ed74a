"""Property tests of the pure rules: which object files are live, and byte-range framing."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.timestamp import Timestamp
from storage.objects.byteranges import (
    UnsatisfiableRange,
    multipart_length,
    multipart_parts,
    parse_range,
)
from storage.objects.ondisk_files import gather_ondisk_files

file_names = st.lists(
    st.tuples(st.integers(1000, 1010), st.sampled_from([".data", ".ts", ".meta"])),
    max_size=12, unique=True,
).map(lambda items: [Timestamp(t).normal + ext for t, ext in items])


def ts_of(name):
    return Timestamp(name[:16])


@given(file_names)
@settings(max_examples=120, deadline=None)
def test_live_files_follow_the_rules(names):
    verdict = gather_ondisk_files(names)
    assert sorted(verdict.live + verdict.obsolete) == sorted(names)
    winners = [n for n in names if n.endswith((".data", ".ts"))]
    if winners:
        newest = max(ts_of(n) for n in winners)
        winner = verdict.data_file or verdict.ts_file
        assert ts_of(winner) == newest
        if verdict.data_file and any(n == newest.normal + ".ts" for n in names):
            raise AssertionError("a tombstone must win a tie")
    else:
        assert verdict.data_file is None and verdict.ts_file is None
    if verdict.meta_file:
        assert verdict.ts_file is None
        assert all(ts_of(verdict.meta_file) >= ts_of(n) for n in names if n.endswith(".meta"))
        if verdict.data_file:
            assert ts_of(verdict.meta_file) > ts_of(verdict.data_file)
    # the live set is stable: applying the rules again removes nothing
    again = gather_ondisk_files(verdict.live)
    assert again.obsolete == [] and sorted(again.live) == sorted(verdict.live)


@given(st.integers(0, 300), st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 400)),
                                               st.one_of(st.none(), st.integers(0, 400))),
                                     min_size=1, max_size=6))
@settings(max_examples=120, deadline=None)
def test_ranges_frame_exactly_the_requested_bytes(length, specs):
    specs = [(a, b) for a, b in specs if a is not None or b is not None]
    if not specs:
        return
    header = "bytes=" + ",".join(f"{'' if a is None else a}-{'' if b is None else b}"
                                 for a, b in specs)
    body = bytes(i % 251 for i in range(length))
    try:
        ranges = parse_range(header, length)
    except UnsatisfiableRange:
        return
    if ranges is None:
        assert any(a is not None and b is not None and b < a for a, b in specs)
        return
    for start, end in ranges:
        assert 0 <= start < end <= length
    framed = b"".join(multipart_parts(ranges, "BOUND", "x/y", length,
                                      lambda s, e: [body[s:e]]))
    assert len(framed) == multipart_length(ranges, "BOUND", "x/y", length)
    pieces = framed.split(b"--BOUND")
    assert pieces[-1] == b"--" and len(pieces) == len(ranges) + 2
    for piece, (start, end) in zip(pieces[1:-1], ranges, strict=True):
        assert piece.split(b"\r\n\r\n", 1)[1] == body[start:end] + b"\r\n"


def test_positions_of_thousands_of_digits_are_past_any_body():
    """int() refuses strings of over 4300 digits; such positions still read as ranges."""
    huge = "9" * 5000
    assert parse_range(f"bytes=2-{huge}", 10) == [(2, 10)]
    assert parse_range(f"bytes=-{huge}", 10) == [(0, 10)]
    with pytest.raises(UnsatisfiableRange):
        parse_range(f"bytes={huge}-", 10)
    assert parse_range(f"bytes={huge}-5", 10) is None  # last before first: ignored

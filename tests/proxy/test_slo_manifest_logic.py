"""The SLO's pure logic: client manifests with ranges and inline data, stored and raw forms,
the large object's ETag, and part numbers (no sockets)."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest

from proxy.middleware.slo_manifest import (
    load_manifest,
    parse_put_body,
    raw_entries,
    resolve_range,
    stored_entry,
)
from proxy.middleware.slo_parts import INVALID, part_range, requested_part
from proxy.segments import Segment, large_object_etag, plan_range


def md5hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_client_entries_with_range_data_and_paths_without_a_leading_slash():
    body = json.dumps([
        {"path": "/c/a", "etag": '"abc"', "size_bytes": 3, "range": "1-"},
        {"data": base64.b64encode(b"inline").decode()},
        {"path": "c/b"},
    ]).encode()
    entries, reason = parse_put_body(body, 10)
    assert reason == ""
    assert [(e.path, e.etag, e.size, e.range_spec) for e in entries[::2]] == [
        ("/c/a", "abc", 3, "1-"), ("/c/b", None, None, None)]
    assert entries[1].data == b"inline"
    assert entries[2].given == "c/b"


@pytest.mark.parametrize("entry,reason", [
    ({"path": "/c/a", "teag": "x"}, "unsupported key 'teag'"),
    ({"path": "/c/a", "range": 5}, "range must be a string"),
    ({"data": "not base64!"}, "valid base64"),
    ({"data": "", "path": "/c/a"}, "no other key"),
    ({"path": "nocontainer"}, "path must be"),
])
def test_bad_client_entries_are_refused_with_their_reason(entry, reason):
    entries, why = parse_put_body(json.dumps([entry]).encode(), 10)
    assert entries is None and reason in why


def test_a_manifest_of_only_data_is_refused():
    body = json.dumps([{"data": base64.b64encode(b"x").decode()}]).encode()
    assert parse_put_body(body, 10)[0] is None


@pytest.mark.parametrize("spec,length,expected", [
    ("0-9", 100, (0, 9)), ("90-", 100, (90, 99)), ("-10", 100, (90, 99)),
    ("-1000", 100, (0, 99)), ("95-200", 100, (95, 99)), ("bytes=1-2", 100, (1, 2)),
])
def test_segment_ranges_resolve_against_the_object(spec, length, expected):
    assert resolve_range(spec, length) == (expected, "")


@pytest.mark.parametrize("spec", ["100-", "5-2", "1-2,4-5", "abc", "-0", ""])
def test_bad_or_unsatisfiable_segment_ranges_are_refused(spec):
    byte_range, reason = resolve_range(spec, 100)
    assert byte_range is None and reason


def test_stored_manifest_round_trips_to_segments_and_to_the_put_format():
    stored = [
        stored_entry("/c/a", 100, "e1", "text/plain", "x", (10, 19), False),
        {"data": base64.b64encode(b"xyz").decode()},
        stored_entry("/c/b", 5, "e2", "text/plain", "x", (0, 4), True),
    ]
    assert stored[0]["range"] == "10-19" and "range" not in stored[2]
    assert stored[2]["sub_slo"] is True
    segments = load_manifest(json.dumps(stored).encode())
    assert [(s.path, s.size, s.first, s.whole) for s in segments] == [
        ("/c/a", 10, 10, False), ("", 3, 0, True), ("/c/b", 5, 0, True)]
    assert segments[1].data == b"xyz"
    assert raw_entries(stored) == [
        {"path": "/c/a", "etag": "e1", "size_bytes": 100, "range": "10-19"},
        {"data": stored[1]["data"]},
        {"path": "/c/b", "etag": "e2", "size_bytes": 5},
    ]


def test_a_stored_range_outside_its_segment_is_no_manifest():
    stored = [{"name": "/c/a", "bytes": 5, "hash": "e", "range": "3-9"}]
    assert load_manifest(json.dumps(stored).encode()) is None


def test_large_object_etag_names_ranges_and_hashes_inline_data():
    segments = [Segment("/c/a", 10, "e1", 10, 100), Segment("", 3, "", data=b"xyz"),
                Segment("/c/b", 5, "e2")]
    expected = md5hex(("e1:10-19;" + md5hex(b"xyz") + "e2").encode())
    assert large_object_etag(segments) == expected


def test_ranges_plan_over_ranged_and_inline_segments():
    segments = [Segment("/c/a", 10, "e1", 10, 100), Segment("", 3, "", data=b"xyz")]
    assert plan_range(segments, 8, 11) == [(segments[0], 8, 9), (segments[1], 0, 1)]


@pytest.mark.parametrize("query,expected", [
    ("", None), ("part-number=2", 2), ("a=1&part-number=1", 1), ("part-number=0", INVALID),
    ("part-number=x", INVALID), ("part-number=-1", INVALID), ("part-number=", INVALID),
])
def test_part_number_in_the_query(query, expected):
    assert requested_part(query) == expected


def test_part_ranges_are_the_manifest_entries():
    segments = [Segment("/c/a", 10, ""), Segment("/c/b", 5, ""), Segment("", 1, "", data=b"x")]
    assert [part_range(segments, n) for n in (1, 2, 3, 4)] == [(0, 9), (10, 14), (15, 15),
                                                                None]

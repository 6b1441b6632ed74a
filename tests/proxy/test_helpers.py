"""Pure helpers of the proxy: quorum choice, error limiting, large-object byte ranges."""
from __future__ import annotations

from proxy.backend_client import ErrorLimiter
from proxy.object_headers import BadHeaders, check_delete_at, content_length_of
from proxy.quorum import choose_status, quorum_size
from proxy.segments import Segment, parse_range, plan_range

NODE = {"ip": "127.0.0.1", "port": 6200, "device": "d1"}


def test_quorum():
    assert quorum_size(3) == 2 and quorum_size(1) == 1 and quorum_size(4) == 3
    assert choose_status([201, 201, 503], 2) == 201
    assert choose_status([201, 503, 503], 2) == 503
    assert choose_status([404, 404, 204], 2) == 404
    assert choose_status([422, 422, 422], 2) == 422
    assert choose_status([201, 404, 503], 2) == 503


def test_error_limiter_skips_then_forgives():
    limiter = ErrorLimiter(limit=2, interval=10)
    for moment in (0, 1):
        limiter.record_error(NODE, now=moment)
    assert not limiter.is_limited(NODE, now=2)
    limiter.record_error(NODE, now=2)
    assert limiter.is_limited(NODE, now=3)
    assert not limiter.is_limited(NODE, now=13)
    limiter.limit_now(NODE, now=20)
    assert limiter.is_limited(NODE, now=21)


def test_parse_range():
    assert parse_range("bytes=0-9", 100) == (0, 9)
    assert parse_range("bytes=90-", 100) == (90, 99)
    assert parse_range("bytes=-10", 100) == (90, 99)
    assert parse_range("bytes=50-500", 100) == (50, 99)
    assert parse_range("bytes=100-", 100) == "unsatisfiable"
    assert parse_range("bytes=0-1,5-6", 100) is None
    assert parse_range("junk", 100) is None
    assert parse_range(None, 100) is None


def test_plan_range_spans_segments():
    segments = [Segment("/c/a", 10, ""), Segment("/c/empty", 0, ""), Segment("/c/b", 10, "")]
    pieces = plan_range(segments, 5, 14)
    assert [(s.path, a, b) for s, a, b in pieces] == [("/c/a", 5, 9), ("/c/b", 0, 4)]
    assert [(s.path, a, b) for s, a, b in plan_range(segments, 0, 19)] == \
        [("/c/a", 0, 9), ("/c/b", 0, 9)]


def test_content_length_and_delete_at_checks():
    assert content_length_of({"content-length": "5"}) == 5
    assert content_length_of({"transfer-encoding": "chunked"}) is None
    for headers, status in (({}, 411), ({"content-length": "x"}, 400),
                            ({"content-length": str(5 * 1024**3 + 1)}, 413)):
        try:
            content_length_of(headers)
        except BadHeaders as exc:
            assert exc.status == status
        else:
            raise AssertionError(headers)
    assert check_delete_at({"x-delete-after": "10"}, now=1000) == "1010"
    assert check_delete_at({"x-delete-at": "2000"}, now=1000) == "2000"
    assert check_delete_at({}, now=1000) is None

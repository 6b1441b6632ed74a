"""Timestamps order writes; constraints reject what Swift rejects."""
from hypothesis import given
from hypothesis import strategies as st

from common import constraints
from common.timestamp import InvalidTimestamp, Timestamp


def test_normal_form_is_fixed_width_and_sortable():
    assert Timestamp(1.5).normal == "0000000001.50000"
    assert Timestamp("1700000000.123456").normal == "1700000000.12346"
    assert Timestamp(2) > Timestamp(1.99999)


@given(st.floats(min_value=0, max_value=9_999_999_999), st.floats(0, 9_999_999_999))
def test_lexical_order_matches_numeric_order(a, b):
    ta, tb = Timestamp(a), Timestamp(b)
    assert (ta.normal < tb.normal) == (ta < tb)
    assert Timestamp(ta.normal) == ta


def test_invalid_timestamps():
    for bad in ("abc", "-1", "nan", "1e20", None):
        try:
            Timestamp(bad)
        except InvalidTimestamp:
            continue
        raise AssertionError(f"{bad!r} accepted")


def test_names():
    assert constraints.check_object_name("a" * 1024) is None
    assert constraints.check_object_name("a" * 1025)
    assert constraints.check_container_name("a/b")
    assert constraints.check_container_name("c" * 257)
    assert constraints.check_utf8(b"\xff")
    assert constraints.check_utf8("a\x00b")


def test_metadata_limits():
    ok = {f"X-Object-Meta-K{i:02d}": "v" * 20 for i in range(90)}
    assert constraints.check_metadata(ok, "object") is None
    too_many = dict(ok, **{"X-Object-Meta-Extra": "v"})
    assert "too many" in constraints.check_metadata(too_many, "object")
    assert constraints.check_metadata({"X-Object-Meta-" + "k" * 129: "v"}, "object")
    assert constraints.check_metadata({"X-Object-Meta-k": "v" * 257}, "object")
    big = {f"X-Object-Meta-K{i:02d}": "v" * 240 for i in range(20)}
    assert "too large" in constraints.check_metadata(big, "object")
    # Other kinds' headers are not counted.
    assert constraints.check_metadata({"X-Container-Meta-k": "v" * 300}, "object") is None

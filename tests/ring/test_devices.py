"""Device specs and search values."""
import pytest

from ring.devices import Device, RingError, parse_add_spec, parse_search


def test_add_spec_parses_all_fields():
    assert parse_add_spec("r1z2-10.0.0.1:6200/sdb1") == {
        "region": 1, "zone": 2, "ip": "10.0.0.1", "port": 6200, "device": "sdb1", "meta": "",
    }
    spec = parse_add_spec("r3z0-[::1]:6000/d0_rack7")
    assert spec["ip"] == "::1" and spec["meta"] == "rack7" and spec["device"] == "d0"


@pytest.mark.parametrize("spec", ["z1-10.0.0.1:6200/sdb", "r1z1-10.0.0.1/sdb", "r1z1-nope:1/sdb",
                                  "r1z1-10.0.0.1:6200", "garbage", ""])
def test_bad_add_specs_are_rejected(spec):
    with pytest.raises(RingError):
        parse_add_spec(spec)


def _dev(**overrides):
    fields = {"id": 4, "region": 1, "zone": 2, "ip": "10.0.0.1", "port": 6200, "device": "sdb",
              "weight": 100.0, "meta": "fast"}
    fields.update(overrides)
    return Device(**fields)


@pytest.mark.parametrize("value,expected", [
    ("d4", True), ("d5", False), ("r1z2-10.0.0.1:6200/sdb", True), ("r1z3", False),
    ("10.0.0.1", True), ("10.0.0.2", False), ("/sdb", True), ("_fast", True),
    ("z2", True), (":6200", True), (":6201", False), ("d4r1", True),
])
def test_search_values_match_like_swift(value, expected):
    assert parse_search(value).matches(_dev()) is expected


@pytest.mark.parametrize("value", ["", "x", "d", "r1z", "10.0.0", "d4 r1", "hello/world"])
def test_bad_search_values_raise(value):
    with pytest.raises(RingError, match="bad search value"):
        parse_search(value)


def test_device_round_trips_through_dict():
    dev = _dev()
    assert Device.from_dict(dev.to_dict()) == dev
    with pytest.raises(RingError):
        Device.from_dict({"id": 1})

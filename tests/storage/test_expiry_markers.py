"""Expiry markers: names, what a pass finds due, durable writes; the object server's markers."""
from __future__ import annotations

import os
import time

from hypothesis import given
from hypothesis import strategies as st

from common.timestamp import Timestamp
from storage.objects.expiry_markers import (
    BUCKET_SECONDS,
    MARKERS_DIR,
    Marker,
    delete_at_of,
    due_markers,
    last_full_scan,
    note_full_scan,
    parse_marker,
    remove_marker,
    write_marker,
)

HASH = "0123456789abcdef0123456789abcdef"


def ts(offset: float = 0.0) -> Timestamp:
    return Timestamp(time.time() + offset)

markers = st.builds(
    Marker,
    st.integers(min_value=0, max_value=10**11),
    st.sampled_from(["objects", "objects-1", "objects-12"]),
    st.integers(min_value=0, max_value=2**32).map(str),
    st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
)


@given(markers)
def test_a_marker_name_reads_back_as_the_same_marker(marker):
    assert parse_marker(marker.name) == marker
    assert int(marker.bucket) <= marker.delete_at < int(marker.bucket) + BUCKET_SECONDS


@given(st.one_of(st.text(max_size=80),
                 st.builds("{}.{}.{}.{}".format,
                           st.text(alphabet="0123456789", min_size=1, max_size=12),
                           st.sampled_from(["objects", "objects-01", "objects-2", "tmp"]),
                           st.text(alphabet="0123456789", min_size=1, max_size=5),
                           st.text(alphabet="0123456789abcdef", min_size=31, max_size=33))))
def test_other_names_are_not_markers(name):
    """Only a marker's own name parses, and it names that marker exactly."""
    marker = parse_marker(name)
    assert marker is None or marker.name == name


def test_names_that_look_close_are_refused():
    for name in ("1700000000.objects.12", "1700000000.tmp.12." + HASH,
                 "x.objects.12." + HASH, "1700000000.objects.x." + HASH,
                 "1700000000.objects.12." + HASH.upper(), "1700000000.objects-.12." + HASH,
                 "1700000000.objects.12." + HASH + ".tmp", "last-full-scan",
                 "01700000000.objects.12." + HASH, "1700000000.objects.012." + HASH):
        assert parse_marker(name) is None, name


def test_delete_at_of_reads_only_whole_seconds():
    assert delete_at_of({"X-Delete-At": "1700000000"}) == 1700000000
    assert delete_at_of({"X-Delete-At": "9999999999"}) == 9999999999
    assert delete_at_of({"X-Delete-At": "0001700000000"}) == 1700000000
    for value in ("", "soon", "-5", "1.5", "١٢", "10000000000", "1" * 5000):
        assert delete_at_of({"X-Delete-At": value}) is None
    assert delete_at_of({}) is None


def test_a_far_future_x_delete_at_is_stored_as_the_last_second(object_env):
    """A value past the last ten-digit second (even thousands of digits) is stored as that
    second, as the proxy stores it, and its marker can be written: no 500."""
    for number, value in enumerate(("1" * 300, "99999999999")):
        resp = object_env.put(headers={"X-Delete-At": value}, timestamp=ts(number - 10))
        assert resp.status_int == 201, value
        head = object_env.request("/sda/1/a/c/o", "HEAD")
        assert head.headers["X-Delete-At"] == "9999999999"
    after = object_env.put(headers={"X-Delete-After": "9" * 5000}, timestamp=ts(-1))
    assert after.status_int == 201
    assert object_env.request("/sda/1/a/c/o", "HEAD").headers["X-Delete-At"] == "9999999999"
    assert {m.delete_at for m in _markers_on(object_env)} == {9999999999}
    too_long = object_env.request("/sda/1/a/c/o", "DELETE", headers={
        "X-Timestamp": ts().normal, "X-If-Delete-At": "9" * 5000})
    assert too_long.status_int == 412
    matching = object_env.request("/sda/1/a/c/o", "DELETE", headers={
        "X-Timestamp": ts(1).normal, "X-If-Delete-At": "09999999999"})
    assert matching.status_int == 204


def test_due_markers_come_earliest_first_and_only_when_due(tmp_path):
    device = str(tmp_path)
    now = 10 * BUCKET_SECONDS + 100
    due = [Marker(now - 5, "objects", "3", HASH),
           Marker(now - BUCKET_SECONDS - 1, "objects-1", "7", HASH),
           Marker(now, "objects", "1", HASH)]
    later = [Marker(now + 1, "objects", "3", HASH),
             Marker(now + 2 * BUCKET_SECONDS, "objects", "3", HASH)]
    for marker in due + later:
        write_marker(device, marker)
    (tmp_path / MARKERS_DIR / due[0].bucket / "not-a-marker").write_text("")
    found = list(due_markers(device, now))
    assert [marker for _path, marker in found] == sorted(due, key=lambda m: m.delete_at)
    assert all(os.path.exists(path) for path, _marker in found)


def test_an_ended_hour_goes_once_its_markers_are_removed(tmp_path):
    device = str(tmp_path)
    now = 10 * BUCKET_SECONDS + 100
    old = Marker(now - BUCKET_SECONDS, "objects", "3", HASH)
    current = Marker(now - 1, "objects", "4", HASH)
    write_marker(device, old)
    write_marker(device, current)
    for path, _marker in due_markers(device, now):
        remove_marker(path)
    assert sorted(os.listdir(tmp_path / MARKERS_DIR)) == [current.bucket]  # its hour goes on


def test_write_marker_is_idempotent_and_makes_its_hour_again(tmp_path):
    device = str(tmp_path)
    marker = Marker(5 * BUCKET_SECONDS + 7, "objects", "9", HASH)
    write_marker(device, marker)
    write_marker(device, marker)
    bucket_dir = tmp_path / MARKERS_DIR / marker.bucket
    assert os.listdir(bucket_dir) == [marker.name]
    os.unlink(bucket_dir / marker.name)
    os.rmdir(bucket_dir)  # as the expirer does with an ended, empty hour
    write_marker(device, marker)
    assert os.listdir(bucket_dir) == [marker.name]


def test_full_scan_record(tmp_path):
    device = str(tmp_path)
    assert last_full_scan(device) is None
    note_full_scan(device, 1234.0)
    assert last_full_scan(device) == 1234.0
    note_full_scan(device)
    assert abs(last_full_scan(device) - time.time()) < 60


def _markers_on(object_env) -> list[Marker]:
    root = os.path.join(object_env.devices, "sda", MARKERS_DIR)
    if not os.path.isdir(root):
        return []
    return sorted((parse_marker(name) for bucket in os.listdir(root)
                   if os.path.isdir(os.path.join(root, bucket))
                   for name in os.listdir(os.path.join(root, bucket))),
                  key=lambda m: m.delete_at)


def test_object_writes_with_x_delete_at_leave_markers(object_env):
    now = int(time.time())
    object_env.put(body=b"no expiry", timestamp=ts(-10))
    assert _markers_on(object_env) == []
    assert object_env.put(headers={"X-Delete-At": str(now + 100)},
                          timestamp=ts(-5)).status_int == 201
    first = _markers_on(object_env)
    assert [(m.delete_at, m.objects_dir, m.partition) for m in first] == [
        (now + 100, "objects", "1")]
    resp = object_env.request("/sda/1/a/c/o", "POST",
                              headers={"X-Timestamp": ts(-1).normal,
                                       "X-Delete-At": str(now + 200)})
    assert resp.status_int == 202
    assert [m.delete_at for m in _markers_on(object_env)] == [now + 100, now + 200]
    assert {m.hash for m in _markers_on(object_env)} == {first[0].hash}
    data_dir = os.path.join(object_env.devices, "sda", "objects", "1", first[0].hash[-3:],
                            first[0].hash)
    assert any(name.endswith(".data") for name in os.listdir(data_dir))


def test_a_refused_write_leaves_no_marker(object_env):
    now = int(time.time())
    resp = object_env.put(headers={"X-Delete-At": str(now + 100), "ETag": "0" * 32})
    assert resp.status_int == 422
    assert _markers_on(object_env) == []

"""Byte ranges and conditional requests on the object server (and their parsers)."""
from __future__ import annotations

import email.utils
import hashlib
import math
import time

import pytest

from common.timestamp import Timestamp
from storage.objects.byteranges import UnsatisfiableRange, parse_range
from storage.objects.conditional import parse_etag_list

BODY = bytes(range(256)) * 400  # 102400 bytes, crosses a 64 KiB read


@pytest.fixture
def stored(object_env):
    stamp = Timestamp(time.time() - 100)
    object_env.put(body=BODY, timestamp=stamp, headers={"Content-Type": "application/x-test"})
    return object_env, stamp


@pytest.mark.parametrize(
    "header,expected",
    [
        ("bytes=0-9", [(0, 10)]),
        ("bytes=10-", [(10, 100)]),
        ("bytes=-5", [(95, 100)]),
        ("bytes=-500", [(0, 100)]),
        ("bytes=90-200", [(90, 100)]),
        ("bytes=0-0,5-6", [(0, 1), (5, 7)]),
        ("bytes=200-300,0-1", [(0, 2)]),
        ("Bytes = 1-2", [(1, 3)]),
    ],
)
def test_parse_range_satisfiable(header, expected):
    assert parse_range(header, 100) == expected


@pytest.mark.parametrize("header", [None, "", "items=0-1", "bytes=5-1", "bytes=a-b", "bytes=-",
                                    "bytes", "bytes=" + ",".join(["0-1"] * 51)])
def test_parse_range_ignored(header):
    assert parse_range(header, 100) is None


@pytest.mark.parametrize("header,length", [("bytes=100-", 100), ("bytes=-0", 100),
                                           ("bytes=0-", 0), ("bytes=150-160,200-", 100)])
def test_parse_range_unsatisfiable(header, length):
    with pytest.raises(UnsatisfiableRange):
        parse_range(header, length)


def test_parse_etag_list():
    assert parse_etag_list('"a", W/"b", c') == ["a", "b", "c"]
    assert parse_etag_list("*") == ["*"]


def test_single_range(stored):
    env, _ = stored
    resp = env.request("/sda/1/a/c/o", headers={"Range": "bytes=65530-65545"})
    assert resp.status_int == 206
    assert resp.body == BODY[65530:65546]
    assert resp.headers["Content-Range"] == f"bytes 65530-65545/{len(BODY)}"
    assert resp.headers["Content-Length"] == "16"
    assert resp.headers["Content-Type"] == "application/x-test"


def test_suffix_range(stored):
    env, _ = stored
    resp = env.request("/sda/1/a/c/o", headers={"Range": "bytes=-70000"})
    assert resp.status_int == 206
    assert resp.body == BODY[-70000:]


def test_multiple_ranges_are_multipart(stored):
    env, _ = stored
    resp = env.request("/sda/1/a/c/o", headers={"Range": "bytes=0-3,100-103,-2"})
    assert resp.status_int == 206
    ctype = resp.headers["Content-Type"]
    assert ctype.startswith("multipart/byteranges;boundary=")
    boundary = ctype.split("boundary=", 1)[1]
    assert int(resp.headers["Content-Length"]) == len(resp.body)
    parts = resp.body.split(f"--{boundary}".encode())
    assert parts[0] == b"" and parts[-1] == b"--"
    expected = [(0, 4), (100, 104), (len(BODY) - 2, len(BODY))]
    for raw, (start, end) in zip(parts[1:-1], expected, strict=True):
        head, _, payload = raw.partition(b"\r\n\r\n")
        assert b"Content-Type: application/x-test" in head
        assert f"Content-Range: bytes {start}-{end - 1}/{len(BODY)}".encode() in head
        assert payload == BODY[start:end] + b"\r\n"


def test_unsatisfiable_range_is_416(stored):
    env, _ = stored
    resp = env.request("/sda/1/a/c/o", headers={"Range": f"bytes={len(BODY)}-"})
    assert resp.status_int == 416
    assert resp.headers["Content-Range"] == f"bytes */{len(BODY)}"


def test_malformed_range_sends_everything(stored):
    env, _ = stored
    resp = env.request("/sda/1/a/c/o", headers={"Range": "bytes=9-1"})
    assert resp.status_int == 200
    assert resp.body == BODY


def test_if_match(stored):
    env, _ = stored
    etag = hashlib.md5(BODY).hexdigest()
    assert env.request("/sda/1/a/c/o", headers={"If-Match": f'"{etag}"'}).status_int == 200
    assert env.request("/sda/1/a/c/o", headers={"If-Match": "*"}).status_int == 200
    resp = env.request("/sda/1/a/c/o", headers={"If-Match": '"nope"'})
    assert resp.status_int == 412
    assert resp.body == b""
    assert env.request("/sda/1/a/c/o", "HEAD", headers={"If-Match": "nope"}).status_int == 412


def test_if_none_match(stored):
    env, _ = stored
    etag = hashlib.md5(BODY).hexdigest()
    resp = env.request("/sda/1/a/c/o", headers={"If-None-Match": f'"x", "{etag}"'})
    assert resp.status_int == 304
    assert resp.headers["ETag"] == etag
    assert resp.body == b""
    assert env.request("/sda/1/a/c/o", headers={"If-None-Match": "*"}).status_int == 304
    assert env.request("/sda/1/a/c/o", headers={"If-None-Match": '"x"'}).status_int == 200


def test_if_modified_since(stored):
    env, stamp = stored
    last_modified = math.ceil(stamp.seconds)
    at = email.utils.formatdate(last_modified, usegmt=True)
    before = email.utils.formatdate(last_modified - 10, usegmt=True)
    assert env.request("/sda/1/a/c/o", headers={"If-Modified-Since": at}).status_int == 304
    assert env.request("/sda/1/a/c/o", headers={"If-Modified-Since": before}).status_int == 200
    assert env.request("/sda/1/a/c/o", headers={"If-Modified-Since": "junk"}).status_int == 200
    resp = env.request("/sda/1/a/c/o")
    assert resp.headers["Last-Modified"] == at


def test_if_unmodified_since(stored):
    env, stamp = stored
    last_modified = math.ceil(stamp.seconds)
    at = email.utils.formatdate(last_modified, usegmt=True)
    before = email.utils.formatdate(last_modified - 10, usegmt=True)
    assert env.request("/sda/1/a/c/o", headers={"If-Unmodified-Since": at}).status_int == 200
    assert env.request("/sda/1/a/c/o",
                       headers={"If-Unmodified-Since": before}).status_int == 412


def test_conditionals_with_range(stored):
    env, _ = stored
    etag = hashlib.md5(BODY).hexdigest()
    resp = env.request("/sda/1/a/c/o", headers={"If-Match": etag, "Range": "bytes=1-2"})
    assert resp.status_int == 206 and resp.body == BODY[1:3]


def test_unsatisfiable_range_names_the_object(stored):
    env, _ = stored
    resp = env.request("/sda/1/a/c/o", headers={"Range": "bytes=-0"})
    assert resp.status_int == 416
    assert resp.headers["ETag"] == hashlib.md5(BODY).hexdigest()
    assert resp.headers["Accept-Ranges"] == "bytes"


def test_if_match_and_if_unmodified_since_are_both_checked(stored):
    env, stamp = stored
    etag = hashlib.md5(BODY).hexdigest()
    before = email.utils.formatdate(math.ceil(stamp.seconds) - 10, usegmt=True)
    resp = env.request("/sda/1/a/c/o",
                       headers={"If-Match": etag, "If-Unmodified-Since": before})
    assert resp.status_int == 412


def test_if_modified_since_a_future_date_is_304(stored):
    env, _ = stored
    tomorrow = email.utils.formatdate(time.time() + 86400, usegmt=True)
    assert env.request("/sda/1/a/c/o",
                       headers={"If-Modified-Since": tomorrow}).status_int == 304


def test_asctime_dates_are_gmt(stored):
    env, stamp = stored
    before = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(stamp.seconds - 86400))
    assert env.request("/sda/1/a/c/o",
                       headers={"If-Unmodified-Since": before}).status_int == 412
    assert env.request("/sda/1/a/c/o",
                       headers={"If-Modified-Since": before}).status_int == 200

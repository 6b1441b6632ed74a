"""SLO features through the in-process pipeline: ranged and inline segments, nested ranged
manifests, format=raw, part numbers, conditions, If-None-Match and heartbeat on PUT, several
ranges, manifest copies and container listings."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest


def md5hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="module")
def segs(tester):
    assert tester("PUT", "slof").status_int in (201, 202)
    for letter, size in (("a", 1000), ("b", 1000), ("c", 10)):
        assert tester("PUT", f"slof/seg_{letter}", letter.encode() * size).status_int == 201
    return {"a": b"a" * 1000, "b": b"b" * 1000, "c": b"c" * 10}


def put_manifest(tester, name, entries, headers=None, query=""):
    return tester("PUT", f"slof/{name}?multipart-manifest=put{query}",
                  json.dumps(entries).encode(), headers or {})


def test_ranged_and_inline_segments(tester, segs):
    entries = [{"path": "/slof/seg_a", "range": "-3"},
               {"data": base64.b64encode(b"XY").decode()},
               {"path": "slof/seg_b", "range": "10-14"}]
    resp = put_manifest(tester, "mixed", entries)
    assert resp.status_int == 201, resp.body
    got = tester("GET", "slof/mixed")
    assert got.body == b"aaaXYbbbbb"
    expected = md5hex((f"{md5hex(segs['a'])}:997-999;" + md5hex(b"XY")
                       + f"{md5hex(segs['b'])}:10-14;").encode())
    assert got.headers["Etag"] == f'"{expected}"' == resp.headers["Etag"]
    assert tester("HEAD", "slof/mixed").headers["Content-Length"] == "10"
    assert tester("GET", "slof/mixed", headers={"Range": "bytes=2-5"}).body == b"aXYb"


def test_a_nested_manifest_with_ranges(tester, segs):
    assert put_manifest(tester, "inner", [{"path": "/slof/seg_a"},
                                          {"path": "/slof/seg_c"}]).status_int == 201
    outer = [{"path": "/slof/inner", "range": "995-1004"}, {"path": "/slof/seg_b",
                                                            "range": "0-1"}]
    assert put_manifest(tester, "outer", outer).status_int == 201
    assert tester("GET", "slof/outer").body == b"a" * 5 + b"c" * 5 + b"bb"


@pytest.mark.parametrize("entry", [{"path": "/slof/seg_c", "range": "10-"},
                                   {"path": "/slof/seg_c", "range": "1-2,4-5"},
                                   {"path": "/slof/nothing"}])
def test_bad_segments_are_400_and_store_nothing(tester, segs, entry):
    resp = put_manifest(tester, "refused", [entry])
    assert resp.status_int == 400
    assert len(resp.body.strip().splitlines()) == 1
    assert tester("HEAD", "slof/refused").status_int == 404


def test_format_raw_is_the_put_format_and_can_be_put_again(tester, segs):
    assert put_manifest(tester, "rawsrc", [{"path": "/slof/seg_c", "range": "2-3"},
                                           {"path": "/slof/seg_b"}]).status_int == 201
    raw = tester("GET", "slof/rawsrc?multipart-manifest=get&format=raw")
    assert raw.status_int == 200
    assert raw.headers["Etag"].strip('"') == md5hex(raw.body)
    value = json.loads(raw.body)
    assert value[0] == {"path": "/slof/seg_c", "etag": md5hex(segs["c"]), "size_bytes": 10,
                        "range": "2-3"}
    assert tester("PUT", "slof/rawcopy?multipart-manifest=put", raw.body).status_int == 201
    assert tester("GET", "slof/rawcopy").body == b"cc" + segs["b"]


def test_part_numbers(tester, segs):
    assert put_manifest(tester, "parts", [{"path": "/slof/seg_a"}, {"path": "/slof/seg_c"}]) \
        .status_int == 201
    part = tester("GET", "slof/parts?part-number=2")
    assert part.status_int == 206 and part.body == segs["c"]
    assert part.headers["Content-Range"] == "bytes 1000-1009/1010"
    assert part.headers["X-Parts-Count"] == "2"
    head = tester("HEAD", "slof/parts?part-number=1")
    assert head.status_int == 206 and head.headers["Content-Length"] == "1000"
    beyond = tester("GET", "slof/parts?part-number=3")
    assert beyond.status_int == 416 and beyond.headers["Content-Range"] == "bytes */1010"
    invalid = tester("GET", "slof/parts?part-number=0")
    assert invalid.status_int == 400
    assert invalid.body == b"Part number must be an integer greater than 0"


def test_conditions_are_checked_against_the_large_objects_etag(tester, segs):
    assert put_manifest(tester, "cond", [{"path": "/slof/seg_c"}]).status_int == 201
    etag = tester("HEAD", "slof/cond").headers["Etag"]
    for method in ("GET", "HEAD"):
        assert tester(method, "slof/cond", headers={"If-Match": etag}).status_int == 200
        assert tester(method, "slof/cond", headers={"If-Match": '"x"'}).status_int == 412
        assert tester(method, "slof/cond", headers={"If-None-Match": etag}).status_int == 304
        assert tester(method, "slof/cond",
                      headers={"If-None-Match": '"x"'}).status_int == 200


def test_if_none_match_on_manifest_put(tester, segs):
    entries = [{"path": "/slof/seg_c"}]
    assert put_manifest(tester, "inm", entries, {"If-None-Match": '"x"'}).status_int == 400
    assert put_manifest(tester, "inm", entries, {"If-None-Match": "*"}).status_int == 201
    assert put_manifest(tester, "inm", entries, {"If-None-Match": "*"}).status_int == 412


def test_heartbeat_reports_the_outcome_in_the_body(tester, segs):
    resp = put_manifest(tester, "beat", [{"path": "/slof/seg_c"}, {"path": "nope/x"}],
                        {"Accept": "application/json"}, "&heartbeat=on")
    assert resp.status_int == 202
    head, _, report = resp.body.partition(b"\r\n\r\n")
    assert not head.strip()
    outcome = json.loads(report)
    assert outcome["Response Status"] == "400 Bad Request"
    assert outcome["Errors"] == [["nope/x", "404 Not Found"]]
    assert tester("HEAD", "slof/beat").status_int == 404
    resp = put_manifest(tester, "beat", [{"path": "/slof/seg_c"}], {}, "&heartbeat=on")
    assert b"Response Status: 201 Created" in resp.body


def test_several_ranges_are_multipart(tester, segs):
    assert put_manifest(tester, "multi", [{"path": "/slof/seg_a"}, {"path": "/slof/seg_c"}]) \
        .status_int == 201
    resp = tester("GET", "slof/multi", headers={"Range": "bytes=0-1,1000-1001"})
    assert resp.status_int == 206
    assert resp.headers["Content-Type"].startswith("multipart/byteranges")
    assert b"Content-Range: bytes 0-1/1010\r\n\r\naa" in resp.body
    assert b"Content-Range: bytes 1000-1001/1010\r\n\r\ncc" in resp.body


def test_manifest_copy_and_listing_show_the_large_object(tester, segs):
    assert put_manifest(tester, "listed", [{"path": "/slof/seg_a"}, {"path": "/slof/seg_c"}]) \
        .status_int == 201
    copied = tester("COPY", "slof/listed?multipart-manifest=get",
                    headers={"Destination": "slof/listed-copy"})
    assert copied.status_int == 201, copied.body
    slo_etag = tester("HEAD", "slof/listed").headers["Etag"]
    manifest = tester("GET", "slof/listed?multipart-manifest=get")
    assert tester("GET", "slof/listed-copy?multipart-manifest=get").body == manifest.body
    listing = {item["name"]: item for item in json.loads(
        tester("GET", "slof?format=json&prefix=listed").body)}
    for name in ("listed", "listed-copy"):
        assert listing[name]["bytes"] == 1010
        assert listing[name]["hash"] == md5hex(manifest.body)
        assert listing[name]["slo_etag"] == slo_etag


def test_part_of_an_slo_is_copied(tester, segs):
    assert put_manifest(tester, "partsrc", [{"path": "/slof/seg_a"},
                                            {"path": "/slof/seg_c"}]).status_int == 201
    resp = tester("PUT", "slof/partcopy?part-number=2", b"",
                  {"X-Copy-From": "slof/partsrc"})
    assert resp.status_int == 201
    assert tester("GET", "slof/partcopy").body == segs["c"]


def test_a_post_that_changes_the_type_keeps_the_listing_of_the_large_object(tester, segs):
    assert put_manifest(tester, "posted", [{"path": "/slof/seg_a"}, {"path": "/slof/seg_c"}]) \
        .status_int == 201
    slo_etag = tester("HEAD", "slof/posted").headers["Etag"]
    assert tester("POST", "slof/posted", headers={"Content-Type": "image/jpeg"}).status_int == 202
    entry = json.loads(tester("GET", "slof?format=json&prefix=posted").body)[0]
    assert (entry["bytes"], entry["content_type"], entry["slo_etag"]) == \
        (1010, "image/jpeg", slo_etag)

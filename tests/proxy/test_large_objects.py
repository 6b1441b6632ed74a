"""DLO and SLO through the proxy: manifests, streaming, ranges, validation, delete."""
from __future__ import annotations

import hashlib
import json

import pytest


@pytest.fixture(scope="module")
def segs(tester):
    for name in ("lo", "lo_segments"):
        assert tester("PUT", name).status_int in (201, 202)
    parts = [bytes([65 + i]) * (100000 + i) for i in range(5)]
    etags = []
    for index, part in enumerate(parts):
        resp = tester("PUT", f"lo_segments/big/{index:08d}", part)
        assert resp.status_int == 201
        etags.append(resp.headers["Etag"])
    return parts, etags


def expected_etag(etags):
    return '"%s"' % hashlib.md5("".join(etags).encode()).hexdigest()


def test_dlo_get_head_range(tester, segs):
    parts, etags = segs
    whole = b"".join(parts)
    resp = tester("PUT", "lo/dlo", b"", {"X-Object-Manifest": "lo_segments/big/"})
    assert resp.status_int == 201
    got = tester("GET", "lo/dlo")
    assert got.status_int == 200 and got.body == whole
    assert got.headers["Etag"] == expected_etag(etags)
    assert got.headers["X-Object-Manifest"] == "lo_segments/big/"
    head = tester("HEAD", "lo/dlo")
    assert head.headers["Content-Length"] == str(len(whole))
    ranged = tester("GET", "lo/dlo", headers={"Range": "bytes=99990-200010"})
    assert ranged.status_int == 206 and ranged.body == whole[99990:200011]
    assert ranged.headers["Content-Range"] == f"bytes 99990-200010/{len(whole)}"
    assert tester("GET", "lo/dlo", headers={"Range": f"bytes={len(whole)}-"}).status_int == 416


def slo_manifest(etags, parts):
    return json.dumps([{"path": f"/lo_segments/big/{i:08d}", "etag": etags[i].strip('"'),
                        "size_bytes": len(parts[i])} for i in range(len(parts))]).encode()


def test_slo_put_get_range_and_manifest(tester, segs):
    parts, etags = segs
    whole = b"".join(parts)
    resp = tester("PUT", "lo/slo?multipart-manifest=put", slo_manifest(etags, parts),
                  {"Content-Type": "application/x-big", "X-Object-Meta-Kind": "slo"})
    assert resp.status_int == 201, resp.body
    got = tester("GET", "lo/slo")
    assert got.body == whole
    assert got.headers["Etag"] == expected_etag(etags)
    assert got.headers["X-Static-Large-Object"] == "True"
    assert got.headers["Content-Type"] == "application/x-big"
    assert got.headers["X-Object-Meta-Kind"] == "slo"
    head = tester("HEAD", "lo/slo")
    assert head.headers["Content-Length"] == str(len(whole))
    assert head.headers["Etag"] == expected_etag(etags)
    ranged = tester("GET", "lo/slo", headers={"Range": "bytes=-150000"})
    assert ranged.status_int == 206 and ranged.body == whole[-150000:]
    ranged = tester("GET", "lo/slo", headers={"Range": "bytes=5-10"})
    assert ranged.body == whole[5:11]
    stored = tester("GET", "lo/slo?multipart-manifest=get")
    manifest = stored.json
    assert [m["name"] for m in manifest] == [f"/lo_segments/big/{i:08d}" for i in range(5)]
    assert manifest[0]["bytes"] == len(parts[0]) and manifest[0]["hash"] == etags[0]
    assert "X-Object-Sysmeta-Slo-Etag" not in got.headers


@pytest.mark.parametrize("mutate,reason", [
    (lambda m: m[1].update(etag="0" * 32), "Etag Mismatch"),
    (lambda m: m[2].update(size_bytes=1), "Size Mismatch"),
    (lambda m: m[0].update(path="/lo_segments/missing"), "404"),
    (lambda m: m[0].update(path="nocontainer"), "path must be"),
    (lambda m: m.clear(), "non-empty"),
])
def test_slo_bad_manifest_is_400_and_stores_nothing(tester, segs, mutate, reason):
    parts, etags = segs
    manifest = json.loads(slo_manifest(etags, parts))
    mutate(manifest)
    resp = tester("PUT", "lo/bad-slo?multipart-manifest=put", json.dumps(manifest).encode())
    assert resp.status_int == 400
    assert reason in resp.body.decode()
    assert len(resp.body.strip().splitlines()) == 1
    assert tester("HEAD", "lo/bad-slo").status_int == 404


def test_slo_not_json_and_too_many_segments(tester, proxy_app, segs):
    assert tester("PUT", "lo/bad-slo?multipart-manifest=put", b"{nope").status_int == 400
    many = json.dumps([{"path": "/lo_segments/x", "etag": None, "size_bytes": None}] * 1001)
    assert tester("PUT", "lo/bad-slo?multipart-manifest=put", many.encode()).status_int == 400
    assert tester("HEAD", "lo/bad-slo").status_int == 404


def test_slo_delete_removes_segments(tester):
    tester("PUT", "lo_segments/del/0", b"one")
    tester("PUT", "lo_segments/del/1", b"two")
    manifest = json.dumps([{"path": "/lo_segments/del/0", "etag": None, "size_bytes": None},
                           {"path": "/lo_segments/del/1", "etag": None, "size_bytes": 3}])
    assert tester("PUT", "lo/del-slo?multipart-manifest=put", manifest.encode()).status_int \
        == 201
    assert tester("GET", "lo/del-slo").body == b"onetwo"
    resp = tester("DELETE", "lo/del-slo?multipart-manifest=delete")
    assert resp.status_int == 200
    assert resp.json["Number Deleted"] == 3
    for path in ("lo/del-slo", "lo_segments/del/0", "lo_segments/del/1"):
        assert tester("HEAD", path).status_int == 404


def test_slo_with_changed_first_segment_is_409_before_any_byte(tester):
    tester("PUT", "lo_segments/chg/0", b"before")
    manifest = json.dumps([{"path": "/lo_segments/chg/0", "etag": None, "size_bytes": None}])
    tester("PUT", "lo/chg-slo?multipart-manifest=put", manifest.encode())
    tester("PUT", "lo_segments/chg/0", b"after!")
    resp = tester("GET", "lo/chg-slo")
    assert resp.status_int == 409
    assert b"changed" in resp.body and len(resp.body.splitlines()) == 1


def test_slo_with_changed_later_segment_cuts_the_stream(tester):
    tester("PUT", "lo_segments/chg2/0", b"first")
    tester("PUT", "lo_segments/chg2/1", b"before")
    manifest = json.dumps([{"path": f"/lo_segments/chg2/{i}", "etag": None, "size_bytes": None}
                           for i in range(2)])
    tester("PUT", "lo/chg2-slo?multipart-manifest=put", manifest.encode())
    tester("PUT", "lo_segments/chg2/1", b"after!")
    from proxy.get_resume import StreamCut

    with pytest.raises(StreamCut):
        tester("GET", "lo/chg2-slo").body  # noqa: B018


def test_copy_of_large_objects_copies_their_content(tester, segs):
    parts, etags = segs
    whole = b"".join(parts)
    tester("PUT", "lo/dlo-src", b"", {"X-Object-Manifest": "lo_segments/big/"})
    assert tester("COPY", "lo/dlo-src", headers={"Destination": "lo/dlo-copy"}).status_int == 201
    copy = tester("GET", "lo/dlo-copy")
    assert copy.body == whole and "X-Object-Manifest" not in copy.headers
    tester("PUT", "lo/slo-src?multipart-manifest=put", slo_manifest(etags, parts))
    resp = tester("PUT", "lo/slo-copy", b"", {"X-Copy-From": "lo/slo-src"})
    assert resp.status_int == 201
    copy = tester("GET", "lo/slo-copy")
    assert copy.body == whole and "X-Static-Large-Object" not in copy.headers

"""Large objects cannot make a GET recurse without end: cycles, depth, DLOs read as stored.

On the real storage cluster (the proxy in-process, so the backend requests one client
request causes can be counted): an SLO cycle is a 409 (ranged or not) after a handful of
backend requests, a manifest listing itself is refused at PUT, nesting deeper than 10
manifests is refused at PUT and at GET, and a DLO whose prefix matches itself or another DLO
serves those manifests' own bytes instead of expanding them.
"""
from __future__ import annotations

import json

import pytest

from proxy.segments import MAX_MANIFEST_DEPTH, TOO_DEEP


@pytest.fixture(scope="module")
def bounds(tester):
    assert tester("PUT", "bounds").status_int in (201, 202)
    return tester


@pytest.fixture
def backend_requests(proxy_app, monkeypatch):
    """Counts every request the proxy sends to a storage node."""
    sent = []
    real = proxy_app.app.client.request

    def counting(node, part, method, path, *args, **kwargs):
        sent.append((method, path))
        return real(node, part, method, path, *args, **kwargs)

    monkeypatch.setattr(proxy_app.app.client, "request", counting)
    return sent


def slo(tester, name: str, *segments: str):
    manifest = [{"path": f"/bounds/{s}", "etag": None, "size_bytes": None} for s in segments]
    return tester("PUT", f"bounds/{name}?multipart-manifest=put", json.dumps(manifest).encode())


def one_line(resp) -> bool:
    return len(resp.body.strip().splitlines()) == 1


def test_slo_cycle_is_409_ranged_or_not_in_a_few_backend_requests(bounds, backend_requests):
    assert bounds("PUT", "bounds/cyc-a", b"plain for now").status_int == 201
    assert slo(bounds, "cyc-b", "cyc-a").status_int == 201
    assert slo(bounds, "cyc-a", "cyc-b").status_int == 201  # a -> b -> a
    for headers in ({}, {"Range": "bytes=3-7"}, {"Range": "bytes=-2"}):
        backend_requests.clear()
        resp = bounds("GET", "bounds/cyc-a", headers=headers)
        assert resp.status_int == 409, (headers, resp.body)
        assert b"manifest cycle" in resp.body and one_line(resp)
        assert len(backend_requests) < 40, backend_requests
    assert bounds("HEAD", "bounds/cyc-a").status_int == 200  # sizes come from sysmeta
    assert bounds("GET", "bounds/cyc-a?multipart-manifest=get").status_int == 200


def test_slo_cycle_behind_a_good_first_segment_cuts_the_stream(bounds):
    from proxy.get_resume import StreamCut

    assert bounds("PUT", "bounds/late-seg", b"good bytes").status_int == 201
    assert bounds("PUT", "bounds/late-a", b"plain").status_int == 201
    assert slo(bounds, "late-b", "late-seg", "late-a").status_int == 201
    assert slo(bounds, "late-a", "late-seg", "late-b").status_int == 201
    with pytest.raises(StreamCut, match="manifest cycle"):
        bounds("GET", "bounds/late-a").body  # noqa: B018


def test_manifest_listing_itself_is_refused_at_put(bounds):
    assert bounds("PUT", "bounds/self", b"plain").status_int == 201
    resp = slo(bounds, "self", "self")
    assert resp.status_int == 400 and b"itself" in resp.body and one_line(resp)
    assert bounds("GET", "bounds/self").body == b"plain"


def test_nesting_deeper_than_the_limit_is_refused_at_put(bounds):
    assert bounds("PUT", "bounds/deep-0", b"bottom").status_int == 201
    for level in range(1, MAX_MANIFEST_DEPTH + 1):
        assert slo(bounds, f"deep-{level}", f"deep-{level - 1}").status_int == 201, level
    assert bounds("GET", f"bounds/deep-{MAX_MANIFEST_DEPTH}").body == b"bottom"
    # As Swift: a deeper manifest is stored, and refused (409, Swift's page) when read.
    assert slo(bounds, "deep-too", f"deep-{MAX_MANIFEST_DEPTH}").status_int == 201
    resp = bounds("GET", "bounds/deep-too")
    assert resp.status_int == 409 and resp.body == TOO_DEEP.encode() and one_line(resp)


def test_nesting_made_deeper_after_put_is_refused_at_get(bounds, backend_requests):
    # Built on a plain object, then the bottom becomes an SLO: 11 manifests on one path.
    assert bounds("PUT", "bounds/grow-0", b"plain").status_int == 201
    for level in range(1, MAX_MANIFEST_DEPTH + 1):
        assert slo(bounds, f"grow-{level}", f"grow-{level - 1}").status_int == 201, level
    assert bounds("PUT", "bounds/grow-bottom", b"plain").status_int == 201
    assert slo(bounds, "grow-0", "grow-bottom").status_int == 201
    for headers in ({}, {"Range": "bytes=1-2"}):
        backend_requests.clear()
        resp = bounds("GET", f"bounds/grow-{MAX_MANIFEST_DEPTH}", headers=headers)
        assert resp.status_int == 409 and resp.body == TOO_DEEP.encode() and one_line(resp)
        assert len(backend_requests) < 80, len(backend_requests)


def test_dlo_matching_itself_serves_its_own_bytes(bounds):
    assert bounds("PUT", "bounds/selfdlo-1", b"one").status_int == 201
    assert bounds("PUT", "bounds/selfdlo-2", b"two").status_int == 201
    put = bounds("PUT", "bounds/selfdlo", b"[m]", {"X-Object-Manifest": "bounds/selfdlo"})
    assert put.status_int == 201
    resp = bounds("GET", "bounds/selfdlo")
    assert resp.status_int == 200 and resp.body == b"[m]onetwo"
    assert bounds("HEAD", "bounds/selfdlo").headers["Content-Length"] == "9"
    ranged = bounds("GET", "bounds/selfdlo", headers={"Range": "bytes=2-4"})
    assert ranged.status_int == 206 and ranged.body == b"]on"


def test_dlos_matching_each_other_do_not_expand(bounds, backend_requests):
    assert bounds("PUT", "bounds/pair-a", b"A", {"X-Object-Manifest": "bounds/pair-b"}) \
        .status_int == 201
    assert bounds("PUT", "bounds/pair-b", b"B", {"X-Object-Manifest": "bounds/pair-a"}) \
        .status_int == 201
    backend_requests.clear()
    assert bounds("GET", "bounds/pair-a").body == b"B"
    assert bounds("GET", "bounds/pair-b", headers={"Range": "bytes=0-0"}).body == b"A"
    assert len(backend_requests) < 40, backend_requests


def test_slo_over_a_dlo_expands_it_once(bounds):
    assert bounds("PUT", "bounds/inner-1", b"xy").status_int == 201
    assert bounds("PUT", "bounds/inner", b"", {"X-Object-Manifest": "bounds/inner-"}) \
        .status_int == 201
    assert slo(bounds, "outer", "inner").status_int == 201
    assert bounds("GET", "bounds/outer").body == b"xy"


def test_copy_of_a_cyclic_slo_is_409_and_writes_nothing(bounds):
    assert bounds("PUT", "bounds/cp-a", b"plain").status_int == 201
    assert slo(bounds, "cp-b", "cp-a").status_int == 201
    assert slo(bounds, "cp-a", "cp-b").status_int == 201
    resp = bounds("COPY", "bounds/cp-a", headers={"Destination": "bounds/cp-copy"})
    assert resp.status_int == 409 and one_line(resp)
    assert bounds("HEAD", "bounds/cp-copy").status_int == 404

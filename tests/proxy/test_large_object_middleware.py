"""`slo` and `dlo` as middleware: what passes through them, and what the app below sees."""
from __future__ import annotations

import json

from proxy.pipeline import make_app
from tests.proxy.cluster import pipeline_conf
from tests.proxy.conftest import Client, rings_for


def sysmeta_in(resp) -> list[str]:
    return [name for name in resp.headers if name.lower().startswith("x-object-sysmeta-")]


def make_slo(tester, container: str) -> bytes:
    assert tester("PUT", container).status_int in (201, 202)
    first = tester("PUT", f"{container}/seg/1", b"a" * 10)
    second = tester("PUT", f"{container}/seg/2", b"b" * 5)
    manifest = json.dumps([
        {"path": f"/{container}/seg/1", "etag": first.headers["Etag"], "size_bytes": 10},
        {"path": f"/{container}/seg/2", "etag": second.headers["Etag"], "size_bytes": 5},
    ]).encode()
    assert tester("PUT", f"{container}/slo?multipart-manifest=put", manifest).status_int == 201
    return b"a" * 10 + b"b" * 5


def test_sysmeta_never_leaves_the_slo_middleware(tester):
    whole = make_slo(tester, "lomw")
    answers = [tester("GET", "lomw/slo"), tester("HEAD", "lomw/slo"),
               tester("GET", "lomw/slo", headers={"Range": "bytes=8-11"}),
               tester("GET", "lomw/slo?multipart-manifest=get"),
               tester("GET", "lomw/seg/1")]
    assert answers[0].body == whole and answers[2].body == whole[8:12]
    assert answers[1].headers["Content-Length"] == str(len(whole))
    assert answers[3].headers["Content-Type"].startswith("application/json")
    assert [sysmeta_in(resp) for resp in answers] == [[]] * len(answers)


def test_clients_cannot_write_what_only_the_slo_middleware_may(tester):
    assert tester("PUT", "lomw").status_int in (201, 202)
    resp = tester("PUT", "lomw/fake", b"[]", {"X-Static-Large-Object": "True",
                                              "X-Object-Sysmeta-Slo-Size": "99"})
    assert resp.status_int == 400
    assert tester("HEAD", "lomw/fake").status_int == 404


def test_without_slo_a_manifest_is_a_plain_object(storage_cluster, tester):
    make_slo(tester, "lomw-plain")
    app = make_app(pipeline_conf(storage_cluster, "catch_errors auth dlo proxy-server"),
                   rings_for(storage_cluster.conf_dir))
    plain = Client(app)
    plain.token, plain.account = tester.token, tester.account
    raw = plain("GET", "lomw-plain/slo")
    assert raw.status_int == 200 and raw.headers["X-Static-Large-Object"] == "True"
    assert [entry["name"] for entry in json.loads(raw.body)] == ["/lomw-plain/seg/1",
                                                                 "/lomw-plain/seg/2"]
    assert sysmeta_in(raw) == []
    # A DLO is still expanded: dlo is in this pipeline.
    assert plain("PUT", "lomw-plain/dlo", b"", {"X-Object-Manifest": "lomw-plain/seg/"}) \
        .status_int == 201
    assert plain("GET", "lomw-plain/dlo").body == b"a" * 10 + b"b" * 5
    assert tester("GET", "lomw-plain/slo").body == b"a" * 10 + b"b" * 5


def test_an_slo_segment_that_is_a_dlo_is_expanded_below_slo(tester):
    make_slo(tester, "lomw-mix")
    assert tester("PUT", "lomw-mix/dlo", b"", {"X-Object-Manifest": "lomw-mix/seg/"}) \
        .status_int == 201
    manifest = json.dumps([{"path": "/lomw-mix/dlo", "etag": None, "size_bytes": 15},
                           {"path": "/lomw-mix/seg/2", "etag": None, "size_bytes": 5}]).encode()
    assert tester("PUT", "lomw-mix/outer?multipart-manifest=put", manifest).status_int == 201
    assert tester("GET", "lomw-mix/outer").body == b"a" * 10 + b"b" * 5 + b"b" * 5


def test_anonymous_manifest_put_is_unauthorized(tester, anonymous):
    make_slo(tester, "lomw-anon")
    manifest = b'[{"path": "/lomw-anon/seg/1", "etag": null, "size_bytes": null}]'
    resp = anonymous.call("PUT", "/v1/AUTH_test/lomw-anon/x?multipart-manifest=put", manifest)
    assert resp.status_int == 401
    assert tester("HEAD", "lomw-anon/x").status_int == 404

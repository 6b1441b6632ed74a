"""`bulk`: archive extraction and bulk delete, against a fake app and a real cluster."""
from __future__ import annotations

import bz2
import gzip
import io
import json
import tarfile
import uuid
from xml.dom import minidom

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webob import Request

from proxy.bulk_paths import (
    MAX_PATH_LENGTH,
    PathRefused,
    delete_target,
    member_destination,
    read_delete_list,
)
from proxy.bulk_report import pick_format, render
from proxy.middleware.bulk import Bulk, filter_factory
from proxy.pipeline import make_app
from tests.proxy.cluster import pipeline_conf
from tests.proxy.conftest import Client, rings_for

OPTIONS = {"max_containers_per_extraction": 3, "max_failed_extractions": 5,
           "max_deletes_per_request": 4, "max_failed_deletes": 5, "yield_frequency": 10.0}


def make_tar(members: dict, compression: str = "") -> bytes:
    """{name: bytes | None (a directory)} -> the archive's bytes."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:" + compression) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                archive.addfile(info)
            else:
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
    return out.getvalue()


class FakeApp:
    """Records sub-requests (method, path, body) and answers from a {path: status} map."""

    def __init__(self, statuses=None, default_put=201):
        self.calls = []
        self.statuses = statuses or {}
        self.default_put = default_put

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        body = b""
        if method == "PUT" and environ.get("CONTENT_LENGTH"):
            body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        self.calls.append((method, path, body, environ.get("HTTP_X_AUTH_TOKEN")))
        default = {"HEAD": 204, "PUT": self.default_put, "DELETE": 204}.get(method, 200)
        status = self.statuses.get((method, path), default)
        start_response(f"{status} X", [("Content-Length", "0")])
        return [b""]


def run(app, method, path, body, accept="application/json"):
    req = Request.blank(path, method=method, body=body,
                        headers={"Accept": accept, "X-Auth-Token": "tok"})
    return req.get_response(Bulk(app, OPTIONS))


# --- pure pieces ---------------------------------------------------------------------------

@pytest.mark.parametrize("upload, name, expected", [
    ("", "c/o", ("c", "o")),
    ("", "/c/a/b", ("c", "a/b")),
    ("", "./c/o", ("c", "o")),
    ("", "././/c/o", ("c", "o")),
    ("cont", "x.txt", ("cont", "x.txt")),
    ("cont/pre", "x.txt", ("cont", "pre/x.txt")),
    ("cont", "a/b/c", ("cont", "a/b/c")),
])
def test_member_destination(upload, name, expected):
    assert member_destination(upload, name) == expected


@pytest.mark.parametrize("upload, name", [
    ("", "../c/o"), ("cont", "a/../../x"), ("cont", ".."), ("", "top-level-file"),
    ("", ""), ("cont", "./"), ("", "c/\udcff"),
])
def test_member_destination_refuses(upload, name):
    with pytest.raises(PathRefused):
        member_destination(upload, name)


def test_delete_targets():
    assert delete_target("/c/o%20x") == ("c", "o x")
    assert delete_target("c") == ("c", None)
    for bad in ("/", "%ff%fe", "x" * (MAX_PATH_LENGTH + 1)):
        with pytest.raises(PathRefused):
            delete_target(bad)


def test_read_delete_list_bounds_lines_and_memory():
    body = b"a/1\r\n\n  b/2  \nc" + b"\n" + b"x" * (MAX_PATH_LENGTH * 3) + b"\nd/4"
    lines = read_delete_list(io.BytesIO(body), 10, chunk_size=7)
    assert lines[:3] == ["a/1", "b/2", "c"]
    assert len(lines[3]) == MAX_PATH_LENGTH + 1 and lines[4] == "d/4" and len(lines) == 5
    with pytest.raises(ValueError):
        read_delete_list(io.BytesIO(b"a\nb\nc\n"), 2)


def test_pick_format():
    assert pick_format(None) == "text/plain"
    assert pick_format("application/json") == "application/json"
    assert pick_format("text/xml") == "text/xml"
    assert pick_format("application/xml;q=0.5, application/json;q=0.9") == "application/json"
    assert pick_format("image/png") == "text/plain"


def test_render_formats():
    fields = [("Number Deleted", 2), ("Response Status", "400 Bad Request")]
    errors = [("/c/<o>", "409 Conflict")]
    ctype, text = render("text/plain", "delete", fields, errors)
    assert text == b"Number Deleted: 2\nResponse Status: 400 Bad Request\nErrors:\n" \
                   b"/c/<o>, 409 Conflict\n"
    assert json.loads(render("application/json", "delete", fields, errors)[1]) == {
        "Number Deleted": 2, "Response Status": "400 Bad Request",
        "Errors": [["/c/<o>", "409 Conflict"]]}
    tree = minidom.parseString(render("application/xml", "delete", fields, errors)[1])
    assert tree.documentElement.tagName == "delete"
    assert tree.getElementsByTagName("name")[0].firstChild.data == "/c/<o>"


# --- the middleware on a fake app ----------------------------------------------------------

@pytest.mark.parametrize("compression, query", [("", "tar"), ("gz", "tar.gz"),
                                                ("bz2", "tar.bz2")])
def test_extract_into_a_container(compression, query):
    app = FakeApp()
    body = make_tar({"d": None, "d/a.txt": b"alpha", "b.bin": b"\x00" * 3}, compression)
    resp = run(app, "PUT", f"/v1/AUTH_t/cont/pre?extract-archive={query}", body)
    assert resp.status_int == 200
    report = json.loads(resp.body)
    assert report["Number Files Created"] == 2 and report["Response Status"] == "201 Created"
    puts = [(path, data, token) for method, path, data, token in app.calls if method == "PUT"]
    assert puts == [("/v1/AUTH_t/cont/pre/d/a.txt", b"alpha", "tok"),
                    ("/v1/AUTH_t/cont/pre/b.bin", b"\x00" * 3, "tok")]


def test_extract_at_account_level_creates_missing_containers():
    app = FakeApp({("HEAD", "/v1/AUTH_t/new"): 404})
    body = make_tar({"old/x": b"1", "new/y": b"2", "new/z": b"3"})
    resp = run(app, "PUT", "/v1/AUTH_t?extract-archive=tar", body)
    assert json.loads(resp.body)["Number Files Created"] == 3
    assert ("PUT", "/v1/AUTH_t/new", b"", "tok") in app.calls
    assert sum(1 for call in app.calls if call[0] == "HEAD") == 2


def test_extract_refuses_traversal_and_reports_failures():
    app = FakeApp({("PUT", "/v1/AUTH_t/c/quota"): 413})
    body = make_tar({"../escape": b"x", "ok": b"y", "quota": b"z"})
    resp = run(app, "PUT", "/v1/AUTH_t/c?extract-archive=tar", body, "text/plain")
    assert resp.status_int == 200
    text = resp.body.decode()
    assert "Number Files Created: 1\n" in text and "Response Status: 400 Bad Request" in text
    assert "../escape" in text and "/c/quota, 413 Request Entity Too Large" in text
    assert [call[1] for call in app.calls if call[0] == "PUT"] == ["/v1/AUTH_t/c/ok",
                                                                   "/v1/AUTH_t/c/quota"]


def test_extract_stops_at_the_container_limit():
    app = FakeApp({("HEAD", f"/v1/AUTH_t/c{i}"): 404 for i in range(5)})
    body = make_tar({f"c{i}/o": b"x" for i in range(5)})
    report = json.loads(run(app, "PUT", "/v1/AUTH_t?extract-archive=tar", body).body)
    assert report["Number Files Created"] == 3
    assert report["Response Status"] == "400 Bad Request"
    assert "More than 3 containers" in report["Response Body"]


def test_extract_server_failure_is_a_502_report():
    app = FakeApp(default_put=503)
    report = json.loads(run(app, "PUT", "/v1/AUTH_t/c?extract-archive=tar",
                            make_tar({"a": b"1"})).body)
    assert report["Response Status"] == "502 Bad Gateway"
    assert report["Errors"] == [["/c/a", "503 Service Unavailable"]]


@pytest.mark.parametrize("body", [b"", b"not a tar at all" * 100, gzip.compress(b"junk" * 200),
                                  bz2.compress(b"x" * 1000)])
def test_junk_archive_is_a_plain_400(body):
    app = FakeApp()
    resp = run(app, "PUT", "/v1/AUTH_t/c?extract-archive=tar", body)
    assert resp.status_int == 400
    assert json.loads(resp.body)["Response Body"].startswith("Invalid Tar File")
    assert app.calls == []


def test_unknown_archive_format_and_other_requests_pass():
    app = FakeApp()
    assert run(app, "PUT", "/v1/AUTH_t/c?extract-archive=zip", b"").status_int == 400
    assert run(app, "PUT", "/v1/AUTH_t/c/o", b"data").status_int == 201
    assert app.calls[-1][:3] == ("PUT", "/v1/AUTH_t/c/o", b"data")


def test_truncated_archive_after_a_good_member():
    app = FakeApp()
    whole = make_tar({"a": b"1" * 600, "b": b"2" * 5000})
    report = json.loads(run(app, "PUT", "/v1/AUTH_t/c?extract-archive=tar",
                            whole[:2048]).body)
    assert report["Number Files Created"] == 1
    assert report["Response Status"] == "400 Bad Request"
    assert report["Response Body"].startswith("Invalid Tar File")


def test_huge_long_name_record_is_refused_without_reading_it():
    header = tarfile.TarInfo("././@LongLink")
    header.type = tarfile.GNUTYPE_LONGNAME
    header.size = 10**9
    body = header.tobuf(format=tarfile.GNU_FORMAT) + b"x" * 4096
    resp = run(FakeApp(), "PUT", "/v1/AUTH_t/c?extract-archive=tar", body)
    assert resp.status_int == 400


def test_bulk_delete_counts_and_formats():
    app = FakeApp({("DELETE", "/v1/AUTH_t/c/gone"): 404, ("DELETE", "/v1/AUTH_t/full"): 409})
    body = b"/c/o%20one\nc/gone\n\nfull\n%ff\n"
    resp = run(app, "DELETE", "/v1/AUTH_t/c/o?bulk-delete", body, "application/xml")
    assert resp.status_int == 200
    tree = minidom.parseString(resp.body)
    assert tree.documentElement.tagName == "delete"
    values = {tag: tree.getElementsByTagName(tag)[0].firstChild.data
              for tag in ("number_deleted", "number_not_found", "response_status")}
    assert values == {"number_deleted": "1", "number_not_found": "1",
                      "response_status": "400 Bad Request"}
    assert [call[1] for call in app.calls] == ["/v1/AUTH_t/c/o one", "/v1/AUTH_t/c/gone",
                                               "/v1/AUTH_t/full"]


def test_bulk_delete_too_many_paths_deletes_nothing():
    app = FakeApp()
    resp = run(app, "POST", "/v1/AUTH_t?bulk-delete", b"a/1\na/2\na/3\na/4\na/5\n")
    assert resp.status_int == 413 and app.calls == []


def test_keepalive_spaces_between_pieces():
    ticks = iter(range(0, 1000, 6))
    bulk = Bulk(FakeApp(), OPTIONS, clock=lambda: next(ticks))
    req = Request.blank("/v1/AUTH_t?bulk-delete", method="DELETE", body=b"c/1\nc/2\nc/3\nc/4",
                        headers={"Accept": "application/json"})
    body = req.get_response(bulk).body
    assert body.startswith(b" ") and json.loads(body)["Number Deleted"] == 4


def test_capabilities_and_options():
    bulk = filter_factory({"__section__": "filter:bulk"}, max_deletes_per_request="7")(None)
    assert bulk.capabilities["bulk_delete"]["max_deletes_per_request"] == 7
    assert bulk.capabilities["bulk_upload"]["max_containers_per_extraction"] == 10000


# --- junk input never breaks it ------------------------------------------------------------

@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=3000), query=st.sampled_from(["tar", "tar.gz", "tar.bz2"]))
def test_any_bytes_get_an_answer_never_an_exception(body, query):
    app = FakeApp()
    resp = run(app, "PUT", f"/v1/AUTH_t/c?extract-archive={query}", body)
    assert resp.status_int in (200, 400)
    json.loads(resp.body)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names=st.lists(st.text(alphabet="ab./\u00e9", min_size=1, max_size=12), min_size=1,
                      max_size=6, unique=True))
def test_no_member_name_escapes_the_upload_path(names):
    app = FakeApp()
    body = make_tar({name: b"x" for name in names})
    resp = run(app, "PUT", "/v1/AUTH_t/c/p?extract-archive=tar", body)
    assert resp.status_int in (200, 400)
    for _method, path, _body, _token in app.calls:
        assert path.startswith("/v1/AUTH_t/c/p/")
        assert ".." not in path.split("/")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.binary(min_size=1, max_size=600), cut=st.integers(min_value=0, max_value=4000))
def test_corrupted_real_archives_get_an_answer(prefix, cut):
    good = make_tar({"a": b"1" * 700, "b/c": b"2" * 900})
    body = good[:cut] + prefix + good[cut:]
    resp = run(FakeApp(), "PUT", "/v1/AUTH_t/c?extract-archive=tar", body)
    assert resp.status_int in (200, 400)
    json.loads(resp.body)


# --- on the real cluster, in-process -------------------------------------------------------

PIPELINE = "catch_errors healthcheck bulk auth copy container_quotas account_quotas slo dlo " \
           "proxy-server"


@pytest.fixture(scope="module")
def owner(storage_cluster):
    app = make_app(pipeline_conf(storage_cluster, PIPELINE), rings_for(storage_cluster.conf_dir))
    return Client(app, "test:tester", "testing")


def test_extract_and_bulk_delete_for_real(owner):
    container = f"bulk-{uuid.uuid4().hex[:10]}"
    body = make_tar({f"{container}/a.txt": b"alpha", f"{container}/d/b.txt": b"beta"}, "gz")
    resp = owner("PUT", "?extract-archive=tar.gz", body=body,
                 headers={"Accept": "application/json"})
    report = json.loads(resp.body)
    assert report["Number Files Created"] == 2, report
    assert owner("GET", f"{container}/d/b.txt").body == b"beta"
    assert owner("GET", f"{container}/a.txt").headers["Content-Type"].startswith("text/plain")
    assert owner("POST", container, headers={"X-Container-Meta-Quota-Count": "2"}) \
        .status_int == 204
    report = json.loads(owner("PUT", f"{container}?extract-archive=tar",
                              body=make_tar({"more": b"x"}),
                              headers={"Accept": "application/json"}).body)
    assert report["Errors"] == [[f"/{container}/more", "413 Request Entity Too Large"]]
    listing = f"/{container}/a.txt\n/{container}/d/b.txt\n/{container}/missing\n/{container}\n"
    resp = owner("DELETE", "?bulk-delete", body=listing.encode(),
                 headers={"Accept": "application/json"})
    report = json.loads(resp.body)
    assert (report["Number Deleted"], report["Number Not Found"]) == (3, 1), report
    assert owner("HEAD", container).status_int == 404


def test_anonymous_extract_is_refused_per_member(storage_cluster, owner):
    anonymous = Client(owner.app)
    anonymous.account = owner.account
    report = json.loads(anonymous("PUT", "c?extract-archive=tar", body=make_tar({"x": b"1"}),
                                  headers={"Accept": "application/json"}).body)
    assert report["Number Files Created"] == 0
    assert report["Errors"][0][1].startswith("401")

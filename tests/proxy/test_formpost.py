"""Form POST uploads without sockets: the streaming multipart reader and the middleware on a
fake app (what it PUTs, what it refuses, that junk never becomes a 500 or a write)."""
from __future__ import annotations

import hashlib
import hmac
import io
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.formpost_rules import FormRefused, object_name, redirect_location, terms_of
from proxy.middleware.formpost import filter_factory
from proxy.multipart_form import FormError, MultipartReader, boundary_of
from proxy.target import Target

KEY = b"form-key"


def encode_form(boundary: bytes, parts) -> bytes:
    out = b""
    for headers, body in parts:
        out += b"--" + boundary + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"
        out += body + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def read_all(body: bytes, boundary: str, chunk: int):
    reader = MultipartReader(io.BytesIO(body).read, boundary, chunk)
    found = []
    while (part := reader.next_part()) is not None:
        data = b""
        while chunk_data := part.read(3):
            data += chunk_data
        found.append((part.name, part.filename, data))
    return found


def test_boundary_of():
    assert boundary_of("multipart/form-data; boundary=abc") == "abc"
    assert boundary_of('multipart/form-data; boundary="a b"') == "a b"
    assert boundary_of("multipart/mixed; boundary=abc") is None
    assert boundary_of("multipart/form-data") is None
    assert boundary_of("text/plain") is None
    assert boundary_of("multipart/form-data; boundary=" + "x" * 300) is None


payload = st.binary(max_size=200)


@settings(max_examples=200, deadline=None)
@given(st.lists(payload, min_size=1, max_size=4), st.integers(min_value=1, max_value=70))
def test_any_file_bytes_come_back_exactly_whatever_the_chunk_size(bodies, chunk):
    boundary = b"BoUnDaRy42"
    parts = [([b'Content-Disposition: form-data; name="f%d"; filename="n%d"' % (i, i)], body)
             for i, body in enumerate(bodies) if boundary not in body]
    if not parts:
        return
    found = read_all(encode_form(boundary, parts), boundary.decode(), chunk)
    assert [data for _n, _f, data in found] == [body for _h, body in parts]
    assert [filename for _n, filename, _d in found] == [f"n{i}" for i, body in enumerate(bodies)
                                                        if boundary not in body]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(min_value=1, max_value=50))
def test_junk_bodies_raise_form_errors_only(junk, chunk):
    try:
        read_all(b"--B\r\n" + junk, "B", chunk)
    except FormError:
        pass


def test_part_headers_are_bounded():
    body = b"--B\r\n" + b"X-Long: " + b"a" * 20000 + b"\r\n\r\nx\r\n--B--\r\n"
    with pytest.raises(FormError):
        read_all(body, "B", 4096)


def test_terms_and_names():
    now = 1000.0
    fields = {"redirect": "", "max_file_size": "10", "max_file_count": "2",
              "expires": "2000", "signature": "s", "x_delete_after": "60"}
    terms = terms_of(fields, now)
    assert (terms.max_file_size, terms.max_file_count, terms.expires) == (10, 2, 2000)
    assert terms.delete_headers == {"X-Delete-After": "60"}
    for broken, status in (({"expires": "999"}, 401), ({"expires": "x"}, 400),
                           ({"max_file_size": "-1"}, 400), ({"signature": ""}, 401),
                           ({"max_file_count": ""}, 400)):
        with pytest.raises(FormRefused) as caught:
            terms_of({**fields, **broken}, now)
        assert caught.value.status == status
    assert object_name("up/", "C:\\Users\\me\\cat.jpg") == "up/cat.jpg"
    assert object_name(None, "dir/x.txt") == "x.txt"
    assert redirect_location("https://e.com/a?x=1", 400, "no good") == \
        "https://e.com/a?x=1&status=400&message=no%20good"


class FakeApp:
    """Answers key lookups; stores PUT bodies (read in small pieces, as the proxy would)."""

    def __init__(self):
        self.stored = {}
        self.passed = []

    def __call__(self, environ, start_response):
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        if environ.get("brume.metadata_lookup") and path == "/v1/AUTH_t":
            start_response("200 OK", [("X-Account-Meta-Temp-Url-Key", KEY.decode())])
            return [b""]
        if environ.get("brume.metadata_lookup"):
            start_response("404 Not Found", [])
            return [b""]
        if method == "PUT":
            parts = path.split("/", 4)
            target = Target(parts[2], parts[3], parts[4])
            denial = environ["brume.authorize"](environ, "PUT", target, None)
            assert denial is None
            other = Target(parts[2], parts[3], parts[4] + "x")
            assert environ["brume.authorize"](environ, "PUT", other, None) is not None
            assert environ["brume.authorize"](environ, "GET", target, None) is not None
            data = b""
            try:
                while chunk := environ["wsgi.input"].read(4):
                    data += chunk
            except ValueError:
                start_response("499 Client Disconnect", [])
                return [b""]
            self.stored[path] = data
            start_response("201 Created", [])
            return [b""]
        self.passed.append(path)
        start_response("204 No Content", [])
        return [b""]


def signed_form(path: str, files, size=10, count=2, redirect="", expires=None, key=KEY):
    expires = int(time.time()) + 86400 if expires is None else expires
    sig = hmac.new(key, f"{path}\n{redirect}\n{size}\n{count}\n{expires}".encode(),
                   hashlib.sha256).hexdigest()
    fields = [("redirect", redirect), ("max_file_size", size), ("max_file_count", count),
              ("expires", expires), ("signature", sig)]
    parts = [([f'Content-Disposition: form-data; name="{n}"'.encode()], str(v).encode())
             for n, v in fields]
    parts += [([f'Content-Disposition: form-data; name="file"; filename="{f}"'.encode()], d)
              for f, d in files]
    return encode_form(b"XX", parts)


def post(app, path: str, body: bytes, content_type="multipart/form-data; boundary=XX"):
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "",
               "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": io.BytesIO(body), "SERVER_NAME": "x", "SERVER_PORT": "80"}
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = int(status[:3]), dict(headers)

    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


@pytest.fixture
def fake():
    backend = FakeApp()
    return backend, filter_factory({})(backend)


def test_a_signed_form_stores_each_file_under_its_prefix(fake):
    backend, app = fake
    body = signed_form("/v1/AUTH_t/c/up/", [("a.txt", b"0123456789"), ("b", b"")])
    status, _headers, _body = post(app, "/v1/AUTH_t/c/up/", body)
    assert status == 201
    assert backend.stored == {"/v1/AUTH_t/c/up/a.txt": b"0123456789", "/v1/AUTH_t/c/up/b": b""}


def test_redirect_carries_the_outcome(fake):
    backend, app = fake
    body = signed_form("/v1/AUTH_t/c/", [("a", b"x")], redirect="https://e.com/r")
    status, headers, _body = post(app, "/v1/AUTH_t/c/", body)
    assert status == 303 and headers["Location"] == "https://e.com/r?status=201&message="
    body = signed_form("/v1/AUTH_t/c/", [("a", b"x" * 11)], redirect="https://e.com/r")
    status, headers, _body = post(app, "/v1/AUTH_t/c/", body)
    assert status == 303 and "status=400" in headers["Location"]


@pytest.mark.parametrize("path,body,status", [
    ("/v1/AUTH_t/c/", signed_form("/v1/AUTH_t/c/", [("big", b"x" * 11)]), 400),
    ("/v1/AUTH_t/c/", signed_form("/v1/AUTH_t/c/", [("a", b"1")], count=0), 400),
    ("/v1/AUTH_t/c/", signed_form("/v1/AUTH_t/c/", [("a", b"1")], expires=5), 401),
    ("/v1/AUTH_t/c/", signed_form("/v1/AUTH_t/c/", [("a", b"1")], key=b"no"), 401),
    ("/v1/AUTH_t/d/", signed_form("/v1/AUTH_t/c/", [("a", b"1")]), 401),
    ("/v1/AUTH_u/c/", signed_form("/v1/AUTH_u/c/", [("a", b"1")]), 401),
    ("/v1/AUTH_t/c/", signed_form("/v1/AUTH_t/c/", []), 400),
    ("/v1/AUTH_t/c/", b"--XX\r\nnonsense", 400),
])
def test_refused_forms_store_nothing(fake, path, body, status):
    backend, app = fake
    assert post(app, path, body)[0] == status
    assert backend.stored == {}


def test_other_requests_pass(fake):
    backend, app = fake
    assert post(app, "/v1/AUTH_t/c/o", b"x", "text/plain")[0] == 204
    assert post(app, "/v1/AUTH_t", signed_form("/v1/AUTH_t", [("a", b"1")]))[0] == 204
    assert backend.passed == ["/v1/AUTH_t/c/o", "/v1/AUTH_t"]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_junk_forms_never_store_or_fail_badly(junk):
    backend = FakeApp()
    app = filter_factory({})(backend)
    status, _headers, _body = post(app, "/v1/AUTH_t/c/", b"--XX\r\n" + junk)
    assert status in (400, 401)
    assert backend.stored == {}

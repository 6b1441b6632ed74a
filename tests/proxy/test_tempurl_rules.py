"""Temporary URL logic without sockets: signatures, query parsing, grants, junk queries."""
from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from proxy.hmac_signatures import decode_signature, matching_key, parse_allowed_digests
from proxy.middleware.tempurl import Grant, TempUrlMiddleware, filter_factory
from proxy.target import Target
from proxy.tempurl_rules import (
    HeaderRules,
    Invalid,
    carried_query,
    client_in_range,
    disposition,
    messages,
    parse_expires,
    parse_query,
    signed_paths,
)

ALL = ("sha1", "sha256", "sha512")


def raw_sig(key: bytes, message: bytes, digest: str) -> bytes:
    return hmac.new(key, message, getattr(hashlib, digest)).digest()


@pytest.mark.parametrize("digest", ALL)
def test_every_encoding_of_a_signature_decodes_to_the_same_bytes(digest):
    raw = raw_sig(b"k", b"GET\n1\n/v1/a/c/o", digest)
    b64 = base64.b64encode(raw).decode()
    for text in (raw.hex(), f"{digest}:{b64}", f"{digest}:{b64.rstrip('=')}",
                 f"{digest}:{base64.urlsafe_b64encode(raw).decode()}"):
        assert decode_signature(text, ALL) == (digest, raw)


def test_signatures_of_digests_not_allowed_or_malformed_are_refused():
    raw = raw_sig(b"k", b"m", "sha1")
    assert decode_signature(raw.hex(), ("sha256",)) is None
    assert decode_signature("sha1:" + base64.b64encode(raw).decode(), ("sha256",)) is None
    assert decode_signature("md5:AAAA", ALL) is None
    assert decode_signature("sha256:" + base64.b64encode(raw).decode(), ALL) is None  # short
    assert decode_signature("zz" * 32, ALL) is None
    assert decode_signature("", ALL) is None
    assert decode_signature("sha256:!!!", ALL) is None


def test_allowed_digests_option():
    assert parse_allowed_digests("sha512 sha256 sha512") == ("sha512", "sha256")
    with pytest.raises(ValueError):
        parse_allowed_digests("sha256 md5")
    with pytest.raises(ValueError):
        parse_allowed_digests("  ")


def test_matching_key_reports_the_scope_of_the_key_that_signed():
    message = b"GET\n1\n/v1/a/c/o"
    keys = [(b"acct", "account"), (b"cont", "container")]
    assert matching_key(keys, message, "sha256", raw_sig(b"cont", message, "sha256")) == \
        (b"cont", "container")
    assert matching_key(keys, message, "sha256", raw_sig(b"other", message, "sha256")) is None
    assert matching_key([], message, "sha256", raw_sig(b"acct", message, "sha256")) is None


def test_expires_in_unix_time_or_iso_8601():
    assert parse_expires("1700000000") == 1700000000
    assert parse_expires("2023-11-14T22:13:20Z") == 1700000000
    for junk in ("", "-5", "1.5", "2023-11-14 22:13:20", "tomorrow", "9" * 40, "١٢٣"):
        with pytest.raises(Invalid):
            parse_expires(junk)


def test_query_parsing():
    assert parse_query("format=json") is None
    query = parse_query("temp_url_sig=abc&temp_url_expires=12&filename=a%20b.txt&inline")
    assert (query.signature, query.expires, query.filename, query.inline, query.prefix) == \
        ("abc", 12, "a b.txt", True, None)
    for junk in ("temp_url_sig=abc", "temp_url_expires=12", "temp_url_sig=&temp_url_expires=1",
                 "temp_url_sig=a&temp_url_expires=x", "temp_url_sig=%ff&temp_url_expires=1"):
        with pytest.raises(Invalid):
            parse_query(junk)


def test_the_signed_path_is_the_object_or_the_prefix():
    query = parse_query("temp_url_sig=a&temp_url_expires=1")
    target = Target("AUTH_t", "c", "dir/o")
    assert signed_paths("v1", target, query) == b"/v1/AUTH_t/c/dir/o"
    prefixed = parse_query("temp_url_sig=a&temp_url_expires=1&temp_url_prefix=dir/")
    assert signed_paths("v1", target, prefixed) == b"prefix:/v1/AUTH_t/c/dir/"
    with pytest.raises(Invalid):
        signed_paths("v1", Target("AUTH_t", "c", "other"), prefixed)
    with pytest.raises(Invalid):
        signed_paths("v1", Target("AUTH_t", "c", None), query)


def test_head_may_use_get_or_put_signatures_but_nothing_else_widens():
    query = parse_query("temp_url_sig=a&temp_url_expires=7")
    methods = ("GET", "HEAD", "PUT", "POST", "DELETE")
    assert [m for m, _ in messages("HEAD", b"/p", query, methods)] == ["HEAD", "GET", "PUT"]
    assert messages("GET", b"/p", query, methods) == [("GET", b"GET\n7\n/p")]
    assert messages("DELETE", b"/p", query, ("GET", "HEAD")) == []
    ip = parse_query("temp_url_sig=a&temp_url_expires=7&temp_url_ip_range=10.0.0.0/8")
    assert messages("GET", b"/p", ip, methods) == [("GET", b"ip=10.0.0.0/8\nGET\n7\n/p")]


def test_ip_ranges():
    assert client_in_range("10.0.0.0/8", "10.1.2.3")
    assert client_in_range("127.0.0.1", "127.0.0.1")
    assert not client_in_range("10.0.0.0/8", "11.0.0.1")
    assert not client_in_range("10.0.0.0/8", "::1")
    assert not client_in_range("10.0.0.0/8", "")
    with pytest.raises(Invalid):
        client_in_range("not-an-ip", "10.0.0.1")


def test_content_disposition():
    plain = parse_query("temp_url_sig=a&temp_url_expires=1")
    assert disposition(plain, "dir/report.pdf", None) == \
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    assert disposition(plain, "o", "inline") is None
    assert disposition(parse_query("temp_url_sig=a&temp_url_expires=1&inline"), "o", None) == \
        "inline"
    named = parse_query('temp_url_sig=a&temp_url_expires=1&filename=%22a%0d%0ab%22%C3%A9')
    value = disposition(named, "o", None)
    assert "\r" not in value and "\n" not in value and value.isascii()
    assert value.startswith('attachment; filename="%22a%0D%0Ab%22%C3%A9"')


def test_header_rules():
    rules = HeaderRules(("x-timestamp",), (), ("x-object-meta-*",), ("x-object-meta-public-*",))
    assert rules.drops_incoming("X-Timestamp") and not rules.drops_incoming("X-Other")
    assert rules.drops_outgoing("X-Object-Meta-Secret")
    assert not rules.drops_outgoing("X-Object-Meta-Public-Color")
    assert not rules.drops_outgoing("Content-Type")


def test_a_grant_reaches_only_its_object_and_reads_in_its_scope():
    query = parse_query("temp_url_sig=a&temp_url_expires=1")
    get = Grant("GET", Target("AUTH_t", "c", "o"), query, "container")
    env = {}
    assert get.authorize(env, "GET", Target("AUTH_t", "c", "o"), None) is None
    assert env["brume.owner"] is False
    assert get.authorize({}, "GET", Target("AUTH_t", "c", "segment"), None) is None
    assert get.authorize({}, "GET", Target("AUTH_t", "other", "seg"), None).status == 401
    assert get.authorize({}, "PUT", Target("AUTH_t", "c", "o"), None).status == 401
    assert get.authorize({}, "GET", Target("AUTH_t", None, None), None).status == 401
    assert get.authorize({}, "GET", Target("AUTH_u", "c", "o"), None).status == 401
    put = Grant("PUT", Target("AUTH_t", "c", "o"), query, "account")
    assert put.authorize({}, "PUT", Target("AUTH_t", "c", "o"), None) is None
    assert put.authorize({}, "GET", Target("AUTH_t", "c", "source"), None).status == 401
    assert put.authorize({}, "PUT", Target("AUTH_t", "c", "o2"), None).status == 401


# --- the middleware on a fake app -----------------------------------------------------

KEY = "secret-key"


class FakeApp:
    """Answers the metadata lookups of account and container (the account has the key);
    records what else reached it."""

    def __init__(self):
        self.seen = []

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if environ.get("brume.metadata_lookup"):
            assert environ["REQUEST_METHOD"] == "OPTIONS"
            keys = [("X-Account-Meta-Temp-Url-Key", KEY)] if path == "/v1/AUTH_t" else []
            start_response("200 OK", keys)
            return [b""]
        self.seen.append(dict(environ))
        start_response("200 OK", [("Content-Length", "2"), ("X-Object-Meta-Secret", "s"),
                                  ("X-Object-Meta-Public-Ok", "y")])
        return [b"ok"]


def signed_query(method: str, path: str, expires: int | None = None, key: str = KEY) -> str:
    expires = expires if expires is not None else int(time.time()) + 86400
    sig = hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(),
                   hashlib.sha256).hexdigest()
    return f"temp_url_sig={sig}&temp_url_expires={expires}"


def call(app, method: str, path: str, query: str, headers=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "SERVER_NAME": "x", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "REMOTE_ADDR": "127.0.0.1"}
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = int(status[:3]), dict(headers)

    body = b"".join(app(environ, start_response))
    return captured["status"], captured["headers"], body


@pytest.fixture
def fake():
    backend = FakeApp()
    return backend, filter_factory({})(backend)


def test_a_valid_get_passes_anonymous_with_filtered_headers(fake):
    backend, app = fake
    status, headers, body = call(app, "GET", "/v1/AUTH_t/c/o",
                                 signed_query("GET", "/v1/AUTH_t/c/o"),
                                 {"X-Auth-Token": "t", "X-Timestamp": "1"})
    assert (status, body) == (200, b"ok")
    assert "X-Object-Meta-Secret" not in headers and headers["X-Object-Meta-Public-Ok"] == "y"
    assert headers["Content-Disposition"].startswith('attachment; filename="o"')
    seen = backend.seen[-1]
    assert seen["brume.identity"] is None and seen["brume.authorize_override"] is True
    assert "HTTP_X_AUTH_TOKEN" not in seen and "HTTP_X_TIMESTAMP" not in seen


@pytest.mark.parametrize("method,path,query", [
    ("GET", "/v1/AUTH_t/c/other", signed_query("GET", "/v1/AUTH_t/c/o")),
    ("PUT", "/v1/AUTH_t/c/o", signed_query("GET", "/v1/AUTH_t/c/o")),
    ("GET", "/v1/AUTH_t/c/o", signed_query("GET", "/v1/AUTH_t/c/o", int(time.time()) - 1)),
    ("GET", "/v1/AUTH_t/c/o", signed_query("GET", "/v1/AUTH_t/c/o", key="wrong")),
    ("GET", "/v1/AUTH_t/c", signed_query("GET", "/v1/AUTH_t/c")),
    ("GET", "/v1/AUTH_t", signed_query("GET", "/v1/AUTH_t")),
    ("GET", "/v1/AUTH_u/c/o", signed_query("GET", "/v1/AUTH_u/c/o")),
    ("GET", "/v1/AUTH_t/c/o", "temp_url_sig=abc"),
])
def test_anything_else_is_a_401_that_reaches_nothing(fake, method, path, query):
    backend, app = fake
    status, headers, body = call(app, method, path, query)
    assert status == 401 and body == b"401 Unauthorized: Temp URL invalid\n"
    assert backend.seen == []


def test_writes_may_not_reach_other_objects(fake):
    backend, app = fake
    query = signed_query("PUT", "/v1/AUTH_t/c/o")
    for header in ("X-Object-Manifest", "X-Copy-From", "X-Symlink-Target"):
        status, _headers, _body = call(app, "PUT", "/v1/AUTH_t/c/o", query, {header: "c/x"})
        assert status == 400
    assert backend.seen == []
    assert call(app, "PUT", "/v1/AUTH_t/c/o", query)[0] == 200


def test_requests_without_temp_url_params_pass_untouched(fake):
    backend, app = fake
    assert call(app, "GET", "/v1/AUTH_t/c/o", "format=json")[0] == 200
    assert "brume.authorize" not in backend.seen[-1]


def test_capabilities_and_options():
    app = filter_factory({}, methods="GET HEAD", allowed_digests="sha512")(FakeApp())
    assert isinstance(app, TempUrlMiddleware)
    assert app.capabilities["tempurl"]["methods"] == ["GET", "HEAD"]
    assert app.capabilities["tempurl"]["allowed_digests"] == ["sha512"]
    from common.config import ConfigError
    with pytest.raises(ConfigError):
        filter_factory({}, methods="GET COPY")
    with pytest.raises(ConfigError):
        filter_factory({}, allowed_digests="md5")


query_text = st.text(alphabet=st.characters(codec="latin-1"), max_size=300)
param = st.sampled_from(["temp_url_sig", "temp_url_expires", "temp_url_prefix",
                         "temp_url_ip_range", "filename", "inline", "x"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(param, query_text), max_size=6), query_text)
def test_junk_queries_never_raise_and_never_pass(pairs, tail):
    backend = FakeApp()
    app = filter_factory({})(backend)
    query = "&".join(f"{name}={value}" for name, value in pairs) + tail
    for method in ("GET", "PUT", "HEAD", "DELETE", "POST"):
        status, _headers, _body = call(app, method, "/v1/AUTH_t/c/o", query)
        assert status in (200, 401)
    # Nothing was ever let through as authorized by a temporary URL.
    assert all("brume.authorize" not in env for env in backend.seen)


def test_carried_query_repeats_the_parameters_as_sent():
    query = parse_query("temp_url_sig=abc&temp_url_expires=2030-01-02T03:04:05Z"
                        "&temp_url_prefix=d%20x/&inline&temp_url_ip_range=10.0.0.0/8")
    assert carried_query(query) == ("temp_url_prefix=d%20x/&temp_url_expires="
                                    "2030-01-02T03%3A04%3A05Z&temp_url_sig=abc"
                                    "&temp_url_ip_range=10.0.0.0/8&inline")
    plain = parse_query("temp_url_sig=s&temp_url_expires=17&temp_url_prefix=")
    assert carried_query(plain) == "temp_url_prefix=&temp_url_expires=17&temp_url_sig=s"

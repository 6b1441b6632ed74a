"""The pure rules behind domain_remap, cors and staticweb, and the runner's request line."""
from __future__ import annotations

from urllib.parse import unquote_to_bytes

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.http_framing import normalized_request_line, request_target
from proxy.cors_policy import (
    ContainerCors,
    CorsSettings,
    actual_headers,
    container_cors,
    preflight,
)
from proxy.host_remap import BadHost, make_settings, remap_path
from proxy.web_container import header_text, redirect_location, web_config, web_mode
from proxy.web_listing import css_href, page_head, rows

REMAP = make_settings(["example.com"])


@pytest.mark.parametrize("host, path, expected", [
    ("AUTH_test.example.com", "/c/o", "/v1/AUTH_test/c/o"),
    ("auth-test.example.com:8080", "/c", "/v1/AUTH_test/c"),
    ("c.AUTH_test.example.com", "/o", "/v1/AUTH_test/c/o"),
    ("c.AUTH_test.EXAMPLE.com.", "/", "/v1/AUTH_test/c/"),
    ("c.AUTH_test.example.com", "//v1", "/v1/AUTH_test/c//v1"),
    ("AUTH_test.example.com", "", "/v1/AUTH_test"),
    ("\u00e2\u0098\u0083.AUTH_test.example.com", "/", "/v1/AUTH_test/\u00e2\u0098\u0083/"),
])
def test_remap_names_account_and_container(host, path, expected):
    assert remap_path(host, path, REMAP) == expected


@pytest.mark.parametrize("host", [
    "example.com", "127.0.0.1:8080", "[::1]:8080", "AUTH_test.example.org", "test.example.com",
    "AUTH_.example.com", "notexample.com",
])
def test_other_hosts_are_left_alone(host):
    assert remap_path(host, "/x", REMAP) is None


@pytest.mark.parametrize("host", ["a.b.AUTH_test.example.com", ".AUTH_test.example.com",
                                  "c..example.com", "a/b.AUTH_test.example.com",
                                  "a%2F.AUTH_test.example.com", "c d.AUTH_test.example.com",
                                  "\u2603.AUTH_test.example.com"])
def test_too_many_or_empty_labels_are_bad_hosts(host):
    with pytest.raises(BadHost):
        remap_path(host, "/x", REMAP)


def test_default_reseller_prefix_and_own_path_root():
    remap = make_settings(["store.example.com", "example.com"], "v1.0", ["AUTH", "SERVICE"],
                          "AUTH")
    assert remap_path("test.example.com", "/c", remap) == "/v1.0/AUTH_test/c"
    assert remap_path("service-x.store.example.com", "/", remap) == "/v1.0/SERVICE_x/"


@settings(max_examples=300, deadline=None)
@given(host=st.text(max_size=80), path=st.text(max_size=40))
def test_junk_hosts_remap_or_refuse_cleanly(host, path):
    try:
        remapped = remap_path(host, path, REMAP)
    except BadHost as exc:
        assert "\n" not in str(exc)
        return
    assert remapped is None or remapped.startswith("/v1/")
    if remapped is not None:
        assert remapped.endswith(path)
        prefix = remapped[: len(remapped) - len(path)]
        prefix.encode("latin-1")  # a WSGI path: one char per byte
        assert prefix.count("/") <= 4 and not any(ch in prefix for ch in "?#% ")


def test_cors_preflight_needs_a_method_and_an_allowed_origin():
    open_container = ContainerCors(("*",), "600")
    status, headers = preflight("http://m.com", "GET", "X-Foo", open_container, CorsSettings())
    got = dict(headers)
    assert status == 200 and got["Access-Control-Allow-Origin"] == "*"
    assert got["Access-Control-Max-Age"] == "600" and got["Access-Control-Allow-Headers"] == "X-Foo"
    assert preflight("http://m.com", None, None, open_container, CorsSettings())[0] == 401
    one = ContainerCors(("http://secret.com",))
    assert preflight("http://m.com", "GET", None, one, CorsSettings())[0] == 401
    assert preflight("http://m.com", "GET", None, None, CorsSettings())[0] == 401
    operator = CorsSettings(allow_origins=("http://m.com",))
    status, headers = preflight("http://m.com", "GET", None, ContainerCors(), operator)
    assert status == 200 and dict(headers)["Access-Control-Allow-Origin"] == "http://m.com"


def test_cors_actual_headers_strict_and_not():
    meta = container_cors({
        "x-container-meta-access-control-allow-origin": "http://secret.com http://b.org",
        "x-container-meta-access-control-expose-headers": "X-Custom, x-other"})
    answer = [("Content-Type", "text/plain"), ("X-Object-Meta-Color", "red")]
    got = dict(actual_headers("http://b.org", answer, meta, CorsSettings()))
    assert got["Access-Control-Allow-Origin"] == "http://b.org"
    exposed = got["Access-Control-Expose-Headers"].split(", ")
    assert {"x-object-meta-color", "x-custom", "x-other", "etag"} <= set(exposed)
    assert actual_headers("http://m.com", answer, meta, CorsSettings(strict=True)) == []
    loose = dict(actual_headers("http://m.com", answer, meta, CorsSettings(strict=False)))
    assert loose["Access-Control-Allow-Origin"] == "http://m.com"
    assert actual_headers("http://m.com", answer, ContainerCors(), CorsSettings(strict=False)) \
        == []


def test_web_config_reads_metadata_as_utf8_text():
    css = "styl\u00e9.css".encode().decode("latin-1")
    config = web_config({"x-container-meta-web-index": "index.html",
                         "x-container-meta-web-listings": "Yes",
                         "x-container-meta-web-listings-css": css})
    assert config.index == "index.html" and config.listings
    assert config.listings_css == "styl\u00e9.css" and config.serves_web
    assert not web_config({"x-container-meta-web-listings": "nope"}).serves_web
    assert header_text("\xff") == "\xff"


def test_web_mode_and_redirects():
    assert web_mode(False, None) and not web_mode(True, None) and web_mode(True, "true")
    assert not web_mode(True, "False")
    path = "/v1/AUTH_test/\u2603 x".encode().decode("latin-1")
    assert redirect_location("http", "h:8", path, "") == "http://h:8/v1/AUTH_test/%E2%98%83%20x/"
    assert redirect_location("https", "h", "/c", "a=1") == "https://h/c/?a=1"


def test_listing_escapes_every_name():
    evil = '<script>alert("x")</script>&'
    head = page_head(f"/v1/AUTH_test/{evil}/", f"{evil}.css", "").decode()
    body = rows([{"name": f"d/{evil}", "bytes": 3, "last_modified": "2020-01-01T00:00:00",
                  "content_type": "text/html"},
                 {"subdir": f"d/{evil}/"},
                 {"name": "d/marker", "content_type": "application/directory"},
                 "junk", {"name": 5}], "d/").decode()
    for text in (head, body):
        assert "<script>" not in text and '"x"' not in text
    assert "&lt;script&gt;" in body and 'href="./marker"' in body  # markers listed, as Swift
    assert 'href="./%3Cscript%3Ealert%28%22x%22%29%3C/script%3E%26"' in body
    assert css_href("s.css", "a/b/") == "../../s.css"
    assert css_href("https://cdn/x.css", "a/") == "https://cdn/x.css"


def test_request_line_keeps_utf8_and_double_slash():
    raw = "GET /v1/a/\u0805\u00a0 HTTP/1.1\r\n".encode()
    line = normalized_request_line(raw)
    assert unquote_to_bytes(request_target(line).encode("latin-1")) == "/v1/a/\u0805\u00a0".encode()
    assert normalized_request_line(b"GET / HTTP/1.1\r\n") == b"GET / HTTP/1.1\r\n"
    assert request_target(b"GET //v1 HTTP/1.1\r\n") == "//v1"
    assert request_target(b"GET\r\n") is None

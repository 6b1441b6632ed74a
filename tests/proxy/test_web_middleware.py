"""staticweb, domain_remap and cors in the sample pipeline, in-process on the real storage
cluster: web sites for anonymous visitors, Host-named accounts, CORS for browsers."""
from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proxy.host_remap import make_settings
from proxy.middleware.domain_remap import MAX_PLAIN_HOSTS, DomainRemap
from tests.proxy.conftest import Client

PUBLIC = {"X-Container-Read": ".r:*,.rlistings"}


@pytest.fixture(scope="module")
def anon(proxy_app):
    return Client(proxy_app)


@pytest.fixture(scope="module")
def site(tester):
    """A public container: index, error pages, a directory marker and a nested object."""
    container = "site-" + uuid.uuid4().hex[:8]
    assert tester("PUT", container, headers=PUBLIC).status_int == 201
    files = {"index.html": b"<h1>home</h1>", "404err.html": b"not here",
             "docs/page.txt": b"page", "docs/<b>&'\".txt": b"evil",
             "docs/deep/x": b"x", "style.css": b"body {}"}
    for name, body in files.items():
        assert tester("PUT", f"{container}/{name}", body=body).status_int == 201
    assert tester("PUT", f"{container}/docs", body=b"",
                  headers={"Content-Type": "application/directory"}).status_int == 201
    return container


def set_web(tester, container, **meta):
    headers = {f"X-Container-Meta-Web-{name.replace('_', '-')}": value
               for name, value in meta.items()}
    for name in ("Index", "Error", "Listings", "Listings-Css"):
        headers.setdefault(f"X-Container-Meta-Web-{name}", "")
    assert tester("POST", container, headers=headers).status_int == 204


def test_container_without_slash_redirects_and_index_is_served(tester, anon, site):
    set_web(tester, site, Index="index.html")
    base = f"/v1/{tester.account}/{site}"
    resp = anon.call("GET", base, headers={"Host": "web.test:8080"})
    assert resp.status_int == 301
    assert resp.headers["Location"] == f"http://web.test:8080{base}/"
    resp = anon.call("GET", base + "/")
    assert resp.status_int == 200 and resp.body == b"<h1>home</h1>"
    assert anon.call("HEAD", base + "/").status_int == 200
    # A user without X-Web-Mode gets the plain listing; with it, the site.
    assert tester("GET", site).status_int == 200 and b"index.html" in tester("GET", site).body
    resp = tester("GET", site + "/", headers={"X-Web-Mode": "true"})
    assert resp.body == b"<h1>home</h1>"


def test_listing_escapes_names_and_directories_redirect(tester, anon, site):
    set_web(tester, site, Listings="true", Listings_Css="style.css")
    base = f"/v1/{tester.account}/{site}"
    resp = anon.call("GET", base + "/docs/")
    assert resp.status_int == 200 and resp.content_type == "text/html"
    page = resp.text
    assert f"Listing of {base}/docs/" in page
    assert '<a href="./page%2Etxt">page.txt</a>' in page
    assert '<a href="./deep/">deep/</a>' in page and 'href="../"' in page
    assert "<b>" not in page and "&lt;b&gt;&amp;&#x27;&quot;.txt" in page
    assert 'href="../style.css"' in page
    assert anon.call("GET", base + "/docs").headers["Location"].endswith("/docs/")
    assert anon.call("GET", base + "/docs/deep").status_int == 301  # a prefix, no marker
    assert anon.call("GET", base + "/docs/page.txt").body == b"page"
    assert anon.call("GET", base + "/nothing/").status_int == 404
    root = anon.call("GET", base + "/").text
    # the marker object is listed beside the subdir, as Swift lists it
    assert '<a href="./docs/">docs/</a>' in root and '<a href="./docs">docs</a>' in root


def test_error_page_answers_missing_objects(tester, anon, site):
    set_web(tester, site, Error="err.html")
    resp = anon.call("GET", f"/v1/{tester.account}/{site}/missing")
    assert resp.status_int == 404 and resp.body == b"not here"


def test_private_container_stays_private(tester, anon):
    container = "private-" + uuid.uuid4().hex[:8]
    assert tester("PUT", container, headers={"X-Container-Meta-Web-Listings": "true",
                                             "X-Container-Meta-Web-Index": "i"}).status_int \
        == 201
    assert tester("PUT", f"{container}/secret", body=b"s").status_int == 201
    base = f"/v1/{tester.account}/{container}"
    for path in (base + "/", base + "/secret", base + "/x/"):
        assert anon.call("GET", path).status_int == 401, path


def test_domain_remap_names_account_and_container_by_host(tester, site):
    account_host = {"Host": f"{tester.account}.example.com"}
    resp = tester.call("GET", f"/{site}/docs/page.txt", headers=account_host)
    assert resp.status_int == 200 and resp.body == b"page"
    dashed = {"Host": f"{site}.{tester.account.replace('_', '-')}.example.com"}
    assert tester.call("GET", "/docs/page.txt", headers=dashed).body == b"page"
    listing = tester.call("GET", "/", headers=dashed)
    assert listing.status_int == 200 and "index.html" in listing.text.split("\n")
    assert tester.call("GET", "/", headers={"Host": "a.b.c.example.com"}).status_int == 400
    assert tester.call("GET", "/", headers={"Host": "unrelated.org"}).status_int == 404


def test_domain_remap_answers_the_same_once_hosts_are_remembered():
    """Hosts outside every storage domain are remembered (a bounded set) to skip their
    parsing: a remembered host still passes untouched, a storage-domain host still remaps,
    a bad one is refused every time."""
    seen = []

    def app(environ, start_response):
        seen.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    remap = DomainRemap(app, make_settings(["example.com"]))

    def path_for(host, path="/o"):
        statuses = []
        remap({"HTTP_HOST": host, "PATH_INFO": path},
              lambda status, headers, exc_info=None: statuses.append(status))
        return statuses[0] if statuses[0][:3] != "200" else seen[-1]

    for _ in range(2):
        assert path_for("127.0.0.1:8080", "/v1/AUTH_a/c") == "/v1/AUTH_a/c"
        assert path_for("c.AUTH_a.example.com") == "/v1/AUTH_a/c/o"
        assert path_for("a.b.c.example.com").startswith("400")
    for number in range(MAX_PLAIN_HOSTS + 10):
        assert path_for(f"host{number}.org", "/v1/AUTH_a") == "/v1/AUTH_a"
    assert len(remap._plain_hosts) <= MAX_PLAIN_HOSTS
    assert path_for("c.AUTH_a.example.com") == "/v1/AUTH_a/c/o"


def test_web_redirect_keeps_the_remapped_address(tester, anon, site):
    set_web(tester, site, Listings="true")
    host = f"{site}.{tester.account}.example.com"
    resp = anon.call("GET", "/docs", headers={"Host": host})
    assert resp.status_int == 301 and resp.headers["Location"] == f"http://{host}/docs/"
    resp = anon.call("GET", "/docs/", headers={"Host": host})
    assert f"Listing of /v1/{tester.account}/{site}/docs/" in resp.text


def test_cors_preflight_and_actual_headers(tester, anon):
    container = "cors-" + uuid.uuid4().hex[:8]
    assert tester("PUT", container, headers={
        "X-Container-Meta-Access-Control-Allow-Origin": "http://ok.example",
        "X-Container-Meta-Access-Control-Max-Age": "60"}).status_int == 201
    assert tester("PUT", f"{container}/o", body=b"b",
                  headers={"X-Object-Meta-Color": "red"}).status_int == 201
    path = f"/v1/{tester.account}/{container}/o"
    origin = {"Origin": "http://ok.example"}
    plain = anon.call("OPTIONS", path)  # no Origin: not CORS, just the allowed methods
    assert plain.status_int == 200 and "COPY" in plain.headers["Allow"]
    assert anon.call("OPTIONS", path, headers=origin).status_int == 401
    resp = anon.call("OPTIONS", path, headers={**origin, "Access-Control-Request-Method": "GET"})
    assert resp.status_int == 200
    assert resp.headers["Access-Control-Allow-Origin"] == "http://ok.example"
    assert resp.headers["Access-Control-Max-Age"] == "60"
    assert "Access-Control-Expose-Headers" not in resp.headers
    refused = anon.call("OPTIONS", path, headers={"Origin": "http://evil.example",
                                                  "Access-Control-Request-Method": "GET"})
    assert refused.status_int == 401
    resp = tester.call("GET", path, headers=origin)
    assert resp.status_int == 200 and resp.body == b"b"
    assert "x-object-meta-color" in resp.headers["Access-Control-Expose-Headers"].split(", ")
    plain = tester.call("GET", path, headers={"Origin": "http://evil.example"})
    assert plain.status_int == 200 and "Access-Control-Allow-Origin" not in plain.headers
    # CORS adds headers; it never grants what auth refuses.
    assert anon.call("GET", path, headers=origin).status_int == 401


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(host=st.text(max_size=40).filter(lambda h: "\r" not in h and "\n" not in h),
       path=st.sampled_from(["/", "/c", "/c/o", "//x", "/%00", "/v1/x"]),
       method=st.sampled_from(["GET", "HEAD", "PUT", "OPTIONS"]),
       origin=st.sampled_from([None, "http://m.com", "", "*"]))
def test_junk_hosts_and_paths_never_get_a_5xx(anon, host, path, method, origin):
    headers = {"Host": host or "x", "X-Web-Mode": "true"}
    if origin is not None:
        headers["Origin"] = origin
    resp = anon.call(method, path, headers=headers,
                     body=b"" if method == "PUT" else None)
    assert resp.status_int < 500, (host, path, method, resp.status, resp.body[:200])

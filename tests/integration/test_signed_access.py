"""Temporary URLs and form POST uploads end to end on the session cluster: what a signature
opens, what it never reaches (another object, container, account, method), and that a
refusal changes nothing."""
from __future__ import annotations

import hashlib
import hmac
import http.client
import time
import urllib.parse

import pytest
from swiftclient.exceptions import ClientException

pytestmark = pytest.mark.cluster

KEY = "integration-temp-url-key"


def raw(url: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                     body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def temp_url(storage_url: str, method: str, rel: str, key: str = KEY, expires=None,
             extra: str = "") -> str:
    path = urllib.parse.urlsplit(storage_url).path + "/" + rel
    expires = int(time.time()) + 300 if expires is None else expires
    sig = hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(),
                   hashlib.sha256).hexdigest()
    return (f"{storage_url}/{urllib.parse.quote(rel)}?temp_url_sig={sig}"
            f"&temp_url_expires={expires}{extra}")


@pytest.fixture
def keyed(conn, conn2, name):
    """Account test with a temp URL key, a container with an object; account test2 too."""
    conn.post_account({"X-Account-Meta-Temp-URL-Key": KEY})
    conn2.post_account({"X-Account-Meta-Temp-URL-Key": KEY})
    container = name("signed")
    conn.put_container(container)
    conn.put_object(container, "doc", b"secret", headers={"X-Object-Meta-Private": "p"})
    conn.put_object(container, "other", b"other")
    return container


def test_a_get_url_reads_its_object_and_nothing_else(conn, conn2, keyed):
    url = conn.url
    status, headers, body = raw(temp_url(url, "GET", f"{keyed}/doc"))
    assert (status, body) == (200, b"secret")
    assert "X-Object-Meta-Private" not in headers
    assert headers["Content-Disposition"].startswith('attachment; filename="doc"')
    assert raw(temp_url(url, "GET", f"{keyed}/doc"), "HEAD")[0] == 200
    good = urllib.parse.urlsplit(temp_url(url, "GET", f"{keyed}/doc")).query
    for other in (f"{url}/{keyed}/other", f"{url}/{keyed}", url, f"{conn2.url}/{keyed}/doc"):
        status, _headers, body = raw(f"{other}?{good}")
        assert status == 401 and body == b"401 Unauthorized: Temp URL invalid\n"
    assert raw(temp_url(url, "GET", f"{keyed}/doc"), "DELETE")[0] == 401
    assert raw(temp_url(url, "GET", f"{keyed}/doc"), "PUT", body=b"x")[0] == 401
    assert conn.get_object(keyed, "doc")[1] == b"secret"


def test_expired_or_wrong_key_urls_are_refused(conn, keyed):
    url = conn.url
    assert raw(temp_url(url, "GET", f"{keyed}/doc", expires=int(time.time()) - 5))[0] == 401
    assert raw(temp_url(url, "GET", f"{keyed}/doc", key="not-the-key"))[0] == 401
    for junk in ("temp_url_sig=zz&temp_url_expires=1", "temp_url_expires=%ff%fe",
                 "temp_url_sig=sha512:!!&temp_url_expires=99999999999",
                 "temp_url_sig=&temp_url_expires=&temp_url_ip_range=nonsense"):
        assert raw(f"{url}/{keyed}/doc?{junk}")[0] == 401


def test_a_put_url_writes_only_its_object(conn, keyed):
    url = conn.url
    assert raw(temp_url(url, "PUT", f"{keyed}/new"), "PUT", body=b"fresh")[0] == 201
    assert conn.get_object(keyed, "new")[1] == b"fresh"
    status = raw(temp_url(url, "PUT", f"{keyed}/new"), "PUT", body=b"x",
                 headers={"X-Copy-From": f"{keyed}/doc"})[0]
    assert status == 400
    status = raw(temp_url(url, "PUT", f"{keyed}/new"), "PUT", body=b"",
                 headers={"X-Object-Manifest": f"{keyed}/d"})[0]
    assert status == 400
    assert conn.get_object(keyed, "new")[1] == b"fresh"


def test_container_keys_are_scoped_and_hidden_from_non_owners(conn, conn3, name):
    container = name("ckey")
    conn.put_container(container, headers={"X-Container-Meta-Temp-URL-Key": "ckey",
                                           "X-Container-Read": "test:tester3"})
    conn.put_object(container, "o", b"in container")
    assert raw(temp_url(conn.url, "GET", f"{container}/o", key="ckey"))[:3:2] == \
        (200, b"in container")
    assert conn.head_container(container)["x-container-meta-temp-url-key"] == "ckey"
    assert "x-container-meta-temp-url-key" not in conn3.head_container(container)


def test_tempurl_is_listed_in_info(cluster):
    import json
    status, _headers, body = raw(cluster.proxy_url + "/info")
    info = json.loads(body)
    assert "sha256" in info["tempurl"]["allowed_digests"]
    assert "formpost" in info


def form_body(path: str, files, size: int = 100, count: int = 5, redirect: str = "",
              key: str = KEY, expires=None) -> bytes:
    expires = int(time.time()) + 300 if expires is None else expires
    sig = hmac.new(key.encode(), f"{path}\n{redirect}\n{size}\n{count}\n{expires}".encode(),
                   hashlib.sha256).hexdigest()
    fields = {"redirect": redirect, "max_file_size": size, "max_file_count": count,
              "expires": expires, "signature": sig}
    chunks = [f'--B0\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
              for k, v in fields.items()]
    for number, (filename, data) in enumerate(files):
        chunks.append(f'--B0\r\nContent-Disposition: form-data; name="f{number}"; '
                      f'filename="{filename}"\r\nContent-Type: text/plain\r\n\r\n'.encode()
                      + data + b"\r\n")
    return b"".join(chunks) + b"--B0--\r\n"


FORM = {"Content-Type": "multipart/form-data; boundary=B0"}


def test_a_form_uploads_its_files_under_its_prefix(conn, keyed):
    path = urllib.parse.urlsplit(conn.url).path + f"/{keyed}/up/"
    body = form_body(path, [("a.txt", b"A" * 50), ("b.txt", b"B")],
                     redirect="https://example.com/done")
    status, headers, _ = raw(conn.url + f"/{keyed}/up/", "POST", FORM, body)
    assert status == 303
    assert headers["Location"] == "https://example.com/done?status=201&message="
    assert conn.get_object(keyed, "up/a.txt")[1] == b"A" * 50
    assert conn.get_object(keyed, "up/b.txt")[1] == b"B"


def test_a_form_past_its_limits_or_signature_stores_nothing(conn, keyed):
    path = urllib.parse.urlsplit(conn.url).path + f"/{keyed}/lim/"
    url = conn.url + f"/{keyed}/lim/"
    status, _headers, body = raw(url, "POST", FORM, form_body(path, [("big", b"x" * 101)]))
    assert (status, body) == (400, b"FormPost: max_file_size exceeded")
    expired = form_body(path, [("late", b"x")], expires=int(time.time()) - 1)
    assert raw(url, "POST", FORM, expired)[0] == 401
    assert raw(url, "POST", FORM, form_body(path, [("bad", b"x")], key="wrong"))[0] == 401
    # Signed for lim/, posted to another prefix: refused.
    assert raw(conn.url + f"/{keyed}/doc", "POST", FORM, form_body(path, [("x", b"x")]))[0] \
        == 401
    assert raw(url, "POST", FORM, b"--B0\r\nnot a form")[0] == 400
    for stored in ("lim/big", "lim/late", "lim/bad", "docx", "lim/x"):
        with pytest.raises(ClientException) as caught:
            conn.head_object(keyed, stored)
        assert caught.value.http_status == 404
    assert conn.get_object(keyed, "doc")[1] == b"secret"


def test_a_whole_container_url_shows_the_container_only_as_staticweb_does(conn, keyed):
    path = urllib.parse.urlsplit(conn.url).path + f"/{keyed}/"
    expires = int(time.time()) + 300
    sig = hmac.new(KEY.encode(), f"GET\n{expires}\nprefix:{path}".encode(),
                   hashlib.sha256).hexdigest()
    query = f"temp_url_sig={sig}&temp_url_expires={expires}&temp_url_prefix="
    container_url = f"{conn.url}/{keyed}/?{query}"
    assert raw(container_url)[0] == 401  # no web listings: no listing for the URL's holder
    conn.post_container(keyed, {"X-Container-Meta-Web-Listings": "true"})
    status, _headers, body = raw(container_url)
    assert status == 200 and b"doc" in body and b"other" in body
    # Each link carries the signature (it admits every name under the prefix); no link
    # leads above the signed prefix.
    carried = f"temp_url_prefix=&amp;temp_url_expires={expires}&amp;temp_url_sig={sig}"
    assert f'<a href="./doc?{carried}">doc</a>'.encode() in body
    assert b'href="..' not in body
    assert raw(f"{conn.url}/{keyed}?{query}")[0] == 301  # to the address with a slash
    assert raw(f"{conn.url}/{keyed}/doc?{query}")[:3:2] == (200, b"secret")

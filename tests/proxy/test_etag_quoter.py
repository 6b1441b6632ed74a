"""etag_quoter in the sample pipeline, in-process on the real storage cluster: quoted ETags
where the account or the container asks, the container's setting winning, and a client
never writing other sysmeta through it."""
from __future__ import annotations

import hashlib
import uuid

from hypothesis import given
from hypothesis import strategies as st

from proxy.middleware.etag_quoter import quoted_etags, setting_value

MD5 = hashlib.md5(b"test").hexdigest()


def test_quoting_rules():
    assert quoted_etags([("ETag", MD5), ("X-Other", "x")]) == [("ETag", f'"{MD5}"'),
                                                               ("X-Other", "x")]
    assert quoted_etags([("etag", f'"{MD5}"'), ("Etag", 'W/"w"')]) == [
        ("etag", f'"{MD5}"'), ("Etag", 'W/"w"')]
    assert quoted_etags([("ETag", '"')]) == [("ETag", '"""')]
    assert [setting_value(v) for v in ("t", "yes", "f", "nonsense", "", "  ")] == [
        "true", "true", "false", "false", "", ""]


@given(st.text(max_size=40))
def test_every_quoted_etag_is_quoted_once(value):
    [(_name, quoted)] = quoted_etags([("ETag", value)])
    assert quoted.endswith('"') and quoted.startswith(('"', 'W/"'))
    assert quoted_etags([("ETag", quoted)]) == [("ETag", quoted)]


def etag(client, container):
    resp = client("HEAD", f"{container}/o")
    assert resp.status_int == 200
    return resp.headers["ETag"]


def test_container_and_account_settings(tester2):
    container = "eq-" + uuid.uuid4().hex[:8]
    assert tester2("PUT", container).status_int == 201
    assert tester2("PUT", f"{container}/o", body=b"test").status_int == 201
    assert etag(tester2, container) == MD5  # off by default
    assert tester2("POST", container,
                   headers={"X-Container-Rfc-Compliant-Etags": "t"}).status_int == 204
    assert etag(tester2, container) == f'"{MD5}"'
    assert tester2("GET", f"{container}/o").headers["ETag"] == f'"{MD5}"'
    assert tester2("HEAD", container).headers["X-Container-Rfc-Compliant-Etags"] == "true"
    try:
        assert tester2("POST", "", headers={"X-Account-Rfc-Compliant-Etags": "true"}) \
            .status_int == 204
        assert tester2("HEAD", "").headers["X-Account-Rfc-Compliant-Etags"] == "true"
        assert tester2("POST", container,
                       headers={"X-Container-Rfc-Compliant-Etags": ""}).status_int == 204
        assert etag(tester2, container) == f'"{MD5}"'  # from the account
        assert tester2("POST", container,
                       headers={"X-Container-Rfc-Compliant-Etags": "f"}).status_int == 204
        assert etag(tester2, container) == MD5  # the container's setting wins
    finally:
        assert tester2("POST", "", headers={"X-Remove-Account-Rfc-Compliant-Etags": "x"}) \
            .status_int == 204
    assert "X-Account-Rfc-Compliant-Etags" not in tester2("HEAD", "").headers


def test_a_client_writes_no_other_sysmeta_alongside(tester2):
    container = "eq-" + uuid.uuid4().hex[:8]
    assert tester2("PUT", container, headers={
        "X-Container-Rfc-Compliant-Etags": "true",
        "X-Container-Sysmeta-Versions-Enabled": "true",
        "X-Container-Sysmeta-Evil": "1"}).status_int == 201
    headers = tester2("HEAD", container).headers
    assert headers["X-Container-Rfc-Compliant-Etags"] == "true"
    assert "X-Versions-Enabled" not in headers
    assert not [name for name in headers if "sysmeta" in name.lower()]

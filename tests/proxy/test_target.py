"""What a request path addresses, and Swift's answers to the paths that address nothing."""
from __future__ import annotations

import pytest

from proxy.target import BAD_URL, INVALID_PATH, parse_target


@pytest.mark.parametrize(
    "path,addressed,reason",
    [("/v1/AUTH_a", "/AUTH_a", ""),
     ("/v1.0/AUTH_a/c/o/with/slashes", "/AUTH_a/c/o/with/slashes", ""),
     ("/v1", None, BAD_URL),                  # 412: no account
     ("/v1/", None, BAD_URL),
     ("/info asdf", None, BAD_URL),           # no version, nothing after it
     ("/", None, ""),                         # 404
     ("//v1/AUTH_a", None, ""),               # empty version: 404, never /v1/AUTH_a
     ("/v1//c/o", None, ""),                  # empty account before more: 404
     ("/v1///o", None, ""),
     ("/v1/a//o", None, ""),                  # an object without a container: 404
     ("/v2/AUTH_a", None, ""),
     ("/v1/AUTH_a/c/abc\x00def", None, INVALID_PATH),
     ("/v1/AUTH_a/\xff", None, INVALID_PATH)],  # WSGI text of bytes that are not UTF-8
)
def test_parse_target(path, addressed, reason):
    _version, target, got_reason = parse_target(path)
    assert got_reason == reason
    assert (target.path if target is not None else None) == addressed

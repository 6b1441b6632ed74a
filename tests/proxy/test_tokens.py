"""common.tokens: signed tokens verify on any process with the secret, and nowhere else."""
from __future__ import annotations

import base64
import json

from common.tokens import TOKEN_PREFIX, issue_token, verify_token

SECRET = "unit-test-secret"


def test_round_trip_carries_identity():
    token, info = issue_token(SECRET, "test", "tester", [".admin"], 100, now=1000)
    assert token.startswith(TOKEN_PREFIX)
    checked = verify_token(token, SECRET, now=1050)
    assert checked == info
    assert checked.account == "test" and checked.user == "tester"
    assert checked.is_admin and not checked.is_reseller_admin
    assert checked.account_id() == "AUTH_test"
    assert checked.expires == 1100


def test_expired_token_is_refused():
    token, _ = issue_token(SECRET, "test", "tester", [], 100, now=1000)
    assert verify_token(token, SECRET, now=1100) is None
    assert verify_token(token, SECRET, now=1099) is not None


def test_other_secret_is_refused():
    token, _ = issue_token(SECRET, "test", "tester", [".admin"], 100, now=1000)
    assert verify_token(token, "another-secret", now=1001) is None


def test_tampered_payload_is_refused():
    token, _ = issue_token(SECRET, "test", "tester3", [], 100, now=1000)
    signed, _, signature = token.rpartition(".")
    payload = json.loads(base64.urlsafe_b64decode(signed[4:] + "=="))
    payload["r"] = [".reseller_admin"]
    forged_payload = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    forged = f"{TOKEN_PREFIX}{forged_payload}.{signature}"
    assert verify_token(forged, SECRET, now=1001) is None


def test_garbage_is_refused():
    for junk in ("", None, "BRM_", "BRM_.", "BRM_abc.def", "AUTH_tk123", "BRM_!!!.???",
                 "x" * 5000, "BRM_" + "a" * 10 + "." + "b" * 43):
        assert verify_token(junk, SECRET) is None


def test_signed_garbage_payload_is_refused():
    import hashlib
    import hmac

    signed = TOKEN_PREFIX + base64.urlsafe_b64encode(b'{"a": 1}').rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(
        hmac.new(SECRET.encode(), signed.encode(), hashlib.sha256).digest()
    ).rstrip(b"=").decode()
    assert verify_token(f"{signed}.{signature}", SECRET) is None

"""The portable token module: Fernet round trips, tampering, expiry, key rotation, and the
revocation-event rule other services will apply."""
from __future__ import annotations

import time

from cryptography.fernet import Fernet

from common.token_format import (
    RevocationEvent,
    TokenClaims,
    decode_token,
    encode_token,
    fernet_of,
    is_revoked,
    key_from_secret,
    read_key_file,
    verify_token,
)


def claims(**changes) -> TokenClaims:
    now = time.time()
    values = dict(user_id="u1", methods=("password",), scope_kind="project", scope_id="p1",
                  issued_at=now, expires_at=now + 60, audit_ids=("a1",),
                  roles=("member", "reader"), app_cred_id=None)
    values.update(changes)
    return TokenClaims(**values)


def test_round_trip_without_padding():
    fernet = fernet_of([key_from_secret("s")])
    token = encode_token(claims(), fernet)
    assert "=" not in token
    found = verify_token(token, fernet)
    assert found == claims(issued_at=found.issued_at, expires_at=found.expires_at)
    assert found.project_id == "p1" and found.domain_id is None and not found.is_admin


def test_tampered_foreign_expired_and_junk_tokens_fail():
    fernet = fernet_of([key_from_secret("s")])
    token = encode_token(claims(), fernet)
    flipped = token[:40] + ("A" if token[40] != "A" else "B") + token[41:]
    assert verify_token(flipped, fernet) is None
    assert verify_token(token, fernet_of([key_from_secret("other")])) is None
    old = encode_token(claims(expires_at=time.time() - 1), fernet)
    assert verify_token(old, fernet) is None and decode_token(old, fernet) is not None
    for junk in ("", "x", "é" * 10, "A" * 5000, "gAAAA", None, 5):
        assert verify_token(junk, fernet) is None


def test_key_rotation(tmp_path):
    old, new = Fernet.generate_key(), Fernet.generate_key()
    token = encode_token(claims(), fernet_of([old]))
    path = tmp_path / "keys"
    path.write_text(f"{new.decode()}\n# retired soon\n{old.decode()}\n")
    rotated = fernet_of(read_key_file(str(path)))
    assert verify_token(token, rotated) is not None
    assert verify_token(encode_token(claims(), rotated), fernet_of([new])) is not None


def test_revocation_events_match_by_every_field_and_time():
    token = claims(issued_at=100.0, app_cred_id="c1")
    assert is_revoked(token, [RevocationEvent(100.0, audit_id="a1")])
    assert not is_revoked(token, [RevocationEvent(99.0, audit_id="a1")])
    assert not is_revoked(token, [RevocationEvent(200.0, audit_id="other")])
    assert is_revoked(token, [RevocationEvent(200.0, user_id="u1")])
    assert is_revoked(token, [RevocationEvent(200.0, user_id="u1", project_id="p1")])
    assert not is_revoked(token, [RevocationEvent(200.0, user_id="u1", project_id="p2")])
    assert is_revoked(token, [RevocationEvent(200.0, project_id="p1")])
    assert is_revoked(token, [RevocationEvent(200.0, app_cred_id="c1")])
    assert not is_revoked(token, [RevocationEvent(200.0, app_cred_id="c2")])
    # The parent's audit id in a rescoped token's chain is not the token's own.
    rescoped = claims(issued_at=100.0, audit_ids=("a2", "a1"))
    assert not is_revoked(rescoped, [RevocationEvent(200.0, audit_id="a1")])

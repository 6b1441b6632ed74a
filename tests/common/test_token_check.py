"""common.token_check: both kinds of token, roles and their implications, revocation, config."""
from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common import tokens
from common.config import ConfigError
from common.token_check import TOKEN_CHECK_OPTIONS, TokenChecker, v1_roles, with_implied
from common.token_format import RevocationEvent, TokenClaims, encode_token

SECRET = "test-secret"


def checker(**overrides) -> TokenChecker:
    values = {option.name: option.default for option in TOKEN_CHECK_OPTIONS}
    values.update(overrides)
    return TokenChecker.from_values(values, SECRET, "[test]")


def keystone_token(check: TokenChecker, scope_kind="project", scope_id="p1", roles=("member",),
                   user="u1", expires_in=3600.0, issued_at=None) -> str:
    now = time.time() if issued_at is None else issued_at
    claims = TokenClaims(user, ("password",), scope_kind, scope_id, now, now + expires_in,
                         ("audit1",), tuple(roles))
    return encode_token(claims, check.fernet)


def test_implied_roles_follow_keystone_defaults():
    assert with_implied(["admin"]) == {"admin", "member", "reader"}
    assert with_implied(["member"]) == {"member", "reader"}
    assert with_implied(["reader", "custom"]) == {"reader", "custom"}


def test_v1_flags_map_as_the_identity_store_was_seeded():
    assert v1_roles([".reseller_admin", ".admin"]) == {"admin", "member", "reader"}
    assert v1_roles([".admin"]) == {"member", "reader"}
    assert v1_roles([]) == {"reader"}


def test_a_v1_token_names_its_account_as_the_project():
    check = checker()
    token, _info = tokens.issue_token(SECRET, "test", "test:tester", [".admin"], 3600)
    who = check.requester(token)
    assert (who.project_id, who.can_write, who.is_admin) == ("test", True, False)
    forged, _info = tokens.issue_token("other", "test", "test:tester", [], 60)
    assert check.requester(forged) is None


def test_a_store_issued_v1_token_names_the_user_id_and_dies_with_its_user():
    check = checker()
    token, _info = tokens.issue_token(SECRET, "p1", "alice", [".admin"], 600,
                                      user_id="a1b2", project_roles=["admin"])
    found = check.requester(token)
    assert (found.user_id, found.project_id, found.user_name, found.v1_flags) == \
        ("a1b2", "p1", "alice", (".admin",))
    assert found.roles == {"admin", "member", "reader"}  # its Keystone roles, not its flags
    plain, _info = tokens.issue_token(SECRET, "p1", "alice", [".admin"], 600)
    check.revocations.add([RevocationEvent(time.time() + 1, user_id="a1b2"),
                           RevocationEvent(time.time() + 1, user_id="alice")])
    assert check.requester(token) is None
    assert check.requester(plain) is not None  # a [users] table token has no user id
    later, _info = tokens.issue_token(SECRET, "p1", "alice", [".admin"], 600,
                                      now=time.time() + 5, user_id="a1b2")
    assert check.requester(later) is not None
    gone, _info = tokens.issue_token(SECRET, "p9", "bob", [], 600, user_id="b")
    check.revocations.add([RevocationEvent(time.time() + 1, project_id="p9")])
    assert check.requester(gone) is None


def test_a_project_scoped_keystone_token_carries_its_roles():
    check = checker()
    who = check.requester(keystone_token(check, roles=("reader",)))
    assert (who.user_id, who.project_id, who.can_write) == ("u1", "p1", False)
    admin = check.requester(keystone_token(check, roles=("admin",)))
    assert admin.is_admin and admin.can_write


@pytest.mark.parametrize("kind,scope", [("domain", "default"), (None, None)])
def test_tokens_without_a_project_name_nobody(kind, scope):
    check = checker()
    assert check.requester(keystone_token(check, scope_kind=kind, scope_id=scope)) is None


def test_expired_and_revoked_keystone_tokens_are_refused():
    check = checker()
    assert check.requester(keystone_token(check, expires_in=-1)) is None
    issued = time.time() - 10
    token = keystone_token(check, issued_at=issued)
    assert check.requester(token) is not None
    check.revocations.add([RevocationEvent(issued + 1, user_id="u1")])
    assert check.requester(token) is None
    assert check.requester(keystone_token(check, user="u2")) is not None


def test_a_token_of_another_key_is_refused():
    other = TokenChecker.from_values(
        {option.name: option.default for option in TOKEN_CHECK_OPTIONS}, "another", "[t]")
    assert checker().requester(keystone_token(other)) is None


def test_config_mistakes_are_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="revocation_user"):
        checker(revocation_url="http://127.0.0.1:5000")
    with pytest.raises(ConfigError, match="http"):
        checker(revocation_url="ftp://x", revocation_user="u", revocation_password="p")
    with pytest.raises(ConfigError, match="token_key_file"):
        checker(token_key_file=str(tmp_path / "missing"))


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=300), st.binary(max_size=300).map(
    lambda raw: "BRM_" + raw.hex())))
def test_junk_tokens_name_nobody_and_never_raise(token):
    assert checker().requester(token) is None


def test_a_remembered_token_still_expires_and_is_still_revoked():
    check = checker()
    issued = time.time()
    v1, _info = tokens.issue_token(SECRET, "p1", "alice", [".admin"], 60, now=issued,
                                   user_id="a1", project_roles=["member"])
    fernet = keystone_token(check, issued_at=issued, expires_in=60)
    for token in (v1, fernet):
        assert check.requester(token, now=issued + 1) is not None  # checked, remembered
        assert check.requester(token, now=issued + 59) is not None
        assert check.requester(token, now=issued + 61) is None  # past its expiry
    assert check.requester(v1, now=issued + 2) is not None
    check.revocations.add([RevocationEvent(issued + 1, user_id="a1")], now=issued + 3)
    assert check.requester(v1, now=issued + 4) is None
    assert check.requester(fernet, now=issued + 4) is not None  # u1, not a1
    check.revocations.add([RevocationEvent(issued + 1, user_id="u1")], now=issued + 5)
    assert check.requester(fernet, now=issued + 6) is None


def test_the_memory_of_checked_tokens_is_bounded_and_forgets_nothing_it_should_know():
    check = TokenChecker(SECRET, checker().fernet, checker().revocations, remembered=8)
    issued = [tokens.issue_token(SECRET, f"p{n}", f"user{n}", [], 600)[0] for n in range(20)]
    for _round in range(2):
        for n, token in enumerate(issued):
            assert check.requester(token).project_id == f"p{n}"
    assert len(check._verified) == 8


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.floats(0, 200)), max_size=30))
def test_remembering_never_changes_an_answer(uses):
    """Whatever order and time tokens come in, the answer is what a fresh check gives."""
    base = 1_000_000.0
    remembering = checker()
    made = [tokens.issue_token(SECRET, "p", "u", [], 100, now=base)[0],
            tokens.issue_token(SECRET, "q", "v", [".admin"], 50, now=base)[0],
            keystone_token(remembering, issued_at=base, expires_in=150),
            keystone_token(remembering, issued_at=base, expires_in=10, user="u9")]
    for index, offset in uses:
        fresh = TokenChecker(SECRET, remembering.fernet, remembering.revocations)
        token, now = made[index], base + offset
        assert remembering.requester(token, now) == fresh.requester(token, now)

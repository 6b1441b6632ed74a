"""Revocation events in the network service: parsing the identity service's answer, keeping
and pruning events, refusing a revoked token (in-process), and the poller's config."""
from __future__ import annotations

import time

import pytest

from common.config import ConfigError
from common.revocation import RevocationList, parse_events
from common.token_format import RevocationEvent, fernet_of, key_from_secret, verify_token
from tests.network.conftest import SECRET, mint, neutron_error, write_conf


def test_parse_events_accepts_the_identity_shape_and_refuses_others():
    doc = {"events": [{"issued_before": "2026-12-04T10:00:00.000000Z", "audit_id": "a"},
                      {"issued_before": "2026-12-04T10:00:00", "user_id": "u",
                       "project_id": "p"}]}
    events = parse_events(doc)
    assert events[0].audit_id == "a" and events[1].user_id == "u"
    assert events[0].issued_before == events[1].issued_before
    for bad in (None, {}, {"events": {}}, {"events": [1]}, {"events": [{"issued_before": 5}]},
                {"events": [{"issued_before": "x"}]},
                {"events": [{"issued_before": "2026-01-01T00:00:00", "user_id": 5}]}):
        with pytest.raises(ValueError):
            parse_events(bad)


def test_revocation_list_matches_dedupes_and_prunes():
    token = mint("p", user="u")
    claims = verify_token(token, fernet_of([key_from_secret(SECRET)]))
    known = RevocationList(keep_seconds=100)
    assert not known.revoked(claims)
    event = RevocationEvent(time.time() + 1, user_id="u")
    assert known.add([event, event]) == 1
    assert known.revoked(claims)
    assert known.add([event]) == 0
    known.add([], now=time.time() + 1000)
    assert len(known) == 0 and not known.revoked(claims)


def test_a_revoked_token_is_refused(app):
    from tests.network.conftest import Client

    token = mint("p", user="u")
    client = Client(app, token)
    assert client.get("/v2.0/networks")[0] == 200
    app.service.revocations.add([RevocationEvent(time.time() + 1, user_id="u")])
    status, _, doc = client.get("/v2.0/networks")
    assert status == 401 and neutron_error(doc) == "HTTPUnauthorized"
    assert client.get("/v2.0/networks", token=mint("p", user="other"))[0] == 200


def test_revocation_config(tmp_path):
    from network.app import make_app

    with pytest.raises(ConfigError) as caught:
        make_app(write_conf(tmp_path, network={"revocation_url": "http://127.0.0.1:5000"}))
    assert "revocation_user" in str(caught.value)
    with pytest.raises(ConfigError):
        make_app(write_conf(tmp_path, network={
            "token_secret": "real-secret", "revocation_url": "http://10.0.0.1:5000",
            "revocation_user": "brume", "revocation_password": "brume-dev-service-secret"},
            server={"bind_ip": "0.0.0.0"}))


def test_an_event_rendered_to_the_microsecond_still_matches_its_token():
    import datetime

    from common.token_format import TokenClaims

    issued = 1_800_000_000.0000004  # rounds down to the microsecond when rendered
    claims = TokenClaims("u", ("password",), "project", "p", issued, issued + 3600, ("a",))
    text = datetime.datetime.fromtimestamp(issued, datetime.UTC).strftime(
        "%Y-%m-%dT%H:%M:%S.%fZ")
    assert datetime.datetime.fromisoformat(text).timestamp() < issued
    known = RevocationList(keep_seconds=10**10)
    known.add(parse_events({"events": [{"issued_before": text, "audit_id": "a"}]}))
    assert known.revoked(claims)

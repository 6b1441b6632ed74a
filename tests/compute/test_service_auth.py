"""The API <-> agent signatures (compute.service_auth): target, window, and replay memory."""
from __future__ import annotations

import pytest

from compute.service_auth import (
    API_TARGET,
    NONCE_HEADER,
    ServiceVerifier,
    agent_target,
    sign_headers,
)

SECRET = "unit-secret"
START = 1_700_000_000.0


def verifier(**kwargs) -> ServiceVerifier:
    return ServiceVerifier(SECRET, agent_target("hv1"), now=START, **kwargs)


def signed(now, target=agent_target("hv1"), path="/v1/instances", body=b"", secret=SECRET,
           nonce=None):
    return sign_headers(secret, "GET", target, path, body, now=now, nonce=nonce)


def test_a_request_is_accepted_once():
    check = verifier()
    headers = signed(START + 1)
    assert check.refusal("GET", "/v1/instances", b"", headers, now=START + 1) == ""
    assert check.refusal("GET", "/v1/instances", b"", headers, now=START + 2) == \
        "replayed service request"
    fresh = signed(START + 2)
    assert fresh[NONCE_HEADER] != headers[NONCE_HEADER]
    assert check.refusal("GET", "/v1/instances", b"", fresh, now=START + 2) == ""


def test_signed_for_another_target_is_refused():
    check = verifier()
    for target in (agent_target("hv2"), API_TARGET, ""):
        reason = check.refusal("GET", "/v1/instances", b"", signed(START + 1, target),
                               now=START + 1)
        assert reason.startswith("service signature is for another target") or \
            reason == "missing or malformed service signature"


@pytest.mark.parametrize("change", ["path", "body", "method", "secret", "target header"])
def test_anything_signed_changed_is_refused(change):
    check = verifier()
    headers = signed(START + 1, body=b"{}")
    method, path, body = "GET", "/v1/instances", b"{}"
    if change == "path":
        path = "/v1/instances?all=1"
    elif change == "body":
        body = b'{"a": 1}'
    elif change == "method":
        method = "DELETE"
    elif change == "secret":
        headers = signed(START + 1, body=b"{}", secret="other")
    else:
        headers = {**headers, "X-Brume-Service-Target": agent_target("hv1") + " "}
    assert check.refusal(method, path, body, headers, now=START + 1) != ""


def test_outside_the_window_and_before_the_start_are_refused():
    check = verifier(max_skew=300.0)
    assert check.refusal("GET", "/v1/instances", b"", signed(START + 1), now=START + 302) == \
        "service signature expired"
    assert check.refusal("GET", "/v1/instances", b"", signed(START + 400), now=START + 1) == \
        "service signature expired"
    # Signed before this receiver started: it cannot know whether it was already seen.
    assert check.refusal("GET", "/v1/instances", b"", signed(START - 10), now=START + 1) == \
        "replayed service request"


def test_nonce_memory_is_bounded_without_opening_a_replay_hole():
    check = verifier(max_nonces=3)
    sent = [signed(START + 1 + index) for index in range(5)]
    for index, headers in enumerate(sent):
        assert check.refusal("GET", "/v1/instances", b"", headers, now=START + 6 + index) == ""
    assert len(check._seen) == 3
    for headers in sent:  # forgotten or remembered, every one of them stays refused
        assert check.refusal("GET", "/v1/instances", b"", headers, now=START + 12) == \
            "replayed service request"


def test_nonces_leave_memory_with_the_window():
    check = verifier(max_skew=10.0)
    assert check.refusal("GET", "/v1/instances", b"", signed(START + 1), now=START + 1) == ""
    assert check.refusal("GET", "/v1/instances", b"", signed(START + 30), now=START + 30) == ""
    assert len(check._seen) == 1


@pytest.mark.parametrize("headers", [
    {},
    {"X-Brume-Service-Time": "nan", NONCE_HEADER: "0" * 32, "X-Brume-Service-Target": "x",
     "X-Brume-Service-Signature": "ab"},
    {"X-Brume-Service-Time": "1700000001.000", NONCE_HEADER: "short",
     "X-Brume-Service-Target": "x", "X-Brume-Service-Signature": "ab"},
    {"X-Brume-Service-Time": "\u0661.000", NONCE_HEADER: "0" * 32,
     "X-Brume-Service-Target": "x", "X-Brume-Service-Signature": "\u00e9"},
])
def test_malformed_headers_are_refused(headers):
    assert verifier().refusal("GET", "/", b"", headers, now=START + 1) != ""

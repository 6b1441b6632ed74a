"""The console websocket's refusals, in-process: no upgrade, a bad, spent or expired token,
another project's or a stopped server. None of them takes the connection over."""
from __future__ import annotations

import base64
import os
import time
import uuid

from webob import Request

from compute import console_tokens


def upgrade_headers() -> dict[str, str]:
    return {"Upgrade": "websocket", "Connection": "keep-alive, Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode()}


def connect(api, token: str, headers: dict[str, str] | None = None):
    request = Request.blank(f"/console?token={token}", headers=headers or {})
    response = request.get_response(api.app)
    return response.status_int, response.text


def test_a_plain_get_is_not_a_console(api):
    status, text = connect(api, "anything")
    assert status == 400 and "WebSocket" in text
    status, _ = connect(api, "x", {**upgrade_headers(), "Sec-WebSocket-Version": "8"})
    assert status == 400


def test_unknown_spent_and_expired_tokens_are_401(api):
    assert connect(api, "made-up", upgrade_headers())[0] == 401
    token = console_tokens.issue(api.core.db, str(uuid.uuid4()), "demo", "serial")
    assert connect(api, token, upgrade_headers())[0] == 404  # spent here: the server is gone
    assert connect(api, token, upgrade_headers())[0] == 401
    old = console_tokens.issue(api.core.db, str(uuid.uuid4()), "demo", "serial",
                               now=time.time() - console_tokens.TTL - 1)
    assert connect(api, old, upgrade_headers())[0] == 401


def test_a_token_for_a_server_not_active_is_409(api, user):
    status, body = api.boot(user, name="console-vm")
    assert status == 202, body
    server_id = body["server"]["id"]
    token = console_tokens.issue(api.core.db, server_id, "demo", "serial")
    assert connect(api, token, upgrade_headers())[0] == 409  # still building, no agent
    foreign = console_tokens.issue(api.core.db, server_id, "other", "serial")
    assert connect(api, foreign, upgrade_headers())[0] == 409

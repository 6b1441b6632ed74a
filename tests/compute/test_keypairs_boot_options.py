"""`os-keypairs`, `key_name`, `user_data` and `config_drive` on the in-process compute API
(real SQLite, the session cluster's real image service for boots)."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.tokens import issue_token
from compute import ssh_keys
from compute.validation import MAX_USER_DATA

pytestmark = pytest.mark.cluster


def a_public_key(comment: str = "me@host") -> str:
    key = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return f"{key} {comment}"


def keypairs_of(api, tok):
    status, body = api.call("GET", "/v2.1/os-keypairs", tok)
    assert status == 200
    return {item["keypair"]["name"]: item["keypair"] for item in body["keypairs"]}


def test_import_list_show_delete_a_keypair(api, user, other_user):
    public = a_public_key()
    status, body = api.call("POST", "/v2.1/os-keypairs", user,
                            {"keypair": {"name": "laptop", "public_key": public}})
    assert status == 200, body
    pair = body["keypair"]
    _, blob, _ = ssh_keys.parse_public_key(public)
    assert pair["public_key"] == public and pair["type"] == "ssh"
    assert pair["fingerprint"] == ssh_keys.fingerprint(blob)
    assert len(pair["fingerprint"].split(":")) == 16 and "private_key" not in pair
    assert set(keypairs_of(api, user)) == {"laptop"}
    status, body = api.call("GET", "/v2.1/os-keypairs/laptop", user)
    assert status == 200 and body["keypair"]["fingerprint"] == pair["fingerprint"]
    assert body["keypair"]["user_id"] == pair["user_id"]
    # Another user has no such keypair, and may use the name for its own.
    assert api.call("GET", "/v2.1/os-keypairs/laptop", other_user)[0] == 404
    assert api.call("DELETE", "/v2.1/os-keypairs/laptop", other_user)[0] == 404
    assert keypairs_of(api, other_user) == {}
    assert api.call("POST", "/v2.1/os-keypairs", other_user,
                    {"keypair": {"name": "laptop", "public_key": a_public_key()}})[0] == 200
    # A second keypair of one name for one user: 409, the first unchanged.
    status, _ = api.call("POST", "/v2.1/os-keypairs", user,
                         {"keypair": {"name": "laptop", "public_key": a_public_key("x")}})
    assert status == 409
    assert keypairs_of(api, user)["laptop"]["public_key"] == public
    assert api.call("DELETE", "/v2.1/os-keypairs/laptop", user)[0] == 202
    assert api.call("GET", "/v2.1/os-keypairs/laptop", user)[0] == 404
    assert api.call("DELETE", "/v2.1/os-keypairs/laptop", user)[0] == 404


def test_generated_keypair_returns_its_private_key_once(api, user):
    status, body = api.call("POST", "/v2.1/os-keypairs", user, {"keypair": {"name": "gen"}})
    assert status == 200, body
    pair = body["keypair"]
    private = serialization.load_ssh_private_key(pair["private_key"].encode(), None)
    derived = private.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    assert pair["public_key"].startswith(derived)
    shown = api.call("GET", "/v2.1/os-keypairs/gen", user)[1]["keypair"]
    assert "private_key" not in shown and shown["public_key"] == pair["public_key"]
    assert "private_key" not in keypairs_of(api, user)["gen"]


def test_bad_keypairs_are_400_and_store_nothing(api, user):
    good = a_public_key()
    kind, encoded = good.split()[:2]
    rsa_labelled = "ssh-rsa " + encoded  # an ed25519 blob under another type
    bad_specs = [
        {"name": "k", "public_key": "not a key"},
        {"name": "k", "public_key": "ssh-ed25519 !!!notbase64"},
        {"name": "k", "public_key": rsa_labelled},
        {"name": "k", "public_key": "ssh-foo " + encoded},
        {"name": "k", "public_key": good + "\n" + good},
        {"name": "k", "public_key": 42},
        {"name": "k", "public_key": kind + " " + base64.b64encode(b"\x00\x00").decode()},
        {"name": "k", "public_key": "ssh-ed25519 " + "A" * 20000},
        {"name": "", "public_key": good},
        {"name": " padded", "public_key": good},
        {"name": "bad/name", "public_key": good},
        {"name": "x" * 256, "public_key": good},
        {"name": 7, "public_key": good},
        {"name": "k", "public_key": good, "type": "x509"},
        {"name": "k", "public_key": good, "colour": "blue"},
    ]
    for spec in bad_specs:
        status, body = api.call("POST", "/v2.1/os-keypairs", user, {"keypair": spec})
        assert status == 400, (spec, status, body)
    for raw in (b"{", b"[]", b'{"keypair": "x"}'):
        assert api.call("POST", "/v2.1/os-keypairs", user, raw=raw)[0] == 400
    assert keypairs_of(api, user) == {}


def test_readers_and_anonymous_cannot_make_keypairs(api, cloud_settings):
    reader = issue_token(cloud_settings.token_secret, "demo", "demo:reader", [])[0]
    assert api.call("POST", "/v2.1/os-keypairs", None, {"keypair": {"name": "k"}})[0] == 401
    assert api.call("POST", "/v2.1/os-keypairs", reader, {"keypair": {"name": "k"}})[0] == 403
    assert api.call("GET", "/v2.1/os-keypairs", reader)[1] == {"keypairs": []}


def test_key_name_on_boot_and_in_views(api, user, other_user):
    api.call("POST", "/v2.1/os-keypairs", user,
             {"keypair": {"name": "mine", "public_key": a_public_key()}})
    assert api.boot(user, key_name="nope")[0] == 400
    assert api.boot(user, key_name=5)[0] == 400
    assert api.boot(other_user, key_name="mine")[0] == 400  # another user's keypair
    assert api.call("GET", "/v2.1/servers", user)[1]["servers"] == []
    status, body = api.boot(user, key_name="mine")
    assert status == 202, body
    server_id = body["server"]["id"]
    view = api.call("GET", f"/v2.1/servers/{server_id}", user)[1]["server"]
    assert view["key_name"] == "mine" and view["config_drive"] == ""
    row = api.core.repo.get_server(server_id)
    assert row["key_data"] == keypairs_of(api, user)["mine"]["public_key"]
    # The server keeps the key it booted with when the keypair goes.
    api.call("DELETE", "/v2.1/os-keypairs/mine", user)
    assert api.call("GET", f"/v2.1/servers/{server_id}", user)[1]["server"]["key_name"] == \
        "mine"


def test_user_data_and_config_drive_are_checked(api, user):
    cases = [
        {"user_data": "not base64!"},
        {"user_data": 12},
        {"user_data": "A" * (MAX_USER_DATA + 4)},
        {"user_data": "QUJD="},  # bad padding
        {"config_drive": "maybe"},
        {"config_drive": 3},
    ]
    for extra in cases:
        status, body = api.boot(user, **extra)
        assert status == 400, (extra, status, body)
    assert api.call("GET", "/v2.1/servers", user)[1]["servers"] == []
    script = b"#!/bin/sh\necho hello\n"
    encoded = base64.b64encode(script).decode()
    folded = "\n".join(encoded[i:i + 8] for i in range(0, len(encoded), 8))
    status, body = api.boot(user, user_data=folded, config_drive=True)
    assert status == 202, body
    server_id = body["server"]["id"]
    assert api.call("GET", f"/v2.1/servers/{server_id}", user)[1]["server"]["config_drive"] \
        == "True"
    row = api.core.repo.get_server(server_id)
    assert base64.b64decode(row["user_data"]) == script and row["config_drive"] is True
    biggest = "A" * MAX_USER_DATA
    assert api.boot(user, name="big", user_data=biggest)[0] == 202


def test_networks_need_a_network_service(api, user):
    """Without `network_url` only no network (absent or "none") boots."""
    some = "6f1c39e0-4c1a-4a52-9b0b-3c7c2a1c0f11"
    assert api.boot(user, networks=[{"uuid": some}])[0] == 400
    assert api.boot(user, networks="auto")[0] == 400
    status, body = api.boot(user, networks="none")
    assert status == 202
    view = api.call("GET", f"/v2.1/servers/{body['server']['id']}", user)[1]["server"]
    assert view["addresses"] == {}

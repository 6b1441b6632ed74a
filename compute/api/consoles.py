"""Interactive consoles: `POST /v2.1/servers/{id}/remote-consoles` (Nova 2.6+ shape), the
`os-getSerialConsole` and `os-getVNCConsole` actions, and the websocket their URLs name
(`GET /console?token=...`, no X-Auth-Token: the token is the credential).

A URL carries a one-time token (`compute.console_tokens`, 10 minutes) bound to the server
and its project; the websocket (RFC 6455, `common.websocket`, binary frames) is relayed to
the guest's serial console or VNC display (the RFB stream, for noVNC or any websocket VNC
client) through its agent (`compute.console_proxy`). The server must be ACTIVE on a live
host (409 otherwise); a spent, expired or unknown token is a 401; a request that is not a
WebSocket upgrade is a 400.
"""
from __future__ import annotations

from common import raw_connection, websocket
from common.http_errors import HTTPError
from compute import console_tokens, states
from compute.api.servers import load_server, reachable_host
from compute.console_proxy import ConsoleUnavailable, open_agent_stream, relay
from compute.http_json import json_response, parse_json, read_body
from compute.repo import NotFound

# protocol → (types it accepts, the agent's stream kind)
PROTOCOLS = {"serial": ({"serial"}, "serial"), "vnc": ({"novnc"}, "vnc")}
ACTIONS = {"os-getSerialConsole": "serial", "os-getVNCConsole": "vnc"}


def _url(core, caller, request, server: dict, kind: str) -> str:
    if server["vm_state"] != states.ACTIVE or server["task_state"] or not server["host"]:
        raise HTTPError(409, f"Instance {server['id']} is not ready for a console (it must "
                        "be ACTIVE).")
    reachable_host(core, server)
    token = console_tokens.issue(core.db, server["id"], server["project_id"], kind)
    base = core.base_url(request)
    scheme, _, rest = base.partition("://")
    return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/console?token={token}"


def create(core, caller, request, server_id):
    server = load_server(core, caller, server_id)
    spec = parse_json(read_body(request)).get("remote_console")
    if not isinstance(spec, dict):
        raise HTTPError(400, "Invalid input: 'remote_console' is a required object.")
    protocol, kind = spec.get("protocol"), spec.get("type")
    if protocol not in PROTOCOLS:
        raise HTTPError(400, f"Invalid input: protocol must be one of "
                        f"{', '.join(sorted(PROTOCOLS))}.")
    types, stream = PROTOCOLS[protocol]
    if kind not in types:
        raise HTTPError(400, f"Invalid input: type {kind!r} is not one of protocol "
                        f"{protocol}'s ({', '.join(sorted(types))}).")
    url = _url(core, caller, request, server, stream)
    return json_response(200, {"remote_console": {"protocol": protocol, "type": kind,
                                                  "url": url}})


def action(core, caller, request, server: dict, name: str, args):
    """`os-getSerialConsole` {"type": "serial"} / `os-getVNCConsole` {"type": "novnc"}."""
    stream = ACTIONS[name]
    types = PROTOCOLS[stream][0]
    kind = args.get("type") if isinstance(args, dict) else None
    if kind not in types:
        raise HTTPError(400, f"Invalid input: type must be {' or '.join(sorted(types))}.")
    url = _url(core, caller, request, server, stream)
    return json_response(200, {"console": {"type": kind, "url": url}})


def connect(core, request):
    """The console websocket: spend the token, open the guest's console on its agent, then
    switch protocols and relay."""
    try:
        answer = websocket.server_handshake(request.headers)
    except websocket.WebSocketError as exc:
        raise HTTPError(400, f"Bad console request: {exc}.") from None
    grant = console_tokens.consume(core.db, request.GET.get("token", ""))
    if grant is None:
        raise HTTPError(401, "The console token is invalid, spent or expired.")
    try:
        server = core.repo.get_server(grant["server_id"])
    except NotFound:
        raise HTTPError(404, "The server is gone.") from None
    if server["project_id"] != grant["project_id"] or server["vm_state"] != states.ACTIVE:
        raise HTTPError(409, "The server is no longer ACTIVE.")
    host = reachable_host(core, server)
    try:
        guest, first = open_agent_stream(host["agent_url"], host["name"], server["id"],
                                         grant["kind"], core.conf["service_secret"],
                                         timeout=core.conf["agent_timeout"])
    except ConsoleUnavailable as exc:
        raise HTTPError(409, str(exc)) from None
    client = raw_connection.take_over(request.environ)
    head = "HTTP/1.1 101 Switching Protocols\r\n" + "".join(
        f"{name}: {value}\r\n" for name, value in answer) + "\r\n"
    try:
        client.sendall(head.encode("ascii"))
    except OSError:
        guest.close()
        return lambda environ, start_response: raw_connection.handled()
    relay(client, guest, first)
    return lambda environ, start_response: raw_connection.handled()

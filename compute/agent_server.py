"""The compute agent's HTTP service (`[server] app = compute.agent_server:make_app`).

Every request must be signed with the service secret for this agent's target name, once
(compute.service_auth: replays and requests signed for another agent get 401). Routes:

- `GET    /v1/instances`                      {"instances": {id: power_state}, "building": [..]}
- `POST   /v1/instances/<id>`                 start a build: {"instance", "flavor",
                                              "image_meta"} → 202; the result comes back to
                                              the API as a `build_done`/`build_failed` event
- `POST   /v1/instances/<id>/action`          {"action": "start"|"stop"|"reboot",
                                              "hard": bool} → 200 {"power_state"}
- `DELETE /v1/instances/<id>`                 destroy, undefine, remove files → 200
- `GET    /v1/instances/<id>/console?length=N` {"output": last N console lines}
- `GET    /v1/instances/<id>/diagnostics`     CPU, memory, disk and NIC figures
- `GET    /v1/instances/<id>/console-stream?kind=serial|vnc`  101, then the raw bytes of the
                                              guest's serial console (or VNC's RFB stream)
                                              both ways: the compute API's console proxy
- `POST   /v1/instances/<id>/volumes[/detach]` {"volume": {device, connection_info, ...}}:
                                              hot-plug or unplug a volume's NBD disk
- `POST   /v1/instances/<id>/snapshot`        {"image_id", "stop"} → 200 {"image",
                                              "power_state"} (compute.agent_lifecycle)
- `POST   /v1/instances/<id>/spawn`           {"instance", "flavor", "image_meta", "start",
                                              "replace"} → 200 {"power_state"}, built now
- `POST   /v1/instances/<id>/stash`           a move's source set aside → 200
- `POST   /v1/instances/<id>/unstash`         {"start"} → 200 {"power_state"} (revert)
- `DELETE /v1/instances/<id>/stash`           the kept source removed (confirm) → 200

Refusals are `common.http_errors.HTTPError`s (a missing instance 404, a driver failure 500),
answered as Nova-shaped JSON faults (`error_middleware` with
`compute.nova_faults.render_nova_fault`); a bug is a logged traceback and a `computeFault` 500.
"""
from __future__ import annotations

import logging
import re
import socket

from webob import Request

from common import raw_connection
from common.http_errors import HTTPError, error_middleware
from compute import service_auth
from compute.agent import Agent
from compute.agent_lifecycle import LifecycleWork
from compute.config import load_agent_config
from compute.driver import DriverError, InstanceNotFound, LibvirtDriver
from compute.guest_builders import make_guest_builder
from compute.http_json import (
    json_response,
    parse_json,
    read_body,
    request_path,
)
from compute.nova_faults import render_nova_fault

LOG = logging.getLogger("brume.compute-agent")

UUID_RE = r"[0-9a-fA-F-]{36}"
ROUTES = [
    ("GET", re.compile(r"^/v1/instances$"), "list_instances"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})$"), "build"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})/action$"), "action"),
    ("DELETE", re.compile(rf"^/v1/instances/({UUID_RE})$"), "delete"),
    ("GET", re.compile(rf"^/v1/instances/({UUID_RE})/console$"), "console"),
    ("GET", re.compile(rf"^/v1/instances/({UUID_RE})/diagnostics$"), "diagnostics"),
    ("GET", re.compile(rf"^/v1/instances/({UUID_RE})/console-stream$"), "console_stream"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})/interfaces$"), "attach_interface"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})/interfaces/detach$"),
     "detach_interface"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})/volumes$"), "attach_volume"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})/volumes/detach$"), "detach_volume"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})/snapshot$"), "snapshot"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})/spawn$"), "spawn_now"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})/stash$"), "stash"),
    ("POST", re.compile(rf"^/v1/instances/({UUID_RE})/unstash$"), "unstash"),
    ("DELETE", re.compile(rf"^/v1/instances/({UUID_RE})/stash$"), "drop_stash"),
]


class AgentApp:
    """WSGI front of an Agent."""

    def __init__(self, agent: Agent, service_secret: str):
        self.agent = agent
        self.lifecycle = LifecycleWork(agent)
        self.verifier = service_auth.ServiceVerifier(
            service_secret, service_auth.agent_target(agent.conf["host"]))
        self._wsgi = error_middleware(self._serve, render_nova_fault, bug_log=LOG,
                                      bug_message="Unexpected error in the compute agent.")

    def __call__(self, environ, start_response):
        return self._wsgi(environ, start_response)

    def _serve(self, environ, start_response):
        try:
            response = self.handle(Request(environ))
        except InstanceNotFound as exc:
            raise HTTPError(404, str(exc)) from None
        except DriverError as exc:
            raise HTTPError(500, str(exc)) from None
        return response(environ, start_response)

    def handle(self, request: Request):
        request_path(request)
        body = read_body(request)
        target = request.path_qs if request.query_string else request.path
        refused = self.verifier.refusal(request.method, target, body, request.headers)
        if refused:
            raise HTTPError(401, f"Unauthorized: {refused}.")
        for method, pattern, name in ROUTES:
            match = pattern.match(request.path)
            if match:
                if request.method != method:
                    continue
                return getattr(self, name)(request, body, *match.groups())
        raise HTTPError(404, "Not found.")

    def list_instances(self, request, body):
        return json_response(
            200,
            {"instances": self.agent.driver.list_instances(),
             "building": sorted(self.agent.building)},
        )

    def build(self, request, body, server_id):
        data = parse_json(body)
        instance = data.get("instance")
        if not isinstance(instance, dict) or instance.get("id") != server_id:
            raise HTTPError(400, "instance.id must match the URL.")
        if server_id in self.agent.building:
            return json_response(202, {"accepted": True})
        self.agent.start_build(instance, data.get("flavor") or {}, data.get("image_meta") or {})
        return json_response(202, {"accepted": True})

    def action(self, request, body, server_id):
        data = parse_json(body)
        action = data.get("action")
        if action not in ("start", "stop", "reboot"):
            raise HTTPError(400, "action must be start, stop or reboot.")
        power_state = self.agent.power_action(server_id, action, bool(data.get("hard")))
        return json_response(200, {"power_state": power_state})

    def delete(self, request, body, server_id):
        self.agent.delete(server_id)
        return json_response(200, {"deleted": server_id})

    def console(self, request, body, server_id):
        raw = request.GET.get("length")
        length = None
        if raw not in (None, "", "null"):
            try:
                length = int(raw)
            except ValueError:
                raise HTTPError(400, "length must be an integer.") from None
        output = self.agent.driver.get_console_output(server_id, length)
        return json_response(200, {"output": output})

    @staticmethod
    def _nic(body) -> dict:
        nic = parse_json(body).get("nic")
        if not isinstance(nic, dict) or not all(
                isinstance(nic.get(key), str) and nic[key]
                for key in ("port_id", "network_id", "mac_address")):
            raise HTTPError(400, "nic must name port_id, network_id and mac_address.")
        return nic

    def attach_interface(self, request, body, server_id):
        self.agent.attach_interface(server_id, self._nic(body))
        return json_response(200, {"attached": True})

    def detach_interface(self, request, body, server_id):
        self.agent.detach_interface(server_id, self._nic(body))
        return json_response(200, {"detached": True})

    @staticmethod
    def _volume(body) -> dict:
        item = parse_json(body).get("volume")
        if not isinstance(item, dict) or not isinstance(item.get("device"), str) \
                or not isinstance(item.get("connection_info"), dict):
            raise HTTPError(400, "volume must name its device and connection_info.")
        return item

    def attach_volume(self, request, body, server_id):
        self.agent.attach_volume(server_id, self._volume(body))
        return json_response(200, {"attached": True})

    def detach_volume(self, request, body, server_id):
        self.agent.detach_volume(server_id, self._volume(body))
        return json_response(200, {"detached": True})

    def diagnostics(self, request, body, server_id):
        return json_response(200, self.agent.driver.get_diagnostics(server_id))

    def console_stream(self, request, body, server_id):
        kind = request.GET.get("kind", "serial")
        if kind not in ("serial", "vnc"):
            raise HTTPError(400, "kind must be serial or vnc.")
        port = self.agent.driver.console_port(server_id, kind)
        if port is None:
            raise HTTPError(409, f"The server has no {kind} console now.")
        try:
            guest = socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError as exc:
            raise HTTPError(409, f"Cannot reach the {kind} console: {exc}.") from None
        guest.settimeout(None)
        client = raw_connection.take_over(request.environ)
        client.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: brume-console\r\n"
                       b"Connection: Upgrade\r\n\r\n")
        raw_connection.splice(client, guest)
        return lambda environ, start_response: raw_connection.handled()

    # day-2 operations (compute.agent_lifecycle) -------------------------------------------
    def snapshot(self, request, body, server_id):
        data = parse_json(body)
        image_id = data.get("image_id")
        if not isinstance(image_id, str) or not image_id:
            raise HTTPError(400, "image_id is required.")
        return json_response(200, self.lifecycle.snapshot(server_id, image_id,
                                                          data.get("stop") is True))

    def spawn_now(self, request, body, server_id):
        data = parse_json(body)
        instance = data.get("instance")
        if not isinstance(instance, dict) or instance.get("id") != server_id:
            raise HTTPError(400, "instance.id must match the URL.")
        if server_id in self.agent.building:
            raise HTTPError(409, "A build of this instance is in progress here.")
        power_state = self.lifecycle.spawn(
            instance, data.get("flavor") or {}, data.get("image_meta") or {},
            start=data.get("start") is not False, replace=data.get("replace") is True)
        return json_response(200, {"power_state": power_state})

    def stash(self, request, body, server_id):
        self.lifecycle.stash(server_id)
        return json_response(200, {"stashed": server_id})

    def unstash(self, request, body, server_id):
        power_state = self.lifecycle.unstash(server_id, parse_json(body).get("start") is True)
        return json_response(200, {"power_state": power_state})

    def drop_stash(self, request, body, server_id):
        self.lifecycle.drop_stash(server_id)
        return json_response(200, {"dropped": server_id})


def make_app(conf_path: str):
    from common.green import eventlet

    conf = load_agent_config(conf_path)
    builder = make_guest_builder(conf, sleep=eventlet.sleep)
    driver = LibvirtDriver(conf["libvirt_uri"], conf["instances_dir"], builder,
                           stop_timeout=conf["stop_timeout"])
    try:
        agent = Agent(conf, driver, eventlet)
    except DriverError as exc:
        from common.config import ConfigError

        raise ConfigError(f"{conf_path}: {exc}") from None
    agent.start_background()
    return AgentApp(agent, conf["service_secret"])

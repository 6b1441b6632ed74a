"""The handle that tests get on a running all-in-one cluster, and small polling helpers.

`ClusterHandle` wraps one `brume up --detach` data dir: its URLs and credentials, tokens,
requests straight to a storage server (signed with the cluster's backend secret, as the
proxy and the daemons sign them, or deliberately not), and the fault-injection helpers
(kill/start one server, stop/start a whole node, run one daemon pass, find where an
object's replicas live on disk). `wait_until` polls a condition with a deadline, the
replacement for sleeping in tests; `free_port` picks a loopback port;
`set_section_options` edits a rendered config before the process is restarted.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from urllib.parse import quote

from cli.allinone import lifecycle, processes
from cli.allinone.configs import read_users
from cli.allinone.health import wait_healthy
from cli.allinone.layout import Layout, ProcessSpec, available, load_layout

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_KINDS = ("object", "container", "account", "daemons")


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.05, message: str = "",
               what: str = ""):
    """Call `predicate` until it returns something truthy; return that or fail at timeout.

    The failure says `message`, or else that it timed out waiting for `what` (or `predicate`).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(
                message or f"timed out after {timeout}s waiting for {what or predicate}")
        time.sleep(interval)


_HANDED_OUT: set[int] = set()


def free_port(ip: str = "127.0.0.1") -> int:
    """A TCP port free on `ip` right now (the OS picks it), never one this test run was given
    before: the OS may offer a port again until a server binds it, and two servers started on
    one port would share it (or one would fail to start)."""
    while True:
        with socket.socket() as probe:
            probe.bind((ip, 0))
            port = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def set_section_options(conf_path: str, section: str, options: dict[str, str]) -> None:
    """Set `options` at the top of `[section]` of an ini file (replacing their live lines in
    that section only; comments and other sections are kept), atomically."""
    with open(conf_path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    header = f"[{section}]"
    if header not in lines:
        lines += ["", header]
    kept, current = [], None
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped
        elif (current == header and not stripped.startswith(("#", ";"))
              and line.split("=", 1)[0].strip() in options):
            continue
        kept.append(line)
    at = kept.index(header) + 1
    kept[at:at] = [f"{key} = {value}" for key, value in options.items()]
    with open(conf_path + ".tmp", "w", encoding="utf-8") as handle:
        handle.write("\n".join(kept) + "\n")
    os.replace(conf_path + ".tmp", conf_path)


def brume(*args: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess:
    """Run the `brume` CLI (this checkout's) and capture its output."""
    env = dict(os.environ)
    env["PYTHONPATH"] = REPO_ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH")
                                     else "")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from cli.main import main; "
         "sys.exit(main(sys.argv[1:]))", *args],
        capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO_ROOT, check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"brume {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n"
            f"{result.stderr}"
        )
    return result


@dataclass(frozen=True)
class ReplicaLocation:
    """Where one replica of an object lives: node, device and its hash directory."""

    node: int
    device: str
    partition: int
    hash_dir: str
    primary: bool


class ClusterHandle:
    """A running all-in-one cluster (data dir) and what tests do to it."""

    def __init__(self, data_dir: str):
        layout = load_layout(data_dir)
        if layout is None:
            raise RuntimeError(f"no cluster layout in {data_dir}")
        self.layout: Layout = layout
        self.data_dir = layout.data_dir
        self.conf_dir = layout.conf_dir
        self.proxy_url = layout.proxy_url
        self.auth_url = layout.auth_url
        self.image_url = layout.image_url
        self.compute_url = layout.compute_url
        self.identity_url = layout.identity_url
        self.network_url = layout.network_url
        self.volume_url = layout.volume_url
        self.dashboard_url = layout.dashboard_url
        users = read_users(layout.spec("proxy").conf_path)
        self.credentials = {name: key for name, (key, _roles) in users.items()}
        self.roles = {name: roles for name, (_key, roles) in users.items()}

    # ----- auth
    def auth(self, user: str = "test:tester", key: str | None = None) -> tuple[str, str]:
        """(token, storage URL) for a user; the key defaults to the user's dev key."""
        key = self.credentials[user] if key is None else key
        request = urllib.request.Request(
            self.auth_url, headers={"X-Auth-User": user, "X-Auth-Key": key}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers["X-Auth-Token"], response.headers["X-Storage-Url"]

    def token(self, user: str = "test:tester", key: str | None = None) -> str:
        return self.auth(user, key)[0]

    def storage_url(self, user: str = "test:tester") -> str:
        return self.auth(user)[1]

    # ----- storage servers, directly
    def backend_auth(self):
        """The cluster's `common.backend_auth.BackendAuth` (brume.conf's backend_secret)."""
        from common.backend_auth import load_backend_auth

        return load_backend_auth(self.conf_dir)

    def storage_address(self, node: int, kind: str) -> tuple[str, int]:
        """(ip, port) of storage node `node`'s object, container or account server."""
        spec = self.spec(node, kind)
        return spec.ip, spec.port

    def storage_request(self, ip: str, port: int, method: str, path: str, headers=None,
                        body: bytes = b"", auth=True, now: float | None = None):
        """(status, headers, body) of one request straight to a storage server.

        `path` is unquoted (it is quoted on the wire) and may carry `?query`. The request is
        signed with the cluster's backend secret unless `auth` is False (unsigned) or another
        `BackendAuth` (e.g. a wrong secret); `now` signs at another time.
        """
        path, _, query = path.partition("?")
        headers = dict(headers or {})
        if auth is True:
            auth = self.backend_auth()
        if auth:
            headers = auth.signed(method, path, headers, query, now)
        target = quote(path) + (f"?{query}" if query else "")
        conn = http.client.HTTPConnection(ip, port, timeout=60)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    # ----- processes
    def spec(self, node: int, kind: str) -> ProcessSpec:
        return self.layout.spec(f"{kind}-{node}")

    def service_spec(self, name: str) -> ProcessSpec:
        return self.layout.spec(name)

    def node_procs(self, node: int) -> dict[str, int | None]:
        """kind -> pid (None when not running) for node's servers and daemons."""
        return {
            kind: processes.running_pid(self.layout, self.spec(node, kind))
            for kind in NODE_KINDS
            if available(self.spec(node, kind)) is None
        }

    def pid(self, name: str) -> int | None:
        return processes.running_pid(self.layout, self.layout.spec(name))

    def log_tail(self, name: str, lines: int = 20) -> str:
        """The last lines of a process's log (`proxy`, `object-0`, ...), for failure messages."""
        return "\n".join(processes.log_tail(self.layout, self.layout.spec(name), lines))

    def kill_server(self, node: int, kind: str, signum: int = signal.SIGKILL) -> int | None:
        """Kill one storage server (or the node's daemons) and wait until it is gone."""
        return processes.kill(self.layout, self.spec(node, kind), signum)

    def kill_service(self, name: str, signum: int = signal.SIGKILL) -> int | None:
        """Kill a service process by name ("proxy", "image-api", "agent-hv1", ...)."""
        return processes.kill(self.layout, self.layout.spec(name), signum)

    def start_process(self, spec: ProcessSpec, timeout: float = 30.0) -> int:
        pid = processes.running_pid(self.layout, spec)
        if pid is not None:
            return pid
        proc = processes.start(self.layout, spec)
        wait_healthy(self.layout, {spec.name: (spec, proc)}, timeout=timeout)
        return proc.pid

    def start_server(self, node: int, kind: str) -> int:
        """Start one storage server (or the node's daemons) unless it runs; wait until healthy."""
        return self.start_process(self.spec(node, kind))

    def start_service(self, name: str) -> int:
        return self.start_process(self.layout.spec(name))

    def stop_node(self, node: int) -> None:
        """SIGKILL every process of storage node `node` (servers and daemons)."""
        for kind in NODE_KINDS:
            processes.kill(self.layout, self.spec(node, kind))

    def start_node(self, node: int) -> None:
        """Start whatever of node `node` is not running and wait until it is healthy."""
        specs = [
            self.spec(node, kind) for kind in NODE_KINDS
            if available(self.spec(node, kind)) is None
            and processes.running_pid(self.layout, self.spec(node, kind)) is None
        ]
        if specs:
            lifecycle.start_specs(self.layout, specs)

    @contextlib.contextmanager
    def server_down(self, node: int, kind: str = "object"):
        """Kill a server for the duration of a `with` block; restart it afterwards."""
        self.kill_server(node, kind)
        try:
            yield
        finally:
            self.start_server(node, kind)

    @contextlib.contextmanager
    def node_down(self, node: int):
        self.stop_node(node)
        try:
            yield
        finally:
            self.start_node(node)

    def ensure_all_running(self) -> None:
        """Restart anything of the cluster that died (a safety net between tests)."""
        specs = [
            spec for spec in self.layout.all_specs()
            if available(spec) is None and os.path.exists(spec.conf_path)
            and processes.running_pid(self.layout, spec) is None
        ]
        if specs:
            lifecycle.start_specs(self.layout, specs)

    def run_daemon_once(self, node: int, name: str, timeout: float = 300.0):
        """One pass of daemon `name` on node `node`: `python -m storage.daemons.runner CONF
        --once NAME`. Returns the CompletedProcess (stdout: the pass's counts as JSON)."""
        spec = self.spec(node, "daemons")
        return subprocess.run(
            processes.command(spec, "--once", name),
            capture_output=True, text=True, timeout=timeout,
            env=processes.child_env(), cwd=self.data_dir, check=False,
        )

    # ----- placement
    def ring(self, name: str = "object"):
        from ring.ring import Ring

        return Ring(self.conf_dir, name)

    def hasher(self):
        from ring.hashing import load_hasher

        return load_hasher(self.conf_dir)

    def node_of(self, ip: str, device: str) -> int:
        for node in self.layout.nodes:
            if self.layout.node_ip(node) == ip and self.layout.device_name(node) == device:
                return node
        for node in self.layout.nodes:
            if self.layout.device_name(node) == device:
                return node
        raise KeyError(f"{ip}/{device}")

    def object_paths(self, account: str, container: str, obj: str,
                     handoffs: int = 0) -> list[ReplicaLocation]:
        """Where each primary replica (then `handoffs` handoffs) of an object lives on disk.

        `account` is the account name as in the URL (e.g. "AUTH_test"). Each location's
        hash_dir is `<devices>/<dev>/objects/<partition>/<suffix>/<hash>` (it may not exist).
        """
        ring = self.ring("object")
        digest = self.hasher().hash_path(account, container, obj)
        partition, nodes = ring.get_nodes(account, container, obj)
        found = [(node, True) for node in nodes]
        if handoffs:
            more = ring.get_more_nodes(partition)
            for _ in range(handoffs):
                try:
                    found.append((next(more), False))
                except StopIteration:
                    break
        locations = []
        for dev, primary in found:
            number = self.node_of(dev["ip"], dev["device"])
            hash_dir = os.path.join(
                self.layout.devices_root(number), dev["device"], "objects", str(partition),
                digest[-3:], digest,
            )
            locations.append(ReplicaLocation(number, dev["device"], partition, hash_dir,
                                             primary))
        return locations

"""Where everything of one all-in-one cluster lives: addresses, ports, paths and processes.

A data dir holds the whole cluster:

    DIR/etc/                 conf_dir: brume.conf, the rings and builders, cluster.json,
                             proxy-server.conf, image-api.conf, compute-api.conf,
                             identity-api.conf, network-api.conf, volume-api.conf,
                             dashboard.conf,
                             fernet-keys (the token key identity signs with and the other
                             services verify with),
                             nodeN/{object,container,account}-server.conf,
                             nodeN/storage-daemons.conf, hvN/compute-agent.conf
    DIR/srv/nodeN/dN/        storage node N's only device (its `devices` root is srv/nodeN)
    DIR/var/<service>/       state of the image, identity, network and volume services (the
                             volume files too), compute API and agents, dashboard sessions
    DIR/logs/<name>.log      one log per process
    DIR/run/<name>.pid       one pid file per running process

Storage node N listens on `<ip_prefix>N` (object, container and account servers on
storage_port, +1, +2); the proxy, image API, compute API, agents, identity API, network
API, volume API and dashboard listen on `<ip_prefix>1` (the agents on compute_port + 1, + 2,
skipping the volume port), as do the volume service's NBD exports (ports 10809 and up). The chosen
addresses and ports are saved in `DIR/etc/cluster.json` the first time, so later
`up`/`down`/`status` runs (and the test fixture) find the same cluster.
"""
from __future__ import annotations

import configparser
import importlib.util
import ipaddress
import json
import os
from dataclasses import asdict, dataclass, field

from common.atomic_files import write_atomic
from common.config import ConfigError

NODE_COUNT = 4
REPLICAS = 3
AGENT_NAMES = ("hv1", "hv2")
LAYOUT_FILE = "cluster.json"
TOKEN_KEY_FILE = "fernet-keys"
DEFAULT_DATA_DIR = "~/.brume"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLE_DIR = os.path.join(REPO_ROOT, "etc")

# The three storage servers of a node: kind -> (sample config, port offset).
STORAGE_SERVERS = {
    "object": ("object-server.conf", 0),
    "container": ("container-server.conf", 1),
    "account": ("account-server.conf", 2),
}


@dataclass(frozen=True)
class ProcessSpec:
    """One process of the cluster: how to start it and where it answers."""

    name: str  # unique, used for the log and pid file: "object-1", "proxy", "agent-hv1"
    # object|container|account|daemons|proxy|image|compute|agent|identity|network|volume|dashboard
    kind: str
    module: str  # run as `python -m <module> <conf_path>`
    conf_path: str
    sample: str  # the etc/ sample it is rendered from
    ip: str | None = None
    port: int | None = None  # None: no HTTP endpoint (the storage daemons)
    node: int | None = None  # storage node number, or None
    agent: str | None = None  # hypervisor name for compute agents

    @property
    def endpoint(self) -> str:
        return f"http://{self.ip}:{self.port}" if self.port else ""


@dataclass
class Layout:
    """Every address, port and path of one all-in-one cluster."""

    data_dir: str
    ip_prefix: str = "127.0.0."
    proxy_port: int = 8080
    image_port: int = 9292
    compute_port: int = 8774
    storage_port: int = 6200
    identity_port: int = 5000
    network_port: int = 9696
    volume_port: int = 8776
    dashboard_port: int = 8000
    test_driver: bool = False
    extra: dict = field(default_factory=dict)

    # ----- addresses
    def node_ip(self, node: int) -> str:
        return f"{self.ip_prefix}{node}"

    @property
    def service_ip(self) -> str:
        return self.node_ip(1)

    def agent_port(self, agent: str) -> int:
        """compute_port + 1, + 2, ..., skipping the volume port (Cinder's 8776 is the
        second agent's old port)."""
        port = self.compute_port
        for _ in range(AGENT_NAMES.index(agent) + 1):
            port += 1
            if port == self.volume_port:
                port += 1
        return port

    @property
    def proxy_url(self) -> str:
        return f"http://{self.service_ip}:{self.proxy_port}"

    @property
    def auth_url(self) -> str:
        return f"{self.proxy_url}/auth/v1.0"

    @property
    def image_url(self) -> str:
        return f"http://{self.service_ip}:{self.image_port}"

    @property
    def compute_url(self) -> str:
        return f"http://{self.service_ip}:{self.compute_port}"

    @property
    def identity_url(self) -> str:
        return f"http://{self.service_ip}:{self.identity_port}"

    @property
    def network_url(self) -> str:
        return f"http://{self.service_ip}:{self.network_port}"

    @property
    def volume_url(self) -> str:
        return f"http://{self.service_ip}:{self.volume_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{self.service_ip}:{self.dashboard_port}"

    # ----- paths
    @property
    def token_key_file(self) -> str:
        """The Fernet keys the identity service signs tokens with and the network service
        verifies them with."""
        return os.path.join(self.conf_dir, TOKEN_KEY_FILE)

    @property
    def conf_dir(self) -> str:
        return os.path.join(self.data_dir, "etc")

    @property
    def log_dir(self) -> str:
        return os.path.join(self.data_dir, "logs")

    @property
    def run_dir(self) -> str:
        return os.path.join(self.data_dir, "run")

    def var_dir(self, service: str) -> str:
        return os.path.join(self.data_dir, "var", service)

    def devices_root(self, node: int) -> str:
        return os.path.join(self.data_dir, "srv", f"node{node}")

    @staticmethod
    def device_name(node: int) -> str:
        return f"d{node}"

    def device_path(self, node: int) -> str:
        return os.path.join(self.devices_root(node), self.device_name(node))

    def log_path(self, name: str) -> str:
        return os.path.join(self.log_dir, f"{name}.log")

    def pid_path(self, name: str) -> str:
        return os.path.join(self.run_dir, f"{name}.pid")

    # ----- processes
    def storage_spec(self, node: int, kind: str) -> ProcessSpec:
        sample, offset = STORAGE_SERVERS[kind]
        return ProcessSpec(
            name=f"{kind}-{node}",
            kind=kind,
            module="common.wsgi_server",
            conf_path=os.path.join(self.conf_dir, f"node{node}", sample),
            sample=sample,
            ip=self.node_ip(node),
            port=self.storage_port + offset,
            node=node,
        )

    def all_specs(self) -> list[ProcessSpec]:
        """Every process the cluster can run, whether or not its code exists yet."""
        specs = [self.storage_spec(n, kind) for n in self.nodes for kind in STORAGE_SERVERS]
        specs += [
            ProcessSpec(
                name=f"daemons-{n}",
                kind="daemons",
                module="storage.daemons.runner",
                conf_path=os.path.join(self.conf_dir, f"node{n}", "storage-daemons.conf"),
                sample="storage-daemons.conf",
                node=n,
            )
            for n in self.nodes
        ]
        specs.append(self._service("proxy", "proxy", "proxy-server.conf", self.proxy_port))
        specs.append(self._service("image-api", "image", "image-api.conf", self.image_port))
        specs.append(self._service("compute-api", "compute", "compute-api.conf", self.compute_port))
        specs.append(self._service("identity-api", "identity", "identity-api.conf",
                                   self.identity_port))
        # After identity: it polls identity's revocation events (see lifecycle's waves).
        specs.append(self._service("network-api", "network", "network-api.conf",
                                   self.network_port))
        specs.append(self._service("volume-api", "volume", "volume-api.conf",
                                   self.volume_port))
        specs.append(self._service("dashboard", "dashboard", "dashboard.conf",
                                   self.dashboard_port))
        for agent in AGENT_NAMES:
            specs.append(
                ProcessSpec(
                    name=f"agent-{agent}",
                    kind="agent",
                    module="common.wsgi_server",
                    conf_path=os.path.join(self.conf_dir, agent, "compute-agent.conf"),
                    sample="compute-agent.conf",
                    ip=self.service_ip,
                    port=self.agent_port(agent),
                    agent=agent,
                )
            )
        return specs

    def _service(self, name: str, kind: str, sample: str, port: int) -> ProcessSpec:
        return ProcessSpec(
            name=name,
            kind=kind,
            module="common.wsgi_server",
            conf_path=os.path.join(self.conf_dir, sample),
            sample=sample,
            ip=self.service_ip,
            port=port,
        )

    @property
    def nodes(self) -> range:
        return range(1, NODE_COUNT + 1)

    def spec(self, name: str) -> ProcessSpec:
        for spec in self.all_specs():
            if spec.name == name:
                return spec
        raise KeyError(name)

    # ----- persistence
    def save(self) -> None:
        os.makedirs(self.conf_dir, exist_ok=True)
        path = os.path.join(self.conf_dir, LAYOUT_FILE)
        data = asdict(self)
        data.pop("data_dir")
        write_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n", mode=0o644)


def expand_data_dir(path: str | None) -> str:
    return os.path.abspath(os.path.expanduser(path or DEFAULT_DATA_DIR))


def load_layout(data_dir: str) -> Layout | None:
    """The layout saved in `data_dir`, or None when no cluster was ever created there."""
    path = os.path.join(data_dir, "etc", LAYOUT_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        if "volume_port" not in data:
            # Made before the volume service: its second agent's config names 8776 (then
            # compute_port + 2); the volume service takes the next port instead.
            data["volume_port"] = data.get("compute_port", 8774) + 3
        return Layout(data_dir=data_dir, **data)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: unreadable cluster layout ({exc})") from None


def check_ip_prefix(prefix: str) -> None:
    """The prefix plus a node number must be a loopback IPv4 address."""
    for node in (1, NODE_COUNT):
        try:
            address = ipaddress.IPv4Address(f"{prefix}{node}")
        except ValueError:
            raise ConfigError(
                f"--ip-prefix {prefix!r} must look like '127.0.0.' (a node number is appended)"
            ) from None
        if not address.is_loopback:
            raise ConfigError(f"--ip-prefix {prefix!r}: the all-in-one cluster binds only to "
                              "loopback (127.x.y.)")


def sample_app_module(sample: str) -> str | None:
    """The module named by `[server] app` in an etc/ sample, or None if there is no sample."""
    path = os.path.join(SAMPLE_DIR, sample)
    if not os.path.exists(path):
        return None
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",), strict=False)
    try:
        parser.read(path, encoding="utf-8")
        return parser.get("server", "app", fallback="").partition(":")[0].strip() or None
    except configparser.Error:
        return None


def module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def available(spec: ProcessSpec) -> str | None:
    """None when the process can run here, else a short reason why it is skipped."""
    sample_path = os.path.join(SAMPLE_DIR, spec.sample)
    if not os.path.exists(sample_path):
        return f"no sample config etc/{spec.sample} yet"
    if spec.module != "common.wsgi_server":
        if not module_exists(spec.module):
            return f"module {spec.module} does not exist yet"
        return None
    app_module = sample_app_module(spec.sample)
    if not app_module:
        return f"etc/{spec.sample} names no [server] app"
    if not module_exists(app_module):
        return f"module {app_module} does not exist yet"
    return None

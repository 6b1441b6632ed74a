"""What every storage daemon of one node shares: its config, its devices, its rings, its peers.

`NodeContext` is built from the `[daemons]` section of `storage-daemons.conf` and answers the
questions every daemon asks: which device directories are local, which ring nodes are this
node, how to reach a peer (replication address first, every request signed with the cluster's
backend secret), and where recon records go. `Daemon` is
the base class of the daemons: a name, its own Option list (its ini section) and `run_once()`
returning the pass's counts (a `failures` count among them).

Local devices are the directories under `devices` (mount points only with `mount_check`). A
ring node is this node when its device is one of them and, if `node_ips` is set, its IP (or
replication IP) is one of those; in the all-in-one cluster device names are unique, so the
device name alone suffices.
"""
from __future__ import annotations

import abc
import logging
import os

from common.backend_auth import load_backend_auth
from common.config import Option, parse_bool, parse_list
from storage import backend_client
from storage.recon import default_recon_dir

DEFAULT_RECLAIM_AGE = 7 * 24 * 3600

COMMON_OPTIONS = [
    Option("devices", str, "/srv/node", help="root holding one directory per device"),
    Option("conf_dir", str, "/etc/brume", help="brume.conf and the rings"),
    Option("node_ips", parse_list, [], help="this node's ring IPs; empty: match by device"),
    Option("mount_check", parse_bool, False, help="devices must be mount points"),
    Option("reclaim_age", float, float(DEFAULT_RECLAIM_AGE), help="tombstone/row lifetime"),
    Option("conn_timeout", float, 3.0),
    Option("node_timeout", float, 30.0),
    Option("log_level", str, "INFO"),
]


class NodeContext:
    """Config, devices, rings and peer access for the daemons of one storage node."""

    def __init__(self, conf: dict, logger: logging.Logger | None = None):
        self.conf = conf
        self.devices = conf["devices"]
        self.conf_dir = conf["conf_dir"]
        self._backend_auth = None
        # Not configurable: the storage servers find the records from `devices` alone.
        self.recon_dir = default_recon_dir(self.devices)
        self.node_ips = set(conf["node_ips"])
        self.mount_check = conf["mount_check"]
        self.reclaim_age = conf["reclaim_age"]
        self.conn_timeout = conf["conn_timeout"]
        self.node_timeout = conf["node_timeout"]
        self.logger = logger or logging.getLogger("brume.daemons")
        self._rings: dict = {}

    @property
    def backend_auth(self):
        """The cluster's `common.backend_auth.BackendAuth` (read from brume.conf when first
        needed: daemons that never talk to a peer run without one)."""
        if self._backend_auth is None:
            self._backend_auth = load_backend_auth(self.conf_dir)
        return self._backend_auth

    # ----- rings
    def ring(self, name: str):
        """The named ring (object/container/account), loaded once and self-reloading."""
        if name not in self._rings:
            from ring.ring import Ring

            self._rings[name] = Ring(self.conf_dir, name)
        return self._rings[name]

    def policies(self):
        """The cluster's storage policies (`common.storage_policies`), read from brume.conf
        at each call so a pass sees a policy added since the last one."""
        from common.storage_policies import load_policies

        return load_policies(self.conf_dir)

    def object_policies(self):
        """[(policy, its DiskFileManager, its object ring)] for the object daemons, policies
        without a ring file yet left out."""
        from storage.objects.diskfile import DiskFileManager

        return [(policy, DiskFileManager(self.devices, None, self.mount_check,
                                         objects_dir=policy.objects_dir),
                 self.ring(policy.ring_name))
                for policy in self.policies() if self.has_ring(policy.ring_name)]

    def has_ring(self, name: str) -> bool:
        """True when the named ring's file exists (a node may be set up before its rings)."""
        from ring.ring import ring_path

        return os.path.exists(ring_path(self.conf_dir, name))

    # ----- devices
    def local_devices(self) -> list[str]:
        try:
            names = sorted(os.listdir(self.devices))
        except FileNotFoundError:
            return []
        result = []
        for name in names:
            path = os.path.join(self.devices, name)
            if name.startswith(".") or not os.path.isdir(path):
                continue
            if self.mount_check and not os.path.ismount(path):
                continue
            result.append(name)
        return result

    def device_path(self, device: str) -> str:
        return os.path.join(self.devices, device)

    def is_local(self, node: dict) -> bool:
        if not os.path.isdir(self.device_path(node["device"])):
            return False
        if not self.node_ips:
            return True
        return node.get("ip") in self.node_ips or node.get("replication_ip") in self.node_ips

    # ----- peers
    @staticmethod
    def address(node: dict) -> tuple[str, int]:
        ip = node.get("replication_ip") or node["ip"]
        port = node.get("replication_port") or node["port"]
        return ip, int(port)

    def request(self, node: dict, method: str, path: str, **kwargs) -> backend_client.Response:
        """One backend request to `node`; raises common.http_client.HTTPClientError."""
        ip, port = self.address(node)
        kwargs.setdefault("conn_timeout", self.conn_timeout)
        kwargs.setdefault("node_timeout", self.node_timeout)
        return backend_client.request(ip, port, method, path, auth=self.backend_auth, **kwargs)


def node_addresses(conf: dict) -> list[str]:
    """The IPs this node's daemons work for: `node_ips`, or else every IP in the rings found
    in `conf_dir` (what the off-loopback rule for secrets looks at; daemons do not listen)."""
    if conf["node_ips"]:
        return list(conf["node_ips"])
    from ring.devices import RingError
    from ring.ring import RING_NAMES, load_ring_data, ring_path

    found: list[str] = []
    for name in RING_NAMES:
        try:
            data, _raw = load_ring_data(ring_path(conf["conf_dir"], name))
        except (RingError, OSError):
            continue  # a missing or broken ring: the daemon needing it says so
        found.extend(dev["ip"] for dev in data.devs if dev and dev["ip"] not in found)
    return found


def node_label(node: dict) -> str:
    ip, port = NodeContext.address(node)
    return f"{ip}:{port}/{node['device']}"


class Daemon(abc.ABC):
    """Base of every storage daemon: a name, its options and one pass."""

    name = ""
    OPTIONS: list[Option] = []
    DEFAULT_INTERVAL = 30.0

    def __init__(self, node: NodeContext, conf: dict):
        self.node = node
        self.conf = conf
        self.logger = logging.getLogger(f"brume.{self.name}")

    @abc.abstractmethod
    def run_once(self) -> dict:
        """Run one pass; returns the pass's counts for the recon record."""


def daemon_options(interval: float, *extra: Option) -> list[Option]:
    """A daemon's section: `enabled`, `interval`, then its own options."""
    return [
        Option("enabled", parse_bool, True, help="run this daemon in the runner's loop"),
        Option("interval", float, interval, help="seconds between the starts of two passes"),
        *extra,
    ]

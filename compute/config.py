"""The compute services' config options: `[compute-api]` and `[compute-agent]`.

Each loader validates its section with common.config (one-line ConfigError on anything
wrong) and returns a plain dict. The sample files etc/compute-api.conf and
etc/compute-agent.conf document every option. Bound off loopback (`[server] bind_ip`), either
service refuses a development default among its secrets in force (options marked `secret`:
the API's `token_secret` and `service_secret`, the agent's `service_secret` and
`service_key`), whether written in the file or left to the default.
"""
from __future__ import annotations

from common.config import (
    ConfigError,
    Option,
    load_section,
    non_negative_int,
    parse_bool,
    positive_float,
    read_ini,
    refuse_dev_defaults,
    secrets_in_force,
    server_bind_ip,
)
from common.token_check import TOKEN_CHECK_OPTIONS
from common.wsgi_server import SERVER_OPTIONS
from compute.service_auth import is_host_name


def quota_limit(text: str) -> int:
    value = int(text)
    if value < -1:
        raise ValueError("must be -1 (unlimited) or >= 0")
    return value


def weigher_name(text: str) -> str:
    if text not in ("spread", "pack", "random"):
        raise ValueError("must be spread, pack or random")
    return text


def offload_time(text: str) -> int:
    value = int(text)
    if value not in (-1, 0):
        raise ValueError("must be 0 (offload at once) or -1 (never)")
    return value


def virt_type_name(text: str) -> str:
    if text not in ("", "test", "qemu", "kvm"):
        raise ValueError("must be test, qemu or kvm")
    return text


API_OPTIONS = [
    Option("db_path", str, help="SQLite database file"),
    Option("token_secret", str, help="the proxy's [auth] token_secret", secret=True),
    Option("service_secret", str, help="shared HMAC secret between the API and its agents",
           secret=True),
    Option("image_url", str, "http://127.0.0.1:9292", help="image service (Glance v2) URL"),
    Option("public_url", str, "", help="base URL used in links; empty = the request's host"),
    Option("heartbeat_window", positive_float, 30.0),
    Option("monitor_interval", positive_float, 5.0),
    Option("scheduler_weigher", weigher_name, "spread"),
    Option("cpu_allocation_ratio", positive_float, 4.0),
    Option("ram_allocation_ratio", positive_float, 1.0),
    Option("disk_allocation_ratio", positive_float, 1.0),
    Option("max_build_retries", non_negative_int, 2),
    Option("agent_timeout", positive_float, 120.0),
    Option("image_timeout", positive_float, 10.0),
    Option("network_url", str, "", help="network service (Neutron v2.0) URL; empty = no "
           "networking: servers boot without NICs"),
    Option("network_timeout", positive_float, 10.0),
    Option("volume_url", str, "", help="block-storage service (Cinder v3) URL; empty = no "
           "volumes"),
    Option("volume_timeout", positive_float, 30.0),
    Option("boot_volume_timeout", positive_float, 900.0,
           help="seconds a boot waits for its volume made from an image"),
    Option("default_quota_instances", quota_limit, 10),
    Option("default_quota_cores", quota_limit, 20),
    Option("default_quota_ram", quota_limit, 51200),
    # day-2 operations (compute.lifecycle)
    Option("move_timeout", positive_float, 3600.0,
           help="seconds an agent may take to copy, upload or build a moved disk"),
    Option("shelved_offload_time", offload_time, 0,
           help="0: shelve frees the host at once; -1: only shelveOffload does"),
    Option("allow_resize_to_same_host", parse_bool, False),
    *TOKEN_CHECK_OPTIONS,
]

AGENT_OPTIONS = [
    Option("host", str, help="this hypervisor's name, unique in the cloud"),
    Option("api_url", str, help="compute API base URL, e.g. http://127.0.0.1:8774"),
    Option("service_secret", str, secret=True),
    Option("agent_url", str, "", help="URL the API uses to reach this agent; empty = bind ip:port"),
    Option("libvirt_uri", str, "test:///default"),
    Option("virt_type", virt_type_name, "", help="test, qemu or kvm; empty = from libvirt_uri"),
    Option("availability_zone", str, "nova"),
    Option("instances_dir", str),
    Option("vcpus", non_negative_int, 0, help="0 = what libvirt reports"),
    Option("memory_mb", non_negative_int, 0, help="0 = what libvirt reports"),
    Option("local_gb", non_negative_int, 0, help="0 = free space of instances_dir"),
    Option("heartbeat_interval", positive_float, 10.0),
    Option("sync_interval", positive_float, 10.0),
    Option("stop_timeout", positive_float, 60.0),
    Option("test_spawn_seconds", float, 0.0, help="test driver only: simulated build time"),
    Option("image_url", str, "http://127.0.0.1:9292"),
    # real VMs (virt_type qemu/kvm): image pulls, cache and network
    Option("image_cache_dir", str, "", help="cached image bases; empty = beside instances_dir"),
    Option("image_cache_max_age", positive_float, 86400.0,
           help="seconds an unused cached base is kept"),
    Option("auth_url", str, "http://127.0.0.1:8080/auth/v1.0"),
    Option("service_user", str, "service:brume"),
    Option("service_key", str, "brume-dev-service-secret", secret=True),
    Option("network", str, "", help="libvirt network for NICs of servers without ports; "
           "empty = QEMU user networking"),
    # servers' ports (real VMs): bound here, carried by this node's datapath
    Option("network_url", str, "", help="network service (Neutron v2.0) URL; empty = this "
           "host takes no server with ports"),
    Option("datapath_dir", str, "", help="the node datapath's state; empty = beside "
           "instances_dir"),
    Option("datapath_hosts", str, "", help="comma-separated agents sharing this node's "
           "datapath (this agent is always one)"),
]


def load_api_config(conf_path: str) -> dict:
    parser = read_ini(conf_path)
    conf = load_section(parser, "compute-api", API_OPTIONS, conf_path)
    secrets = secrets_in_force("compute-api", API_OPTIONS, conf)
    if conf["token_key_file"]:
        secrets.pop("[compute-api] token_secret", None)
    refuse_dev_defaults(server_bind_ip(parser), secrets, f"{conf_path}: ")
    if conf["heartbeat_window"] < 1.0 and conf["monitor_interval"] > conf["heartbeat_window"]:
        conf["monitor_interval"] = conf["heartbeat_window"] / 2
    return conf


def load_agent_config(conf_path: str) -> dict:
    parser = read_ini(conf_path)
    conf = load_section(parser, "compute-agent", AGENT_OPTIONS, conf_path)
    server = load_section(parser, "server", SERVER_OPTIONS, conf_path)
    if not is_host_name(conf["host"]):
        raise ConfigError(f"{conf_path}: [compute-agent] host must be 1-255 printable ASCII "
                          "characters without spaces or slashes")
    if not conf["agent_url"]:
        conf["agent_url"] = f"http://{server['bind_ip']}:{server['bind_port']}"
    if not conf["virt_type"]:
        conf["virt_type"] = "test" if conf["libvirt_uri"].startswith("test:") else "qemu"
    if conf["virt_type"] == "test" and not conf["libvirt_uri"].startswith("test:"):
        raise ConfigError(f"{conf_path}: [compute-agent] virt_type test needs a test:// uri")
    conf["bind_ip"] = server["bind_ip"]
    refuse_dev_defaults(server["bind_ip"],
                        secrets_in_force("compute-agent", AGENT_OPTIONS, conf), f"{conf_path}: ")
    return conf

"""The network service's config: `[network]` (store, token verification, MACs, quotas).

`load_network_config(conf_path)` reads the file through `common.config` and returns a
`NetworkConfig`; every problem is a one-line `ConfigError`. Tokens are verified locally with
the identity service's Fernet keys (`token_key_file`, the same file the identity service
uses) or, when that is empty, the key derived from the shared `token_secret`, which is
refused off loopback as a development default (as is a development `revocation_password`).
The `revocation_*` options say where and as whom to poll revocation events
(`common.revocation`); without `revocation_url` revoked tokens live until they expire.
These token options are `common.token_check`'s, shared with the image and compute APIs.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.config import (
    ConfigError,
    Option,
    load_section,
    non_negative_int,
    positive_int,
    read_ini,
    refuse_dev_defaults,
    secrets_in_force,
    server_bind_ip,
)
from common.token_check import TOKEN_CHECK_OPTIONS
from network import macs

QUOTAS = ("network", "subnet", "port", "security_group", "security_group_rule", "floatingip")
QUOTA_DEFAULTS = {"network": 100, "subnet": 100, "port": 500, "security_group": 10,
                  "security_group_rule": 100, "floatingip": 50}

NETWORK_OPTIONS = [
    Option("db_path", str, help="path of the SQLite network store"),
    Option("token_secret", str, "brume-dev-token-secret", secret=True),
    Option("auth_url", str, ""),
    Option("public_url", str, "http://127.0.0.1:9696"),
    Option("mac_prefix", str, "fa:16:3e"),
    Option("max_dns_nameservers", non_negative_int, 5),
    Option("max_host_routes", non_negative_int, 20),
    Option("max_fixed_ips_per_port", positive_int, 5),
    Option("default_mtu", positive_int, 1500),
] + TOKEN_CHECK_OPTIONS + [Option(f"quota_{name}", int, QUOTA_DEFAULTS[name]) for name in QUOTAS]


@dataclass(frozen=True)
class NetworkConfig:
    db_path: str
    token_secret: str
    auth_url: str
    public_url: str
    mac_prefix: bytes
    max_dns_nameservers: int
    max_host_routes: int
    max_fixed_ips_per_port: int
    default_mtu: int
    quotas: dict  # {"network": 100, ...}; -1 is unlimited
    token_check: dict  # common.token_check's options
    where: str  # the config file, for messages


def build_config(values: dict, where: str = "<config>") -> NetworkConfig:
    prefix = f"{where}: [network] "
    for key in ("public_url", "auth_url"):
        if values[key] and not values[key].startswith(("http://", "https://")):
            raise ConfigError(prefix + f"{key} must be an http(s) URL")
    try:
        mac_prefix = macs.parse_prefix(values["mac_prefix"])
    except ValueError as exc:
        raise ConfigError(prefix + f"bad value for 'mac_prefix': {exc}") from None
    quotas = {}
    for name in QUOTAS:
        value = values.pop(f"quota_{name}")
        if value < -1:
            raise ConfigError(prefix + f"quota_{name} must be -1 (unlimited) or >= 0")
        quotas[name] = value
    if not 68 <= values["default_mtu"] <= 65535:
        raise ConfigError(prefix + "default_mtu must be between 68 and 65535")
    token_check = {option.name: values.pop(option.name) for option in TOKEN_CHECK_OPTIONS}
    values = dict(values, public_url=values["public_url"].rstrip("/"),
                  auth_url=values["auth_url"].rstrip("/"), mac_prefix=mac_prefix)
    return NetworkConfig(**values, quotas=quotas, token_check=token_check, where=where)


def load_network_config(conf_path: str) -> NetworkConfig:
    parser = read_ini(conf_path)
    values = load_section(parser, "network", NETWORK_OPTIONS, conf_path)
    secrets = secrets_in_force("network", NETWORK_OPTIONS, values)
    if values["token_key_file"]:
        secrets.pop("[network] token_secret")
    refuse_dev_defaults(server_bind_ip(parser), secrets, f"{conf_path}: ")
    return build_config(values, conf_path)

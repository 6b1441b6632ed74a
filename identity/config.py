"""The identity service's config: `[identity]`, the `[catalog]` endpoints and `[bootstrap]`.

`load_identity_config(conf_path)` reads the file through `common.config` and returns an
`IdentityConfig`; every problem is a one-line `ConfigError`. Bound off loopback (`[server]
bind_ip`), the service refuses a development default as its token secret or as a bootstrap
user's password, whether written in the file or left to the default.

`[catalog]` lists the services of the catalog, one per line: `<type> = <url>` for all three
interfaces, or `<type>.<interface> = <url>` for one (public, internal, admin); `$(project_id)s`
(or `$(tenant_id)s`) is replaced by the token's project. `[bootstrap]` seeds the store on the
first start: `project:user = password role`.
"""
from __future__ import annotations

import configparser
from dataclasses import dataclass, field

from common.config import (
    ConfigError,
    Option,
    load_section,
    positive_int,
    read_ini,
    refuse_dev_defaults,
    secrets_in_force,
    server_bind_ip,
)

INTERFACES = ("public", "internal", "admin")
ROLE_NAMES = ("reader", "member", "admin")

IDENTITY_OPTIONS = [
    Option("db_path", str, help="path of the SQLite identity store"),
    Option("token_key_file", str, ""),
    Option("token_secret", str, "brume-dev-token-secret", secret=True),
    Option("token_expiration", positive_int, 3600),
    Option("region", str, "RegionOne"),
    Option("public_url", str, "http://127.0.0.1:5000"),
    Option("password_hash_time_cost", positive_int, 2),
    Option("password_hash_memory_kib", positive_int, 19456),
    Option("max_password_length", positive_int, 4096),
]


@dataclass(frozen=True)
class BootstrapUser:
    project: str
    user: str
    password: str
    role: str


@dataclass(frozen=True)
class IdentityConfig:
    db_path: str
    token_key_file: str
    token_secret: str
    token_expiration: int
    region: str
    public_url: str
    password_hash_time_cost: int
    password_hash_memory_kib: int
    max_password_length: int
    # {(service type, interface): url template}
    catalog: dict = field(default_factory=dict)
    bootstrap: tuple = ()


def parse_catalog(parser: configparser.ConfigParser, where: str) -> dict:
    if not parser.has_section("catalog"):
        return {}
    defaults = set(parser.defaults())
    entries: dict[tuple[str, str], str] = {}
    specific: dict[tuple[str, str], str] = {}
    for key, value in parser.items("catalog", raw=True):
        if key in defaults:
            continue
        url = value.strip()
        kind, _, interface = key.partition(".")
        if not kind or (interface and interface not in INTERFACES):
            raise ConfigError(f"{where}: [catalog] bad entry {key!r}: expected <service type> "
                              f"or <service type>.<public|internal|admin>")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where}: [catalog] bad value for {key!r}: not an http(s) URL")
        if interface:
            specific[(kind, interface)] = url
        else:
            for each in INTERFACES:
                entries[(kind, each)] = url
    entries.update(specific)
    return entries


def parse_bootstrap(parser: configparser.ConfigParser, where: str) -> tuple:
    if not parser.has_section("bootstrap"):
        return ()
    defaults = set(parser.defaults())
    users = []
    for key, value in parser.items("bootstrap", raw=True):
        if key in defaults:
            continue
        project, sep, user = key.partition(":")
        words = value.split()
        if not sep or not project.strip() or not user.strip() or len(words) != 2 \
                or words[1] not in ROLE_NAMES:
            raise ConfigError(f"{where}: [bootstrap] bad entry {key!r}: expected "
                              f"'project:user = password role' (role: {', '.join(ROLE_NAMES)})")
        users.append(BootstrapUser(project.strip(), user.strip(), words[0], words[1]))
    return tuple(users)


def build_config(values: dict, catalog: dict, bootstrap: tuple,
                 where: str = "<config>") -> IdentityConfig:
    prefix = f"{where}: [identity] "
    if not values["public_url"].startswith(("http://", "https://")):
        raise ConfigError(prefix + "public_url must be an http(s) URL")
    if values["password_hash_memory_kib"] < 8:
        raise ConfigError(prefix + "password_hash_memory_kib must be at least 8")
    if not values["region"].strip():
        raise ConfigError(prefix + "region must not be empty")
    values = dict(values, public_url=values["public_url"].rstrip("/"))
    return IdentityConfig(**values, catalog=catalog, bootstrap=bootstrap)


def load_identity_config(conf_path: str) -> IdentityConfig:
    parser = read_ini(conf_path)
    values = load_section(parser, "identity", IDENTITY_OPTIONS, conf_path)
    catalog = parse_catalog(parser, conf_path)
    bootstrap = parse_bootstrap(parser, conf_path)
    secrets = {}
    if not values["token_key_file"]:
        secrets.update(secrets_in_force("identity", IDENTITY_OPTIONS, values))
    for entry in bootstrap:
        secrets[f"[bootstrap] {entry.project}:{entry.user}"] = entry.password
    refuse_dev_defaults(server_bind_ip(parser), secrets, f"{conf_path}: ")
    return build_config(values, catalog, bootstrap, conf_path)

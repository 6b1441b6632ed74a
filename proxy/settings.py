"""The proxy's config: options of `[app:proxy-server]` and `[filter:auth]`, and `[users]`.

`[filter:auth]` also holds `common.token_check`'s options (the identity service's Fernet
keys, revocation polling) and `identity_url`, which makes `/auth/v1.0` check passwords with
the identity service instead of `[users]`.

The pipeline's factories (`proxy.pipeline`) hand their section's options here; everything
is parsed once at start; a wrong or missing option raises `ConfigError` with one
line naming it. `[users]` lines are `account:user = key [.admin] [.reseller_admin]`. Bound off
loopback, the proxy refuses a development default among the secrets in force: the token
secret, every user's key, and the cluster's hash salts and backend secret (brume.conf).
"""
from __future__ import annotations

import configparser
from dataclasses import dataclass

from common.backend_auth import refuse_dev_cluster_secrets
from common.config import (
    ConfigError,
    Option,
    load_options,
    non_negative_float,
    parse_bool,
    positive_float,
    positive_int,
    read_ini,
    refuse_dev_defaults,
    secrets_in_force,
    server_bind_ip,
)
from common.token_check import TOKEN_CHECK_OPTIONS


def _public_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return text.rstrip("/")


def _prefix(text: str) -> str:
    if not text or "/" in text:
        raise ValueError("must be a non-empty word without '/'")
    return text


def _project_ids(text: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in text.split(",") if item.strip())


PROXY_OPTIONS = [
    Option("conn_timeout", positive_float, 0.5, "seconds to connect to a storage node"),
    Option("node_timeout", positive_float, 10.0, "seconds to wait for a node's answer/chunk"),
    Option("recheck_account_existence", non_negative_float, 5.0, "account cache seconds"),
    Option("recheck_container_existence", non_negative_float, 5.0, "container cache seconds"),
    Option("error_suppression_limit", positive_int, 10, "errors before a node is skipped"),
    Option("error_suppression_interval", positive_float, 60.0, "seconds a node is skipped"),
    Option("object_chunk_size", positive_int, 65536, "bytes per body chunk"),
    Option("put_queue_depth", positive_int, 10, "chunks queued per backend during a PUT"),
    Option("max_idle_connections", int, 16, "idle keep-alive connections kept per node"),
    Option("account_autocreate", parse_bool, True, "create accounts on first use"),
    Option("max_manifest_segments", positive_int, 1000, "segments allowed in an SLO"),
    Option("max_manifest_size", positive_int, 8 * 1024 * 1024, "bytes allowed in an SLO PUT"),
]

AUTH_OPTIONS = [
    Option("token_secret", str, help="HMAC secret shared by every proxy, image and compute API",
           secret=True),
    Option("token_life", positive_float, 86400.0, "seconds a token stays valid"),
    Option("reseller_prefix", _prefix, "AUTH_", "prefix of storage account names"),
    Option("public_url", _public_url, "", "base URL put in X-Storage-Url (default: Host)"),
    Option("identity_url", str, "",
           help="identity service /auth/v1.0 checks passwords with (empty: [users])"),
    Option("identity_domain", str, "Default", "domain of /auth/v1.0's project and user names"),
    Option("reseller_admin_projects", _project_ids, ("admin", "service"),
           help="ids of the projects whose admins are reseller admins (every account)"),
    *TOKEN_CHECK_OPTIONS,
]

ROLES = frozenset({".admin", ".reseller_admin"})


@dataclass(frozen=True)
class UserEntry:
    account: str
    user: str
    key: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ProxySettings:
    """The proxy app's options (`[app:proxy-server]`) and where its rings live."""

    proxy: dict
    conf_dir: str


@dataclass(frozen=True)
class AuthSettings:
    """The auth middleware's options (`[filter:auth]`) and the `[users]` table."""

    auth: dict
    users: dict  # "account:user" -> UserEntry


def parse_users(parser: configparser.ConfigParser, path: str) -> dict[str, UserEntry]:
    if not parser.has_section("users"):
        raise ConfigError(f"{path}: missing section [users]")
    users: dict[str, UserEntry] = {}
    defaults = set(parser.defaults())
    for name, value in parser.items("users", raw=True):
        if name in defaults:
            continue
        account, sep, user = name.partition(":")
        if not sep or not account or not user or ":" in user:
            raise ConfigError(f"{path}: [users] '{name}' must be account:user")
        words = value.split()
        if not words:
            raise ConfigError(f"{path}: [users] '{name}' has no key")
        unknown = [word for word in words[1:] if word not in ROLES]
        if unknown:
            raise ConfigError(f"{path}: [users] '{name}' unknown role '{unknown[0]}'")
        users[name] = UserEntry(account, user, words[0], tuple(words[1:]))
    return users


def _where(global_conf: dict, default_section: str) -> tuple[str, str]:
    """(config path, section label) for messages about a factory's options."""
    return global_conf.get("__file__", "<config>"), global_conf.get("__section__",
                                                                     default_section)


def _server_section(conf_path: str) -> tuple[configparser.ConfigParser, str]:
    parser = read_ini(conf_path)
    return parser, server_bind_ip(parser)


def load_proxy_settings(global_conf: dict, local_conf: dict) -> ProxySettings:
    """The proxy app's options; `[server] conf_dir` is required (rings live there)."""
    path, section = _where(global_conf, "app:proxy-server")
    proxy = load_options(local_conf, section, PROXY_OPTIONS, path)
    conf_dir = cluster_conf_dir(global_conf)
    _parser, bind_ip = _server_section(path)
    refuse_dev_cluster_secrets(bind_ip, conf_dir, f"{path}: ")
    return ProxySettings(proxy, conf_dir)


def cluster_conf_dir(global_conf: dict) -> str:
    """`[server] conf_dir` of the proxy's config: where brume.conf and the rings live."""
    path, _section = _where(global_conf, "server")
    parser, _bind_ip = _server_section(path)
    conf_dir = parser.get("server", "conf_dir", fallback="") if parser.has_section("server") else ""
    if not conf_dir:
        raise ConfigError(f"{path}: [server] conf_dir is required (rings live there)")
    return conf_dir


def load_auth_settings(global_conf: dict, local_conf: dict) -> AuthSettings:
    """The auth middleware's options and the `[users]` table of the same file."""
    path, section = _where(global_conf, "filter:auth")
    auth = load_options(local_conf, section, AUTH_OPTIONS, path)
    if not auth["token_secret"].strip():
        raise ConfigError(f"{path}: [{section}] token_secret is empty")
    url = auth["identity_url"].rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{path}: [{section}] identity_url must be an http(s) URL")
    auth["identity_url"] = url
    users_parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    users_parser.optionxform = str
    users_parser.read(path, encoding="utf-8")
    users = parse_users(users_parser, path)
    _parser, bind_ip = _server_section(path)
    secrets = secrets_in_force(section, AUTH_OPTIONS, auth)
    secrets.update({f"[users] {name}": entry.key for name, entry in users.items()})
    refuse_dev_defaults(bind_ip, secrets, f"{path}: ")
    return AuthSettings(auth, users)

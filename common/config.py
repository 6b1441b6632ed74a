"""Loading and validating Brume's ini config files.

Every server and daemon declares the options it reads as a list of `Option`s; `load_section`
parses one section of an ini file against that list and returns plain values. Anything wrong
(missing file, missing section, unknown or malformed option, missing required value) raises
`ConfigError` whose message is one clear line naming the file, section and option, so a
server can print it and exit instead of showing a traceback.

It also holds the secure-by-default rule: a process that binds to anything but loopback must
not run with the development defaults shipped in etc/ or built into the code. Options holding
secrets say so (`Option(..., secret=True)`); after loading, each service collects the values in
force (`secrets_in_force`, whether written in the file or left to the default) and calls
`refuse_dev_defaults` with the address it binds (`server_bind_ip`).
"""
from __future__ import annotations

import configparser
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Values shipped in etc/ and used by the all-in-one cluster. They are fine on loopback and
# refused anywhere else.
DEV_DEFAULT_SECRETS = frozenset(
    {
        "brume-dev-prefix",
        "brume-dev-suffix",
        "brume-dev-token-secret",
        "brume-dev-service-secret",
        "brume-dev-backend-secret",
        "testing",
        "testing2",
        "testing3",
        "admin",
    }
)


class ConfigError(Exception):
    """A config problem, described in one line."""


def parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"expected true/false, got {text!r}")


def parse_list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    return port


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise ValueError("must be > 0")
    return value


def non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError("must be >= 0")
    return value


def parse_ip(text: str) -> str:
    return str(ipaddress.ip_address(text.strip()))


_NO_DEFAULT = object()


@dataclass(frozen=True)
class Option:
    """One config option: its name, how to parse it, and its default (none means required).

    `secret` marks a value that must not be a development default off loopback.
    """

    name: str
    parse: Callable[[str], Any] = str
    default: Any = _NO_DEFAULT
    help: str = ""
    secret: bool = False

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT


def read_ini(path: str) -> configparser.ConfigParser:
    """Parse an ini file, turning every failure into a one-line ConfigError."""
    # Only "=" separates keys from values: [users] keys look like "account:user".
    parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: config file not found")
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (configparser.Error, UnicodeDecodeError, OSError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"{path}: cannot parse: {first_line}") from None
    return parser


def load_section(
    parser: configparser.ConfigParser,
    section: str,
    options: list[Option],
    path: str = "<config>",
    allow_unknown: bool = False,
) -> dict[str, Any]:
    """Validate one section against `options`; return {name: parsed value}."""
    if not parser.has_section(section):
        raise ConfigError(f"{path}: missing section [{section}]")
    raw = dict(parser.items(section, raw=True))
    # DEFAULT-section values show up in every section; only flag the section's own keys.
    ignored = set() if allow_unknown else set(parser.defaults())
    return load_options(raw, section, options, path, allow_unknown, ignored)


def load_options(
    raw: dict[str, str],
    section: str,
    options: list[Option],
    path: str = "<config>",
    allow_unknown: bool = False,
    ignored: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Validate one section's raw {option: text} against `options` (`ignored` keys pass)."""
    known = {opt.name for opt in options}
    if not allow_unknown:
        unknown = sorted(set(raw) - known - set(ignored))
        if unknown:
            raise ConfigError(f"{path}: [{section}] unknown option '{unknown[0]}'")
    values: dict[str, Any] = {}
    for opt in options:
        if opt.name not in raw or raw[opt.name].strip() == "":
            if opt.required:
                raise ConfigError(f"{path}: [{section}] missing required option '{opt.name}'")
            values[opt.name] = opt.default
            continue
        try:
            values[opt.name] = opt.parse(raw[opt.name].strip())
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{path}: [{section}] bad value for '{opt.name}': {raw[opt.name].strip()!r} ({exc})"
            ) from None
    return values


def load_config_file(
    path: str, section: str, options: list[Option], allow_unknown: bool = False
) -> dict[str, Any]:
    """Read `path` and validate `section` in one step."""
    return load_section(read_ini(path), section, options, path, allow_unknown)


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip).is_loopback
    except ValueError:
        return False


def server_bind_ip(parser: configparser.ConfigParser) -> str:
    """`[server] bind_ip` of a parsed config (loopback when absent, as the runner's default)."""
    text = parser.get("server", "bind_ip", fallback="").strip()
    if not text:
        return "127.0.0.1"
    try:
        return parse_ip(text)
    except ValueError:
        raise ConfigError(f"[server] bad value for 'bind_ip': {text!r}") from None


def secrets_in_force(section: str, options: list[Option], values: dict[str, Any],
                     where: str = "") -> dict[str, str]:
    """{"[section] option": value} of the secret options among `values` (after loading).

    `where` (e.g. " in /etc/brume/brume.conf") is appended to the names of options that live
    in another file than the one being started.
    """
    return {
        f"[{section}] {opt.name}{where}": values[opt.name]
        for opt in options
        if opt.secret and isinstance(values.get(opt.name), str)
    }


def refuse_dev_defaults(bind_ip: str, secrets: dict[str, str], where: str = "",
                        action: str = "bind") -> None:
    """Raise ConfigError when binding off loopback with a development default secret.

    `action` words the refusal for processes that do not listen (the storage daemons:
    "run for node").
    """
    if is_loopback(bind_ip):
        return
    for name, value in secrets.items():
        if value in DEV_DEFAULT_SECRETS:
            raise ConfigError(
                f"{where}refusing to {action} {bind_ip} with the development default for "
                f"'{name}': set a real secret (defaults are only allowed on loopback)"
            )

"""The image service's config: the `[image-api]` options and their validation.

`load_image_config(conf_path)` reads the section through `common.config` and returns an
`ImageConfig`; every problem becomes a one-line `ConfigError`. Bound off loopback (`[server]
bind_ip`), the service refuses a development default as `service_key` or `token_secret`,
whether written in the file or left to the default. Tokens are checked locally with
`common.token_check`'s options (the identity service's Fernet keys, revocation polling).
"""
from __future__ import annotations

from dataclasses import dataclass

from common.config import (
    ConfigError,
    Option,
    load_section,
    parse_bool,
    read_ini,
    refuse_dev_defaults,
    secrets_in_force,
    server_bind_ip,
)
from common.token_check import TOKEN_CHECK_OPTIONS

MIB = 1024 * 1024


def parse_size(text: str) -> int:
    """Bytes, with an optional K/M/G suffix (binary units): `64M`, `1048576`."""
    cleaned = text.strip().upper().removesuffix("B").removesuffix("I")
    factor = 1
    for suffix, multiplier in (("K", 1024), ("M", MIB), ("G", 1024 * MIB)):
        if cleaned.endswith(suffix):
            cleaned, factor = cleaned[:-1], multiplier
            break
    value = int(cleaned) * factor
    if value < 0:
        raise ValueError("size must not be negative")
    return value


IMAGE_API_OPTIONS = [
    Option("registry_db", str, help="path of the SQLite registry database"),
    Option("auth_url", str, "http://127.0.0.1:8080/auth/v1.0"),
    Option("service_user", str, "service:brume"),
    Option("service_key", str, "brume-dev-service-secret", secret=True),
    Option("store_account", str, ""),
    Option("container", str, "images"),
    Option("segment_container", str, "images_segments"),
    Option("token_secret", str, "brume-dev-token-secret", secret=True),
    Option("slo_threshold", parse_size, 64 * MIB),
    Option("segment_size", parse_size, 64 * MIB),
    Option("upload_concurrency", int, 4),
    Option("segment_queue_chunks", int, 8),
    Option("max_image_size", parse_size, 1000 * 64 * MIB),
    Option("store_timeout", float, 60.0),
    Option("api_limit_max", int, 1000),
    Option("default_limit", int, 25),
    Option("inspect_formats", parse_bool, True),
    *TOKEN_CHECK_OPTIONS,
]


@dataclass(frozen=True)
class ImageConfig:
    registry_db: str
    auth_url: str
    service_user: str
    service_key: str
    store_account: str
    container: str
    segment_container: str
    token_secret: str
    slo_threshold: int
    segment_size: int
    upload_concurrency: int
    segment_queue_chunks: int
    max_image_size: int
    store_timeout: float
    api_limit_max: int
    default_limit: int
    inspect_formats: bool
    token_check: dict  # common.token_check's options
    where: str  # the config file, for messages


def build_config(values: dict, where: str = "<config>") -> ImageConfig:
    """Cross-check option values and freeze them."""
    prefix = f"{where}: [image-api] "
    if values["segment_size"] < MIB:
        raise ConfigError(prefix + "segment_size must be at least 1M")
    if values["slo_threshold"] < 0:
        raise ConfigError(prefix + "slo_threshold must not be negative")
    if not 1 <= values["upload_concurrency"] <= 64:
        raise ConfigError(prefix + "upload_concurrency must be between 1 and 64")
    if not 1 <= values["segment_queue_chunks"] <= 1024:
        raise ConfigError(prefix + "segment_queue_chunks must be between 1 and 1024")
    if ":" not in values["service_user"]:
        raise ConfigError(prefix + "service_user must be account:user")
    for name in ("container", "segment_container"):
        if not values[name] or "/" in values[name]:
            raise ConfigError(prefix + f"{name} must be a container name without '/'")
    if values["default_limit"] < 1 or values["api_limit_max"] < values["default_limit"]:
        raise ConfigError(prefix + "need 1 <= default_limit <= api_limit_max")
    token_check = {option.name: values.pop(option.name) for option in TOKEN_CHECK_OPTIONS}
    return ImageConfig(**values, token_check=token_check, where=where)


def load_image_config(conf_path: str) -> ImageConfig:
    parser = read_ini(conf_path)
    values = load_section(parser, "image-api", IMAGE_API_OPTIONS, conf_path)
    secrets = secrets_in_force("image-api", IMAGE_API_OPTIONS, values)
    if values["token_key_file"]:
        secrets.pop("[image-api] token_secret", None)
    refuse_dev_defaults(server_bind_ip(parser), secrets, f"{conf_path}: ")
    return build_config(values, conf_path)

"""The volume service's config: `[volume]` (store, volume files, exports, backups, quotas).

`load_volume_config(conf_path)` reads the file through `common.config` and returns a
`VolumeConfig`; every problem is a one-line `ConfigError`. Tokens are checked as the other
services check them (`common.token_check`: `token_key_file` or the shared `token_secret`,
revocation events polled when `revocation_url` is set). The service reads images from the
image service with the caller's own token (`image_url`) and keeps backups in the object
store as its service user (`auth_url`, `service_user`, `service_key`, as the image service
does). Volume files live in `volumes_dir`; attached volumes are exported over NBD on
`export_host`, one port of `export_port_min..export_port_max` per attachment.
Development secrets (`token_secret` unless `token_key_file` is set, `service_key`,
`revocation_password`) are refused off loopback.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.config import (
    ConfigError,
    Option,
    load_section,
    parse_ip,
    parse_port,
    positive_int,
    read_ini,
    refuse_dev_defaults,
    secrets_in_force,
    server_bind_ip,
)
from common.token_check import TOKEN_CHECK_OPTIONS
from volume.quotas import QUOTA_DEFAULTS, RESOURCES

VOLUME_OPTIONS = [
    Option("db_path", str, help="path of the SQLite volume store"),
    Option("volumes_dir", str, help="directory of the volume files"),
    Option("token_secret", str, "brume-dev-token-secret", secret=True),
    Option("public_url", str, "http://127.0.0.1:8776"),
    Option("image_url", str, "http://127.0.0.1:9292"),
    Option("auth_url", str, "http://127.0.0.1:8080/auth/v1.0"),
    Option("service_user", str, "service:brume"),
    Option("service_key", str, "brume-dev-service-secret", secret=True),
    Option("store_account", str, ""),
    Option("backup_container", str, "volumebackups"),
    Option("backup_chunk_mib", positive_int, 32),
    Option("export_host", parse_ip, "127.0.0.1"),
    Option("export_port_min", parse_port, 10809),
    Option("export_port_max", parse_port, 10908),
    Option("availability_zone", str, "nova"),
    Option("max_volume_gb", positive_int, 1024),
] + TOKEN_CHECK_OPTIONS + [Option(f"quota_{name}", int, QUOTA_DEFAULTS[name])
                           for name in RESOURCES]


@dataclass(frozen=True)
class VolumeConfig:
    db_path: str
    volumes_dir: str
    token_secret: str
    public_url: str
    image_url: str
    auth_url: str
    service_user: str
    service_key: str
    store_account: str
    backup_container: str
    backup_chunk_mib: int
    export_host: str
    export_port_min: int
    export_port_max: int
    availability_zone: str
    max_volume_gb: int
    quotas: dict  # {"volumes": 10, ...}; -1 is unlimited
    token_check: dict  # common.token_check's options
    where: str  # the config file, for messages


def build_config(values: dict, where: str = "<config>") -> VolumeConfig:
    prefix = f"{where}: [volume] "
    for key in ("public_url", "image_url", "auth_url"):
        if not values[key].startswith(("http://", "https://")):
            raise ConfigError(prefix + f"{key} must be an http(s) URL")
    if values["export_port_min"] > values["export_port_max"]:
        raise ConfigError(prefix + "export_port_min must not exceed export_port_max")
    if not values["backup_container"] or "/" in values["backup_container"]:
        raise ConfigError(prefix + "backup_container must be a container name (no '/')")
    quotas = {}
    for name in RESOURCES:
        value = values.pop(f"quota_{name}")
        if value < -1:
            raise ConfigError(prefix + f"quota_{name} must be -1 (unlimited) or >= 0")
        quotas[name] = value
    token_check = {option.name: values.pop(option.name) for option in TOKEN_CHECK_OPTIONS}
    values = dict(values, public_url=values["public_url"].rstrip("/"),
                  image_url=values["image_url"].rstrip("/"))
    return VolumeConfig(**values, quotas=quotas, token_check=token_check, where=where)


def load_volume_config(conf_path: str) -> VolumeConfig:
    parser = read_ini(conf_path)
    values = load_section(parser, "volume", VOLUME_OPTIONS, conf_path)
    secrets = secrets_in_force("volume", VOLUME_OPTIONS, values)
    if values["token_key_file"]:
        secrets.pop("[volume] token_secret")
    refuse_dev_defaults(server_bind_ip(parser), secrets, f"{conf_path}: ")
    return build_config(values, conf_path)

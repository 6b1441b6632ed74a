"""Which cloud and credentials a `brume` command uses, read as the openstack CLI reads them.

A `KeystoneAuth` is what a Keystone v3 login needs. It comes from, in order:

1. `--os-cloud NAME` (or `OS_CLOUD`): the entry `clouds.NAME` of the first `clouds.yaml`
   found in `OS_CLIENT_CONFIG_FILE`, `./clouds.yaml`, `~/.config/openstack/clouds.yaml`,
   `/etc/openstack/clouds.yaml`; a `secure.yaml` beside it is merged in (passwords kept apart,
   as openstacksdk does);
2. the `OS_*` variables (`OS_AUTH_URL`, `OS_USERNAME`, `OS_PASSWORD`, `OS_PROJECT_NAME` or
   `OS_PROJECT_ID`, `OS_USER_DOMAIN_NAME`, `OS_PROJECT_DOMAIN_NAME`, `OS_REGION_NAME`,
   `OS_INTERFACE`, `OS_APPLICATION_CREDENTIAL_ID` / `_SECRET`), when `OS_AUTH_URL` is set.

`None` means neither is present: the command falls back to Swift v1 auth
(`cli.credentials`). Every problem is a `CloudConfigError` with a one-line message. No IO
but reading the files; the YAML is parsed with PyYAML's safe loader.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import yaml

SEARCH_PATHS = ("clouds.yaml", "~/.config/openstack/clouds.yaml",
                "/etc/openstack/clouds.yaml")
MAX_CONFIG_BYTES = 1024 * 1024


class CloudConfigError(Exception):
    """clouds.yaml or the OS_* variables are unusable; the message is one line."""


@dataclass(frozen=True)
class KeystoneAuth:
    auth_url: str  # the identity endpoint, with or without /v3
    username: str = ""
    password: str = ""
    user_domain_name: str = "Default"
    project_name: str = ""
    project_id: str = ""
    project_domain_name: str = "Default"
    app_cred_id: str = ""
    app_cred_secret: str = ""
    region_name: str = ""
    interface: str = "public"

    @property
    def v3_url(self) -> str:
        base = self.auth_url.rstrip("/")
        return base if base.endswith("/v3") else base + "/v3"


def _read_yaml(path: str) -> dict:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise CloudConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise CloudConfigError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise CloudConfigError(f"{path} is not valid YAML: "
                               f"{str(exc).splitlines()[0]}") from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise CloudConfigError(f"{path} must hold a mapping")
    return doc


def find_clouds_file(env) -> str | None:
    named = env.get("OS_CLIENT_CONFIG_FILE")
    if named:
        return named
    for candidate in SEARCH_PATHS:
        path = os.path.expanduser(candidate)
        if os.path.isfile(path):
            return path
    return None


def _merge(base: dict, extra: dict) -> dict:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _text(entry: dict, key: str, where: str) -> str:
    value = entry.get(key, "")
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise CloudConfigError(f"{where}: {key} must be a string")
    return value


def from_cloud_entry(entry, where: str) -> KeystoneAuth:
    """A `clouds.NAME` mapping -> KeystoneAuth."""
    if not isinstance(entry, dict):
        raise CloudConfigError(f"{where} must be a mapping")
    auth = entry.get("auth") or {}
    if not isinstance(auth, dict):
        raise CloudConfigError(f"{where}: auth must be a mapping")
    where_auth = f"{where}.auth"
    found = KeystoneAuth(
        auth_url=_text(auth, "auth_url", where_auth),
        username=_text(auth, "username", where_auth),
        password=_text(auth, "password", where_auth),
        user_domain_name=_text(auth, "user_domain_name", where_auth) or "Default",
        project_name=_text(auth, "project_name", where_auth),
        project_id=_text(auth, "project_id", where_auth),
        project_domain_name=_text(auth, "project_domain_name", where_auth) or "Default",
        app_cred_id=_text(auth, "application_credential_id", where_auth),
        app_cred_secret=_text(auth, "application_credential_secret", where_auth),
        region_name=_text(entry, "region_name", where),
        interface=_text(entry, "interface", where) or "public",
    )
    return _checked(found, where)


def from_env(env) -> KeystoneAuth:
    """The OS_* variables -> KeystoneAuth (OS_AUTH_URL is set)."""
    found = KeystoneAuth(
        auth_url=env.get("OS_AUTH_URL", ""),
        username=env.get("OS_USERNAME", ""),
        password=env.get("OS_PASSWORD", ""),
        user_domain_name=env.get("OS_USER_DOMAIN_NAME") or "Default",
        project_name=env.get("OS_PROJECT_NAME") or env.get("OS_TENANT_NAME", ""),
        project_id=env.get("OS_PROJECT_ID", ""),
        project_domain_name=env.get("OS_PROJECT_DOMAIN_NAME") or "Default",
        app_cred_id=env.get("OS_APPLICATION_CREDENTIAL_ID", ""),
        app_cred_secret=env.get("OS_APPLICATION_CREDENTIAL_SECRET", ""),
        region_name=env.get("OS_REGION_NAME", ""),
        interface=env.get("OS_INTERFACE") or "public",
    )
    return _checked(found, "the OS_* variables")


def _checked(found: KeystoneAuth, where: str) -> KeystoneAuth:
    if not found.auth_url.startswith(("http://", "https://")):
        raise CloudConfigError(f"{where}: auth_url must be an http(s) URL")
    if found.app_cred_id or found.app_cred_secret:
        if not (found.app_cred_id and found.app_cred_secret):
            raise CloudConfigError(f"{where}: an application credential needs both its id "
                                   "and its secret")
    elif not (found.username and found.password):
        raise CloudConfigError(f"{where}: a username and a password are required")
    elif not (found.project_name or found.project_id):
        raise CloudConfigError(f"{where}: a project (project_name or project_id) is required")
    if found.interface not in ("public", "internal", "admin"):
        raise CloudConfigError(f"{where}: interface must be public, internal or admin")
    return found


def keystone_auth(cloud: str | None, env) -> KeystoneAuth | None:
    """The v3 credentials chosen by `--os-cloud`/OS_CLOUD or OS_*; None when neither is set."""
    cloud = cloud or env.get("OS_CLOUD")
    if cloud:
        path = find_clouds_file(env)
        if path is None:
            raise CloudConfigError(f"cloud {cloud!r} asked for, but no clouds.yaml found "
                                   "(./clouds.yaml, ~/.config/openstack/clouds.yaml, "
                                   "/etc/openstack/clouds.yaml or OS_CLIENT_CONFIG_FILE)")
        doc = _read_yaml(path)
        secure = os.path.join(os.path.dirname(path), "secure.yaml")
        if os.path.isfile(secure):
            doc = _merge(doc, _read_yaml(secure))
        clouds = doc.get("clouds")
        if not isinstance(clouds, dict) or cloud not in clouds:
            raise CloudConfigError(f"no cloud named {cloud!r} in {path}")
        return from_cloud_entry(clouds[cloud], f"{path}: clouds.{cloud}")
    if env.get("OS_AUTH_URL"):
        return from_env(env)
    return None

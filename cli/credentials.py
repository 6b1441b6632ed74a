"""Credentials shared by every `brume` command that talks to the cloud's APIs.

Flags override environment variables, which override the all-in-one defaults:

    --auth-url     BRUME_AUTH_URL     (or ST_AUTH)   default http://127.0.0.1:8080/auth/v1.0
    --user         BRUME_USER         (or ST_USER)   default test:tester
    --key          BRUME_KEY          (or ST_KEY)    default testing
    --image-url    BRUME_IMAGE_URL                   default http://127.0.0.1:9292
    --compute-url  BRUME_COMPUTE_URL                 default http://127.0.0.1:8774
    --network-url  BRUME_NETWORK_URL                 default http://127.0.0.1:9696

`authenticate()` trades them for a token at the proxy's `/auth/v1.0` (Swift's v1 auth,
`common.v1_auth`) unless a Keystone v3 login is asked for: `--os-cloud NAME` (or
`OS_CLOUD`: an entry of clouds.yaml) or the `OS_*` variables the openstack CLI reads
(`cli.cloud_config`). Then the token is a project-scoped Keystone token and the service URLs
come from its catalog (`cli.keystone_login`); --image-url/--compute-url/--network-url still
override them.
Explicit v1 flags (--auth-url, --user, --key) keep v1 auth.
"""
from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass

from cli.cloud_config import CloudConfigError, keystone_auth
from cli.keystone_login import login
from common.http_client import HTTPClientError
from common.v1_auth import authenticate as v1_authenticate

DEFAULTS = {
    "auth_url": ("BRUME_AUTH_URL", "ST_AUTH", "http://127.0.0.1:8080/auth/v1.0"),
    "user": ("BRUME_USER", "ST_USER", "test:tester"),
    "key": ("BRUME_KEY", "ST_KEY", "testing"),
    "image_url": ("BRUME_IMAGE_URL", None, "http://127.0.0.1:9292"),
    "compute_url": ("BRUME_COMPUTE_URL", None, "http://127.0.0.1:8774"),
    "network_url": ("BRUME_NETWORK_URL", None, "http://127.0.0.1:9696"),
}
SERVICE_URLS = ("image_url", "compute_url", "network_url")


class AuthError(Exception):
    """Authentication failed; the message is one line for the user (the HTTP client's)."""


@dataclass(frozen=True)
class Session:
    token: str
    storage_url: str
    image_url: str
    compute_url: str
    network_url: str


def add_credential_flags(parser: argparse.ArgumentParser) -> None:
    """Add --auth-url/--user/--key/--image-url/--compute-url/--network-url to a command's
    parser."""
    for name in DEFAULTS:
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None)
    parser.add_argument("--os-cloud", dest="os_cloud", default=None,
                        help="log in through Keystone v3 as this clouds.yaml entry")


def resolve(args: argparse.Namespace, name: str) -> str:
    value = getattr(args, name, None)
    if value:
        return value
    env_name, fallback_env, default = DEFAULTS[name]
    return os.environ.get(env_name) or (fallback_env and os.environ.get(fallback_env)) or default


def authenticate(args: argparse.Namespace, timeout: float = 30.0) -> Session:
    explicit_v1 = any(getattr(args, name, None) for name in ("auth_url", "user", "key"))
    if not explicit_v1:
        try:
            v3 = keystone_auth(getattr(args, "os_cloud", None), os.environ)
        except CloudConfigError as exc:
            raise AuthError(str(exc)) from None
        if v3 is not None:
            return keystone_session(args, v3, timeout)
    auth_url = resolve(args, "auth_url")
    try:
        credentials = v1_authenticate(auth_url, resolve(args, "user"), resolve(args, "key"),
                                      timeout=timeout)
    except HTTPClientError as exc:
        raise AuthError(str(exc)) from None
    return Session(
        token=credentials.token,
        storage_url=credentials.storage_url,
        image_url=resolve(args, "image_url").rstrip("/"),
        compute_url=resolve(args, "compute_url").rstrip("/"),
        network_url=resolve(args, "network_url").rstrip("/"),
    )


def keystone_session(args: argparse.Namespace, auth, timeout: float) -> Session:
    try:
        answer = login(auth, timeout=timeout)
    except HTTPClientError as exc:
        raise AuthError(str(exc)) from None
    urls = dict(answer.endpoints)
    # The catalog names compute's versioned root (…/v2.1, maybe …/v2.1/<project>); the
    # compute client adds the version itself.
    urls["compute_url"] = re.sub(r"/v2(\.1)?(/[^/]*)?$", "", urls["compute_url"])
    urls["network_url"] = re.sub(r"/v2\.0$", "", urls["network_url"])
    for name in SERVICE_URLS:
        if getattr(args, name, None) or os.environ.get(DEFAULTS[name][0]):
            urls[name] = resolve(args, name).rstrip("/")
        elif not urls[name]:
            urls[name] = DEFAULTS[name][2]
    return Session(token=answer.token, storage_url=urls["storage_url"],
                   image_url=urls["image_url"], compute_url=urls["compute_url"],
                   network_url=urls["network_url"])

"""Credentials shared by every `brume` command that talks to the cloud's APIs.

Flags override environment variables, which override the all-in-one defaults:

    --auth-url     BRUME_AUTH_URL     (or ST_AUTH)   default http://127.0.0.1:8080/auth/v1.0
    --user         BRUME_USER         (or ST_USER)   default test:tester
    --key          BRUME_KEY          (or ST_KEY)    default testing
    --image-url    BRUME_IMAGE_URL                   default http://127.0.0.1:9292
    --compute-url  BRUME_COMPUTE_URL                 default http://127.0.0.1:8774

`authenticate()` trades them for a token at the proxy's `/auth/v1.0` (Swift's v1 auth,
`common.v1_auth`).
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from common.http_client import HTTPClientError
from common.v1_auth import authenticate as v1_authenticate

DEFAULTS = {
    "auth_url": ("BRUME_AUTH_URL", "ST_AUTH", "http://127.0.0.1:8080/auth/v1.0"),
    "user": ("BRUME_USER", "ST_USER", "test:tester"),
    "key": ("BRUME_KEY", "ST_KEY", "testing"),
    "image_url": ("BRUME_IMAGE_URL", None, "http://127.0.0.1:9292"),
    "compute_url": ("BRUME_COMPUTE_URL", None, "http://127.0.0.1:8774"),
}


class AuthError(Exception):
    """Authentication failed; the message is one line for the user (the HTTP client's)."""


@dataclass(frozen=True)
class Session:
    token: str
    storage_url: str
    image_url: str
    compute_url: str


def add_credential_flags(parser: argparse.ArgumentParser) -> None:
    """Add --auth-url/--user/--key/--image-url/--compute-url to a command's parser."""
    for name in DEFAULTS:
        parser.add_argument("--" + name.replace("_", "-"), dest=name, default=None)


def resolve(args: argparse.Namespace, name: str) -> str:
    value = getattr(args, name, None)
    if value:
        return value
    env_name, fallback_env, default = DEFAULTS[name]
    return os.environ.get(env_name) or (fallback_env and os.environ.get(fallback_env)) or default


def authenticate(args: argparse.Namespace, timeout: float = 30.0) -> Session:
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
    )

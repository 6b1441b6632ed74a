"""Hashing of `/account[/container[/object]]` paths, salted with the cluster's secrets.

The salt comes from the cluster config `brume.conf` (section `[cluster]`, options
`hash_path_prefix` and `hash_path_suffix`), which lives in the conf dir next to the ring
files. Every node of a cluster must use the same values: they decide where data lives.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from common.cluster_conf import CLUSTER_CONF_NAME, CLUSTER_OPTIONS
from common.config import ConfigError, load_config_file


@dataclass(frozen=True)
class PathHasher:
    """Turns account/container/object names into the cluster's md5 path hash."""

    prefix: bytes
    suffix: bytes

    def hash_path(self, account: str, container: str | None = None, obj: str | None = None) -> str:
        """Hex md5 of the salted path; 32 hex chars."""
        return self.hash_path_raw(account, container, obj).hex()

    def hash_path_raw(
        self, account: str, container: str | None = None, obj: str | None = None
    ) -> bytes:
        if obj is not None and container is None:
            raise ValueError("an object path needs a container")
        parts = [account]
        if container is not None:
            parts.append(container)
            if obj is not None:
                parts.append(obj)
        path = ("/" + "/".join(parts)).encode("utf-8", "surrogateescape")
        return hashlib.md5(self.prefix + path + self.suffix, usedforsecurity=False).digest()


def load_hasher(conf_dir: str) -> PathHasher:
    """Read `<conf_dir>/brume.conf` and build the cluster's PathHasher."""
    path = os.path.join(conf_dir, CLUSTER_CONF_NAME)
    values = load_config_file(path, "cluster", CLUSTER_OPTIONS, allow_unknown=True)
    if not values["hash_path_prefix"] and not values["hash_path_suffix"]:
        raise ConfigError(f"{path}: [cluster] hash_path_prefix and hash_path_suffix are empty")
    return PathHasher(values["hash_path_prefix"].encode(), values["hash_path_suffix"].encode())

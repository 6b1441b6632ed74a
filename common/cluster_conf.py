"""The cluster's shared config file, `<conf_dir>/brume.conf`, section `[cluster]`.

Every node and proxy of a cluster holds the same file beside the rings: the path-hash salts
(`ring.hashing`) and the backend secret (`common.backend_auth`) live there. This module
names the file and declares the salts; each user adds its own options to the section.
"""
from __future__ import annotations

from common.config import Option

CLUSTER_CONF_NAME = "brume.conf"

CLUSTER_OPTIONS = [
    Option("hash_path_prefix", str, help="secret salt before every hashed path", secret=True),
    Option("hash_path_suffix", str, help="secret salt after every hashed path", secret=True),
]

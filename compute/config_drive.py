"""The config drive: an ISO9660 disk labelled `config-2` that cloud-init reads at first boot.

`drive_files(instance, network_data)` (pure) says what goes on it, in OpenStack's layout:
`openstack/latest/meta_data.json` (uuid, name, hostname, availability zone, project, the
keypair as `public_keys` and `keys`, the server's metadata as `meta`),
`openstack/latest/user_data` (the decoded user_data, when given) and
`openstack/latest/network_data.json`. `write_drive` builds the ISO with `xorriso` (Rock
Ridge and Joliet, volume id `config-2`) from a private temp dir, into a temp file renamed
into place. A failure is `ConfigDriveError`.
"""
from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import tempfile

LABEL = "config-2"
ROOT = "openstack/latest"
XORRISO_TIMEOUT = 60


class ConfigDriveError(Exception):
    """The config drive could not be made; the message says why."""


def hostname_of(name: str, fallback: str) -> str:
    """A DNS label from a server name (Nova's sanitizing): lower case, other characters as
    '-', at most 63 characters; `fallback` when nothing is left."""
    label = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return label or fallback


def meta_data(instance: dict) -> dict:
    keys = {}
    if instance.get("key_name") and instance.get("key_data"):
        keys[instance["key_name"]] = instance["key_data"]
    return {
        "uuid": instance["id"],
        "name": instance.get("name", ""),
        "hostname": hostname_of(instance.get("name", ""), "server-" + instance["id"][:8]),
        "availability_zone": instance.get("availability_zone") or "nova",
        "project_id": instance.get("project_id"),
        "launch_index": 0,
        "public_keys": keys,
        "keys": [{"name": name, "type": "ssh", "data": data} for name, data in keys.items()],
        "meta": dict(instance.get("metadata") or {}),
    }


def drive_files(instance: dict, network_data: dict) -> dict[str, bytes]:
    """{path on the drive: contents}."""
    files = {
        f"{ROOT}/meta_data.json": json.dumps(meta_data(instance), indent=1).encode(),
        f"{ROOT}/network_data.json": json.dumps(network_data, indent=1).encode(),
    }
    if instance.get("user_data"):
        files[f"{ROOT}/user_data"] = base64.b64decode(instance["user_data"])
    return files


def write_drive(path: str, files: dict[str, bytes]) -> None:
    """Make the ISO at `path` holding `files`."""
    parent = os.path.dirname(os.path.abspath(path))
    with tempfile.TemporaryDirectory(prefix="configdrive-", dir=parent) as tree:
        for name, data in files.items():
            target = os.path.join(tree, name)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
        partial = os.path.join(parent, f".{os.path.basename(path)}.partial")
        argv = [shutil.which("xorriso") or "xorriso", "-as", "mkisofs", "-quiet",
                "-o", partial, "-V", LABEL, "-J", "-R", "-input-charset", "utf-8", tree]
        try:
            result = subprocess.run(argv, capture_output=True, text=True,
                                    timeout=XORRISO_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigDriveError(f"cannot run xorriso: {exc}") from None
        if result.returncode != 0:
            with_detail = (result.stderr.strip().splitlines() or ["no message"])[-1]
            raise ConfigDriveError(f"xorriso failed: {with_detail}")
        os.chmod(partial, 0o644)
        os.replace(partial, path)

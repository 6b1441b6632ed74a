"""What the compute API does with a server's volumes outside attach and detach: the volume
service's refusals as this API's answers, and giving a server's volumes back.

`release_all` runs when a server is deleted (or its create refused after its boot volume
was attached): every attachment is deleted (the export stops, the volume is `available`)
and the volumes marked `delete_on_termination` are deleted; failures are logged, and the
volumes stay for their owner to clean up.
"""
from __future__ import annotations

import logging

from common.http_errors import HTTPError
from compute.volume_client import VolumeError

LOG = logging.getLogger("brume.compute.volumes")


def volume_error(exc: VolumeError) -> HTTPError:
    """The volume service's refusal as this API's answer."""
    if exc.status is None:
        return HTTPError(503, "The volume service is unavailable.")
    if exc.status in (400, 404, 409, 413):
        return HTTPError(exc.status, exc.args[0])
    return HTTPError(503, f"The volume service failed: {exc.args[0]}")


def release_all(core, token: str, server: dict) -> None:
    if core.volumes is None:
        return
    for item in server.get("block_devices") or []:
        try:
            core.volumes.detach(token, server["project_id"], item["attachment_id"])
            if item.get("delete_on_termination"):
                core.volumes.delete_volume(token, server["project_id"], item["volume_id"])
        except VolumeError as exc:
            LOG.warning("server %s: volume %s not released: %s", server["id"],
                        item["volume_id"], exc)

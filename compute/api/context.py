"""Per-request caller identity, and the services every controller uses."""
from __future__ import annotations

from dataclasses import dataclass

from common.http_errors import HTTPError
from common.token_check import RoleHolder, TokenChecker
from compute.conductor import Conductor
from compute.db import Database
from compute.hosts import HostRepo
from compute.image_records import ImageRecords
from compute.lifecycle import Lifecycle
from compute.nic_allocation import NicAllocator
from compute.quotas import QuotaRepo
from compute.repo import Repo
from compute.service_auth import ServiceVerifier
from compute.volume_client import VolumeClient


@dataclass(frozen=True)
class Caller(RoleHolder):
    """Who is calling: the token's project and user, and its roles (implied ones included:
    `admin` is the cloud admin, `member` may change its project's servers, `reader` reads)."""

    project_id: str
    user_id: str
    roles: frozenset = frozenset({"reader"})

    def require_admin(self) -> None:
        if not self.is_admin:
            raise HTTPError(403, "Policy doesn't allow this operation to be performed.")

    def require_project(self, project_id: str) -> None:
        if not self.is_admin and project_id != self.project_id:
            raise HTTPError(403, "Policy doesn't allow this operation to be performed.")


@dataclass
class Core:
    """The API's long-lived services."""

    conf: dict
    db: Database
    repo: Repo
    hosts: HostRepo
    quotas: QuotaRepo
    conductor: Conductor
    fetch_image: object  # (image_id, token) -> image record dict
    service_verifier: ServiceVerifier  # agents' signed calls to /internal/v1
    tokens: TokenChecker  # users' tokens (Keystone or Swift v1)
    nics: NicAllocator  # servers' ports in the network service (disabled without one)
    volumes: VolumeClient | None = None  # the block-storage service, when configured
    images: ImageRecords | None = None  # snapshot image records, with the caller's token
    lifecycle: Lifecycle | None = None  # day-2 operations (compute.lifecycle)

    def base_url(self, request) -> str:
        return (self.conf["public_url"] or request.host_url).rstrip("/")

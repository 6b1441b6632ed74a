"""The service catalog a token carries: the `[catalog]` endpoints, for the token's project.

Each service type of the config becomes one catalog entry (Keystone's usual service names:
identity → keystone, object-store → swift, ...) with an endpoint per interface in the
configured region. `$(project_id)s` and `$(tenant_id)s` in a URL become the token's project
id; such endpoints are left out of a catalog without a project (domain-scoped tokens), and an
unscoped token has an empty catalog, as in Keystone. The same entries, templates unfilled, are
what `/v3/services`, `/v3/endpoints` and `/v3/regions` list (read-only: the catalog is config).
"""
from __future__ import annotations

import hashlib

SERVICE_NAMES = {
    "identity": "keystone",
    "object-store": "swift",
    "image": "glance",
    "compute": "nova",
    "network": "neutron",
    "block-storage": "cinder",
    "volumev3": "cinderv3",
    "placement": "placement",
}
TEMPLATES = ("$(project_id)s", "$(tenant_id)s")


def _stable_id(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]


class Catalog:
    def __init__(self, region: str, endpoints: dict):
        """`endpoints`: {(service type, interface): URL template}."""
        self.region = region
        self.endpoints = endpoints

    def services(self) -> list[dict]:
        """The configured services: [{id, type, name}] (no endpoints)."""
        kinds = sorted({kind for kind, _ in self.endpoints})
        return [{"id": _stable_id("service", kind), "type": kind,
                 "name": SERVICE_NAMES.get(kind, kind)} for kind in kinds]

    def raw_endpoints(self) -> list[dict]:
        """Every configured endpoint with its URL template as written."""
        return [{"id": _stable_id("endpoint", kind, interface), "interface": interface,
                 "region": self.region, "region_id": self.region,
                 "service_id": _stable_id("service", kind), "url": template}
                for (kind, interface), template in sorted(self.endpoints.items())]

    def for_scope(self, project_id: str | None, scoped: bool = True) -> list[dict]:
        if not scoped:
            return []
        services: dict[str, dict] = {}
        for (kind, interface), template in sorted(self.endpoints.items()):
            if any(mark in template for mark in TEMPLATES):
                if project_id is None:
                    continue
                url = template
                for mark in TEMPLATES:
                    url = url.replace(mark, project_id)
            else:
                url = template
            service = services.setdefault(kind, {
                "id": _stable_id("service", kind), "type": kind,
                "name": SERVICE_NAMES.get(kind, kind), "endpoints": []})
            service["endpoints"].append({
                "id": _stable_id("endpoint", kind, interface), "interface": interface,
                "region": self.region, "region_id": self.region, "url": url})
        return list(services.values())

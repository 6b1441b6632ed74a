"""`/v3/services`, `/v3/endpoints`, `/v3/regions` (admins): the catalog as configured.

The catalog comes from `[catalog]` in the config, so these are read-only: list (with
Keystone's filters) and show. URL templates are shown as written (`$(project_id)s` unfilled).
"""
from __future__ import annotations

from identity import policy
from identity.web import collection_links, json_response, not_found, query


def _links(service, path: str) -> dict:
    return {"self": f"{service.base}/v3/{path}"}


def _service_doc(service, entry: dict) -> dict:
    return {**entry, "enabled": True, "description": "",
            "links": _links(service, f"services/{entry['id']}")}


def _endpoint_doc(service, entry: dict) -> dict:
    return {**entry, "enabled": True, "links": _links(service, f"endpoints/{entry['id']}")}


def _region_doc(service) -> dict:
    region = service.catalog.region
    return {"id": region, "description": "", "parent_region_id": None,
            "links": _links(service, f"regions/{region}")}


def _matching(entries: list[dict], params: dict, keys: tuple[str, ...]) -> list[dict]:
    return [entry for entry in entries
            if all(key not in params or entry[key] == params[key] for key in keys)]


def list_services(service, req):
    policy.require_admin(service.caller(req))
    found = _matching(service.catalog.services(), query(req), ("type", "name"))
    return json_response({"services": [_service_doc(service, e) for e in found],
                          "links": collection_links(req)})


def show_service(service, req, service_id):
    policy.require_admin(service.caller(req))
    for entry in service.catalog.services():
        if entry["id"] == service_id:
            return json_response({"service": _service_doc(service, entry)})
    raise not_found("service", service_id)


def list_endpoints(service, req):
    policy.require_admin(service.caller(req))
    found = _matching(service.catalog.raw_endpoints(), query(req),
                      ("service_id", "interface", "region_id"))
    return json_response({"endpoints": [_endpoint_doc(service, e) for e in found],
                          "links": collection_links(req)})


def show_endpoint(service, req, endpoint_id):
    policy.require_admin(service.caller(req))
    for entry in service.catalog.raw_endpoints():
        if entry["id"] == endpoint_id:
            return json_response({"endpoint": _endpoint_doc(service, entry)})
    raise not_found("endpoint", endpoint_id)


def list_regions(service, req):
    service.caller(req)
    return json_response({"regions": [_region_doc(service)], "links": collection_links(req)})


def show_region(service, req, region_id):
    service.caller(req)
    if region_id != service.catalog.region:
        raise not_found("region", region_id)
    return json_response({"region": _region_doc(service)})

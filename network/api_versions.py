"""`GET /` (version discovery, no token needed), `GET /v2.0` (its resources) and
`/v2.0/extensions[/<alias>]` (the extensions this API implements, which openstacksdk and the
CLI ask about before using them)."""
from __future__ import annotations

from network.errors import NeutronError, short
from network.web import json_response

RESOURCES = [("network", "networks"), ("subnet", "subnets"), ("port", "ports"),
             ("security_group", "security-groups"),
             ("security_group_rule", "security-group-rules"), ("floatingip", "floatingips")]
UPDATED = "2026-12-01T00:00:00-00:00"
EXTENSIONS = [
    ("binding", "Port Binding", "Expose port bindings of a virtual port to external "
                                "application"),
    ("external-net", "Neutron external network", "Adds external network attribute to "
                                                  "network resource."),
    ("net-mtu", "Network MTU", "Provides MTU attribute for a network resource."),
    ("port-security", "Port Security", "Provides port security"),
    ("project-id", "project_id field enabled", "Extension that indicates that project_id "
                                               "field is enabled."),
    ("security-group", "security-group", "The security groups extension."),
    ("stateful-security-group", "Stateful security group", "Indicates if the security "
                                                           "group is stateful or not"),
    ("standard-attr-description", "standard-attr-description", "Extension to add "
                                                               "descriptions to standard "
                                                               "attributes"),
    ("standard-attr-revisions", "Resource revision numbers", "This extension will display "
                                                             "the revision number of neutron "
                                                             "resources."),
    ("standard-attr-timestamp", "Resource timestamps", "Adds created_at and updated_at "
                                                       "fields to all Neutron resources "
                                                       "that have Neutron standard "
                                                       "attributes."),
    ("fip-port-details", "Floating IP Port Details Extension", "Add port_details attribute "
                                                               "to Floating IP resource"),
    ("pagination", "Pagination support", "Extension that indicates that pagination is "
                                         "enabled."),
    ("sorting", "Sorting support", "Extension that indicates that sorting is enabled."),
    ("fields", "fields", "Selecting the returned attributes with fields="),
]


def _extension(alias: str, name: str, description: str) -> dict:
    return {"alias": alias, "name": name, "description": description, "updated": UPDATED,
            "links": []}


def root(service, req):
    base = service.config.public_url
    return json_response({"versions": [{
        "id": "v2.0", "status": "CURRENT",
        "links": [{"href": f"{base}/v2.0/", "rel": "self"}]}]})


def v2(service, req):
    service.caller(req)
    base = service.config.public_url
    return json_response({"resources": [
        {"name": name, "collection": collection,
         "links": [{"href": f"{base}/v2.0/{collection}", "rel": "self"}]}
        for name, collection in RESOURCES]})


def list_extensions(service, req):
    service.caller(req)
    return json_response({"extensions": [_extension(*item) for item in EXTENSIONS]})


def show_extension(service, req, alias):
    service.caller(req)
    for item in EXTENSIONS:
        if item[0] == alias:
            return json_response({"extension": _extension(*item)})
    raise NeutronError(404, "HTTPNotFound", f"Extension with alias {short(alias)} does not "
                                            f"exist")

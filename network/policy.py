"""Who may see and change what, with no IO: Neutron's default policy reduced to three roles.

A `Caller` (`common.token_check.Requester`) is a verified project-scoped token's user,
project and roles (implied ones included). `admin` sees and
changes everything, on behalf of any project. `member` creates resources in its own project
and changes or deletes its project's resources. `reader` only reads. Networks are also
visible to everyone when `shared` or `router:external`, and anyone who may write can put a
port on a shared network; changing a network stays with its owner. What a caller may not
see does not exist for them (404, never 403); a 403 is for what they see but may not change.
"""
from __future__ import annotations

from common.token_check import Requester as Caller
from network.errors import forbidden, invalid_attr


def require_write(caller: Caller, action: str) -> None:
    if not caller.can_write:
        raise forbidden(f"rule:{action}")


def owns(caller: Caller, project_id: str | None) -> bool:
    """Whether the caller sees and may (role allowing) change a project's resource."""
    return caller.is_admin or (bool(project_id) and project_id == caller.project_id)


def sees_network(caller: Caller, network: dict) -> bool:
    return owns(caller, network["project_id"]) or bool(network["shared"]) \
        or bool(network["external"])


def may_attach_to(caller: Caller, network: dict) -> bool:
    """Whether the caller may create ports (or subnets, for an owner) on the network."""
    return owns(caller, network["project_id"]) or bool(network["shared"])


def target_project(caller: Caller, doc: dict, action: str) -> str:
    """The project a new resource belongs to: the caller's, or (admin only) the one named by
    `project_id`/`tenant_id` in the body."""
    named = [doc[key] for key in ("project_id", "tenant_id") if doc.get(key) is not None]
    if not named:
        return caller.project_id
    if not all(isinstance(value, str) and 0 < len(value) <= 255 for value in named) \
            or len(set(named)) > 1:
        raise invalid_attr("project_id", "project_id and tenant_id must be one non-empty "
                                         "string")
    if named[0] != caller.project_id and not caller.is_admin:
        raise forbidden(f"rule:{action}:project_id")
    return named[0]

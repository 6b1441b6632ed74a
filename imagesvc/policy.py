"""Who may see and change an image: Glance's default visibility and ownership rules.

- public: everyone sees and lists it; only a cloud admin may make an image public.
- community: everyone may use it by id; it is listed only when asked for
  (`visibility=community` or `all`) or to its owner.
- shared: the owner and the projects it was shared with (members); a member lists it once it
  accepted (`member_status` chooses otherwise) and may use it by id while pending.
- private: the owner only.
A cloud admin (role `admin`) sees and changes everything; a `reader` only reads (the app
refuses its writes with 403 before any handler runs).
"""
from __future__ import annotations

from dataclasses import dataclass

from common.token_check import RoleHolder


@dataclass(frozen=True)
class Identity(RoleHolder):
    project: str
    user: str
    roles: frozenset[str]


def is_owner(image: dict, who: Identity) -> bool:
    return image["owner"] is not None and image["owner"] == who.project


def can_see(image: dict, who: Identity, member_status: str | None) -> bool:
    """May `who` read this image by id? `member_status` is who's membership, if any."""
    if who.is_admin or is_owner(image, who):
        return True
    if image["visibility"] in ("public", "community"):
        return True
    return image["visibility"] == "shared" and member_status is not None


def can_modify(image: dict, who: Identity) -> bool:
    return who.is_admin or is_owner(image, who)


def may_set_visibility(who: Identity, visibility: str) -> bool:
    """Making an image public is for admins; the other scopes are the owner's choice."""
    return visibility != "public" or who.is_admin


def may_download(image: dict, who: Identity) -> bool:
    """A deactivated image's data is withheld from everyone but admins."""
    return image["status"] != "deactivated" or who.is_admin


def listed(
    image: dict,
    who: Identity,
    member_status: str | None,
    visibility: str | None,
    wanted_member_status: str,
) -> bool:
    """Does a list request (with its `visibility`/`member_status` filters) include this image?"""
    mine = is_owner(image, who)
    scope = image["visibility"]
    if visibility not in (None, "all") and scope != visibility:
        return False
    if who.is_admin:
        return True
    if scope == "public":
        return True
    if scope == "community":
        return mine or visibility in ("community", "all")
    if mine:
        return True
    if scope != "shared" or member_status is None:
        return False
    return wanted_member_status == "all" or member_status == wanted_member_status

"""`GET /v2/images`: query parsing, filtering, sorting and marker/limit paging.

The registry is small (one row per image), so filters and sorting run over the visible rows
in Python; `plan_listing` validates the query into a `ListQuery` (400 on anything malformed)
and `page_of` applies it. Unknown query keys filter on extra properties, as Glance does.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field

from imagesvc import schema
from imagesvc.policy import Identity, listed

SORT_KEYS = (
    "name", "status", "container_format", "disk_format", "size", "id", "created_at",
    "updated_at", "visibility", "owner", "min_ram", "min_disk", "virtual_size",
)
EXACT_FILTERS = ("name", "status", "visibility", "owner", "disk_format", "container_format",
                 "id")
PAGING_KEYS = ("limit", "marker", "sort_key", "sort_dir", "sort")
OTHER_KEYS = ("size_min", "size_max", "tag", "member_status", "protected", "os_hidden")


class QueryError(ValueError):
    """A malformed list query; the message is one line."""


@dataclass
class ListQuery:
    limit: int
    marker: str | None = None
    sort: list[tuple[str, str]] = field(default_factory=list)
    exact: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    size_min: int | None = None
    size_max: int | None = None
    member_status: str = "accepted"
    protected: bool | None = None
    os_hidden: bool = False


def _parse_bool(name: str, text: str) -> bool:
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    raise QueryError(f"{name} must be true or false")


def _parse_int(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name} must be an integer") from None
    if value < 0:
        raise QueryError(f"{name} must not be negative")
    return value


def _parse_sort(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    keys = [value for key, value in params if key == "sort_key"]
    dirs = [value for key, value in params if key == "sort_dir"]
    new_style = [value for key, value in params if key == "sort"]
    if new_style and (keys or dirs):
        raise QueryError("use either sort or sort_key/sort_dir, not both")
    pairs: list[tuple[str, str]] = []
    if new_style:
        for item in ",".join(new_style).split(","):
            key, _, direction = item.strip().partition(":")
            pairs.append((key.strip(), direction.strip() or "desc"))
    else:
        keys = [k.strip() for value in keys for k in value.split(",")]
        dirs = [d.strip() for value in dirs for d in value.split(",")]
        if len(dirs) > max(len(keys), 1):
            raise QueryError("more sort_dir values than sort_key values")
        if not keys:
            keys = ["created_at"]
        if len(dirs) == 1:
            dirs = dirs * len(keys)
        dirs = dirs + ["desc"] * (len(keys) - len(dirs))
        pairs = list(zip(keys, dirs, strict=True))
    for key, direction in pairs:
        if key not in SORT_KEYS:
            raise QueryError(f"invalid sort key {key!r}")
        if direction not in ("asc", "desc"):
            raise QueryError(f"invalid sort direction {direction!r}; use asc or desc")
    if not any(key == "id" for key, _ in pairs):
        pairs.append(("id", pairs[-1][1] if pairs else "desc"))
    return pairs


def plan_listing(params: list[tuple[str, str]], default_limit: int, max_limit: int) -> ListQuery:
    query = ListQuery(limit=default_limit, sort=_parse_sort(params))
    for key, value in params:
        if key == "limit":
            query.limit = min(_parse_int("limit", value), max_limit)
        elif key == "marker":
            query.marker = value
        elif key in ("sort_key", "sort_dir", "sort"):
            continue
        elif key in EXACT_FILTERS:
            if key == "visibility" and value not in (*schema.VISIBILITIES, "all"):
                raise QueryError(f"invalid visibility {value!r}")
            query.exact[key] = value
        elif key == "tag":
            query.tags.append(value)
        elif key in ("size_min", "size_max"):
            setattr(query, key, _parse_int(key, value))
        elif key == "member_status":
            if value not in (*schema.MEMBER_STATUSES, "all"):
                raise QueryError(f"invalid member_status {value!r}")
            query.member_status = value
        elif key in ("protected", "os_hidden"):
            setattr(query, key, _parse_bool(key, value))
        else:
            query.properties[key] = value
    return query


def _matches(image: dict, query: ListQuery) -> bool:
    for key, wanted in query.exact.items():
        if key == "visibility":
            continue
        if key == "name" and wanted.startswith("in:"):
            if image["name"] not in wanted[3:].split(","):
                return False
        elif image[key] != wanted:
            return False
    if any(tag not in image["tags"] for tag in query.tags):
        return False
    size = image["size"]
    if query.size_min is not None and (size is None or size < query.size_min):
        return False
    if query.size_max is not None and (size is None or size > query.size_max):
        return False
    if query.protected is not None and image["protected"] != query.protected:
        return False
    if image["os_hidden"] != query.os_hidden:
        return False
    return all(image["properties"].get(k) == v for k, v in query.properties.items())


def _sort_value(value):
    # None sorts before everything else, as SQL's NULLs do in ascending order.
    return (value is not None, value if value is not None else 0)


def page_of(images: list[dict], query: ListQuery, who: Identity,
            memberships: dict[str, str]) -> tuple[list[dict], bool]:
    """(the page's images, whether more follow) for `query` as seen by `who`."""
    visibility = query.exact.get("visibility")
    chosen = [
        image for image in images
        if listed(image, who, memberships.get(image["id"]), visibility, query.member_status)
        and _matches(image, query)
    ]
    for key, direction in reversed(query.sort):
        chosen.sort(key=lambda image, key=key: _sort_value(image[key]),
                    reverse=direction == "desc")
    if query.marker is not None:
        positions = [i for i, image in enumerate(chosen) if image["id"] == query.marker]
        if not positions:
            raise QueryError(f"marker {query.marker!r} not found")
        chosen = chosen[positions[0] + 1 :]
    if query.limit == 0:
        return [], bool(chosen)
    return chosen[: query.limit], len(chosen) > query.limit


def next_link(params: list[tuple[str, str]], last_id: str) -> str:
    kept = [(key, value) for key, value in params if key != "marker"]
    return "/v2/images?" + urllib.parse.urlencode([*kept, ("marker", last_id)])

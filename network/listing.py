"""Neutron's list query parameters applied to rendered resources, with no IO.

Every other query key that names an attribute of the resource is a filter (repeated keys
are alternatives: `?id=a&id=b`; booleans as true/false; a list attribute matches when it
holds the value; `fixed_ips=ip_address=10.0.0.5` matches a port's fixed IP); keys naming no
attribute are ignored, as Neutron did before strict filter validation. Then `sort_key` /
`sort_dir` (repeatable), paging by `limit` / `marker` / `page_reverse` with
`<collection>_links`, and `fields` (repeatable) selecting the attributes returned.
"""
from __future__ import annotations

from urllib.parse import urlencode

from network.errors import NeutronError, bad_request, short

CONTROL = {"fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse", "tags",
           "tags-any", "not-tags", "not-tags-any", "verbose"}
MAX_LIMIT = 1000


def _matches(actual, wanted: str) -> bool:
    if isinstance(actual, bool):
        return wanted.strip().lower() in (("true", "1") if actual else ("false", "0"))
    if actual is None:
        return wanted in ("", "None", "null")
    if isinstance(actual, list):
        for item in actual:
            if isinstance(item, dict):
                key, sep, value = wanted.partition("=")
                if sep and str(item.get(key)) == value:
                    return True
            elif str(item) == wanted:
                return True
        return False
    return str(actual) == wanted


def filter_items(items: list[dict], params: list[tuple[str, str]]) -> list[dict]:
    wanted: dict[str, list[str]] = {}
    for key, value in params:
        if key not in CONTROL:
            wanted.setdefault(key, []).append(value)
    if not items:
        return items
    known = set(items[0])
    wanted = {key: values for key, values in wanted.items() if key in known}
    return [item for item in items
            if all(any(_matches(item.get(key), value) for value in values)
                   for key, values in wanted.items())]


def _sort_value(value):
    if isinstance(value, (list, dict)):
        value = str(value)
    if isinstance(value, bool):
        value = int(value)
    return (value is not None, value if value is not None else 0)


def sort_items(items: list[dict], params: list[tuple[str, str]]) -> list[dict]:
    keys = [value for key, value in params if key == "sort_key"]
    dirs = [value for key, value in params if key == "sort_dir"]
    if not keys:
        if dirs:
            raise bad_request("sort_dir given without sort_key")
        return items
    if dirs and len(dirs) != len(keys):
        raise bad_request("The number of sort_keys and sort_dirs must be same")
    dirs = dirs or ["asc"] * len(keys)
    known = set(items[0]) if items else None
    for key, direction in zip(keys, dirs, strict=True):
        if direction not in ("asc", "desc"):
            raise bad_request(f"{short(direction)} is an invalid value for sort_dir, valid "
                              f"values are 'asc' and 'desc'")
        if known is not None and key not in known:
            raise bad_request(f"{short(key)} is an invalid attribute for sort_key")
    result = list(items)
    for key, direction in reversed(list(zip(keys, dirs, strict=True))):
        try:
            result.sort(key=lambda item, key=key: _sort_value(item.get(key)),
                        reverse=direction == "desc")
        except TypeError:
            result.sort(key=lambda item, key=key: str(item.get(key)),
                        reverse=direction == "desc")
    return result


def _one(params: list[tuple[str, str]], name: str) -> str | None:
    values = [value for key, value in params if key == name]
    return values[-1] if values else None


def page(items: list[dict], params: list[tuple[str, str]], collection: str,
         url: str) -> tuple[list[dict], list[dict]]:
    """(the page, its `<collection>_links`)."""
    limit_text = _one(params, "limit")
    marker = _one(params, "marker")
    reverse = (_one(params, "page_reverse") or "").lower() in ("true", "1")
    limit = None
    if limit_text not in (None, ""):
        if not limit_text.isdigit() or not limit_text.isascii() or len(limit_text) > 9:
            raise bad_request(f"Invalid value for limit: '{short(limit_text)}'")
        limit = min(int(limit_text), MAX_LIMIT) or None
    ordered = list(reversed(items)) if reverse else items
    if marker:
        ids = [item.get("id") for item in ordered]
        if marker not in ids:
            raise NeutronError(404, "HTTPNotFound", f"Marker {short(marker)} could not be "
                                                    f"found.")
        ordered = ordered[ids.index(marker) + 1:]
    links = []
    if limit is not None and len(ordered) > limit:
        ordered = ordered[:limit]
        base = [(key, value) for key, value in params if key not in ("marker", "limit")]
        query = urlencode(base + [("limit", str(limit)), ("marker", ordered[-1]["id"])])
        links.append({"href": f"{url}?{query}", "rel": "previous" if reverse else "next"})
    if reverse:
        ordered.reverse()
    return ordered, links


def select_fields(items: list[dict], params: list[tuple[str, str]]) -> list[dict]:
    fields = [value for key, value in params if key == "fields" and value]
    if not fields:
        return items
    return [{key: item[key] for key in fields if key in item} for item in items]


def list_response(items: list[dict], params: list[tuple[str, str]], collection: str,
                  url: str) -> dict:
    items = sort_items(filter_items(items, params), params)
    items, links = page(items, params, collection, url)
    doc = {collection: select_fields(items, params)}
    if links:
        doc[f"{collection}_links"] = links
    return doc

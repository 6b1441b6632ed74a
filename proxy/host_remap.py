"""Which account and container a Host header names under a storage domain (no IO).

With storage domain `example.com`, path root `v1` and reseller prefix `AUTH`:

    Host: AUTH_test.example.com        GET /c/o   ->  /v1/AUTH_test/c/o
    Host: auth-test.example.com        GET /c/o   ->  /v1/AUTH_test/c/o
    Host: c.AUTH_test.example.com      GET /o     ->  /v1/AUTH_test/c/o

DNS labels cannot hold `_`, so the account label may spell the prefix's separator `-`; the
prefix is matched without regard to case and written as configured. A label without a known
prefix gets `default_reseller_prefix` when one is set, else the request is left alone, as is
any Host outside the storage domains. More than two labels in front of the domain, an empty
one, or one holding what a path would read differently (`/ ? # %`, spaces, controls) is a
`BadHost` (the caller answers 400).
"""
from __future__ import annotations

from dataclasses import dataclass

SEPARATORS = "-_"
PATH_SYNTAX = frozenset("/?#%")


class BadHost(ValueError):
    """A Host under a storage domain that names no account (one line, for a 400)."""


@dataclass(frozen=True)
class RemapSettings:
    storage_domains: tuple[str, ...]  # lower case, without leading dots, longest first
    path_root: str = "v1"
    reseller_prefixes: tuple[str, ...] = ("AUTH",)
    default_reseller_prefix: str = ""


def make_settings(storage_domains, path_root: str = "v1", reseller_prefixes=("AUTH",),
                  default_reseller_prefix: str = "") -> RemapSettings:
    domains = {domain.strip().strip(".").lower() for domain in storage_domains}
    ordered = tuple(sorted((d for d in domains if d), key=len, reverse=True))
    prefixes = tuple(p.strip().rstrip("_") for p in reseller_prefixes if p.strip().rstrip("_"))
    return RemapSettings(ordered, path_root.strip().strip("/"), prefixes,
                         default_reseller_prefix.strip().rstrip("_"))


def host_name(host: str) -> str:
    """The Host header without its port and trailing dot ('' for an IPv6 literal)."""
    host = host.strip()
    if host.startswith("["):
        return ""
    name, _sep, port = host.rpartition(":")
    if not _sep or not port.isdigit():
        name = host
    return name[:-1] if name.endswith(".") else name


def plain_label(label: str) -> bool:
    """Whether a host label can stand in a path as it is (one segment, nothing to decode)."""
    # Bytes above 0x7F stay: a UTF-8 container name arrives as latin-1 characters.
    return not any(ch in PATH_SYNTAX or ch <= " " or ch == "\x7f" or ch > "\xff"
                   for ch in label)


def host_labels(host: str, settings: RemapSettings) -> list[str] | None:
    """The labels in front of a storage domain: [account] or [container, account]."""
    name = host_name(host)
    lowered = name.lower()
    for domain in settings.storage_domains:
        if lowered.endswith("." + domain):
            labels = name[: -len(domain) - 1].split(".")
            if len(labels) > 2 or not all(labels) or not all(map(plain_label, labels)):
                raise BadHost(f"bad domain in Host header: {name!r}")
            return labels
    return None


def account_of(label: str, settings: RemapSettings) -> str | None:
    """The account a host label names, or None when no reseller prefix applies."""
    for prefix in settings.reseller_prefixes:
        size = len(prefix)
        if len(label) > size + 1 and label[:size].lower() == prefix.lower() \
                and label[size] in SEPARATORS:
            return f"{prefix}_{label[size + 1:]}"
    if settings.default_reseller_prefix:
        return f"{settings.default_reseller_prefix}_{label}"
    return None


def remap_path(host: str, path_info: str, settings: RemapSettings) -> str | None:
    """The path `path_info` stands for on `host`, or None to leave the request alone."""
    labels = host_labels(host, settings)
    if labels is None:
        return None
    account = account_of(labels[-1], settings)
    if account is None:
        return None
    pieces = ["", settings.path_root, account] if settings.path_root else ["", account]
    if len(labels) == 2:
        pieces.append(labels[0])
    if path_info and not path_info.startswith("/"):
        path_info = "/" + path_info
    return "/".join(pieces) + path_info

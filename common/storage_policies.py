"""Storage policies: the cluster's named object placements, from `brume.conf`.

Each `[storage-policy:N]` section of `<conf_dir>/brume.conf` declares policy index N
(`name`, `default = true` on at most one, `aliases` a comma-separated list of other names).
Policy N keeps its objects with its own ring (`object.ring.gz` for 0, `object-N.ring.gz`
otherwise), and so its own replica count, and in its own directory on every device
(`objects` for 0, `objects-N`). A container chooses its policy once, at creation
(`X-Storage-Policy`); its objects then live under that policy's ring. Without any section the
cluster has one policy, 0 `Policy-0`, as Swift's. Names are matched without regard to case.

`load_policies(conf_dir)` reads and validates them (a one-line `ConfigError` when wrong);
`PolicyCollection` answers by index and by name. Pure data, IO only in `load_policies`.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass

from common.cluster_conf import CLUSTER_CONF_NAME
from common.config import ConfigError, parse_bool, parse_list, read_ini

SECTION_PREFIX = "storage-policy:"
BACKEND_INDEX_HEADER = "X-Backend-Storage-Policy-Index"
NAME_RE = re.compile(r"^[A-Za-z0-9-]{1,64}$")


@dataclass(frozen=True)
class StoragePolicy:
    index: int
    name: str
    aliases: tuple[str, ...] = ()
    is_default: bool = False

    @property
    def ring_name(self) -> str:
        """The object ring's name: `object` for policy 0, `object-<index>` otherwise."""
        return "object" if self.index == 0 else f"object-{self.index}"

    @property
    def objects_dir(self) -> str:
        """The per-device directory of its objects: `objects`, `objects-<index>`."""
        return "objects" if self.index == 0 else f"objects-{self.index}"

    def info(self) -> dict:
        """Its entry in `/info`'s `swift.policies`."""
        entry: dict = {"name": self.name, "aliases": ", ".join((self.name,) + self.aliases)}
        if self.is_default:
            entry["default"] = True
        return entry


class PolicyCollection:
    """The cluster's policies, by index and by (case-insensitive) name or alias."""

    def __init__(self, policies: list[StoragePolicy]):
        if not policies:
            raise ConfigError("no storage policy")
        self.by_index = {policy.index: policy for policy in policies}
        defaults = [policy for policy in policies if policy.is_default]
        self.default = defaults[0] if defaults else self.by_index[min(self.by_index)]
        self._by_name: dict[str, StoragePolicy] = {}
        for policy in policies:
            for name in (policy.name,) + policy.aliases:
                if name.lower() in self._by_name:
                    raise ConfigError(f"storage policy name {name!r} is used twice")
                self._by_name[name.lower()] = policy

    def __iter__(self):
        return iter(sorted(self.by_index.values(), key=lambda policy: policy.index))

    def __len__(self) -> int:
        return len(self.by_index)

    def by_name(self, name: str) -> StoragePolicy | None:
        return self._by_name.get(name.strip().lower())

    def get(self, index: int) -> StoragePolicy | None:
        return self.by_index.get(index)

    def index_of_header(self, value: str | None) -> StoragePolicy | None:
        """The policy an `X-Backend-Storage-Policy-Index` value names (0 when absent);
        None for a value that names no policy."""
        if value is None or value == "":
            return self.by_index.get(0, self.default)
        if not value.isdigit() or len(value) > 6:
            return None
        return self.by_index.get(int(value))


SINGLE_POLICY = PolicyCollection([StoragePolicy(0, "Policy-0", (), True)])


def parse_policies(sections: dict[str, dict[str, str]], where: str = "") -> PolicyCollection:
    """Policies from {section name: options} (only `storage-policy:N` sections count)."""
    policies = []
    for section, options in sections.items():
        if not section.startswith(SECTION_PREFIX):
            continue
        suffix = section[len(SECTION_PREFIX):]
        if not suffix.isdigit() or len(suffix) > 6:
            raise ConfigError(f"{where}[{section}]: the policy index must be a number")
        unknown = set(options) - {"name", "default", "aliases"}
        if unknown:
            raise ConfigError(f"{where}[{section}]: unknown option {sorted(unknown)[0]}")
        name = options.get("name", "").strip()
        aliases = tuple(parse_list(options.get("aliases", "")))
        for label in (name,) + aliases:
            if not NAME_RE.match(label):
                raise ConfigError(f"{where}[{section}]: bad policy name {label!r} "
                                  "(letters, digits and dashes, 1 to 64)")
        try:
            is_default = parse_bool(options.get("default", "false"))
        except ValueError as exc:
            raise ConfigError(f"{where}[{section}] default: {exc}") from None
        policies.append(StoragePolicy(int(suffix), name, aliases, is_default))
    if not policies:
        return SINGLE_POLICY
    if sum(policy.is_default for policy in policies) > 1:
        raise ConfigError(f"{where}more than one storage policy has default = true")
    if 0 not in {policy.index for policy in policies}:
        raise ConfigError(f"{where}[storage-policy:0] is required when policies are declared")
    return PolicyCollection(policies)


def load_policies(conf_dir: str) -> PolicyCollection:
    """The policies of `<conf_dir>/brume.conf` (one default policy when it declares none)."""
    path = os.path.join(conf_dir, CLUSTER_CONF_NAME)
    if not os.path.exists(path):
        return SINGLE_POLICY
    parser = read_ini(path)
    sections = {name: dict(parser.items(name)) for name in parser.sections()
                if name.startswith(SECTION_PREFIX)}
    return parse_policies(sections, f"{path}: ")

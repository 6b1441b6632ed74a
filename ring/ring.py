"""Ring lookup: where do the replicas of an account, container or object live?

`Ring(conf_dir, name)` loads `<conf_dir>/<name>.ring.gz` (written by `RingBuilder.write_ring`)
and the cluster's path hasher from `<conf_dir>/brume.conf`. A path's partition is the top
`part_power` bits of its salted md5; its primary nodes are the partition's column of the
replica -> partition -> device table; handoffs are every other device, new failure domains
first. The ring notices a new file on disk (mtime/size/inode, checked at most once a second)
and reloads itself.
"""
from __future__ import annotations

import hashlib
import os
import sys
import time
from array import array
from collections.abc import Iterator

from ring.balance import device_balances
from ring.devices import RingError
from ring.fileformat import RING_MAGIC, read_file
from ring.hashing import PathHasher, load_hasher

RING_NAMES = ("account", "container", "object")  # plus `object-<N>`, storage policy N's


def is_ring_name(name: str) -> bool:
    """`account`, `container`, `object`, or `object-<N>` (the object ring of policy N)."""
    if name in RING_NAMES:
        return True
    prefix, dash, index = name.partition("-")
    return prefix == "object" and dash == "-" and index.isdigit() and not index.startswith("0")
RING_VERSIONS = (1,)
RELOAD_CHECK_SECONDS = 1.0
_DEV_KEYS = ("id", "region", "zone", "ip", "port", "device", "weight", "meta")


class RingData:
    """The immutable content of one ring file."""

    def __init__(self, body: dict, path: str):
        try:
            self.part_power = int(body["part_power"])
            self.part_shift = int(body["part_shift"])
            self.replicas = int(body["replicas"])
            typecode = body["typecode"]
            if typecode not in ("H", "I") or self.part_shift != 32 - self.part_power:
                raise ValueError("bad typecode or part_shift")
            self.devs: list[dict | None] = []
            for entry in body["devs"]:
                self.devs.append(
                    None if entry is None else {key: entry[key] for key in _DEV_KEYS}
                )
            parts = 1 << self.part_power
            self.replica2part2dev: list[array] = []
            for raw in body["replica2part2dev"]:
                row = array(typecode)
                row.frombytes(raw)
                if sys.byteorder != "little":
                    row.byteswap()
                if len(row) != parts:
                    raise ValueError("assignment row has the wrong length")
                self.replica2part2dev.append(row)
            if len(self.replica2part2dev) != self.replicas:
                raise ValueError("wrong number of replica rows")
            for row in self.replica2part2dev:
                if row and max(row) >= len(self.devs):
                    raise ValueError("assignment points at an unknown device")
        except (KeyError, TypeError, ValueError) as exc:
            raise RingError(f"{path}: corrupt ring file ({exc})") from None
        self.partition_count = 1 << self.part_power
        self._handoff_order = [
            d for d in sorted((d for d in self.devs if d), key=lambda d: d["id"])
            if d["weight"] > 0
        ]

    def part_nodes(self, part: int) -> list[dict]:
        nodes = []
        for index, row in enumerate(self.replica2part2dev):
            node = dict(self.devs[row[part]])
            node["index"] = index
            nodes.append(node)
        return nodes

    def handoffs(self, part: int) -> Iterator[dict]:
        primaries = [self.devs[row[part]] for row in self.replica2part2dev]
        used_ids = {d["id"] for d in primaries}
        regions = {d["region"] for d in primaries}
        zones = {(d["region"], d["zone"]) for d in primaries}
        ips = {(d["region"], d["zone"], d["ip"]) for d in primaries}
        candidates = self._handoff_order
        if not candidates:
            return
        start = int.from_bytes(
            hashlib.md5(part.to_bytes(4, "big"), usedforsecurity=False).digest()[:4], "big"
        ) % len(candidates)
        order = candidates[start:] + candidates[:start]
        index = self.replicas
        tiers = (
            lambda d: d["region"] not in regions,
            lambda d: (d["region"], d["zone"]) not in zones,
            lambda d: (d["region"], d["zone"], d["ip"]) not in ips,
            lambda d: True,
        )
        for is_new_domain in tiers:
            for dev in order:
                if dev["id"] in used_ids or not is_new_domain(dev):
                    continue
                used_ids.add(dev["id"])
                regions.add(dev["region"])
                zones.add((dev["region"], dev["zone"]))
                ips.add((dev["region"], dev["zone"], dev["ip"]))
                node = dict(dev)
                node["handoff_index"] = index
                node["index"] = index
                index += 1
                yield node


def ring_path(conf_dir: str, name: str) -> str:
    """Where the named ring lives: `<conf_dir>/<name>.ring.gz`."""
    return os.path.join(conf_dir, f"{name}.ring.gz")


def load_ring_data(path: str) -> tuple[RingData, bytes]:
    body, raw = read_file(path, RING_MAGIC, RING_VERSIONS, "ring")
    return RingData(body, path), raw


class Ring:
    """Lookup of partitions and nodes for one of the account/container/object rings."""

    def __init__(self, conf_dir: str, name: str, hasher: PathHasher | None = None):
        if not is_ring_name(name):
            raise RingError(f"unknown ring name {name!r}; use one of {', '.join(RING_NAMES)} "
                            "or object-<N>")
        self.name = name
        self.path = ring_path(conf_dir, name)
        self.hasher = hasher if hasher is not None else load_hasher(conf_dir)
        self._next_check = 0.0
        self._stamp: tuple | None = None
        self._load()

    # ------------------------------------------------------------------ reload
    def _file_stamp(self) -> tuple:
        st = os.stat(self.path)
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def _load(self) -> None:
        stamp = self._file_stamp() if os.path.exists(self.path) else None
        data, raw = load_ring_data(self.path)
        self._data = data
        self._md5 = hashlib.md5(raw, usedforsecurity=False).hexdigest()
        self._stamp = stamp
        self._next_check = time.monotonic() + RELOAD_CHECK_SECONDS

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + RELOAD_CHECK_SECONDS
        try:
            stamp = self._file_stamp()
        except OSError:
            return  # keep serving the ring we have
        if stamp != self._stamp:
            try:
                self._load()
            except RingError:
                self._stamp = stamp  # a broken new file: keep the old ring, retry on change

    def reload_if_changed(self) -> bool:
        """Check the file now (ignoring the 1 s throttle); True if a new ring was loaded."""
        self._next_check = 0.0
        before = self._md5
        self._maybe_reload()
        return self._md5 != before

    # ------------------------------------------------------------------ properties
    @property
    def partition_count(self) -> int:
        self._maybe_reload()
        return self._data.partition_count

    @property
    def replica_count(self) -> int:
        self._maybe_reload()
        return self._data.replicas

    @property
    def part_power(self) -> int:
        self._maybe_reload()
        return self._data.part_power

    @property
    def devs(self) -> list[dict | None]:
        self._maybe_reload()
        return self._data.devs

    @property
    def md5(self) -> str:
        self._maybe_reload()
        return self._md5

    def assignments_per_device(self) -> dict[int, int]:
        """{device id: how many partition replicas the ring assigns it}."""
        self._maybe_reload()
        counts: dict[int, int] = {}
        for row in self._data.replica2part2dev:
            for dev_id in row:
                counts[dev_id] = counts.get(dev_id, 0) + 1
        return counts

    def balances(self, assigned: dict[int, int] | None = None) -> dict[int, float]:
        """{device id: balance in percent} of the devices in use (`ring.balance`);
        `assigned` is `assignments_per_device()`, passed when the caller has it already."""
        assigned = self.assignments_per_device() if assigned is None else assigned
        weights = {dev["id"]: dev.get("weight", 0) for dev in self.devs if dev}
        return device_balances(weights, assigned, sum(assigned.values()))

    # ------------------------------------------------------------------ lookups
    def get_part(self, account: str, container: str | None = None, obj: str | None = None) -> int:
        self._maybe_reload()
        digest = self.hasher.hash_path_raw(account, container, obj)
        return int.from_bytes(digest[:4], "big") >> self._data.part_shift

    def get_part_nodes(self, part: int) -> list[dict]:
        self._maybe_reload()
        self._check_part(part)
        return self._data.part_nodes(part)

    def get_nodes(
        self, account: str, container: str | None = None, obj: str | None = None
    ) -> tuple[int, list[dict]]:
        part = self.get_part(account, container, obj)
        return part, self._data.part_nodes(part)

    def get_more_nodes(self, part: int) -> Iterator[dict]:
        """Handoff nodes for `part`: unused regions first, then zones, then ips, then devices."""
        self._maybe_reload()
        self._check_part(part)
        return self._data.handoffs(part)

    def _check_part(self, part: int) -> None:
        if not 0 <= part < self._data.partition_count:
            raise RingError(f"partition {part} out of range 0..{self._data.partition_count - 1}")

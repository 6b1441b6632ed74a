"""RingBuilder: the operator's editable ring state, its rebalance, and its files.

Holds part_power, replicas, min_part_hours, the devices (a list indexed by id, None for removed
ids), the replica x partition assignment table, each partition's last-moved hour and a seed.
Saved as a `.builder` file (msgpack + gzip, versioned header, atomic write, previous file kept
in `backups/`) and compiled into a `<name>.ring.gz` file by `write_ring`.
"""
from __future__ import annotations

import os
import sys
import time
from array import array

import numpy as np

from ring.balance import device_balances, max_balance
from ring.devices import Device, DeviceSearch, RingError, check_device_fields, normalize_ip
from ring.dispersion import dispersion_report, well_dispersed
from ring.fileformat import (
    BUILDER_MAGIC,
    RING_MAGIC,
    atomic_write,
    backup_existing,
    encode,
    read_file,
)
from ring.rebalance import Rebalancer
from ring.topology import Topology

BUILDER_VERSION = 1
RING_VERSION = 1
MAX_PART_POWER = 24
BASE_PART_POWER = 14  # big rings start from a tiled, balanced part_power-14 layout
NOT_MOVED = 0


def _typecode_for(max_id: int) -> str:
    return "H" if max_id < 0xFFFF else "I"


def _row_bytes(row: np.ndarray, typecode: str) -> bytes:
    arr = array(typecode, row.astype(np.uint16 if typecode == "H" else np.uint32).tobytes())
    if sys.byteorder != "little":
        arr.byteswap()
    return arr.tobytes()


def _row_from_bytes(data: bytes, typecode: str, parts: int, where: str) -> np.ndarray:
    arr = array(typecode)
    if len(data) != parts * arr.itemsize:
        raise RingError(f"{where}: corrupt file (assignment row has the wrong length)")
    arr.frombytes(data)
    if sys.byteorder != "little":
        arr.byteswap()
    return np.frombuffer(arr, dtype=np.uint16 if typecode == "H" else np.uint32).astype(np.int32)


class RingBuilder:
    """Editable ring state. Typical use: add_dev(...) x N, rebalance(), save(), write_ring()."""

    def __init__(self, part_power: int, replicas: int, min_part_hours: int = 1, seed: int = 0):
        if not isinstance(part_power, int) or not 1 <= part_power <= MAX_PART_POWER:
            raise RingError(f"part_power must be an integer in 1..{MAX_PART_POWER}")
        if not isinstance(replicas, int) or replicas < 1:
            raise RingError("replicas must be an integer >= 1")
        if not isinstance(min_part_hours, int) or not 0 <= min_part_hours <= 65535:
            raise RingError("min_part_hours must be an integer in 0..65535")
        self.part_power = part_power
        self.replicas = replicas
        self.min_part_hours = min_part_hours
        if int(seed) < 0:
            raise RingError("seed must be an integer >= 0")
        self.seed = int(seed)
        self.devs: list[Device | None] = []
        self.assign: np.ndarray | None = None
        self.last_moved = np.zeros(self.parts, dtype=np.uint32)
        self.version = 0
        self.devs_changed = False

    def __repr__(self) -> str:
        devs = ", ".join(
            f"{d.describe()}:{d.weight:g}" for d in self.existing_devs()
        )
        return (f"RingBuilder(part_power={self.part_power}, replicas={self.replicas}, "
                f"min_part_hours={self.min_part_hours}, seed={self.seed}, devs=[{devs}])")

    # ------------------------------------------------------------------ basics
    @property
    def parts(self) -> int:
        return 1 << self.part_power

    def existing_devs(self) -> list[Device]:
        return [d for d in self.devs if d is not None]

    def add_dev(
        self,
        region: int,
        zone: int,
        ip: str,
        port: int,
        device: str,
        weight: float,
        meta: str = "",
        id: int | None = None,
    ) -> int:
        """Add a device; returns its id."""
        ip = normalize_ip(str(ip))
        weight = float(weight)
        check_device_fields(int(region), int(zone), int(port), str(device), weight)
        for dev in self.existing_devs():
            if (dev.ip, dev.port, dev.device) == (ip, int(port), device):
                raise RingError(f"device {ip}:{port}/{device} already exists as d{dev.id}")
        dev_id = len(self.devs) if id is None else int(id)
        if dev_id < len(self.devs) and (dev_id < 0 or self.devs[dev_id] is not None):
            raise RingError(f"device id {dev_id} is already used")
        while len(self.devs) <= dev_id:
            self.devs.append(None)
        self.devs[dev_id] = Device(dev_id, int(region), int(zone), ip, int(port), device, weight,
                                   str(meta))
        self.devs_changed = True
        return dev_id

    def search(self, search: DeviceSearch) -> list[Device]:
        found = [d for d in self.existing_devs() if search.matches(d)]
        if not found:
            raise RingError(f"unknown device: nothing matches search value {search.text!r}")
        return found

    def remove_dev(self, dev_id: int) -> None:
        """Remove a device; its replicas are reassigned at the next rebalance."""
        self._get(dev_id)
        self.devs[dev_id] = None
        self.devs_changed = True

    def set_dev_weight(self, dev_id: int, weight: float) -> None:
        dev = self._get(dev_id)
        weight = float(weight)
        check_device_fields(dev.region, dev.zone, dev.port, dev.device, weight)
        dev.weight = weight
        self.devs_changed = True

    def _get(self, dev_id: int) -> Device:
        if not 0 <= dev_id < len(self.devs) or self.devs[dev_id] is None:
            raise RingError(f"unknown device id {dev_id}")
        return self.devs[dev_id]

    def pretend_min_part_hours_passed(self) -> None:
        self.last_moved[:] = NOT_MOVED

    # ------------------------------------------------------------------ rebalance
    def check_rebalance_possible(self) -> None:
        weighted = [d for d in self.existing_devs() if d.weight > 0]
        if not weighted:
            raise RingError("impossible rebalance: no devices with weight > 0")
        if self.replicas > len(weighted):
            raise RingError(
                f"impossible rebalance: {self.replicas} replicas need at least "
                f"{self.replicas} devices with weight > 0, the builder has {len(weighted)}"
            )

    def rebalance(self, seed: int | None = None, now: float | None = None) -> dict:
        """Reassign partitions; returns stats (moved, moved_fraction, max_balance, ...)."""
        self.check_rebalance_possible()
        if seed is not None and int(seed) < 0:
            raise RingError("seed must be an integer >= 0")
        topo = Topology(self.devs)
        _, targets = topo.compute_targets(self.replicas, self.parts)
        now_hour = int((time.time() if now is None else now) // 3600)
        rng = np.random.default_rng([self.seed if seed is None else int(seed), self.version])
        old = self.assign
        if old is None:
            assign = self._initial_layout(topo, rng)
            restricted = np.zeros(self.parts, dtype=bool)
        else:
            assign = old.copy()
            known = np.array([d is not None for d in self.devs] + [False], dtype=bool)
            safe = np.where((assign < 0) | (assign >= len(self.devs)), len(self.devs), assign)
            assign[~known[safe]] = -1
            restricted = np.ones(self.parts, dtype=bool)
        engine = Rebalancer(topo, assign, targets, restricted, self.last_moved,
                            self.min_part_hours, now_hour, rng)
        engine.run()
        if (assign < 0).any():
            raise RingError("impossible rebalance: some replicas could not be placed")
        moved_parts, moved = self._movement(old, assign)
        self.last_moved[moved_parts] = now_hour
        self.assign = assign
        self.version += 1
        self.devs_changed = False
        total = self.replicas * self.parts
        return {
            "moved": moved,
            "moved_fraction": moved / total,
            "max_balance": self.max_balance(),
            "badly_dispersed": int((~well_dispersed(topo, assign)).sum()),
        }

    def _initial_layout(self, topo: Topology, rng: np.random.Generator) -> np.ndarray:
        if self.part_power <= BASE_PART_POWER:
            return np.full((self.replicas, self.parts), -1, dtype=np.int32)
        base_parts = 1 << BASE_PART_POWER
        _, base_targets = topo.compute_targets(self.replicas, base_parts)
        base = np.full((self.replicas, base_parts), -1, dtype=np.int32)
        Rebalancer(topo, base, base_targets, np.zeros(base_parts, dtype=bool),
                   np.zeros(base_parts, dtype=np.uint32), 0, 0, rng).run()
        return np.ascontiguousarray(base[:, rng.permutation(self.parts) % base_parts])

    def _movement(self, old: np.ndarray | None, new: np.ndarray) -> tuple[np.ndarray, int]:
        if old is None:
            return np.arange(self.parts), int(new.size)
        fresh = np.ones(new.shape, dtype=bool)
        for r in range(self.replicas):
            fresh &= new != old[r][None, :]
        return np.nonzero(fresh.any(axis=0))[0], int(fresh.sum())

    # ------------------------------------------------------------------ reporting
    def parts_per_dev(self) -> dict[int, int]:
        counts = {d.id: 0 for d in self.existing_devs()}
        if self.assign is not None:
            per = np.bincount(self.assign[self.assign >= 0], minlength=len(self.devs))
            for dev_id in counts:
                counts[dev_id] = int(per[dev_id])
        return counts

    def balances(self) -> dict[int, float]:
        """Percent above (+) or below (-) each device's weight share of all assignments."""
        weights = {d.id: d.weight for d in self.existing_devs()}
        return device_balances(weights, self.parts_per_dev(), self.replicas * self.parts)

    def max_balance(self) -> float:
        return max_balance(self.balances()) if self.assign is not None else 0.0

    def dispersion(self) -> dict:
        if self.assign is None:
            return {"partitions": self.parts, "badly_dispersed": None, "sharing": {}}
        return dispersion_report(Topology(self.devs), self.assign)

    def targets(self) -> dict[int, int]:
        """Dispersion-aware target replica count of each device with weight."""
        topo = Topology(self.devs)
        if not any(topo.weighted[1:]):
            return {}
        _, target = topo.compute_targets(self.replicas, self.parts)
        return {dev_id: target[node] for dev_id, node in topo.dev_node.items()}

    def validate(self) -> list[str]:
        """Problems that would make the ring unusable or unsafe (empty list = fine)."""
        if self.assign is None:
            return ["builder has never been rebalanced"]
        problems = []
        known = {d.id for d in self.existing_devs()}
        used = set(np.unique(self.assign).tolist())
        if -1 in used:
            problems.append("some replicas are unassigned")
        gone = sorted(used - known - {-1})
        if gone:
            problems.append(f"assignments point at removed devices {gone}; rebalance first")
        for r in range(self.replicas):
            for other in range(r):
                dup = int((self.assign[r] == self.assign[other]).sum())
                if dup:
                    problems.append(f"{dup} partitions have two replicas on one device")
        if not gone:
            bad = int((~well_dispersed(Topology(self.devs), self.assign)).sum())
            if bad:
                problems.append(f"{bad} partitions are not dispersed as widely as possible")
        return problems

    def to_dict(self, with_assignments: bool = True) -> dict:
        parts = self.parts_per_dev()
        balances = self.balances()
        devices = [
            {**d.to_dict(), "parts": parts[d.id], "balance": balances[d.id]}
            for d in self.existing_devs()
        ]
        state = {
            "part_power": self.part_power,
            "partitions": self.parts,
            "replicas": self.replicas,
            "min_part_hours": self.min_part_hours,
            "seed": self.seed,
            "version": self.version,
            "devices": devices,
            "rebalanced": self.assign is not None,
            "devices_changed_since_rebalance": self.devs_changed,
        }
        if with_assignments:
            state["replica2part2dev"] = (
                [row.tolist() for row in self.assign] if self.assign is not None else []
            )
        return state

    # ------------------------------------------------------------------ files
    def save(self, path: str) -> None:
        """Atomically write the builder file, keeping the previous one in backups/."""
        typecode = _typecode_for(len(self.devs))
        body = {
            "part_power": self.part_power,
            "replicas": self.replicas,
            "min_part_hours": self.min_part_hours,
            "seed": self.seed,
            "version": self.version,
            "devs_changed": self.devs_changed,
            "devs": [d.to_dict() if d is not None else None for d in self.devs],
            "typecode": typecode,
            "assign": None if self.assign is None
            else [_row_bytes(row, typecode) for row in self.assign],
            "last_moved": self.last_moved.astype("<u4").tobytes(),
        }
        data = encode(BUILDER_MAGIC, BUILDER_VERSION, body)
        backup_existing(path)
        atomic_write(path, data)

    @classmethod
    def load(cls, path: str) -> RingBuilder:
        body, _ = read_file(path, BUILDER_MAGIC, (BUILDER_VERSION,), "ring builder")
        try:
            builder = cls(int(body["part_power"]), int(body["replicas"]),
                          int(body["min_part_hours"]), int(body["seed"]))
            builder.version = int(body["version"])
            builder.devs_changed = bool(body["devs_changed"])
            builder.devs = [Device.from_dict(d) if d is not None else None for d in body["devs"]]
            if any(d is not None and d.id != i for i, d in enumerate(builder.devs)):
                raise RingError("device ids do not match their positions")
            typecode = body["typecode"]
            if typecode not in ("H", "I"):
                raise RingError(f"unknown array typecode {typecode!r}")
            if body["assign"] is not None:
                rows = [_row_from_bytes(row, typecode, builder.parts, path)
                        for row in body["assign"]]
                if len(rows) != builder.replicas:
                    raise RingError("assignment table has the wrong number of replicas")
                builder.assign = np.stack(rows)
                if builder.assign.max(initial=0) >= max(len(builder.devs), 1):
                    raise RingError("assignment table points at unknown device ids")
            moved = body["last_moved"]
            if len(moved) != 4 * builder.parts:
                raise RingError("last-moved table has the wrong length")
            builder.last_moved = np.frombuffer(moved, dtype="<u4").astype(np.uint32)
        except RingError as exc:
            raise RingError(f"{path}: corrupt ring builder file ({exc})") from None
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RingError(f"{path}: corrupt ring builder file ({exc!r})") from None
        return builder

    def ring_path_for(self, builder_path: str) -> str:
        directory = os.path.dirname(os.path.abspath(builder_path))
        stem = os.path.basename(builder_path)
        if stem.endswith(".builder"):
            stem = stem[: -len(".builder")]
        return os.path.join(directory, f"{stem}.ring.gz")

    def ring_bytes(self) -> bytes:
        problems = self.validate()
        if problems:
            raise RingError(f"cannot write ring: {problems[0]}")
        typecode = _typecode_for(len(self.devs))
        body = {
            "part_power": self.part_power,
            "part_shift": 32 - self.part_power,
            "replicas": self.replicas,
            "devs": [d.to_dict() if d is not None else None for d in self.devs],
            "typecode": typecode,
            "replica2part2dev": [_row_bytes(row, typecode) for row in self.assign],
            "builder_version": self.version,
        }
        return encode(RING_MAGIC, RING_VERSION, body)

    def write_ring(self, path: str) -> str:
        """Write the ring file to `path` (atomically, old one kept in backups/); returns it."""
        data = self.ring_bytes()
        backup_existing(path)
        atomic_write(path, data)
        return path

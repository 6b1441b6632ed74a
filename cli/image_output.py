"""Output of `brume image ...`: tables, JSON, and the upload/download progress bar."""
from __future__ import annotations

import json
import sys
import time

LIST_COLUMNS = ("id", "name", "status", "size", "disk_format", "visibility")
SHOW_FIRST = ("id", "name", "status", "visibility", "owner", "size", "virtual_size",
              "disk_format", "container_format", "checksum", "os_hash_algo", "os_hash_value",
              "protected", "min_ram", "min_disk", "tags", "created_at", "updated_at")
HIDDEN = ("self", "file", "schema")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
           + " |", line]
    for row in rows:
        out.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
                   + " |")
    out.append(line)
    return "\n".join(out)


def print_images(images: list[dict], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(images, indent=2))
        return
    headers = [name.replace("_", " ").title() for name in LIST_COLUMNS]
    print(table(headers, [[_cell(image.get(c)) for c in LIST_COLUMNS] for image in images]))


def print_image(image: dict, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(image, indent=2))
        return
    keys = [k for k in SHOW_FIRST if k in image]
    keys += sorted(k for k in image if k not in SHOW_FIRST and k not in HIDDEN)
    print(table(["Property", "Value"], [[k, _cell(image[k])] for k in keys]))


def print_members(members: list[dict], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(members, indent=2))
        return
    rows = [[m["image_id"], m["member_id"], m["status"]] for m in members]
    print(table(["Image", "Member", "Status"], rows))


class Progress:
    """A one-line progress bar on stderr, redrawn at most ten times a second."""

    WIDTH = 30

    def __init__(self, total: int, enabled: bool):
        self.total = total
        self.enabled = enabled
        self.done_bytes = 0
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.finished = False

    def advance(self, count: int) -> None:
        self.done_bytes += count
        now = time.monotonic()
        if self.enabled and now - self.last_draw >= 0.1:
            self.last_draw = now
            self._draw(now)

    def _draw(self, now: float) -> None:
        fraction = self.done_bytes / self.total if self.total else 1.0
        filled = int(fraction * self.WIDTH)
        rate = self.done_bytes / max(now - self.started, 1e-6) / 2**20
        sys.stderr.write(f"\r[{'#' * filled}{' ' * (self.WIDTH - filled)}] "
                         f"{fraction * 100:5.1f}% {self.done_bytes / 2**20:8.1f} MiB "
                         f"{rate:7.1f} MiB/s")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled and not self.finished:
            self._draw(time.monotonic())
            sys.stderr.write("\n")
            sys.stderr.flush()
        self.finished = True

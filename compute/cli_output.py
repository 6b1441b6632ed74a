"""Plain-text tables and JSON output for the compute commands of the `brume` CLI."""
from __future__ import annotations

import json


def print_json(data) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def print_table(columns: list[str], rows: list[list]) -> None:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    print(rule)
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print(rule)
    for row in cells:
        print("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |")
    print(rule)


def print_fields(data: dict) -> None:
    """A two-column Field/Value table of a flat dict (nested values shown as JSON)."""
    rows = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)
        rows.append([key, value])
    print_table(["Field", "Value"], rows)

"""Plain-text tables and JSON output for the compute commands of the `brume` CLI."""
from __future__ import annotations

import json

from cli.tables import render_table


def print_json(data) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def print_table(columns: list[str], rows: list[list]) -> None:
    print(render_table(columns, rows))


def print_fields(data: dict) -> None:
    """A two-column Field/Value table of a flat dict (nested values shown as JSON)."""
    rows = []
    for key in sorted(data):
        value = data[key]
        if isinstance(value, dict | list):
            value = json.dumps(value, sort_keys=True)
        rows.append([key, value])
    print_table(["Field", "Value"], rows)

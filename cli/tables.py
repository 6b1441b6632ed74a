"""Plain-text tables shared by the `brume` commands: `+---+` rules around `| a | b |` rows."""
from __future__ import annotations


def render_table(headers: list[str], rows: list[list]) -> str:
    """The table as one string (no trailing newline); None cells are empty, others str()."""
    cells = [["" if value is None else str(value) for value in row] for row in rows]
    widths = [max([len(header)] + [len(row[i]) for row in cells])
              for i, header in enumerate(headers)]
    rule = "+" + "+".join("-" * (width + 2) for width in widths) + "+"

    def line(values: list[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths, strict=True)) + " |"

    return "\n".join([rule, line(headers), rule, *(line(row) for row in cells), rule])

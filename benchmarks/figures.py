"""Turning benchmark inputs and samples into figures: size arguments and percentiles."""
from __future__ import annotations

UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}


def parse_size(text: str) -> int:
    """Bytes in `4096`, `4K`, `1M`, `1.5G`, `64MiB` or `64MB` (binary units)."""
    text = text.strip().upper().removesuffix("B").removesuffix("I")
    if text and text[-1] in UNITS:
        return int(float(text[:-1]) * UNITS[text[-1]])
    return int(text)


def percentile(values: list[float], fraction: float) -> float:
    """The sample at `fraction` (0..1) of the sorted values, nearest rank; NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(fraction * (len(ordered) - 1)))))
    return ordered[index]

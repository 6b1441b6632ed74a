"""How a header or a query parameter says yes, as Swift reads it (`true`, `1`, `yes`, `on`,
`t`, `y`, in any case); anything else, absence included, is no."""
from __future__ import annotations

TRUE_VALUES = frozenset({"true", "1", "yes", "on", "t", "y"})


def is_true(value: str | None) -> bool:
    return bool(value) and value.strip().lower() in TRUE_VALUES

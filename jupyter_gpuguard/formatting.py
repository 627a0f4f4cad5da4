"""Byte counts in the words people read: what the CLI and the wheelhouse report print."""

from __future__ import annotations

_DECIMAL_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def format_bytes(count: int) -> str:
    """``1300000000`` -> ``'1.3 GB'`` (powers of 1000, like the sizes file managers show)."""
    if abs(count) < 1000:
        return f"{count} B"
    value = float(count)
    for unit in _DECIMAL_UNITS[1:-1]:
        value /= 1000
        if abs(value) < 999.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} {_DECIMAL_UNITS[-1]}"

"""Numbers as clouds and the RunPod API report them: 0 or garbage when they do not know.

At the ground of the package: ``instance/`` and ``pods/`` both read such answers, and
``pods/``, which ``instance/runpod.py`` builds on, must not import ``instance/``.
"""

from __future__ import annotations

from typing import Any


def positive_price(value: Any) -> float | None:
    """A usable price, or None: clouds report 0 or garbage when they do not know."""
    if isinstance(value, bool):
        return None
    try:
        price = float(value)
    except (TypeError, ValueError):
        return None
    if price != price or price <= 0 or price == float("inf"):
        return None
    return price

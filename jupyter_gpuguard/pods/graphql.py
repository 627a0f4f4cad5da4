"""GraphQL literals built from user values, so that no value can change a query's shape.

Queries travel as text only (``transport.run_query`` sends no variables), and RunPod's SDK,
whose queries these follow, pastes values between quotes unescaped. Every value here goes
through one of these functions: strings become JSON-escaped GraphQL string literals (pure
ASCII, valid in every GraphQL version), enums are checked against a fixed set, numbers must
be real integers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")


class LiteralError(ValueError):
    """A value cannot be sent to the API; the message says which and why."""


@dataclass(frozen=True)
class Enum:
    """A bare GraphQL enum value (``cloudType: SECURE``), allowed only from ``choices``."""

    value: str
    choices: frozenset[str]

    def __post_init__(self) -> None:
        if self.value not in self.choices:
            allowed = ", ".join(sorted(self.choices))
            raise LiteralError(f"{self.value!r} is not one of {allowed}")


Value = str | int | bool | None | Enum | Sequence["Value"] | Mapping[str, "Value"]


def string(value: str) -> str:
    if not isinstance(value, str):
        raise LiteralError(f"expected text, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise LiteralError("text contains an unpaired surrogate character") from None
    return json.dumps(value, ensure_ascii=True)


def literal(value: Value) -> str:
    """``value`` as GraphQL input syntax."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str):
        return string(value)
    if isinstance(value, Mapping):
        return input_object(value)
    if isinstance(value, Sequence):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    raise LiteralError(f"{type(value).__name__} cannot be sent to the RunPod API")


def input_object(fields: Mapping[str, Value]) -> str:
    parts = []
    for name, value in fields.items():
        if not isinstance(name, str) or not NAME.match(name):
            raise LiteralError(f"{str(name)[:40]!r} is not a GraphQL field name")
        parts.append(f"{name}: {literal(value)}")
    return "{" + ", ".join(parts) + "}"

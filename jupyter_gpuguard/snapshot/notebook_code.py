"""Functions and classes defined in the notebook, inside a pickle made by the C pickler.

The C pickler saves them by name (``__main__.Net``), which a fresh kernel cannot resolve, and
dill, which saves them by value, is a slow pure-Python pickler that also fails on some
library objects (torch's optimizers). So a group's data stays with the C pickler, and each
notebook function or class in it becomes a reference into a code table: one dill pickle of
all of them, so that a class and its notebook base class stay one class. The group's stream
is then the table, framed, followed by the data.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

MAGIC = b"GPUGUARD-CODE-1\n"
_TABLE: contextvars.ContextVar[list[Any] | None] = contextvars.ContextVar(
    "gpuguard_code_table", default=None
)


def code_ref(index: int) -> Any:
    """Unpickling side: the ``index``-th function or class of the group's code table."""
    table = _TABLE.get()
    if table is None or not 0 <= index < len(table):
        raise ValueError(f"no notebook code {index} in this group")
    return table[index]


@contextlib.contextmanager
def loading(table: list[Any]) -> Iterator[None]:
    token = _TABLE.set(table)
    try:
        yield
    finally:
        _TABLE.reset(token)


def frame(table: bytes, data: bytes) -> bytes:
    return MAGIC + len(table).to_bytes(8, "little") + table + data


def unframe(stream: bytes | memoryview) -> tuple[memoryview, memoryview]:
    view = memoryview(stream)
    if view[: len(MAGIC)] != MAGIC or view.nbytes < len(MAGIC) + 8:
        raise ValueError("the group's stream has no code table")
    start = len(MAGIC) + 8
    length = int.from_bytes(view[len(MAGIC) : start], "little")
    if start + length > view.nbytes:
        raise ValueError("the group's code table is cut short")
    return view[start : start + length], view[start + length :]

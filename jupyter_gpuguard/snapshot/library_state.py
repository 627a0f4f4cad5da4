"""Objects that belong to libraries, not to the notebook's variables.

A pickle visits them too (pandas' class-level ``_metadata = []``, a numpy structured dtype's
``fields``, module-level constants), and every variable of that library reaches the same
ones. They are no relation between two variables, so they must not tie their pickles
together. The price: a variable holding a library's module-level object itself (``cfg =
lib.DEFAULTS``) is not tied to another variable holding it too.
"""

from __future__ import annotations

import enum
import sys
import types
from typing import Any

_ATOMS = (str, bytes, int, float, complex, bool, type(None), range)
_ATOM_TYPES = frozenset(_ATOMS)


def _is_singleton(obj: Any) -> bool:
    """Loaded by name or canonical: the same object after a restore anyway."""
    if isinstance(obj, (types.ModuleType, types.BuiltinFunctionType, enum.Enum)):
        return True
    if isinstance(obj, (tuple, frozenset)):
        return all(isinstance(item, _ATOMS) for item in obj)
    module = type(obj).__module__.partition(".")[0]
    if module == "torch":
        torch = sys.modules["torch"]
        return isinstance(obj, (torch.dtype, torch.device, torch.layout, torch.memory_format))
    return type(obj).__name__ == "cython_function_or_method"


class LibraryState:
    """Decides, for the objects one snapshot's pickles visited, which are the libraries'."""

    def __init__(self, also: set[int] | None = None) -> None:
        self._owned: set[int] = set(also or ())
        for module in list(sys.modules.values()):
            namespace = getattr(module, "__dict__", None)
            if not isinstance(namespace, dict):
                continue
            # every notebook function's globals: the namespace itself is no shared object
            self._owned.add(id(namespace))
            if getattr(module, "__name__", None) != "__main__":  # its values are the variables
                self._add_values(namespace.values())
        self._types_seen: set[type] = set()

    def _add_values(self, values: Any) -> None:
        # type(), not isinstance: a lazy or deprecated module attribute can warn or import
        # when its __class__ is asked
        for value in values:
            if type(value) not in _ATOM_TYPES:
                self._owned.add(id(value))

    def _learn_type(self, kind: type) -> None:
        self._types_seen.add(kind)
        for klass in kind.__mro__:
            if klass.__module__ != "__main__":
                self._add_values(vars(klass).values())

    def learn(self, obj: Any) -> None:
        """Note what ``obj``'s class and, for a numpy dtype, its fields hold; before ``owns``
        is asked of anything, since a pickle's memo comes in no particular order."""
        kind = type(obj)
        if kind not in self._types_seen:
            self._learn_type(kind)
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(obj, numpy.dtype) and obj.fields:
            # a structured dtype pickles the same fields dict and tuples every time
            state = obj.__reduce__()[2]
            for part in state if isinstance(state, tuple) else ():
                if isinstance(part, dict):
                    self._owned.add(id(part))
                    self._add_values(part.values())

    def owns(self, obj: Any) -> bool:
        if id(obj) in self._owned or _is_singleton(obj):
            return True
        numpy = sys.modules.get("numpy")
        return numpy is not None and isinstance(obj, numpy.dtype)

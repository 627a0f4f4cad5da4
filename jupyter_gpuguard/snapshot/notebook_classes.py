"""Classes defined in the notebook that dill cannot save by value, saved as a skeleton.

dill saves a class from ``__main__`` by value, with its attributes in the call that creates
it, and falls back to a reference (``__main__.Color``) a fresh kernel cannot resolve in two
cases: every ``enum.Enum``, and a class whose attributes lead back to the class itself (a
registry of its instances). It also rebuilds a named tuple class from its fields alone,
dropping its methods. Here such a class travels as a skeleton, memoized before its
attributes are saved and set, as cloudpickle does it: a reference back to the class then
finds it in the memo instead of recursing.
"""

from __future__ import annotations

import collections
import enum
import types
from typing import Any

# What the metaclass builds by itself: set again, it would clash or be stale.
_BUILT_BY_THE_CLASS = {
    "__dict__",
    "__weakref__",
    "__module__",
    "__qualname__",
    "_abc_impl",
}
_BUILT_BY_ENUM = {
    "_generate_next_value_",
    "_member_names_",
    "_member_map_",
    "_member_type_",
    "_value2member_map_",
    "_unhashable_values_",
    "_value_repr_",
    "_new_member_",
    "_use_args_",
    "_singles_mask_",
    "_all_bits_",
    "_flag_mask_",
    "_inverted_",
    "_boundary_",
    "__new__",
}
_ENUM_METHODS = (types.FunctionType, classmethod, staticmethod, property)


def is_notebook_enum(obj: Any) -> bool:
    return isinstance(obj, enum.EnumMeta) and getattr(obj, "__module__", None) == "__main__"


def is_notebook_namedtuple(obj: Any) -> bool:
    return (
        isinstance(obj, type)
        and obj.__module__ == "__main__"
        and obj.__bases__ == (tuple,)
        and "_fields" in vars(obj)
    )


def make_namedtuple(
    name: str, qualname: str, fields: tuple[str, ...], defaults: tuple[Any, ...]
) -> type:
    created = collections.namedtuple(name, fields, defaults=defaults or None, module="__main__")
    created.__qualname__ = qualname
    return created


def reduce_namedtuple(cls: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any], Any]:
    """The fields make the class; its methods and attributes are set on it after."""
    defaults = tuple(cls._field_defaults[f] for f in cls._fields if f in cls._field_defaults)
    plain = collections.namedtuple(cls.__name__, cls._fields, defaults=defaults or None)
    attributes = {
        name: value
        for name, value in vars(cls).items()
        if name not in vars(plain) or name in ("__doc__", "__annotations__")
    }
    attributes.pop("__module__", None)
    attributes.pop("__qualname__", None)
    arguments = (cls.__name__, cls.__qualname__, tuple(cls._fields), defaults)
    return make_namedtuple, arguments, attributes, set_class_state


def make_skeleton(
    metaclass: type,
    name: str,
    qualname: str,
    bases: tuple[Any, ...],
    namespace: dict[str, Any],
) -> type:
    """The class with only what its metaclass needs to create it."""

    def fill(body: dict[str, Any]) -> None:
        for key, value in namespace.items():
            body[key] = value

    created = types.new_class(name, bases, {"metaclass": metaclass}, fill)
    created.__module__ = "__main__"
    created.__qualname__ = qualname
    return created


def set_class_state(created: type, attributes: dict[str, Any]) -> type:
    for attribute, value in attributes.items():
        type.__setattr__(created, attribute, value)
    return created


def _slot_names(cls: type) -> set[str]:
    slots = vars(cls).get("__slots__", ())
    return {slots} if isinstance(slots, str) else set(slots)


def reduce_class(cls: Any) -> tuple[Any, tuple[Any, ...], dict[str, Any], Any]:
    """``save_reduce`` arguments: function, arguments, state, state setter."""
    bases = vars(cls).get("__orig_bases__", cls.__bases__)
    arguments: tuple[Any, ...]
    if isinstance(cls, enum.EnumMeta):
        members = {name: member.value for name, member in cls.__members__.items()}
        attributes = {
            name: value
            for name, value in vars(cls).items()
            if name not in members
            and name not in _BUILT_BY_ENUM
            and name not in _BUILT_BY_THE_CLASS
            and (isinstance(value, _ENUM_METHODS) or name == "__doc__")
        }
        arguments = (type(cls), cls.__name__, cls.__qualname__, bases, members)
        return make_skeleton, arguments, attributes, set_class_state
    slots = _slot_names(cls)
    namespace: dict[str, Any] = {"__slots__": vars(cls)["__slots__"]} if slots else {}
    attributes = {
        name: value
        for name, value in vars(cls).items()
        if name not in _BUILT_BY_THE_CLASS and name not in slots and name != "__slots__"
    }
    arguments = (type(cls), cls.__name__, cls.__qualname__, bases, namespace)
    return make_skeleton, arguments, attributes, set_class_state

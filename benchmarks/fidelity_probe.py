"""What bench_fidelity.py runs inside a kernel: fingerprints, shared references, checks.

The benchmark sends this file's source to each kernel in a silent execute and keeps it as a
module of its own in ``sys.modules`` (never in the user's namespace). It uses the standard
library only, and numpy, pandas or torch when the notebook has imported them already. The
benchmark imports it as well, for ``format_path`` and ``first_difference``.

* ``user_names``: the user's variables, apart from IPython's own names; modules and names
  imported from libraries (classes, functions, typing forms) are listed separately.
* ``fingerprints``: a deep, JSON-able description of each variable (see ``Fingerprinter``).
  Iterators are advanced by up to three items, files read by one line: run it last.
* ``relations``: every pair of paths from the variables that reach one object, walking only
  what a pickler walks (dict items, list and tuple items, ``__dict__``, object arrays,
  object columns, a bound method's ``__self__``, a partial's parts, a list iterator's list,
  a notebook class's members) with a bounded walk; ``check_relations`` resolves the same
  paths in another kernel.
* ``run_checks``: behavioural checks, each a snippet that sets ``result``.
* ``dill_dump_each``/``dill_load_each``: the "dill per variable" method.
"""

from __future__ import annotations

import collections
import enum
import functools
import hashlib
import io
import json
import os
import re
import sqlite3
import sys
import types
from typing import Any

IPYTHON_NAMES = {
    "In",
    "Out",
    "_",
    "__",
    "___",
    "_i",
    "_ii",
    "_iii",
    "_ih",
    "_oh",
    "_dh",
    "_sh",
    "exit",
    "quit",
    "get_ipython",
    "open",
}
IPYTHON_PATTERN = re.compile(r"^_(i|ii|iii)?\d+$|^__.*__$")
ATOMS = (
    type(None),
    bool,
    int,
    float,
    complex,
    str,
    bytes,
    range,
    slice,
    type(Ellipsis),
    type(NotImplemented),
)
MAX_DEPTH = 8  # of a fingerprint and of the walk for shared references
MAX_NODES = 3000  # objects fingerprinted per variable
MAX_OBJECTS = 2000  # objects walked per variable, for shared references
MAX_ITEMS = 100  # items of one container
NEXT_ITEMS = 3  # items taken from an iterator


def _shell() -> Any:
    from IPython import get_ipython

    return get_ipython()


def namespace() -> dict[str, Any]:
    return _shell().user_ns


def type_name(cls: type) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"


def short_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:20]


def _by_reference(value: Any) -> bool:
    """A library object a pickler saves by name: modules, classes, functions, typing forms."""
    if isinstance(value, types.ModuleType):
        return True
    module = getattr(value, "__module__", None)
    if not isinstance(module, str) or module == "__main__" or isinstance(value, ATOMS):
        return False
    if isinstance(value, enum.Enum):
        return False
    name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
    if not isinstance(name, str):
        return False
    target: Any = sys.modules.get(module)
    for part in name.split("."):
        target = getattr(target, part, None)
    return target is value


def user_names(ns: dict[str, Any] | None = None) -> dict[str, list[str]]:
    ns = namespace() if ns is None else ns
    hidden = set(getattr(_shell(), "user_ns_hidden", {}))
    variables, imports = [], []
    for name in sorted(ns):
        if name in hidden or name in IPYTHON_NAMES or IPYTHON_PATTERN.match(name):
            continue
        (imports if _by_reference(ns[name]) else variables).append(name)
    return {"variables": variables, "imports": imports}


def _notebook_class(cls: Any) -> bool:
    return isinstance(cls, type) and cls.__module__ == "__main__"


def _lookup(ns: dict[str, Any], qualname: str) -> Any:
    parts = qualname.split(".")
    target = ns.get(parts[0])
    for part in parts[1:]:
        target = getattr(target, part, None)
    return target


def _custom_getstate(value: Any) -> bool:
    mine = getattr(type(value), "__getstate__", None)
    return mine is not None and mine is not getattr(object, "__getstate__", None)


# ---- fingerprints ----------------------------------------------------------------------------
def _atom(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return ["int", type_name(type(value)), str(value)]
    if isinstance(value, (float, complex)):
        return ["num", type_name(type(value)), repr(value)]
    if isinstance(value, str):
        return value if len(value) <= 200 else ["str", len(value), short_hash(value.encode())]
    if isinstance(value, bytes):
        return ["bytes", len(value), short_hash(value)]
    return ["atom", type_name(type(value)), repr(value)]


class Fingerprinter:
    """Deep, JSON-able descriptions of values, the same in any kernel for equal state.

    Type (module and qualname) everywhere; numbers, strings and bytes by value; containers
    by their items (the first MAX_ITEMS); numpy arrays by dtype, shape and a hash of their
    bytes; tensors by dtype, shape, hash, requires_grad and whether they are Parameters;
    frames and series by dtypes and pandas' row hashes (object columns item by item);
    objects by what their class pickles (``__getstate__`` where it defines one, else
    ``vars()``), with, for an instance of a notebook class, whether it is an instance of
    the class of that name in the namespace; iterators by their next items; files by name,
    mode, position and next line; sqlite connections by their tables' rows; bound methods
    and partials by their parts; notebook functions by their code.
    """

    def __init__(self, ns: dict[str, Any]) -> None:
        self.ns = ns
        self.memo: dict[int, Any] = {}
        self.keep: list[Any] = []  # what is memoized stays alive: ids are not reused
        self.active: set[int] = set()
        self.nodes = 0

    def variable(self, value: Any) -> Any:
        self.nodes = 0
        return self.of(value, 0)

    def of(self, value: Any, depth: int) -> Any:
        if isinstance(value, ATOMS) and not isinstance(value, enum.Enum):
            return _atom(value)
        key = id(value)
        if key in self.memo:
            return self.memo[key]
        cls = type(value)
        if key in self.active:
            return {"t": type_name(cls), "cycle": True}
        if depth > MAX_DEPTH or self.nodes >= MAX_NODES:
            return {"t": type_name(cls), "truncated": True}
        self.nodes += 1
        self.active.add(key)
        try:
            fingerprint = self._compute(value, cls, depth + 1)
        except Exception as err:  # a value's own code raised: that is part of its state
            fingerprint = {"t": type_name(cls), "raised": type(err).__name__}
        finally:
            self.active.discard(key)
        if _notebook_class(cls) and isinstance(fingerprint, dict):
            fingerprint["isinstance"] = self._is_instance(value, cls)
        self.memo[key] = fingerprint
        self.keep.append(value)
        return fingerprint

    def _is_instance(self, value: Any, cls: type) -> Any:
        current = _lookup(self.ns, cls.__qualname__)
        if not isinstance(current, type):
            return f"no class {cls.__qualname__} in the namespace"
        return isinstance(value, current)

    def _items(self, items: Any, depth: int) -> list[Any]:
        return [self.of(item, depth) for item in items]

    def _compute(self, value: Any, cls: type, depth: int) -> Any:
        name = type_name(cls)
        special = self._library(value, cls, name, depth)
        if special is not None:
            return special
        if isinstance(value, type):
            return self._class(value, depth)
        if isinstance(value, types.ModuleType):
            return {"t": "module", "name": value.__name__}
        if isinstance(value, types.FunctionType):
            return self._function(value, depth)
        if isinstance(value, types.MethodType):
            return {
                "t": name,
                "name": value.__func__.__qualname__,
                "self": self.of(value.__self__, depth),
            }
        if isinstance(value, types.BuiltinFunctionType):
            owner = value.__self__
            if owner is None or isinstance(owner, types.ModuleType):
                return {"t": name, "name": f"{value.__module__}.{value.__qualname__}"}
            return {"t": name, "name": value.__name__, "self": self.of(owner, depth)}
        if isinstance(value, functools.partial):
            return {
                "t": name,
                "func": self.of(value.func, depth),
                "args": self._items(value.args, depth),
                "keywords": self.of(value.keywords, depth),
            }
        if isinstance(value, enum.Enum):
            return self._member(value, cls, name, depth)
        if isinstance(value, io.IOBase):
            return self._file(value, name)
        if isinstance(value, sqlite3.Connection):
            return self._connection(value, name)
        if isinstance(value, re.Pattern):
            return {"t": name, "pattern": value.pattern, "flags": value.flags}
        if isinstance(value, re.Match):
            return {"t": name, "re": self.of(value.re, depth), "span": list(value.span())}
        if isinstance(value, dict):
            out = {
                "t": name,
                "len": len(value),
                "entries": [
                    [self.of(k, depth), self.of(v, depth)]
                    for k, v in list(value.items())[:MAX_ITEMS]
                ],
            }
            if isinstance(value, collections.defaultdict):
                out["default"] = self.of(value.default_factory, depth)
            return self._with_attrs(out, value, depth)
        if isinstance(value, (list, tuple)):
            out = {"t": name, "len": len(value), "items": self._items(value[:MAX_ITEMS], depth)}
            return self._with_attrs(out, value, depth)
        if isinstance(value, (set, frozenset)):
            items = sorted(json.dumps(self.of(v, depth), sort_keys=True) for v in value)
            return {"t": name, "len": len(value), "items": items[:MAX_ITEMS]}
        if hasattr(cls, "__next__") and iter(value) is value:
            return self._iterator(value, name, depth)
        return self._object(value, cls, name, depth)

    def _with_attrs(self, out: dict[str, Any], value: Any, depth: int) -> dict[str, Any]:
        attrs = getattr(value, "__dict__", None)
        if attrs:
            out["attrs"] = {k: self.of(v, depth) for k, v in attrs.items()}
        return out

    def _class(self, cls: type, depth: int) -> Any:
        out: dict[str, Any] = {"t": "class", "name": type_name(cls)}
        if cls.__module__ != "__main__":
            return out
        out["bases"] = [type_name(base) for base in cls.__bases__]
        out["attrs"] = sorted(k for k in vars(cls) if not (k.startswith("__") and k != "__init__"))
        out["annotations"] = sorted(vars(cls).get("__annotations__", {}))
        if issubclass(cls, enum.Enum):
            out["members"] = [[k, self.of(m.value, depth)] for k, m in cls.__members__.items()]
        return out

    def _code(self, code: types.CodeType) -> str:
        consts = [
            self._code(c) if isinstance(c, types.CodeType) else repr(c) for c in code.co_consts
        ]
        return short_hash(code.co_code + repr((consts, code.co_names)).encode())

    def _function(self, func: types.FunctionType, depth: int) -> Any:
        out: dict[str, Any] = {"t": "function", "name": f"{func.__module__}.{func.__qualname__}"}
        if func.__module__ == "__main__" or func.__name__ == "<lambda>":
            out["code"] = self._code(func.__code__)
            out["defaults"] = self._items(func.__defaults__ or (), depth)
        return out

    def _member(self, member: enum.Enum, cls: type, name: str, depth: int) -> Any:
        out: dict[str, Any] = {
            "t": name,
            "member": member.name,
            "value": self.of(member.value, depth),
        }
        if _notebook_class(cls):
            current = _lookup(self.ns, cls.__qualname__)
            try:
                out["canonical"] = current(member.value) is member
            except Exception as err:
                out["canonical"] = (
                    f"{cls.__qualname__}({member.value!r}) raised {type(err).__name__}"
                )
        return out

    def _file(self, handle: io.IOBase, name: str) -> Any:
        out: dict[str, Any] = {
            "t": name,
            "name": str(getattr(handle, "name", "?")),
            "mode": getattr(handle, "mode", None),
            "closed": handle.closed,
        }
        if not handle.closed:
            out["tell"] = handle.tell()
            if handle.readable():
                line = handle.readline()
                out["next line"] = line if isinstance(line, str) else line.decode("latin-1")
        return out

    def _connection(self, conn: sqlite3.Connection, name: str) -> Any:
        try:
            tables = [
                row[0]
                for row in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
                )
            ]
        except sqlite3.ProgrammingError as err:  # closed
            return {"t": name, "error": str(err)}
        rows = {}
        for table in tables:
            found = conn.execute(f'SELECT * FROM "{table}" LIMIT 1000').fetchall()
            rows[table] = short_hash(repr(found).encode())
        return {"t": name, "tables": rows}

    def _iterator(self, value: Any, name: str, depth: int) -> Any:
        out: dict[str, Any] = {"t": name}
        code = getattr(value, "gi_code", None)
        if code is not None:
            out["code"] = code.co_qualname if hasattr(code, "co_qualname") else code.co_name
        taken: list[Any] = []
        for _ in range(NEXT_ITEMS):
            try:
                taken.append(self.of(next(value), depth))
            except StopIteration:
                taken.append("StopIteration")
                break
            except Exception as err:
                taken.append(f"raised {type(err).__name__}")
                break
        out["next"] = taken
        return out

    def _object(self, value: Any, cls: type, name: str, depth: int) -> Any:
        out: dict[str, Any] = {"t": name}
        if _custom_getstate(value):
            out["state"] = self.of(value.__getstate__(), depth)
            return out
        attrs = getattr(value, "__dict__", None)
        if isinstance(attrs, dict):
            out["attrs"] = {k: self.of(v, depth) for k, v in attrs.items()}
        slots = [s for klass in cls.__mro__ for s in getattr(klass, "__slots__", ())]
        for slot in slots:
            if isinstance(slot, str) and slot not in ("__dict__", "__weakref__"):
                out.setdefault("slots", {})[slot] = (
                    self.of(getattr(value, slot), depth) if hasattr(value, slot) else "unset"
                )
        if "attrs" not in out and "slots" not in out:
            text = repr(value)
            if " at 0x" not in text and len(text) < 300:
                out["repr"] = text
        return out

    # -- numpy, pandas, torch ------------------------------------------------------------------
    def _library(self, value: Any, cls: type, name: str, depth: int) -> Any:
        module = cls.__module__.split(".")[0]
        if module == "numpy":
            return self._numpy(value, name, depth)
        if module == "pandas":
            return self._pandas(value, name, depth)
        if module == "torch":
            return self._torch(value, name)
        return None

    def _numpy(self, value: Any, name: str, depth: int) -> Any:
        np = sys.modules["numpy"]
        if isinstance(value, np.ndarray):
            out: dict[str, Any] = {"t": name, "dtype": str(value.dtype), "shape": list(value.shape)}
            if value.dtype == object:
                out["items"] = self._items(value.ravel()[:MAX_ITEMS], depth)
            else:
                out["hash"] = short_hash(np.ascontiguousarray(value).tobytes())
            return out
        if isinstance(value, np.generic):
            return {"t": name, "value": repr(value.item())}
        if isinstance(value, np.dtype):
            return {"t": name, "value": str(value)}
        return None

    def _column(self, series: Any, depth: int) -> Any:
        pd = sys.modules["pandas"]
        if series.dtype == object:
            return {"len": len(series), "items": self._items(list(series.iloc[:MAX_ITEMS]), depth)}
        hashed = pd.util.hash_pandas_object(series, index=False).to_numpy()
        return {"dtype": str(series.dtype), "hash": short_hash(hashed.tobytes())}

    def _pandas(self, value: Any, name: str, depth: int) -> Any:
        pd = sys.modules["pandas"]
        if isinstance(value, pd.DataFrame):
            return {
                "t": name,
                "columns": [repr(c) for c in value.columns],
                "index": self._index(value.index),
                "data": [self._column(value.iloc[:, i], depth) for i in range(value.shape[1])],
            }
        if isinstance(value, pd.Series):
            return {
                "t": name,
                "name": repr(value.name),
                "index": self._index(value.index),
                "data": self._column(value, depth),
            }
        if isinstance(value, pd.Index):
            return {"t": name, "index": self._index(value)}
        return None

    def _index(self, index: Any) -> Any:
        pd = sys.modules["pandas"]
        hashed = pd.util.hash_pandas_object(index).to_numpy()
        return {"dtype": str(index.dtype), "names": repr(index.names), "hash": short_hash(hashed)}

    def _torch(self, value: Any, name: str) -> Any:
        torch = sys.modules["torch"]
        if isinstance(value, torch.Tensor):
            data = value.detach().cpu()
            try:
                digest = short_hash(data.contiguous().numpy().tobytes())
            except (TypeError, RuntimeError):  # dtypes numpy lacks
                digest = short_hash(data.to(torch.float64).contiguous().numpy().tobytes())
            return {
                "t": name,
                "dtype": str(value.dtype),
                "shape": list(value.shape),
                "hash": digest,
                "requires_grad": bool(value.requires_grad),
                "parameter": isinstance(value, torch.nn.Parameter),
            }
        if isinstance(value, (torch.dtype, torch.device)):
            return {"t": name, "value": str(value)}
        return None


def fingerprints(names: list[str], ns: dict[str, Any] | None = None) -> dict[str, Any]:
    """name -> fingerprint; a name not in the namespace is left out. Consumes iterators."""
    ns = namespace() if ns is None else ns
    printer = Fingerprinter(ns)
    return {name: printer.variable(ns[name]) for name in names if name in ns}


# ---- shared references -------------------------------------------------------------------
def _relation_atom(value: Any) -> bool:
    """Objects whose identity means nothing after a restore: values, and library objects
    a pickler saves by name."""
    if isinstance(value, enum.Enum):
        return not _notebook_class(type(value))
    if isinstance(value, ATOMS):
        return True
    if type(value) in (tuple, frozenset):
        return len(value) <= 64 and all(_relation_atom(v) for v in value)
    if isinstance(value, (type, types.FunctionType, types.ModuleType)):
        return getattr(value, "__module__", None) != "__main__" or isinstance(
            value, types.ModuleType
        )
    if isinstance(value, types.BuiltinFunctionType):
        return value.__self__ is None or isinstance(value.__self__, types.ModuleType)
    module = type(value).__module__.split(".")[0]
    if module == "numpy":
        np = sys.modules["numpy"]
        return isinstance(value, (np.generic, np.dtype))
    if module == "torch":
        torch = sys.modules["torch"]
        return isinstance(value, (torch.dtype, torch.device, torch.layout))
    return _by_reference(value)


def _key_atom(key: Any) -> bool:
    return type(key) in (str, int)


def _children(value: Any) -> list[tuple[list[Any], Any]]:
    """(step, child) for what a pickler of ``value`` visits, as far as paths can name it."""
    out: list[tuple[list[Any], Any]] = []
    cls = type(value)
    if isinstance(value, dict):
        for i, (k, v) in enumerate(list(value.items())[:MAX_ITEMS]):
            if _key_atom(k):
                out.append((["item", k], v))
            else:
                out += [(["key", i], k), (["value", i], v)]
    elif isinstance(value, (list, tuple)):
        out += [(["idx", i], v) for i, v in enumerate(value[:MAX_ITEMS])]
    elif isinstance(value, types.MethodType) or (
        isinstance(value, types.BuiltinFunctionType)
        and not isinstance(value.__self__, (types.ModuleType, type(None)))
    ):
        out.append((["get", "__self__"], value.__self__))
    elif isinstance(value, functools.partial):
        out += [(["get", n], getattr(value, n)) for n in ("func", "args", "keywords")]
    elif cls.__module__ == "builtins" and cls.__name__.endswith("iterator"):
        reduced = value.__reduce__()
        if len(reduced) > 1 and isinstance(reduced[1], tuple) and reduced[1]:
            out.append((["reduce", 0], reduced[1][0]))
    elif isinstance(value, type) and value.__module__ == "__main__":
        if issubclass(value, enum.Enum):
            out.append((["get", "_member_map_"], value._member_map_))
        else:
            out += [(["cattr", k], v) for k, v in vars(value).items() if not k.startswith("__")]
        return out
    module = cls.__module__.split(".")[0]
    if module == "numpy":
        np = sys.modules["numpy"]
        if isinstance(value, np.ndarray) and value.dtype == object:
            out += [(["flat", i], value.flat[i]) for i in range(min(value.size, MAX_ITEMS))]
        return out
    if module == "pandas":
        pd = sys.modules["pandas"]
        if isinstance(value, pd.DataFrame):
            for label in value.columns:
                column = value[label]
                if _key_atom(label) and isinstance(column, pd.Series) and column.dtype == object:
                    cells = list(column.iloc[:MAX_ITEMS])
                    out += [(["cell", label, i], v) for i, v in enumerate(cells)]
        elif isinstance(value, pd.Series) and value.dtype == object:
            out += [(["iloc", i], v) for i, v in enumerate(list(value.iloc[:MAX_ITEMS]))]
        return out
    if _notebook_class(cls):
        out.append((["type"], cls))
    if not isinstance(value, (type, types.FunctionType, types.ModuleType)):
        attrs = getattr(value, "__dict__", None)
        if isinstance(attrs, dict):
            out += [(["attr", k], v) for k, v in attrs.items()]
    return out


def relations(names: list[str], ns: dict[str, Any] | None = None) -> dict[str, Any]:
    """Pairs of paths that reach one object (not an atom), from one breadth-first walk of
    all the variables together (MAX_DEPTH steps; MAX_OBJECTS objects walked from each
    variable). An object met again is not walked again, so what lies below it is named
    through its shortest path: the variable that holds it, where one does. Each object
    reached by k paths gives k - 1 pairs: (shortest, other)."""
    ns = namespace() if ns is None else ns
    paths: dict[int, list[list[Any]]] = {}
    keep: list[Any] = []
    walked: dict[str, int] = {}
    truncated: set[str] = set()
    classes: set[tuple[str, int]] = set()  # type(x) is C: once per class and variable
    queue = collections.deque(
        (ns[name], [name], 0) for name in names if not _relation_atom(ns[name])
    )
    while queue:
        value, path, depth = queue.popleft()
        known = paths.get(id(value))
        if known is not None:
            known.append(path)
            continue
        root = path[0]
        if walked.get(root, 0) >= MAX_OBJECTS:
            truncated.add(root)
            continue
        paths[id(value)] = [path]
        keep.append(value)
        walked[root] = walked.get(root, 0) + 1
        if depth >= MAX_DEPTH:
            continue
        try:
            children = _children(value)
        except Exception:
            continue
        for step, child in children:
            if step[0] == "type":
                if (root, id(child)) in classes:
                    continue
                classes.add((root, id(child)))
            if not _relation_atom(child):
                queue.append((child, [*path, step], depth + 1))
    pairs = []
    for found in paths.values():
        found.sort(key=lambda p: (len(p), json.dumps(p, default=str)))
        pairs += [[found[0], other] for other in found[1:]]
    return {"pairs": pairs, "truncated": sorted(truncated)}


_MISSING = object()


def resolve(ns: dict[str, Any], path: list[Any]) -> Any:
    """The object at ``path``, without side effects; raises LookupError when it is not
    there."""
    if path[0] not in ns:
        raise LookupError(f"no variable {path[0]}")
    value = ns[path[0]]
    for step in path[1:]:
        kind = step[0]
        if kind == "item":
            found = dict.get(value, step[1], _MISSING) if isinstance(value, dict) else _MISSING
            if found is _MISSING:
                raise LookupError(f"no key {step[1]!r}")
            value = found
        elif kind in ("key", "value"):
            items = list(value.keys() if kind == "key" else value.values())
            value = items[step[1]]
        elif kind == "idx":
            value = value[step[1]]
        elif kind == "flat":
            value = value.flat[step[1]]
        elif kind == "cell":
            value = value[step[1]].iloc[step[2]]
        elif kind == "iloc":
            value = value.iloc[step[1]]
        elif kind == "get":
            value = getattr(value, step[1])
        elif kind in ("attr", "cattr"):
            value = vars(value)[step[1]]
        elif kind == "reduce":
            value = value.__reduce__()[1][step[1]]
        elif kind == "type":
            value = type(value)
        else:
            raise LookupError(f"unknown step {kind}")
    return value


def check_relations(pairs: list[list[Any]], ns: dict[str, Any] | None = None) -> list[Any]:
    """For each pair: "kept", "lost" (a variable it starts from is missing) or "split: why"."""
    ns = namespace() if ns is None else ns
    out: list[Any] = []
    for first, other in pairs:
        if first[0] not in ns or other[0] not in ns:
            out.append("lost")
            continue
        try:
            a, b = resolve(ns, first), resolve(ns, other)
        except Exception as err:
            out.append(f"split: path broken ({type(err).__name__}: {str(err)[:80]})")
            continue
        out.append("kept" if a is b else "split: two objects")
    return out


def format_path(path: list[Any]) -> str:
    text = str(path[0])
    for step in path[1:]:
        kind = step[0]
        if kind == "item":
            text += f"[{step[1]!r}]"
        elif kind in ("key", "value"):
            text += f".{kind}s()[{step[1]}]"
        elif kind == "idx":
            text += f"[{step[1]}]"
        elif kind == "flat":
            text += f".flat[{step[1]}]"
        elif kind == "cell":
            text += f"[{step[1]!r}].iloc[{step[2]}]"
        elif kind == "iloc":
            text += f".iloc[{step[1]}]"
        elif kind in ("get", "attr", "cattr"):
            text += f".{step[1]}"
        elif kind == "reduce":
            text += f".__reduce__()[1][{step[1]}]"
        elif kind == "type":
            text = f"type({text})"
    return text


# ---- behavioural checks ----------------------------------------------------------------------
def _plain(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return {"not JSON": type_name(type(value))}


def run_checks(checks: list[list[str]], ns: dict[str, Any] | None = None) -> dict[str, Any]:
    """label -> the ``result`` a snippet set, run in a copy of the namespace; {"error": ...}
    where it raised."""
    ns = namespace() if ns is None else ns
    out: dict[str, Any] = {}
    for label, code in checks:
        scope = dict(ns)
        try:
            exec(compile(code, f"<check {label}>", "exec"), scope)  # noqa: S102
            out[label] = _plain(scope.get("result"))
        except Exception as err:
            out[label] = {"error": f"{type(err).__name__}: {str(err)[:160]}"}
    return out


# ---- dill, one variable per file ---------------------------------------------------------
def dill_dump_each(names: list[str], directory: str) -> dict[str, str]:
    """Each variable ``dill.dump``-ed alone into ``directory/<name>.pkl``; name -> error."""
    import dill

    ns = namespace()
    errors: dict[str, str] = {}
    os.makedirs(directory, exist_ok=True)
    for name in names:
        path = os.path.join(directory, f"{name}.pkl")
        try:
            with open(path, "wb") as handle:
                dill.dump(ns[name], handle)
        except Exception as err:
            errors[name] = f"{type(err).__name__}: {str(err)[:200]}"
            os.remove(path)
    return errors


def dill_load_each(directory: str) -> dict[str, str]:
    """Loads each file ``dill_dump_each`` wrote into the namespace; name -> error."""
    import dill

    ns = namespace()
    errors: dict[str, str] = {}
    for entry in sorted(os.listdir(directory)):
        name = entry[: -len(".pkl")]
        try:
            with open(os.path.join(directory, entry), "rb") as handle:
                ns[name] = dill.load(handle)
        except Exception as err:
            errors[name] = f"{type(err).__name__}: {str(err)[:200]}"
    return errors


# ---- on the benchmark's side -----------------------------------------------------------------
def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 70 else text[:67] + "..."


def _key_label(key: Any, position: int) -> str:
    if isinstance(key, str):
        return repr(key)
    if isinstance(key, list) and len(key) == 3 and key[0] == "int":
        return key[2]
    if isinstance(key, dict) and "member" in key:
        return f"{key['t'].rsplit('.', 1)[-1]}.{key['member']}"
    return f"<key #{position}>"


def first_difference(expected: Any, got: Any, where: str = "", attrs: bool = False) -> str | None:
    """Where two fingerprints first differ, as ``python.path: what changed``; None if equal.
    ``attrs``: ``expected`` is an object's state, whose keys read as attribute names."""
    if expected == got:
        return None
    here = where or "value"
    if not (isinstance(expected, dict) and isinstance(got, dict)):
        return f"{here}: {_short(expected)} -> {_short(got)}"
    if expected.get("t") != got.get("t"):
        return f"{here}: type {expected.get('t')} -> {got.get('t')}"
    kind = str(expected.get("t", ""))
    cls = kind.rsplit(".", 1)[-1]
    for key, value in expected.items():
        other = got.get(key, "(none)")
        if value == other:
            continue
        if key == "isinstance":
            return f"{here}: not an instance of the {cls} in the namespace ({_short(other)})"
        if key == "canonical":
            return f"{here}: not the member of the {cls} in the namespace ({_short(other)})"
        if isinstance(value, dict) and isinstance(other, dict):
            if key in ("attrs", "slots"):
                for name, item in value.items():
                    found = first_difference(item, other.get(name, "(none)"), f"{where}.{name}")
                    if found:
                        return found
                return f"{here}: attributes {sorted(value)} -> {sorted(other)}"
            step = {"state": "", "data": "", "self": ".__self__"}.get(key, f".{key}")
            return first_difference(value, other, where + step, attrs=key == "state")
        if key in ("attrs", "annotations", "bases") and isinstance(other, list):
            lost = [v for v in value if v not in other]
            added = [v for v in other if v not in value]
            return f"{here}: class {key} lost {lost}" + (f", gained {added}" if added else "")
        if isinstance(value, list) and isinstance(other, list) and len(value) == len(other):
            return _first_in_list(key, value, other, expected, where, attrs)
        return f"{here} ({key}): {_short(value)} -> {_short(other)}"
    extra = sorted(k for k in got if k not in expected)
    return f"{here}: has {extra} as well" if extra else f"{here}: {_short(got)}"


def _first_in_list(
    key: str, value: list[Any], other: list[Any], parent: dict[str, Any], where: str, attrs: bool
) -> str | None:
    here = where or "value"
    kind = str(parent.get("t", ""))
    for i, (a, b) in enumerate(zip(value, other, strict=True)):
        if a == b:
            continue
        if key == "entries":
            label = _key_label(a[0], i)
            if a[0] != b[0]:
                return first_difference(a[0], b[0], f"{where}.keys()[{i}]")
            step = f".{a[0]}" if attrs and isinstance(a[0], str) else f"[{label}]"
            return first_difference(a[1], b[1], where + step)
        if key == "items":
            step = ".flat" if kind.startswith("numpy.") else (".iloc" if not kind else "")
            return first_difference(a, b, f"{where}{step}[{i}]")
        if key == "data" and "columns" in parent:
            return first_difference(a, b, f"{where}[{parent['columns'][i]}]")
        if key == "next":
            return first_difference(a, b, f"next({here}) #{i + 1}")
        if key == "args":
            return first_difference(a, b, f"{where}.args[{i}]")
        return f"{here} ({key} #{i}): {_short(a)} -> {_short(b)}"
    return None

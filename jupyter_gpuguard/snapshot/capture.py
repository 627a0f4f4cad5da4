"""Namespace -> serialized groups.

Each variable is pickled on its own first (protocol 5, large buffers out of band), so one
variable that cannot be pickled skips only itself. Variables that reach the same object are
then pickled again together, so that shared references survive a restore
(``b = a`` gives ``b is a``; ``l = [a, a]`` gives ``l[0] is a``).
"""

from __future__ import annotations

import io
import itertools
import pickle
import re
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dill

from .model import SkippedVariable

PROTOCOL = 5

# Names IPython puts in the user namespace: its history, output cache and helpers.
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


class NeedsDill(Exception):
    """The object graph holds a function or class defined in the notebook itself."""


class CudaTensorNotCopied(Exception):
    """A CUDA tensor reached the pickler without a host copy made before the fork."""


def defined_in_notebook(obj: Any) -> bool:
    return getattr(obj, "__module__", None) == "__main__" or (
        isinstance(obj, types.FunctionType) and obj.__name__ == "<lambda>"
    )


def user_variables(
    namespace: Mapping[str, Any], hidden: Iterable[str] = ()
) -> tuple[dict[str, Any], dict[str, str]]:
    """The user's variables and, separately, the modules they imported (name -> module)."""
    hidden_names = set(hidden)
    variables: dict[str, Any] = {}
    modules: dict[str, str] = {}
    for name, value in namespace.items():
        if name in hidden_names or name in IPYTHON_NAMES or IPYTHON_PATTERN.match(name):
            continue
        if isinstance(value, types.ModuleType):
            modules[name] = value.__name__
            continue
        variables[name] = value
    return variables, modules


def type_name(value: Any) -> str:
    kind = type(value)
    module = kind.__module__
    return (
        kind.__qualname__ if module in ("builtins", "__main__") else f"{module}.{kind.__qualname__}"
    )


def restore_cuda_tensor(
    host_tensor: Any, device: str, parameter: bool = False, requires_grad: bool = False
) -> Any:
    """Unpickling side of a CUDA tensor: back on the GPU when there is one, else on the CPU."""
    import torch

    tensor = host_tensor
    if torch.cuda.is_available():
        try:
            tensor = host_tensor.to(device)
        except RuntimeError:
            tensor = host_tensor.to("cuda")
    else:
        CUDA_NOTES.append(
            f"tensors saved on {device} were restored on the CPU: no GPU is available"
        )
    if parameter:
        return torch.nn.Parameter(tensor, requires_grad=requires_grad)
    return tensor.requires_grad_(requires_grad) if tensor.is_floating_point() else tensor


CUDA_NOTES: list[str] = []


def _is_cuda_tensor(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor) and bool(obj.is_cuda)


class _StatePickler(pickle.Pickler):
    """The C pickler, refusing (so that dill takes over) objects defined in the notebook."""

    def __init__(
        self, file: io.BytesIO, buffers: list[pickle.PickleBuffer], host_copies: Mapping[int, Any]
    ) -> None:
        super().__init__(file, protocol=PROTOCOL, buffer_callback=buffers.append)
        self.host_copies = host_copies

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (types.FunctionType, type)) and defined_in_notebook(obj):
            raise NeedsDill
        if _is_cuda_tensor(obj):
            return _reduce_cuda(obj, self.host_copies)
        return NotImplemented


class _DillPickler(dill.Pickler):  # type: ignore[misc]
    def __init__(
        self, file: io.BytesIO, buffers: list[pickle.PickleBuffer], host_copies: Mapping[int, Any]
    ) -> None:
        super().__init__(file, protocol=PROTOCOL, buffer_callback=buffers.append, byref=False)
        self.host_copies = host_copies

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if _is_cuda_tensor(obj):
            self.save_reduce(*_reduce_cuda(obj, self.host_copies), obj=obj)
            return
        super().save(obj, save_persistent_id)


def _reduce_cuda(obj: Any, host_copies: Mapping[int, Any]) -> tuple[Callable[..., Any], tuple]:
    host = host_copies.get(id(obj))
    if host is None:
        raise CudaTensorNotCopied("a CUDA tensor could not be copied to host memory")
    import torch

    parameter = isinstance(obj, torch.nn.Parameter)
    return restore_cuda_tensor, (host, str(obj.device), parameter, bool(obj.requires_grad))


@dataclass
class Pickled:
    names: list[str]
    pickler: str
    stream: bytes
    buffers: list[memoryview]
    reached: set[int] = field(default_factory=set)

    @property
    def nbytes(self) -> int:
        return len(self.stream) + sum(b.nbytes for b in self.buffers)


@dataclass
class Captured:
    groups: list[Pickled]
    skipped: list[SkippedVariable]
    sizes: dict[str, int]
    types: dict[str, str]


def _raw(buffer: pickle.PickleBuffer) -> memoryview:
    try:
        return buffer.raw()
    except BufferError:  # not contiguous: copy it once
        return memoryview(bytes(memoryview(buffer)))


def _immutable_library_object(obj: Any) -> bool:
    """numpy's dtype singletons and compiled (Cython) functions: every array or frame reaches
    them, and they hold no state the variables share."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(obj, numpy.dtype):
        return True
    return type(obj).__name__ == "cython_function_or_method"


_ATOMIC = (str, bytes, int, float, complex, bool, type(None), range)
# Objects of these libraries are leaves: their identity is what variables share, and their
# insides (millions of strings in a frame) are not worth walking.
_LEAF_LIBRARIES = {"numpy", "pandas", "torch", "scipy", "pyarrow", "polars", "jax"}


def _referenced_by(code: type | types.FunctionType) -> list[Any]:
    """What a notebook function or class uses: its globals, defaults and closure."""
    if isinstance(code, type):
        return [v for v in vars(code).values() if isinstance(v, types.FunctionType)]
    names = code.__code__.co_names
    used = [code.__globals__[n] for n in names if n in code.__globals__]
    used.extend(code.__defaults__ or ())
    for cell in code.__closure__ or ():
        try:
            used.append(cell.cell_contents)
        except ValueError:  # an empty cell
            continue
    return used


def reachable_state(value: Any, ignore: set[int]) -> set[int]:
    """Ids of the objects reachable from ``value`` that another variable could also hold."""
    reached: set[int] = set()
    stack = [value]
    while stack:
        obj = stack.pop()
        key = id(obj)
        if key in reached or key in ignore or isinstance(obj, _ATOMIC):
            continue
        if isinstance(obj, (type, types.FunctionType)):
            if defined_in_notebook(obj):
                reached.add(key)
                stack.extend(_referenced_by(obj))
            continue
        if isinstance(
            obj, (types.ModuleType, types.BuiltinFunctionType, types.MethodType)
        ) or _immutable_library_object(obj):
            continue
        reached.add(key)
        kind = type(obj)
        if kind.__module__.partition(".")[0] in _LEAF_LIBRARIES:
            continue
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            if len(obj) > 64 and all(isinstance(x, _ATOMIC) for x in itertools.islice(obj, 8)):
                continue  # a long run of plain values
            stack.extend(obj)
        else:
            attributes = getattr(obj, "__dict__", None)
            if isinstance(attributes, dict):
                stack.extend(attributes.values())
            if defined_in_notebook(kind):
                stack.append(kind)
    return reached


def pickle_values(values: Mapping[str, Any], host_copies: Mapping[int, Any]) -> Pickled:
    """Pickle ``values`` (a dict of names) with pickle, or dill for notebook-defined code."""
    buffers: list[pickle.PickleBuffer] = []
    stream = io.BytesIO()
    pickler_name = "pickle"
    pickler: pickle.Pickler = _StatePickler(stream, buffers, host_copies)
    try:
        pickler.dump(dict(values))
    except NeedsDill:
        buffers, stream, pickler_name = [], io.BytesIO(), "dill"
        pickler = _DillPickler(stream, buffers, host_copies)
        pickler.dump(dict(values))
    return Pickled(
        names=list(values),
        pickler=pickler_name,
        stream=stream.getvalue(),
        buffers=[_raw(b) for b in buffers],
    )


def describe_failure(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, CudaTensorNotCopied):
        return text
    return f"cannot be pickled: {text.splitlines()[0][:300]}"


def capture(
    variables: Mapping[str, Any],
    host_copies: Mapping[int, Any] | None = None,
    skip: Mapping[str, str] | None = None,
) -> Captured:
    """Serialize every variable it can; skip the others with the reason."""
    host_copies = host_copies or {}
    skip = dict(skip or {})
    ignore = {id(module.__dict__) for module in list(sys.modules.values()) if module is not None}
    ignore.add(id(variables))
    singles: dict[str, Pickled] = {}
    skipped: list[SkippedVariable] = []
    kinds = {name: type_name(value) for name, value in variables.items()}
    for name, value in variables.items():
        if name in skip:
            skipped.append(SkippedVariable(name, kinds[name], skip[name]))
            continue
        try:
            singles[name] = pickle_values({name: value}, host_copies)
            singles[name].reached = reachable_state(value, ignore)
        except RecursionError:
            skipped.append(SkippedVariable(name, kinds[name], "too deeply nested to pickle"))
        except Exception as err:  # anything a __reduce__ can raise: one variable, not the snapshot
            skipped.append(SkippedVariable(name, kinds[name], describe_failure(err)))

    groups = _share_groups(singles)
    pickled: list[Pickled] = []
    for names in groups:
        if len(names) == 1:
            pickled.append(singles[names[0]])
            continue
        try:
            pickled.append(pickle_values({n: variables[n] for n in names}, host_copies))
        except Exception:  # together they fail, apart they worked: keep them apart
            pickled.extend(singles[n] for n in names)
    sizes = {name: singles[name].nbytes for name in singles}
    for group in (*pickled, *singles.values()):
        group.reached = set()
    return Captured(groups=pickled, skipped=skipped, sizes=sizes, types=kinds)


def _share_groups(singles: Mapping[str, Pickled]) -> list[list[str]]:
    """Union the variables whose pickles reached a common mutable object."""
    parent = {name: name for name in singles}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    owner: dict[int, str] = {}
    for name, single in singles.items():
        for key in single.reached:
            other = owner.setdefault(key, name)
            if other != name:
                parent[root(name)] = root(other)
    groups: dict[str, list[str]] = {}
    for name in singles:
        groups.setdefault(root(name), []).append(name)
    return list(groups.values())

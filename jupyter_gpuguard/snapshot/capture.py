"""Namespace -> serialized groups.

Each variable is pickled on its own first (protocol 5, large buffers out of band), so one
variable that cannot be pickled skips only itself. Variables whose pickles visited the same
object are then pickled again together, so that shared references survive a restore
(``b = a`` gives ``b is a``; an optimizer's parameters stay the model's; instances of a
notebook class stay instances of the restored class).
"""

from __future__ import annotations

import io
import pickle
import re
import types
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dill

from .cuda import BlockedBuffer, CudaTensorNotCopied, blocked_for, is_cuda_tensor, reduce_cuda
from .cuda import restore_cuda_blocks as restore_cuda_blocks  # snapshots name them here
from .cuda import restore_cuda_tensor as restore_cuda_tensor
from .library_state import LibraryState
from .model import SkippedVariable
from .notebook_classes import (
    is_notebook_enum,
    is_notebook_namedtuple,
    reduce_class,
    reduce_namedtuple,
)
from .notebook_code import code_ref, frame

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


# Below this size a buffer stays in its group's pickle: a chunk file of its own costs a
# create, a write and an fsync for a few bytes (a fitted forest holds thousands of them).
INLINE_BUFFER_BYTES = 64 * 1024
_ATOMS = (str, bytes, int, float, complex, bool, type(None), range)


def _shareable(memo: Mapping[int, tuple[int, Any]], libraries: LibraryState) -> dict[int, Any]:
    """The objects of one pickle whose identity another variable may share, from its memo.

    The memo is what the pickler itself visited (the C pickler calls no hook for lists and
    dicts), and it holds the objects, so an object the pickler made and dropped (a
    ``__reduce__`` tuple) cannot lend its id to an object of another variable.
    """
    candidates = [obj for _index, obj in memo.values() if not isinstance(obj, _ATOMS)]
    for obj in candidates:
        libraries.learn(obj)
    shareable: dict[int, Any] = {}
    for obj in candidates:
        if isinstance(obj, (type, types.FunctionType)):
            if defined_in_notebook(obj):
                shareable[id(obj)] = obj  # one class for the instances of every variable
            continue  # saved by name: the same object after a restore anyway
        if not libraries.owns(obj):
            shareable[id(obj)] = obj
    return shareable


def _buffer_sink(
    buffers: list[pickle.PickleBuffer | BlockedBuffer],
) -> Callable[[pickle.PickleBuffer], bool]:
    """Large buffers go out of band, to be chunked; small ones stay in the stream. A device
    tensor's placeholder goes out of band as its blocks, whatever its size."""

    def sink(buffer: pickle.PickleBuffer) -> bool:
        blocked = blocked_for(buffer)
        if blocked is not None:
            buffers.append(blocked)
            return False
        if memoryview(buffer).nbytes < INLINE_BUFFER_BYTES:
            return True
        buffers.append(buffer)
        return False

    return sink


class _StatePickler(pickle.Pickler):
    """The C pickler; functions and classes defined in the notebook go to a code table."""

    def __init__(
        self,
        file: io.BytesIO,
        buffers: list[pickle.PickleBuffer | BlockedBuffer],
        host_copies: Mapping[int, Any],
    ) -> None:
        super().__init__(file, protocol=PROTOCOL, buffer_callback=_buffer_sink(buffers))
        self.host_copies = host_copies
        self.code: list[Any] = []

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (types.FunctionType, type)) and defined_in_notebook(obj):
            # memoized like any reduction: one entry per object, however often it is met
            self.code.append(obj)
            return code_ref, (len(self.code) - 1,)
        # by id: a CPU tensor can stand in for a CUDA one (``cuda_copy``'s device seam)
        if id(obj) in self.host_copies or is_cuda_tensor(obj):
            return reduce_cuda(obj, self.host_copies)
        return NotImplemented


class _DillPickler(dill.Pickler):  # type: ignore[misc]
    """dill, with a skeleton for the notebook classes dill would save as a dead reference."""

    def __init__(
        self,
        file: io.BytesIO,
        buffers: list[pickle.PickleBuffer | BlockedBuffer] | None,
        host_copies: Mapping[int, Any],
        skeletons: set[int] | None = None,
    ) -> None:
        # CONTENTS_FMODE reopens a file handle at its position without truncating a file
        # open for writing (dill's default reopens "w" handles with "w"); strict: a file
        # that is gone fails the variable instead of becoming an empty temporary file.
        super().__init__(
            file,
            protocol=PROTOCOL,
            buffer_callback=None if buffers is None else _buffer_sink(buffers),
            byref=False,
            fmode=dill.CONTENTS_FMODE,
        )
        self._strictio = True
        self.host_copies = host_copies
        self.skeletons = skeletons
        self.out_of_band = buffers is not None

    def save(self, obj: Any, save_persistent_id: bool = True) -> None:
        if id(obj) in self.host_copies or is_cuda_tensor(obj):
            self.save_reduce(*reduce_cuda(obj, self.host_copies, self.out_of_band), obj=obj)
            return
        if isinstance(obj, type) and id(obj) not in self.memo:
            if is_notebook_namedtuple(obj):
                make, arguments, attributes, set_state = reduce_namedtuple(obj)
                self.save_reduce(make, arguments, state=attributes, state_setter=set_state, obj=obj)
                return
            if is_notebook_enum(obj) or id(obj) in self.skeletons:
                make, arguments, attributes, set_state = reduce_class(obj)
                self.save_reduce(make, arguments, state=attributes, state_setter=set_state, obj=obj)
                return
            try:
                super().save(obj, save_persistent_id)
            except dill.PicklingWarning as warning:
                # the innermost class this passes through is the one that refers to itself
                if defined_in_notebook(obj) and not hasattr(warning, "recursive_class"):
                    warning.recursive_class = obj  # type: ignore[attr-defined]
                raise
            return
        super().save(obj, save_persistent_id)


@dataclass
class Pickled:
    names: list[str]
    pickler: str
    stream: bytes
    buffers: list[memoryview | BlockedBuffer]
    visited: dict[int, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        return len(self.stream) + sum(b.nbytes for b in self.buffers)


@dataclass
class Captured:
    groups: list[Pickled]
    skipped: list[SkippedVariable]
    sizes: dict[str, int]
    types: dict[str, str]
    notes: list[str] = field(default_factory=list)


def _raw(buffer: pickle.PickleBuffer | BlockedBuffer) -> memoryview | BlockedBuffer:
    if isinstance(buffer, BlockedBuffer):
        return buffer
    try:
        return buffer.raw()
    except BufferError:  # not contiguous: copy it once
        return memoryview(bytes(memoryview(buffer)))


def _dump_with_pickle(
    values: Mapping[str, Any], host_copies: Mapping[int, Any], libraries: LibraryState
) -> Pickled:
    buffers: list[pickle.PickleBuffer | BlockedBuffer] = []
    stream = io.BytesIO()
    pickler = _StatePickler(stream, buffers, host_copies)
    pickler.dump(dict(values))
    visited = _shareable(pickler.memo.copy(), libraries)
    data, kind = stream.getvalue(), "pickle"
    if pickler.code:
        # what the code pickle visits ties variables too: a notebook class and its base
        table, code_pickler = _with_dill(pickler.code, host_copies, None)
        visited.update(_shareable(code_pickler.memo, libraries))
        data, kind = frame(table, data), "pickle+code"
    return Pickled(
        names=list(values),
        pickler=kind,
        stream=data,
        buffers=[_raw(b) for b in buffers],
        visited=visited,
    )


def _with_dill(
    value: Any,
    host_copies: Mapping[int, Any],
    buffers: list[pickle.PickleBuffer | BlockedBuffer] | None,
) -> tuple[bytes, _DillPickler]:
    """dill, again with a skeleton for each class it found referring to itself; without
    ``buffers``, every buffer stays in the pickle."""
    skeletons: set[int] = set()
    while True:
        if buffers is not None:
            del buffers[:]
        stream = io.BytesIO()
        pickler = _DillPickler(stream, buffers, host_copies, skeletons)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", dill.PicklingWarning)
                pickler.dump(value)
        except dill.PicklingWarning as warning:
            recursive = getattr(warning, "recursive_class", None)
            if recursive is None or id(recursive) in skeletons:
                raise pickle.PicklingError(str(warning)) from None
            skeletons.add(id(recursive))
            continue
        return stream.getvalue(), pickler


def _dump_with_dill(
    values: Mapping[str, Any], host_copies: Mapping[int, Any], libraries: LibraryState
) -> Pickled:
    buffers: list[pickle.PickleBuffer | BlockedBuffer] = []
    data, pickler = _with_dill(dict(values), host_copies, buffers)
    return Pickled(
        names=list(values),
        pickler="dill",
        stream=data,
        buffers=[_raw(b) for b in buffers],
        visited=_shareable(pickler.memo, libraries),
    )


def pickle_values(
    values: Mapping[str, Any],
    host_copies: Mapping[int, Any],
    libraries: LibraryState | None = None,
) -> Pickled:
    """Pickle ``values`` (a dict of names) with the C pickler, else with dill.

    dill takes over for anything the C pickler rejects that dill can save (a file handle, a
    code object in a ``typing`` alias, a module in a dict). A CUDA tensor without a host copy
    or too deep a structure fails the same way in both, so dill is not tried for those.
    """
    libraries = LibraryState() if libraries is None else libraries
    try:
        return _dump_with_pickle(values, host_copies, libraries)
    except (CudaTensorNotCopied, RecursionError):
        raise
    except Exception as plain_error:
        try:
            return _dump_with_dill(values, host_copies, libraries)
        except Exception:
            raise plain_error from None


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
    """Serialize every variable it can; skip the others with the reason.

    Each variable is pickled alone first, recording the objects the pickler visits; the
    variables whose pickles visited a common object are pickled again together, so the
    relation survives exactly as one pickle of the whole namespace would keep it.
    """
    host_copies = host_copies or {}
    skip = dict(skip or {})
    libraries = LibraryState(also={id(variables)})
    singles: dict[str, Pickled] = {}
    skipped: list[SkippedVariable] = []
    kinds = {name: type_name(value) for name, value in variables.items()}
    for name, value in variables.items():
        if name in skip:
            skipped.append(SkippedVariable(name, kinds[name], skip[name]))
            continue
        try:
            singles[name] = pickle_values({name: value}, host_copies, libraries)
        except RecursionError:
            skipped.append(SkippedVariable(name, kinds[name], "too deeply nested to pickle"))
        except Exception as err:  # anything a __reduce__ can raise: one variable, not the snapshot
            skipped.append(SkippedVariable(name, kinds[name], describe_failure(err)))

    pickled: list[Pickled] = []
    notes: list[str] = []
    for names in _share_groups(singles):
        if len(names) == 1:
            pickled.append(singles[names[0]])
            continue
        try:
            together = {n: variables[n] for n in names}
            pickled.append(pickle_values(together, host_copies, libraries))
        except Exception as err:  # together they fail, apart they worked: keep them apart
            pickled.extend(singles[n] for n in names)
            notes.append(
                f"{', '.join(sorted(names))} share objects but could not be pickled together "
                f"({describe_failure(err)}): they restore as separate copies"
            )
    sizes = {name: singles[name].nbytes for name in singles}
    for group in (*pickled, *singles.values()):
        group.visited = {}
    return Captured(groups=pickled, skipped=skipped, sizes=sizes, types=kinds, notes=notes)


def _share_groups(singles: Mapping[str, Pickled]) -> list[list[str]]:
    """Union the variables whose pickles visited a common object."""
    parent = {name: name for name in singles}

    def root(name: str) -> str:
        while parent[name] != name:
            parent[name] = parent[parent[name]]
            name = parent[name]
        return name

    owner: dict[int, str] = {}
    for name, single in singles.items():
        for key in single.visited:
            other = owner.setdefault(key, name)
            if other != name:
                parent[root(name)] = root(other)
    groups: dict[str, list[str]] = {}
    for name in singles:
        groups.setdefault(root(name), []).append(name)
    return list(groups.values())

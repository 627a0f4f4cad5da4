"""CUDA tensors in snapshots: pickled from host copies of their bytes, put back on a GPU
when they are loaded.

CUDA cannot be used in a forked child. The kernel finds every CUDA tensor it can reach
(``reachable_tensors``); ``cuda_copy`` copies the blocks that changed since the last snapshot
into host memory the child shares, and the child pickles each tensor as a ``BlockedBuffer``:
an out-of-band buffer whose 4 MiB blocks are either those bytes or chunks the store already
holds (``reduce_cuda``). ``restore_cuda_blocks`` builds the tensor back on the GPU it came
from, on another one when this machine has fewer, on the CPU when it has none, and says so.
``restore_cuda_tensor`` loads the snapshots of earlier versions, which pickled a whole copy.
"""

from __future__ import annotations

import itertools
import pickle
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

_PRIMITIVES = (int, float, complex, str, bytes, bool, type(None))

# What a load says about tensors it could not put back on a GPU; the restore collects and
# clears it around each load (unpickling has no other way to hand notes out).
CUDA_NOTES: list[str] = []


class CudaTensorNotCopied(Exception):
    """A CUDA tensor reached the pickler without a host copy of its bytes."""


@dataclass
class BlockedBuffer:
    """A device tensor's bytes for the writer, block by block: the bytes of each block copied
    to the host (a memoryview), or the id of the chunk the store holds for an unchanged one.

    Pickled out of band through a one-byte placeholder that the capture's buffer sink trades
    for this object (``blocked_for``); ``chunk_ids`` is filled in as the blocks are written.
    """

    pieces: list[memoryview | str]
    sizes: list[int]
    chunk_ids: list[str | None] = field(default_factory=list)
    placeholder: bytearray = field(default_factory=lambda: bytearray(1))

    def __post_init__(self) -> None:
        self.chunk_ids = [p if isinstance(p, str) else None for p in self.pieces]
        _BLOCKED[id(self.placeholder)] = self

    @property
    def nbytes(self) -> int:
        return sum(self.sizes)


_BLOCKED: dict[int, BlockedBuffer] = {}


def blocked_for(buffer: pickle.PickleBuffer) -> BlockedBuffer | None:
    """The BlockedBuffer a PickleBuffer stands for, if it is one's placeholder."""
    with buffer.raw() as raw:
        owner = raw.obj
    blocked = _BLOCKED.get(id(owner))
    return blocked if blocked is not None and blocked.placeholder is owner else None


def forget_blocked() -> None:
    _BLOCKED.clear()


def cuda_in_use() -> bool:
    """Whether a CUDA tensor can exist: torch initialised CUDA and holds memory on a GPU
    (any of them: tensors may live on cuda:1 only)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return False
    return any(torch.cuda.memory_allocated(i) for i in range(torch.cuda.device_count()))


def blockable(tensor: Any) -> bool:
    """A dense tensor, whose bytes are its values: one the block path can save. Sparse and
    quantized ones are copied whole instead."""
    import torch

    return tensor.layout == torch.strided and not tensor.is_quantized


def reachable_tensors(values: Mapping[str, Any], accept: Callable[[Any], bool]) -> list[Any]:
    """The tensors reachable from ``values`` that ``accept`` takes, each once, in walk order.

    Walks containers, object attributes and torch modules.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return []
    found: list[Any] = []
    seen: set[int] = set()
    stack: list[Any] = list(values.values())
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            if accept(obj):
                found.append(obj)
            continue
        if isinstance(obj, _PRIMITIVES):
            continue
        if isinstance(obj, dict):
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple, set, frozenset)):
            if len(obj) > 64 and all(isinstance(x, _PRIMITIVES) for x in itertools.islice(obj, 8)):
                continue  # a long run of plain data: walking it would lengthen the pause
            stack.extend(obj)
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            stack.extend(vars(obj).values())
    return found


def _is_cuda(tensor: Any) -> bool:
    return bool(tensor.is_cuda)


def host_copies_of_cuda_tensors(values: Mapping[str, Any]) -> tuple[dict[int, Any], list[str]]:
    """Copy every CUDA tensor reachable from ``values`` to host memory, whole, at once: the
    plain way (``cuda_copy`` copies only what changed), kept for ``Store.save`` callers."""
    if not cuda_in_use():
        return {}, []  # no CUDA tensor can exist: skip the walk, which costs pause time
    copies = {id(t): t.detach().to("cpu") for t in reachable_tensors(values, _is_cuda)}
    notes = [f"{len(copies)} CUDA tensors copied to host memory"] if copies else []
    return copies, notes


def variables_holding_cuda(values: Mapping[str, Any]) -> dict[str, str]:
    """The variables that hold a CUDA tensor, for ``cuda="skip"``."""
    if not cuda_in_use():
        return {}
    return {
        name: "holds CUDA tensors and CUDA snapshots are turned off"
        for name, value in values.items()
        if reachable_tensors({name: value}, _is_cuda)
    }


def is_cuda_tensor(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor) and bool(obj.is_cuda)


def reduce_cuda(
    obj: Any, host_copies: Mapping[int, Any], out_of_band: bool = True
) -> tuple[Callable[..., Any], tuple]:
    """The pickler's reduction of a device tensor: its bytes (a ``BlockedBuffer``, or a whole
    host copy), and how to put it back. A string in ``host_copies`` is why it was not copied.
    """
    host = host_copies.get(id(obj))
    if host is None:
        raise CudaTensorNotCopied("a CUDA tensor could not be copied to host memory")
    if isinstance(host, str):
        raise CudaTensorNotCopied(host)
    import torch

    parameter = isinstance(obj, torch.nn.Parameter)
    grad = bool(obj.requires_grad)
    if isinstance(host, BlockedBuffer):
        if not out_of_band:
            raise CudaTensorNotCopied(
                "holds a CUDA tensor inside notebook code (a function's defaults or "
                "closure), which is saved in its pickle, not as chunks"
            )
        data = None if host.nbytes == 0 else pickle.PickleBuffer(host.placeholder)
        dtype = str(obj.dtype).removeprefix("torch.")
        shape = tuple(obj.shape)
        return restore_cuda_blocks, (data, dtype, shape, str(obj.device), parameter, grad)
    return restore_cuda_tensor, (host, str(obj.device), parameter, grad)


def target_device(saved: str, gpus: int) -> tuple[str, str | None]:
    """Where a tensor saved on ``saved`` goes on a machine with ``gpus`` GPUs, and the note
    that says so when it is not the same place: ``cuda:k`` -> ``cuda:(k mod gpus)``, or the
    CPU without any."""
    if not saved.startswith("cuda"):
        return saved, None
    if gpus <= 0:
        return "cpu", f"tensors saved on {saved} were restored on the CPU: no GPU is available"
    _, _, number = saved.partition(":")
    index = int(number) if number.isdigit() else 0
    if index < gpus:
        return f"cuda:{index}", None
    moved = f"cuda:{index % gpus}"
    plural = "GPU" if gpus == 1 else "GPUs"
    return moved, (
        f"tensors saved on {saved} were restored on {moved}: this machine has {gpus} {plural}"
    )


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _placed(host_tensor: Any, saved: str) -> Any:
    import torch

    device, note = target_device(saved, _gpu_count())
    if device == "cpu":
        if note:
            CUDA_NOTES.append(note)
        return host_tensor
    try:
        tensor = host_tensor.to(device)
    except torch.cuda.OutOfMemoryError:
        CUDA_NOTES.append(
            f"tensors saved on {saved} were restored on the CPU: {device} has no room for them"
        )
        return host_tensor
    if note:
        CUDA_NOTES.append(note)
    return tensor


def _finish(tensor: Any, parameter: bool, requires_grad: bool) -> Any:
    import torch

    if parameter:
        return torch.nn.Parameter(tensor, requires_grad=requires_grad)
    return tensor.requires_grad_(requires_grad) if tensor.is_floating_point() else tensor


def restore_cuda_tensor(
    host_tensor: Any, device: str, parameter: bool = False, requires_grad: bool = False
) -> Any:
    """Unpickling side of a whole host copy: back on a GPU when there is one, else the CPU."""
    return _finish(_placed(host_tensor, device), parameter, requires_grad)


def restore_cuda_blocks(
    data: Any,
    dtype: str,
    shape: tuple[int, ...],
    device: str,
    parameter: bool = False,
    requires_grad: bool = False,
) -> Any:
    """Unpickling side of a ``BlockedBuffer``: the bytes as a tensor of ``dtype`` and
    ``shape``, on the device it was saved on (or its stand-in, ``target_device``)."""
    import torch

    kind = getattr(torch, dtype)
    if not isinstance(kind, torch.dtype):
        raise TypeError(f"{dtype!r} is not a torch dtype")
    if data is None:
        host = torch.empty(shape, dtype=kind)
    else:
        host = torch.frombuffer(data, dtype=torch.uint8).view(kind).reshape(shape)
    return _finish(_placed(host, device), parameter, requires_grad)


# A snapshot names this function by module and name, and snapshots name it in ``capture``,
# where it was first defined: pickled under that name (``capture`` hands it on), a snapshot
# loads with every version of the package, older and newer.
restore_cuda_tensor.__module__ = "jupyter_gpuguard.snapshot.capture"
restore_cuda_blocks.__module__ = "jupyter_gpuguard.snapshot.capture"

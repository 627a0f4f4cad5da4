"""CUDA tensors in snapshots: copied to host memory before the fork, pickled from that copy,
and put back on a GPU when they are loaded.

CUDA cannot be used in a forked child, so the kernel copies every CUDA tensor it can reach
while it is paused (``host_copies_of_cuda_tensors``); the pickler then writes the host copy
with the device it came from (``reduce_cuda``), and ``restore_cuda_tensor`` moves it back.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Mapping
from typing import Any

_PRIMITIVES = (int, float, complex, str, bytes, bool, type(None))

# What a load says about tensors it could not put back on a GPU; the restore collects and
# clears it around each load (unpickling has no other way to hand notes out).
CUDA_NOTES: list[str] = []


class CudaTensorNotCopied(Exception):
    """A CUDA tensor reached the pickler without a host copy made before the fork."""


def host_copies_of_cuda_tensors(values: Mapping[str, Any]) -> tuple[dict[int, Any], list[str]]:
    """Copy every CUDA tensor reachable from ``values`` to host memory, before the fork.

    CUDA cannot be used in a forked child. Walks containers, object attributes and torch
    modules; returns id(cuda tensor) -> host copy, and notes for the manifest.
    """
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized() or torch.cuda.memory_allocated() == 0:
        return {}, []  # no CUDA tensor can exist: skip the walk, which costs pause time
    copies: dict[int, Any] = {}
    seen: set[int] = set()
    stack: list[Any] = list(values.values())
    while stack:
        obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            if obj.is_cuda:
                copies[id(obj)] = obj.detach().to("cpu")
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
    notes = [f"{len(copies)} CUDA tensors copied to host memory"] if copies else []
    return copies, notes


def variables_holding_cuda(values: Mapping[str, Any]) -> dict[str, str]:
    """The variables that hold a CUDA tensor, for ``cuda="skip"``."""
    skip = {}
    for name, value in values.items():
        copies, _notes = host_copies_of_cuda_tensors({name: value})
        if copies:
            skip[name] = "holds CUDA tensors and CUDA snapshots are turned off"
    return skip


def is_cuda_tensor(obj: Any) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(obj, torch.Tensor) and bool(obj.is_cuda)


def reduce_cuda(obj: Any, host_copies: Mapping[int, Any]) -> tuple[Callable[..., Any], tuple]:
    """The pickler's reduction of a CUDA tensor: its host copy, and how to put it back."""
    host = host_copies.get(id(obj))
    if host is None:
        raise CudaTensorNotCopied("a CUDA tensor could not be copied to host memory")
    import torch

    parameter = isinstance(obj, torch.nn.Parameter)
    return restore_cuda_tensor, (host, str(obj.device), parameter, bool(obj.requires_grad))


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


# A snapshot names this function by module and name, and snapshots name it in ``capture``,
# where it was first defined: pickled under that name (``capture`` hands it on), a snapshot
# loads with every version of the package, older and newer.
restore_cuda_tensor.__module__ = "jupyter_gpuguard.snapshot.capture"

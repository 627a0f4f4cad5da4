"""GPU facts read through NVML, the library behind nvidia-smi."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass


@dataclass(frozen=True)
class GpuFacts:
    name: str
    count: int
    memory_gb: float


def read_gpus() -> GpuFacts | None:
    """The first GPU's name and memory and the GPU count, or None without a driver or GPU.

    Blocking (nvmlInit can take a few hundred ms): call it from a thread.
    """
    try:
        import pynvml
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:
        return None
    try:
        count = pynvml.nvmlDeviceGetCount()
        if count < 1:
            return None
        handle = pynvml.nvmlDeviceGetHandleByIndex(0)
        name = pynvml.nvmlDeviceGetName(handle)
        if isinstance(name, bytes):
            name = name.decode("utf-8", errors="replace")
        memory = pynvml.nvmlDeviceGetMemoryInfo(handle).total / 1024**3
        return GpuFacts(name=str(name), count=int(count), memory_gb=round(memory, 1))
    except pynvml.NVMLError:
        return None
    finally:
        with contextlib.suppress(pynvml.NVMLError):
            pynvml.nvmlShutdown()

"""How busy each GPU is right now, through NVML: what idle stop reads, so that a training
script started outside Jupyter keeps the machine running."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable

# Percent utilisation of each GPU, or None where it cannot be read (no driver, no GPU).
UtilisationReader = Callable[[], "list[float] | None"]


class NvmlUtilisation:
    """Reads ``nvmlDeviceGetUtilizationRates`` of every GPU; NVML is initialised once (its
    init can take a few hundred ms) and shut down by ``close``. Blocking: call from a thread.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: bool | None = None  # None: not tried yet; False: no NVML here

    def _init(self) -> bool:
        if self._ready is None:
            try:
                import pynvml

                pynvml.nvmlInit()
                self._ready = True
            except Exception:  # ImportError, or NVMLError without a driver
                self._ready = False
        return self._ready

    def __call__(self) -> list[float] | None:
        with self._lock:
            if not self._init():
                return None
            import pynvml

            try:
                count = pynvml.nvmlDeviceGetCount()
                return [
                    float(
                        pynvml.nvmlDeviceGetUtilizationRates(
                            pynvml.nvmlDeviceGetHandleByIndex(index)
                        ).gpu
                    )
                    for index in range(count)
                ]
            except pynvml.NVMLError:
                return None

    def close(self) -> None:
        with self._lock:
            if self._ready:
                import pynvml

                with contextlib.suppress(pynvml.NVMLError):
                    pynvml.nvmlShutdown()
            self._ready = None


def no_gpus() -> list[float] | None:
    """The reader where NVML is turned off (``c.GpuGuard.nvml = False``)."""
    return None

"""Handing written buffers back, in the forked snapshot writer only.

After fork, every page of the kernel's arrays is shared copy-on-write: a cell that rewrites
an array while the snapshot is written makes the kernel copy each page it touches, because
the writer still maps it. Once the writer has written a stretch of a buffer, it drops its
own mapping of those pages (``MADV_DONTNEED``); the kernel's next write to them finds the
page its own and goes on without a copy. In a 2 GiB test this cut the slowdown of such a
cell from 18-34x to 7x, and the writer finished in half the time.

Never in the kernel itself: dropping private anonymous pages there would zero the user's
data. A buffer whose memory overlaps another buffer's (two views of one array) is left
alone, since the other may still have to be read.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from collections.abc import Sequence
from typing import Any

MADV_DONTNEED = 4
PAGE = mmap.PAGESIZE

_madvise: Any = None


def _libc_madvise() -> Any:
    global _madvise
    if _madvise is None:
        libc = ctypes.CDLL(None, use_errno=True)
        _madvise = libc.madvise
        _madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        _madvise.restype = ctypes.c_int
    return _madvise


def address_of(view: memoryview) -> int | None:
    """Where ``view``'s bytes start in memory, or None when that cannot be had safely."""
    if view.nbytes == 0:
        return None
    numpy = sys.modules.get("numpy")
    try:
        if numpy is not None:
            return int(numpy.frombuffer(view, dtype=numpy.uint8).ctypes.data)
        if not view.readonly:
            return ctypes.addressof(ctypes.c_char.from_buffer(view))
    except (TypeError, ValueError, BufferError):
        return None
    return None


def releasable(buffers: Sequence[memoryview]) -> list[int | None]:
    """The start address of each buffer that may be released, None for the others."""
    if not sys.platform.startswith("linux"):
        return [None] * len(buffers)
    starts = [address_of(b) for b in buffers]
    spans = sorted(
        (start, start + b.nbytes, index)
        for index, (start, b) in enumerate(zip(starts, buffers, strict=True))
        if start is not None
    )
    overlapping: set[int] = set()
    reach_end, reach_index = -1, -1
    for start, end, index in spans:
        if start < reach_end:
            overlapping.update((index, reach_index))
        if end > reach_end:
            reach_end, reach_index = end, index
    return [None if i in overlapping else start for i, start in enumerate(starts)]


def release(address: int, size: int) -> None:
    """Drop this process's mapping of the whole pages inside [address, address + size)."""
    start = -(-address // PAGE) * PAGE
    end = (address + size) // PAGE * PAGE
    if end > start:
        _libc_madvise()(start, end - start, MADV_DONTNEED)

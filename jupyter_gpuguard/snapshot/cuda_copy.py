"""Device tensors into a snapshot: only the blocks that changed, copied after the fork.

In the kernel's pause, ``begin`` records the instant on each GPU (an event on its current
stream) and makes an empty memfd the forked writer inherits. The kernel forks and goes on.
A thread of the kernel then fingerprints every tensor on a side stream that waits for that
event, compares with the last good snapshot (``cuda_plan``), checks the host's memory,
copies the changed blocks through a reused pair of pinned buffers into the memfd, and sends
the writer the plan (``copy``). The writer maps the memfd and pickles each tensor as a
``BlockedBuffer`` (``host_copies``): the copied blocks, and the chunks of the others. A cell
that starts meanwhile waits for the copy (``KernelSnapshots``), so no cell changes a tensor
before its bytes are read, and the writer, which cannot use CUDA, never needs to.

``stand_in="cpu"`` sends CPU tensors down the same path, without streams or pinned memory:
the seam the tests and CPU benchmarks use.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from .cuda import BlockedBuffer, cuda_in_use, forget_blocked, reachable_tensors
from .cuda_blocks import BATCH_BLOCKS, block_count, block_spans, byte_view, fingerprints
from .cuda_plan import Remembered, TensorKey, TensorPlan, plan, tensor_key
from .host_memory import DEFAULT_MARGIN, MemoryReader, allowance, describe, read_host_memory

# Each of the two pinned buffers the copies go through: big enough to keep a PCIe link busy,
# small enough to pin once and keep.
STAGING_BYTES = 64 * 1024 * 1024


@dataclass
class Pending:
    """One snapshot's device tensors, from the pause to the end of their copy."""

    tensors: list[Any]
    keys: list[TensorKey]
    sizes: list[int]
    devices: list[str]
    events: dict[str, Any]
    fd: int
    began: float = field(default_factory=time.perf_counter)
    copied: threading.Event = field(default_factory=threading.Event)
    outcome: CopyOutcome | None = None
    waited_seconds: float = 0.0
    # Whether no cell ran between the instant and the end of the copy: only then do the
    # fingerprints describe the bytes copied, and may be compared with the next snapshot's.
    consistent: bool = True
    cells_at_begin: int = 0


@dataclass
class CopyOutcome:
    plans: list[TensorPlan]
    size: int
    fingerprints: list[list[int]]
    error: str | None = None
    seconds: float = 0.0
    fingerprint_seconds: float = 0.0

    def message(self) -> dict[str, Any]:
        """What the writer is told (``host_copies`` reads it)."""
        return {
            "size": self.size,
            "error": self.error,
            "tensors": [p.to_json() for p in self.plans],
        }

    def stats(self, pending: Pending) -> dict[str, Any]:
        sizes = dict(enumerate(pending.sizes))
        skipped = [p for p in self.plans if p.skipped]
        reused = 0
        for entry in self.plans:
            spans = block_spans(sizes[entry.index])
            reused += sum(spans[b][1] for b in entry.reuse)
        return {
            "tensors": len(pending.keys),
            "bytes": sum(pending.sizes),
            "bytes_copied": self.size,
            "bytes_reused": reused,
            "tensors_skipped": len(skipped) if not self.error else len(pending.keys),
            "fingerprint_seconds": round(self.fingerprint_seconds, 6),
            "copy_seconds": round(self.seconds, 6),
            "waited_seconds": round(pending.waited_seconds, 6),
            "error": self.error,
        }


def _memfd() -> int:
    if hasattr(os, "memfd_create"):
        return os.memfd_create("gpuguard-copy", os.MFD_CLOEXEC)
    # without memfd: an unlinked file in shared memory (or the temp dir) does the same
    directory = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryFile(dir=directory) as handle:
        return os.dup(handle.fileno())


def _runs(entry: TensorPlan, limit: int) -> list[tuple[int, int, int]]:
    """(source offset, destination offset, size) of the copies of one tensor's changed blocks,
    neighbouring blocks merged, none above ``limit``."""
    spans = block_spans(entry.nbytes)
    runs: list[list[int]] = []
    for block in sorted(entry.copy):
        start, size = spans[block]
        target = entry.copy[block]
        last = runs[-1] if runs else None
        if last and last[0] + last[2] == start and last[1] + last[2] == target:
            last[2] += size
        else:
            runs.append([start, target, size])
    pieces = []
    for start, target, size in runs:
        for offset in range(0, size, limit):
            pieces.append((start + offset, target + offset, min(limit, size - offset)))
    return pieces


class DeviceCopier:
    """One kernel's device tensors across snapshots: what the last good one saved, the side
    streams and the pinned buffers it reuses."""

    def __init__(
        self,
        read_memory: MemoryReader = read_host_memory,
        margin: str = DEFAULT_MARGIN,
        stand_in: str | None = None,
    ) -> None:
        self.read_memory = read_memory
        self.margin = margin
        self.stand_in = stand_in
        self.remembered: dict[TensorKey, Remembered] = {}
        self._streams: dict[str, Any] = {}
        self._staging: dict[str, list[Any]] = {}

    # ---- in the pause ----------------------------------------------------------------------
    def accepts(self, tensor: Any) -> bool:
        if self.stand_in is not None:
            return tensor.device.type == self.stand_in
        return bool(tensor.is_cuda)

    def collect(self, values: Mapping[str, Any]) -> list[Any]:
        if self.stand_in is None and not cuda_in_use():
            return []  # no CUDA tensor can exist: skip the walk, which costs pause time
        return reachable_tensors(values, self.accepts)

    def begin(self, tensors: list[Any]) -> Pending:
        events: dict[str, Any] = {}
        devices = [str(t.device) for t in tensors]
        for device in dict.fromkeys(devices):
            if device.startswith("cuda"):
                import torch

                event = torch.cuda.Event()
                event.record(torch.cuda.current_stream(torch.device(device)))
                events[device] = event
        return Pending(
            tensors=tensors,
            keys=[tensor_key(t) for t in tensors],
            sizes=[int(t.numel()) * int(t.element_size()) for t in tensors],
            devices=devices,
            events=events,
            fd=_memfd(),
        )

    # ---- after the fork, on a thread of the kernel ------------------------------------------
    def copy(self, pending: Pending, has_chunk: Callable[[str, int], bool]) -> CopyOutcome:
        """Fingerprint, plan, copy; never raises: a failure is the outcome's ``error``, and
        the writer then skips the device tensors with it."""
        started = time.perf_counter()
        try:
            views: list[Any] = [None] * len(pending.tensors)
            values = self._fingerprint(pending, views)
            fingerprinted = time.perf_counter()
            room = allowance(self.read_memory(), self.margin)
            plans, size = plan(
                pending.keys,
                pending.sizes,
                pending.devices,
                values,
                self.remembered,
                has_chunk,
                room,
            )
            outcome = CopyOutcome(plans, size, values, fingerprint_seconds=fingerprinted - started)
            if size:
                os.ftruncate(pending.fd, size)
                with mmap.mmap(pending.fd, size) as target:
                    self._copy_blocks(pending, views, plans, target)
            del views
        except Exception as err:  # a CUDA error, no memory for the fingerprints: say so
            outcome = CopyOutcome([], 0, [], error=f"{type(err).__name__}: {str(err)[:300]}")
        outcome.seconds = time.perf_counter() - started
        return outcome

    def _groups(self, pending: Pending) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for index, device in enumerate(pending.devices):
            groups.setdefault(device, []).append(index)
        return groups

    def _stream(self, device: str) -> Any:
        import torch

        if device not in self._streams:
            self._streams[device] = torch.cuda.Stream(torch.device(device))
        return self._streams[device]

    def _on(self, device: str, pending: Pending) -> contextlib.AbstractContextManager[Any]:
        """The side stream of ``device``, after the instant of the snapshot; nothing for the
        CPU stand-in."""
        if not device.startswith("cuda"):
            return contextlib.nullcontext()
        import torch

        stream = self._stream(device)
        stack = contextlib.ExitStack()
        stack.enter_context(torch.cuda.device(torch.device(device)))
        stack.enter_context(torch.cuda.stream(stream))
        stream.wait_event(pending.events[device])
        return stack

    def _each_device(
        self, pending: Pending, work: Callable[[str, list[int]], Any]
    ) -> dict[str, Any]:
        """``work(device, tensor indices)`` for each device at once, on a thread each: eight
        GPUs fingerprint and copy over their own links in parallel."""
        groups = self._groups(pending)
        for device in groups:
            if device.startswith("cuda"):
                self._stream(device)  # made here, not raced for by the threads
        with ThreadPoolExecutor(len(groups), thread_name_prefix="gpuguard-device") as pool:
            futures = {device: pool.submit(work, device, group) for device, group in groups.items()}
            return {device: future.result() for device, future in futures.items()}

    def _fingerprint(self, pending: Pending, views: list[Any]) -> list[list[int]]:
        """Fills ``views`` (each tensor's bytes) and answers each block's fingerprint."""
        import torch

        def on_device(device: str, indices: list[int]) -> list[int]:
            with self._on(device, pending):
                for index in indices:
                    # on the side stream, after the instant: a contiguous copy made here is
                    # of the tensor as it was then, and ordered before its reads
                    views[index] = byte_view(pending.tensors[index])
                try:
                    return self._fingerprint_on(views, indices, BATCH_BLOCKS)
                except torch.cuda.OutOfMemoryError:
                    # a GPU filled to the brim: the same sums a block at a time (8 MiB spare)
                    torch.cuda.empty_cache()
                    return self._fingerprint_on(views, indices, 1)

        values: list[list[int]] = [[] for _ in views]
        for device, joined in self._each_device(pending, on_device).items():
            offset = 0
            for index in self._groups(pending)[device]:
                count = block_count(pending.sizes[index])
                values[index] = joined[offset : offset + count]
                offset += count
        return values

    @staticmethod
    def _fingerprint_on(views: list[Any], indices: list[int], batch: int) -> list[int]:
        import torch

        return torch.cat([fingerprints(views[i], batch) for i in indices]).cpu().tolist()

    def _pinned(self, device: str) -> list[Any]:
        """The two pinned buffers of ``device``'s copies, made at its first copy and kept."""
        import torch

        if device not in self._staging:
            self._staging[device] = [
                torch.empty(STAGING_BYTES, dtype=torch.uint8, pin_memory=True) for _ in range(2)
            ]
        return self._staging[device]

    def _copy_blocks(
        self, pending: Pending, views: list[Any], plans: list[TensorPlan], target: mmap.mmap
    ) -> None:
        import torch

        # held in a list, emptied at the end: the mapping cannot close while a view holds it
        held = [torch.frombuffer(target, dtype=torch.uint8)]

        def on_device(device: str, indices: list[int]) -> None:
            host = held[0]
            runs = [
                (views[i], run)
                for i in indices
                if not plans[i].skipped
                for run in _runs(plans[i], STAGING_BYTES)
            ]
            if not runs:
                return
            if not device.startswith("cuda"):
                for source, (start, at, size) in runs:
                    host[at : at + size].copy_(source[start : start + size])
                return
            with self._on(device, pending):
                self._through_pinned(device, runs, host, torch.cuda.current_stream())

        try:
            self._each_device(pending, on_device)
        finally:
            held.clear()

    def _through_pinned(
        self, device: str, runs: list[tuple[Any, tuple[int, int, int]]], host: Any, stream: Any
    ) -> None:
        """GPU -> pinned (DMA on the side stream) -> memfd (a host copy), two buffers in turn:
        the next DMA runs while the last buffer is copied out."""
        import torch

        staging = self._pinned(device)
        waiting: list[tuple[Any, Any, Any] | None] = [None, None]
        for number, (source, (start, at, size)) in enumerate(runs):
            slot = number % 2
            self._drain(waiting[slot])
            buffer = staging[slot][:size]
            buffer.copy_(source[start : start + size], non_blocking=True)
            event = torch.cuda.Event()
            event.record(stream)
            waiting[slot] = (event, buffer, host[at : at + size])
        for slot in (0, 1):
            self._drain(waiting[slot])

    @staticmethod
    def _drain(entry: tuple[Any, Any, Any] | None) -> None:
        if entry is not None:
            event, buffer, target = entry
            event.synchronize()
            target.copy_(buffer)

    # ---- once the snapshot is saved -------------------------------------------------------
    def remember(self, pending: Pending, chunk_ids: Mapping[int, list[str | None]]) -> None:
        """What the next snapshot compares with: the tensors of this good snapshot whose every
        block is a chunk in the store."""
        outcome = pending.outcome
        if outcome is None or outcome.error or not pending.consistent:
            return  # what is remembered still holds: each fingerprint names its chunk's bytes
        remembered: dict[TensorKey, Remembered] = {}
        for entry in outcome.plans:
            ids = chunk_ids.get(entry.index)
            if entry.skipped or not ids or any(not isinstance(c, str) for c in ids):
                continue
            values = outcome.fingerprints[entry.index]
            if len(ids) == len(values):
                remembered[pending.keys[entry.index]] = Remembered(values, list(ids))  # type: ignore[arg-type]
        self.remembered = remembered

    def forget(self) -> None:
        self.remembered = {}


def host_copies(
    tensors: list[Any], message: dict[str, Any], fd: int
) -> tuple[dict[int, BlockedBuffer | str], list[str], mmap.mmap | None]:
    """The writer's side: id(tensor) -> its ``BlockedBuffer`` (or why it is not saved), the
    notes for the manifest, and the mapping the buffers view (kept open while they are
    written)."""
    size = int(message.get("size") or 0)
    error = message.get("error")
    if error:
        reason = f"not saved: its copy to host memory failed ({error})"
        return {id(t): reason for t in tensors}, [f"GPU tensors not saved: {error}"], None
    mapped = mmap.mmap(fd, size, prot=mmap.PROT_READ) if size else None
    view = memoryview(mapped) if mapped is not None else memoryview(b"")
    copies: dict[int, BlockedBuffer | str] = {}
    reused = skipped = 0
    for data in message["tensors"]:
        entry = TensorPlan.from_json(data)
        tensor = tensors[entry.index]
        if entry.skipped:
            copies[id(tensor)] = entry.skipped
            skipped += 1
            continue
        pieces: list[memoryview | str] = []
        sizes = []
        for block, (_start, length) in enumerate(block_spans(entry.nbytes)):
            if block in entry.reuse:
                pieces.append(entry.reuse[block])
                reused += length
            else:
                offset = entry.copy[block]
                pieces.append(view[offset : offset + length])
            sizes.append(length)
        copies[id(tensor)] = BlockedBuffer(pieces, sizes)
    notes = [
        f"{len(tensors)} GPU tensors: {describe(size)} copied to host memory, "
        f"{describe(reused)} unchanged since the last snapshot reused"
        + (f", {skipped} not saved for lack of host memory" if skipped else "")
    ]
    return copies, notes, mapped


def release_copies(copies: Mapping[int, BlockedBuffer | str], mapped: mmap.mmap | None) -> None:
    """Let go of the views ``host_copies`` made, and of their mapping (the synchronous path,
    which outlives them; a writer just exits)."""
    for blocked in copies.values():
        if isinstance(blocked, BlockedBuffer):
            for piece in blocked.pieces:
                if isinstance(piece, memoryview):
                    piece.release()
    forget_blocked()
    if mapped is not None:
        with contextlib.suppress(BufferError):  # a view still held elsewhere: left to the GC
            mapped.close()

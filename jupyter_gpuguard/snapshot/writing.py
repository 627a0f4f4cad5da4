"""A capture's groups -> chunk files: cut into chunks, written on a few threads, made durable
in one pass, and laid out as the manifest's ``groups``."""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import release
from .chunks import CHUNKS, chunk_path, make_durable, slices, write_chunk
from .cuda import BlockedBuffer
from .disk import WRITER_THREADS, fsync_dir, parallel_map
from .model import SnapshotError
from .trust import trusted

if TYPE_CHECKING:
    from .capture import Captured


def write_groups(
    root: Path, captured: Captured, release_written: bool = False
) -> tuple[dict[str, Any], int]:
    """Write every chunk of ``captured`` the store at ``root`` lacks; answers the manifest's
    ``{"groups": ...}`` and the bytes written.

    Every chunk is durable, and so is its directory, before this returns: the manifest that
    names them may be committed then. ``release_written``: hand each buffer's pages back
    once written (``release``), for a forked writer only.
    """
    layout = []
    # bytes to write, or (chunk id, size) of a device tensor's block the store has already
    pieces: list[memoryview | tuple[str, int]] = []
    # where each piece lives in memory, for the ones the writer may hand back once written
    addresses: list[int | None] = []
    # the device tensor each piece belongs to, and its block, for ``BlockedBuffer.chunk_ids``
    owners: list[tuple[BlockedBuffer, int] | None] = []
    plain = [b.cast("B") for g in captured.groups for b in g.buffers if isinstance(b, memoryview)]
    starts = iter(release.releasable(plain) if release_written else [None] * len(plain))
    for group in captured.groups:
        stream = slices(memoryview(group.stream))
        counts = []
        pieces.extend(stream)
        addresses.extend([None] * len(stream))
        owners.extend([None] * len(stream))
        for buffer in group.buffers:
            if isinstance(buffer, BlockedBuffer):
                counts.append(len(buffer.pieces))
                for block, (piece, size) in enumerate(
                    zip(buffer.pieces, buffer.sizes, strict=True)
                ):
                    pieces.append((piece, size) if isinstance(piece, str) else piece)
                    addresses.append(None)
                    owners.append((buffer, block))
                continue
            cut = slices(buffer.cast("B"))
            counts.append(len(cut))
            start = next(starts)
            pieces.extend(cut)
            offsets = itertools.accumulate((p.nbytes for p in cut[:-1]), initial=0)
            addresses.extend(None if start is None else start + offset for offset in offsets)
            owners.extend([None] * len(cut))
        layout.append((group, len(stream), counts))
    created: list[Path] = []

    def write(index: int) -> tuple[str, int, int, Path | None]:
        piece = pieces[index]
        if isinstance(piece, tuple):
            result = _reused(root, *piece)
        else:
            result = write_chunk(root, piece, created)
        owner = owners[index]
        if owner is not None:
            owner[0].chunk_ids[owner[1]] = result[0]
        address = addresses[index]
        if address is not None and isinstance(piece, memoryview):
            release.release(address, piece.nbytes)
        return result

    def durable(item: tuple[Path, str]) -> None:
        make_durable(root, *item)

    try:
        written_chunks = parallel_map(write, range(len(pieces)), WRITER_THREADS)
        fresh = [(temp, chunk_id) for chunk_id, _s, _n, temp in written_chunks if temp]
        parallel_map(durable, fresh, WRITER_THREADS)
    except BaseException:
        for temp in created:  # renamed ones are complete chunks: only temps go
            with contextlib.suppress(OSError):
                temp.unlink()
        raise
    results = iter(written_chunks)
    groups = []
    written = 0
    touched: set[Path] = set()
    for group, stream_count, buffer_counts in layout:
        stream = [next(results) for _ in range(stream_count)]
        buffers = [[next(results) for _ in range(count)] for count in buffer_counts]
        for chunk_id, _size, new, _temp in itertools.chain(stream, *buffers):
            written += new
            if new:
                touched.add(chunk_path(root, chunk_id).parent)
        groups.append(
            {
                "names": group.names,
                "pickler": group.pickler,
                "stream": [[c, s] for c, s, _, _ in stream],
                "buffers": [[[c, s] for c, s, _, _ in chunks] for chunks in buffers],
            }
        )
    for directory in touched:
        fsync_dir(directory)
    if touched:
        fsync_dir(root / CHUNKS)
    return {"groups": groups}, written


def _reused(root: Path, chunk_id: str, size: int) -> tuple[str, int, int, None]:
    """An unchanged block of a device tensor: its chunk must still be in the store, whole,
    since its bytes were never copied to be written again."""
    try:
        info = os.lstat(chunk_path(root, chunk_id))
    except FileNotFoundError:
        info = None
    if info is None or info.st_size != size or not trusted(info):
        raise SnapshotError(
            f"chunk {chunk_id[:12]}, which unchanged GPU memory reuses, is no longer in the "
            "store; the next snapshot copies that memory again"
        )
    return chunk_id, size, 0, None

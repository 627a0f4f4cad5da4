"""A capture's groups -> chunk files: cut into chunks, written on a few threads, made durable
in one pass, and laid out as the manifest's ``groups``."""

from __future__ import annotations

import contextlib
import itertools
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import release
from .chunks import CHUNKS, chunk_path, make_durable, slices, write_chunk
from .disk import WRITER_THREADS, fsync_dir, parallel_map

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
    pieces: list[memoryview] = []
    # where each piece lives in memory, for the ones the writer may hand back once written
    addresses: list[int | None] = []
    whole = [b.cast("B") for g in captured.groups for b in g.buffers]
    starts = iter(release.releasable(whole) if release_written else [None] * len(whole))
    for group in captured.groups:
        stream = slices(memoryview(group.stream))
        buffers = [slices(buffer.cast("B")) for buffer in group.buffers]
        layout.append((group, len(stream), [len(b) for b in buffers]))
        pieces.extend(stream)
        addresses.extend([None] * len(stream))
        for buffer in buffers:
            start = next(starts)
            pieces.extend(buffer)
            offsets = itertools.accumulate((p.nbytes for p in buffer[:-1]), initial=0)
            addresses.extend(None if start is None else start + offset for offset in offsets)
    created: list[Path] = []

    def write(index: int) -> tuple[str, int, int, Path | None]:
        result = write_chunk(root, pieces[index], created)
        address = addresses[index]
        if address is not None:
            release.release(address, pieces[index].nbytes)
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

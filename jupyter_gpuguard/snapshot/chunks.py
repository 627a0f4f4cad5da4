"""Chunk files: ``<store>/chunks/ab/abcdef...``, written once, named by their BLAKE3 hash,
checked on every read.

A chunk id from a manifest is checked before it names a file, and a size before it sizes a
read: nothing a manifest says becomes a path or an allocation unchecked.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
from pathlib import Path

from blake3 import blake3

from .disk import (
    DIRECT_ALIGNMENT,
    bounce_buffer,
    fill,
    is_direct,
    kept_or_removed,
    make_private_dirs,
    open_for_writing,
    start_writeback,
    write_all,
)
from .model import ChunkMissing, SnapshotError
from .trust import is_count, open_dir, open_dirs, open_file, shown, trusted

CHUNK_SIZE = 4 * 1024 * 1024
CHUNKS = "chunks"  # the directory of the store that holds them
CHUNK_ID = re.compile(r"[0-9a-f]{64}")  # BLAKE3's hexdigest


def valid_chunk_id(chunk_id: object) -> bool:
    """Whether ``chunk_id`` is a name this store could have given a chunk, and so a safe
    file name: nothing from a manifest becomes a path before passing this."""
    return isinstance(chunk_id, str) and CHUNK_ID.fullmatch(chunk_id) is not None


def valid_chunk_size(size: object) -> bool:
    return is_count(size, CHUNK_SIZE)


def chunk_path(root: Path, chunk_id: str) -> Path:
    if not valid_chunk_id(chunk_id):
        raise SnapshotError(f"{shown(chunk_id)} is not a chunk id")
    return root / CHUNKS / chunk_id[:2] / chunk_id


def slices(data: memoryview) -> list[memoryview]:
    """``data`` cut into chunks; one empty chunk for no data."""
    return [data[o : o + CHUNK_SIZE] for o in range(0, data.nbytes, CHUNK_SIZE)] or [data]


# ---- reading ---------------------------------------------------------------------------------
def open_chunk(root: Path, chunk_id: str) -> int:
    """A read-only descriptor of the chunk file, opened from the checked root through checked
    directories, never through a link, never blocking on a special file."""
    path = chunk_path(root, chunk_id)
    with open_dirs(root, CHUNKS) as (chunks,):
        if chunks is None:
            raise FileNotFoundError(errno.ENOENT, "no chunks directory")
        prefix = open_dir(chunks, chunk_id[:2], path.parent)
        try:
            fd, _info = open_file(prefix, chunk_id, path)
        finally:
            os.close(prefix)
    return fd


def read_chunk(
    root: Path, chunk_id: str, size: int, into: memoryview | None = None
) -> bytes | None:
    """Read and verify one chunk (into ``into`` when given); raises SnapshotError naming the
    problem.

    Reads at most ``size`` + 1 bytes, whatever the file holds.
    """
    if not valid_chunk_id(chunk_id):
        raise SnapshotError(f"{shown(chunk_id)} is not a chunk id")
    if not valid_chunk_size(size) or (into is not None and into.nbytes != size):
        raise SnapshotError(f"chunk {chunk_id[:12]} has an impossible size {shown(size)}")
    try:
        fd = open_chunk(root, chunk_id)
    except FileNotFoundError:
        raise ChunkMissing(f"chunk {chunk_id[:12]} is missing") from None
    except OSError as err:
        raise SnapshotError(f"chunk {chunk_id[:12]} cannot be read: {err.strerror}") from err
    target = into if into is not None else memoryview(bytearray(size))
    try:
        with open(fd, "rb", buffering=0) as handle:
            got = fill(handle, target)
            extra = handle.read(1) if got == size else b""
    except OSError as err:
        raise SnapshotError(f"chunk {chunk_id[:12]} cannot be read: {err.strerror}") from err
    if got != size or extra:
        raise SnapshotError(f"chunk {chunk_id[:12]} is damaged (wrong size)")
    if blake3(target).hexdigest() != chunk_id:
        raise SnapshotError(f"chunk {chunk_id[:12]} is damaged (content does not match its hash)")
    return None if into is not None else bytes(target)


# ---- writing ---------------------------------------------------------------------------------
def write_chunk(
    root: Path, data: memoryview, created: list[Path]
) -> tuple[str, int, int, Path | None]:
    """Write one chunk to a temporary file unless the store has it.

    Returns (id, size, bytes written, temporary file); each temporary file made is added to
    ``created``. The temporary file becomes the chunk in ``make_durable``: one fsync pass
    after all writes lets the disk work on every chunk at once instead of waiting for each in
    turn.
    """
    chunk_id = blake3(data).hexdigest()
    final = chunk_path(root, chunk_id)
    try:
        info = os.lstat(final)
        if info.st_size == data.nbytes and trusted(info):
            return chunk_id, data.nbytes, 0, None
        os.unlink(final)  # a truncated copy, or one no reader accepts: write it again
    except FileNotFoundError:
        pass
    make_private_dirs(final.parent)
    temp = final.parent / f".tmp-{chunk_id[:16]}-{secrets.token_hex(4)}"
    fd = open_for_writing(temp, direct=data.nbytes % DIRECT_ALIGNMENT == 0)
    created.append(temp)
    with kept_or_removed(fd, temp):
        if is_direct(fd):
            # Straight to the disk from a reused, aligned buffer: the page cache would need
            # as much fresh memory as the snapshot, which is slow on many VMs.
            bounce = bounce_buffer(CHUNK_SIZE)[: data.nbytes]
            bounce[:] = data
            view = bounce
        else:
            view = data
        write_all(fd, view)
        start_writeback(fd)
    return chunk_id, data.nbytes, data.nbytes, temp


def make_durable(root: Path, temp: Path, chunk_id: str) -> None:
    """fsync a chunk ``write_chunk`` wrote, then rename it into place."""
    fd = os.open(temp, os.O_RDONLY)
    try:
        os.fsync(fd)
        start_writeback(fd)  # written and synced: drop it from the page cache
    finally:
        os.close(fd)
    os.replace(temp, chunk_path(root, chunk_id))

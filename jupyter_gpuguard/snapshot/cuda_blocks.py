"""A device tensor's bytes as 4 MiB blocks, and a cheap fingerprint of each, computed where
the tensor lives (on its GPU: torch ops only, nothing crosses to the host but 8 bytes a block).

Each block of a tensor's bytes is one chunk of the store (``BLOCK_SIZE`` is ``CHUNK_SIZE``): a
block whose fingerprint matches the last snapshot's reuses that snapshot's chunk, and is
neither copied to the host nor hashed again.

The fingerprint of a block of 64-bit words ``w_i`` is ``sum(lo(w_i) * a_i + hi(w_i) * b_i)``
mod 2**64, ``lo`` the low 32 bits (unsigned), ``hi`` the high 32 bits (signed), ``a_i`` and
``b_i`` fixed random odd numbers. A change confined to one 32-bit half of one word changes
the sum by ``d * a_i`` with ``0 < |d| < 2**32`` and ``a_i`` odd, which is never 0 mod 2**64:
every single-bit change is caught, always. Other changes are missed only when their terms
cancel, about 2**-33 at worst (the same high bit flipped in two halves), 2**-64 for most.
Splitting each word into halves is what keeps sign flips from cancelling in pairs, as they
would with whole 64-bit words times odd numbers (2**63 * odd + 2**63 * odd = 0 mod 2**64).
"""

from __future__ import annotations

from typing import Any

from .chunks import CHUNK_SIZE

BLOCK_SIZE = CHUNK_SIZE
WORDS = BLOCK_SIZE // 8
# Blocks fingerprinted per batch of ops: bounds the temporary memory (about 3x a batch on the
# tensor's device) while keeping the op count per tensor small.
BATCH_BLOCKS = 64
_SEED = 0x6A09E667F3BCC908
_MULTIPLIERS: dict[str, tuple[Any, Any]] = {}


def block_count(nbytes: int) -> int:
    return -(-nbytes // BLOCK_SIZE)


def block_spans(nbytes: int) -> list[tuple[int, int]]:
    """(start, size) of each block of ``nbytes`` bytes; the last may be short."""
    return [(start, min(BLOCK_SIZE, nbytes - start)) for start in range(0, nbytes, BLOCK_SIZE)]


def byte_view(tensor: Any) -> Any:
    """The tensor's bytes as a flat uint8 tensor on its device, in row-major order.

    A view for a contiguous tensor; a non-contiguous one is made contiguous first (a copy on
    its device), and restores contiguous.
    """
    import torch

    flat = tensor.detach()
    if not flat.is_contiguous():
        flat = flat.contiguous()
    flat = flat.reshape(-1)
    if flat.dtype == torch.bool:
        return flat.view(torch.uint8)
    return flat.view(torch.uint8) if flat.dtype != torch.uint8 else flat


def _multipliers(device: Any) -> tuple[Any, Any]:
    import torch

    key = str(device)
    if key not in _MULTIPLIERS:
        generator = torch.Generator().manual_seed(_SEED)
        low = torch.randint(-(2**62), 2**62, (2, WORDS), generator=generator) * 2 + 1
        low = low.to(device)
        _MULTIPLIERS[key] = (low[0].contiguous(), low[1].contiguous())
    return _MULTIPLIERS[key]


def _fingerprint_words(words: Any, a: Any, b: Any) -> Any:
    """One int64 per row of ``words`` (rows of ``WORDS`` int64 words)."""
    low = words & 0xFFFFFFFF
    low.mul_(a)
    high = words >> 32
    high.mul_(b)
    low.add_(high)
    return low.sum(dim=1)


def fingerprints(data: Any, batch_blocks: int = BATCH_BLOCKS) -> Any:
    """The fingerprint of each block of ``data`` (a flat uint8 tensor), as an int64 tensor
    on its device: ``ceil(len / BLOCK_SIZE)`` values, computed in batches of blocks."""
    import torch

    nbytes = int(data.numel())
    count = block_count(nbytes)
    out = torch.empty(count, dtype=torch.int64, device=data.device)
    if count == 0:
        return out
    a, b = _multipliers(data.device)
    full = nbytes // BLOCK_SIZE
    if full:
        body = data[: full * BLOCK_SIZE]
        try:
            words = body.view(torch.int64).view(full, WORDS)
        except RuntimeError:  # an offset not aligned to 8 bytes: an aligned copy
            words = body.clone().view(torch.int64).view(full, WORDS)
        for start in range(0, full, batch_blocks):
            stop = min(full, start + batch_blocks)
            out[start:stop] = _fingerprint_words(words[start:stop], a, b)
    if full < count:
        # The short last block, zero-padded: its length is part of the tensor's key, so a
        # tail that only grows zeros is a different key, not a false match.
        tail = torch.zeros(BLOCK_SIZE, dtype=torch.uint8, device=data.device)
        tail[: nbytes - full * BLOCK_SIZE] = data[full * BLOCK_SIZE :]
        out[full:] = _fingerprint_words(tail.view(torch.int64).view(1, WORDS), a, b)
    return out

"""How much host memory a snapshot may fill with copies of GPU tensors, read before it copies.

The smaller of the kernel's ``MemAvailable`` and what its cgroup still allows (v2
``memory.max - memory.current``, v1 ``memory.limit_in_bytes - memory.usage_in_bytes``): a
pod's container limit is usually far below the machine's RAM, and the OOM killer takes the
kernel, not the snapshot. A margin (``c.GpuGuard.cuda_host_memory_margin``) stays free for
the kernel itself and for the writer's own needs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MARGIN = "10%"
_MARGIN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|[kmgt]i?b?|b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12}
_BINARY = {"k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


@dataclass(frozen=True)
class HostMemory:
    """What the host (and the cgroup) allows: bytes free now, and the size that limits it."""

    available: int
    limit: int
    source: str = "/proc/meminfo"


MemoryReader = Callable[[], HostMemory]


def _meminfo(path: Path) -> dict[str, int]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            values[name] = int(parts[0]) * 1024
    return values


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None  # "max": no limit


def _cgroup_room(root: Path) -> tuple[int, int] | None:
    """(limit, room left) of this process's cgroup, v2 then v1; None without a limit."""
    v2 = (root / "memory.max", root / "memory.current")
    v1 = (root / "memory" / "memory.limit_in_bytes", root / "memory" / "memory.usage_in_bytes")
    for limit_path, used_path in (v2, v1):
        limit, used = _read_int(limit_path), _read_int(used_path)
        # v1 says "no limit" with a number near 2**63
        if limit is not None and used is not None and limit < 2**60:
            return limit, max(0, limit - used)
    return None


def _own_cgroup(proc: Path, cgroup: Path) -> Path:
    """This process's cgroup directory (v2), else the mount's root (a container's own)."""
    try:
        for line in (proc / "self" / "cgroup").read_text().splitlines():
            if line.startswith("0::/"):
                own = cgroup / line[4:].strip()
                if (own / "memory.max").exists():
                    return own
    except OSError:
        pass
    return cgroup


def read_host_memory(
    proc: Path = Path("/proc"), cgroup: Path = Path("/sys/fs/cgroup")
) -> HostMemory:
    """The host's memory as this process may use it now."""
    info = _meminfo(proc / "meminfo")
    total = info.get("MemTotal", 0)
    available = info.get("MemAvailable", info.get("MemFree", 0))
    cgroup = _own_cgroup(proc, cgroup)
    room = _cgroup_room(cgroup)
    if room is not None and room[1] < available:
        return HostMemory(room[1], min(total or room[0], room[0]), f"cgroup {cgroup}")
    return HostMemory(available, total)


def parse_margin(text: str) -> tuple[float, int]:
    """``"10%"`` -> (0.10, 0); ``"4GiB"``, ``"2G"``, ``"1000000"`` -> (0, bytes). Raises
    ValueError with the accepted forms."""
    match = _MARGIN.match(str(text))
    if match is None:
        raise ValueError(
            f"{str(text)[:40]!r} is not a memory margin: give a percent ('10%') or bytes "
            "('4GiB', '2G', '1000000')"
        )
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    if unit == "%":
        if number > 100:
            raise ValueError(f"a margin of {number:g}% leaves no memory for anything")
        return number / 100, 0
    scale = _BINARY[unit[0]] if "i" in unit else _UNITS[unit[:1]]
    return 0.0, int(number * scale)


def allowance(memory: HostMemory, margin: str) -> int:
    """Bytes a snapshot may copy to the host now: what is free less the margin."""
    fraction, fixed = parse_margin(margin)
    keep = fixed + int(fraction * memory.limit)
    return max(0, memory.available - keep)


def describe(nbytes: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{nbytes} bytes"

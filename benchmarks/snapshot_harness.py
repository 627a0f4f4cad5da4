"""Helpers for bench_snapshot.py: real kernels, memory sampling, disk speed, machine facts.

Linux only: memory is read from /proc (see tree_memory) and caches are dropped per file with
posix_fadvise(POSIX_FADV_DONTNEED).
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import platform
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
GiB = 1024 * MiB
# The Kishu release series this benchmark drives (its checkout and head are reached through
# the instrument ``init_kishu`` puts in the namespace, as its CLI does).
KISHU_REQUIREMENT = "kishu>=0.3.4,<0.4"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# ---- formatting ------------------------------------------------------------------------------
def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "–"
    if n < 1024:
        return f"{n:.0f} B"
    if n < MiB:
        return f"{n / 1024:.1f} KiB"
    if n < GiB:
        return f"{n / MiB:.1f} MiB"
    return f"{n / GiB:.2f} GiB"


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 0.1:
        return f"{seconds * 1000:.1f} ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def fmt_rate(bytes_per_second: float | None) -> str:
    return "–" if bytes_per_second is None else f"{bytes_per_second / MiB:,.0f} MiB/s"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


# ---- kernels -----------------------------------------------------------------------------------
class CellError(RuntimeError):
    """A cell raised, the kernel died, or it did not answer in time."""


def write_kernelspec(directory: Path, name: str, python: str) -> None:
    spec = directory / name
    spec.mkdir(parents=True, exist_ok=True)
    argv = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": name, "language": "python"})
    )


@dataclass
class Cell:
    stdout: str
    wall_s: float
    bench: dict[str, Any] = field(default_factory=dict)


class Kernel:
    """One ipykernel started through jupyter_client, as a notebook server would start it.

    The connection file is named ``kernel-<id>.json`` like Jupyter Server's, which is how
    tools running in the kernel learn their kernel id.
    """

    def __init__(
        self,
        spec_name: str,
        spec_dir: Path,
        runtime_dir: Path,
        cwd: Path,
        log_path: Path,
        env: dict[str, str] | None = None,
    ) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        runtime_dir.mkdir(parents=True, exist_ok=True)
        cwd.mkdir(parents=True, exist_ok=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in close()
        self.manager = KernelManager(
            kernel_name=spec_name,
            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_dir)]),
            connection_file=str(runtime_dir / f"kernel-{uuid.uuid4()}.json"),
        )
        self.manager.start_kernel(
            env={**os.environ, **(env or {})},
            cwd=str(cwd),
            stdout=self._log,
            stderr=self._log,
        )
        self.client = self.manager.client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=120)
            self.pid = int(self.run("print(__import__('os').getpid())").stdout.split()[-1])
        except (RuntimeError, ValueError, IndexError) as err:
            tail = self.log_tail()
            self.close()
            raise CellError(f"the kernel did not start: {err}{tail}") from err

    def log_tail(self, lines: int = 15) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError:
            return ""
        return ("\nkernel log:\n  " + "\n  ".join(text)) if text else ""

    def run(self, code: str, timeout: float = 1800.0) -> Cell:
        """Execute ``code`` as a notebook cell; returns its stdout and its wall time as the
        client sees it (request sent -> reply and idle status received). Lines of the form
        ``BENCH {json}`` are merged into ``Cell.bench``."""
        out: list[str] = []
        errors: list[str] = []
        started = time.perf_counter()
        msg_id = self.client.execute(code, store_history=True, allow_stdin=False)
        deadline = started + timeout
        idle = False
        while not idle:
            try:
                message = self.client.get_iopub_msg(timeout=0.5)
            except queue.Empty:
                if not self.manager.is_alive():
                    raise CellError(f"the kernel died running:\n{code}{self.log_tail()}") from None
                if time.perf_counter() > deadline:
                    raise CellError(f"no answer in {timeout:.0f} s to:\n{code}") from None
                continue
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "stream":
                (out if content["name"] == "stdout" else errors).append(content["text"])
            elif kind == "error":
                errors.append(ANSI.sub("", "\n".join(content["traceback"])))
            elif kind in ("execute_result", "display_data"):
                out.append(content["data"].get("text/plain", "") + "\n")
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        while True:
            reply = self.client.get_shell_msg(timeout=60)
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
        wall = time.perf_counter() - started
        if reply["content"]["status"] != "ok":
            raise CellError(f"cell failed:\n{code}\n{''.join(errors)[-3000:]}")
        stdout = "".join(out)
        bench: dict[str, Any] = {}
        for line in stdout.splitlines():
            if line.startswith("BENCH "):
                bench.update(json.loads(line[6:]))
        return Cell(stdout, wall, bench)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_channels()
        with contextlib.suppress(Exception):
            if self.manager.has_kernel:
                self.manager.shutdown_kernel(now=True)
        with contextlib.suppress(Exception):
            self.manager.cleanup_resources()
        self._log.close()


def timed(code: str) -> str:
    """``code`` wrapped so that the kernel prints its own run time (``body_s``) and the wall
    clock at its end (``end``), without adding a variable to the user's namespace."""
    clock = "__import__('time')"
    return (
        f"__import__('sys')._bench_t0 = {clock}.perf_counter()\n"
        f"{code}\n"
        f"print('BENCH', __import__('json').dumps({{"
        f"'body_s': {clock}.perf_counter() - __import__('sys')._bench_t0, "
        f"'end': {clock}.time()}}))"
    )


# ---- memory ------------------------------------------------------------------------------------
def _children_by_scan() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                parent = int(handle.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    return children


def _descendants(pid: int) -> list[int]:
    """Children, grandchildren... of ``pid``: from /proc/<pid>/task/<tid>/children, or by
    scanning /proc where the kernel does not provide those files."""
    scanned = None if os.path.exists(f"/proc/{pid}/task/{pid}/children") else _children_by_scan()
    found: list[int] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        children: list[int] = []
        if scanned is not None:
            children = scanned.get(parent, [])
        else:
            try:
                for task in os.listdir(f"/proc/{parent}/task"):
                    with open(f"/proc/{parent}/task/{task}/children") as handle:
                        children += [int(c) for c in handle.read().split()]
            except OSError:
                continue
        found += children
        stack += children
    return found


PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def process_rss(pid: int) -> int:
    """Resident memory of one process from /proc/<pid>/statm: kernel counters, read without
    taking the process's memory-map lock (a page-table walk would hold up its fork)."""
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def process_private(pid: int) -> int:
    """Pages that only this process maps (USS), from /proc/<pid>/smaps_rollup; RSS where that
    file is missing; 0 once the process is gone."""
    total = None
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith(("Private_Clean:", "Private_Dirty:")):
                    total = (total or 0) + int(line.split()[1]) * 1024
    except OSError:
        pass
    return process_rss(pid) if total is None else total


def tree_memory(pid: int) -> int:
    """Physical memory of ``pid`` and its descendants (e.g. a forked snapshot child): the
    RSS of ``pid`` plus the private pages of each descendant. Pages a child shares
    copy-on-write with ``pid`` are counted once, in ``pid``'s RSS; a page copied on a write,
    by either side, shows up as a child's private page."""
    return process_rss(pid) + sum(process_private(p) for p in _descendants(pid))


class MemorySampler:
    """Samples the memory of a process tree from a thread, every 10 ms (slower only when one
    reading takes longer than 5 ms, so that sampling never takes more than half a core)."""

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self.baseline = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> MemorySampler:
        self.baseline = tree_memory(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            begin = time.perf_counter()
            self.samples.append((time.time(), tree_memory(self.pid)))
            spent = time.perf_counter() - begin
            self._stop.wait(max(self.interval, 2 * spent) - spent)

    def value_at(self, moment: float) -> int:
        """The last sample taken at or before ``moment`` (the baseline if none)."""
        before = [v for t, v in self.samples if t <= moment]
        return before[-1] if before else self.baseline

    def peak(self, since: float = 0.0) -> int:
        values = [v for t, v in self.samples if t >= since]
        return max(values) if values else self.baseline

    def peak_extra(self) -> int:
        return max(0, self.peak() - self.baseline)


# ---- disk --------------------------------------------------------------------------------------
def evict(path: Path) -> None:
    """Make every file under ``path`` durable, then drop it from the page cache."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        try:
            fd = os.open(file, os.O_RDONLY)
        except OSError:
            continue
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        except OSError:
            pass
        finally:
            os.close(fd)


def fsync_path(path: Path) -> float:
    begin = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - begin


def tree_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def _sequential(path: Path, size: int, block: int) -> tuple[float, float]:
    pattern = [os.urandom(block) for _ in range(4)]  # not compressible, not one block repeated
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        begin = time.perf_counter()
        for index in range(size // block):
            view = memoryview(pattern[index % len(pattern)])
            while view.nbytes:
                view = view[os.write(fd, view) :]
        os.fsync(fd)
        write_s = time.perf_counter() - begin
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    buffer = bytearray(block)
    with open(path, "rb", buffering=0) as handle:
        os.posix_fadvise(handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
        begin = time.perf_counter()
        while handle.readinto(buffer):
            pass
        read_s = time.perf_counter() - begin
    path.unlink()
    return write_s, read_s


def disk_speed(directory: Path, size: int, runs: int = 3, block: int = 8 * MiB) -> dict[str, Any]:
    """Sequential write (large writes, then fsync, all timed) and sequential read (after
    dropping the file from the page cache) of one ``size``-byte file in ``directory``; the
    best of ``runs``."""
    directory.mkdir(parents=True, exist_ok=True)
    times = [_sequential(directory / "sequential.bin", size, block) for _ in range(runs)]
    write_s = min(w for w, _ in times)
    read_s = min(r for _, r in times)
    return {
        "bytes": size,
        "runs": runs,
        "write_s": [w for w, _ in times],
        "read_s": [r for _, r in times],
        "write_bps": size / write_s,
        "read_bps": size / read_s,
    }


def first_touch_speed(size: int = GiB, block: int = 8 * MiB) -> float:
    """Bytes per second at which fresh anonymous memory is faulted in and written. Low on
    virtual machines that hand free memory back to the host (free page reporting): there
    every new allocation, page-cache page and copy-on-write copy pays it."""
    area = mmap.mmap(-1, size)
    data = b"\x01" * block
    try:
        begin = time.perf_counter()
        for offset in range(0, size, block):
            area[offset : offset + block] = data
        return size / (time.perf_counter() - begin)
    finally:
        area.close()


def warm_free_memory(size: int) -> None:
    """Fault ``size`` bytes of memory in and free them again, just before a restore.

    On a virtual machine that hands free memory back to its host, memory the guest freed a
    moment ago is fast to touch and memory it reported long ago is slow. Without this, each
    contender's restore would run at whatever speed the previous step left behind (the first
    one to restore pays, the next reuses the memory the last kernel freed): every contender
    gets the same warm start instead. ``size`` is capped at half the available memory.
    """
    available = size
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemAvailable:"):
            available = int(line.split()[1]) * 1024 // 2
    size = max(0, min(size, available))
    area = mmap.mmap(-1, size) if size else None
    if area is None:
        return
    block = b"\x01" * (8 * MiB)
    try:
        for offset in range(0, size - len(block) + 1, len(block)):
            area[offset : offset + len(block)] = block
    finally:
        area.close()


# ---- the machine -------------------------------------------------------------------------------
def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def filesystem_of(directory: Path) -> dict[str, Any]:
    real = os.path.realpath(directory)
    best: dict[str, Any] = {"mount": "?", "fstype": "?", "source": "?"}
    longest = -1
    for line in _read("/proc/self/mountinfo").splitlines():
        left, _, right = line.partition(" - ")
        fields, rest = left.split(), right.split()
        if len(fields) < 5 or len(rest) < 2:
            continue
        mount = fields[4].replace("\\040", " ")
        inside = real == mount or real.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= longest:
            longest = len(mount)
            best = {"mount": mount, "fstype": rest[0], "source": rest[1]}
    source = str(best["source"])
    device = os.path.basename(source)
    if source.startswith("/dev/") and device:
        block = Path("/sys/class/block") / device
        parent = block.resolve().parent.name if (block / "partition").exists() else device
        best["model"] = _read(f"/sys/class/block/{parent}/device/model") or None
        rotational = _read(f"/sys/class/block/{parent}/queue/rotational")
        best["rotational"] = rotational == "1" if rotational else None
    usage = shutil.disk_usage(directory)
    best["free_bytes"] = usage.free
    best["total_bytes"] = usage.total
    return best


def machine(directory: Path) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = 0
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            memory = int(line.split()[1]) * 1024
    versions = {}
    for name in ("jupyter_gpuguard", "numpy", "pandas", "dill", "blake3", "ipykernel"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    thp = _read("/sys/kernel/mm/transparent_hugepage/enabled")
    thp_mode = re.search(r"\[(\w+)\]", thp)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": memory,
        "os": f"{platform.system()} {platform.release()}",
        "transparent_hugepages": thp_mode.group(1) if thp_mode else None,
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "versions": versions,
        "filesystem": filesystem_of(directory),
    }


# ---- Kishu's environment -----------------------------------------------------------------------
def python_can_import(python: str, module: str, env: dict[str, str] | None = None) -> str | None:
    """The module's version when ``python`` can import it, else None."""
    code = f"import {module}, importlib.metadata as m\nprint(m.version({module!r}))"
    try:
        done = subprocess.run(
            [python, "-c", code],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, **(env or {})},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip().splitlines()[-1] if done.returncode == 0 and done.stdout else None


def kishu_python(venv_dir: Path, log) -> tuple[str | None, str]:
    """A Python that can run Kishu in a kernel: this one if it imports kishu, else a venv made
    under the benchmark directory (seeing this Python's packages, so numpy, pandas and
    ipykernel are the same versions) with KISHU_REQUIREMENT installed. Returns (python, note)
    or (None, why not)."""
    # importing kishu creates its config directory under $KISHU_PATH_ROOT (default: home)
    home = {"KISHU_PATH_ROOT": str(venv_dir.parent / "kishu-home")}
    found = python_can_import(sys.executable, "kishu", home)
    if found:
        return sys.executable, f"kishu {found}, imported from this Python"
    log("kishu is not importable here: trying it in a venv under the benchmark directory")
    python = str(venv_dir / "bin" / "python")
    try:
        subprocess.run(
            [sys.executable, "-m", "venv", "--system-site-packages", str(venv_dir)],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
        subprocess.run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                KISHU_REQUIREMENT,
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=900,
        )
    except subprocess.CalledProcessError as err:
        lines = (err.stderr or err.stdout or "").strip().splitlines()
        reason = lines[-1] if lines else f"exit status {err.returncode}"
        return None, f"kishu could not be installed, here or in a venv: {reason[:200]}"
    except (OSError, subprocess.TimeoutExpired) as err:
        return None, f"kishu could not be installed, here or in a venv: {err}"
    found = python_can_import(python, "kishu", home)
    if not found:
        return None, "kishu was installed in a venv but cannot be imported there"
    if not python_can_import(python, "ipykernel"):
        return None, "the venv made for kishu has no ipykernel"
    return python, f"kishu {found}, in a venv made for this run (not importable here)"

"""What a snapshot of GPU tensors costs the kernel: jupyter-gpuguard against torch.save of the
same tensors, in one run.

Workloads, on one GPU (sizes times ``--scale``):
  (a) 16 GiB of weights (16 tensors of 1 GiB, bfloat16), snapshotted twice with nothing
      changed in between (the frozen base of a LoRA fine-tune);
  (b) the same weights with 1 % of their bytes changed (one contiguous stretch, as an
      adapter's tensors would be);
  (c) 8 GiB of Adam state (exp_avg, exp_avg_sq: 8 float32 tensors of 1 GiB), all changed.
For each: the kernel's pause when no cell starts (the fork), the pause when a cell starts at
once (the fork plus the wait for the copy left), bytes copied to host memory, bytes written
to the store, and the snapshot's wall time. torch.save of the same tensors to a file in the
same directory is the peer: it blocks the kernel for all of it. The device-to-host bandwidth
of this machine (into pinned memory) is measured too, for the target "pause <= the changed
bytes at 80 % of the copy bandwidth".

The kernel side runs in this process on a real IPython shell, as in a kernel: the snapshot
forks, the copy runs on a thread of this process, the writer in the child.

    python benchmarks/bench_cuda.py                   # on a GPU: full size, 2-3 minutes
    python benchmarks/bench_cuda.py --scale 0.01      # anywhere: CPU tensors stand in
    python benchmarks/bench_cuda.py --device cpu --scale 0.01 --json out.json --markdown out.md

Needs about 24 GiB x scale of GPU memory, as much host memory again, and 35 GiB x scale of
free disk under ``--dir`` (default: a temporary directory under /tmp, removed at the end;
only the newest snapshot is kept between measurements).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

GiB = 2**30
MiB = 2**20
PAUSE_TARGET_S = 0.050
UNCHANGED_COPIED_TARGET = 0.01
BANDWIDTH_SHARE = 0.80

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.2f} {unit}"
    return f"{n:.0f} B"


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def synchronize(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def bandwidth(device: str, nbytes: int) -> float:
    """Device -> host copy speed into reused pinned memory (a plain copy on the CPU)."""
    import torch

    source = torch.ones(nbytes, dtype=torch.uint8, device=device)
    target = torch.empty(nbytes, dtype=torch.uint8, pin_memory=device.startswith("cuda"))
    best = float("inf")
    for _ in range(3):
        synchronize(device)
        started = time.perf_counter()
        target.copy_(source, non_blocking=True)
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return nbytes / best


class Bench:
    def __init__(self, directory: Path, device: str) -> None:
        from IPython.core.interactiveshell import InteractiveShell

        from jupyter_gpuguard.snapshot import Store
        from jupyter_gpuguard.snapshot.kernel import KernelSnapshots

        self.directory = directory
        self.device = device
        self.shell = InteractiveShell.instance()
        self.snapshots = KernelSnapshots(self.shell, Store(directory / "store"))
        if device == "cpu":
            self.snapshots.devices.stand_in = "cpu"  # CPU tensors take the GPU path
        self.rows: list[dict[str, Any]] = []

    def snapshot(self, workload: str, label: str, cell_at_once: bool) -> dict[str, Any]:
        synchronize(self.device)
        started = time.perf_counter()
        job = self.snapshots.snapshot()
        fork_pause = job.pause_seconds
        if cell_at_once:
            self.shell.run_cell("pass", store_history=False)  # waits for the copy left
        job.wait(3600)
        if job.error:
            raise RuntimeError(f"{workload} {label}: {job.error}")
        device = job.device() or {}
        # only the newest is kept (its chunks are what the next one reuses): the store stays
        # within the disk of a GPU machine at full size
        self.snapshots.store.prune(keep=1)
        row = {
            "workload": workload,
            "contender": f"jupyter-gpuguard, {label}",
            "pause_no_cell_s": fork_pause,
            "pause_cell_at_once_s": job.pause_seconds if cell_at_once else None,
            "bytes": device.get("bytes"),
            "bytes_copied": device.get("bytes_copied"),
            "bytes_written": job.info.bytes_written,
            "wall_s": time.perf_counter() - started,
            "fingerprint_s": device.get("fingerprint_seconds"),
            "copy_s": device.get("copy_seconds"),
        }
        self.rows.append(row)
        print(
            f"  {workload:<22} {label:<34} pause {fmt_time(fork_pause):>9} "
            f"copied {fmt_bytes(row['bytes_copied']):>10} "
            f"written {fmt_bytes(row['bytes_written']):>10} wall {fmt_time(row['wall_s'])}",
            flush=True,
        )
        return row

    def torch_save(self, workload: str, tensors: dict[str, Any]) -> dict[str, Any]:
        import torch

        path = self.directory / "torch-save.pt"
        synchronize(self.device)
        started = time.perf_counter()
        torch.save(tensors, path)
        with open(path, "rb+") as handle:
            os.fsync(handle.fileno())  # as durable as a snapshot
        elapsed = time.perf_counter() - started
        size = path.stat().st_size
        path.unlink()
        total = sum(int(t.numel()) * t.element_size() for t in tensors.values())
        row = {
            "workload": workload,
            "contender": "torch.save (blocks the kernel)",
            "pause_no_cell_s": elapsed,
            "pause_cell_at_once_s": elapsed,
            "bytes": total,
            "bytes_copied": total,
            "bytes_written": size,
            "wall_s": elapsed,
        }
        self.rows.append(row)
        print(
            f"  {workload:<22} {'torch.save':<34} pause {fmt_time(elapsed):>9} "
            f"written {fmt_bytes(size):>10}",
            flush=True,
        )
        return row


def run(scale: float, device: str, directory: Path) -> dict[str, Any]:
    import torch

    bench = Bench(directory, device)
    ns = bench.shell.user_ns
    unit = max(4 * MiB, int(GiB * scale) // 4096 * 4096)  # one tensor's bytes
    speed = bandwidth(device, min(unit, GiB))
    print(f"device -> host copy: {speed / GiB:.1f} GiB/s", flush=True)
    generator = torch.Generator(device=device).manual_seed(0)

    weights = {
        f"w{i}": torch.randn(unit // 2, device=device, generator=generator, dtype=torch.float32).to(
            torch.bfloat16
        )
        for i in range(16)
    }
    ns.update(weights)
    workload = f"(a) {fmt_bytes(16 * unit)} weights"
    bench.snapshot(workload, "first snapshot (all copied)", cell_at_once=False)
    unchanged = bench.snapshot(workload, "unchanged, no cell", cell_at_once=False)
    bench.snapshot(workload, "unchanged, a cell at once", cell_at_once=True)
    saved_whole = bench.torch_save(workload, weights)

    workload = f"(b) {fmt_bytes(16 * unit)}, 1 % changed"
    stretch = int(0.01 * 16 * unit) // 2  # bfloat16 elements: 1 % of the bytes
    changed_rows = []
    for label, at_once in (("1 % changed, no cell", False), ("1 % changed, a cell at once", True)):
        weights["w3"][:stretch].add_(1)
        changed_rows.append(bench.snapshot(workload, label, cell_at_once=at_once))
    # torch.save writes every byte whatever changed: (a)'s measurement, not taken again (it
    # would cost the GPU machine's run another 16 GiB written)
    bench.rows.append({**saved_whole, "workload": workload, "contender": "torch.save (as in (a))"})

    adam = {
        f"exp_avg{i}": torch.zeros(unit // 4, device=device, dtype=torch.float32) for i in range(4)
    } | {
        f"exp_avg_sq{i}": torch.zeros(unit // 4, device=device, dtype=torch.float32)
        for i in range(4)
    }
    ns.update(adam)
    workload = f"(c) {fmt_bytes(8 * unit)} Adam state, all changed"
    adam_rows = []
    for label, at_once in (("all changed, no cell", False), ("all changed, a cell at once", True)):
        for tensor in adam.values():
            tensor.mul_(0.9).add_(0.1)
        adam_rows.append(bench.snapshot(workload, label, cell_at_once=at_once))
    bench.torch_save(workload, adam)

    targets = {
        "unchanged_pause_s": unchanged["pause_no_cell_s"],
        "unchanged_pause_ok": unchanged["pause_no_cell_s"] <= PAUSE_TARGET_S,
        "unchanged_copied_share": unchanged["bytes_copied"] / unchanged["bytes"],
        "unchanged_copied_ok": unchanged["bytes_copied"] / unchanged["bytes"]
        < UNCHANGED_COPIED_TARGET,
    }
    for name, row in (("one_percent", changed_rows[1]), ("adam", adam_rows[1])):
        bound = row["bytes_copied"] / (BANDWIDTH_SHARE * speed)
        targets[f"{name}_pause_s"] = row["pause_cell_at_once_s"]
        targets[f"{name}_bound_s"] = bound
        targets[f"{name}_pause_ok"] = row["pause_cell_at_once_s"] <= max(bound, PAUSE_TARGET_S)
    ns.clear()
    return {"rows": bench.rows, "bandwidth": speed, "targets": targets}


def describe_machine(device: str) -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if device.startswith("cuda") else "none (CPU stand-in)"
    return (
        f"GPU: {gpu}; CPU: {cpu}, {os.cpu_count()} cores; torch {torch.__version__}; "
        f"Python {sys.version.split()[0]}; {platform.system()} {platform.release()}"
    )


def markdown(result: dict[str, Any], title: str) -> str:
    header = [
        "workload",
        "contender",
        "pause, no cell",
        "pause, a cell at once",
        "copied to host",
        "written",
        "fingerprints + copy",
        "wall",
    ]
    lines = [f"**{title}**", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in result["rows"]:
        cells = [
            row["workload"],
            row["contender"],
            fmt_time(row["pause_no_cell_s"]),
            fmt_time(row["pause_cell_at_once_s"]),
            fmt_bytes(row["bytes_copied"]),
            fmt_bytes(row["bytes_written"]),
            fmt_time(row.get("copy_s")),
            fmt_time(row["wall_s"]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    t = result["targets"]
    lines += [
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| pause <= 50 ms, nothing changed | {fmt_time(t['unchanged_pause_s'])} | "
        f"{'yes' if t['unchanged_pause_ok'] else 'no'} |",
        f"| < 1 % copied, nothing changed | {t['unchanged_copied_share'] * 100:.2f} % | "
        f"{'yes' if t['unchanged_copied_ok'] else 'no'} |",
        f"| 1 % changed, a cell at once: pause <= 50 ms or the changed bytes at 80 % of "
        f"{result['bandwidth'] / GiB:.1f} GiB/s ({fmt_time(t['one_percent_bound_s'])}) | "
        f"{fmt_time(t['one_percent_pause_s'])} | {'yes' if t['one_percent_pause_ok'] else 'no'} |",
        f"| Adam state, a cell at once: pause <= 50 ms or the changed bytes at 80 % "
        f"of the bandwidth "
        f"({fmt_time(t['adam_bound_s'])}) | {fmt_time(t['adam_pause_s'])} | "
        f"{'yes' if t['adam_pause_ok'] else 'no'} |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="times the sizes (1: 16+8 GiB)")
    parser.add_argument("--device", default=None, help="cuda (default when there is one) or cpu")
    parser.add_argument("--dir", type=Path, default=None, help="where the store and files go")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()
    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda":
        device = "cuda:0"
    base = Path(tempfile.mkdtemp(prefix="bench-cuda-", dir=args.dir))
    try:
        started = time.perf_counter()
        result = run(args.scale, device, base)
        result["machine"] = describe_machine(device)
        result["scale"] = args.scale
        result["seconds"] = time.perf_counter() - started
    finally:
        shutil.rmtree(base, ignore_errors=True)
    kind = "GPU run" if device.startswith("cuda") else "CPU smoke run (CPU tensors stand in)"
    title = f"{kind}, scale {args.scale:g}: {result['machine']}"
    table = markdown(result, title)
    print()
    print(table)
    print(f"\n({result['seconds']:.0f} s in all)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.markdown:
        args.markdown.write_text(table + "\n")


if __name__ == "__main__":
    main()

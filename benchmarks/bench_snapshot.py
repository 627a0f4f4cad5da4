"""What a snapshot of a kernel's variables costs: jupyter-gpuguard, dill and Kishu in one run.

Every contender works on real ipykernels started through jupyter_client, the way a user
would use it in a notebook:

  * jupyter-gpuguard: ``%load_ext jupyter_gpuguard``, then ``%gpuguard snapshot`` (a fork; the
    child writes in the background) and ``%gpuguard restore`` in a fresh kernel;
  * dill: a cell running ``dill.dump_module(path)``, and ``dill.load_module(path)`` in a fresh
    kernel;
  * Kishu: ``init_kishu()``, after which every cell is committed by Kishu's post-cell hook,
    and Kishu's checkout in a fresh kernel.

Workloads: (a) 8 x 256 MiB float64 arrays (2 GiB); (b) a 5-million-row DataFrame of mixed
dtypes; (c) 500,000 small dicts in a list; (d) two 80 MB arrays in a shared list
(``l = [a, b]``), then one element of ``a`` changed; (e) a fitted scikit-learn random forest
of 1,000 trees (thousands of arrays of a few bytes each). For each: kernel pause, snapshot wall
time, bytes written (first snapshot, a second with nothing changed, after the change),
restore time into a fresh kernel (checked with a checksum of the restored data) and peak
extra memory. Also measured in the same directory: sequential write and read speed, and how
much a cell rewriting the 2 GiB of (a) slows while a snapshot is being written.

    pip install -e ".[test]" && pip install -r benchmarks/requirements.txt
    python benchmarks/bench_snapshot.py [--quick] [--dir DIR] [--only a,b] \\
        [--peers dill,kishu] [--json out.json]

``--dir`` must be on the disk you care about: the snapshots, the disk speed test and Kishu's
database all go there (on RunPod: ``--dir /workspace/bench``, the volume that holds the
snapshot store by default, not the container disk). A temporary directory is made inside it
and removed at the end; the default is one under /tmp. A full run takes about 7 minutes on
2 cores (well under 15) and needs about 8 GiB of memory and 6 GiB of free disk; ``--quick``
(128 MiB, 200k rows, 50k dicts, 8 MB arrays) takes a minute or two.

If kishu cannot be imported by this Python, it is installed into a venv made under the
benchmark directory (``--system-site-packages``, so numpy and pandas are the same) with an
ipykernel kernelspec of its own; if that fails too, its rows say why. Linux only: memory
is the kernel's RSS plus the private pages (from /proc/<pid>/smaps_rollup) of its children,
which counts the pages a forked child shares copy-on-write with the kernel once.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from snapshot_harness import (
    GiB,
    Kernel,
    MemorySampler,
    MiB,
    disk_speed,
    evict,
    first_touch_speed,
    fmt_bytes,
    fmt_rate,
    fmt_time,
    fsync_path,
    kishu_python,
    machine,
    markdown_table,
    timed,
    tree_size,
    warm_free_memory,
    write_kernelspec,
)

PAUSE_TARGET_S = 0.010
WRITE_TARGET = 0.70
UNCHANGED_TARGET = 0.01
CHANGE_TARGET_BYTES = 8 * MiB
RESTORE_TARGET = 0.70
PEERS = ("dill", "kishu")
NAMES = {"gpuguard": "jupyter-gpuguard", "dill": "dill.dump_module", "kishu": "Kishu"}

# ---- workloads -----------------------------------------------------------------------------------

# Run with exec() in a dict of its own, so that checking the data adds nothing to the namespace
# that the next snapshot would save.
HASH_PRELUDE = """
import hashlib, json
try:
    from blake3 import blake3 as _new
except ImportError:
    _new = hashlib.sha256
_h = _new()
def _add(data):
    if isinstance(data, str):
        data = data.encode()
    _h.update(memoryview(data).cast("B"))
_extra = {}
"""
HASH_END = """
print("BENCH", json.dumps({"checksum": _h.hexdigest(), **_extra}))
"""


@dataclass
class Workload:
    key: str
    title: str
    create: str
    checksum: str
    change: str | None = None
    rewrite: str | None = None


def workloads(quick: bool) -> list[Workload]:
    count = 8
    elements = (16 if quick else 256) * MiB // 8
    rows = 200_000 if quick else 5_000_000
    dicts = 50_000 if quick else 500_000
    shared = 1_000_000 if quick else 10_000_000
    trees = 100 if quick else 1000
    arrays = [f"a{i}" for i in range(count)]
    create_a = f"import numpy as np\na0 = np.random.default_rng(0).random({elements})\n"
    create_a += "".join(f"a{i} = a0 + {10 * i}.0\n" for i in range(1, count))
    return [
        Workload(
            key="a",
            title=f"(a) numpy: {count} x {fmt_bytes(elements * 8)} float64 arrays "
            f"({fmt_bytes(count * elements * 8)})",
            create=create_a,
            checksum=f"""
for name in {arrays!r}:
    array = ns[name]
    _add(f"{{name}}:{{array.dtype}}:{{array.shape}}")
    _add(array)
""",
            rewrite="".join(f"{name} += 1.0\n" for name in arrays),
        ),
        Workload(
            key="b",
            title=f"(b) pandas: DataFrame of {rows:,} rows "
            "(int64, float64, string, category, datetime64)",
            create=f"""
import numpy as np, pandas as pd
df = pd.DataFrame({{
    "id": np.arange({rows}, dtype=np.int64),
    "value": np.random.default_rng(1).standard_normal({rows}),
    "name": "user-" + pd.Series(np.arange({rows}) % 100_000).astype(str),
    "city": pd.Categorical.from_codes(
        np.arange({rows}) % 50, categories=[f"city-{{i:02d}}" for i in range(50)]
    ),
    "when": pd.date_range("2024-01-01", periods={rows}, freq="s"),
}})
""",
            checksum="""
import pandas as pd
frame = ns["df"]
_add(repr(list(frame.columns)) + repr([str(t) for t in frame.dtypes]) + repr(frame.shape))
_add(repr(list(frame["city"].cat.categories)))
_add(pd.util.hash_pandas_object(frame, index=True).to_numpy())
_extra["dtypes"] = [str(t) for t in frame.dtypes]
""",
        ),
        Workload(
            key="c",
            title=f"(c) {dicts:,} small dicts in a list",
            create=f"""
records = [{{"id": i, "name": f"item-{{i}}", "score": i * 0.25, "ok": i % 3 == 0}}
           for i in range({dicts})]
""",
            checksum="""
_add(json.dumps(ns["records"], sort_keys=True, separators=(",", ":")))
_extra["count"] = len(ns["records"])
""",
        ),
        Workload(
            key="d",
            title=f"(d) two {shared * 8 / 1e6:.0f} MB arrays in a shared list (l = [a, b]), "
            "then one element of a changed",
            create=f"""
import numpy as np
a = np.random.default_rng(3).random({shared})
b = np.random.default_rng(4).random({shared})
l = [a, b]
""",
            checksum="""
a, b, l = ns["a"], ns["b"], ns["l"]
_extra["shared"] = l[0] is a and l[1] is b
_add(f"shared={_extra['shared']}")
_add(a)
_add(b)
""",
            change="a[len(a) // 2] += 1.0",
        ),
        Workload(
            key="e",
            title=f"(e) scikit-learn: a fitted random forest of {trees:,} trees "
            "(thousands of small arrays)",
            create=f"""
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
features, labels = make_classification(n_samples=4000, n_features=20, random_state=0)
forest = RandomForestClassifier(n_estimators={trees}, max_depth=10, random_state=0, n_jobs=-1)
forest.fit(features, labels)
forest.set_params(n_jobs=1)  # so that predictions add up in one order, for the checksum
""",
            checksum="""
forest, features = ns["forest"], ns["features"]
_add(forest.predict_proba(features[:500]).tobytes())
_extra["nodes"] = sum(tree.tree_.node_count for tree in forest.estimators_)
_add(str(_extra["nodes"]))
""",
        ),
    ]


def checksum(kernel: Kernel, workload: Workload) -> dict[str, Any]:
    code = HASH_PRELUDE + workload.checksum + HASH_END
    return kernel.run(f"exec({code!r}, {{'ns': globals()}})").bench


# ---- the run ---------------------------------------------------------------------------------
class Context:
    def __init__(self, root: Path, quick: bool) -> None:
        self.root = root
        self.quick = quick
        self.specs = root / "kernelspecs"
        self.runtime = root / "runtime"
        self.logs = root / "logs"
        self.kernels: list[Kernel] = []
        self.started = time.monotonic()
        self.kishu_note = "not requested"
        write_kernelspec(self.specs, "bench-python", sys.executable)

    def log(self, message: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f} s] {message}", file=sys.stderr, flush=True)

    def start(self, spec: str, cwd: Path, env: dict[str, str], name: str) -> Kernel:
        kernel = Kernel(spec, self.specs, self.runtime, cwd, self.logs / f"{name}.log", env)
        self.kernels.append(kernel)
        return kernel

    def stop(self, kernel: Kernel) -> None:
        kernel.close()
        if kernel in self.kernels:
            self.kernels.remove(kernel)

    def stop_all(self) -> None:
        for kernel in list(self.kernels):
            self.stop(kernel)


def restore_warmup(result: dict[str, Any]) -> int:
    """Memory to warm before a restore: room for the restored state twice (page cache and
    the kernel's copy) and a GiB of slack."""
    first = result["snapshots"][0] if result.get("snapshots") else {}
    return 2 * int(first.get("bytes_total") or 0) + GiB


def verified(expected: dict[str, Any], got: dict[str, Any]) -> bool:
    return bool(expected.get("checksum")) and expected == got


# ---- jupyter-gpuguard ------------------------------------------------------------------------
JOB = (
    "print('BENCH', __import__('json').dumps(__import__('jupyter_gpuguard.snapshot.kernel', "
    "fromlist=['current']).current().last.wait().to_json()))"
)


def _job(job: dict[str, Any]) -> dict[str, Any]:
    if job.get("error") or not job.get("snapshot"):
        raise RuntimeError(f"the snapshot failed: {job.get('error')}")
    return job


def gpuguard_snapshot(kernel: Kernel, label: str) -> dict[str, Any]:
    with MemorySampler(kernel.pid) as memory:
        cell = kernel.run("%gpuguard snapshot")
        job = _job(kernel.run(JOB).bench)
    info = job["snapshot"]
    return {
        "label": label,
        "pause_s": job["pause_seconds"],
        "wall_s": job["finished"] - job["started"],
        "bytes_written": info["bytes_written"],
        "bytes_total": info["bytes_total"],
        "child_save_s": info.get("duration_seconds"),
        "cell_s": cell.wall_s,
        "memory_extra": memory.peak_extra(),
        "skipped": info.get("skipped", []),
    }


def run_gpuguard(ctx: Context, workload: Workload) -> dict[str, Any]:
    base = ctx.root / f"gpuguard-{workload.key}"
    store = base / "store"
    env = {"GPUGUARD_STORE": str(store), "JPY_SESSION_NAME": f"bench-{workload.key}.ipynb"}
    result: dict[str, Any] = {"snapshots": []}
    kernel = ctx.start("bench-python", base, env, f"gpuguard-{workload.key}")
    try:
        kernel.run(workload.create)
        expected = checksum(kernel, workload)
        kernel.run("%load_ext jupyter_gpuguard")
        for label in ("first", "unchanged"):
            ctx.log(f"  gpuguard: {label} snapshot")
            result["snapshots"].append(gpuguard_snapshot(kernel, label))
        if workload.change:
            kernel.run(workload.change)
            expected = checksum(kernel, workload)
            ctx.log("  gpuguard: snapshot after the change")
            result["snapshots"].append(gpuguard_snapshot(kernel, "change"))
        result["store_bytes"] = tree_size(store)
        ctx.log("  gpuguard: restore into a fresh kernel")
        evict(store)
        fresh = ctx.start("bench-python", base, env, f"gpuguard-{workload.key}-restore")
        try:
            fresh.run("__import__('numpy'); __import__('pandas')\n%load_ext jupyter_gpuguard")
            warm_free_memory(restore_warmup(result))
            cell = fresh.run(timed("%gpuguard restore"))
            got = checksum(fresh, workload)
        finally:
            ctx.stop(fresh)
        result["restore"] = {
            "seconds": cell.bench["body_s"],
            "cell_s": cell.wall_s,
            "verified": verified(expected, got) and "FAILED" not in cell.stdout,
            "expected": expected,
            "got": got,
            "output": cell.stdout.strip()[-500:],
        }
        if workload.rewrite:
            ctx.log("  gpuguard: copy-on-write cost of a cell rewriting the arrays")
            result["cow"] = gpuguard_cow(kernel, workload.rewrite)
    finally:
        ctx.stop(kernel)
        shutil.rmtree(base, ignore_errors=True)
    return result


def gpuguard_cow(kernel: Kernel, rewrite: str) -> dict[str, Any]:
    alone = [kernel.run(timed(rewrite)).bench["body_s"] for _ in range(2)]
    with MemorySampler(kernel.pid) as memory:
        cell = kernel.run("%gpuguard snapshot\n" + timed(rewrite))
        job = _job(kernel.run(JOB).bench)
    return {
        "alone_s": min(alone),
        "alone_runs_s": alone,
        "during_s": cell.bench["body_s"],
        "slowdown": cell.bench["body_s"] / min(alone),
        "snapshot_wall_s": job["finished"] - job["started"],
        "snapshot_pause_s": job["pause_seconds"],
        "snapshot_bytes_written": job["snapshot"]["bytes_written"],
        "snapshot_outlived_cell": job["finished"] > cell.bench["end"],
        "memory_extra": memory.peak_extra(),
    }


# ---- dill ---------------------------------------------------------------------------------------
def dill_snapshot(kernel: Kernel, path: Path, label: str) -> dict[str, Any]:
    with MemorySampler(kernel.pid) as memory:
        cell = kernel.run(timed(f"dill.dump_module({str(path)!r})"))
    fsync_s = fsync_path(path)  # dill leaves the file in the page cache; durable only now
    size = path.stat().st_size
    return {
        "label": label,
        "pause_s": cell.bench["body_s"],
        "wall_s": cell.bench["body_s"] + fsync_s,
        "fsync_s": fsync_s,
        "bytes_written": size,
        "bytes_total": size,
        "cell_s": cell.wall_s,
        "memory_extra": memory.peak_extra(),
    }


def run_dill(ctx: Context, workload: Workload) -> dict[str, Any]:
    base = ctx.root / f"dill-{workload.key}"
    result: dict[str, Any] = {"snapshots": []}
    kernel = ctx.start("bench-python", base, {}, f"dill-{workload.key}")
    try:
        kernel.run(workload.create)
        expected = checksum(kernel, workload)
        kernel.run("import dill")
        labels = ["first", "unchanged"] + (["change"] if workload.change else [])
        path = base / "snapshot-1.pkl"
        for index, label in enumerate(labels, 1):
            if label == "change":
                kernel.run(workload.change or "")
                expected = checksum(kernel, workload)
            ctx.log(f"  dill: dump_module ({label})")
            path = base / f"snapshot-{index}.pkl"
            result["snapshots"].append(dill_snapshot(kernel, path, label))
        ctx.stop(kernel)
        ctx.log("  dill: load_module into a fresh kernel")
        evict(path)
        fresh = ctx.start("bench-python", base, {}, f"dill-{workload.key}-restore")
        try:
            fresh.run("import dill, numpy, pandas")
            warm_free_memory(restore_warmup(result))
            cell = fresh.run(timed(f"dill.load_module({str(path)!r})"))
            got = checksum(fresh, workload)
        finally:
            ctx.stop(fresh)
        result["restore"] = {
            "seconds": cell.bench["body_s"],
            "cell_s": cell.wall_s,
            "verified": verified(expected, got),
            "expected": expected,
            "got": got,
        }
    finally:
        ctx.stop(kernel)
        shutil.rmtree(base, ignore_errors=True)
    return result


# ---- Kishu --------------------------------------------------------------------------------------
EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
KISHU_HEAD = (
    "print('BENCH', __import__('json').dumps({'head': _kishu._kishu_branch.get_head().commit_id}))"
)


def kishu_cell(kernel: Kernel, code: str, overhead: float, label: str) -> dict[str, Any]:
    """A cell under Kishu: its post-cell hook commits (and checkpoints) before the cell ends.
    The pause is the cell's time beyond its own body and beyond a plain cell's overhead."""
    with MemorySampler(kernel.pid) as memory:
        cell = kernel.run(timed(code))
    end = cell.bench["end"]
    pause = max(0.0, cell.wall_s - cell.bench["body_s"] - overhead)
    return {
        "label": label,
        "pause_s": pause,
        "wall_s": pause,
        "body_s": cell.bench["body_s"],
        "cell_s": cell.wall_s,
        # while the hooks ran (after the body ended), above the memory when the body ended
        "memory_extra": max(0, memory.peak(since=end) - memory.value_at(end)),
    }


def run_kishu(ctx: Context, workload: Workload, python: str | None) -> dict[str, Any]:
    if python is None:
        return {"not_run": ctx.kishu_note}
    base = ctx.root / f"kishu-{workload.key}"
    base.mkdir(parents=True, exist_ok=True)
    notebook = base / f"bench-{workload.key}.ipynb"
    notebook.write_text(json.dumps(EMPTY_NOTEBOOK))
    # No browser is attached: Kishu's test-mode flag turns off only its notebook-file saving
    # and frontend reloads (which wait for JupyterLab); commits and checkpoints are unchanged.
    env = {"KISHU_PATH_ROOT": str(base / "home"), "ENV_KISHU_TEST_MODE": "1"}
    init = f"from kishu import init_kishu\ninit_kishu({str(notebook)!r})"

    def database_size() -> int:
        return sum(p.stat().st_size for p in base.glob(f"{notebook.stem}.kishudb*"))

    result: dict[str, Any] = {"snapshots": []}
    kernel = ctx.start("bench-kishu", base, env, f"kishu-{workload.key}")
    try:
        overhead = statistics.median(kernel.run("pass").wall_s for _ in range(7))
        result["plain_cell_s"] = overhead
        kernel.run(init)
        kernel.run("pass")
        steps = [("first", workload.create), ("unchanged", "pass")]
        if workload.change:
            steps.append(("change", workload.change))
        expected: dict[str, Any] = {}
        for label, code in steps:
            ctx.log(f"  kishu: cell + auto-commit ({label})")
            before = database_size()
            snapshot = kishu_cell(kernel, code, overhead, label)
            snapshot["bytes_written"] = database_size() - before
            result["snapshots"].append(snapshot)
            if label != "unchanged":
                expected = checksum(kernel, workload)
        head = kernel.run(KISHU_HEAD).bench["head"]
        result["snapshots"][0]["bytes_total"] = result["snapshots"][0]["bytes_written"]
        result["store_bytes"] = database_size()
        ctx.stop(kernel)
        ctx.log("  kishu: checkout into a fresh kernel")
        evict(base)
        fresh = ctx.start("bench-kishu", base, env, f"kishu-{workload.key}-restore")
        try:
            fresh.run("__import__('numpy'); __import__('pandas')")
            fresh.run(init)
            warm_free_memory(restore_warmup(result))
            cell = fresh.run(timed(f"_kishu.checkout({head!r})"))
            got = checksum(fresh, workload)
        finally:
            ctx.stop(fresh)
        result["restore"] = {
            "seconds": cell.bench["body_s"],
            "cell_s": cell.wall_s,
            "verified": verified(expected, got),
            "expected": expected,
            "got": got,
        }
    finally:
        ctx.stop(kernel)
        shutil.rmtree(base, ignore_errors=True)
    return result


# ---- the report ------------------------------------------------------------------------------
def _snap(result: dict[str, Any], label: str) -> dict[str, Any] | None:
    for snapshot in result.get("snapshots", []):
        if snapshot["label"] == label:
            return snapshot
    return None


def _state_bytes(results: dict[str, dict[str, Any]]) -> int | None:
    first = _snap(results.get("gpuguard", {}), "first")
    return first["bytes_total"] if first else None


def header(info: dict[str, Any], args: argparse.Namespace, root: Path) -> str:
    fs = info["filesystem"]
    disk = f"{fs['fstype']} on {fs['source']} (mounted at {fs['mount']})"
    if fs.get("model"):
        disk += f", {fs['model']}"
    if fs.get("rotational") is not None:
        disk += ", rotational" if fs["rotational"] else ", non-rotational"
    disk += f"; {fmt_bytes(fs['free_bytes'])} free of {fmt_bytes(fs['total_bytes'])}"
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    rows = [
        ["CPU", info["cpu"]],
        ["cores", f"{info['cores']} ({info['usable_cores']} usable)"],
        ["RAM", fmt_bytes(info["memory_bytes"])],
        ["OS", f"{info['os']}, transparent huge pages: {info['transparent_hugepages']}"],
        ["benchmark directory", f"{root}: {disk}"],
        ["Python", f"{info['python']} ({info['executable']})"],
        ["packages", versions],
    ]
    mode = "quick: small sizes, a smoke run" if args.quick else "full"
    return (
        f"# jupyter-gpuguard snapshot benchmark ({mode})\n\n"
        + markdown_table(["machine", ""], rows)
        + "\n"
    )


def workload_table(workload: Workload, results: dict[str, dict[str, Any]]) -> str:
    rows = []
    for contender, result in results.items():
        name = NAMES[contender]
        if "not_run" in result:
            rows.append([name, f"not run: {result['not_run']}"] + [""] * 7)
            continue
        if "error" in result:
            rows.append([name, f"failed: {result['error']}"] + [""] * 7)
            continue
        snapshots = result["snapshots"]
        first, unchanged, change = (_snap(result, k) for k in ("first", "unchanged", "change"))
        restore = result.get("restore", {})
        check = "checksum OK" if restore.get("verified") else "**MISMATCH**"
        rows.append(
            [
                name,
                " / ".join(fmt_time(s["pause_s"]) for s in snapshots),
                " / ".join(fmt_time(s["wall_s"]) for s in snapshots),
                fmt_bytes(first["bytes_written"]) if first else "–",
                fmt_bytes(unchanged["bytes_written"]) if unchanged else "–",
                fmt_bytes(change["bytes_written"]) if change else "–",
                fmt_time(restore.get("seconds")),
                fmt_bytes(max(s["memory_extra"] for s in snapshots)),
                check,
            ]
        )
    kinds = "1st / unchanged" + (" / change" if workload.change else "")
    table = markdown_table(
        [
            "contender",
            f"kernel pause ({kinds})",
            f"snapshot wall ({kinds})",
            "written, 1st",
            "written, unchanged",
            "written, after change",
            "restore",
            "peak extra memory",
            "restored data",
        ],
        rows,
    )
    state = _state_bytes(results)
    title = f"### {workload.title}"
    if state:
        title += f"\n\nSerialized state (gpuguard's bytes_total): {fmt_bytes(state)}"
    return f"{title}\n\n{table}\n"


def throughput_table(
    chosen: list[Workload], results: dict[str, dict[str, dict[str, Any]]], disk: dict[str, float]
) -> str:
    rows = []
    for workload in chosen:
        result = results[workload.key].get("gpuguard", {})
        first = _snap(result, "first")
        restore = result.get("restore")
        if not first or not restore:
            rows.append([workload.key, "–", "–", "–", "–", "–"])
            continue
        write = first["bytes_written"] / first["wall_s"]
        read = first["bytes_total"] / restore["seconds"]
        rows.append(
            [
                workload.key,
                fmt_bytes(first["bytes_total"]),
                fmt_rate(write),
                f"{write / disk['write_bps']:.0%}",
                fmt_rate(read),
                f"{read / disk['read_bps']:.0%}",
            ]
        )
    return markdown_table(
        [
            "workload",
            "state",
            "gpuguard background write (1st)",
            "% of sequential write",
            "gpuguard restore",
            "% of sequential read",
        ],
        rows,
    )


def cow_table(cow: dict[str, Any], title: str) -> str:
    rows = [
        [
            f"`a_i += 1` over every array of {title}",
            fmt_time(cow["alone_s"]),
            fmt_time(cow["during_s"]),
            f"{cow['slowdown']:.2f}x",
            fmt_time(cow["snapshot_wall_s"]),
            "yes" if cow["snapshot_outlived_cell"] else "no",
            fmt_bytes(cow["memory_extra"]),
        ]
    ]
    return markdown_table(
        [
            "cell",
            "alone",
            "while a snapshot is written",
            "slowdown",
            "that snapshot's wall",
            "snapshot outlived the cell",
            "peak extra memory",
        ],
        rows,
    )


def targets(
    chosen: list[Workload],
    results: dict[str, dict[str, dict[str, Any]]],
    disk: dict[str, float],
) -> tuple[str, list[dict[str, Any]]]:
    found: list[dict[str, Any]] = []

    def add(name: str, goal: str, measured: str, passed: bool | None) -> None:
        result = "not run" if passed is None else ("PASS" if passed else "MISS")
        found.append({"target": name, "goal": goal, "measured": measured, "result": result})

    keys = {w.key: w for w in chosen}
    a = results.get("a", {}).get("gpuguard", {}) if "a" in keys else {}
    size = fmt_bytes(_state_bytes(results.get("a", {}))) if a.get("snapshots") else "(a)"
    if a.get("snapshots"):
        pauses = [s["pause_s"] for s in a["snapshots"]]
        if a.get("cow"):
            pauses.append(a["cow"]["snapshot_pause_s"])
        worst = max(pauses)
        add(
            f"kernel pause at {size} (worst of {len(pauses)} snapshots)",
            "≤ 10 ms",
            f"{fmt_time(worst)} ({' / '.join(fmt_time(p) for p in pauses)})",
            worst <= PAUSE_TARGET_S,
        )
        first = _snap(a, "first") or {}
        rate = first["bytes_written"] / first["wall_s"]
        add(
            f"background write of {size}, vs sequential write",
            "≥ 70 %",
            f"{rate / disk['write_bps']:.0%} ({fmt_rate(rate)} of {fmt_rate(disk['write_bps'])})",
            rate >= WRITE_TARGET * disk["write_bps"],
        )
    else:
        add("kernel pause at 2 GiB", "≤ 10 ms", "–", None)
        add("background write vs sequential write", "≥ 70 %", "–", None)
    for workload in chosen:
        result = results[workload.key].get("gpuguard", {})
        unchanged, first = _snap(result, "unchanged"), _snap(result, "first")
        if unchanged and first:
            share = unchanged["bytes_written"] / first["bytes_total"]
            add(
                f"({workload.key}) 2nd snapshot, nothing changed",
                "< 1 % of the state",
                f"{share:.3%} ({fmt_bytes(unchanged['bytes_written'])} of "
                f"{fmt_bytes(first['bytes_total'])})",
                share < UNCHANGED_TARGET,
            )
    change = _snap(results.get("d", {}).get("gpuguard", {}), "change") if "d" in keys else None
    if change:
        add(
            "(d) one element changed",
            "≤ 8 MiB written",
            fmt_bytes(change["bytes_written"]),
            change["bytes_written"] <= CHANGE_TARGET_BYTES,
        )
    else:
        add("(d) one element changed", "≤ 8 MiB written", "–", None)
    forest = results.get("e", {}) if "e" in keys else {}
    ours, dill_result = forest.get("gpuguard", {}), forest.get("dill", {})
    ours_first, dill_first = _snap(ours, "first"), _snap(dill_result, "first")
    if ours_first and dill_first:
        add(
            "(e) many small buffers: snapshot written, vs dill.dump_module",
            "no slower",
            f"{fmt_time(ours_first['wall_s'])} vs {fmt_time(dill_first['wall_s'])}",
            ours_first["wall_s"] <= dill_first["wall_s"],
        )
    else:
        add("(e) many small buffers: snapshot written, vs dill", "no slower", "–", None)
    if ours.get("restore") and dill_result.get("restore"):
        mine, theirs = ours["restore"]["seconds"], dill_result["restore"]["seconds"]
        add(
            "(e) many small buffers: restore, vs dill.load_module",
            "no slower",
            f"{fmt_time(mine)} vs {fmt_time(theirs)}",
            mine <= theirs,
        )
    else:
        add("(e) many small buffers: restore, vs dill", "no slower", "–", None)
    if a.get("restore") and a.get("snapshots"):
        total = a["snapshots"][-1]["bytes_total"]
        rate = total / a["restore"]["seconds"]
        add(
            f"restore of {size}, vs sequential read",
            "≥ 70 %",
            f"{rate / disk['read_bps']:.0%} ({fmt_rate(rate)} of {fmt_rate(disk['read_bps'])})",
            rate >= RESTORE_TARGET * disk["read_bps"],
        )
    else:
        add("restore vs sequential read", "≥ 70 %", "–", None)
    table = markdown_table(
        ["target (jupyter-gpuguard)", "goal", "measured", "result"],
        [[t["target"], t["goal"], t["measured"], t["result"]] for t in found],
    )
    return table, found


NOTES = """\
How to read it:
- kernel pause: how long the kernel cannot run the user's code. gpuguard: `Job.pause_seconds`
  (namespace walk + fork), read inside the kernel. dill: the whole `dump_module` call. Kishu:
  the cell's time beyond its own body and beyond a plain cell without Kishu (its pre/post-cell
  hooks, which commit and checkpoint before the cell returns).
- snapshot wall: until the snapshot is on disk and durable. gpuguard: `job.finished -
  job.started` (the child's manifest commit, fsynced). dill: the dump plus an fsync of its file
  (dill itself leaves it in the page cache). Kishu: same as its pause (SQLite commits).
- written: gpuguard's `bytes_written` (new chunks + manifest); dill: the new file's size (each
  snapshot is a new file); Kishu: growth of its database.
- restore: the restore call inside a fresh kernel (numpy and pandas already imported), after
  the snapshot's files were fsynced and dropped from the page cache and the same amount of
  free memory was faulted in for every contender (see fresh memory, below); the restored data is
  checksummed against the original kernel's.
- fresh memory, first touch: where it is far below memory bandwidth (virtual machines that
  hand free memory back to the host), every contender's restore, page-cache writes and
  copy-on-write copies are slowed by it.
- peak extra memory: the kernel's RSS plus the private pages of its children (the snapshot
  child: pages shared copy-on-write count once, copied ones twice), sampled every 10 ms, above
  the value before the snapshot (Kishu: while its hooks ran, above the value when the cell's
  body ended); the worst over the snapshots of the row.
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--dir", type=Path, default=None, help="where to write (default: a temp dir in /tmp)"
    )
    parser.add_argument("--only", default="a,b,c,d,e", help="workloads to run, e.g. a,d")
    parser.add_argument(
        "--peers", default="dill,kishu", help="peers next to gpuguard: dill,kishu or none"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    only = {k.strip() for k in args.only.split(",") if k.strip()}
    chosen = [w for w in workloads(args.quick) if w.key in only]
    if not chosen or only - {w.key for w in chosen}:
        parser.error("--only takes a comma-separated subset of a,b,c,d,e")
    peers = [p.strip() for p in args.peers.split(",") if p.strip() and p.strip() != "none"]
    if set(peers) - set(PEERS):
        parser.error("--peers takes a comma-separated subset of dill,kishu (or none)")

    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="gpuguard-bench-", dir=args.dir))
    ctx = Context(root, args.quick)
    info = machine(root)
    print(header(info, args, root), flush=True)
    results: dict[str, dict[str, dict[str, Any]]] = {w.key: {} for w in chosen}
    report: dict[str, Any] = {"machine": info, "quick": args.quick, "workloads": {}}
    try:
        size = 256 * MiB if args.quick else 1 * GiB
        ctx.log("first touch of fresh memory")
        touch = first_touch_speed(size)
        ctx.log(f"sequential write and read of {fmt_bytes(size)} in {root}")
        disk = disk_speed(root / "disk", size)
        disk["first_touch_bps"] = touch
        report["disk"] = disk
        python = None
        if "kishu" in peers:
            python, ctx.kishu_note = kishu_python(root / "kishu-venv", ctx.log)
            if python:
                write_kernelspec(ctx.specs, "bench-kishu", python)
            ctx.log(ctx.kishu_note)
            report["kishu"] = ctx.kishu_note
        runners: dict[str, Callable[[Context, Workload], dict[str, Any]]] = {
            "gpuguard": run_gpuguard,
            "dill": run_dill,
            "kishu": lambda c, w: run_kishu(c, w, python),
        }
        for workload in chosen:
            for contender in ["gpuguard", *peers]:
                ctx.log(f"{workload.title}: {NAMES[contender]}")
                try:
                    results[workload.key][contender] = runners[contender](ctx, workload)
                except Exception as err:
                    message = str(err).strip().splitlines()
                    ctx.log(f"  failed:\n{traceback.format_exc()}")
                    results[workload.key][contender] = {
                        "error": (message[-1] if message else type(err).__name__)[:300]
                    }
    finally:
        ctx.stop_all()
        shutil.rmtree(root, ignore_errors=True)
    ctx.log("done; kernels stopped and the benchmark directory removed")

    out = [
        "## Disk (the benchmark directory) and memory\n",
        markdown_table(
            ["sequential write", "sequential read", "fresh memory, first touch"],
            [
                [
                    f"{fmt_rate(disk['write_bps'])}: best of "
                    f"{' / '.join(fmt_rate(disk['bytes'] / t) for t in disk['write_s'])} "
                    f"({fmt_bytes(disk['bytes'])} in 8 MiB writes, then fsync)",
                    f"{fmt_rate(disk['read_bps'])}: best of "
                    f"{' / '.join(fmt_rate(disk['bytes'] / t) for t in disk['read_s'])} "
                    "(page cache dropped first)",
                    f"{fmt_rate(disk['first_touch_bps'])} ({fmt_bytes(disk['bytes'])} "
                    "anonymous mmap)",
                ]
            ],
        ),
        "",
    ]
    if "kishu" in peers:
        out.append(f"Kishu: {ctx.kishu_note}\n")
    out.append("## Snapshots\n")
    for workload in chosen:
        out.append(workload_table(workload, results[workload.key]))
    out += ["## jupyter-gpuguard throughput vs the disk\n", throughput_table(chosen, results, disk)]
    cow = results.get("a", {}).get("gpuguard", {}).get("cow")
    if cow:
        out += [
            "\n## Copy-on-write: a cell rewriting the arrays while a snapshot is written\n",
            cow_table(cow, next(w for w in chosen if w.key == "a").title.split(": ", 1)[1]),
        ]
    table, found = targets(chosen, results, disk)
    out += ["\n## Targets\n", table]
    if args.quick:
        out.append("\n(quick sizes: the targets are meant for the full sizes)")
    out += ["", NOTES]
    print("\n".join(out), flush=True)

    if args.json:
        for workload in chosen:
            report["workloads"][workload.key] = {
                "title": workload.title,
                "results": results[workload.key],
            }
        report["targets"] = found
        args.json.write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())

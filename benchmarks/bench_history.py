"""What recording the cell history costs each cell, against Kishu's per-cell hooks.

Rebuilding skipped variables needs, for every cell, the names it read and wrote. That is
recorded in IPython's post_run_cell event in the user's kernel, so it is paid on every cell;
the target is under 1 ms per cell with 10,000 names in the namespace.

Real kernels through jupyter_client. For each namespace size (100, 1,000 and 10,000
variables: ints, short lists and small dicts) and three kinds of cell (one assignment,
a loop calling methods, a 40-line cell), every cell runs 30 times (Kishu: 5):

  * jupyter-gpuguard: the recorder's own time for each cell (``HistoryRecorder.costs``,
    taken with perf_counter around the whole event handler), mean, 95th percentile, max;
  * the cell's round trip with and without the extension, for scale;
  * Kishu: the cell's round trip with ``init_kishu`` minus the same cell without it (its
    hooks commit after every cell), when Kishu is importable or installable.

    pip install -e ".[test]" && pip install -r benchmarks/requirements.txt
    python benchmarks/bench_history.py [--peers kishu|none] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from snapshot_harness import (
    Kernel,
    kishu_python,
    machine,
    markdown_table,
    write_kernelspec,
)

SIZES = (100, 1_000, 10_000)
REPEATS = 30
KISHU_REPEATS = 5  # each of its commits takes seconds at 10,000 names
TARGET_MS = 1.0
CELLS = {
    "one assignment": "result = 1",
    "loop with method calls": "acc = []\nfor i in range(20):\n    acc.append(i * 2)",
    "40-line cell": "\n".join(f"line_{i} = len(acc) + {i}" for i in range(40)),
}
RECORDER = "__import__('jupyter_gpuguard.snapshot.kernel', fromlist=['_']).current().history"
EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def fill(size: int) -> str:
    return (
        f"for _n in range({size}):\n"
        "    globals()[f'v{_n}'] = [_n] if _n % 3 == 0 else ({'k': _n} if _n % 3 == 1 else _n)\n"
        "del _n"
    )


def round_trips(kernel: Kernel, code: str, repeats: int = REPEATS) -> list[float]:
    return [kernel.run(code).wall_s for _ in range(repeats)]


def gpuguard_costs(root: Path, specs: Path, size: int) -> dict[str, Any]:
    kernel = Kernel("bench-python", specs, root / "runtime", root, root / f"g{size}.log", {})
    try:
        kernel.run(fill(size))
        kernel.run("acc = []")
        plain = {name: round_trips(kernel, code) for name, code in CELLS.items()}
        kernel.run("%load_ext jupyter_gpuguard")
        kernel.run("acc = []")
        rows = {}
        for name, code in CELLS.items():
            kernel.run(f"{RECORDER}.costs.clear()")
            walls = round_trips(kernel, code)
            costs = json.loads(
                kernel.run(f"print(__import__('json').dumps(list({RECORDER}.costs)))").stdout
            )[:REPEATS]
            costs.sort()
            rows[name] = {
                "mean_ms": 1000 * statistics.fmean(costs),
                "p95_ms": 1000 * costs[int(0.95 * (len(costs) - 1))],
                "max_ms": 1000 * costs[-1],
                "wall_with_ms": 1000 * statistics.median(walls),
                "wall_without_ms": 1000 * statistics.median(plain[name]),
            }
        return rows
    finally:
        kernel.close()


def kishu_costs(root: Path, specs: Path, size: int) -> dict[str, Any]:
    notebook = root / f"kishu-{size}.ipynb"
    notebook.write_text(json.dumps(EMPTY_NOTEBOOK))
    env = {"KISHU_PATH_ROOT": str(root / "kishu-home"), "ENV_KISHU_TEST_MODE": "1"}
    kernel = Kernel("bench-kishu", specs, root / "runtime", root, root / f"k{size}.log", env)
    try:
        kernel.run(fill(size))
        kernel.run("acc = []")
        plain = {name: round_trips(kernel, code, KISHU_REPEATS) for name, code in CELLS.items()}
        kernel.run(f"from kishu import init_kishu\ninit_kishu({str(notebook)!r})")
        kernel.run("acc = []")
        extra = {}
        for name, code in CELLS.items():
            with_kishu = statistics.median(round_trips(kernel, code, KISHU_REPEATS))
            extra[name] = 1000 * max(0.0, with_kishu - statistics.median(plain[name]))
        return extra
    finally:
        kernel.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peers", default="kishu", help="kishu or none")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="gpuguard-bench-history-"))
    specs = root / "kernelspecs"
    write_kernelspec(specs, "bench-python", sys.executable)
    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    kishu = None
    note = "not requested"
    if args.peers == "kishu":
        kishu, note = kishu_python(root / "kishu-venv", log)
        if kishu:
            write_kernelspec(specs, "bench-kishu", kishu)
    results: dict[str, Any] = {"machine": machine(root), "kishu": note, "sizes": {}}
    try:
        for size in SIZES:
            log(f"{size:,} names: jupyter-gpuguard")
            entry: dict[str, Any] = {"gpuguard": gpuguard_costs(root, specs, size)}
            if kishu:
                log(f"{size:,} names: Kishu")
                entry["kishu"] = kishu_costs(root, specs, size)
            results["sizes"][size] = entry
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


def report(results: dict[str, Any]) -> str:
    info = results["machine"]
    lines = [
        "### Cell history: what recording costs each cell (`benchmarks/bench_history.py`)",
        "",
        f"Machine: {info.get('cpu')}, {info.get('cores')} cores, Python {info.get('python')}. "
        f"Kishu: {results['kishu']}.",
        "",
    ]
    rows = []
    worst_at_10k = 0.0
    for size, entry in results["sizes"].items():
        for name, row in entry["gpuguard"].items():
            kishu = entry.get("kishu", {}).get(name)
            rows.append(
                [
                    f"{int(size):,}",
                    name,
                    f"{row['mean_ms']:.3f} ms",
                    f"{row['p95_ms']:.3f} ms",
                    f"{row['max_ms']:.3f} ms",
                    f"{row['wall_without_ms']:.1f} / {row['wall_with_ms']:.1f} ms",
                    f"{kishu:.1f} ms" if kishu is not None else "–",
                ]
            )
            if int(size) == 10_000:
                worst_at_10k = max(worst_at_10k, row["p95_ms"])
    lines.append(
        markdown_table(
            [
                "names",
                "cell",
                "gpuguard recording, mean",
                "p95",
                "max",
                "cell round trip without / with gpuguard",
                "Kishu hooks per cell",
            ],
            rows,
        )
    )
    verdict = "PASS" if worst_at_10k < TARGET_MS else "MISS"
    lines += [
        "",
        f"Target: under {TARGET_MS:g} ms per cell at 10,000 names (95th percentile): "
        f"{worst_at_10k:.3f} ms, {verdict}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Rebuilding what a snapshot could not save, by re-running the cells that made it.

``make_plan`` works from a manifest alone (the server shows it before anything runs);
``replay`` runs a plan inside the kernel, after the saved variables are loaded.
"""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Iterable, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import Any

from .history import BUILTIN_NAMES, CellRecord
from .model import SnapshotError

# What makes a replayed cell give a different result, or act on the world a second time.
FLAG_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("runs shell commands", re.compile(r"^\s*!|^\s*%(pip|conda|sx|system)\b|^%%(bash|sh)", re.M)),
    (
        "talks to the network",
        re.compile(
            r"\b(requests|httpx|urllib|urlopen|aiohttp|socket\.|boto3|paramiko|wget|"
            r"from_pretrained|load_dataset|download)"
        ),
    ),
    (
        "writes or deletes files",
        re.compile(
            r"open\([^)]*['\"][wax]b?\+?['\"]|\.to_(csv|parquet|pickle|json|feather|hdf)\(|"
            r"\b(torch|np|numpy)\.save|\.save(fig)?\(|os\.(remove|unlink|rename|makedirs)|"
            r"shutil\.|\.write_(text|bytes)\(|\.unlink\("
        ),
    ),
    (
        "fails if its files already exist (as after an earlier rebuild)",
        re.compile(
            r"\bos\.mkdir\(|\bos\.makedirs\((?![^)]*exist_ok\s*=\s*True)|"
            r"\.mkdir\((?![^)]*exist_ok\s*=\s*True)|open\([^)]*['\"]xb?\+?['\"]|"
            r"\.touch\([^)]*exist_ok\s*=\s*False"
        ),
    ),
    (
        "depends on the time",
        re.compile(
            r"\btime\.(time|perf_counter|monotonic)\(|datetime\.(now|utcnow|today)\(|"
            r"date\.today\(|\buuid\d?\("
        ),
    ),
]
RANDOM = re.compile(
    r"\brandom\.|\bnp\.random\b|\btorch\.(rand|randn|randint|randperm)\b|\bshuffle\s*=\s*True"
)
SEED = re.compile(r"seed\(|default_rng\(\s*\d|manual_seed\(")


LONG_CELL_SECONDS = 30.0


def flags_of(source: str, kind: str, seconds: float | None = None) -> list[str]:
    flags = [label for label, pattern in FLAG_PATTERNS if pattern.search(source)]
    if seconds is not None and seconds >= LONG_CELL_SECONDS:
        minutes = seconds / 60
        took = f"{minutes:.0f} min" if minutes >= 1.5 else f"{seconds:.0f} s"
        flags.append(f"took {took} when it ran")
    if RANDOM.search(source) and not SEED.search(source):
        flags.append("uses randomness without a seed")
    if kind == "magic" and "runs shell commands" not in flags:
        flags.append("uses IPython magics")
    return flags


@dataclass
class PlannedCell:
    execution_count: int
    source: str
    flags: list[str]
    rebuilds: list[str]
    # names whose value in the snapshot came from this very cell
    last_to_assign: list[str] = field(default_factory=list)
    seconds: float | None = None  # how long it ran when first run, when recorded


@dataclass
class RebuildPlan:
    targets: list[str]
    cells: list[PlannedCell] = field(default_factory=list)
    unrebuildable: dict[str, str] = field(default_factory=dict)

    @property
    def rebuildable(self) -> list[str]:
        return [t for t in self.targets if t not in self.unrebuildable]

    def summary(self) -> str:
        names = self.rebuildable
        if not names:
            return "Nothing can be rebuilt by re-running cells."
        counts = ", ".join(str(c.execution_count) for c in self.cells)
        cells = "cell" if len(self.cells) == 1 else "cells"
        return (
            f"Rebuild {', '.join(names)} by re-running {len(self.cells)} {cells} "
            f"({cells} {counts})?"
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "targets": list(self.targets),
            "rebuildable": self.rebuildable,
            "cells": [asdict(c) for c in self.cells],
            "unrebuildable": dict(self.unrebuildable),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RebuildPlan:
        return cls(
            targets=list(data.get("targets", [])),
            cells=[PlannedCell(**c) for c in data.get("cells", [])],
            unrebuildable=dict(data.get("unrebuildable", {})),
        )


def make_plan(
    records: Iterable[dict[str, Any] | CellRecord],
    available: Iterable[str],
    targets: Iterable[str],
    snapshot_count: int | None = None,
) -> RebuildPlan:
    """The cells to re-run, in their original order, to rebuild ``targets``.

    For each target: the last cell before the snapshot that assigned it, and the cells after
    that one that may have changed it in place (``conn.execute(...)``, ``next(gen)``). For
    every such cell, each name it read that the snapshot does not restore (``available``)
    comes from the last cell before it that assigned that name, and so on. A cell that
    raised an error when it first ran is never replayed.
    """
    cells = {
        r.execution_count: r
        for r in (x if isinstance(x, CellRecord) else CellRecord.from_json(x) for x in records)
    }
    last = snapshot_count if snapshot_count is not None else max(cells, default=0) + 1
    usable = {n for n, c in cells.items() if n < last and c.error is not True}
    have = set(available) | BUILTIN_NAMES
    needed: dict[int, set[str]] = {}
    plan = RebuildPlan(targets=list(dict.fromkeys(targets)))

    def writer_before(name: str, before: int) -> tuple[int | None, str]:
        candidates = [n for n in cells if n < before and name in cells[n].writes]
        if not candidates:
            return None, "no cell of the recorded history assigned it"
        good = [n for n in candidates if n in usable]
        if not good:
            return None, f"the cell that assigned it (cell {max(candidates)}) raised an error"
        if max(candidates) not in usable:
            return None, (
                f"its last assignment (cell {max(candidates)}) raised an error, so replaying "
                "an earlier one would not give the same value"
            )
        return max(good), ""

    resolving: set[tuple[str, int, str | None]] = set()

    def need_cell(count: int, reason: str | None) -> None:
        labels = needed.setdefault(count, set())
        if reason:
            labels.add(reason)
        for name in cells[count].reads:
            if name not in have:
                need_name(name, count, reason)

    def need_name(name: str, before: int, reason: str | None) -> str:
        if (name, before, reason) in resolving:
            return ""
        resolving.add((name, before, reason))
        source, why = writer_before(name, before)
        if source is None:
            return why
        need_cell(source, reason)
        for count in sorted(cells):
            if source < count < before and count in usable and name in cells[count].touches:
                need_cell(count, reason)
        return ""

    for target in plan.targets:
        why = need_name(target, last, target)
        if why:
            plan.unrebuildable[target] = why
    for count in sorted(needed):
        record = cells[count]
        plan.cells.append(
            PlannedCell(
                execution_count=count,
                source=record.source,
                flags=[
                    *flags_of(record.source, record.kind, record.seconds),
                    *_random_inputs(record, cells, have),
                ],
                rebuilds=sorted(needed[count]),
                last_to_assign=[
                    name for name in record.writes if writer_before(name, last)[0] == count
                ],
                seconds=record.seconds,
            )
        )
    return plan


def plan_of(manifest: dict[str, Any]) -> RebuildPlan:
    """The plan that would rebuild what the snapshot of ``manifest`` skipped, wherever the
    manifest was read from (the local store, a replica)."""
    try:
        available = [v["name"] for v in manifest["variables"]]
        available += list(manifest.get("modules", {}))
        targets = [s["name"] for s in manifest.get("skipped", [])]
        count = manifest.get("execution_count")
        return make_plan(
            [c for c in manifest.get("cells", []) if isinstance(c, dict)],
            available,
            targets,
            count if isinstance(count, int) else None,
        )
    except (KeyError, TypeError, ValueError, RecursionError) as err:
        raise SnapshotError(f"the manifest of snapshot {manifest.get('id')} is damaged") from err


def _random_inputs(record: CellRecord, cells: dict[int, CellRecord], have: set[str]) -> list[str]:
    """A replayed cell that draws from a restored object made with unseeded randomness (a
    shuffling DataLoader) gives another result than it did: say so."""
    flags = []
    for name in sorted(set(record.reads) & have):
        writers = [n for n, c in cells.items() if n < record.execution_count and name in c.writes]
        if not writers:
            continue
        source = cells[max(writers)].source
        if RANDOM.search(source) and not SEED.search(source):
            flags.append(
                f"reads {name}, made with randomness without a seed (cell {max(writers)}): "
                "what it draws will differ"
            )
    return flags


@dataclass
class ReplayResult:
    replayed: list[dict[str, Any]]
    rebuilt: list[str]
    failed: list[dict[str, str]]
    # names a replayed cell left that the plan did not set out to rebuild: taken away again
    removed: list[dict[str, str]] = field(default_factory=list)


_MISSING = object()


def _run_cell(cell: PlannedCell, namespace: MutableMapping[str, Any], transform: Any) -> str | None:
    """Run one planned cell; the error it raised, as text, or None."""
    code = transform(cell.source) if transform is not None else cell.source
    output = io.StringIO()
    try:
        compiled = compile(code, f"<cell {cell.execution_count}, replayed>", "exec")
        with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
            exec(compiled, namespace)  # noqa: S102 - the user's own cell, by their choice
    except (Exception, SystemExit) as err:
        return f"{type(err).__name__}: {str(err)[:300]}"
    return None


def replay(
    plan: RebuildPlan,
    namespace: MutableMapping[str, Any],
    restored: Iterable[str],
    transform: Any = None,
) -> ReplayResult:
    """Run the plan's cells in ``namespace``, in order; contain each cell's failure.

    Only what the plan rebuilds is kept from the replay. Restored variables that a replayed
    cell reassigned get their restored value back: the snapshot's value is the newer one, and
    the restored objects hold the restored functions and classes. A rebuilt object made by a
    replayed class statement is made an instance of the restored class instead. Anything
    else a replayed cell bound (a name the plan cannot rebuild, a target whose cell failed, a
    loop variable) goes back to what it was before the replay, or away, and the result says
    so: a wrong value is worse than none.
    ``transform`` turns magics into Python (IPython's ``transform_cell``).
    """
    restored_values = {name: namespace[name] for name in restored if name in namespace}
    before = dict(namespace)
    replayed: list[dict[str, Any]] = []
    failures: dict[int, str] = {}
    for cell in plan.cells:
        error = _run_cell(cell, namespace, transform)
        if error is not None:
            failures[cell.execution_count] = error
        replayed.append(
            {"execution_count": cell.execution_count, "ok": error is None, "error": error}
        )
    same_code = {
        name
        for cell in plan.cells
        if cell.execution_count not in failures
        for name in cell.last_to_assign
    }
    replaced: dict[type, type] = {}
    for name, value in restored_values.items():
        recomputed = namespace.get(name)
        if name in plan.targets or recomputed is value:
            continue
        if name in same_code and isinstance(recomputed, type) and isinstance(value, type):
            replaced[recomputed] = value
        namespace[name] = value
    rebuilt: list[str] = []
    failed: list[dict[str, str]] = []
    for target in plan.rebuildable:
        broken = [
            f"cell {c.execution_count} failed: {failures[c.execution_count]}"
            for c in plan.cells
            if target in c.rebuilds and c.execution_count in failures
        ]
        if broken:
            failed.append({"name": target, "error": "; ".join(broken)})
        elif target in namespace:
            rebuilt.append(target)
        else:
            failed.append({"name": target, "error": "the replayed cells did not define it"})
    for target in rebuilt:
        _reclass(namespace[target], replaced)
    kept = set(rebuilt) | set(restored_values)
    removed = _take_back(namespace, before, kept, plan)
    return ReplayResult(replayed=replayed, rebuilt=rebuilt, failed=failed, removed=removed)


def _reclass(value: Any, replaced: dict[type, type], depth: int = 3) -> None:
    """A rebuilt object made by a replayed class statement becomes an instance of the
    restored class, which the restored objects are instances of and which stays bound; so do
    those in its containers and attributes, a few levels down."""
    if not replaced or depth < 0:
        return
    restored_class = replaced.get(type(value))
    if restored_class is not None:
        with contextlib.suppress(TypeError):  # an incompatible layout: left as it was made
            value.__class__ = restored_class
    if isinstance(value, dict):
        items: Iterable[Any] = value.values()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = value
    else:
        attributes = getattr(value, "__dict__", None)
        items = attributes.values() if isinstance(attributes, dict) else ()
    for item in list(items)[:1000]:
        _reclass(item, replaced, depth - 1)


def _take_back(
    namespace: MutableMapping[str, Any],
    before: dict[str, Any],
    kept: set[str],
    plan: RebuildPlan,
) -> list[dict[str, str]]:
    removed = []
    for name in list(namespace):
        if name in kept or name.startswith("__") or namespace[name] is before.get(name, _MISSING):
            continue
        if name in plan.unrebuildable:
            reason = f"the plan cannot rebuild it ({plan.unrebuildable[name]})"
        elif name in plan.targets:
            reason = "its cell failed on replay"
        else:
            reason = "not in the snapshot"
        previous = before.get(name, _MISSING)
        if previous is _MISSING:
            del namespace[name]
        else:
            namespace[name] = previous
        removed.append({"name": name, "reason": f"a replayed cell set it, but {reason}"})
    return removed

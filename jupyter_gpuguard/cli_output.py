"""What ``jupyter gpuguard`` prints, the same for a local store and a replica: tables, a
snapshot's description, a verify report. Standard library and ``formatting`` only, so that
``--help`` stays instant."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .formatting import format_bytes

if TYPE_CHECKING:
    from .snapshot import SnapshotInfo, VerifyReport
    from .snapshot.rebuild import RebuildPlan

_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class UsageError(Exception):
    """The command line names something that does not exist: exit code 2."""


def check_id(snapshot_id: str) -> None:
    """UsageError unless ``snapshot_id`` has the form of a snapshot id."""
    from .snapshot.model import valid_snapshot_id

    if not valid_snapshot_id(snapshot_id):
        raise UsageError(
            f"{clean(snapshot_id[:80])!r} is not a snapshot id "
            "(ids look like 20250101T120000.000Z-0123abcd; see `jupyter gpuguard list`)"
        )


def clean(text: object) -> str:
    """Text from a manifest, safe to print on a terminal (no control sequences)."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' if count != 1 else ''}"


def local_time(created: str, pattern: str) -> str:
    try:
        moment = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return clean(created)
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime(pattern)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    lines = []
    for row in (headers, *rows):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def print_listing(infos: Sequence[SnapshotInfo]) -> None:
    """The table of ``list``: one row per snapshot, as given (newest first)."""
    rows = [
        [
            info.id,
            local_time(info.created, "%Y-%m-%d %H:%M"),
            clean(info.notebook) if info.notebook is not None else "-",
            str(len(info.variables)),
            format_bytes(info.bytes_total),
            str(len(info.skipped)),
        ]
        for info in infos
    ]
    headers = ["ID", "CREATED", "NOTEBOOK", "VARIABLES", "SIZE", "SKIPPED"]
    for line in table(headers, rows, right={3, 4, 5}):
        print(line)


def describe(info: SnapshotInfo) -> list[str]:
    lines = [
        f"Snapshot   {info.id}",
        f"Created    {local_time(info.created, '%Y-%m-%d %H:%M:%S %Z').rstrip()}",
        f"Notebook   {clean(info.notebook) if info.notebook is not None else '-'}",
        f"Kernel     {clean(info.kernel_id) if info.kernel_id is not None else '-'}",
    ]
    if info.execution_count is not None:
        lines.append(f"Execution  [{info.execution_count}]")
    lines.append(
        f"Size       {format_bytes(info.bytes_total)} "
        f"({format_bytes(info.bytes_written)} new on disk when saved)"
    )
    if info.duration_seconds is not None:
        lines.append(f"Duration   {info.duration_seconds:.2f} s")

    lines += ["", f"Variables ({len(info.variables)}):"]
    if info.variables:
        rows = [[clean(v.name), clean(v.type), format_bytes(v.bytes)] for v in info.variables]
        lines += ["  " + line for line in table(["NAME", "TYPE", "SIZE"], rows, right={2})]
    else:
        lines.append("  (none)")

    lines += ["", f"Skipped ({len(info.skipped)}):"]
    if info.skipped:
        rows = [[clean(s.name), clean(s.type), clean(s.reason)] for s in info.skipped]
        lines += ["  " + line for line in table(["NAME", "TYPE", "REASON"], rows, right=set())]
    else:
        lines.append("  (none)")

    lines += ["", f"Modules ({len(info.modules)}):"]
    if info.modules:
        for name, module in sorted(info.modules.items()):
            alias = "" if name == module else f" as {clean(name)}"
            lines.append(f"  import {clean(module)}{alias}")
    else:
        lines.append("  (none)")

    if info.notes:
        lines += ["", f"Notes ({len(info.notes)}):"]
        lines += [f"  - {clean(note)}" for note in info.notes]
    return lines


def print_show(info: SnapshotInfo, plan: RebuildPlan, as_json: bool) -> None:
    if as_json:
        emit_json({**info.to_json(), "plan": plan.to_json()})
        return
    print("\n".join(describe(info)))
    if plan.targets:
        print(clean(plan.summary()))
        for cell in plan.cells:
            first_line = (cell.source.splitlines() or [""])[0]
            risks = f"  [{'; '.join(cell.flags)}]" if cell.flags else ""
            print(f"  cell {cell.execution_count}: {clean(first_line)[:70]}{risks}")
        for name, why in plan.unrebuildable.items():
            print(f"  cannot rebuild {clean(name)}: {clean(why)}")


def print_verify(
    report: VerifyReport, removed: Sequence[str], as_json: bool, checked: str = "checked"
) -> int:
    """The report of ``verify``; the exit code: 0 intact, 1 damage found. ``checked`` says
    what was checked of each chunk."""
    if as_json:
        emit_json({**report.to_json(), "removed": list(removed)})
        return 0 if report.ok else 1
    snapshots = plural(len(report.snapshots), "snapshot")
    chunks = plural(report.chunks_checked, "chunk")
    for damaged in report.damaged:
        names = ", ".join(clean(name) for name in damaged.variables) or "-"
        print(f"DAMAGED  {clean(damaged.problem)}")
        print(f"         chunk {damaged.chunk}")
        print(f"         affects: {names}")
    for problem in report.problems:
        print(f"PROBLEM  {clean(problem)}")
    for chunk_id in removed:
        print(f"REMOVED  chunk {chunk_id}: the next snapshot holding its data writes it again")
    if report.ok:
        print(f"OK: {snapshots}, {chunks} {checked}, no damage found.")
        return 0
    print(
        f"FAILED: {snapshots}, {chunks} {checked}: {plural(len(report.damaged), 'damaged chunk')}"
        f", {plural(len(report.problems), 'other problem')}."
    )
    return 1

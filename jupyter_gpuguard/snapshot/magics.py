"""``%gpuguard``: snapshot, list, restore and status from a notebook cell."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from IPython.core.magic import Magics, line_magic, magics_class

from .model import SnapshotError, SnapshotInfo

if TYPE_CHECKING:
    from .kernel_snapshots import KernelSnapshots

USAGE = """Usage:
  %gpuguard snapshot [--wait]   save the variables in the background (--wait: until done)
  %gpuguard list [--all]        snapshots of this notebook (--all: of every notebook)
  %gpuguard restore [ID] [--rebuild]
                                load a snapshot (default: this notebook's newest) and show
                                the cells that would rebuild what it could not save
                                (--rebuild: re-run them right away)
  %gpuguard rebuild             re-run the cells the last restore showed
  %gpuguard status              the store and the last snapshot"""


def human_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def describe(info: SnapshotInfo) -> str:
    lines = [
        f"Snapshot {info.id}: {len(info.variables)} variables, {human_size(info.bytes_total)}"
        f" ({human_size(info.bytes_written)} new on disk)"
    ]
    for skipped in info.skipped:
        lines.append(f"  skipped {skipped.name} ({skipped.type}): {skipped.reason}")
    lines.extend(f"  note: {note}" for note in info.notes)
    return "\n".join(lines)


def describe_device(device: dict[str, Any], pause: float) -> str:
    """One line on the GPU memory of a snapshot (``Job.device``)."""
    return (
        f"  GPU memory: {human_size(device['bytes_copied'])} copied to host, "
        f"{human_size(device['bytes_reused'])} unchanged; fingerprints and copy "
        f"{device['copy_seconds']:.2f} s, cells waited {device['waited_seconds']:.2f} s; "
        f"kernel paused {pause * 1000:.1f} ms in all"
    )


def describe_restore(report: dict[str, Any]) -> str:
    lines = [f"Restored {len(report['restored'])} variables from {report['snapshot']}"]
    if report["restored"]:
        lines.append("  " + ", ".join(report["restored"]))
    if report["modules"]:
        lines.append("  modules re-imported: " + ", ".join(report["modules"]))
    for skipped in report["skipped"]:
        lines.append(f"  not in the snapshot: {skipped['name']} ({skipped['reason']})")
    for failed in report["failed"]:
        lines.append(f"  FAILED {failed['name']}: {failed['error']}")
    lines.extend(f"  note: {note}" for note in report["notes"])
    if report.get("rebuilt"):
        lines.append("Rebuilt by re-running cells: " + ", ".join(report["rebuilt"]))
    for cell in report.get("replayed", []):
        if not cell["ok"]:
            lines.append(f"  cell {cell['execution_count']} failed again: {cell['error']}")
    return "\n".join(lines)


def describe_plan(plan: dict[str, Any]) -> str:
    if not plan["targets"]:
        return ""
    lines = [plan["summary"]]
    for cell in plan["cells"]:
        flags = f"  [{'; '.join(cell['flags'])}]" if cell["flags"] else ""
        lines.append(f"--- cell {cell['execution_count']}{flags}")
        lines.extend("    " + line for line in cell["source"].splitlines())
    for name, why in plan["unrebuildable"].items():
        lines.append(f"  cannot rebuild {name}: {why}")
    if plan["cells"]:
        lines.append("Run %gpuguard rebuild to re-run them, or leave them.")
    return "\n".join(lines)


@magics_class
class GpuGuardMagics(Magics):
    """The magics of one shell, acting on that shell's ``snapshots``."""

    def __init__(self, shell: Any, snapshots: KernelSnapshots) -> None:
        super().__init__(shell)
        self.snapshots = snapshots

    @line_magic
    def gpuguard(self, line: str) -> None:
        words = shlex.split(line)
        command = words[0] if words else "status"
        snapshots = self.snapshots
        try:
            if command == "snapshot":
                job = snapshots.snapshot()
                # the rest of this cell could change GPU memory the snapshot still reads
                snapshots.wait_for_copy()
                pause = job.pause_seconds * 1000
                if "--wait" in words:
                    job.wait()
                    if job.error:
                        print(f"Snapshot failed: {job.error}")
                    elif job.info:
                        print(describe(job.info) + f"\n  kernel paused {pause:.1f} ms")
                else:
                    print(
                        f"Snapshot started in the background (kernel paused {pause:.1f} ms); "
                        "%gpuguard status shows when it is done."
                    )
            elif command == "list":
                infos = snapshots.store.list()
                if "--all" not in words:
                    infos = snapshots.of_this_notebook(infos)
                if not infos:
                    print(f"No snapshots in {snapshots.store.path}")
                for info in infos:
                    print(
                        f"{info.id}  {info.notebook or '-'}  {len(info.variables)} variables  "
                        f"{human_size(info.bytes_total)}  {len(info.skipped)} skipped"
                    )
            elif command == "restore":
                rebuild = "--rebuild" in words
                ids = [w for w in words[1:] if not w.startswith("--")]
                report = snapshots.restore(ids[0] if ids else None, rebuild=rebuild)
                print(describe_restore(report))
                if not rebuild and report["plan"]["targets"]:
                    print(describe_plan(report["plan"]))
            elif command == "rebuild":
                print(describe_restore(snapshots.rebuild()))
            elif command == "status":
                status = snapshots.status()
                print(f"Store: {status['store']}")
                last = snapshots.last
                if last is None:
                    print("No snapshot taken in this kernel yet.")
                elif not last.done.is_set():
                    print("A snapshot is being written in the background.")
                elif last.error:
                    print(f"The last snapshot failed: {last.error}")
                elif last.info:
                    print(describe(last.info))
                    device = last.device()
                    if device:
                        print(describe_device(device, last.pause_seconds))
            else:
                print(USAGE)
        except SnapshotError as err:
            print(f"gpuguard: {err}")

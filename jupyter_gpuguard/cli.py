"""``jupyter gpuguard``: list, inspect, verify and prune kernel snapshots from a terminal, and
write the wheelhouse a new pod installs the extension from.

``jupyter gpuguard CMD`` runs the ``jupyter-gpuguard`` executable, whose entry point is
:func:`main`. Only the standard library and ``formatting`` are imported at module level, so
``--help`` is instant; the snapshot store (and its pickling dependencies) is imported when a
command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .formatting import format_bytes

if TYPE_CHECKING:
    from .snapshot import SnapshotInfo, Store

PROG = "jupyter gpuguard"

_SIZE_PATTERN = re.compile(
    r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?:(?P<prefix>[kmgtpe])(?P<binary>i)?)?b?\s*$",
    re.IGNORECASE,
)
_EXPONENTS = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class UsageError(Exception):
    """The command line names something that does not exist: exit code 2."""


# ---- formatting and parsing ------------------------------------------------------------------
def parse_size(text: str) -> int:
    """``'500M'``, ``'2G'``, ``'1.5GiB'``, ``'10 kB'``, ``'4096'`` -> bytes.

    K, M, G, T (with or without a trailing B) are powers of 1000; KiB, MiB, GiB, TiB are powers
    of 1024; a plain number is bytes. Fractions of a byte are dropped.
    """
    match = _SIZE_PATTERN.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"invalid size {text!r} (use e.g. 500M, 2G, 1.5GiB or a number of bytes)"
        )
    number = Decimal(match["number"])
    prefix = match["prefix"]
    if prefix:
        base = 1024 if match["binary"] else 1000
        number *= base ** _EXPONENTS[prefix.lower()]
    return int(number)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _clean(text: object) -> str:
    """Text from a manifest, safe to print on a terminal (no control sequences)."""
    return _UNPRINTABLE.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def _local_time(created: str, pattern: str) -> str:
    try:
        moment = datetime.fromisoformat(created)
    except (TypeError, ValueError):
        return _clean(created)
    if moment.tzinfo is not None:
        moment = moment.astimezone()
    return moment.strftime(pattern)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    lines = []
    for row in (headers, *rows):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


# ---- commands ----------------------------------------------------------------------------------
def _store(args: argparse.Namespace) -> Store:
    from .snapshot import Store

    return Store(args.store) if args.store is not None else Store()


def _check_id(snapshot_id: str) -> None:
    from .snapshot.model import valid_snapshot_id

    if not valid_snapshot_id(snapshot_id):
        raise UsageError(
            f"{_clean(snapshot_id[:80])!r} is not a snapshot id "
            "(ids look like 20250101T120000.000Z-0123abcd; see `jupyter gpuguard list`)"
        )


def _missing(store: Store, snapshot_id: str) -> UsageError:
    return UsageError(f"there is no snapshot {snapshot_id} in {store.path}")


def cmd_list(args: argparse.Namespace) -> int:
    from .snapshot.identity import NotebookIdentity, of_notebook

    store = _store(args)
    infos = store.list()
    if args.notebook is not None:
        # Older snapshots recorded only the server's name for it: matched as typed.
        wanted = NotebookIdentity.of_file(args.notebook, store.path, notebook=args.notebook)
        infos = of_notebook(infos, wanted)
    if args.json:
        _emit_json([info.to_json() for info in infos])
        return 0
    if not infos:
        where = f" for notebook {_clean(args.notebook)}" if args.notebook is not None else ""
        print(f"No snapshots{where} in {_clean(store.path)}.")
        return 0
    rows = [
        [
            info.id,
            _local_time(info.created, "%Y-%m-%d %H:%M"),
            _clean(info.notebook) if info.notebook is not None else "-",
            str(len(info.variables)),
            format_bytes(info.bytes_total),
            str(len(info.skipped)),
        ]
        for info in infos
    ]
    headers = ["ID", "CREATED", "NOTEBOOK", "VARIABLES", "SIZE", "SKIPPED"]
    for line in _table(headers, rows, right={3, 4, 5}):
        print(line)
    count = f"{len(infos)} snapshot{'s' if len(infos) != 1 else ''}"
    print(f"\n{count}; store {_clean(store.path)} uses {format_bytes(store.disk_usage())}.")
    return 0


def _describe(info: SnapshotInfo) -> list[str]:
    lines = [
        f"Snapshot   {info.id}",
        f"Created    {_local_time(info.created, '%Y-%m-%d %H:%M:%S %Z').rstrip()}",
        f"Notebook   {_clean(info.notebook) if info.notebook is not None else '-'}",
        f"Kernel     {_clean(info.kernel_id) if info.kernel_id is not None else '-'}",
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
        rows = [[_clean(v.name), _clean(v.type), format_bytes(v.bytes)] for v in info.variables]
        lines += ["  " + line for line in _table(["NAME", "TYPE", "SIZE"], rows, right={2})]
    else:
        lines.append("  (none)")

    lines += ["", f"Skipped ({len(info.skipped)}):"]
    if info.skipped:
        rows = [[_clean(s.name), _clean(s.type), _clean(s.reason)] for s in info.skipped]
        lines += ["  " + line for line in _table(["NAME", "TYPE", "REASON"], rows, right=set())]
    else:
        lines.append("  (none)")

    lines += ["", f"Modules ({len(info.modules)}):"]
    if info.modules:
        for name, module in sorted(info.modules.items()):
            alias = "" if name == module else f" as {_clean(name)}"
            lines.append(f"  import {_clean(module)}{alias}")
    else:
        lines.append("  (none)")

    if info.notes:
        lines += ["", f"Notes ({len(info.notes)}):"]
        lines += [f"  - {_clean(note)}" for note in info.notes]
    return lines


def cmd_show(args: argparse.Namespace) -> int:
    from .snapshot import SnapshotError, StoreSecurityError

    _check_id(args.id)
    store = _store(args)
    try:
        info = store.get(args.id)
    except StoreSecurityError:
        raise
    except SnapshotError:
        if args.id not in store.ids():
            raise _missing(store, args.id) from None
        raise
    plan = store.rebuild_plan(args.id)
    if args.json:
        _emit_json({**info.to_json(), "plan": plan.to_json()})
        return 0
    print("\n".join(_describe(info)))
    if plan.targets:
        print(_clean(plan.summary()))
        for cell in plan.cells:
            first_line = (cell.source.splitlines() or [""])[0]
            risks = f"  [{'; '.join(cell.flags)}]" if cell.flags else ""
            print(f"  cell {cell.execution_count}: {_clean(first_line)[:70]}{risks}")
        for name, why in plan.unrebuildable.items():
            print(f"  cannot rebuild {_clean(name)}: {_clean(why)}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    if args.id is not None:
        _check_id(args.id)
    store = _store(args)
    for guarded in (store.path, store.snapshots_dir, store.chunks_dir):
        store.check_private(guarded)  # one clear error rather than one per snapshot
    if args.id is not None and args.id not in store.ids():
        raise _missing(store, args.id)
    report = store.verify(args.id)
    removed = store.repair(report) if getattr(args, "repair", False) else []
    if args.json:
        _emit_json({**report.to_json(), "removed": removed})
        return 0 if report.ok else 1
    snapshots = f"{len(report.snapshots)} snapshot{'s' if len(report.snapshots) != 1 else ''}"
    chunks = f"{report.chunks_checked} chunk{'s' if report.chunks_checked != 1 else ''}"
    for damaged in report.damaged:
        names = ", ".join(_clean(name) for name in damaged.variables) or "-"
        print(f"DAMAGED  {_clean(damaged.problem)}")
        print(f"         chunk {damaged.chunk}")
        print(f"         affects: {names}")
    for problem in report.problems:
        print(f"PROBLEM  {_clean(problem)}")
    for chunk_id in removed:
        print(f"REMOVED  chunk {chunk_id}: the next snapshot holding its data writes it again")
    if report.ok:
        print(f"OK: {snapshots}, {chunks} checked, no damage found.")
        return 0
    print(
        f"FAILED: {snapshots}, {chunks} checked: {len(report.damaged)} damaged "
        f"chunk{'s' if len(report.damaged) != 1 else ''}, {len(report.problems)} "
        f"other problem{'s' if len(report.problems) != 1 else ''}."
    )
    return 1


def cmd_prune(args: argparse.Namespace) -> int:
    from .snapshot import PruneReport

    store = _store(args)
    if store.path.exists():
        report = store.prune(keep=args.keep, max_bytes=args.max_size)
    else:  # do not create a store by pruning a path that has none (a typo in --store)
        report = PruneReport([], 0, 0)
    if args.json:
        _emit_json(report.to_json())
        return 0
    removed = report.removed_snapshots
    if removed:
        print(f"Removed {len(removed)} snapshot{'s' if len(removed) != 1 else ''}:")
        for snapshot_id in removed:
            print(f"  {snapshot_id}")
    else:
        print("No snapshots removed.")
    print(
        f"Removed {report.removed_chunks} unreferenced chunk"
        f"{'s' if report.removed_chunks != 1 else ''}, "
        f"freed {format_bytes(report.freed_bytes)}."
    )
    if store.path.exists():
        print(f"Store {_clean(store.path)} now uses {format_bytes(store.disk_usage())}.")
    return 0


def cmd_wheelhouse(args: argparse.Namespace) -> int:
    from .wheelhouse import TARGET_PYTHONS, WheelhouseError, default_dir, write_wheelhouse

    if args.dir is not None:
        directory = Path(args.dir).expanduser()
    else:
        directory = default_dir(_store(args).path)
    try:
        report = write_wheelhouse(directory, args.python or TARGET_PYTHONS)
    except WheelhouseError as err:
        return _fail(_clean(err), 1)
    if args.json:
        _emit_json(report.to_json())
    else:
        print("\n".join(_clean(line) for line in report.lines()))
    return 0


def _python_version(text: str) -> str:
    if re.fullmatch(r"3\.\d{1,2}", text) is None:
        raise argparse.ArgumentTypeError(f"invalid Python version {text!r} (use e.g. 3.11)")
    return text


# ---- argument parsing --------------------------------------------------------------------------
def _common_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """``--store`` and ``--json``, accepted before or after the command name: the commands'
    copies leave the value alone unless the option is given after the command."""
    parser.add_argument(
        "--store",
        metavar="DIR",
        default=argparse.SUPPRESS if suppress else None,
        help="the snapshot store (default: $GPUGUARD_STORE, else c.GpuGuard.snapshot_dir from "
        "Jupyter's config files, else /workspace/.gpuguard when writable, else gpuguard/ in "
        "Jupyter's data directory)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="print one JSON document on stdout instead of text",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Inspect and maintain the kernel snapshots saved by jupyter-gpuguard, and "
        "write the wheelhouse that installs it without network.",
        epilog="Exit codes: 0 success, 1 error or damage found, 2 usage error or unknown "
        "snapshot. Run `jupyter gpuguard COMMAND --help` for a command's options.",
    )
    _common_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int], **kwargs: Any) -> Any:
        sub = commands.add_parser(name, parents=[common], **kwargs)
        sub.set_defaults(handler=handler)
        return sub

    listing = add(
        "list",
        cmd_list,
        help="list snapshots, newest first",
        description="List snapshots, newest first, with their size and the store's disk use.",
    )
    listing.add_argument(
        "--notebook",
        metavar="PATH",
        help="only the snapshots of this notebook file (relative to the current directory, or "
        "absolute), whatever root the Jupyter server that took them had",
    )

    show = add(
        "show",
        cmd_show,
        help="show one snapshot: its variables, what was skipped and why",
        description="Show a snapshot's metadata, variables, skipped variables (with the "
        "reason), imported modules and notes.",
    )
    show.add_argument("id", metavar="ID", help="the snapshot id, as `list` prints it")

    verify = add(
        "verify",
        cmd_verify,
        help="re-hash the chunks of one snapshot, or of all",
        description="Read every chunk of one snapshot (or of all of them) and check it "
        "against its hash. Exit code 0 when everything is intact, 1 when damage is found.",
    )
    verify.add_argument("id", metavar="ID", nargs="?", help="one snapshot (default: all)")
    verify.add_argument(
        "--repair",
        action="store_true",
        help="remove the damaged chunks, so that the next snapshot of a kernel that still "
        "holds that data writes them again (which mends older snapshots that share them)",
    )

    prune = add(
        "prune",
        cmd_prune,
        help="remove old snapshots and the chunks no snapshot uses",
        description="Keep the newest snapshots of each notebook, optionally within a size "
        "budget, then delete the chunks that no snapshot references any more.",
    )
    prune.add_argument(
        "--keep",
        type=_positive_int,
        default=10,
        metavar="N",
        help="snapshots to keep per notebook (default: 10)",
    )
    prune.add_argument(
        "--max-size",
        type=parse_size,
        default=None,
        metavar="SIZE",
        help="then remove the oldest snapshots (never the newest) until the chunks fit in "
        "SIZE: e.g. 500M, 2G (powers of 1000), 1.5GiB (powers of 1024), or bytes",
    )

    wheelhouse = add(
        "wheelhouse",
        cmd_wheelhouse,
        help="write this version's wheel and its dependencies' for installs without network",
        description="Write the installed jupyter-gpuguard's wheel (rebuilt from the installed "
        "files: no Node needed) and the wheels of the dependencies JupyterLab does not bring, "
        "for the Pythons of RunPod's images, so that `pip install --no-index --find-links DIR "
        "jupyter-gpuguard` works on a machine with JupyterLab and no network. Says which "
        "Pythons the wheelhouse covers and which it lacks (e.g. when the package index cannot "
        "be reached). Exit code 0 when it wrote what it could, 1 when it could not write.",
    )
    wheelhouse.add_argument(
        "--dir",
        metavar="DIR",
        help="where to write (default: wheels/ in the store, e.g. /workspace/.gpuguard/wheels, "
        "where pods started from the panel look)",
    )
    wheelhouse.add_argument(
        "--python",
        type=_python_version,
        action="append",
        metavar="VERSION",
        help="a Python to fetch compiled wheels for; repeat for more (default: 3.10, 3.11 "
        "and 3.12, those of RunPod's images)",
    )
    return parser


# ---- entry point -------------------------------------------------------------------------------
def _fail(message: str, code: int) -> int:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    return code


def _os_error_message(err: OSError) -> str:
    detail = err.strerror or str(err)
    return f"{detail}: {err.filename}" if err.filename else detail


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    return code if isinstance(code, int) else 1


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error already printed by argparse
        return _exit_code(exc.code)

    from .snapshot import SnapshotError

    try:
        return int(args.handler(args))
    except UsageError as err:
        return _fail(str(err), 2)
    except SnapshotError as err:  # StoreSecurityError included: its message says what to do
        return _fail(_clean(err), 1)
    except BrokenPipeError:  # e.g. `jupyter gpuguard list | head`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    except OSError as err:
        return _fail(_clean(_os_error_message(err)), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as err:  # a damaged store must never end in a traceback
        return _fail(f"unexpected {type(err).__name__}: {_clean(err)}", 1)


if __name__ == "__main__":
    sys.exit(main())

"""``jupyter gpuguard``: list, inspect, verify and prune kernel snapshots from a terminal (in
a local store, or on a replica: ``cli_replica``), pull them from a replica, and write the
wheelhouse a new pod installs the extension from.

``jupyter gpuguard CMD`` runs the ``jupyter-gpuguard`` executable, whose entry point is
:func:`main`. Only the standard library, ``formatting`` and the CLI's own modules (which import
no more) are imported at module level, so ``--help`` is instant; the snapshot store (and its
pickling dependencies) and the replica's client are imported when a command runs.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import cli_replica
from .cli_output import (
    UsageError,
    check_id,
    clean,
    emit_json,
    plural,
    print_listing,
    print_show,
    print_verify,
)
from .cli_replica import is_replica
from .formatting import format_bytes

if TYPE_CHECKING:
    from .snapshot import Store

PROG = "jupyter gpuguard"

_SIZE_PATTERN = re.compile(
    r"^\s*(?P<number>\d+(?:\.\d*)?|\.\d+)\s*(?:(?P<prefix>[kmgtpe])(?P<binary>i)?)?b?\s*$",
    re.IGNORECASE,
)
_EXPONENTS = {"k": 1, "m": 2, "g": 3, "t": 4, "p": 5, "e": 6}
__all__ = ["UsageError", "build_parser", "main", "parse_size"]


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


# ---- commands ----------------------------------------------------------------------------------
def _store(args: argparse.Namespace) -> Store:
    from .snapshot import Store

    if is_replica(args.store):
        raise UsageError(f"{args.command} works on a local store: --store names a directory")
    return Store(args.store) if args.store is not None else Store()


def _missing(store: Store, snapshot_id: str) -> UsageError:
    return UsageError(f"there is no snapshot {snapshot_id} in {store.path}")


def cmd_list(args: argparse.Namespace) -> int:
    from .snapshot.identity import NotebookIdentity, of_notebook

    if is_replica(args.store):
        return cli_replica.list_replica(args)
    store = _store(args)
    infos = store.list()
    if args.notebook is not None:
        # Older snapshots recorded only the server's name for it: matched as typed.
        wanted = NotebookIdentity.of_file(args.notebook, store.path, notebook=args.notebook)
        infos = of_notebook(infos, wanted)
    if args.json:
        emit_json([info.to_json() for info in infos])
        return 0
    if not infos:
        where = f" for notebook {clean(args.notebook)}" if args.notebook is not None else ""
        print(f"No snapshots{where} in {clean(store.path)}.")
        return 0
    print_listing(infos)
    count = plural(len(infos), "snapshot")
    print(f"\n{count}; store {clean(store.path)} uses {format_bytes(store.disk_usage())}.")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .snapshot import SnapshotError, StoreSecurityError

    check_id(args.id)
    if is_replica(args.store):
        return cli_replica.show_replica(args)
    store = _store(args)
    try:
        info = store.get(args.id)
    except StoreSecurityError:
        raise
    except SnapshotError:
        if args.id not in store.ids():
            raise _missing(store, args.id) from None
        raise
    print_show(info, store.rebuild_plan(args.id), args.json)
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    if args.id is not None:
        check_id(args.id)
    if is_replica(args.store):
        return cli_replica.verify_replica(args)
    store = _store(args)
    for guarded in (store.path, store.snapshots_dir, store.chunks_dir):
        store.check_private(guarded)  # one clear error rather than one per snapshot
    if args.id is not None and args.id not in store.ids():
        raise _missing(store, args.id)
    report = store.verify(args.id)
    removed = store.repair(report) if getattr(args, "repair", False) else []
    return print_verify(report, removed, args.json)


def cmd_prune(args: argparse.Namespace) -> int:
    from .snapshot import PruneReport

    if is_replica(args.store):
        return cli_replica.prune_replica(args)
    if args.grace is not None:
        raise UsageError(
            "--grace applies to a replica (--store s3://...): a local store's prune holds its "
            "lock instead"
        )
    store = _store(args)
    if store.path.exists():
        report = store.prune(keep=args.keep, max_bytes=args.max_size)
    else:  # do not create a store by pruning a path that has none (a typo in --store)
        report = PruneReport([], 0, 0)
    if args.json:
        emit_json(report.to_json())
        return 0
    removed = report.removed_snapshots
    if removed:
        print(f"Removed {plural(len(removed), 'snapshot')}:")
        for snapshot_id in removed:
            print(f"  {snapshot_id}")
    else:
        print("No snapshots removed.")
    print(
        f"Removed {plural(report.removed_chunks, 'unreferenced chunk')}, "
        f"freed {format_bytes(report.freed_bytes)}."
    )
    if store.path.exists():
        print(f"Store {clean(store.path)} now uses {format_bytes(store.disk_usage())}.")
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
        return _fail(clean(err), 1)
    if args.json:
        emit_json(report.to_json())
    else:
        print("\n".join(clean(line) for line in report.lines()))
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
        "Jupyter's data directory); list, show, verify and prune also take a replica, "
        "s3://bucket/prefix",
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
        description="Inspect and maintain the kernel snapshots saved by jupyter-gpuguard, on "
        "this disk or on a replica in S3-compatible storage, pull them from the replica, and "
        "write the wheelhouse that installs it without network.",
        epilog="Exit codes: 0 success, 1 error or damage found, 2 usage error or unknown "
        "snapshot. Run `jupyter gpuguard COMMAND --help` for a command's options.",
    )
    _common_options(parser, suppress=False)
    cli_replica.replica_options(parser, suppress=False)
    common = argparse.ArgumentParser(add_help=False)
    _common_options(common, suppress=True)
    remote = argparse.ArgumentParser(add_help=False)
    cli_replica.replica_options(remote, suppress=True)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(
        name: str,
        handler: Callable[[argparse.Namespace], int],
        replica: bool = True,
        **kwargs: Any,
    ) -> Any:
        parents = [common, remote] if replica else [common]
        sub = commands.add_parser(name, parents=parents, **kwargs)
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
        "against its hash. On a replica, check that each manifest can be read and every "
        "chunk it names is there with its size; --deep downloads them and checks their "
        "hashes too. Exit code 0 when everything is intact, 1 when damage is found.",
    )
    verify.add_argument("id", metavar="ID", nargs="?", help="one snapshot (default: all)")
    verify.add_argument(
        "--repair",
        action="store_true",
        help="remove the damaged chunks, so that the next snapshot of a kernel that still "
        "holds that data writes them again (which mends older snapshots that share them)",
    )
    verify.add_argument(
        "--deep",
        action="store_true",
        help="on a replica, download every chunk and check it against its hash (a local "
        "store always does)",
    )

    prune = add(
        "prune",
        cmd_prune,
        help="remove old snapshots and the chunks no snapshot uses",
        description="Keep the newest snapshots of each notebook, optionally within a size "
        "budget, then delete the chunks that no snapshot references any more. On a replica, "
        "a chunk no snapshot references is deleted by a prune at least --grace seconds after "
        "an earlier prune found it so (a concurrent upload may count on it meanwhile).",
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
    prune.add_argument(
        "--grace",
        type=cli_replica.seconds,
        default=None,
        metavar="SECONDS",
        help="on a replica: how long a chunk stays unreferenced before it is deleted "
        "(default: 3600; at least 600, twice how long an upload counts on one listing)",
    )

    cli_replica.add_pull(add)

    wheelhouse = add(
        "wheelhouse",
        cmd_wheelhouse,
        replica=False,
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
        return _fail(clean(err), 1)
    except BrokenPipeError:  # e.g. `jupyter gpuguard list | head`
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):
            pass
        return 1
    except OSError as err:
        return _fail(clean(_os_error_message(err)), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as err:  # a damaged store must never end in a traceback
        return _fail(f"unexpected {type(err).__name__}: {clean(err)}", 1)


if __name__ == "__main__":
    sys.exit(main())

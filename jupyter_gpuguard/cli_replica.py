"""``jupyter gpuguard`` on a replica (``--store s3://bucket/prefix``): list, show, verify and
prune it where it is, and ``pull`` one of its snapshots into the local store.

The replica comes from the command line, else from Jupyter's config files
(``c.GpuGuard.snapshot_replica``, ``s3_endpoint_url``, ``s3_region``, read as the CLI reads
``snapshot_dir``), else from the environment (``AWS_ENDPOINT_URL``, ``AWS_REGION``);
credentials from the standard AWS chain. Standard library only at module level: the replica
package (and obstore) is imported when a command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

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
from .formatting import format_bytes

if TYPE_CHECKING:
    from .snapshot import Store
    from .snapshot.replica import Replica
    from .snapshot.replica.settings import ReplicaSettings

DEFAULT_GRACE = 3600.0
PROGRESS_AFTER = 1.0  # seconds: a quicker pull prints no progress


def is_replica(where: str | None) -> bool:
    """Whether ``--store`` names a replica rather than a directory."""
    return where is not None and where[:5].lower() == "s3://"


def _setting(name: str) -> str | None:
    from .snapshot.location import configured_setting

    return configured_setting(name)


def _panel_replica() -> ReplicaSettings | None:
    """The replica set in the panel of this user's Jupyter server, which the server prefers
    to c.GpuGuard.snapshot_replica; its keys come along for the same address only."""
    from .snapshot.replica.settings import saved, settings_file_at

    return saved(settings_file_at(_setting("replica_settings_file")))


def default_replica() -> str | None:
    panel = _panel_replica()
    return panel.url if panel else _setting("snapshot_replica")


def open_replica(url: str, args: argparse.Namespace) -> Replica:
    from .snapshot.replica import Replica, Timeouts

    panel = _panel_replica()
    if panel is not None and panel.url != url:
        panel = None
    endpoint = (
        getattr(args, "endpoint_url", None)
        or (panel.endpoint_url if panel else None)
        or _setting("s3_endpoint_url")
        or os.environ.get("AWS_ENDPOINT_URL_S3")
        or os.environ.get("AWS_ENDPOINT_URL")
        or None
    )
    # None: the client goes on to AWS_REGION, ~/.aws/config, us-east-1
    region = (
        getattr(args, "region", None)
        or (panel.region if panel else None)
        or _setting("s3_region")
        or None
    )
    limit = getattr(args, "timeout", None)
    timeouts = (
        Timeouts()
        if limit is None
        else Timeouts(connect=min(5.0, limit), request=limit, retries=3, total=limit)
    )
    credentials = panel.credentials if panel else None
    return Replica(
        url, endpoint_url=endpoint, region=region, credentials=credentials, timeouts=timeouts
    )


def _where(replica: Replica) -> str:
    return f"{clean(replica.url)} ({clean(replica.endpoint)})"


def _missing(err: Exception) -> UsageError:
    return UsageError(clean(err))


# ---- list, show, verify, prune on a replica ---------------------------------------------------
def list_replica(args: argparse.Namespace) -> int:
    replica = open_replica(args.store, args)
    infos = replica.list()
    if args.notebook is not None:
        from .snapshot.identity import NotebookIdentity, of_notebook
        from .snapshot.location import default_store_path

        # the volume a notebook path is compared on is this machine's store's
        wanted = NotebookIdentity.of_file(
            args.notebook, default_store_path(), notebook=args.notebook
        )
        infos = of_notebook(infos, wanted)
    if args.json:
        emit_json([info.to_json() for info in infos])
        return 0
    if not infos:
        where = f" for notebook {clean(args.notebook)}" if args.notebook is not None else ""
        print(f"No snapshots{where} on {_where(replica)}.")
        return 0
    print_listing(infos)
    print(f"\n{plural(len(infos), 'snapshot')} on {_where(replica)}.")
    return 0


def show_replica(args: argparse.Namespace) -> int:
    from .snapshot.manifests import info_of
    from .snapshot.rebuild import plan_of
    from .snapshot.replica import ReplicaSnapshotMissing

    replica = open_replica(args.store, args)
    try:
        manifest = replica.manifest(args.id)
    except ReplicaSnapshotMissing as err:
        raise _missing(err) from None
    print_show(info_of(manifest), plan_of(manifest), args.json)
    return 0


def verify_replica(args: argparse.Namespace) -> int:
    from .snapshot.replica import ReplicaSnapshotMissing

    if getattr(args, "repair", False):
        raise UsageError(
            "--repair mends a local store; on a replica, upload the snapshot again from a "
            "store that has it intact"
        )
    replica = open_replica(args.store, args)
    try:
        report = replica.verify(args.id, deep=args.deep)
    except ReplicaSnapshotMissing as err:
        raise _missing(err) from None
    checked = "checked against their hashes" if args.deep else "present with their sizes"
    return print_verify(report, [], args.json, checked)


def prune_replica(args: argparse.Namespace) -> int:
    if args.max_size is not None:
        raise UsageError(
            "--max-size applies to a local store; a replica's prune keeps --keep per notebook"
        )
    grace = DEFAULT_GRACE if args.grace is None else args.grace
    replica = open_replica(args.store, args)
    report = replica.prune(keep=args.keep, grace_seconds=grace)
    if args.json:
        emit_json(
            {
                "removed_snapshots": report.removed,
                "removed_chunks": report.removed_chunks,
                "freed_bytes": report.freed_bytes,
                "waiting_chunks": report.waiting_chunks,
                "grace_seconds": grace,
                "problems": report.problems,
            }
        )
        return 0
    if report.removed:
        print(f"Removed {plural(len(report.removed), 'snapshot')}:")
        for snapshot_id in report.removed:
            print(f"  {snapshot_id}")
    else:
        print("No snapshots removed.")
    print(
        f"Removed {plural(report.removed_chunks, 'unreferenced chunk')}, "
        f"freed {format_bytes(report.freed_bytes)}."
    )
    if report.waiting_chunks:
        print(
            f"{plural(report.waiting_chunks, 'unreferenced chunk')} "
            f"{'waits' if report.waiting_chunks == 1 else 'wait'} out the grace period "
            f"({grace:g} s) before a later prune deletes "
            f"{'it' if report.waiting_chunks == 1 else 'them'}."
        )
    for problem in report.problems:
        print(f"PROBLEM  {clean(problem)}")
    print(f"Replica {_where(replica)}.")
    return 0


# ---- pull ----------------------------------------------------------------------------------
class ProgressLine:
    """``bytes left of total`` on a stream, once a transfer has run ``after`` seconds: in
    place on a terminal, a line every ``every`` seconds elsewhere (a log). Called from the
    transfer's threads; the first call carries the total."""

    def __init__(
        self,
        label: str,
        stream: IO[str],
        *,
        after: float = PROGRESS_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self.stream = stream
        self.after = after
        self.clock = clock
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.every = 0.2 if self.tty else 5.0
        self.started = clock()
        self.total: int | None = None
        self.left = 0
        self.shown_at: float | None = None
        self._lock = threading.Lock()

    def _text(self) -> str:
        total = self.total or 0
        return f"{self.label}: {format_bytes(self.left)} left of {format_bytes(total)}"

    def _show(self) -> None:
        if self.tty:
            self.stream.write(f"\r{self._text()}\x1b[K")
        else:
            self.stream.write(self._text() + "\n")
        self.stream.flush()

    def __call__(self, left: int) -> None:
        with self._lock:
            if self.total is None:
                self.total = left
            self.left = left
            now = self.clock()
            if now - self.started < self.after:
                return
            if self.shown_at is not None and now - self.shown_at < self.every and left:
                return
            self.shown_at = now
            self._show()

    def finish(self) -> None:
        with self._lock:
            if self.shown_at is not None and self.tty:
                self.stream.write("\n")
                self.stream.flush()


def _local_store(args: argparse.Namespace) -> Store:
    from .snapshot import Store

    if is_replica(args.store):
        raise UsageError(
            "pull writes into a local store: --store names a directory, --from the replica"
        )
    return Store(args.store) if args.store is not None else Store()


def _newest_of(replica: Replica, notebook: str, store: Store) -> str:
    from .snapshot.identity import NotebookIdentity, of_notebook

    # the volume a notebook path is compared on is that of the store pulled into
    wanted = NotebookIdentity.of_file(notebook, store.path, notebook=notebook)
    found = of_notebook(replica.list(), wanted)
    if not found:
        raise UsageError(f"there is no snapshot of {clean(notebook)} on {_where(replica)}")
    return found[0].id


def cmd_pull(args: argparse.Namespace) -> int:
    from .snapshot.replica import ReplicaSnapshotMissing

    if (args.id is None) == (args.latest is None):
        raise UsageError("give a snapshot ID or --latest NOTEBOOK (one of them)")
    if args.id is not None:
        check_id(args.id)
    url = args.source or default_replica()
    if not url:
        raise UsageError(
            "no replica to pull from: give --from s3://bucket/prefix or set "
            "c.GpuGuard.snapshot_replica in a Jupyter config file"
        )
    if not is_replica(url):
        raise UsageError("--from takes a replica's address, s3://bucket/prefix")
    store = _local_store(args)
    replica = open_replica(url, args)
    snapshot_id = args.id if args.id is not None else _newest_of(replica, args.latest, store)
    progress = ProgressLine(f"pulling {snapshot_id}", sys.stderr)
    try:
        report = replica.pull(store, snapshot_id, progress=progress)
    except ReplicaSnapshotMissing as err:
        raise _missing(err) from None
    finally:
        progress.finish()
    if args.json:
        document: dict[str, Any] = {
            "id": snapshot_id,
            "replica": replica.url,
            "store": str(store.path),
            "bytes_downloaded": report.bytes_downloaded,
            "chunks_downloaded": report.chunks_downloaded,
            "chunks_present": report.chunks_present,
            "seconds": round(report.seconds, 3),
            "snapshot": report.snapshot.to_json(),
        }
        emit_json(document)
        return 0
    print(
        f"Pulled {snapshot_id} from {_where(replica)} into {clean(store.path)}: "
        f"{format_bytes(report.bytes_downloaded)} downloaded "
        f"({plural(report.chunks_downloaded, 'chunk')}; "
        f"{report.chunks_present} already here), checked against their hashes, "
        f"in {report.seconds:.1f} s."
    )
    notebook = report.snapshot.notebook
    print(
        f"Restore it with `%gpuguard restore {snapshot_id}`"
        + (f" in {clean(notebook)}." if notebook else ".")
    )
    return 0


# ---- argument parsing ------------------------------------------------------------------------
def seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number of seconds {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, not {text}")
    return value


def replica_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """``--endpoint-url``, ``--region`` and ``--timeout``, for the commands that reach a
    replica (before or after the command name, as ``--store``)."""
    default = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--endpoint-url",
        metavar="URL",
        default=default,
        help="the replica's S3 endpoint for services other than AWS S3, e.g. "
        "https://s3api-<dc>.runpod.io (default: c.GpuGuard.s3_endpoint_url from Jupyter's "
        "config files, else $AWS_ENDPOINT_URL, else AWS S3)",
    )
    parser.add_argument(
        "--region",
        metavar="REGION",
        default=default,
        help="the replica's region (default: c.GpuGuard.s3_region, else $AWS_REGION, else "
        "~/.aws/config, else us-east-1)",
    )
    parser.add_argument(
        "--timeout",
        type=seconds,
        metavar="SECONDS",
        default=default,
        help="how long one request to the replica waits for an answer, and how long it is "
        "retried (default: 120 and 60; connecting waits at most 5)",
    )


def add_pull(add: Callable[..., Any]) -> None:
    pull = add(
        "pull",
        cmd_pull,
        help="fetch one snapshot of the replica into the local store",
        description="Download a snapshot from the replica into the local store: the chunks "
        "the store lacks, each checked against its hash, then its manifest; restore it "
        "then as any other. Progress goes to stderr when it takes over a second. Exit code "
        "0 when pulled, 1 when the replica fails or holds damage, 2 for an unknown id.",
    )
    pull.add_argument("id", metavar="ID", nargs="?", help="the snapshot id, as `list` prints it")
    pull.add_argument(
        "--latest",
        metavar="NOTEBOOK",
        help="instead of an ID: the newest snapshot of this notebook file (relative to the "
        "current directory, or absolute)",
    )
    pull.add_argument(
        "--from",
        dest="source",
        metavar="S3URL",
        help="the replica, s3://bucket/prefix (default: c.GpuGuard.snapshot_replica from "
        "Jupyter's config files)",
    )

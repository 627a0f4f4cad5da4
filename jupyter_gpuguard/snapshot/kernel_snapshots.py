"""Snapshots of the running kernel that pause it only for a fork.

The kernel forks; the child, a copy-on-write image of the namespace at that instant,
serializes and writes, then leaves with ``os._exit``; the parent goes on at once and a
reaper thread collects the child's answer. The child touches no ZeroMQ, asyncio or lock
of the parent: its output goes to /dev/null and a watchdog ends it if it hangs.
"""

from __future__ import annotations

import contextlib
import faulthandler
import gc
import json
import os
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import control, control_listener, protocol
from .cuda import BlockedBuffer, blockable, variables_holding_cuda
from .cuda_copy import DeviceCopier, Pending, host_copies, release_copies
from .host_memory import DEFAULT_MARGIN, parse_margin
from .identity import IDENTITY_FIELDS, NotebookIdentity, of_notebook
from .model import SnapshotError, SnapshotInfo
from .restore import apply
from .store import Store

WATCHDOG_SECONDS = 600.0
CONNECTION_FILE_KERNEL_ID = re.compile(r"kernel-([0-9a-f-]{8,})\.json$")


@dataclass
class Job:
    """One snapshot in flight or done."""

    started: float
    pause_seconds: float = 0.0
    pid: int | None = None
    info: SnapshotInfo | None = None
    error: str | None = None
    finished: float | None = None
    done: threading.Event = field(default_factory=threading.Event)
    # the GPU tensors of this snapshot, from the pause to the end of their copy
    pending: Pending | None = field(default=None, repr=False)

    def wait(self, timeout: float | None = None) -> Job:
        self.done.wait(timeout)
        return self

    def device(self) -> dict[str, Any] | None:
        """What the snapshot did with GPU memory: bytes copied and reused, time taken."""
        pending = self.pending
        if pending is None or pending.outcome is None:
            return None
        return pending.outcome.stats(pending)

    def to_json(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "finished": self.finished,
            "pause_seconds": self.pause_seconds,
            "in_flight": not self.done.is_set(),
            "snapshot": self.info.to_json() if self.info else None,
            "error": self.error,
            "device": self.device(),
        }


def kernel_id_from_connection_file() -> str | None:
    try:
        from ipykernel.connect import get_connection_file

        match = CONNECTION_FILE_KERNEL_ID.search(get_connection_file())
    except Exception:
        return None
    return match.group(1) if match else None


def with_cell_history(arguments: dict[str, Any]) -> dict[str, Any]:
    """The save arguments with the cell history analysed: done by the writer, off the
    kernel's time."""
    from .history import analyse_records

    return {**arguments, "cells": analyse_records(arguments.get("cells") or [])}


class KernelSnapshots:
    """Snapshots of one IPython shell's namespace."""

    def __init__(
        self,
        shell: Any,
        store: Store | None = None,
        kernel_id: str | None = None,
        notebook: str | None = None,
        cuda: str = "copy",
    ) -> None:
        self.shell = shell
        self.store = store or Store()
        self.kernel_id = kernel_id or kernel_id_from_connection_file()
        session_name = os.environ.get("JPY_SESSION_NAME") or None
        self.notebook = notebook or session_name
        # The server's attach names the file (identity.py); until then, jupyter_server's
        # JPY_SESSION_NAME does where it is absolute (its cwd joined with the session's name).
        self.notebook_path: str | None = None
        self.notebook_volume_path: str | None = None
        self.server_root: str | None = None
        if notebook is None and session_name is not None and os.path.isabs(session_name):
            self.notebook_path = session_name
        self.cuda = os.environ.get("GPUGUARD_CUDA", cuda)
        margin = os.environ.get("GPUGUARD_CUDA_HOST_MEMORY_MARGIN") or DEFAULT_MARGIN
        self.devices = DeviceCopier(margin=margin)
        self.watchdog_seconds = WATCHDOG_SECONDS
        self.last: Job | None = None
        self.last_good: Job | None = None
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.control_path: str | None = None
        from .history import HistoryRecorder

        self.history = HistoryRecorder(shell)
        if hasattr(shell, "events"):
            self.history.register()
            shell.events.register("pre_run_cell", self._before_cell)
            shell.events.register("post_run_cell", self._after_cell)
        self.last_restore: dict[str, Any] | None = None
        # cells started, and whether one runs: a copy is consistent if none started during it
        self._cells = 0
        self._in_cell = False

    # ---- taking a snapshot -----------------------------------------------------------
    def _namespace(self) -> dict[str, Any]:
        return dict(self.shell.user_ns)

    def _hidden(self) -> set[str]:
        return set(getattr(self.shell, "user_ns_hidden", {}))

    def _history(self) -> tuple[list[str], int | None]:
        history = self.shell.user_ns.get("In")
        return (list(history) if isinstance(history, list) else []), getattr(
            self.shell, "execution_count", None
        )

    def snapshot(self, background: bool = True, urgent: bool = False) -> Job:
        """Start a snapshot; callable from any thread. One at a time: a second call while one
        is in flight returns that one. Unless ``urgent`` (a preemption is coming), the writer
        runs at low CPU priority so that the user's next cell keeps the CPU."""
        with self._lock:
            if self.last is not None and not self.last.done.is_set():
                return self.last
            job = Job(started=time.time())
            self.last = job
        begin = time.perf_counter()
        namespace = self._namespace()
        history, count = self._history()
        from .capture import user_variables

        variables, _modules = user_variables(namespace, self._hidden())
        if not variables:
            # An empty snapshot would only hide the last useful one.
            job.error = "there is nothing to save: the kernel holds no variables yet"
            self._finish(job)
            return job
        skip: dict[str, str] = {}
        whole: dict[int, Any] = {}
        if self.cuda == "skip":
            skip = variables_holding_cuda(variables)
        else:
            found = self.devices.collect(variables)
            tensors = [t for t in found if blockable(t)]
            # sparse and quantized ones, copied whole now as before (they are rare and small)
            whole = {id(t): t.detach().to("cpu") for t in found if not blockable(t)}
            if tensors:
                pending = self.devices.begin(tensors)
                # From the main thread (a magic, a call in a cell), the cell waits for the
                # copy; from another, the kernel must be idle, and stay so (``_copy``).
                on_main = threading.current_thread() is threading.main_thread()
                pending.consistent = on_main or not self._in_cell
                pending.cells_at_begin = self._cells
                job.pending = pending
        try:
            arguments = {
                **self.identity().save_arguments(),
                "kernel_id": self.kernel_id,
                "hidden": self._hidden(),
                "history": history,
                "cells": self.history.records(history),
                "execution_count": count,
                "host_copies": whole,
                "skip": skip,
                "notes": [],
            }
            if background and hasattr(os, "fork"):
                self._fork(job, namespace, arguments, begin, urgent)
            else:
                self._synchronous(job, namespace, arguments, begin)
        except BaseException as err:
            if job.pending is not None and not job.pending.copied.is_set():
                self._copied(job.pending)  # no cell may wait for a copy that never starts
            if not job.done.is_set():
                job.error = str(err) or type(err).__name__
                self._finish(job)
            raise
        return job

    def _synchronous(
        self, job: Job, namespace: dict[str, Any], arguments: dict[str, Any], begin: float
    ) -> None:
        pending, mapped = job.pending, None
        copies: dict[int, Any] = {}
        try:
            if pending is not None:
                pending.outcome = self.devices.copy(pending, self._has_chunk)
                copies, notes, mapped = host_copies(
                    pending.tensors, pending.outcome.message(), pending.fd
                )
                copies.update(arguments["host_copies"])
                arguments = {**arguments, "host_copies": copies, "notes": notes}
            job.info = self.store.save(namespace, **with_cell_history(arguments))
            if pending is not None:
                self.devices.remember(pending, written_blocks(pending, copies))
        except Exception as err:
            job.error = str(err)
            self.devices.forget()
        finally:
            if pending is not None:
                release_copies(copies, mapped)
                self._copied(pending)
        job.pause_seconds = time.perf_counter() - begin
        self._finish(job)

    # ---- GPU memory, copied while the kernel goes on -------------------------------------
    def _has_chunk(self, chunk_id: str, size: int) -> bool:
        try:
            return os.lstat(self.store.chunk_path(chunk_id)).st_size == size
        except (OSError, SnapshotError):
            return False

    def _copy(self, job: Job, pending: Pending, plan_write: int) -> None:
        """On a thread of the kernel, after the fork: copy what changed, tell the writer."""
        try:
            pending.outcome = self.devices.copy(pending, self._has_chunk)
            if self._cells != pending.cells_at_begin:
                pending.consistent = False  # a cell began before it could wait for the copy
            data = json.dumps(pending.outcome.message()).encode()
            with contextlib.suppress(OSError):  # a writer that died is reported by the reaper
                while data:
                    data = data[os.write(plan_write, data) :]
        finally:
            os.close(plan_write)
            self._copied(pending)

    @staticmethod
    def _copied(pending: Pending) -> None:
        with contextlib.suppress(OSError):
            os.close(pending.fd)
        pending.tensors = []  # a tensor the user deletes now frees its GPU memory
        pending.copied.set()

    def _before_cell(self, *_info: Any) -> None:
        self.wait_for_copy()
        self._cells += 1
        self._in_cell = True

    def _after_cell(self, *_info: Any) -> None:
        self._in_cell = False

    def wait_for_copy(self, *_info: Any) -> float:
        """Before a cell runs (IPython's ``pre_run_cell``), and after ``%gpuguard snapshot``:
        wait until the GPU memory of the snapshot is copied, so that nothing changes it
        first. The wait is part of the snapshot's pause."""
        job = self.last
        pending = job.pending if job is not None else None
        if pending is None or pending.copied.is_set():
            return 0.0
        started = time.perf_counter()
        pending.copied.wait(self.watchdog_seconds)
        waited = time.perf_counter() - started
        pending.waited_seconds += waited
        job.pause_seconds += waited  # type: ignore[union-attr]
        return waited

    def _fork(
        self,
        job: Job,
        namespace: dict[str, Any],
        arguments: dict[str, Any],
        begin: float,
        urgent: bool = False,
    ) -> None:
        read_end, write_end = os.pipe()
        pending = job.pending
        plan_read, plan_write = os.pipe() if pending is not None else (-1, -1)
        try:
            pid = os.fork()
        except OSError:
            for fd in (read_end, write_end, plan_read, plan_write):
                if fd >= 0:
                    os.close(fd)
            raise
        if pid == 0:  # the child: never returns
            os.close(read_end)
            if pending is not None:
                os.close(plan_write)
            _child(
                self.store,
                namespace,
                arguments,
                write_end,
                self.watchdog_seconds,
                urgent,
                pending,
                plan_read,
            )
        os.close(write_end)
        job.pid = pid
        job.pause_seconds = time.perf_counter() - begin
        if pending is not None:
            os.close(plan_read)
            copier = threading.Thread(
                target=self._copy, args=(job, pending, plan_write), name="gpuguard-copy"
            )
            copier.daemon = True
            copier.start()
        threading.Thread(
            target=self._reap, args=(job, pid, read_end), name="gpuguard-reaper", daemon=True
        ).start()

    def _reap(self, job: Job, pid: int, read_end: int) -> None:
        chunks = []
        with os.fdopen(read_end, "rb") as pipe:
            for chunk in iter(lambda: pipe.read(65536), b""):
                chunks.append(chunk)
        _pid, status = os.waitpid(pid, 0)
        try:
            answer = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            answer = {}
        if job.pending is not None:
            job.pending.copied.wait(self.watchdog_seconds)
            blocks = answer.get("device_blocks")
            if "snapshot" in answer and isinstance(blocks, dict):
                self.devices.remember(job.pending, {int(k): v for k, v in blocks.items()})
            else:
                self.devices.forget()  # what it would reuse may be what failed
        if "snapshot" in answer:
            job.info = SnapshotInfo.from_manifest(answer["snapshot"])
        elif "error" in answer:
            job.error = answer["error"]
        elif os.WIFSIGNALED(status):
            job.error = f"the snapshot process was killed by signal {os.WTERMSIG(status)}"
        else:
            job.error = (
                f"the snapshot process gave up after {self.watchdog_seconds:g} s"
                if os.WEXITSTATUS(status) == 1
                else f"the snapshot process exited with status {os.WEXITSTATUS(status)}"
            )
        self._finish(job)

    def _finish(self, job: Job) -> None:
        job.finished = time.time()
        if job.info is not None:
            self.last_good = job
        job.done.set()

    # ---- which notebook ------------------------------------------------------------------
    def identity(self) -> NotebookIdentity:
        volume_path = self.notebook_volume_path
        if volume_path is None and self.notebook_path is not None and self.server_root is None:
            # Not named by a server, which would have said: found from this kernel's store.
            volume_path = NotebookIdentity.of_file(self.notebook_path, self.store.path).volume_path
        return NotebookIdentity(self.notebook, self.notebook_path, volume_path, self.server_root)

    def of_this_notebook(self, infos: list[SnapshotInfo]) -> list[SnapshotInfo]:
        """The snapshots of this kernel's notebook file among ``infos``; all of them when the
        notebook is not known."""
        identity = self.identity()
        return of_notebook(infos, identity) if identity.known else infos

    def _take_notebook(self, request: dict[str, Any]) -> None:
        """The notebook a server's request names; a request that names no file leaves the one
        known (an older server's)."""
        notebook = request.get("notebook")
        if not isinstance(notebook, str) or not notebook:
            return
        self.notebook = notebook
        if any(key in request for key in IDENTITY_FIELDS):
            # All three at once: after a rename, an old path must not stay with the new name.
            named = NotebookIdentity.from_request(request)
            self.notebook_path, self.notebook_volume_path = named.path, named.volume_path
            self.server_root = named.server_root

    # ---- restoring -----------------------------------------------------------------------
    def restore(self, snapshot_id: str | None = None, rebuild: bool = False) -> dict[str, Any]:
        """Load a snapshot of this notebook (the newest when no id) into the namespace;
        with ``rebuild``, then re-run the cells that rebuild what it could not save."""
        if snapshot_id is None:
            everything = self.store.list()
            candidates = self.of_this_notebook(everything) or everything
            if not candidates:
                raise SnapshotError(f"there are no snapshots in {self.store.path}")
            snapshot_id = candidates[0].id
        result = self.store.load(snapshot_id)
        report = apply(result, self.shell.user_ns)
        self.last_restore = report
        if rebuild:
            self.rebuild()
        return report

    def rebuild(self) -> dict[str, Any]:
        """Re-run the plan of the last restore; updates and answers its report."""
        from .rebuild import RebuildPlan, replay

        report = self.last_restore
        if report is None:
            raise SnapshotError("nothing was restored in this kernel: restore a snapshot first")
        if report["replayed"]:
            raise SnapshotError("the cells of this restore were already re-run")
        plan = RebuildPlan.from_json(report["plan"])
        result = replay(plan, self.shell.user_ns, report["restored"], self._transform)
        rebuilt = set(result.rebuilt)
        report["rebuilt"] = result.rebuilt
        report["replayed"] = result.replayed
        failed = {f["name"]: f for f in report["failed"] if f["name"] not in rebuilt}
        for failure in result.failed:
            earlier = failed.get(failure["name"])
            error = f"rebuild failed: {failure['error']}"
            failed[failure["name"]] = {
                "name": failure["name"],
                "error": f"{earlier['error']}; {error}" if earlier else error,
            }
        for name, why in plan.unrebuildable.items():
            failed.setdefault(name, {"name": name, "error": f"cannot be rebuilt: {why}"})
        report["failed"] = list(failed.values())
        report["removed"] = result.removed
        report["notes"] = [
            *report["notes"],
            *(f"{item['name']} was removed: {item['reason']}" for item in result.removed),
        ]
        return report

    def _transform(self, source: str) -> str:
        transform = getattr(self.shell, "transform_cell", None)
        return transform(source) if transform is not None else source

    def status(self) -> dict[str, Any]:
        return {
            "store": str(self.store.path),
            "kernel_id": self.kernel_id,
            "notebook": self.notebook,
            "notebook_path": self.notebook_path,
            "control_socket": self.control_path,
            "execution_count": getattr(self.shell, "execution_count", None),
            "pid": os.getpid(),
            "last": self.last.to_json() if self.last else None,
            "last_good": self.last_good.to_json() if self.last_good else None,
        }

    # ---- a side channel for snapshots while a cell runs ----------------------------------
    def listen(self, path: str) -> str:
        """Answer control requests on a Unix socket at ``path``, from a thread of its own.

        Lets the server snapshot a kernel busy in a long cell (a preemption notice during
        training): the request does not wait for the kernel to become idle. The socket's
        directory must be private to this user, and only this user's processes are answered.
        """
        if self._listener is not None:
            return self.control_path or path
        try:
            listener = control_listener.bind(path)
        except control.ControlSocketError as err:
            raise SnapshotError(str(err)) from None
        self._listener, self.control_path = listener, path
        control_listener.serve(listener, self._answer)
        return path

    def _answer(self, line: str) -> dict[str, Any]:
        """One control request; ``protocol`` names the ops and the shapes of the answers."""
        try:
            request = protocol.parse_request(line)
            op = request.get("op")
            if op == protocol.SNAPSHOT:
                self._take_notebook(request)
                urgent = bool(request.get("urgent"))
                return self.snapshot(urgent=urgent).wait(self.watchdog_seconds + 5).to_json()
            if op == protocol.STATUS:
                return self.status()
            if op == protocol.ATTACH:
                return self._attach_request(request)
            raise protocol.unknown_op(op)
        except SnapshotError as err:  # answered: the channel's thread must outlive one request
            return dict(protocol.error_answer(err))

    def _attach_request(self, request: dict[str, Any]) -> dict[str, Any]:
        """The server's settings for a kernel that loaded the kernel side at its start."""
        store, kernel_id = (request.get(k) for k in ("store", "kernel_id"))
        if isinstance(store, str) and store and Path(store) != self.store.path:
            self.store = Store(store)
        if isinstance(kernel_id, str) and kernel_id:
            self.kernel_id = kernel_id
        margin = request.get("cuda_host_memory_margin")
        if isinstance(margin, str) and margin:
            try:
                parse_margin(margin)
            except ValueError as err:
                raise protocol.RequestError(str(err)) from None
            self.devices.margin = margin
        self._take_notebook(request)
        return self.status()


def _child(
    store: Store,
    namespace: dict[str, Any],
    arguments: dict[str, Any],
    out: int,
    watchdog: float,
    urgent: bool,
    pending: Pending | None = None,
    plan_read: int = -1,
) -> None:
    """Body of the forked child: save, report through the pipe, leave without cleanup.

    With GPU tensors, it first waits for the kernel's word on what it copied (``cuda_copy``).
    """
    code = 0
    try:
        gc.disable()
        if not urgent:
            with contextlib.suppress(OSError):
                os.nice(10)
        devnull = open(os.devnull, "w")  # noqa: SIM115 - lives until os._exit
        sys.stdout = sys.stderr = devnull
        faulthandler.dump_traceback_later(watchdog, exit=True, file=devnull)
        try:
            copies: dict[int, Any] = {}
            if pending is not None:
                with os.fdopen(plan_read, "rb") as plan:
                    message = json.loads(plan.read() or b'{"error": "the kernel sent no plan"}')
                copies, notes, _mapped = host_copies(pending.tensors, message, pending.fd)
                copies.update(arguments["host_copies"])
                arguments = {**arguments, "host_copies": copies, "notes": notes}
            # A forked copy: the pages it has written can go, so the kernel stops copying them.
            info = store.save(namespace, **with_cell_history(arguments), release_written=True)
            payload: dict[str, Any] = {"snapshot": info.to_json()}
            if pending is not None:
                payload["device_blocks"] = written_blocks(pending, copies)
        except BaseException as err:  # report everything: the parent must learn what happened
            payload = {"error": str(err) or type(err).__name__}
        data = json.dumps(payload).encode()
        while data:
            data = data[os.write(out, data) :]
    except BaseException:
        code = 3
    finally:
        os._exit(code)


def written_blocks(pending: Pending, copies: dict[int, Any]) -> dict[int, list[str | None]]:
    """Tensor index -> the chunk of each of its blocks, as the save wrote or reused them."""
    blocks = {}
    for index, tensor in enumerate(pending.tensors):
        blocked = copies.get(id(tensor))
        if isinstance(blocked, BlockedBuffer):
            blocks[index] = list(blocked.chunk_ids)
    return blocks

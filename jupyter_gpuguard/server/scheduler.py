"""Keeps every Python notebook kernel snapshotted, and snapshots them all on a notice.

Each tick looks only at what the server already knows (kernel state, process id, sessions):
no kernel is contacted unless it must be attached or a snapshot is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import shlex
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jupyter_server.services.contents.fileio import FileManagerMixin

from ..config import GpuGuard
from ..instance.detector import InstanceDetector
from ..instance.model import PreemptionNotice
from ..snapshot import protocol
from ..snapshot.identity import NotebookIdentity, of_notebook
from ..snapshot.location import store_path_for
from ..snapshot.model import SnapshotError, SnapshotInfo
from . import kernel_link
from .kernel_link import KernelLinkError
from .launch import KernelLauncher
from .replication import Replication
from .upkeep import StoreUpkeep

if TYPE_CHECKING:
    from ..snapshot.store import Store

# A silent execute in an idle kernel, when nobody is waiting on it.
ATTACH_TIMEOUT = 30.0
# What set-up may take when a snapshot waits on it: well inside a 30 s preemption notice.
URGENT_ATTACH_TIMEOUT = 5.0
# A kernel started with the kernel side has its socket open before it answers anything; this
# covers one that is still starting or restarting.
SOCKET_WAIT = 3.0
SOCKET_TIMEOUT = 10.0
SNAPSHOT_TIMEOUT = 900.0
FIRST_COST_GUESS = 5.0
SESSIONS_EVERY = 30.0
# Without a deadline from the cloud (SIGTERM bounds its own wait): how long an emergency
# waits for its snapshots to reach the replica.
UPLOAD_AFTER_NOTICE = 110.0


@dataclass
class KernelState:
    kernel_id: str
    notebook: str | None = None
    language: str | None = None
    supported: bool | None = None
    reason: str = ""
    control: str | None = None
    attached_pid: int | None = None
    launcher_pid: int | None = None
    attached_at: float | None = None
    busy_with: str | None = None
    last_snapshot: SnapshotInfo | None = None
    last_snapshot_at: float | None = None
    last_cost: float | None = None
    last_count: int | None = None
    last_checked_at: float | None = None
    last_error: str | None = None
    failures: int = 0
    task: asyncio.Task[Any] | None = field(default=None, repr=False)

    def to_json(self, execution_state: str | None, next_due: float | None) -> dict[str, Any]:
        last = self.last_snapshot
        return {
            "kernel_id": self.kernel_id,
            "notebook": self.notebook,
            "language": self.language,
            "state": execution_state,
            "supported": self.supported,
            "reason": self.reason,
            "attached": self.attached_pid is not None,
            "in_flight": self.busy_with == "snapshot",
            "last_snapshot": last.to_json() if last else None,
            "last_snapshot_at": self.last_snapshot_at,
            "last_error": self.last_error,
            "next_due": next_due,
        }


class SnapshotScheduler:
    def __init__(
        self,
        config: GpuGuard,
        server_app: Any,
        detector: InstanceDetector,
        log: logging.Logger | None = None,
    ) -> None:
        self.config = config
        self.server_app = server_app
        self.detector = detector
        self.log = log or logging.getLogger("jupyter_gpuguard")
        self.store_path = store_path_for(config.snapshot_dir or None)
        self.launcher = KernelLauncher(server_app, str(self.store_path), log=self.log)
        self.replication = Replication(config, lambda: self.store, self.log)
        self.kernels: dict[str, KernelState] = {}
        self.emergency: dict[str, Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._emergency_task: asyncio.Task[Any] | None = None
        self._notebooks: dict[str, str] = {}
        self._sessions_read = 0.0
        self.upkeep = StoreUpkeep(config, lambda: self.store, self.log)
        detector.add_notice_listener(self._on_notice)

    @functools.cached_property
    def store(self) -> Store:
        """Opened on first use: the store's modules (pickling, hashing, restoring) cost
        the server's start, and nothing needs them before a kernel or a snapshot route."""
        from ..snapshot.store import Store

        return Store(self.store_path)

    @property
    def kernel_manager(self) -> Any:
        return self.server_app.kernel_manager

    # ---- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())
        self.replication.start()

    async def stop(self) -> None:
        tasks = [t for t in [self._task, *(k.task for k in self.kernels.values())] if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.replication.stop()
        await self.upkeep.stop()

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("jupyter_gpuguard: snapshot scheduler tick failed")
            await asyncio.sleep(max(self.config.scheduler_tick, 0.1))

    # ---- policy ------------------------------------------------------------------------
    def interval(self, state: KernelState | None = None) -> tuple[float, str]:
        """Seconds between snapshots of a kernel, and why, in words."""
        configured = self.config.snapshot_interval
        if configured is not None:
            if configured <= 0:
                return 0.0, "automatic snapshots are off (c.GpuGuard.snapshot_interval = 0)"
            return configured, "set by c.GpuGuard.snapshot_interval"
        info = self.detector.current()
        low, high = self.config.minimum_snapshot_interval, self.config.maximum_snapshot_interval
        if info.get("interruptible") is False:
            seconds = self.config.on_demand_snapshot_interval
            kind = "local machine" if info.get("provider") == "local" else "on-demand machine"
            return seconds, f"{kind}: kernels can still die (out of memory, a crash)"
        cost = (state.last_cost if state else None) or FIRST_COST_GUESS
        hours = self.config.spot_mean_hours_between_interruptions
        young = math.sqrt(2 * cost * hours * 3600)
        seconds = min(max(young, low), high)
        kind = "spot instance" if info.get("interruptible") else "spot state unknown"
        return seconds, (
            f"{kind}: sqrt(2 x {cost:.1f} s per snapshot x {hours:g} h between interruptions)"
            f" = {young / 60:.1f} min, kept within {low / 60:g}-{high / 60:g} min"
        )

    def next_due(self, state: KernelState) -> float | None:
        seconds, _why = self.interval(state)
        if seconds <= 0 or state.attached_pid is None:
            return None
        since = max(
            state.last_snapshot_at or 0.0, state.last_checked_at or 0.0, state.attached_at or 0.0
        )
        return (since or time.time()) + seconds

    # ---- the tick ----------------------------------------------------------------------
    async def _sessions(self) -> dict[str, str]:
        manager = getattr(self.server_app, "session_manager", None)
        if manager is None:
            return {}
        sessions = await manager.list_sessions()
        return {s["kernel"]["id"]: s.get("path") for s in sessions if s.get("kernel")}

    async def tick(self) -> None:
        self.upkeep.maybe_scrub()
        kernel_ids = set(self.kernel_manager.list_kernel_ids())
        for gone in set(self.kernels) - kernel_ids:
            state = self.kernels.pop(gone)
            self.launcher.forget(gone)
            if state.task:
                state.task.cancel()
        now = time.time()
        if kernel_ids - set(self.kernels) or now - self._sessions_read > SESSIONS_EVERY:
            # Notebook paths change only with a new kernel or a rename: read them rarely.
            self._notebooks = await self._sessions()
            self._sessions_read = now
        for kernel_id in kernel_ids:
            state = self.kernels.setdefault(kernel_id, KernelState(kernel_id))
            state.notebook = self._notebooks.get(kernel_id, state.notebook)
            try:
                kernel = self.kernel_manager.get_kernel(kernel_id)
            except KeyError:
                continue
            if state.supported is None:
                self._classify(state, kernel)
            if not state.supported or state.busy_with:
                continue
            _forget_if_restarted(state, kernel)
            idle = getattr(kernel, "execution_state", None) == "idle"
            if state.attached_pid is None:
                # The control socket answers mid-cell; an execute would queue behind the cell.
                if idle or kernel_id in self.launcher.armed:
                    state.task = asyncio.ensure_future(self._attach(state))
                continue
            if not idle:
                continue  # never queue work behind a busy kernel
            due = self.next_due(state)
            if due is not None and now >= due:
                state.task = asyncio.ensure_future(self._snapshot_if_changed(state))

    def _classify(self, state: KernelState, kernel: Any) -> None:
        try:
            spec = self.server_app.kernel_spec_manager.get_kernel_spec(kernel.kernel_name)
            state.language = (spec.language or "").lower()
        except Exception:
            state.language = None
        if state.language and state.language != "python":
            state.supported = False
            state.reason = f"not supported: snapshots need a Python kernel ({state.language})"
        else:
            state.supported = True

    def _install_hint(self, kernel: Any) -> str:
        try:
            spec = self.server_app.kernel_spec_manager.get_kernel_spec(kernel.kernel_name)
            python = spec.argv[0]
        except Exception:
            python = "python"
        wheels = shlex.quote(str(self.store_path / "wheels"))
        return (
            f"run `{python} -m pip install --no-index --find-links {wheels} jupyter-gpuguard` "
            "for the kernel's Python (`jupyter gpuguard wheelhouse` writes those wheels)"
        )

    async def _attach(
        self, state: KernelState, requested: bool = False, urgent: bool = False
    ) -> None:
        """Set up snapshots in a kernel: through its control socket when it loaded the kernel
        side at its start, else by a silent execute, which only an idle kernel answers soon.

        ``requested``: someone waits (a snapshot, a restore); ``urgent``: a preemption.
        """
        state.busy_with = "attach"
        kernel = self.kernel_manager.get_kernel(state.kernel_id)
        try:
            control = kernel_link.control_socket_path(self.server_app.runtime_dir, state.kernel_id)
            armed = state.kernel_id in self.launcher.armed
            wait = SOCKET_WAIT if requested and armed else 0.0
            settings = protocol.attach_request(
                str(self.store_path),
                state.kernel_id,
                self._notebook_fields(state),
                self.config.cuda_host_memory_margin,
            )
            status = await kernel_link.attach(control, settings, wait, SOCKET_TIMEOUT)
            if status is None:
                status = await self._attach_by_execute(state, kernel, control, requested, urgent)
                # The execute passes only what an older kernel side's attach takes; the channel
                # it opened takes the file's names too, and ignores keys it does not know.
                with contextlib.suppress(KernelLinkError):
                    named = await kernel_link.attach(control, settings, 0.0, SOCKET_TIMEOUT)
                    status = named or status
            state.control = control
            state.attached_pid = int(status.get("pid") or 0) or None
            state.launcher_pid = _launcher_pid(kernel)
            state.attached_at = time.time()
            # IPython numbers the next cell: 1 means nothing ran yet, so nothing to save
            count = status.get("execution_count")
            state.last_count = count if count == 1 else None
            state.reason = ""
        except KernelLinkError as err:
            if err.reason == "no-kernel-side":
                state.supported = False
                state.reason = (
                    "not supported: this kernel's environment lacks jupyter-gpuguard; "
                    + self._install_hint(kernel)
                )
            else:
                state.reason = f"could not set up snapshots: {err}"
        finally:
            state.busy_with = None

    async def _attach_by_execute(
        self, state: KernelState, kernel: Any, control: str, requested: bool, urgent: bool
    ) -> dict[str, Any]:
        execution_state = getattr(kernel, "execution_state", None)
        if execution_state == "busy" or (not requested and execution_state != "idle"):
            # The execute would wait behind the cell: a notice would run out before it ends.
            if state.kernel_id in self.launcher.armed:
                raise KernelLinkError("the kernel has not opened its snapshot channel", "not-open")
            raise KernelLinkError(
                "the kernel was busy before it could be set up; it is set up once its cell "
                "ends (a kernel this server starts with jupyter-gpuguard in its environment "
                "is ready from its start)",
                "kernel-busy",
            )
        expression = kernel_link.attach_call(
            str(self.store_path), state.kernel_id, state.notebook, control
        )
        # Only an idle kernel is sure to answer soon: one never seen idle may be busy already.
        patient = execution_state == "idle" and not urgent
        timeout = ATTACH_TIMEOUT if patient else URGENT_ATTACH_TIMEOUT
        return await kernel_link.evaluate(self.kernel_manager, state.kernel_id, expression, timeout)

    async def _snapshot_if_changed(self, state: KernelState) -> None:
        try:
            status = await self._request(state, protocol.status_request(), 10.0)
        except KernelLinkError:
            return
        count = status.get("execution_count")
        if count is not None and count == state.last_count:
            state.last_checked_at = time.time()  # nothing ran: look again an interval later
            return
        with contextlib.suppress(KernelLinkError, SnapshotError):
            await self.snapshot(state.kernel_id, reason="scheduled")

    async def _request(
        self, state: KernelState, payload: protocol.Request, timeout: float
    ) -> dict[str, Any]:
        if state.control is None or state.attached_pid is None:
            raise KernelLinkError("snapshots are not set up in this kernel yet", "not-set-up")
        try:
            return await kernel_link.request(state.control, payload, timeout)
        except KernelLinkError:
            state.attached_pid = None  # the kernel went away or restarted: attach again
            raise

    # ---- which notebook file ---------------------------------------------------------------
    def server_root(self) -> str | None:
        """The directory the server's notebook paths are relative to; None where its contents
        are not files on this machine."""
        contents = getattr(self.server_app, "contents_manager", None)
        root = getattr(contents, "root_dir", None)
        return root if isinstance(contents, FileManagerMixin) and root else None

    def notebook_identity(self, notebook: str) -> NotebookIdentity:
        """The notebook file this server names ``notebook``, as snapshots record it."""
        return NotebookIdentity.on_server(notebook, self.server_root(), self.store_path)

    def snapshots_of(
        self, notebook: str | None, kernel_id: str | None = None
    ) -> list[SnapshotInfo]:
        """The snapshots of the notebook this server names ``notebook`` (every snapshot when
        None), whatever root the servers that took them had, and those ``kernel_id`` took:
        a notebook renamed since its kernel started has those under its old name. Reads the
        store: not on the server's loop."""
        infos = self.store.list()
        if notebook is None:
            return infos
        mine = {i.id for i in of_notebook(infos, self.notebook_identity(notebook))}
        return [i for i in infos if i.id in mine or (kernel_id and i.kernel_id == kernel_id)]

    def _notebook_fields(self, state: KernelState) -> protocol.NotebookFields:
        """What the kernel is told of its notebook: the file only where the name is known."""
        if not state.notebook:
            return {"notebook": state.notebook}
        return {"notebook": state.notebook, **self.notebook_identity(state.notebook).fields()}

    # ---- actions ---------------------------------------------------------------------------
    def state_of(self, kernel_id: str) -> KernelState:
        if kernel_id not in set(self.kernel_manager.list_kernel_ids()):
            raise KeyError(kernel_id)
        return self.kernels.setdefault(kernel_id, KernelState(kernel_id))

    async def ensure_attached(self, kernel_id: str, urgent: bool = False) -> KernelState:
        state = self.state_of(kernel_id)
        if state.supported is None:
            self._classify(state, self.kernel_manager.get_kernel(kernel_id))
        if state.supported is False:
            raise KernelLinkError(state.reason, "unsupported")
        _forget_if_restarted(state, self.kernel_manager.get_kernel(kernel_id))
        if state.attached_pid is None:
            notebooks = await self._sessions()
            state.notebook = notebooks.get(kernel_id, state.notebook)
            await self._attach(state, requested=True, urgent=urgent)
            if state.attached_pid is None:
                raise KernelLinkError(state.reason or "could not set up snapshots", "not-set-up")
        return state

    async def snapshot(
        self, kernel_id: str, reason: str = "requested", urgent: bool = False
    ) -> SnapshotInfo:
        """Snapshot one kernel now (busy or not) and answer once the snapshot is committed."""
        state = await self.ensure_attached(kernel_id, urgent=urgent)
        # Read afresh, and kept for the status too: the panel asks for the snapshots of the
        # path the status names, which must be the path this snapshot records.
        self._notebooks, self._sessions_read = await self._sessions(), time.time()
        state.notebook = self._notebooks.get(kernel_id, state.notebook)
        state.busy_with = "snapshot"
        try:
            request = protocol.snapshot_request(self._notebook_fields(state), urgent)
            answer = await self._request(state, request, SNAPSHOT_TIMEOUT)
        except KernelLinkError as err:
            state.last_error, state.failures = str(err), state.failures + 1
            raise
        finally:
            state.busy_with = None
        failed = protocol.error_of(answer)
        if failed is not None or not answer.get("snapshot"):
            failed = failed or SnapshotError("the kernel saved nothing")
            state.last_error = str(failed)
            state.failures += 1
            raise failed
        info = SnapshotInfo.from_manifest(answer["snapshot"])
        state.last_snapshot, state.last_snapshot_at = info, time.time()
        state.last_error, state.failures = None, 0
        state.last_count = info.execution_count
        if answer.get("started") and answer.get("finished"):
            state.last_cost = max(float(answer["finished"]) - float(answer["started"]), 0.01)
        self.log.info(
            "jupyter_gpuguard: %s snapshot of %s: %d variables, %d bytes new",
            reason,
            state.notebook or kernel_id,
            len(info.variables),
            info.bytes_written,
        )
        self.replication.committed(info)
        asyncio.ensure_future(self.upkeep.prune())
        return info

    async def snapshot_all(
        self, reason: str, announce: bool = True, upload_by: float | None = None
    ) -> dict[str, Any]:
        """Snapshot every Python kernel at once, busy ones included (a preemption is coming),
        then upload them to the replica, if there is one, until ``upload_by`` (Unix time).

        ``announce`` makes it the server's emergency, which every browser shows; a move to
        another pod shows its own progress where it was asked for instead.
        """
        started = time.time()
        run = {"reason": reason, "started": started, "finished": None, "kernels": {}}
        if announce:
            self.emergency = run
        kernel_ids = [
            k
            for k in self.kernel_manager.list_kernel_ids()
            if self.state_of(k).supported is not False  # unchecked ones are set up on the way
        ]

        async def one(kernel_id: str) -> tuple[str, dict[str, Any]]:
            try:
                info = await self.snapshot(kernel_id, reason=reason, urgent=True)
                return kernel_id, {"snapshot": info.id, "error": None}
            except (KernelLinkError, SnapshotError, KeyError) as err:
                return kernel_id, {"snapshot": None, "error": str(err)}

        results = dict(await asyncio.gather(*(one(k) for k in kernel_ids)))
        run["kernels"] = results
        self.log.warning(
            "jupyter_gpuguard: %s: snapshotted %d of %d kernels in %.1f s",
            reason,
            sum(1 for r in results.values() if r["snapshot"]),
            len(results),
            time.time() - started,
        )
        if self.replication.settings is not None:
            await self._upload_now(run, upload_by or time.time() + UPLOAD_AFTER_NOTICE)
        run["finished"] = time.time()
        return run

    async def _upload_now(self, run: dict[str, Any], upload_by: float) -> None:
        """Wait for the replica to hold what was just saved, saying how much is left against
        the deadline: the disk may not outlive the machine."""

        def progress(status: dict[str, Any]) -> None:
            run["replica"] = {
                "url": status.get("url"),
                "bytes_left": status.get("bytes_left"),
                "deadline": upload_by,
                "error": (status.get("error") or {}).get("message"),
                "done": False,
            }

        done = await self.replication.flush(max(upload_by - time.time(), 0.0), progress)
        run["replica"]["done"] = done

    def _on_notice(self, notice: PreemptionNotice) -> None:
        reason = f"preemption notice ({notice.source})"
        upload_by = None
        if notice.deadline:
            with contextlib.suppress(ValueError):
                upload_by = datetime.fromisoformat(notice.deadline).timestamp() - 5.0
        self._emergency_task = asyncio.ensure_future(self.snapshot_all(reason, upload_by=upload_by))

    async def restore(
        self, kernel_id: str, snapshot_id: str, rebuild: bool = False
    ) -> dict[str, Any]:
        state = await self.ensure_attached(kernel_id)
        # Through the shell channel, in the kernel's main thread: it runs between cells.
        state.busy_with = "restore"
        try:
            report = await kernel_link.evaluate(
                self.kernel_manager,
                kernel_id,
                kernel_link.restore_call(snapshot_id, rebuild),
                SNAPSHOT_TIMEOUT,
            )
        finally:
            state.busy_with = None
        failed = protocol.error_of(report)
        if failed is not None:
            raise failed
        return report

    # ---- status --------------------------------------------------------------------------
    async def _execution_count(self, state: KernelState) -> int | None:
        if state.attached_pid is None or state.busy_with:
            return None
        try:
            answer = await self._request(state, protocol.status_request(), 1.0)
        except KernelLinkError:
            return None
        count = answer.get("execution_count")
        return count if isinstance(count, int) else None

    async def status(self) -> dict[str, Any]:
        """Every kernel's snapshot state, with the number of its next cell (1: nothing ran)."""
        kernels = []
        states = []
        for kernel_id in self.kernel_manager.list_kernel_ids():
            state = self.kernels.get(kernel_id) or KernelState(kernel_id)
            try:
                execution_state = self.kernel_manager.get_kernel(kernel_id).execution_state
            except (KeyError, AttributeError):
                execution_state = None
            kernels.append(state.to_json(execution_state, self.next_due(state)))
            states.append(state)
        counts = await asyncio.gather(*(self._execution_count(s) for s in states))
        for kernel, count in zip(kernels, counts, strict=True):
            kernel["execution_count"] = count
        seconds, why = self.interval()
        return {
            "kernels": kernels,
            "interval_seconds": seconds,
            "interval_reason": why,
            "emergency": self.emergency,
            "scrub": self.upkeep.last_scrub,
            "prune_error": self.upkeep.last_prune_error,
        }


def _launcher_pid(kernel: Any) -> int | None:
    """The process the kernel manager started: it changes when the kernel restarts."""
    return getattr(getattr(kernel, "provisioner", None), "pid", None)


def _forget_if_restarted(state: KernelState, kernel: Any) -> None:
    pid = _launcher_pid(kernel)
    if state.attached_pid is not None and pid is not None and pid != state.launcher_pid:
        state.attached_pid = None  # restarted: a new process, with nothing set up

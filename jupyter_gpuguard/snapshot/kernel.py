"""The kernel side's entry points: ``%load_ext jupyter_gpuguard``, and the functions the
server calls in a silent execute.

The server names these functions by this module's path, in kernels of any version of the
package: they stay here. ``KernelSnapshots`` does the work; ``current`` finds a shell's.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from . import protocol
from .kernel_snapshots import KernelSnapshots
from .magics import GpuGuardMagics
from .model import SnapshotError
from .store import Store

_INSTANCES: dict[int, KernelSnapshots] = {}


def current(shell: Any = None) -> KernelSnapshots:
    """The KernelSnapshots of ``shell`` (default: the running IPython), created on first use."""
    if shell is None:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is None:
            raise SnapshotError("not running inside IPython")
    if id(shell) not in _INSTANCES:
        _INSTANCES[id(shell)] = KernelSnapshots(shell)
    return _INSTANCES[id(shell)]


def attach(
    store: str | None = None,
    kernel_id: str | None = None,
    notebook: str | None = None,
    control: str | None = None,
) -> str:
    """Called by the Jupyter server in a silent execute: set up this kernel for snapshots.

    Leaves nothing in the user's namespace; answers a JSON status for the server.
    """
    snapshots = current()
    if store:
        snapshots.store = Store(store)
    snapshots.kernel_id = kernel_id or snapshots.kernel_id
    snapshots.notebook = notebook or snapshots.notebook
    if control:
        snapshots.listen(control)
    return json.dumps(snapshots.status())


def restore_json(snapshot_id: str | None = None, rebuild: bool = False) -> str:
    """Called by the Jupyter server in a silent execute: restore, answer the report as JSON."""
    try:
        return json.dumps(current().restore(snapshot_id, rebuild=rebuild))
    except SnapshotError as err:
        return json.dumps(protocol.error_answer(err))


def load_ipython_extension(shell: Any) -> None:
    snapshots = current(shell)
    # Taken out of the environment: a kernel this one starts must not take over its socket.
    path = os.environ.pop("GPUGUARD_CONTROL_SOCKET", "")
    if path:
        try:
            snapshots.listen(path)
        except (SnapshotError, OSError) as err:
            # The magics still work; the server reports the channel as not open.
            print(f"jupyter_gpuguard: no snapshot channel: {err}", file=sys.stderr)
    shell.register_magics(GpuGuardMagics(shell, snapshots))

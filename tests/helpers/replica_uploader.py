"""The uploader the replica's kill test kills.

python -m tests.helpers.replica_uploader ENDPOINT URL STORE [KILL_AFTER]
    uploads every snapshot of STORE to the replica at URL, oldest first; prints ``ready``
    once connected, ``uploaded <id>`` after each and ``calls <n>`` at the end: the progress
    calls (one as each upload starts, one per object landed). With KILL_AFTER, SIGKILLs
    itself at that progress call, wherever the upload then is.
"""

from __future__ import annotations

import os
import signal
import sys

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.replica import Replica, Timeouts


def main(endpoint: str, url: str, store_path: str, kill_after: int | None) -> None:
    replica = Replica(url, endpoint_url=endpoint, timeouts=Timeouts(connect=1, total=10))
    store = Store(store_path)
    landed = 0

    def progress(_left: int) -> None:
        nonlocal landed
        landed += 1
        if kill_after is not None and landed >= kill_after:
            os.kill(os.getpid(), signal.SIGKILL)

    replica.check()
    print("ready", flush=True)
    for snapshot_id in reversed(store.ids()):
        replica.upload(store, snapshot_id, progress=progress)
        print(f"uploaded {snapshot_id}", flush=True)
    print(f"calls {landed}", flush=True)


if __name__ == "__main__":
    endpoint, url, store_path, *rest = sys.argv[1:]
    main(endpoint, url, store_path, int(rest[0]) if rest else None)

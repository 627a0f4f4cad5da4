"""Objects moved on a few threads, with the bytes left reported as each one lands."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")
Progress = Callable[[int], None]  # called with the bytes left, from the transfer's threads


class Countdown:
    """The bytes left of a transfer, reported to ``progress`` as they shrink."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.left = total
        self._progress = progress
        self._lock = threading.Lock()
        self.report()

    def report(self) -> None:
        if self._progress is not None:
            self._progress(self.left)

    def done(self, size: int) -> None:
        with self._lock:
            self.left -= size
            self.report()


def run_all(work: Callable[[T], None], items: Sequence[T], threads: int) -> None:
    """``work(item)`` for each item on up to ``threads`` threads; the first failure stops
    what has not started and is raised once the running ones end (each bounded by the
    client's timeouts)."""
    if not items:
        return
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(items)))) as pool:
        futures = [pool.submit(work, item) for item in items]
        wait(futures, return_when=FIRST_EXCEPTION)
        for future in futures:
            future.cancel()
    for future in futures:  # all ended: leaving the pool waited for the running ones
        if not future.cancelled() and (error := future.exception()) is not None:
            raise error

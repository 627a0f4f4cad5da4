"""What automatic snapshots cost a Jupyter server and its kernels.

Starts a real `jupyter server` with jupyter-gpuguard and N notebook kernels, and measures:
  * the time of a trivial cell with the kernel set up for snapshots vs. a kernel of a server
    without jupyter-gpuguard (the scheduler adds nothing to a cell: it never runs in it);
  * the server process's CPU use while N kernels sit idle and attached;
  * with a spot preemption notice from a loopback AWS metadata service, how long until every
    kernel's snapshot has started, and until all are committed.

    python benchmarks/bench_scheduler.py [--kernels 20] [--idle-seconds 30]

Only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from jupyter_client.blocking import BlockingKernelClient

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.server_process import api, free_port, open_kernel, wait  # noqa: E402


@contextlib.contextmanager
def fake_aws() -> Iterator[tuple[object, str]]:
    """A loopback IMDSv2 of a spot instance, served from a thread."""
    from tornado.httpserver import HTTPServer

    from tests.fakes import aws_imds

    fake = aws_imds.FakeAws(instance_type="g5.xlarge", life_cycle="spot")
    app = aws_imds.make_app(fake)
    app.settings["log_function"] = lambda _handler: None
    port = free_port()
    loop = asyncio.new_event_loop()

    def run() -> None:
        asyncio.set_event_loop(loop)
        HTTPServer(app).listen(port, address="127.0.0.1")
        loop.run_forever()

    threading.Thread(target=run, daemon=True).start()
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)


@contextlib.contextmanager
def server(root: Path, extension: bool, aws_url: str) -> Iterator[tuple[str, str, int, Path]]:
    port, token = free_port(), secrets.token_hex(16)
    runtime = root / "runtime"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")},
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(root / "config"),
    }
    command = [
        sys.executable, "-m", "jupyter_server", f"--port={port}", "--no-browser",
        "--ServerApp.ip=127.0.0.1", "--ServerApp.allow_root=True",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--ServerApp.jpserver_extensions=jupyter_gpuguard={extension}",
        "--GpuGuard.provider=aws", f"--GpuGuard.aws_metadata_url={aws_url}",
        "--GpuGuard.nvml=False",
        f"--GpuGuard.snapshot_dir={root / 'store'}", "--GpuGuard.snapshot_interval=0",
    ]  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    log = open(root / "server.log", "w")  # noqa: SIM115 - closed with the server
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait(lambda: api(base, token, "/api/status"))
        yield base, token, process.pid, runtime
    finally:
        process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def cell_ms(client: BlockingKernelClient, runs: int) -> float:
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        client.execute_interactive("pass", timeout=30, output_hook=lambda _m: None)
        samples.append((time.perf_counter() - begin) * 1000)
    return statistics.median(samples)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kernels", type=int, default=20)
    parser.add_argument("--idle-seconds", type=float, default=30.0)
    parser.add_argument("--cells", type=int, default=200)
    args = parser.parse_args()
    rows: list[tuple[str, str, str]] = []

    with fake_aws() as (fake, aws_url), tempfile.TemporaryDirectory() as tmp:
        measured: dict[bool, tuple[float, float]] = {}
        for extension in (False, True):
            root = Path(tmp) / ("guarded" if extension else "plain")
            with server(root, extension, aws_url) as (base, token, pid, runtime):
                clients = {}
                for index in range(args.kernels):
                    kernel_id, client = open_kernel(base, token, runtime, f"nb{index}.ipynb")
                    client.execute_interactive(f"state = list(range({index}))", timeout=30)
                    clients[kernel_id] = client
                if extension:

                    def all_attached() -> bool:
                        kernels = api(base, token, "/gpuguard/status")["kernels"]
                        return sum(1 for k in kernels if k["attached"]) == args.kernels

                    wait(all_attached, timeout=300)
                cell = cell_ms(next(iter(clients.values())), args.cells)
                time.sleep(2)
                before, begin = cpu_seconds(pid), time.monotonic()
                time.sleep(args.idle_seconds)
                share = (cpu_seconds(pid) - before) / (time.monotonic() - begin) * 100
                measured[extension] = (cell, share)
                if extension:
                    fake.interrupt(time=datetime.now().astimezone().isoformat())

                    def finished() -> dict | None:
                        emergency = api(base, token, "/gpuguard/status")["emergency"]
                        return emergency if emergency and emergency["finished"] else None

                    emergency = wait(finished, timeout=300)
                    from jupyter_gpuguard.snapshot import Store

                    infos = Store(root / "store").list()
                    starts = [
                        datetime.fromisoformat(i.created).timestamp() - (i.duration_seconds or 0)
                        for i in infos
                    ]
                    reaction = max(starts) - emergency["started"]
                    committed = emergency["finished"] - emergency["started"]
                for client in clients.values():
                    client.stop_channels()
        rows.append((
            "trivial cell, median ms",
            f"{measured[False][0]:.2f} without / {measured[True][0]:.2f} with",
            "under 1 ms added",
        ))  # fmt: skip
        rows.append((
            f"server CPU, {args.kernels} idle kernels",
            f"{measured[False][1]:.2f} % without / {measured[True][1]:.2f} % with",
            "under 1 %",
        ))  # fmt: skip
        rows.append((
            f"notice -> every snapshot started ({len(infos)} kernels)",
            f"{reaction:.2f} s",
            "under 1 s",
        ))  # fmt: skip
        rows.append(("notice -> all committed", f"{committed:.2f} s", "-"))

    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
          f"Python {platform.python_version()}")  # fmt: skip
    header = ("measure", "result", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(3)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + " |")


if __name__ == "__main__":
    main()

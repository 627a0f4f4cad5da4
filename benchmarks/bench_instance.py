"""How much jupyter-gpuguard costs a Jupyter server: start time and route latency.

Starts real `jupyter server` processes and measures, side by side in one run:
  * time until the server answers /api/status, with no extension, with jupyter-gpuguard
    (on a machine where no cloud answers, and where the metadata service hangs), and with
    jupyter-resource-usage, the usual status-bar peer, and the CPU time the server used
    until then (on Linux), which other work on a busy machine disturbs much less. Every
    round starts each setup once, in a rotating order; "added" is the median over rounds of
    a start's difference from the round's start without extensions;
  * latency of GET /gpuguard/instance against jupyter-resource-usage's GET /api/metrics/v1;
  * how long cloud detection takes to give up on a machine with no cloud.

Run it with the Python of the environment to measure: a lean one (JupyterLab and this
package) and a full one (a GPU pod's: torch, pandas, scikit-learn, boto3 and a few hundred
other distributions) show whether anything grows with what is installed.

    pip install jupyter-resource-usage   # the peer, optional
    python benchmarks/bench_instance.py [--runs 15] [--requests 300]

Only 127.0.0.1 is contacted: the metadata URLs point at loopback ports.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import http.server
import importlib.util
import json
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

HEAVY = ("torch", "pandas", "scikit-learn", "boto3")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Hanging(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        time.sleep(30)

    do_PUT = do_GET

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def hanging_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hanging)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def get(url: str, token: str, timeout: float = 5.0) -> bytes:
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return answer.read()


@contextlib.contextmanager
def jupyter_server(
    extensions: dict[str, bool], metadata_url: str
) -> Iterator[tuple[str, str, float, float | None]]:
    """A started server: its URL, token, the seconds until it answered /api/status, and the
    CPU seconds it had used by then."""
    port, token = free_port(), secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as root:
        config = {
            "ServerApp": {"jpserver_extensions": extensions},
            "GpuGuard": {
                "provider": "auto",
                "aws_metadata_url": metadata_url,
                "gcp_metadata_url": metadata_url,
                "azure_metadata_url": metadata_url,
            },
        }
        with open(os.path.join(root, "jupyter_server_config.json"), "w") as handle:
            json.dump(config, handle)
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RUNPOD_")},
            "JUPYTER_CONFIG_DIR": root,
        }
        command = [
            sys.executable,
            "-m",
            "jupyter_server",
            f"--port={port}",
            "--no-browser",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}",
            "--ServerApp.allow_root=True",
            "--ServerApp.ip=127.0.0.1",
        ]
        started = time.perf_counter()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{port}"
        try:
            while True:
                try:
                    get(f"{base}/api/status", token, timeout=1)
                    break
                except (urllib.error.URLError, ConnectionError, TimeoutError):
                    if process.poll() is not None:
                        raise RuntimeError("jupyter server exited during start") from None
                    time.sleep(0.01)
            took = time.perf_counter() - started
            yield base, token, took, cpu_seconds(process.pid)
        finally:
            process.terminate()
            process.wait(10)


def cpu_seconds(pid: int) -> float | None:
    """CPU time a process has used (Linux): other work on a busy machine stretches a start's
    wall time, much less the CPU time the start itself takes."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime, fields 14 and 15 of proc(5), counted from the state (field 3)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latency_ms(url: str, token: str, requests: int) -> tuple[float, float]:
    for _ in range(10):
        get(url, token)
    samples = []
    for _ in range(requests):
        begin = time.perf_counter()
        get(url, token)
        samples.append((time.perf_counter() - begin) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def detection_seconds(base: str, token: str) -> float:
    begin = time.perf_counter()
    while json.loads(get(f"{base}/gpuguard/instance", token))["detecting"]:
        time.sleep(0.01)
    return time.perf_counter() - begin


def environment() -> str:
    """What the measured environment holds: the number of installed distributions, and which
    of a GPU pod's usual heavy ones are there."""
    names = {(dist.metadata["Name"] or "").lower() for dist in metadata.distributions()}
    heavy = [name for name in HEAVY if name in names]
    return f"{len(names)} distributions installed; " + (
        f"with {', '.join(heavy)}" if heavy else f"none of {', '.join(HEAVY)}"
    )


def compile_package() -> None:
    """Write jupyter-gpuguard's bytecode, as pip does on install: a source checkout run with
    PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module at every start."""
    spec = importlib.util.find_spec("jupyter_gpuguard")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("jupyter_gpuguard is not importable from this Python")
    directory = Path(next(iter(spec.submodule_search_locations)))
    if os.access(directory, os.W_OK):
        compileall.compile_dir(str(directory), quiet=2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="starts per setup")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--verbose", action="store_true", help="print each round's starts")
    args = parser.parse_args()
    have_peer = importlib.util.find_spec("jupyter_resource_usage") is not None
    compile_package()

    closed = f"http://127.0.0.1:{free_port()}"
    with hanging_server() as hanging:
        setups = [
            ("no extension", {"jupyter_gpuguard": False, "jupyter_resource_usage": False}, closed),
            (
                "jupyter-gpuguard, no cloud (refused)",
                {"jupyter_gpuguard": True, "jupyter_resource_usage": False},
                closed,
            ),
            (
                "jupyter-gpuguard, metadata hangs",
                {"jupyter_gpuguard": True, "jupyter_resource_usage": False},
                hanging,
            ),
        ]
        if have_peer:
            setups.append(
                (
                    "jupyter-resource-usage",
                    {"jupyter_gpuguard": False, "jupyter_resource_usage": True},
                    closed,
                )
            )
        labels = [label for label, _, _ in setups]
        starts: dict[str, list[float]] = {label: [] for label in labels}
        cpu: dict[str, list[float]] = {label: [] for label in labels}
        added: dict[str, list[float]] = {label: [] for label in labels[1:]}
        added_cpu: dict[str, list[float]] = {label: [] for label in labels[1:]}
        detect: dict[str, list[float]] = {label: [] for label in labels}
        latency: dict[str, tuple[float, float]] = {}
        # One start of each first, thrown away: it fills the page cache.
        for run in range(-1, args.runs):
            took: dict[str, tuple[float, float | None]] = {}
            # Each round starts them in another order: a start right after another's exit
            # (or any other order effect) falls to every setup alike.
            turn = max(run, 0) % len(setups)
            for label, extensions, metadata_url in setups[turn:] + setups[:turn]:
                with jupyter_server(extensions, metadata_url) as (base, token, start, used):
                    took[label] = (start, used)
                    if extensions["jupyter_gpuguard"]:
                        detect[label].append(detection_seconds(base, token))
                        route = f"{base}/gpuguard/instance"
                    elif extensions.get("jupyter_resource_usage"):
                        route = f"{base}/api/metrics/v1"
                    else:
                        route = ""
                    if route and run == 0 and args.requests:
                        latency[label] = latency_ms(route, token, args.requests)
            if args.verbose:
                print(f"round {run}: " + ", ".join(f"{k} {v[0]:.2f}" for k, v in took.items()))
            if run < 0:
                continue
            bare, bare_cpu = took["no extension"]
            for label, (start, used) in took.items():
                starts[label].append(start)
                if used is not None:
                    cpu[label].append(used)
                if label in added:
                    added[label].append(start - bare)
                    if used is not None and bare_cpu is not None:
                        added_cpu[label].append(used - bare_cpu)

    def median_ms(samples: list[float], sign: str = "") -> str:
        return f"{statistics.median(samples) * 1000:{sign}.0f}" if samples else "-"

    rows: list[tuple[str, ...]] = []
    for label in labels:
        p50_p95 = latency.get(label)
        rows.append(
            (
                label,
                f"{statistics.median(starts[label]):.2f}",
                median_ms(added.get(label, []), "+"),
                median_ms(cpu[label]),
                median_ms(added_cpu.get(label, []), "+"),
                f"{statistics.median(detect[label]):.2f}" if detect[label] else "-",
                f"{p50_p95[0]:.2f} / {p50_p95[1]:.2f}" if p50_p95 else "-",
            )
        )

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}, {args.runs} starts each, "
        f"{args.requests} requests\nenvironment: {sys.prefix}: {environment()}"
    )
    header = (
        "setup",
        "start s",
        "added ms",
        "CPU ms to answer",
        "added CPU ms",
        "detection settled s after start",
        "route p50 / p95 ms",
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) + " |")
    if not have_peer:
        print("(jupyter-resource-usage not installed: pip install jupyter-resource-usage)")


if __name__ == "__main__":
    main()

"""How much jupyter-gpuguard costs a Jupyter server: start time and route latency.

Starts real `jupyter server` processes and measures, side by side in one run:
  * time until the server answers /api/status, with no extension, with jupyter-gpuguard
    (on a machine where no cloud answers, and where the metadata service hangs), and with
    jupyter-resource-usage, the usual status-bar peer;
  * latency of GET /gpuguard/instance against jupyter-resource-usage's GET /api/metrics/v1;
  * how long cloud detection takes to give up on a machine with no cloud.

    pip install jupyter-resource-usage   # the peer, optional
    python benchmarks/bench_instance.py [--runs 5] [--requests 300]

Only 127.0.0.1 is contacted: the metadata URLs point at loopback ports.
"""

from __future__ import annotations

import argparse
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
) -> Iterator[tuple[str, str, float]]:
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
            yield base, token, time.perf_counter() - started
        finally:
            process.terminate()
            process.wait(10)


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    have_peer = importlib.util.find_spec("jupyter_resource_usage") is not None

    closed = f"http://127.0.0.1:{free_port()}"
    rows: list[tuple[str, str, str, str]] = []
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
        for label, extensions, metadata in setups:
            starts, detect, lat = [], [], ("", "")
            for run in range(args.runs):
                with jupyter_server(extensions, metadata) as (base, token, start):
                    starts.append(start)
                    if extensions["jupyter_gpuguard"]:
                        detect.append(detection_seconds(base, token))
                        if run == 0:
                            p50, p95 = latency_ms(f"{base}/gpuguard/instance", token, args.requests)
                            lat = (f"{p50:.2f}", f"{p95:.2f}")
                    elif extensions.get("jupyter_resource_usage") and run == 0:
                        p50, p95 = latency_ms(f"{base}/api/metrics/v1", token, args.requests)
                        lat = (f"{p50:.2f}", f"{p95:.2f}")
            rows.append(
                (
                    label,
                    f"{statistics.median(starts):.2f}",
                    f"{statistics.median(detect):.2f}" if detect else "-",
                    f"{lat[0]} / {lat[1]}" if lat[0] else "-",
                )
            )

    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} cores, {platform.platform()}, "
        f"Python {platform.python_version()}, {args.runs} starts each, "
        f"{args.requests} requests"
    )
    header = (
        "setup",
        "server start s (median)",
        "detection settled s after start",
        "route p50 / p95 ms",
    )
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + " |")
    if not have_peer:
        print("(jupyter-resource-usage not installed: pip install jupyter-resource-usage)")


if __name__ == "__main__":
    main()

"""A real S3 server on loopback for the replica tests: moto's (``moto[server]``), started
on a free port and killed at the end; and endpoints that fail as real ones do.

The fixtures ``s3`` (one server per test module), ``clean_aws`` and ``aws_keys`` come to
the test modules that name this module in ``pytest_plugins``; they import it first, so
pytest leaves its asserts as they are (PYTEST_DONT_REWRITE).
"""

from __future__ import annotations

import contextlib
import http.server
import os
import secrets
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.fakes.server import closed_port_url

HOST = "127.0.0.1"
# Dummy keys: moto accepts any unless told to check them.
KEYS = {"AWS_ACCESS_KEY_ID": "testing-key-id", "AWS_SECRET_ACCESS_KEY": "testing-secret"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class S3Server:
    url: str
    process: subprocess.Popen[bytes]

    def client(self, **keys: str) -> Any:
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=keys.get("key_id", KEYS["AWS_ACCESS_KEY_ID"]),
            aws_secret_access_key=keys.get("secret", KEYS["AWS_SECRET_ACCESS_KEY"]),
        )

    def new_bucket(self) -> str:
        name = f"replica-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name


@contextlib.contextmanager
def moto_server(**env: str) -> Iterator[S3Server]:
    """``moto_server -H 127.0.0.1 -p PORT``, answering before this yields."""
    executable = shutil.which("moto_server")
    if executable is None:
        pytest.skip("moto_server is not installed (pip install 'moto[server]')")
    port = free_port()
    process = subprocess.Popen(
        [executable, "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **env},
    )
    url = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except (urllib.error.URLError, OSError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto_server did not start") from None
                time.sleep(0.1)
        yield S3Server(url, process)
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    with moto_server() as server:
        yield server


@pytest.fixture
def clean_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS setting of the machine's for this test; were the client to look for a role,
    it would ask a closed port on loopback, not a real metadata service."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_METADATA_ENDPOINT", closed_port_url())


@pytest.fixture
def aws_keys(clean_aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The dummy keys in the environment, for this test only."""
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


class _Garbage(http.server.BaseHTTPRequestHandler):
    """A web server where an S3 endpoint was expected: a page for every request."""

    status = 200
    body = b"<html><head><title>Welcome</title></head><body>It works!</body></html>"

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.send_response(self.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(self.body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _answer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _Missing(_Garbage):
    status = 404
    body = b"<html><body><h1>Not Found</h1></body></html>"


@contextlib.contextmanager
def web_server(status: int = 200) -> Iterator[str]:
    handler = _Garbage if status == 200 else _Missing
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers: a hung service."""
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                held.append(listener.accept()[0])

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        listener.close()

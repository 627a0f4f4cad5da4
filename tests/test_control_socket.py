"""The control socket trusts no other user: not their directory, not their connection, not
their answer.

The socket is where the server asks a kernel for a snapshot (naming the notebook) and learns
the snapshot's id. Another user who could bind it could read the requests and have a fake
snapshot reported as saved; one who could connect could take snapshots of someone else's
kernel.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from IPython.core.interactiveshell import InteractiveShell
from tornado.httpclient import HTTPClientError

from jupyter_gpuguard.server import kernel_link
from jupyter_gpuguard.server.kernel_link import KernelLinkError
from jupyter_gpuguard.snapshot import SnapshotError, Store
from jupyter_gpuguard.snapshot.kernel import KernelSnapshots
from tests.helpers.server_config import local_server_config
from tests.helpers.server_kernels import run

OTHER_UID = 12345
KERNEL_ID = "0f8c2d3e-5b6a-4c7d-8e9f-a0b1c2d3e4f5"
# Longer than a Unix socket path may be: the socket goes to $TMPDIR/gpuguard-<uid>.
LONG_RUNTIME_DIR = "/tmp/" + "runtime-" * 16
needs_root = pytest.mark.skipif(
    os.getuid() != 0, reason="needs root, to own files as and run a process as another uid"
)


@pytest.fixture
def short_tmp(monkeypatch) -> Iterator[Path]:
    """A short TMPDIR, as tempfile sees it: socket paths have about 100 bytes."""
    directory = Path(tempfile.mkdtemp(prefix="gg-", dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def fallback(short_tmp) -> Path:
    return short_tmp / f"gpuguard-{os.getuid()}"


@pytest.fixture
def snapshots(tmp_path) -> Iterator[KernelSnapshots]:
    """The kernel side on a real IPython shell, in this process."""
    shell = InteractiveShell.instance()
    shell.user_ns["weights"] = [1.0, 2.0]
    side = KernelSnapshots(shell, Store(tmp_path / "store"), kernel_id=KERNEL_ID)
    yield side
    shell.user_ns.pop("weights", None)
    if side._listener is not None:
        side._listener.close()


def as_other_user(body: Callable[[int], None]) -> tuple[int, int]:
    """Fork a child that becomes uid 12345 and runs ``body(write_fd)``; returns its pid and
    the read end of the pipe it reports on."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: leaves through os._exit whatever happens
        code = 1
        try:
            os.close(read_end)
            os.setgid(OTHER_UID)
            os.setuid(OTHER_UID)
            body(write_end)
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def read_all(fd: int) -> bytes:
    with os.fdopen(fd, "rb") as pipe:
        return pipe.read()


def exit_code(pid: int) -> int:
    _pid, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


# ---- the directory ---------------------------------------------------------------------------
def test_the_fallback_directory_is_made_ours_and_private(fallback):
    path = kernel_link.control_socket_path(LONG_RUNTIME_DIR, KERNEL_ID)
    assert Path(path).parent == fallback
    info = fallback.lstat()
    assert info.st_uid == os.getuid() and info.st_mode & 0o777 == 0o700


def test_a_runtime_dir_open_to_others_is_not_used(short_tmp, fallback):
    runtime = short_tmp / "rt"
    runtime.mkdir(mode=0o755)
    runtime.chmod(0o755)
    assert Path(kernel_link.control_socket_path(str(runtime), KERNEL_ID)).parent == fallback
    runtime.chmod(0o700)
    assert Path(kernel_link.control_socket_path(str(runtime), KERNEL_ID)).parent == runtime


@needs_root
def test_a_fallback_directory_created_by_another_user_is_refused(fallback):
    fallback.mkdir(mode=0o700)
    os.chown(fallback, OTHER_UID, OTHER_UID)
    with pytest.raises(KernelLinkError, match=f"belongs to uid {OTHER_UID}"):
        kernel_link.control_socket_path(LONG_RUNTIME_DIR, KERNEL_ID)


def test_a_fallback_directory_open_to_others_is_refused(fallback):
    fallback.mkdir()
    fallback.chmod(0o777)
    with pytest.raises(KernelLinkError, match="open to other users"):
        kernel_link.control_socket_path(LONG_RUNTIME_DIR, KERNEL_ID)


def test_a_fallback_directory_that_is_a_link_is_refused(fallback, short_tmp):
    elsewhere = short_tmp / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    fallback.symlink_to(elsewhere)
    with pytest.raises(KernelLinkError, match="symbolic link"):
        kernel_link.control_socket_path(LONG_RUNTIME_DIR, KERNEL_ID)


def test_the_kernel_side_refuses_a_directory_open_to_others(snapshots, short_tmp):
    shared = short_tmp / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    with pytest.raises(SnapshotError, match="open to other users"):
        snapshots.listen(str(shared / "k.sock"))
    assert list(shared.iterdir()) == []


# ---- the peer --------------------------------------------------------------------------------
def ask(path: str, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(path)
        client.sendall(request)
        return client.makefile("rb").readline()


@needs_root
def test_the_kernel_side_answers_no_other_user(snapshots, short_tmp):
    path = snapshots.listen(str(short_tmp / "private" / "k.sock"))
    # A permission slip: the other user can reach the socket. The kernel must still refuse.
    short_tmp.chmod(0o711)
    Path(path).parent.chmod(0o711)
    Path(path).chmod(0o666)

    def connect(report: int) -> None:
        try:
            answer = ask(path, b'{"op": "snapshot"}\n')
        except (ConnectionResetError, BrokenPipeError):  # hung up without reading it
            answer = b""
        except OSError as err:
            answer = f"error: {err}".encode()
        os.write(report, answer or b"<closed without an answer>")

    pid, report = as_other_user(connect)
    got = read_all(report)
    assert exit_code(pid) == 0
    assert got == b"<closed without an answer>"
    assert snapshots.last is None, "a snapshot was started for another user"
    status = json.loads(ask(path, b"status\n"))  # this user is still answered
    assert status["pid"] == os.getpid()


@needs_root
async def test_the_server_takes_no_answer_from_another_user(short_tmp):
    hideout = short_tmp / "hideout"
    hideout.mkdir()
    short_tmp.chmod(0o711)
    hideout.chmod(0o777)
    path = str(hideout / "k.sock")
    fake = {"snapshot": {"id": "20260101T000000.000000Z-deadbeef"}, "error": None}

    def impostor(report: int) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(path)
            os.chmod(path, 0o666)
            listener.listen(1)
            listener.settimeout(20)
            os.write(report, b"listening\n")
            connection, _ = listener.accept()
            with connection:
                connection.settimeout(2)
                try:
                    heard = connection.recv(65536)
                except OSError:
                    heard = b""
                os.write(report, b"heard:" + heard)
                with contextlib.suppress(OSError):  # the server has hung up, as it should
                    connection.sendall(json.dumps(fake).encode() + b"\n")

    pid, report = as_other_user(impostor)
    deadline = time.monotonic() + 20
    while not os.path.exists(path):
        assert time.monotonic() < deadline, "the impostor never listened"
        time.sleep(0.02)
    with pytest.raises(KernelLinkError, match=f"runs as uid {OTHER_UID}"):
        await kernel_link.request(path, {"op": "snapshot", "notebook": "secret.ipynb"}, 5.0)
    got = read_all(report)
    assert exit_code(pid) == 0
    assert got == b"listening\nheard:", "the request reached another user"


# ---- through the server ---------------------------------------------------------------------
@pytest.fixture
def jp_server_config(tmp_path):
    return local_server_config(tmp_path / "store", snapshot_interval=0, scheduler_tick=0.2)


@needs_root
async def test_a_server_whose_socket_directory_another_user_made_snapshots_nothing_there(
    jp_fetch, jp_serverapp, jp_runtime_dir, fallback
):
    Path(jp_runtime_dir).chmod(0o755)  # not private: the socket would go to the fallback
    fallback.mkdir()
    os.chown(fallback, OTHER_UID, OTHER_UID)
    fallback.chmod(0o777)
    body = {"path": "secret.ipynb", "type": "notebook", "name": "secret.ipynb"}
    body["kernel"] = {"name": "python3"}
    response = await jp_fetch("api", "sessions", method="POST", body=json.dumps(body))
    kernel_id = json.loads(response.body)["kernel"]["id"]
    await run(jp_serverapp, kernel_id, "weights = [1.0, 2.0]")
    with pytest.raises(HTTPClientError) as refused:
        await jp_fetch(
            "gpuguard", "snapshots", method="POST", body=json.dumps({"kernel_id": kernel_id})
        )
    assert refused.value.code == 409
    assert f"belongs to uid {OTHER_UID}" in json.loads(refused.value.response.body)["message"]
    assert list(fallback.iterdir()) == []

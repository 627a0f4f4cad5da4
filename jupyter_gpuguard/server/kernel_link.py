"""Talking to the kernel side of one kernel: a silent execute, and the control socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from ..snapshot import control, protocol

REPLY_LIMIT = 64 * 1024 * 1024
# What a kernel raises when its environment cannot import the kernel side at all.
IMPORT_ERRORS = ("ModuleNotFoundError", "ImportError")


class KernelLinkError(Exception):
    """The kernel could not be reached or refused; the message is for the user, the
    ``reason`` for code: not-ready, timeout, not-open, refused, unreachable, unexpected-answer,
    kernel-error, no-kernel-side; the scheduler adds kernel-busy, unsupported and not-set-up."""

    reason: str = "unreachable"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class ChannelNotOpen(KernelLinkError):
    """Nothing listens on the control socket (yet): the kernel side is not loaded, or the
    kernel is still starting or restarting."""

    reason = "not-open"


def control_socket_path(runtime_dir: str, kernel_id: str) -> str:
    """The kernel's control socket, in a directory only this user can enter."""
    try:
        return control.socket_path(runtime_dir, kernel_id)
    except control.ControlSocketError as err:
        raise KernelLinkError(str(err), "refused") from None


def _call(function: str, **arguments: Any) -> str:
    """A Python expression calling ``function`` of the kernel module: by keyword, so that a
    kernel with an older jupyter-gpuguard takes the same call."""
    rendered = ", ".join(f"{name}={value!r}" for name, value in arguments.items())
    return f"__import__({protocol.KERNEL_MODULE!r}, fromlist=['_']).{function}({rendered})"


def attach_call(store: str, kernel_id: str, notebook: str | None, socket_path: str) -> str:
    """Sets the kernel up for snapshots and opens its control socket; shows its status."""
    return _call(
        protocol.ATTACH_FUNCTION,
        store=store,
        kernel_id=kernel_id,
        notebook=notebook,
        control=socket_path,
    )


def restore_call(snapshot_id: str, rebuild: bool) -> str:
    """Restores a snapshot into the kernel; shows its report, or an error answer."""
    return _call(protocol.RESTORE_FUNCTION, snapshot_id=snapshot_id, rebuild=rebuild)


def own_client(kernel: Any) -> Any:
    """A client of ``kernel`` with a session of its own.

    ``kernel.client()`` reuses the manager's session, whose id is the ZeroMQ identity of
    the shell socket: two such clients at once confuse the kernel's router, and replies go
    astray. A fresh session id keeps ours apart from everyone else's.
    """
    from jupyter_client.session import Session

    shared = kernel.session
    session = Session(
        key=shared.key, signature_scheme=shared.signature_scheme, username=shared.username
    )
    return kernel.client(session=session)


async def evaluate(kernel_manager: Any, kernel_id: str, expression: str, timeout: float) -> Any:
    """Evaluate ``expression`` in the kernel with a silent execute; returns its JSON value.

    Silent and without history: the user sees no output and no new execution count.
    """
    client = own_client(kernel_manager.get_kernel(kernel_id))
    client.start_channels(stdin=False, hb=False, control=False)
    try:
        try:
            await client.wait_for_ready(timeout=timeout)
        except RuntimeError as err:  # died or never started
            raise KernelLinkError(f"the kernel is not ready: {err}", "not-ready") from None
        msg_id = client.execute(
            "", silent=True, store_history=False, user_expressions={"answer": expression}
        )
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise KernelLinkError(f"the kernel did not answer within {timeout:g} s", "timeout")
            try:
                reply = await client.get_shell_msg(timeout=remaining)
            except Exception:  # queue.Empty or a closed socket
                raise KernelLinkError(
                    f"the kernel did not answer within {timeout:g} s", "timeout"
                ) from None
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                break
    finally:
        client.stop_channels()
    answer = reply["content"].get("user_expressions", {}).get("answer", {})
    if answer.get("status") != "ok":
        ename = answer.get("ename", "Error")
        # Every expression sent starts by importing the kernel module.
        reason = "no-kernel-side" if ename in IMPORT_ERRORS else "kernel-error"
        raise KernelLinkError(f"{ename}: {answer.get('evalue', '')}", reason)
    text = answer.get("data", {}).get("text/plain", "")
    try:
        return json.loads(_unrepr(text))
    except ValueError as err:
        raise KernelLinkError(
            f"the kernel answered something unexpected: {text[:200]}", "unexpected-answer"
        ) from err


def _unrepr(text: str) -> str:
    """The kernel shows a returned str as its repr: undo that safely."""
    import ast

    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text
    return value if isinstance(value, str) else text


async def request(path: str, payload: Mapping[str, Any], timeout: float) -> dict[str, Any]:
    """One request on the kernel's control socket; works while the kernel runs a cell."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_unix_connection(path, limit=REPLY_LIMIT), min(timeout, 5.0)
        )
    except (OSError, asyncio.TimeoutError) as err:
        raise ChannelNotOpen(f"the kernel's snapshot channel is not open ({err})") from None
    try:
        # Checked before the request is sent: it names notebooks, and the answer is trusted.
        control.check_peer(writer.get_extra_info("socket"))
    except (control.ControlSocketError, OSError) as err:
        writer.close()
        raise KernelLinkError(str(err), "refused") from None
    try:
        writer.write(json.dumps(payload).encode() + b"\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
    except asyncio.TimeoutError:
        raise KernelLinkError(
            f"the kernel did not answer within {timeout:g} s", "timeout"
        ) from None
    except OSError as err:
        raise KernelLinkError(f"the kernel's snapshot channel broke ({err})") from None
    finally:
        writer.close()
    if not line:
        raise KernelLinkError("the kernel closed its snapshot channel")
    try:
        answer = json.loads(line)
    except ValueError as err:
        raise KernelLinkError(
            "the kernel answered something unexpected", "unexpected-answer"
        ) from err
    if not isinstance(answer, dict):
        raise KernelLinkError("the kernel answered something unexpected", "unexpected-answer")
    return answer


async def attach(
    path: str, settings: protocol.AttachRequest, wait: float, timeout: float
) -> dict[str, Any] | None:
    """Give the server's ``settings`` to a kernel that loaded the kernel side at its start,
    on its control socket; its status, or None when nothing listens there within ``wait`` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        try:
            answer = await request(path, settings, timeout)
            break
        except ChannelNotOpen:
            if loop.time() >= deadline:
                return None
            await asyncio.sleep(0.05)
    if answer.get("error"):
        raise KernelLinkError(str(answer["error"]), str(answer.get("reason") or "refused"))
    return answer

"""How an idle machine is stopped once its snapshots committed: RunPod's ``podStop`` for
this pod, else ``c.GpuGuard.idle_stop_command``, else not at all."""

from __future__ import annotations

import asyncio
import logging
import os
import re
from dataclasses import dataclass

from ..config import GpuGuard
from ..instance.runpod import this_pod_id
from ..pods.key import SOURCES, SOURCES_HINT, api_key

COMMAND_TIMEOUT = 120.0
OUTPUT_LOGGED = 4000  # characters of the command's output the log keeps
SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)


class StopFailed(Exception):
    """The machine was not stopped; the message says why, in words for the panel."""


@dataclass(frozen=True)
class StopMethod:
    kind: str  # "runpod", "command" or "none"
    text: str  # what an idle stop will do, in words
    pod_id: str | None = None
    command: str = ""


def stop_method(config: GpuGuard) -> StopMethod:
    """Read at each use: the key can be set from the panel while the server runs."""
    pod_id = this_pod_id()
    if pod_id:
        key = api_key(config)
        if not key:
            return StopMethod(
                "none",
                f"nothing: this pod cannot stop itself without a RunPod API key ({SOURCES_HINT})",
                pod_id,
            )
        return StopMethod("runpod", f"snapshot every kernel, then stop this pod ({pod_id})", pod_id)
    if config.idle_stop_command.strip():
        return StopMethod(
            "command",
            "snapshot every kernel, then run c.GpuGuard.idle_stop_command",
            command=config.idle_stop_command,
        )
    return StopMethod(
        "none",
        "nothing: no way to stop this machine is set (c.GpuGuard.idle_stop_command)",
    )


async def stop_machine(method: StopMethod, config: GpuGuard, log: logging.Logger) -> str:
    """Stop the machine; what happened, in words, or StopFailed."""
    if method.kind == "runpod" and method.pod_id:
        return await _stop_pod(method.pod_id, config)
    if method.kind == "command":
        return await _run_command(method.command, config, log)
    raise StopFailed(f"Not stopped: {method.text}.")


async def _stop_pod(pod_id: str, config: GpuGuard) -> str:
    # RunPod's client and its errors: only when a pod stops itself
    from ..pods.client import client_for
    from ..pods.errors import PodError

    key = api_key(config)
    where = SOURCES.get(key.source, "the API key")
    try:
        answer = await client_for(config).stop(pod_id)
    except PodError as err:
        # A pod's own RUNPOD_API_KEY has rights RunPod does not document: say so plainly.
        if err.reason == "key-rejected":
            raise StopFailed(
                f"Not stopped: RunPod refused the API key ({where}) when asked to stop this "
                f"pod ({pod_id}). A pod's own RUNPOD_API_KEY may not be allowed to stop it: "
                "set a key with write access in the On-demand pod section."
            ) from None
        raise StopFailed(
            f"Not stopped: {err} The API key in use ({where}) may not be allowed to stop "
            "this pod: a key with write access set in the On-demand pod section can."
        ) from None
    return f"RunPod is stopping this pod ({pod_id}): {answer.get('status', 'stopping')}"


def _secrets(config: GpuGuard) -> list[str]:
    values = [v for k, v in os.environ.items() if SECRET_NAME.search(k) and len(v) >= 6]
    key = api_key(config).value
    return sorted({*values, *([key] if key else [])}, key=len, reverse=True)


def scrubbed(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


async def _run_command(command: str, config: GpuGuard, log: logging.Logger) -> str:
    try:
        process = await asyncio.create_subprocess_shell(
            command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
    except OSError as err:
        raise StopFailed(
            f"Not stopped: c.GpuGuard.idle_stop_command did not start: {err}"
        ) from None
    try:
        output, _ = await asyncio.wait_for(process.communicate(), COMMAND_TIMEOUT)
    except asyncio.TimeoutError:
        process.kill()
        raise StopFailed(
            f"Not stopped: c.GpuGuard.idle_stop_command ran past {COMMAND_TIMEOUT:.0f} s."
        ) from None
    text = scrubbed(output.decode("utf-8", errors="replace"), _secrets(config))
    log.warning(
        "jupyter_gpuguard: idle stop: c.GpuGuard.idle_stop_command exited with %s; output:\n%s",
        process.returncode,
        text[-OUTPUT_LOGGED:],
    )
    if process.returncode != 0:
        last = text.strip().splitlines()[-1:] or [""]
        raise StopFailed(
            f"Not stopped: c.GpuGuard.idle_stop_command exited with {process.returncode}"
            + (f": {last[0][:200]}" if last[0] else ".")
        )
    return "c.GpuGuard.idle_stop_command ran"

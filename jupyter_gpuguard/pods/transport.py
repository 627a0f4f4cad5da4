"""RunPod's GraphQL endpoint over tornado's HTTP client, the one the Jupyter server runs on.

One POST of ``{"query": ...}`` to ``$RUNPOD_API_BASE_URL/graphql`` with the key as a bearer
token, as RunPod's own SDK sends it. The SDK is not used: it pulls some 80 packages with
minimum pins (boto3, cryptography, urllib3, fastapi...) into the user's environment and can
change the versions of packages their work depends on, all for this one request.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import re
from typing import Any

from tornado.httpclient import AsyncHTTPClient, HTTPRequest, HTTPResponse
from tornado.simple_httpclient import HTTPTimeoutError

from .. import __version__

DEFAULT_API_BASE_URL = "https://api.runpod.io"
# Printable ASCII without spaces: anything else cannot travel in a header, and the error
# an HTTP client raises for it would quote the key.
SENDABLE_KEY = re.compile(r"^[\x21-\x7e]+$")


class RunPodError(Exception):
    """A RunPod API call failed; the message is safe to show (it never contains the key).

    ``reason`` lets callers react without parsing text: "key-rejected", "api-error" (RunPod
    answered with GraphQL errors; ``api_message`` holds RunPod's own words), "garbage",
    "unreachable", "timeout" or "invalid" (a value no query may carry, never sent).
    """

    def __init__(self, message: str, reason: str = "api-error", api_message: str = "") -> None:
        super().__init__(message)
        self.reason = reason
        self.api_message = api_message


def scrub(message: str, secret: str) -> str:
    """Remove the key from text that may reach a log, an error or the browser."""
    if secret:
        message = message.replace(secret, "***")
    return message


def api_url() -> str:
    base = os.environ.get("RUNPOD_API_BASE_URL") or DEFAULT_API_BASE_URL
    return f"{base.rstrip('/')}/graphql"


def user_agent() -> str:
    system = f"{platform.system()} {platform.release()}; {platform.machine()}"
    return f"jupyter-gpuguard/{__version__} ({system}) Language/Python {platform.python_version()}"


def _ca_certs() -> str | None:
    # The SDK trusted certifi's bundle (through requests); keep trusting the same CAs, so a
    # Python whose own store is empty (python.org's macOS builds) still reaches RunPod.
    try:
        import certifi
    except ImportError:
        return None
    return certifi.where()


def _api_message(errors: Any) -> str:
    first = errors[0] if isinstance(errors, list) and errors else errors
    if isinstance(first, dict) and isinstance(first.get("message"), str):
        return first["message"]
    return json.dumps(first)


def _answer(response: HTTPResponse, api_key: str) -> dict[str, Any]:
    if response.code == 401:
        raise RunPodError("RunPod rejected the API key.", "key-rejected")
    status = "" if 200 <= response.code < 300 else f" HTTP {response.code}"
    try:
        answer = json.loads(response.body or b"")
    except (ValueError, RecursionError):  # bad JSON, bad UTF-8, or nested past the parser
        raise RunPodError(
            f"RunPod API answered{status} with something that is not JSON.", "garbage"
        ) from None
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if errors:  # RunPod's words beat its status code: they say what to change
        said = scrub(_api_message(errors), api_key)[:500]
        raise RunPodError(f"RunPod API error: {said}", "api-error", said)
    if status or not isinstance(answer, dict) or not isinstance(answer.get("data"), dict):
        raise RunPodError(f"RunPod API answered{status} without data.", "garbage")
    return answer


async def run_query(query: str, api_key: str, timeout: float) -> dict[str, Any]:
    """POST ``query`` to RunPod's GraphQL API; the answer, or RunPodError within ``timeout``.

    The query is sent as text only: any user value in it must come from
    ``jupyter_gpuguard.pods.graphql``.
    """
    if not SENDABLE_KEY.match(api_key):
        raise RunPodError(
            "The RunPod API key has characters no key has (spaces, line breaks or non-ASCII).",
            "key-rejected",
        )
    request = HTTPRequest(
        api_url(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": user_agent(),
            "Authorization": f"Bearer {api_key}",
        },
        body=json.dumps({"query": query}),
        connect_timeout=timeout,
        request_timeout=timeout,
        # A redirect would carry the Authorization header to wherever it points.
        follow_redirects=False,
        ca_certs=_ca_certs(),
    )
    try:
        # wait_for also bounds the time a request waits for one of the client's free slots.
        response = await asyncio.wait_for(
            AsyncHTTPClient().fetch(request, raise_error=False), timeout
        )
    except (asyncio.TimeoutError, HTTPTimeoutError):  # ours, or the client's connect timeout
        raise RunPodError(f"RunPod API did not answer within {timeout:g} s.", "timeout") from None
    except Exception as err:  # refused, reset, DNS, TLS: anything before an answer
        said = scrub(f"{type(err).__name__}: {err}", api_key)
        # "from None": a logged traceback would print the unscrubbed cause.
        raise RunPodError(f"RunPod API unreachable: {said}", "unreachable") from None
    return _answer(response, api_key)

"""A small HTTP helper for metadata services: short timeouts, never raises on HTTP status."""

from __future__ import annotations

from dataclasses import dataclass

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest


class ProbeError(Exception):
    """The service could not be reached or did not answer in time; the message says which."""


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        for key, value in self.headers.items():
            if key.lower() == lowered:
                return value
        return None


async def fetch(
    url: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 1.0,
    connect_timeout: float | None = None,
) -> Response:
    """Fetch ``url``; any HTTP status comes back as a Response, network trouble as ProbeError."""
    if method in ("PUT", "POST") and body is None:
        body = b""
    request = HTTPRequest(
        url,
        method=method,
        headers=headers or {},
        body=body,
        request_timeout=timeout,
        connect_timeout=connect_timeout if connect_timeout is not None else timeout,
        follow_redirects=False,
        decompress_response=True,
    )
    client = AsyncHTTPClient()
    try:
        answer = await client.fetch(request, raise_error=False)
    except HTTPClientError as err:  # pragma: no cover - raise_error=False returns these instead
        answer = err.response
        if answer is None:
            raise ProbeError(f"{url}: {err}") from None
    except (OSError, TimeoutError) as err:
        raise ProbeError(f"{url}: {err or type(err).__name__}") from None
    if answer.code == 599:
        # tornado reports timeouts and refused connections as status 599
        reason = str(answer.error) if answer.error else "no answer"
        raise ProbeError(f"{url}: {reason}")
    return Response(answer.code, dict(answer.headers.get_all()), answer.body or b"")

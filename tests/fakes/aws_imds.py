"""An AWS EC2 instance metadata service on 127.0.0.1 for tests.

It behaves like IMDS with IMDSv2 required: ``PUT /latest/api/token`` with a TTL header hands
out a session token, and every GET must carry a valid, unexpired token or gets 401.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field

import tornado.web

from .server import Failure, misbehave

TOKEN_PATH = "/latest/api/token"
META_DATA = "/latest/meta-data/"
TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TTL_SECONDS = 21600


def _error_page(status: int, title: str) -> str:
    return (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n'
        '<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">\n'
        f" <head>\n  <title>{status} - {title}</title>\n </head>\n"
        f" <body>\n  <h1>{status} - {title}</h1>\n </body>\n</html>\n"
    )


@dataclass
class FakeAws:
    instance_type: str = "p4d.24xlarge"
    life_cycle: str = "on-demand"
    """instance-life-cycle: "on-demand", "spot" or "scheduled"."""
    region: str = "us-east-1"
    availability_zone: str = "us-east-1a"
    instance_id: str = "i-0123456789abcdef0"
    instance_action: dict[str, str] | None = None
    """The body of spot/instance-action; None answers 404 as AWS does until a notice."""
    failures: dict[str, Failure] = field(default_factory=dict)
    """Per path, e.g. "/latest/meta-data/instance-type" or "/latest/api/token"."""
    tokens: dict[str, float] = field(default_factory=dict)
    """Every valid token, with the time.monotonic() at which it expires."""
    tokens_issued: int = 0
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request, in order."""
    base_url: str = ""
    """Set by the test once the fake is served."""
    imdsv1: bool = False
    """Answer GETs without a token too (the instance's http-tokens "optional")."""

    def interrupt(self, action: str = "terminate", time: str = "2026-11-26T19:02:00Z") -> None:
        """Schedule a spot interruption, as AWS does two minutes ahead."""
        self.instance_action = {"action": action, "time": time}

    def expire_tokens(self) -> None:
        """Make every token handed out so far invalid, as when its TTL runs out."""
        self.tokens.clear()

    def meta_data(self) -> dict[str, str]:
        entries = {
            "instance-id": self.instance_id,
            "instance-type": self.instance_type,
            "instance-life-cycle": self.life_cycle,
            "placement/region": self.region,
            "placement/availability-zone": self.availability_zone,
        }
        if self.instance_action is not None:
            entries["spot/instance-action"] = json.dumps(self.instance_action)
        return entries


class ImdsHandler(tornado.web.RequestHandler):
    SUPPORTED_METHODS = ("GET", "PUT")

    def initialize(self, fake: FakeAws) -> None:
        self.fake = fake

    def set_default_headers(self) -> None:
        self.set_header("Server", "EC2ws")
        self.set_header("Content-Type", "text/plain")

    def check_xsrf_cookie(self) -> None:
        return None

    def _error(self, status: int, title: str) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html")
        self.finish(_error_page(status, title))

    async def put(self, _path: str) -> None:
        fake = self.fake
        fake.requests.append(("PUT", self.request.path))
        if self.request.path != TOKEN_PATH:
            self._error(405, "Method Not Allowed")
            return
        if "X-Forwarded-For" in self.request.headers:
            self._error(403, "Forbidden")
            return
        ttl = self.request.headers.get(TTL_HEADER, "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= MAX_TTL_SECONDS:
            self._error(400, "Bad Request")
            return
        if await misbehave(self, fake.failures.get(TOKEN_PATH)):
            return
        token = "AQAEA" + secrets.token_urlsafe(40)
        fake.tokens[token] = time.monotonic() + int(ttl)
        fake.tokens_issued += 1
        self.set_header(TTL_HEADER, ttl)
        self.finish(token)

    async def get(self, _path: str) -> None:
        fake = self.fake
        path = self.request.path
        fake.requests.append(("GET", path))
        token = self.request.headers.get(TOKEN_HEADER, "")
        expires = fake.tokens.get(token)
        without_token = fake.imdsv1 and TOKEN_HEADER not in self.request.headers
        if not without_token and (expires is None or expires <= time.monotonic()):
            fake.tokens.pop(token, None)
            self._error(401, "Unauthorized")
            return
        failure = fake.failures.get(path)
        if await misbehave(self, failure):
            return
        entries = fake.meta_data()
        if path == META_DATA:
            names = dict.fromkeys(
                name.split("/")[0] + ("/" if "/" in name else "") for name in entries
            )
            self.finish("\n".join(names))
            return
        value = entries.get(path.removeprefix(META_DATA)) if path.startswith(META_DATA) else None
        if value is None or (failure is not None and failure.missing):
            self._error(404, "Not Found")
            return
        self.finish(value)


def make_app(fake: FakeAws) -> tornado.web.Application:
    return tornado.web.Application([(r"/(.*)", ImdsHandler, {"fake": fake})])

"""The GraphQL transport against real servers on 127.0.0.1: what it sends, how each failure ends."""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import tornado.web

from jupyter_gpuguard.pods.transport import RunPodError, run_query
from tests.fakes.runpod_graphql import pod
from tests.fakes.server import closed_port_url, make_plain_app, serve

QUERY = "query { myself { id } }"
ROOT = Path(__file__).resolve().parent.parent


class Recorder(tornado.web.RequestHandler):
    """Keeps each request as it arrived, and answers what the test set (a GraphQL answer)."""

    def initialize(self, seen: list[dict[str, Any]], answer: dict[str, Any]) -> None:
        self.seen = seen
        self.answer = answer

    def check_xsrf_cookie(self) -> None:
        return None

    async def post(self, _path: str) -> None:
        self.seen.append(
            {
                "path": self.request.path,
                "query": self.request.query,
                "headers": dict(self.request.headers),
                "body": self.request.body,
            }
        )
        self.set_status(self.answer.get("status", 200))
        for name, value in self.answer.get("headers", {}).items():
            self.set_header(name, value)
        self.finish(self.answer.get("body", b'{"data": {"myself": {"id": "user_1"}}}'))


def recorder(answer: dict[str, Any] | None = None) -> tuple[tornado.web.Application, list]:
    seen: list[dict[str, Any]] = []
    app = tornado.web.Application(
        [(r"/(.*)", Recorder, {"seen": seen, "answer": answer if answer is not None else {}})]
    )
    return app, seen


async def failing(fake, key: str | None = None, timeout: float = 3.0) -> RunPodError:
    with pytest.raises(RunPodError) as raised:
        await run_query(QUERY, fake.api_key if key is None else key, timeout)
    return raised.value


async def test_sends_one_json_post_with_the_bearer_key(monkeypatch):
    app, seen = recorder()
    async with serve(app) as url:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", url + "/")  # a trailing slash is forgiven
        answer = await run_query(QUERY, "rp_key_0123456789", 3.0)
    assert answer == {"data": {"myself": {"id": "user_1"}}}
    [request] = seen
    assert request["path"] == "/graphql"
    assert request["query"] == ""  # the key travels in a header, never in the URL
    assert request["headers"]["Authorization"] == "Bearer rp_key_0123456789"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["User-Agent"].startswith("jupyter-gpuguard/")
    assert json.loads(request["body"]) == {"query": QUERY}


def test_the_default_base_url_is_runpods(monkeypatch):
    from jupyter_gpuguard.pods.transport import api_url

    monkeypatch.delenv("RUNPOD_API_BASE_URL", raising=False)
    assert api_url() == "https://api.runpod.io/graphql"


async def test_the_fake_answers_through_it(runpod_api):
    runpod_api.pods["abc123xyz"] = pod("abc123xyz")
    query = 'query { pod(input: {podId: "abc123xyz"}) { id } }'
    answer = await run_query(query, runpod_api.api_key, 3.0)
    assert answer == {"data": {"pod": {"id": "abc123xyz"}}}


async def test_a_rejected_key_is_key_rejected_and_not_quoted(runpod_api, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "rp_wrong_secret_987654"
    err = await failing(runpod_api, key=wrong)
    assert err.reason == "key-rejected"
    assert str(err) == "RunPod rejected the API key."
    assert wrong not in caplog.text


async def test_a_slow_api_times_out_on_time(runpod_api):
    runpod_api.delay = 3
    started = time.monotonic()
    err = await failing(runpod_api, timeout=0.4)
    assert time.monotonic() - started < 1.2
    assert err.reason == "timeout"
    assert str(err) == "RunPod API did not answer within 0.4 s."


async def test_a_server_that_accepts_and_never_answers_times_out(monkeypatch):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel completes the handshake; nobody ever reads
        monkeypatch.setenv("RUNPOD_API_BASE_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
        started = time.monotonic()
        with pytest.raises(RunPodError) as raised:
            await run_query(QUERY, "rp_key_0123456789", 0.4)
    assert time.monotonic() - started < 1.2
    assert raised.value.reason == "timeout"


@pytest.mark.parametrize(
    "body", [b"<html>oops</html>", b"\xff\xfe not utf-8", b"[" * 100_000 + b"]" * 100_000]
)
async def test_an_answer_that_is_not_json_is_garbage(runpod_api, body):
    runpod_api.raw_body = body
    err = await failing(runpod_api)
    assert err.reason == "garbage"
    assert str(err) == "RunPod API answered with something that is not JSON."


async def test_an_ordinary_web_page_is_garbage(monkeypatch):
    async with serve(make_plain_app()) as url:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", url)
        with pytest.raises(RunPodError) as raised:
            await run_query(QUERY, "rp_key_0123456789", 3.0)
    assert raised.value.reason == "garbage"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"data": null}', "without data"),
        (b'{"data": []}', "without data"),
        (b'["data"]', "without data"),
        (b'{"errors": []}', "without data"),
    ],
)
async def test_json_without_data_is_garbage(runpod_api, body, words):
    runpod_api.raw_body = body
    err = await failing(runpod_api)
    assert err.reason == "garbage"
    assert words in str(err)


async def test_http_500_is_garbage_and_names_the_status(runpod_api):
    runpod_api.http_status = 500
    err = await failing(runpod_api)
    assert err.reason == "garbage"
    assert str(err) == "RunPod API answered HTTP 500 with something that is not JSON."


async def test_http_error_with_data_is_still_an_error(monkeypatch):
    app, _seen = recorder({"status": 502, "body": b'{"data": {"myself": {"id": "stale"}}}'})
    async with serve(app) as url:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", url)
        with pytest.raises(RunPodError) as raised:
            await run_query(QUERY, "rp_key_0123456789", 3.0)
    assert raised.value.reason == "garbage"
    assert "HTTP 502 without data" in str(raised.value)


async def test_graphql_errors_are_runpods_words_scrubbed(runpod_api):
    runpod_api.graphql_error = f"Key {runpod_api.api_key} may not do that"
    err = await failing(runpod_api)
    assert err.reason == "api-error"
    assert err.api_message == "Key *** may not do that"
    assert str(err) == "RunPod API error: Key *** may not do that"


@pytest.mark.parametrize(
    ("status", "errors", "said"),
    [
        (400, [{"message": "Syntax Error: Unexpected Name"}], "Syntax Error: Unexpected Name"),
        (403, [{"message": "Forbidden for this key"}], "Forbidden for this key"),
        (200, [{"code": 7}], '{"code": 7}'),
        (200, "broken", '"broken"'),
    ],
)
async def test_an_errors_array_wins_over_the_status(monkeypatch, status, errors, said):
    body = json.dumps({"errors": errors, "data": None}).encode()
    app, _seen = recorder({"status": status, "body": body})
    async with serve(app) as url:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", url)
        with pytest.raises(RunPodError) as raised:
            await run_query(QUERY, "rp_key_0123456789", 3.0)
    assert raised.value.reason == "api-error"
    assert raised.value.api_message == said


async def test_a_long_error_is_cut(runpod_api):
    runpod_api.graphql_error = "x" * 5000
    err = await failing(runpod_api)
    assert len(err.api_message) == 500


async def test_connection_refused_is_unreachable_without_the_key(monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("RUNPOD_API_BASE_URL", closed_port_url())
    with pytest.raises(RunPodError) as raised:
        await run_query(QUERY, "rp_key_abcdef0123", 2.0)
    assert raised.value.reason == "unreachable"
    assert str(raised.value).startswith("RunPod API unreachable: ")
    assert "rp_key_abcdef0123" not in str(raised.value)
    # a logged traceback shows no unscrubbed cause
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert "rp_key_abcdef0123" not in caplog.text


async def test_a_redirect_is_not_followed_with_the_key(monkeypatch):
    elsewhere, seen_elsewhere = recorder()
    async with serve(elsewhere) as other:
        app, seen = recorder(
            {"status": 307, "headers": {"Location": other + "/graphql"}, "body": b""}
        )
        async with serve(app) as url:
            monkeypatch.setenv("RUNPOD_API_BASE_URL", url)
            with pytest.raises(RunPodError) as raised:
                await run_query(QUERY, "rp_key_0123456789", 3.0)
    assert len(seen) == 1
    assert seen_elsewhere == []
    assert raised.value.reason == "garbage"
    assert "HTTP 307" in str(raised.value)


@pytest.mark.parametrize("key", ["rp_key\r\nX-Injected: 1", "rp key with spaces", "rp_kéy_0123"])
async def test_a_key_that_cannot_be_a_header_is_never_sent(monkeypatch, key):
    app, seen = recorder()
    async with serve(app) as url:
        monkeypatch.setenv("RUNPOD_API_BASE_URL", url)
        with pytest.raises(RunPodError) as raised:
            await run_query(QUERY, key, 3.0)
    assert seen == []
    assert raised.value.reason == "key-rejected"
    assert key not in str(raised.value)


async def test_no_runpod_module_is_needed(runpod_api, monkeypatch):
    monkeypatch.setitem(sys.modules, "runpod", None)  # any `import runpod` now fails
    runpod_api.pods["abc123xyz"] = pod("abc123xyz")
    from jupyter_gpuguard.instance import runpod

    info = await runpod.detect("abc123xyz", runpod_api.api_key, 3.0)
    assert info.price_per_hour == 0.23


def test_the_runpod_sdk_is_not_a_dependency():
    text = (ROOT / "pyproject.toml").read_text()
    dependencies = re.search(r"^dependencies = \[(.*?)^\]", text, re.M | re.S)
    assert dependencies is not None
    names = re.findall(r'^\s*"([A-Za-z0-9_.-]+)', dependencies.group(1), re.M)
    assert "jupyter_server" in names  # the block was found and read
    assert "runpod" not in names

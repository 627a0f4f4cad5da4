"""End to end through the REST API: snapshot a notebook's kernel, kill it, restore."""

from __future__ import annotations

import json

import pytest
from tornado.httpclient import HTTPClientError

from tests.helpers.server_config import local_server_config
from tests.helpers.server_kernels import kill_kernel, open_notebook, run


@pytest.fixture
def jp_server_config(store_dir):
    return local_server_config(store_dir, snapshot_interval=0, scheduler_tick=0.2)


async def fetch_json(jp_fetch, *parts, **kwargs):
    try:
        response = await jp_fetch("gpuguard", *parts, **kwargs)
    except HTTPClientError as err:
        raise AssertionError(f"{err.code}: {err.response.body!r}") from None
    return response.code, (json.loads(response.body) if response.body else None)


async def fails(jp_fetch, *parts, **kwargs):
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("gpuguard", *parts, **kwargs)
    return raised.value.code, json.loads(raised.value.response.body)["message"]


async def test_snapshot_kill_restore_through_the_routes(jp_fetch, jp_serverapp, store_dir):
    _session, kernel_id = await open_notebook(jp_fetch, "work/train.ipynb")
    await run(jp_serverapp, kernel_id, "import numpy as np\nweights = np.arange(5.0) * 2")
    await run(jp_serverapp, kernel_id, "history = [weights, weights]\nsteps = (i for i in [1])")

    code, info = await fetch_json(
        jp_fetch, "snapshots", method="POST", body=json.dumps({"kernel_id": kernel_id})
    )
    assert code == 201
    assert info["notebook"] == "work/train.ipynb"
    assert info["kernel_id"] == kernel_id
    assert {v["name"] for v in info["variables"]} == {"weights", "history"}
    assert [s["name"] for s in info["skipped"]] == ["steps"]

    _code, listed = await fetch_json(jp_fetch, "snapshots", params={"notebook": "work/train.ipynb"})
    assert [s["id"] for s in listed] == [info["id"]]
    _code, others = await fetch_json(jp_fetch, "snapshots", params={"notebook": "other.ipynb"})
    assert others == []
    _code, one = await fetch_json(jp_fetch, "snapshots", info["id"])
    assert one == info

    kill_kernel(jp_serverapp, kernel_id)
    _session2, new_kernel = await open_notebook(jp_fetch, "work/train-2.ipynb")
    code, report = await fetch_json(
        jp_fetch,
        f"snapshots/{info['id']}/restore",
        method="POST",
        body=json.dumps({"kernel_id": new_kernel}),
    )
    assert code == 200
    assert report["restored"] == ["history", "weights"]
    assert report["modules"] == ["np"]
    assert report["failed"] == []
    [skipped] = report["skipped"]
    assert skipped["name"] == "steps"
    assert skipped["defined_in"]["source"].startswith("history = [weights, weights]")
    # without "rebuild", nothing is re-run: the plan is only offered
    assert report["plan"]["summary"] == "Rebuild steps by re-running 1 cell (cell 2)?"
    assert (report["rebuilt"], report["replayed"]) == ([], [])
    out = await run(
        jp_serverapp,
        new_kernel,
        "print(weights.tolist(), history[0] is weights, 'steps' in globals())",
    )
    assert out.strip() == "[0.0, 2.0, 4.0, 6.0, 8.0] True False"

    _code, status = await fetch_json(jp_fetch, "status")
    assert status["store"]["path"] == str(store_dir)
    assert status["store"]["bytes"] > 0
    assert status["store"]["persistent"] is True
    assert status["interval_seconds"] == 0
    by_id = {k["kernel_id"]: k for k in status["kernels"]}
    assert by_id[new_kernel]["supported"] is True
    assert by_id[new_kernel]["attached"] is True

    code, _ = await fetch_json(jp_fetch, "snapshots", info["id"], method="DELETE")
    assert code == 204
    assert await fails(jp_fetch, "snapshots", info["id"]) == (
        404,
        f"there is no snapshot {info['id']} in {store_dir}",
    )


async def test_bad_input_gets_a_clear_4xx(jp_fetch, jp_serverapp):
    _session, kernel_id = await open_notebook(jp_fetch, "bad.ipynb")
    await run(jp_serverapp, kernel_id, "pass")
    post = {"method": "POST"}
    cases = [
        (("snapshots",), {**post, "body": "{not json"}, 400, "not valid JSON"),
        (("snapshots",), {**post, "body": "[1, 2]"}, 400, "must be a JSON object"),
        (("snapshots",), {**post, "body": json.dumps({"kernel_id": 7})}, 400, "kernel_id"),
        (("snapshots",), {**post, "body": json.dumps({})}, 400, "kernel_id"),
        (("snapshots",), {**post, "body": json.dumps({"kernel_id": "nope"})}, 404, "no running"),
        (("snapshots", "..%2F..%2Fetc%2Fpasswd"), {}, 400, "is not a snapshot id"),
        (("snapshots", "not-an-id"), {"method": "DELETE"}, 400, "is not a snapshot id"),
        (("snapshots", "20261126T191500.123456Z-0badc0de"), {}, 404, "there is no snapshot"),
        (
            ("snapshots", "20261126T191500.123456Z-0badc0de", "restore"),
            {**post, "body": json.dumps({"kernel_id": kernel_id})},
            404,
            "there is no snapshot",
        ),
        (
            ("snapshots", "../../x", "restore"),
            {**post, "body": json.dumps({"kernel_id": kernel_id})},
            400,
            "",
        ),
    ]
    for parts, kwargs, status, words in cases:
        try:
            code, message = await fails(jp_fetch, *parts, **kwargs)
        except json.JSONDecodeError:
            code, message = status, ""  # tornado's own 404 page for paths no route matches
        assert code == status, (parts, kwargs, code, message)
        assert words in message, (parts, message)


async def test_routes_refuse_unauthenticated_calls(jp_fetch, jp_base_url, jp_http_port):
    from tornado.httpclient import AsyncHTTPClient

    await jp_fetch("gpuguard", "status")
    client = AsyncHTTPClient()
    base = f"http://127.0.0.1:{jp_http_port}{jp_base_url}gpuguard"
    for method, path, body in [
        ("GET", "/status", None),
        ("GET", "/snapshots", None),
        ("POST", "/snapshots", "{}"),
        ("GET", "/snapshots/20261126T191500.123456Z-0badc0de", None),
        ("DELETE", "/snapshots/20261126T191500.123456Z-0badc0de", None),
        ("POST", "/snapshots/20261126T191500.123456Z-0badc0de/restore", "{}"),
    ]:
        response = await client.fetch(base + path, method=method, body=body, raise_error=False)
        assert response.code == 403, (method, path, response.code)


async def test_plan_then_restore_with_rebuild_through_the_routes(jp_fetch, jp_serverapp):
    _session, kernel_id = await open_notebook(jp_fetch, "steps.ipynb")
    await run(jp_serverapp, kernel_id, "start = 3")
    await run(jp_serverapp, kernel_id, "steps = (start + i for i in range(10))\nnext(steps)")
    _code, info = await fetch_json(
        jp_fetch, "snapshots", method="POST", body=json.dumps({"kernel_id": kernel_id})
    )
    assert [s["name"] for s in info["skipped"]] == ["steps"]

    _code, plan = await fetch_json(jp_fetch, "snapshots", info["id"], "plan")
    assert plan["summary"] == "Rebuild steps by re-running 1 cell (cell 2)?"
    [cell] = plan["cells"]
    assert cell["source"].startswith("steps = (start + i")
    assert cell["rebuilds"] == ["steps"]
    assert await fails(jp_fetch, "snapshots", "not-an-id", "plan") == (
        400,
        "'not-an-id' is not a snapshot id.",
    )

    kill_kernel(jp_serverapp, kernel_id)
    _session2, new_kernel = await open_notebook(jp_fetch, "steps-2.ipynb")
    path = f"snapshots/{info['id']}/restore"
    assert await fails(
        jp_fetch, path, method="POST", body=json.dumps({"kernel_id": new_kernel, "rebuild": 1})
    ) == (400, "rebuild must be true or false.")
    _code, report = await fetch_json(
        jp_fetch, path, method="POST", body=json.dumps({"kernel_id": new_kernel, "rebuild": True})
    )
    assert report["restored"] == ["start"]
    assert report["rebuilt"] == ["steps"]
    assert report["replayed"] == [{"execution_count": 2, "ok": True, "error": None}]
    out = await run(jp_serverapp, new_kernel, "print(next(steps))")
    assert out.strip() == "4"


def nested(depth: int) -> str:
    """A JSON object whose kernel_id nests ``depth`` arrays deep."""
    return '{"kernel_id": ' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [10_000, 100])
async def test_a_deeply_nested_body_gets_a_400(jp_fetch, caplog, depth):
    restore = ("snapshots", "20261126T191500.123456Z-0badc0de", "restore")
    for parts in (("snapshots",), restore):
        code, message = await fails(jp_fetch, *parts, method="POST", body=nested(depth))
        assert code == 400, (parts, message)
        assert "nests too deep" in message
    assert "RecursionError" not in caplog.text


async def test_a_bad_manifest_is_named_in_the_status_and_the_rest_is_served(
    jp_fetch, jp_serverapp, store_dir
):
    from jupyter_gpuguard.snapshot import Store

    good = Store(store_dir).save({"kept": [1, 2]}, notebook="nb.ipynb")
    bad_id = "20200101T000000.000000Z-0badbad0"
    bad = store_dir / "snapshots" / f"{bad_id}.json"
    bad.write_text(
        json.dumps(
            {
                **json.loads((store_dir / "snapshots" / f"{good.id}.json").read_text()),
                "id": bad_id,
                "bytes_total": 1e999,
            }
        ).replace("Infinity", "1e999")
    )
    bad.chmod(0o600)
    code, listed = await fetch_json(jp_fetch, "snapshots")
    assert code == 200 and [s["id"] for s in listed] == [good.id]
    _code, status = await fetch_json(jp_fetch, "status")
    [problem] = status["store"]["problems"]
    assert problem.startswith(bad_id)
    assert status["prune_error"] is None


async def test_a_renamed_notebook_lists_what_its_kernel_saved_under_the_old_name(
    jp_fetch, jp_serverapp
):
    session_id, kernel_id = await open_notebook(jp_fetch, "Untitled.ipynb")
    await run(jp_serverapp, kernel_id, "answer = 41")
    _code, info = await fetch_json(
        jp_fetch, "snapshots", method="POST", body=json.dumps({"kernel_id": kernel_id})
    )
    assert info["notebook"] == "Untitled.ipynb"
    await jp_fetch(
        "api",
        "sessions",
        session_id,
        method="PATCH",
        body=json.dumps({"path": "renamed.ipynb", "name": "renamed.ipynb"}),
    )
    _code, by_name = await fetch_json(jp_fetch, "snapshots", params={"notebook": "renamed.ipynb"})
    assert by_name == []
    _code, with_kernel = await fetch_json(
        jp_fetch, "snapshots", params={"notebook": "renamed.ipynb", "kernel_id": kernel_id}
    )
    assert [s["id"] for s in with_kernel] == [info["id"]]
    _code, other_kernel = await fetch_json(
        jp_fetch, "snapshots", params={"notebook": "renamed.ipynb", "kernel_id": "another"}
    )
    assert other_kernel == []

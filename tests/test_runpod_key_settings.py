"""Where the RunPod key comes from on a real server: a key file named in the config, never
the config itself (``--debug`` prints the config), and the panel's copy apart from the store.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from tests.fakes.runpod_graphql import VOLUME, FakeRunPod
from tests.helpers.server_config import local_server_config
from tests.helpers.server_process import api, free_port, wait

LITERAL_KEY = "rp_literal_in_config_0123456789"


async def in_thread(function: Any, *args: Any) -> Any:
    """Blocking calls off the loop, which serves the RunPod fake meanwhile."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


@asynccontextmanager
async def jupyter_server(
    tmp_path: Path, config: str, *args: str
) -> AsyncIterator[tuple[str, str, Path]]:
    """A server in its own process with ``config`` as its jupyter_server_config.py;
    yields its URL, its token and its log's path."""
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.py").write_text(config)
    port, token = free_port(), secrets.token_hex(16)
    env = {
        **{k: v for k, v in os.environ.items() if k != "RUNPOD_API_KEY"},
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    command = [
        sys.executable, "-m", "jupyterlab", f"--port={port}", "--no-browser",
        "--ServerApp.ip=127.0.0.1", "--ServerApp.allow_root=True",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}", *args,
    ]  # fmt: skip
    log_path = tmp_path / "server.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            await in_thread(wait, lambda: api(base, token, "/api/status"))
            yield base, token, log_path
        finally:
            process.terminate()
            await in_thread(process.wait, 30)


def config_text(tmp_path: Path, **settings: Any) -> str:
    settings = local_server_config(tmp_path / "store", snapshot_interval=0, **settings)
    # the extension is on through the config.d file its install wrote, as for a user
    return "".join(
        f"c.GpuGuard.{name} = {value!r}\n" for name, value in settings["GpuGuard"].items()
    )


def key_file_of(tmp_path: Path, key: str, mode: int = 0o600) -> Path:
    path = tmp_path / "secrets" / "runpod.key"
    path.parent.mkdir(exist_ok=True)
    path.write_text(key + "\n")
    os.chmod(path, mode)
    return path


async def test_a_key_file_named_in_the_config_works_and_debug_never_logs_the_key(
    tmp_path, runpod_api: FakeRunPod
):
    key_file = key_file_of(tmp_path, runpod_api.api_key)
    config = config_text(tmp_path, runpod_api_key_file=str(key_file))
    async with jupyter_server(tmp_path, config, "--debug") as (base, token, log):
        state = await in_thread(api, base, token, "/gpuguard/runpod/key")
        assert state["source"] == "setting"
        assert state["source_text"] == "the file c.GpuGuard.runpod_api_key_file names"
        volumes = await in_thread(api, base, token, "/gpuguard/runpod/volumes")
        assert volumes["volumes"][0]["id"] == VOLUME["id"]  # the fake checked the bearer key
    text = log.read_text()
    assert "Config changed" in text  # the debug log that prints the config was on
    assert str(key_file) in text
    assert runpod_api.api_key not in text
    assert runpod_api.received  # the key reached RunPod


async def test_a_key_in_the_config_is_refused_with_a_warning_that_does_not_print_it(
    tmp_path, runpod_api: FakeRunPod
):
    config = config_text(tmp_path, runpod_api_key=LITERAL_KEY)
    async with jupyter_server(tmp_path, config) as (base, token, log):
        state = await in_thread(api, base, token, "/gpuguard/runpod/key")
        assert state["configured"] is False
    text = log.read_text()
    assert "c.GpuGuard.runpod_api_key is set, and ignored" in text
    assert "c.GpuGuard.runpod_api_key_file" in text
    assert LITERAL_KEY not in text


async def test_a_key_file_others_can_read_is_not_used(tmp_path, runpod_api: FakeRunPod):
    key_file = key_file_of(tmp_path, runpod_api.api_key, mode=0o644)
    config = config_text(tmp_path, runpod_api_key_file=str(key_file))
    async with jupyter_server(tmp_path, config) as (base, token, log):
        state = await in_thread(api, base, token, "/gpuguard/runpod/key")
        assert state["configured"] is False
    text = log.read_text()
    assert "its mode is 644; only its owner may read it (chmod 600)" in text
    assert runpod_api.api_key not in text


# ---- the panel's key file, on the in-process server ------------------------------------


@pytest.fixture
def legacy_key(jp_data_dir, runpod_api) -> Path:
    """A panel key where it used to be kept: inside the default snapshot store."""
    path = jp_data_dir / "gpuguard" / "runpod-api-key"
    path.parent.mkdir(mode=0o700)
    path.write_text(runpod_api.api_key + "\n")
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def jp_server_config(jp_data_dir, runpod_api):
    # the store where it is by default, and the panel's key file left at its default
    return local_server_config(jp_data_dir / "gpuguard", snapshot_interval=0)


async def panel(jp_fetch, *parts: str, **kwargs: Any) -> tuple[int, Any]:
    try:
        response = await jp_fetch("gpuguard", "runpod", *parts, **kwargs)
    except HTTPClientError as err:
        response = err.response
    return response.code, json.loads(response.body)


def files_holding(directory: Path, key: str) -> list[Path]:
    return [p for p in directory.rglob("*") if p.is_file() and key in p.read_text(errors="ignore")]


async def test_a_key_left_in_the_store_moves_out_of_it(
    jp_fetch, jp_data_dir, legacy_key, runpod_api
):
    code, state = await panel(jp_fetch, "key")
    assert (code, state["source"]) == (200, "panel")
    moved = jp_data_dir / "gpuguard-secrets" / "runpod_key"
    assert moved.read_text().strip() == runpod_api.api_key
    assert stat.S_IMODE(moved.stat().st_mode) == 0o600
    assert stat.S_IMODE(moved.parent.stat().st_mode) == 0o700
    assert not legacy_key.exists()
    assert files_holding(jp_data_dir / "gpuguard", runpod_api.api_key) == []
    code, volumes = await panel(jp_fetch, "volumes")
    assert (code, volumes["volumes"][0]["id"]) == (200, VOLUME["id"])


async def test_a_key_set_from_the_panel_is_kept_apart_from_the_store(
    jp_fetch, jp_data_dir, runpod_api
):
    body = json.dumps({"key": runpod_api.api_key})
    code, state = await panel(jp_fetch, "key", method="PUT", body=body)
    assert (code, state["source"]) == (200, "panel")
    assert files_holding(jp_data_dir / "gpuguard", runpod_api.api_key) == []
    key_file = jp_data_dir / "gpuguard-secrets" / "runpod_key"
    assert key_file.read_text().strip() == runpod_api.api_key
    code, state = await panel(jp_fetch, "key", method="DELETE")
    assert (code, state["configured"]) == (200, False)
    assert not key_file.exists()

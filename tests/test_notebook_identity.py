"""A snapshot names its notebook file, not only the path the server that took it saw.

Machine A serves from ``x``, as RunPod's start script serves from ``/``: the notebook is
``workspace/nb.ipynb``. Machine B serves from ``x/workspace``, as a user who starts
``jupyter lab`` in ``/workspace``: the same file is ``nb.ipynb``. Both use the store on the
volume, ``x/workspace/.gpuguard``.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest

from jupyter_gpuguard import cli
from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.identity import (
    NotebookIdentity,
    of_notebook,
    relative_to_volume,
    volume_root,
)
from jupyter_gpuguard.snapshot.model import SnapshotInfo
from tests.helpers.server_config import local_server_config
from tests.helpers.server_kernels import open_notebook, run, until
from tests.helpers.server_process import api, open_kernel
from tests.test_sigterm import jupyter_server

THE_NOTEBOOK = "workspace/nb.ipynb"
# The same name in other directories: neither is the notebook B opens as nb.ipynb.
SAME_NAME_AT_THE_ROOT = "nb.ipynb"
SAME_NAME_ELSEWHERE = "workspace/other/nb.ipynb"
NOTEBOOKS = (THE_NOTEBOOK, SAME_NAME_AT_THE_ROOT, SAME_NAME_ELSEWHERE)
EMPTY_NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@pytest.fixture
def machine_root(tmp_path: Path) -> Path:
    root = tmp_path / "x"
    for notebook in NOTEBOOKS:
        path = root / notebook
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(EMPTY_NOTEBOOK)
    return root


@pytest.fixture
def jp_root_dir(machine_root: Path) -> Path:
    return machine_root / "workspace"


@pytest.fixture
def store_dir(jp_root_dir: Path) -> Path:
    return jp_root_dir / ".gpuguard"


@pytest.fixture
def jp_server_config(store_dir: Path) -> dict[str, Any]:
    return local_server_config(store_dir, snapshot_interval=0, scheduler_tick=0.2)


def snapshot_on_machine_a(root: Path, store_dir: Path) -> dict[str, dict[str, Any]]:
    """Each notebook's snapshot, taken through machine A's route (``value`` is the notebook's
    place in NOTEBOOKS, from 1); then A is killed, and its kernels go with it."""
    taken = {}
    with jupyter_server(root, store_dir) as server:
        for value, notebook in enumerate(NOTEBOOKS, 1):
            # Named by its whole path, which makes the kernel's JPY_SESSION_NAME wrong: the
            # server's word must win over it.
            kernel_id, client = open_kernel(server.base, server.token, server.runtime, notebook)
            try:
                reply = client.execute_interactive(f"value = {value}", timeout=60)
            finally:
                client.stop_channels()
            assert reply["content"]["status"] == "ok"
            body = {"kernel_id": kernel_id}
            taken[notebook] = api(server.base, server.token, "/gpuguard/snapshots", body)
    return taken


async def listed(jp_fetch: Any, notebook: str) -> list[str]:
    response = await jp_fetch("gpuguard", "snapshots", params={"notebook": notebook})
    return [info["id"] for info in json.loads(response.body)]


async def test_machine_b_finds_and_restores_what_machine_a_saved_of_the_same_file(
    jp_fetch, jp_serverapp, machine_root, store_dir
):
    loop = asyncio.get_running_loop()
    taken = await loop.run_in_executor(None, snapshot_on_machine_a, machine_root, store_dir)
    ids = {notebook: info["id"] for notebook, info in taken.items()}

    assert await listed(jp_fetch, "nb.ipynb") == [ids[THE_NOTEBOOK]]
    assert await listed(jp_fetch, "other/nb.ipynb") == [ids[SAME_NAME_ELSEWHERE]]
    assert await listed(jp_fetch, "missing/nb.ipynb") == []

    first = taken[THE_NOTEBOOK]
    assert first["notebook"] == THE_NOTEBOOK  # as machine A named it, as before
    assert first["notebook_path"] == str(machine_root / THE_NOTEBOOK)
    assert first["notebook_volume_path"] == "nb.ipynb"
    assert first["server_root"] == str(machine_root)
    assert taken[SAME_NAME_AT_THE_ROOT]["notebook_volume_path"] is None  # not on the volume

    _session, kernel_id = await open_notebook(jp_fetch, "nb.ipynb")
    response = await jp_fetch(
        "gpuguard",
        "snapshots",
        ids[THE_NOTEBOOK],
        "restore",
        method="POST",
        body=json.dumps({"kernel_id": kernel_id}),
    )
    assert json.loads(response.body)["restored"] == ["value"]
    assert (await run(jp_serverapp, kernel_id, "print(value)")).strip() == "1"

    # %gpuguard restore, in a fresh process of the same notebook's kernel: the newest snapshot
    # of any notebook is the one of workspace/other/nb.ipynb, and nb.ipynb at A's root has the
    # name B gives this notebook.
    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="{}")
    scheduler = jp_serverapp.web_app.settings["gpuguard_scheduler"]
    await until(lambda: scheduler.kernels[kernel_id].attached_pid is not None, timeout=60)
    out = await run(jp_serverapp, kernel_id, "%gpuguard restore\nprint(value)")
    assert f"from {ids[THE_NOTEBOOK]}" in out
    assert out.strip().endswith("1")


# ---- the same matching from a terminal and from Python --------------------------------------
def save(store: Store, notebook: str, identity: NotebookIdentity) -> str:
    return store.save({"value": notebook}, **identity.save_arguments()).id


def test_the_cli_matches_a_path_from_the_current_directory_or_an_absolute_one(
    tmp_path, monkeypatch, capsys
):
    root = tmp_path / "x"
    store = Store(root / "workspace" / ".gpuguard")
    mine = save(store, "mine", NotebookIdentity.on_server(THE_NOTEBOOK, str(root), store.path))
    save(store, "other", NotebookIdentity.on_server(SAME_NAME_ELSEWHERE, str(root), store.path))
    save(store, "at root", NotebookIdentity.on_server(SAME_NAME_AT_THE_ROOT, str(root), store.path))
    (root / "workspace").mkdir(exist_ok=True)
    monkeypatch.chdir(root / "workspace")

    def listing(*args: str) -> list[str]:
        assert cli.main(["--store", str(store.path), "list", "--json", *args]) == 0
        return [info["id"] for info in json.loads(capsys.readouterr().out)]

    assert listing("--notebook", "nb.ipynb") == [mine]
    assert listing("--notebook", "./nb.ipynb") == [mine]
    assert listing("--notebook", str(root / THE_NOTEBOOK)) == [mine]
    assert len(listing()) == 3


def test_a_snapshot_without_the_new_fields_matches_by_the_path_it_recorded(tmp_path):
    store = Store(tmp_path / "volume" / ".gpuguard")
    old = store.save({"value": 1}, notebook="nb.ipynb").id
    wanted = NotebookIdentity.on_server("nb.ipynb", str(tmp_path / "volume"), store.path)
    assert [info.id for info in of_notebook(store.list(), wanted)] == [old]
    elsewhere = NotebookIdentity.on_server("sub/nb.ipynb", str(tmp_path / "volume"), store.path)
    assert of_notebook(store.list(), elsewhere) == []


def test_the_volume_is_the_parent_of_a_gpuguard_store_else_the_mount_it_lives_on(
    tmp_path, monkeypatch
):
    mount = tmp_path / "mnt"
    monkeypatch.setattr(os.path, "ismount", lambda path: os.fspath(path) in {str(mount), "/"})
    assert volume_root("/workspace/.gpuguard") == "/workspace"
    assert volume_root(mount / "deep" / ".gpuguard") == str(mount / "deep")
    assert volume_root(mount / "deep" / "snapshots") == str(mount)
    assert volume_root(tmp_path / "elsewhere" / "snapshots") == "/"
    assert relative_to_volume("/workspace/a/nb.ipynb", "/workspace") == "a/nb.ipynb"
    assert relative_to_volume("/workspaces/nb.ipynb", "/workspace") is None
    assert relative_to_volume("/nb.ipynb", "/") == "nb.ipynb"


def test_the_volume_path_finds_the_file_when_the_volume_is_mounted_elsewhere():
    recorded = SnapshotInfo.from_manifest(
        {
            "id": "20261126T191500.123456Z-0123abcd",
            "created": "2026-11-26T19:15:00+00:00",
            "notebook": "workspace/nb.ipynb",
            "notebook_path": "/workspace/nb.ipynb",
            "notebook_volume_path": "nb.ipynb",
            "server_root": "/",
        }
    )
    here = NotebookIdentity.on_server("nb.ipynb", "/mnt/volume", "/mnt/volume/.gpuguard")
    assert of_notebook([recorded], here) == [recorded]
    other = NotebookIdentity.on_server("workspace/nb.ipynb", "/mnt", "/mnt/volume/.gpuguard")
    assert of_notebook([recorded], other) == []


def test_the_kernel_side_names_the_file_until_the_server_does_and_then_as_it_says(
    tmp_path, monkeypatch
):
    from IPython.core.interactiveshell import InteractiveShell

    from jupyter_gpuguard.snapshot.kernel import KernelSnapshots

    volume = tmp_path / "volume"
    monkeypatch.setenv("JPY_SESSION_NAME", str(volume / "a" / "nb.ipynb"))
    shell = InteractiveShell.instance()
    monkeypatch.setitem(shell.user_ns, "value", 1)
    side = KernelSnapshots(shell, Store(volume / ".gpuguard"))
    info = side.snapshot(background=False).info
    assert (info.notebook_path, info.notebook_volume_path) == (
        str(volume / "a/nb.ipynb"),
        "a/nb.ipynb",
    )

    side._answer(json.dumps({"op": "attach", "notebook": "a/nb.ipynb"}))  # an older server
    assert side.identity().path == str(volume / "a" / "nb.ipynb")
    renamed = NotebookIdentity.on_server("a/new.ipynb", str(volume), side.store.path)
    side._answer(json.dumps({"op": "attach", **renamed.save_arguments()}))
    assert side.identity() == renamed
    info = side.snapshot(background=False).info
    assert NotebookIdentity.recorded(info) == renamed
    assert side.of_this_notebook(side.store.list()) == [info]

"""`jupyter gpuguard wheelhouse`: the installed version installs from it with no network, and
the server refreshes it by itself."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import time
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from jupyter_gpuguard.server.wheelhouse_refresh import on_volume
from jupyter_gpuguard.wheelhouse import TARGET_PYTHONS
from tests.helpers.server_config import local_server_config

THIS_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"
VERSION = metadata.version("jupyter_gpuguard")
OWN_WHEEL = f"jupyter_gpuguard-{VERSION}-py3-none-any.whl"


def offline(env: dict[str, str]) -> dict[str, str]:
    """pip as on a machine with no network: no index, no extra wheel directories."""
    env = {k: v for k, v in env.items() if k not in ("PIP_FIND_LINKS", "PIP_INDEX_URL")}
    return {**env, "PIP_NO_INDEX": "1", "PIP_CONFIG_FILE": os.devnull}


def wheelhouse(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "jupyter_gpuguard.cli", "wheelhouse", *args]
    return subprocess.run(
        command, capture_output=True, text=True, env=env or dict(os.environ), timeout=900
    )


def clean_env(home: Path) -> dict[str, str]:
    """Another machine: nothing of this checkout, this HOME or this Jupyter config."""
    drop = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "JUPYTER_CONFIG_DIR", "JUPYTER_PATH")
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("JUPYTER_")}
    return {**env, "HOME": str(home), "PYTHONNOUSERSITE": "1"}


def jupyter(venv: Path, env: dict[str, str], *args: str) -> str:
    """What ``jupyter ARGS`` in ``venv`` prints, without its colours."""
    done = subprocess.run(
        [str(venv / "bin" / "jupyter"), *args], capture_output=True, text=True, env=env
    )
    return re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)


@pytest.mark.slow  # about 60 s on 2 cores: most of it installs JupyterLab into machine B
def test_a_machine_without_network_installs_from_the_wheelhouse(tmp_path: Path):
    wheels = tmp_path / "wheels"
    done = wheelhouse("--dir", str(wheels), "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    files = {wheel["file"] for wheel in report["wheels"]}
    assert OWN_WHEEL in files
    assert report["covers"] == list(TARGET_PYTHONS), report["lacks"]
    # blake3 is compiled: one wheel per Python of RunPod's images
    blake3 = [name for name in files if name.startswith("blake3-")]
    for python in TARGET_PYTHONS:
        tag = f"-cp{python.replace('.', '')}-"
        assert any(tag in name for name in blake3), (python, blake3)
    assert {"dill", "nvidia_ml_py"} <= {name.split("-")[0] for name in files}
    assert not any(name.startswith(("jupyterlab-", "jupyter_server-")) for name in files)

    with zipfile.ZipFile(wheels / OWN_WHEEL) as wheel:
        names = set(wheel.namelist())
    data = f"jupyter_gpuguard-{VERSION}.data/data"
    assert f"{data}/share/jupyter/labextensions/jupyter-gpuguard/static/style.js" in names
    assert f"{data}/etc/jupyter/jupyter_server_config.d/jupyter_gpuguard.json" in names
    assert "jupyter_gpuguard/cli.py" in names
    assert not any("__pycache__" in name for name in names)  # compiled by B's pip

    # Machine B: a fresh environment with JupyterLab only, then no network at all.
    venv, home = tmp_path / "b-venv", tmp_path / "b-home"
    home.mkdir()
    env = clean_env(home)
    # This pip, run against B's Python (pip --python), saves B an ensurepip of its own.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, env=env)
    pip = [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"]
    subprocess.run([*pip, "-q", "--no-compile", "jupyterlab"], check=True, env=env)
    install = [*pip, "--no-index", "--find-links", str(wheels), "jupyter-gpuguard"]
    installed = subprocess.run(install, capture_output=True, text=True, env=offline(env))
    assert installed.returncode == 0, installed.stdout + installed.stderr

    servers = jupyter(venv, env, "server", "extension", "list")
    assert re.search(r"jupyter_gpuguard\s+enabled", servers), servers
    assert re.search(rf"jupyter_gpuguard\s+{re.escape(VERSION)}\s+OK", servers), servers
    labs = jupyter(venv, env, "labextension", "list")
    assert re.search(rf"jupyter-gpuguard v{re.escape(VERSION)}\s+enabled\s+OK", labs), labs

    again = wheelhouse("--dir", str(wheels))
    assert again.returncode == 0, again.stderr
    assert f"kept  {OWN_WHEEL}" in again.stdout
    assert "wrote" not in again.stdout


def test_without_network_it_says_which_pythons_it_lacks(tmp_path: Path):
    other = next(python for python in TARGET_PYTHONS if python != THIS_PYTHON)
    wheels = tmp_path / "wheels"
    done = wheelhouse(
        "--dir", str(wheels), "--python", other, "--python", THIS_PYTHON,
        env=offline(dict(os.environ)),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert f"wrote {OWN_WHEEL}" in done.stdout
    # The installed copies cover this Python; nothing covers the other one's blake3.
    assert re.search(rf"Lacks Python {re.escape(other)}: no wheel of .*blake3", done.stdout)
    assert f"Covers Python {THIS_PYTHON} " in done.stdout
    assert f"--find-links {wheels} jupyter-gpuguard=={VERSION}" in done.stdout


def test_an_unwritable_directory_is_a_clear_error(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    targets = [blocker / "wheels"]  # root can write anywhere else
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        targets.append(locked / "wheels")
    for target in targets:
        done = wheelhouse("--dir", str(target))
        assert done.returncode == 1
        assert f"cannot write the wheelhouse in {target}: " in done.stderr
        assert "Traceback" not in done.stderr


def test_only_a_store_on_a_cloud_volume_refreshes_by_itself(monkeypatch):
    monkeypatch.delenv("RUNPOD_POD_ID", raising=False)
    assert on_volume(Path("/workspace/.gpuguard"), "runpod")
    assert not on_volume(Path("/root/.local/share/jupyter/gpuguard"), "runpod")
    assert not on_volume(Path("/workspace/.gpuguard"), "local")  # a laptop keeps its install
    assert not on_volume(Path("/home/me/.gpuguard"), "aws")  # a spot VM's disk may go


@pytest.fixture
def no_network(monkeypatch) -> None:
    """Set before the server starts: its refresh runs pip as soon as the loop runs."""
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)


@pytest.fixture
def jp_server_config(no_network, store_dir: Path, request):
    return local_server_config(store_dir, wheelhouse_refresh=request.param)


def gpuguard_app(serverapp):
    return next(iter(serverapp.extension_manager.extension_apps["jupyter_gpuguard"]))


@pytest.mark.parametrize("jp_server_config", [True], indirect=True)
async def test_the_server_writes_a_missing_wheelhouse_in_the_background(
    jp_serverapp, store_dir, caplog
):
    app = gpuguard_app(jp_serverapp)
    deadline = time.monotonic() + 300
    while app.wheelhouse.thread is None or app.wheelhouse.thread.is_alive():
        assert time.monotonic() < deadline, "the wheelhouse was not written in time"
        await asyncio.sleep(0.2)  # the loop keeps serving meanwhile
    assert (store_dir / "wheels" / OWN_WHEEL).is_file()
    lines = [r.getMessage() for r in caplog.records if "wheelhouse" in r.getMessage()]
    assert len(lines) == 1, lines
    assert f"wrote jupyter-gpuguard {VERSION} and its dependencies" in lines[0]
    assert str(store_dir / "wheels") in lines[0]


@pytest.mark.parametrize("jp_server_config", [None], indirect=True)
async def test_a_laptop_server_leaves_the_wheelhouse_alone(jp_serverapp, store_dir):
    app = gpuguard_app(jp_serverapp)
    await app.detector.wait_detected(10)
    await asyncio.sleep(0.2)
    assert app.wheelhouse.thread is None
    assert not (store_dir / "wheels").exists()

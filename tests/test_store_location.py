"""``c.GpuGuard.snapshot_dir`` in a config file: the server, the CLI and a kernel loaded by
hand all look in that one store."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np

from jupyter_gpuguard.snapshot import Store
from tests.helpers.kernels import kernel

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _environment(config_dir, **extra) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "GPUGUARD_STORE"}
    env["JUPYTER_CONFIG_DIR"] = str(config_dir)
    env["PYTHONPATH"] = os.pathsep.join([REPO, *filter(None, [env.get("PYTHONPATH")])])
    env.update(extra)
    return env


def test_the_cli_and_a_kernel_use_the_configured_store(tmp_path):
    store_dir = tmp_path / "configured-store"
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps({"GpuGuard": {"snapshot_dir": str(store_dir)}})
    )
    saved = Store(store_dir).save({"weights": np.arange(10)}, notebook="nb.ipynb")
    env = _environment(config_dir)

    listed = subprocess.run(
        [sys.executable, "-m", "jupyter_gpuguard.cli", "--json", "list"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert [s["id"] for s in json.loads(listed.stdout)] == [saved.id]

    with kernel(env) as k:
        k.run("%load_ext jupyter_gpuguard")
        status = k.run("%gpuguard status")
        assert str(store_dir) in status
        assert saved.id in k.run("%gpuguard list")


def test_a_python_config_file_counts_and_the_environment_wins(tmp_path):
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.py").write_text(
        f"c.GpuGuard.snapshot_dir = {str(tmp_path / 'from-py')!r}\n"
    )
    code = "from jupyter_gpuguard.snapshot import default_store_path; print(default_store_path())"
    found = subprocess.run(
        [sys.executable, "-c", code], env=_environment(config_dir), capture_output=True, text=True
    )
    assert found.stdout.strip() == str(tmp_path / "from-py")
    chosen = subprocess.run(
        [sys.executable, "-c", code],
        env=_environment(config_dir, GPUGUARD_STORE=str(tmp_path / "from-env")),
        capture_output=True,
        text=True,
    )
    assert chosen.stdout.strip() == str(tmp_path / "from-env")

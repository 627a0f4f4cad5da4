"""The server's start loads only the extension's light modules: the store's (pickling,
hashing, restoring), RunPod's client and the pod launch code, and the wheelhouse, wait for
the first kernel or request that needs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.server_config import local_server_config

REPO = Path(__file__).resolve().parent.parent

# Never on the start path: each costs the server's start, or grows with what is installed.
HEAVY = (
    "jupyter_gpuguard.snapshot.store",
    "jupyter_gpuguard.snapshot.capture",
    "jupyter_gpuguard.snapshot.restore",
    "jupyter_gpuguard.snapshot.chunks",
    "jupyter_gpuguard.snapshot.kernel",
    "jupyter_gpuguard.pods.client",
    "jupyter_gpuguard.pods.launch",
    "jupyter_gpuguard.pods.move",
    "jupyter_gpuguard.wheelhouse",
    "dill",
    "blake3",
    "numpy",
    "torch",
    "pandas",
)

# Initialises a server as `jupyter server` does before its loop starts (extensions found,
# linked and loaded, their settings and handlers in place) and says what was imported.
INITIALISE = """
import json, sys
from jupyter_server.serverapp import ServerApp

app = ServerApp()
app.initialize(["--ServerApp.open_browser=False", "--ServerApp.port=0"])
extension = app.extension_manager.extensions["jupyter_gpuguard"]
answer = {
    "loaded": extension.enabled and "gpuguard_scheduler" in app.web_app.settings,
    "routes": sorted(
        rule.matcher.regex.pattern
        for rules in app.web_app.default_router.rules
        for rule in getattr(rules.target, "rules", [])
        if "gpuguard" in rule.matcher.regex.pattern
    )[:1],
    "heavy": sorted(name for name in sys.argv[1:] if name in sys.modules),
}
print(json.dumps(answer))
"""


def start_imports(tmp_path: Path, code: str) -> dict:
    config = tmp_path / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps(local_server_config(tmp_path / "store"))
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "JUPYTER_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-c", code, *HEAVY],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_server_start_imports_no_heavy_module(tmp_path):
    answer = start_imports(tmp_path, INITIALISE)
    assert answer["loaded"], "the extension did not load: nothing was measured"
    assert answer["routes"], "no gpuguard route was registered"
    assert answer["heavy"] == []


def test_importing_the_server_extension_imports_no_heavy_module(tmp_path):
    code = (
        "import json, sys, jupyter_gpuguard.server.extension; "
        'print(json.dumps({"heavy": sorted(m for m in sys.argv[1:] if m in sys.modules)}))'
    )
    assert start_imports(tmp_path, code)["heavy"] == []

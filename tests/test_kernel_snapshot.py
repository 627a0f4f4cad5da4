"""Snapshots of a real ipykernel: background save, SIGKILL, restore into a fresh kernel."""

from __future__ import annotations

import json
import socket
import time

import pytest

from jupyter_gpuguard.snapshot import Store
from tests.helpers.kernels import kernel

STATE = r"""
import numpy as np, pandas as pd, socket as socket_module
ints = np.arange(1_000_000, dtype=np.int32)
floats = np.linspace(0, 1, 3_000_000).reshape(1000, 3000)
halves = np.ones(10, dtype=np.float16) / 3
frame = pd.DataFrame({"a": np.arange(5), "b": list("vwxyz"), "c": pd.Categorical(list("ppqqp"))})
nested = {"name": "run-7", "metrics": [1.5, 2.5], "flags": {"done": False}}
alias = ints
pair = [floats, floats]
square = lambda x: x * x
def cube(x):
    return x ** 3
class Model:
    def __init__(self, weights):
        self.weights = weights
    def total(self):
        return float(self.weights.sum())
model = Model(halves)
counter = (i for i in range(10))
connection = socket_module.socket()
"""

CHECKS = r"""
import numpy as np, pandas as pd
results = {
  "ints": bool(np.array_equal(ints, np.arange(1_000_000, dtype=np.int32)))
          and ints.dtype == np.int32,
  "floats": bool(np.array_equal(floats, np.linspace(0, 1, 3_000_000).reshape(1000, 3000))),
  "halves": str(halves.dtype) == "float16"
            and bool(np.all(halves == np.ones(10, dtype=np.float16) / 3)),
  "frame": frame.equals(
      pd.DataFrame({"a": np.arange(5), "b": list("vwxyz"), "c": pd.Categorical(list("ppqqp"))})
  ),
  "frame_dtype": str(frame["c"].dtype) == "category",
  "nested": nested == {"name": "run-7", "metrics": [1.5, 2.5], "flags": {"done": False}},
  "alias": alias is ints,
  "pair": pair[0] is floats and pair[1] is floats,
  "square": square(7) == 49,
  "cube": cube(3) == 27,
  "model": type(model) is Model and abs(model.total() - float(halves.sum())) < 1e-6,
  "np": np.__name__ == "numpy",
  "counter_gone": "counter" not in globals(),
  "connection_gone": "connection" not in globals(),
}
"""


def test_snapshot_survives_sigkill_and_restores_into_a_new_kernel(store_dir):
    env = {"GPUGUARD_STORE": str(store_dir), "JPY_SESSION_NAME": "analysis/train.ipynb"}
    with kernel(env) as first:
        first.run(STATE)
        first.run("%load_ext jupyter_gpuguard")
        output = first.run("%gpuguard snapshot --wait")
        assert "skipped counter (generator)" in output
        assert "skipped connection (socket.socket)" in output
        assert "kernel paused" in output
        first.kill()

    infos = Store(store_dir).list()
    assert len(infos) == 1
    info = infos[0]
    assert info.notebook == "analysis/train.ipynb"
    assert {v.name for v in info.variables} == {
        "ints", "floats", "halves", "frame", "nested", "alias", "pair", "square", "cube",
        "Model", "model",
    }  # fmt: skip
    assert {s.name for s in info.skipped} == {"counter", "connection"}
    assert info.modules == {"np": "numpy", "pd": "pandas", "socket_module": "socket"}

    with kernel(env) as second:
        second.run("%load_ext jupyter_gpuguard")
        report = second.run("%gpuguard restore")
        assert f"Restored 11 variables from {info.id}" in report
        assert "not in the snapshot: counter" in report
        assert "FAILED" not in report
        second.run(CHECKS)
        results = second.value("results")
    assert results == dict.fromkeys(results, True), results


def test_snapshot_from_outside_the_main_thread_while_a_cell_runs(store_dir, tmp_path):
    control = tmp_path / "control.sock"
    env = {"GPUGUARD_STORE": str(store_dir), "GPUGUARD_CONTROL_SOCKET": str(control)}
    with kernel(env) as busy:
        busy.run("%load_ext jupyter_gpuguard")
        busy.run("import numpy as np; weights = np.full(1000, 41.0); step = 41")
        # A long training cell: it changes the state after the snapshot request is answered.
        busy.client.execute(
            "import time\nfor _ in range(80):\n    time.sleep(0.1)\nweights[:] = 42.0; step = 42"
        )
        time.sleep(1.0)
        requested = time.monotonic()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.settimeout(30)
            client.connect(str(control))
            client.sendall(b'{"op": "snapshot", "notebook": "long.ipynb"}\n')
            reply = json.loads(client.makefile("r").readline())
        answered = time.monotonic() - requested
        assert reply["error"] is None, reply
        assert reply["in_flight"] is False
        assert answered < 6, "the snapshot waited for the cell to finish"
        assert reply["pause_seconds"] < 1.0
        busy.run("assert step == 42")  # the cell went on and finished

    assert reply["snapshot"]["notebook"] == "long.ipynb"
    loaded = Store(store_dir).load(reply["snapshot"]["id"])
    assert loaded.variables["step"] == 41
    assert float(loaded.variables["weights"].sum()) == 41.0 * 1000
    assert control.stat().st_mode & 0o077 == 0


def test_cpu_torch_tensors_round_trip(store_dir):
    pytest.importorskip("torch")
    env = {"GPUGUARD_STORE": str(store_dir)}
    with kernel(env) as first:
        first.run("import torch; t = torch.arange(12, dtype=torch.float32).reshape(3, 4)")
        first.run("layer = torch.nn.Linear(4, 2); torch.manual_seed(0)")
        first.run("expected = layer(t).detach().tolist()")
        first.run("%load_ext jupyter_gpuguard")
        first.run("%gpuguard snapshot --wait")
    with kernel(env) as second:
        second.run("%load_ext jupyter_gpuguard")
        second.run("%gpuguard restore")
        assert second.value("t.tolist()") == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
        assert second.value("str(t.dtype)") == "torch.float32"
        assert second.value("layer(t).detach().tolist() == expected") is True

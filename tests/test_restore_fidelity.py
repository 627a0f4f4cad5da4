"""A plain restore brings back exactly what the kernel held: each case is built in a real
kernel, snapshotted, SIGKILLed, and compared in a new kernel."""

from __future__ import annotations

import importlib.util
import json

import pytest

from jupyter_gpuguard.snapshot import Store
from tests.helpers.kernels import kernel

HAS_TORCH = importlib.util.find_spec("torch") is not None


def snapshot_kill_restore(store_dir, state: str, checks: str) -> tuple[str, dict, dict]:
    """Run ``state``, snapshot, SIGKILL; restore in a new kernel and evaluate ``checks``
    (code that sets ``results``, a dict of name -> bool)."""
    env = {"GPUGUARD_STORE": str(store_dir), "JPY_SESSION_NAME": "fidelity.ipynb"}
    with kernel(env) as first:
        first.run(state)
        first.run("%load_ext jupyter_gpuguard")
        first.run("%gpuguard snapshot --wait")
        first.kill()
    info = Store(store_dir).list()[0]
    with kernel(env) as second:
        second.run("%load_ext jupyter_gpuguard")
        report = second.run("%gpuguard restore")
        second.run(checks)
        results = second.value("results")
    return report, results, info.to_json()


def assert_all(results: dict) -> None:
    assert results and results == dict.fromkeys(results, True), results


@pytest.mark.skipif(not HAS_TORCH, reason="torch is not installed")
def test_a_model_and_its_optimizer_and_scheduler_stay_linked(store_dir):
    state = r"""
import torch
torch.manual_seed(0)
class Scale(torch.nn.Module):  # a notebook module, as every tutorial writes one
    def __init__(self, factor):
        super().__init__()
        self.factor = torch.nn.Parameter(torch.tensor(factor))
    def forward(self, x):
        return x * self.factor
model = torch.nn.Sequential(
    torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 1), Scale(2.0)
)
optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
for _ in range(3):
    optimizer.zero_grad()
    model(torch.ones(2, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
w = model[0].weight
"""
    checks = r"""
import torch
before = [p.detach().clone() for p in model.parameters()]
optimizer.zero_grad()
model(torch.ones(2, 4)).sum().backward()
optimizer.step()
results = {
    "params": all(p is q for p, q in zip(optimizer.param_groups[0]["params"], model.parameters())),
    "state_keys": all(p in optimizer.state for p in model.parameters()),
    "alias": w is model[0].weight,
    "scheduler": scheduler.optimizer is optimizer,
    "step_moves_the_model": all(
        not torch.equal(old, new.detach()) for old, new in zip(before, model.parameters())
    ),
    "lr": abs(optimizer.param_groups[0]["lr"] - 0.025) < 1e-12,
    "notebook_module": type(model[3]) is Scale,
}
"""
    report, results, _info = snapshot_kill_restore(store_dir, state, checks)
    assert "FAILED" not in report
    assert_all(results)


def test_methods_partials_and_iterators_keep_their_objects(store_dir):
    state = r"""
import functools
class Counter:
    def __init__(self):
        self.count = 0
    def bump(self):
        self.count += 1
        return self.count
counter = Counter()
bump = counter.bump
rows = []
add = rows.append
data = [3, 1, 2]
largest = functools.partial(max, data)
walker = iter(data)
next(walker)
"""
    checks = r"""
bump(); add("x"); data.append(10)
results = {
    "bound_method": bump.__self__ is counter and counter.count == 1,
    "builtin_method": rows == ["x"],
    "partial": largest() == 10,
    "iterator_position": list(walker) == [1, 2, 10],
}
"""
    report, results, _info = snapshot_kill_restore(store_dir, state, checks)
    assert "FAILED" not in report
    assert_all(results)


def test_notebook_classes_restore_without_replaying_a_cell(store_dir):
    state = r"""
import dataclasses, enum, typing
import numpy as np, pandas as pd
class Color(enum.Enum):
    RED = 1
    GREEN = 2
    def label(self):
        return self.name.lower()
class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2
class Pair(typing.NamedTuple):
    left: int
    right: int = 0
    def total(self):
        return self.left + self.right
class Row(typing.TypedDict):
    name: str
@dataclasses.dataclass
class Run:
    name: str
    scores: list
class Registry(type):
    made = []
    def __call__(cls, *args):
        made = super().__call__(*args)
        Registry.made.append(made)
        return made
class Tracked(metaclass=Registry):
    def __init__(self, value):
        self.value = value
class Point:
    def __init__(self, x):
        self.x = x
class Shape:
    sides = 0
class Square(Shape):
    sides = 4
square = Square()
favourite = Color.GREEN
palette = {"warm": [Color.RED], "level": Level.HIGH}
pairs = [Pair(1, 2), Pair(3, 4)]
row = Row(name="a")
runs = {"first": Run("a", [1.0])}
tracked = Tracked(5)
points = np.array([Point(1), Point(2)], dtype=object)
frame = pd.DataFrame({"point": [Point(3), Point(4)], "value": [1, 2]})
"""
    checks = r"""
results = {
    "enum_member": favourite is Color.GREEN and Color(1) is palette["warm"][0],
    "enum_method": favourite.label() == "green",
    "int_enum": palette["level"] is Level.HIGH and Level.HIGH > Level.LOW,
    "namedtuple": isinstance(pairs[0], Pair) and pairs[1].right == 4,
    "namedtuple_method": pairs[1].total() == 7 and Pair(5).right == 0,
    "typeddict": row == {"name": "a"} and Row.__annotations__ == {"name": str},
    "dataclass": isinstance(runs["first"], Run) and runs["first"] == Run("a", [1.0]),
    "metaclass": type(tracked) is Tracked and type(Tracked) is Registry,
    "object_array": all(isinstance(p, Point) for p in points) and points[1].x == 2,
    "object_column": all(isinstance(p, Point) for p in frame["point"]),
    "notebook_base_class": issubclass(Square, Shape) and isinstance(square, Shape),
}
"""
    report, results, info = snapshot_kill_restore(store_dir, state, checks)
    assert "FAILED" not in report and not info["skipped"], report
    assert_all(results)


def test_values_plain_pickle_rejects_fall_back_to_dill(store_dir, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("first\nsecond\nthird\n")
    log = tmp_path / "log.txt"
    state = rf"""
import typing, json
class Leaf:
    pass
Tree = typing.Union["Node", typing.Set[Leaf]]
reader = open({str(notes)!r})
reader.readline()
writer = open({str(log)!r}, "w")
writer.write("kept\n")
writer.flush()
toolbox = {{"codec": json, "depth": 2}}
"""
    checks = r"""
writer.write("more\n")
writer.flush()
results = {
    "reader_position": reader.readline() == "second\n",
    "writer_kept_the_file": open(writer.name).read() == "kept\nmore\n",
    "alias": typing.get_args(Tree)[1] == typing.Set[Leaf],
    "module_in_dict": toolbox["codec"] is json and toolbox["depth"] == 2,
}
"""
    report, results, info = snapshot_kill_restore(
        store_dir, state, "import typing, json\n" + checks
    )
    assert "FAILED" not in report and not info["skipped"], report
    assert_all(results)


def test_a_relation_that_cannot_be_kept_is_reported(store_dir, tmp_path):
    """Each variable pickles alone, but not both together: the note says so."""
    (tmp_path / "flaky.py").write_text(
        "class Flaky:\n"
        "    calls = 0\n"
        "    def __reduce__(self):\n"
        "        Flaky.calls += 1\n"
        "        if Flaky.calls > 2:\n"
        "            raise TypeError('pickled too often')\n"
        "        return (Flaky, ())\n"
    )
    state = f"""
import sys
sys.path.insert(0, {str(tmp_path)!r})
from flaky import Flaky
first = [Flaky()]
second = [first[0]]
"""
    with kernel({"GPUGUARD_STORE": str(store_dir)}) as k:
        k.run(state)
        k.run("%load_ext jupyter_gpuguard")
        k.run("%gpuguard snapshot --wait")
    manifest = json.loads(next((store_dir / "snapshots").glob("*.json")).read_text())
    assert {"first", "second"} <= {v["name"] for v in manifest["variables"]}
    assert any(
        "first, second share objects but could not be pickled together" in note
        for note in manifest["notes"]
    ), manifest["notes"]

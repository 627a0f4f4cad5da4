"""Rebuilding what a snapshot could not save, in real kernels killed with SIGKILL."""

from __future__ import annotations

import pytest

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.history import CellRecord, analyse
from jupyter_gpuguard.snapshot.rebuild import make_plan
from tests.helpers.kernels import kernel

CELLS = [
    "import sqlite3, socket, threading",  # 1
    "base = 10",  # 2
    "def make_counter(start):\n    return (start + i for i in range(100))",  # 3
    "offset = base * 2",  # 4
    "counter = make_counter(offset)\nfirst = next(counter)\nsecond = next(counter)",  # 5
    'db = sqlite3.connect(":memory:")\ndb.execute("create table runs (step int, loss real)")',
    'db.executemany("insert into runs values (?, ?)", [(1, 0.5), (2, 0.25)])',  # 7
    "sock = socket.socket()",  # 8
    "class Worker:\n    def __init__(self, name):\n        self.name = name\n"
    "        self.lock = threading.Lock()\nworker = Worker('w1')",  # 9
    "broken = 1 / 0",  # 10: raised, never replayed
    "pipe_a = (i for i in range(5))",  # 11
    "pipe_b = (a * 2 for a in pipe_a)",  # 12
    "pipe_c = (b + base for b in pipe_b)",  # 13
    "first = 'changed later'",  # 14: the snapshot's value, which a replay must not undo
]
REPORT = "__import__('jupyter_gpuguard.snapshot.kernel', fromlist=['_']).current().last_restore"


def run_history(k, cells):
    for code in cells:
        try:
            k.run(code)
        except AssertionError as err:
            assert "ZeroDivisionError" in str(err), err


def test_skipped_variables_come_back_by_replaying_exactly_the_planned_cells(store_dir):
    env = {"GPUGUARD_STORE": str(store_dir)}
    with kernel(env) as first:
        first.run("%load_ext jupyter_gpuguard")  # cell 1 of the history: the extension
        run_history(first, CELLS)
        first.run("%gpuguard snapshot --wait")
        first.kill()
    info = Store(path=store_dir).list()[0]
    skipped = {s.name for s in info.skipped}
    assert skipped == {"counter", "db", "sock", "pipe_a", "pipe_b", "pipe_c"}
    # dill saves a lock as a new, unlocked one: the worker is restored, not rebuilt
    assert "worker" in {v.name for v in info.variables}

    with kernel(env) as second:
        second.run("%load_ext jupyter_gpuguard")
        shown = second.run("%gpuguard restore")
        plan = second.value(f"{REPORT}['plan']")
        planned = [c["execution_count"] for c in plan["cells"]]
        # history counts are one more than CELLS' positions: cell 1 loaded the extension
        assert planned == [6, 7, 8, 9, 12, 13, 14]
        assert 11 not in planned  # raised the first time: never replayed
        assert plan["summary"] == (
            "Rebuild counter, db, sock, pipe_a, pipe_b, pipe_c by re-running 7 cells "
            "(cells 6, 7, 8, 9, 12, 13, 14)?"
        )
        assert plan["summary"] in shown
        assert "db.executemany" in shown  # the code is shown before anything runs
        assert second.value("'counter' in globals()") is False  # nothing ran yet

        rebuilt = second.run("%gpuguard rebuild")
        report = second.value(REPORT)
        assert [c["execution_count"] for c in report["replayed"]] == planned
        assert all(c["ok"] for c in report["replayed"])
        assert sorted(report["rebuilt"]) == sorted(skipped)
        assert report["failed"] == []
        assert "Rebuilt by re-running cells" in rebuilt

        assert second.value("next(counter)") == 22  # continues where the killed kernel was
        assert second.value("db.execute('select count(*) from runs').fetchone()[0]") == 2
        assert second.value("sock.fileno() >= 0") is True
        assert second.value("worker.name") == "w1"
        assert second.value("isinstance(worker, Worker) and worker.lock.acquire()") is True
        assert second.value("list(pipe_c)") == [10, 12, 14, 16, 18]
        # restored variables keep the snapshot's values, not the replayed ones
        assert second.value("first") == "changed later"
        assert second.value("second") == 21
        assert second.value("'broken' in globals()") is False


def test_a_cell_failing_on_replay_is_reported_and_nothing_else_is_lost(store_dir, tmp_path):
    data = tmp_path / "data.txt"
    data.write_text("rows\n")
    env = {"GPUGUARD_STORE": str(store_dir)}
    with kernel(env) as first:
        first.run("%load_ext jupyter_gpuguard")
        first.run(f"handle = open({str(data)!r})")
        first.run("numbers = (n for n in range(3))")
        first.run("kept = [1, 2, 3]")
        first.run("%gpuguard snapshot --wait")
        first.kill()
    data.unlink()  # the file the cell opened is gone on the new machine
    with kernel(env) as second:
        second.run("%load_ext jupyter_gpuguard")
        output = second.run("%gpuguard restore --rebuild")
        report = second.value(REPORT)
        assert report["rebuilt"] == ["numbers"]
        [failure] = report["failed"]
        assert failure["name"] == "handle"
        assert "FileNotFoundError" in failure["error"]
        assert "cell 2 failed" in failure["error"]
        assert [c["ok"] for c in report["replayed"]] == [False, True]
        assert second.value("kept") == [1, 2, 3]
        assert second.value("list(numbers)") == [0, 1, 2]
        assert "FAILED handle" in output


def test_a_replay_never_leaves_a_value_the_plan_did_not_rebuild(store_dir, tmp_path):
    """``f``'s last assignment raised, so the plan cannot rebuild it; the cell replayed for
    ``lines`` also binds ``f``, to a closed handle on another file: that must not stay."""
    first_file, second_file = tmp_path / "a.txt", tmp_path / "b.txt"
    first_file.write_text("one\ntwo\n")
    second_file.write_text("other\n")
    env = {"GPUGUARD_STORE": str(store_dir)}
    with kernel(env) as first:
        first.run("%load_ext jupyter_gpuguard")
        first.run("import sqlite3")
        first.run(
            f"with open({str(first_file)!r}) as f:\n"
            "    lines = (line for line in f.read().splitlines())\n"
            "scratch = 'made on the way'"
        )
        try:
            first.run("f = sqlite3.connect(':memory:')\nraise RuntimeError('half done')")
        except AssertionError as err:
            assert "half done" in str(err)
        first.run("del scratch")
        first.run("%gpuguard snapshot --wait")
        first.kill()
    with kernel(env) as second:
        second.run("%load_ext jupyter_gpuguard")
        output = second.run("%gpuguard restore --rebuild")
        report = second.value(REPORT)
        assert report["rebuilt"] == ["lines"]
        assert second.value("list(lines)") == ["one", "two"]
        assert second.value("'f' in globals()") is False
        assert second.value("'scratch' in globals()") is False
        failed = {item["name"]: item["error"] for item in report["failed"]}
        assert failed["f"].startswith("cannot be rebuilt: its last assignment (cell")
        removed = {item["name"]: item["reason"] for item in report["removed"]}
        assert set(removed) == {"f", "scratch"}
        assert "the plan cannot rebuild it" in removed["f"]
        assert "not in the snapshot" in removed["scratch"]
        assert "FAILED f" in output and "note: f was removed" in output


def test_restored_and_rebuilt_objects_share_the_restored_class(store_dir):
    """The cell replayed for ``stream`` also defines ``Acc``: ``acc``, restored, and what
    the replay made must all be instances of the one ``Acc`` left in the namespace."""
    env = {"GPUGUARD_STORE": str(store_dir)}
    with kernel(env) as first:
        first.run("%load_ext jupyter_gpuguard")
        first.run(
            "class Acc:\n    def __init__(self):\n        self.total = 0\n"
            "acc = Acc()\nacc.total = 5\nfirst_made = Acc()\n"
            "stream = (Acc() for _ in range(3))\nhead = (first_made, stream)"
        )
        first.run("%gpuguard snapshot --wait")
        first.kill()
    with kernel(env) as second:
        second.run("%load_ext jupyter_gpuguard")
        second.run("%gpuguard restore --rebuild")
        assert second.value("sorted(" + REPORT + "['rebuilt'])") == ["head", "stream"]
        assert second.value("isinstance(acc, Acc) and acc.total == 5") is True
        assert second.value("isinstance(next(stream), Acc)") is True
        assert second.value("head[1] is stream and isinstance(head[0], Acc)") is True


def test_variables_the_history_cannot_explain_are_said_so():
    sources = {1: "x = 1 / 0", 2: "y = (i for i in range(3))", 3: "y = make()"}
    records = []
    for count, source in sources.items():
        reads, writes, touches, kind = analyse(source)
        records.append(CellRecord(count, source, reads, writes, touches, [], kind, count != 2))
    plan = make_plan(records, available=[], targets=["x", "y", "z"], snapshot_count=4)
    assert plan.cells == []
    assert plan.unrebuildable == {
        "x": "the cell that assigned it (cell 1) raised an error",
        "y": "its last assignment (cell 3) raised an error, so replaying an earlier one "
        "would not give the same value",
        "z": "no cell of the recorded history assigned it",
    }
    assert plan.summary() == "Nothing can be rebuilt by re-running cells."


@pytest.mark.parametrize(
    ("source", "flag"),
    [
        ("!pip install torch", "runs shell commands"),
        ("import random\nsample = random.random()", "uses randomness without a seed"),
        ("import requests\npage = requests.get(url)", "talks to the network"),
        ("frame.to_csv('out.csv')", "writes or deletes files"),
        ("with open('log.txt', 'w') as f:\n    f.write('x')", "writes or deletes files"),
        ("import time\nstarted = time.time()", "depends on the time"),
        ("import os\nos.makedirs('out')", "fails if its files already exist"),
        ("from pathlib import Path\nPath('out').mkdir()", "fails if its files already exist"),
        ("with open('run.lock', 'x') as f:\n    pass", "fails if its files already exist"),
    ],
)
def test_cells_with_outside_effects_are_flagged(source, flag):
    reads, writes, touches, kind = analyse(source)
    target = writes[-1] if writes else "frame"
    record = CellRecord(1, source, reads, [*writes, target], touches, [], kind, False)
    plan = make_plan([record], available=["frame", "url", "f"], targets=[target])
    assert any(found.startswith(flag) for found in plan.cells[0].flags), plan.cells[0].flags


def test_a_directory_made_with_exist_ok_is_not_flagged_as_failing_twice():
    source = "import os\nos.makedirs('out', exist_ok=True)\nready = True"
    reads, writes, touches, kind = analyse(source)
    record = CellRecord(1, source, reads, writes, touches, [], kind, False)
    plan = make_plan([record], available=[], targets=["ready"])
    assert not any("already exist" in flag for flag in plan.cells[0].flags)


def test_a_seeded_random_cell_is_not_flagged():
    source = "import numpy as np\nnp.random.seed(0)\nnoise = np.random.rand(3)"
    reads, writes, touches, kind = analyse(source)
    record = CellRecord(1, source, reads, writes, touches, [], kind, False)
    plan = make_plan([record], available=[], targets=["noise"])
    assert plan.cells[0].flags == []


def test_magics_and_shell_escapes_are_recorded_as_such(store_dir):
    env = {"GPUGUARD_STORE": str(store_dir)}
    with kernel(env) as k:
        k.run("%load_ext jupyter_gpuguard")
        k.run("listing = !echo hello")
        k.run("%time total = 1 + 1")
        k.run("numbers = (n for n in range(total))")
        k.run("%gpuguard snapshot --wait")
    manifest = Store(path=store_dir)._manifest(Store(path=store_dir).list()[0].id)
    cells = {c["execution_count"]: c for c in manifest["cells"]}
    assert cells[2]["kind"] == "shell"
    assert cells[2]["source"] == "listing = !echo hello"  # what was typed, not the translation
    assert "listing" in cells[2]["writes"]
    assert cells[3]["kind"] == "magic"
    assert "total" in cells[3]["writes"]  # seen by the identity diff
    assert cells[4]["reads"] == ["total"]
    assert all(cells[n]["observed"] and cells[n]["error"] is False for n in (2, 3, 4))
    assert all(0 <= cells[n]["seconds"] < 30 for n in (2, 3, 4))
    plan = Store(path=store_dir).rebuild_plan(manifest["id"])
    assert [c.execution_count for c in plan.cells] == [4]  # total is restored: no magic re-run


def test_a_long_cell_is_flagged_with_how_long_it_ran():
    source = "model = train(data)"
    reads, writes, touches, kind = analyse(source)
    record = CellRecord(3, source, reads, writes, touches, [], kind, False, True, seconds=5400.0)
    plan = make_plan([record], available=["train", "data"], targets=["model"])
    assert plan.cells[0].flags == ["took 90 min when it ran"]


def test_a_cell_drawing_from_a_shuffling_loader_is_flagged():
    sources = {
        1: "loader = make_loader(data, batch_size=4, shuffle=True)",
        2: "batches = iter(loader)\nfirst = next(batches)",
    }
    records = []
    for count, source in sources.items():
        reads, writes, touches, kind = analyse(source)
        records.append(CellRecord(count, source, reads, writes, touches, [], kind, False))
    plan = make_plan(records, available=["loader", "first"], targets=["batches"])
    [cell] = plan.cells
    assert cell.execution_count == 2
    assert any(
        flag.startswith("reads loader, made with randomness without a seed (cell 1)")
        for flag in cell.flags
    ), cell.flags

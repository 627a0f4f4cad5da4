"""The snapshot store: round trips, dedupe, damaged files, a full disk, permissions, prune.

Crashes in the middle of a save are in test_store_crash.py.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from blake3 import blake3

from jupyter_gpuguard.snapshot import (
    FailedVariable,
    SkippedVariable,
    SnapshotError,
    Store,
    StoreSecurityError,
)
from jupyter_gpuguard.snapshot.chunks import CHUNK_SIZE
from jupyter_gpuguard.snapshot.model import DamagedChunk
from tests.helpers.store_writer import big_namespace, paused_namespace

REPO = Path(__file__).resolve().parent.parent
PYTHON_PATH = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]

NOTEBOOK_CODE = """
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def norm2(self):
        return self.x ** 2 + self.y ** 2


def scale(p, k):
    return Point(p.x * k, p.y * k)


square = lambda v: v * v
"""


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


def manifest_of(store: Store, snapshot_id: str) -> dict[str, Any]:
    return json.loads((store.snapshots_dir / f"{snapshot_id}.json").read_bytes())


def group_of(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    (group,) = [g for g in manifest["groups"] if name in g["names"]]
    return group


def chunks_of(manifest: dict[str, Any]) -> dict[str, int]:
    """chunk id -> size, for every chunk the manifest references."""
    found = {}
    for group in manifest["groups"]:
        for chunk_id, size in group["stream"]:
            found[chunk_id] = size
        for buffer in group["buffers"]:
            for chunk_id, size in buffer:
                found[chunk_id] = size
    return found


def chunk_files(store: Store) -> dict[str, int]:
    """chunk id -> size, for every chunk file on disk (temporary files left out)."""
    found = {}
    for path in store.chunks_dir.glob("*/*"):
        if not path.name.startswith(".tmp-"):
            found[path.name] = path.stat().st_size
    return found


def temporary_files(store: Store) -> list[Path]:
    return sorted(store.path.rglob(".tmp-*"))


def run_writer(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers.store_writer", *args],
        cwd=REPO,
        stdin=stdin,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *PYTHON_PATH])},
    )


def assert_arrays_identical(got: Any, want: np.ndarray) -> None:
    assert type(got) is np.ndarray
    assert got.dtype == want.dtype
    assert got.shape == want.shape
    if want.dtype.hasobject:
        assert got.tolist() == want.tolist()
    else:
        assert np.array_equal(got, want, equal_nan=want.dtype.kind in "fc")
        assert got.tobytes() == want.tobytes()


# ---- round trips ---------------------------------------------------------------------------


def test_plain_values_round_trip(store: Store) -> None:
    namespace = {
        "n": 42,
        "big": 2**100 + 1,
        "neg": -7,
        "x": 0.1,
        "flag": True,
        "nothing": None,
        "text": "héllo ✓",
        "raw": b"\x00\xffbytes",
        "pair": (1, "two"),
        "letters": frozenset("abc"),
        "nested": {"a": [1, 2, {"b": (3, 4.5), "c": {1, 2}}], "d": {"e": {"f": None}}},
        "rows": [{"i": i, "name": f"row {i}"} for i in range(1000)],
    }
    info = store.save(namespace, notebook="plain.ipynb", kernel_id="k-1")
    assert [v.name for v in info.variables] == list(namespace)
    assert info.skipped == []
    assert info.notebook == "plain.ipynb" and info.kernel_id == "k-1"
    assert store.ids() == [info.id]
    result = store.load(info.id)
    assert result.failed == [] and result.skipped == []
    assert result.variables == namespace
    for name, value in namespace.items():
        assert type(result.variables[name]) is type(value)
    assert result.snapshot is not None and result.snapshot.id == info.id


def test_numpy_arrays_round_trip(store: Store) -> None:
    rng = np.random.default_rng(0)
    arrays = {
        "i8": np.arange(-128, 128, dtype=np.int8),
        "u16": np.arange(1000, dtype=np.uint16).reshape(10, 100),
        "i32": rng.integers(-(2**31), 2**31 - 1, size=(7, 11), dtype=np.int32),
        "i64": np.arange(1_200_000, dtype=np.int64) * -7,  # 9.6 MB: three chunks
        "f16": np.linspace(0, 1, 50, dtype=np.float16),
        "f32": rng.standard_normal((3, 4, 5)).astype(np.float32),
        "f64": rng.standard_normal(1000),
        "special": np.array([np.nan, np.inf, -np.inf, -0.0, 5e-324]),
        "c128": rng.standard_normal(20) + 1j * rng.standard_normal(20),
        "mask": rng.random(100) > 0.5,
        "when": np.array(["2020-01-01", "2024-02-29T12:00:01.5"], dtype="datetime64[ns]"),
        "fortran": np.asfortranarray(rng.standard_normal((30, 40))),
        "strided": np.arange(100.0)[::3],
        "empty": np.empty((0, 3), dtype=np.float32),
        "zero_d": np.array(3.5),
        "records": np.array(
            [(1, 2.0, b"ab"), (-1, 0.5, b"cd")], dtype=[("a", "<i4"), ("b", "<f8"), ("c", "S2")]
        ),
        "words": np.array(["α", "beta", ""]),
        "objects": np.array([{"k": 1}, "s", None], dtype=object),
    }
    info = store.save(arrays)
    assert sorted(v.name for v in info.variables) == sorted(arrays)
    assert info.bytes_total >= arrays["i64"].nbytes
    result = store.load()
    assert result.failed == [] and result.skipped == []
    assert sorted(result.variables) == sorted(arrays)
    for name, array in arrays.items():
        assert_arrays_identical(result.variables[name], array)
    assert result.variables["fortran"].flags.f_contiguous
    i64_group = group_of(manifest_of(store, info.id), "i64")
    assert [size for _chunk, size in i64_group["buffers"][0]] == [
        CHUNK_SIZE,
        CHUNK_SIZE,
        arrays["i64"].nbytes - 2 * CHUNK_SIZE,
    ]


def test_dataframe_round_trip(store: Store) -> None:
    frame = pd.DataFrame(
        {
            "i": np.arange(5, dtype=np.int64),
            "f": [0.5, 1.5, np.nan, -2.0, 1e300],
            "f32": np.array([1, 2, 3, 4, 5], dtype=np.float32),
            "s": ["a", "b", None, "d", "é"],
            "b": [True, False, True, True, False],
            "cat": pd.Categorical(["x", "y", "x", "z", "y"]),
            "ts": pd.date_range("2024-01-01", periods=5, freq="h", tz="UTC"),
            "nullable": pd.array([1, None, 3, 4, None], dtype="Int64"),
            "delta": pd.to_timedelta([1, 2, 3, 4, 5], unit="s"),
        },
        index=pd.Index(list("vwxyz"), name="key"),
    )
    series = pd.Series([1.5, 2.5], index=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]))
    store.save({"frame": frame, "series": series})
    result = store.load()
    assert result.failed == []
    pd.testing.assert_frame_equal(result.variables["frame"], frame, check_exact=True)
    pd.testing.assert_series_equal(result.variables["series"], series, check_exact=True)
    assert list(result.variables["frame"].dtypes) == list(frame.dtypes)


def test_torch_cpu_tensors_round_trip(store: Store) -> None:
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(64, 32, generator=generator)
    tensors = {
        "f32": base,
        "i64": torch.arange(-5, 1_000_000, dtype=torch.int64),  # 8 MB: two chunks
        "bf16": torch.randn(10, generator=generator).to(torch.bfloat16),
        "flags": torch.tensor([True, False, True]),
        "transposed": base.t(),
        "scalar": torch.tensor(2.5, dtype=torch.float64),
    }
    layer = torch.nn.Linear(4, 2)
    namespace = {**tensors, "state": layer.state_dict(), "alias": base}
    store.save(namespace)
    result = store.load()
    assert result.failed == [] and result.skipped == []
    for name, tensor in tensors.items():
        loaded = result.variables[name]
        assert isinstance(loaded, torch.Tensor)
        assert loaded.dtype == tensor.dtype and loaded.shape == tensor.shape
        assert loaded.device.type == "cpu"
        assert torch.equal(loaded, tensor), name
    assert list(result.variables["state"]) == ["weight", "bias"]
    for key, value in layer.state_dict().items():
        assert torch.equal(result.variables["state"][key], value)
    assert result.variables["alias"] is result.variables["f32"]


def test_notebook_functions_classes_and_instances_round_trip(store: Store) -> None:
    defined: dict[str, Any] = {"__name__": "__main__"}
    exec(NOTEBOOK_CODE, defined)
    point_class = defined["Point"]
    assert point_class.__module__ == "__main__"
    namespace = {
        "Point": point_class,
        "scale": defined["scale"],
        "square": defined["square"],
        "p": point_class(3, 4),
        "points": [point_class(1, 2), point_class(5, 6)],
        "other": [1, 2, 3],
    }
    info = store.save(namespace)
    assert sorted(v.name for v in info.variables) == sorted(namespace)
    assert info.skipped == []
    result = store.load()
    assert result.failed == []
    loaded = result.variables
    loaded_class = loaded["Point"]
    assert isinstance(loaded_class, type) and loaded_class.__name__ == "Point"
    assert type(loaded["p"]) is loaded_class
    assert (loaded["p"].x, loaded["p"].y, loaded["p"].norm2()) == (3, 4, 25)
    assert all(type(p) is loaded_class for p in loaded["points"])
    assert [(p.x, p.y) for p in loaded["points"]] == [(1, 2), (5, 6)]
    scaled = loaded["scale"](loaded["p"], 2)
    assert type(scaled) is loaded_class and (scaled.x, scaled.y) == (6, 8)
    assert loaded["square"](7) == 49 and loaded["square"].__name__ == "<lambda>"
    assert loaded["other"] == [1, 2, 3]
    pickler = {tuple(g["names"]): g["pickler"] for g in manifest_of(store, info.id)["groups"]}
    assert pickler[("other",)] == "pickle"


def test_shared_references_survive_and_unrelated_values_stay_apart(store: Store) -> None:
    a = np.arange(10.0)
    config = {"lr": 0.1}
    namespace = {
        "a": a,
        "b": a,
        "l": [a, a],
        "config": config,
        "runs": [{"config": config}, {"config": config}],
        "x": np.zeros(1000),  # same dtype as a, nothing in common with it
        "y": np.ones(1000),
        "frame": pd.DataFrame({"v": [1.0, 2.0]}),
    }
    info = store.save(namespace)
    groups = sorted(sorted(g["names"]) for g in manifest_of(store, info.id)["groups"])
    assert groups == [["a", "b", "l"], ["config", "runs"], ["frame"], ["x"], ["y"]]
    loaded = store.load().variables
    assert loaded["b"] is loaded["a"]
    assert loaded["l"][0] is loaded["a"] and loaded["l"][1] is loaded["a"]
    assert loaded["runs"][0]["config"] is loaded["config"]
    assert loaded["runs"][1]["config"] is loaded["config"]
    loaded["a"][0] = 99.0
    assert loaded["b"][0] == 99.0 and loaded["l"][1][0] == 99.0
    assert loaded["x"] is not loaded["y"]
    assert_arrays_identical(loaded["x"], np.zeros(1000))
    assert_arrays_identical(loaded["y"], np.ones(1000))


def test_generators_and_sockets_are_skipped_with_reasons(store: Store) -> None:
    with socket.socket() as sock:
        namespace = {
            "n": 1,
            "gen": (i for i in range(3)),
            "sock": sock,
            "values": np.arange(5),
        }
        info = store.save(namespace)
    assert [v.name for v in info.variables] == ["n", "values"]
    expected_skipped = [
        SkippedVariable("gen", "generator", "cannot be pickled: cannot pickle 'generator' object"),
        SkippedVariable(
            "sock", "socket.socket", "cannot be pickled: cannot pickle 'socket' object"
        ),
    ]
    assert info.skipped == expected_skipped
    result = store.load()
    assert result.skipped == expected_skipped
    assert result.failed == []
    assert sorted(result.variables) == ["n", "values"]
    assert result.variables["n"] == 1
    assert_arrays_identical(result.variables["values"], np.arange(5))


def test_modules_are_recorded_by_name(store: Store) -> None:
    info = store.save({"np": np, "x": 1})
    assert info.modules == {"np": "numpy"}
    assert [v.name for v in info.variables] == ["x"]
    result = store.load()
    assert result.modules == {"np": "numpy"}
    assert result.variables == {"x": 1}


def test_ipython_names_are_not_captured(store: Store) -> None:
    namespace = {
        "In": ["", "x = 1"],
        "Out": {2: 3},
        "_": 3,
        "__": 2,
        "___": 1,
        "_i": "x",
        "_ii": "y",
        "_i3": "x = 1",
        "_5": 5,
        "_oh": {},
        "_dh": ["/"],
        "exit": object(),
        "quit": object(),
        "get_ipython": lambda: None,
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "x": 1,
        "_private": 2,
    }
    info = store.save(namespace)
    assert sorted(v.name for v in info.variables) == ["_private", "x"]
    assert info.skipped == []
    assert store.load().variables == {"x": 1, "_private": 2}


# ---- dedupe --------------------------------------------------------------------------------


def test_unchanged_data_is_not_written_again(store: Store) -> None:
    big = np.arange(10_000_000, dtype=np.float64)  # 80 MB: 20 chunks
    namespace = {"big": big, "small": {"k": "v"}}
    first = store.save(namespace)
    assert first.bytes_total >= big.nbytes
    assert first.bytes_written >= big.nbytes

    second = store.save(namespace)
    assert second.bytes_total == first.bytes_total
    manifest_size = (store.snapshots_dir / f"{second.id}.json").stat().st_size
    assert second.bytes_written == manifest_size  # the manifest, nothing else
    assert second.bytes_written < first.bytes_total / 100

    big[0] = -1.0  # one element: one chunk changes
    third = store.save(namespace)
    manifest_size = (store.snapshots_dir / f"{third.id}.json").stat().st_size
    assert third.bytes_written == CHUNK_SIZE + manifest_size
    assert third.bytes_written <= 8 * 1024 * 1024

    # Every chunk is on disk once: 20 of the first save and the one changed chunk.
    referenced: dict[str, int] = {}
    for info in (first, second, third):
        referenced.update(chunks_of(manifest_of(store, info.id)))
    on_disk = chunk_files(store)
    assert on_disk == referenced
    assert big.nbytes + CHUNK_SIZE <= sum(on_disk.values()) <= big.nbytes + CHUNK_SIZE + 4096
    assert temporary_files(store) == []
    assert_arrays_identical(store.load(first.id).variables["big"], np.arange(10_000_000.0))
    assert_arrays_identical(store.load(third.id).variables["big"], big)
    assert store.get(third.id).bytes_written == third.bytes_written


# ---- damaged stores ------------------------------------------------------------------------


def _damage_fixture(store: Store) -> tuple[dict[str, Any], str, str]:
    rng = np.random.default_rng(1)
    namespace = {
        "x": rng.standard_normal(1_500_000),  # 12 MB: three chunks
        "y": np.arange(250_000, dtype=np.int32),
        "z": {"k": [1, 2, 3]},
        "w": "text",
    }
    first = store.save(namespace)
    second = store.save({"x2": namespace["x"], "v": 5})  # shares the chunks of x
    return namespace, first.id, second.id


def test_flipped_bytes_fail_only_the_group_that_uses_the_chunk(store: Store) -> None:
    namespace, first, second = _damage_fixture(store)
    manifest = manifest_of(store, first)
    damaged_chunk = group_of(manifest, "x")["buffers"][0][1][0]  # the middle chunk of x
    path = store.chunk_path(damaged_chunk)
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF
    data[2000] ^= 0x01
    path.write_bytes(bytes(data))

    result = store.load(first)
    assert [f.name for f in result.failed] == ["x"]
    assert "damaged" in result.failed[0].error
    assert damaged_chunk[:12] in result.failed[0].error
    assert sorted(result.variables) == ["w", "y", "z"]
    assert_arrays_identical(result.variables["y"], namespace["y"])
    assert result.variables["z"] == namespace["z"] and result.variables["w"] == "text"

    other = store.load(second)
    assert [f.name for f in other.failed] == ["x2"]
    assert other.variables == {"v": 5}

    report = store.verify()
    assert not report.ok
    assert report.problems == []
    assert report.snapshots == [second, first]
    assert report.chunks_checked == len(chunks_of(manifest) | chunks_of(manifest_of(store, second)))
    assert report.damaged == [
        DamagedChunk(
            damaged_chunk,
            f"chunk {damaged_chunk[:12]} is damaged (content does not match its hash)",
            ["x2", "x"],
        )
    ]
    only_first = store.verify(first)
    assert only_first.snapshots == [first]
    assert [(d.chunk, d.variables) for d in only_first.damaged] == [(damaged_chunk, ["x"])]


def test_repair_removes_a_damaged_chunk_and_the_next_snapshot_mends_every_snapshot(
    store: Store,
) -> None:
    namespace, first, second = _damage_fixture(store)
    damaged_chunk = group_of(manifest_of(store, first), "x")["buffers"][0][1][0]
    path = store.chunk_path(damaged_chunk)
    data = bytearray(path.read_bytes())
    data[10] ^= 0xFF
    path.write_bytes(bytes(data))

    # Same size: a new snapshot of the same data reuses the damaged chunk as it is.
    reused = store.save({"x": namespace["x"]})
    assert [f.name for f in store.load(reused.id).failed] == ["x"]

    report = store.verify()
    assert store.repair(report) == [damaged_chunk]
    assert not path.exists()
    assert store.repair(report) == []  # nothing left to remove
    assert "is missing" in store.load(first).failed[0].error

    mended = store.save({"x": namespace["x"]})
    assert mended.bytes_written >= 4 * 1024 * 1024  # the chunk was written again
    assert store.verify().ok
    for snapshot_id, name in [(first, "x"), (second, "x2"), (reused.id, "x")]:
        result = store.load(snapshot_id)
        assert result.failed == []
        assert_arrays_identical(result.variables[name], namespace["x"])


def test_repair_leaves_a_chunk_rewritten_since_the_report(store: Store) -> None:
    namespace, first, _second = _damage_fixture(store)
    chunk = group_of(manifest_of(store, first), "y")["buffers"][0][0][0]
    path = store.chunk_path(chunk)
    good = path.read_bytes()
    path.write_bytes(b"\0" * len(good))
    report = store.verify()
    path.write_bytes(good)  # mended by someone else before the repair
    assert store.repair(report) == []
    assert path.read_bytes() == good


def test_truncated_or_longer_chunk_is_damaged(store: Store) -> None:
    namespace, first, _second = _damage_fixture(store)
    y_chunk = group_of(manifest_of(store, first), "y")["buffers"][0][0][0]
    path = store.chunk_path(y_chunk)
    path.write_bytes(path.read_bytes()[:-1])
    result = store.load(first)
    assert result.failed == [FailedVariable("y", f"chunk {y_chunk[:12]} is damaged (wrong size)")]
    path.write_bytes(namespace["y"].tobytes() + b"\x00")
    assert [f.error for f in store.load(first).failed] == [
        f"chunk {y_chunk[:12]} is damaged (wrong size)"
    ]
    path.write_bytes(namespace["y"].tobytes())  # the right bytes again: it loads
    assert store.load(first).failed == []


def test_missing_chunk_fails_its_group(store: Store) -> None:
    namespace, first, _second = _damage_fixture(store)
    y_chunk = group_of(manifest_of(store, first), "y")["buffers"][0][0][0]
    store.chunk_path(y_chunk).unlink()
    result = store.load(first)
    assert result.failed == [FailedVariable("y", f"chunk {y_chunk[:12]} is missing")]
    assert sorted(result.variables) == ["w", "x", "z"]
    assert_arrays_identical(result.variables["x"], namespace["x"])
    report = store.verify(first)
    assert report.damaged == [
        DamagedChunk(y_chunk, f"chunk {y_chunk[:12]} is missing", ["y"], missing=True)
    ]
    assert store.verify(_second).ok


@pytest.mark.parametrize(
    ("damage", "still_listed"),
    [
        pytest.param(lambda data: data[: len(data) // 2], False, id="truncated"),
        pytest.param(lambda data: b"", False, id="empty"),
        pytest.param(lambda data: b"\xff\xfe\x00garbage", False, id="binary"),
        pytest.param(lambda data: b"[]", False, id="not-an-object"),
        # still JSON with its id: listed, but it names no chunks
        pytest.param(lambda data: data.replace(b'"groups"', b'"grumps"'), True, id="no-groups"),
    ],
)
def test_damaged_manifest_is_left_out(store: Store, damage: Any, still_listed: bool) -> None:
    older = store.save({"a": 1})
    newer = store.save({"a": 2})
    path = store.snapshots_dir / f"{newer.id}.json"
    path.write_bytes(damage(path.read_bytes()))

    if still_listed:
        assert [info.id for info in store.list()] == [newer.id, older.id]
    else:
        assert [info.id for info in store.list()] == [older.id]
        with pytest.raises(SnapshotError, match="damaged"):
            store.get(newer.id)
    with pytest.raises(SnapshotError, match=f"the manifest of snapshot {newer.id} is damaged"):
        store.load(newer.id)
    report = store.verify()
    assert report.snapshots == [newer.id, older.id]
    assert report.damaged == []
    assert len(report.problems) == 1
    assert report.problems[0].startswith(f"{newer.id}: ") and "damaged" in report.problems[0]
    assert store.load(older.id).variables == {"a": 1}
    assert store.verify(older.id).ok


# ---- full disk -----------------------------------------------------------------------------


def _save_with_file_size_limit(store: Store, limit: int) -> dict[str, Any]:
    proc = run_writer("fsize", str(store.path), str(limit))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    return json.loads(out)


def test_save_on_a_full_disk_fails_and_keeps_the_last_snapshot(store: Store) -> None:
    kept = {"small": np.arange(1000), "note": "kept"}
    committed = store.save(kept, notebook="full.ipynb")
    chunks_before = chunk_files(store)

    outcome = _save_with_file_size_limit(store, 1024 * 1024)  # a 4 MiB chunk cannot be written
    assert outcome["saved"] is None
    assert outcome["type"] == "SnapshotError"
    assert outcome["error"] == (
        f"a file in the snapshot store at {store.path} exceeds the size limit (File too large)"
    )

    assert store.ids() == [committed.id]
    assert [info.id for info in store.list()] == [committed.id]
    assert sorted(os.listdir(store.snapshots_dir)) == [f"{committed.id}.json"]
    assert temporary_files(store) == []
    result = store.load()
    assert result.failed == []
    assert_arrays_identical(result.variables["small"], kept["small"])
    assert result.variables["note"] == "kept"
    # chunks that did fit are complete; the next prune removes them
    assert all(
        blake3(store.chunk_path(c).read_bytes()).hexdigest() == c for c in chunk_files(store)
    )
    store.prune(keep=10)
    assert chunk_files(store) == chunks_before
    assert store.verify().ok


def test_full_disk_while_writing_the_manifest_commits_nothing(store: Store) -> None:
    committed = store.save(big_namespace(), notebook="full.ipynb")
    # The same data again: every chunk is there already, only the manifest must be written,
    # and the limit lets only part of it through.
    outcome = _save_with_file_size_limit(store, 200)
    assert outcome["saved"] is None
    assert "exceeds the size limit" in outcome["error"]
    assert store.ids() == [committed.id]
    assert sorted(os.listdir(store.snapshots_dir)) == [f"{committed.id}.json"]
    result = store.load()
    assert result.failed == []
    assert_arrays_identical(result.variables["big"], big_namespace()["big"])


# ---- security ------------------------------------------------------------------------------


class OpensMarker:
    """Unpickling it creates a file: proof that a pickle from the store was run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def test_store_files_are_private_even_with_an_open_umask(store: Store) -> None:
    old = os.umask(0)
    try:
        store.save({"big": np.arange(1_000_000, dtype=np.int64), "small": [1, 2]})
        store.save({"other": np.ones(100_000)})
        store.prune(keep=1)
    finally:
        os.umask(old)
    seen = {"dirs": 0, "chunks": 0, "manifests": 0, "lock": 0}
    for root, _dirs, files in os.walk(store.path):
        assert stat.S_IMODE(os.stat(root).st_mode) == 0o700, root
        seen["dirs"] += 1
        for name in files:
            path = Path(root) / name
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
            if name == "lock":
                seen["lock"] += 1
            elif path.parent == store.snapshots_dir:
                seen["manifests"] += 1
            else:
                seen["chunks"] += 1
    assert seen["lock"] == 1 and seen["manifests"] == 1
    assert seen["chunks"] >= 2 and seen["dirs"] >= 4


@pytest.mark.parametrize("loosen", ["store", "manifest", "chunks-dir", "snapshots-dir"])
def test_writable_by_others_is_refused_before_unpickling(
    store: Store, tmp_path: Path, loosen: str
) -> None:
    marker = tmp_path / "marker"
    info = store.save({"payload": OpensMarker(str(marker)), "x": 1})
    assert not marker.exists()
    target, mode = {
        "store": (store.path, 0o777),
        "manifest": (store.snapshots_dir / f"{info.id}.json", 0o666),
        "chunks-dir": (store.chunks_dir, 0o770),
        "snapshots-dir": (store.snapshots_dir, 0o722),
    }[loosen]
    safe_mode = stat.S_IMODE(target.stat().st_mode)
    os.chmod(target, mode)
    with pytest.raises(StoreSecurityError, match="other users can write to it"):
        store.load(info.id)
    if loosen == "manifest":
        # one manifest's problem: the rest of the store stays usable, and says which
        with pytest.raises(SnapshotError, match="there are no snapshots .* that can be read"):
            store.load()
        assert store.list() == []
        (problem,) = store.problems()
        assert problem.startswith(f"{info.id}: Refusing to read ")
        assert "other users can write to it (mode 666); run chmod 600 on it." in problem
    else:
        with pytest.raises(StoreSecurityError):
            store.load()
        with pytest.raises(StoreSecurityError):
            store.list()
    assert not marker.exists()

    os.chmod(target, safe_mode)
    result = store.load(info.id)  # the payload is real: loading runs it
    assert marker.exists()
    result.variables["payload"].close()


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")
def test_manifest_of_another_user_is_refused(store: Store, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    info = store.save({"payload": OpensMarker(str(marker))})
    os.chown(store.snapshots_dir / f"{info.id}.json", 54321, 54321)
    with pytest.raises(StoreSecurityError, match="belongs to another user"):
        store.load(info.id)
    assert not marker.exists()


INVALID_IDS = [
    "../x",
    "../../etc/passwd",
    "/etc/passwd",
    "",
    ".",
    "..",
    "victim",
    "x.json",
    "20260101T000000.000000Z-0123abcd/../../victim",
    "20260101T000000.000000Z-0123abcd.json",
    "20260101T000000.000000Z-0123ABCD",
    "20260101T000000.000000Z-0123abc",
    " 20260101T000000.000000Z-0123abcd",
]


@pytest.mark.parametrize("bad", [*INVALID_IDS, 123, b"20260101T000000.000000Z-0123abcd"])
def test_invalid_snapshot_ids_are_refused(store: Store, bad: Any) -> None:
    info = store.save({"x": 1})
    victim = store.path / "victim.json"
    victim.write_text("{}")
    for call in (store.load, store.get, store.delete):
        with pytest.raises(SnapshotError, match="is not a snapshot id"):
            call(bad)
    assert victim.exists()
    assert store.ids() == [info.id]


def test_none_is_not_an_id_for_get_and_delete(store: Store) -> None:
    store.save({"x": 1})
    for call in (store.get, store.delete):
        with pytest.raises(SnapshotError, match="is not a snapshot id"):
            call(None)  # type: ignore[arg-type]


def test_unknown_ids_and_an_empty_store(store: Store) -> None:
    with pytest.raises(SnapshotError, match="there are no snapshots"):
        store.load()
    assert store.list() == [] and store.ids() == []
    unknown = "20260101T000000.000000Z-0123abcd"
    for call in (store.load, store.get, store.delete):
        with pytest.raises(SnapshotError, match=f"there is no snapshot {unknown}"):
            call(unknown)
    info = store.save({"x": 1})
    store.delete(info.id)
    assert store.ids() == []
    with pytest.raises(SnapshotError, match="there is no snapshot"):
        store.delete(info.id)


# ---- prune ---------------------------------------------------------------------------------


def _save_sequence(store: Store, notebooks: list[str | None]) -> list[str]:
    shared = np.arange(200_000, dtype=np.float64)
    ids = []
    for index, notebook in enumerate(notebooks):
        own = np.full(100_000, index, dtype=np.int64)
        ids.append(store.save({"shared": shared, "own": own, "i": index}, notebook=notebook).id)
    return ids


def _assert_store_consistent(store: Store) -> None:
    referenced: dict[str, int] = {}
    for snapshot_id in store.ids():
        referenced.update(chunks_of(manifest_of(store, snapshot_id)))
        assert store.load(snapshot_id).failed == []
    assert chunk_files(store) == referenced
    assert store.verify().ok


def test_prune_keeps_the_newest_of_each_notebook(store: Store) -> None:
    notebooks = ["a", "b", "a", "a", None, "b", "a"]
    ids = _save_sequence(store, notebooks)
    assert store.ids() == ids[::-1]
    a1, _b1, a2, a3, _none1, _b2, a4 = ids
    removed = {a2, a1}
    kept = [i for i in ids if i not in removed]
    gone = set().union(*(chunks_of(manifest_of(store, i)) for i in removed))
    still = set().union(*(chunks_of(manifest_of(store, i)) for i in kept))
    sizes = chunk_files(store)

    report = store.prune(keep=2)
    assert report.removed_snapshots == [a2, a1]
    assert report.removed_chunks == len(gone - still) == 4  # each: its own array, its i
    assert report.freed_bytes == sum(sizes[c] for c in gone - still)
    assert store.ids() == kept[::-1]
    assert [i.id for i in store.list("a")] == [a4, a3]
    _assert_store_consistent(store)
    for snapshot_id in kept:
        variables = store.load(snapshot_id).variables
        assert_arrays_identical(variables["own"], np.full(100_000, ids.index(snapshot_id)))

    again = store.prune(keep=2)
    assert (again.removed_snapshots, again.removed_chunks, again.freed_bytes) == ([], 0, 0)


def test_prune_to_a_size_removes_the_oldest_but_never_the_newest(store: Store) -> None:
    ids = _save_sequence(store, ["nb"] * 4)
    shared_bytes = 200_000 * 8
    own_bytes = 100_000 * 8
    # room for the shared array and two snapshots' own arrays (with their small streams)
    report = store.prune(keep=10, max_bytes=shared_bytes + 2 * own_bytes + 8192)
    assert report.removed_snapshots == [ids[0], ids[1]]
    assert store.ids() == [ids[3], ids[2]]
    _assert_store_consistent(store)

    report = store.prune(keep=10, max_bytes=0)
    assert report.removed_snapshots == [ids[2]]
    assert store.ids() == [ids[3]]
    _assert_store_consistent(store)
    variables = store.load().variables
    assert variables["i"] == 3
    assert_arrays_identical(variables["shared"], np.arange(200_000, dtype=np.float64))


def test_prune_must_keep_one(store: Store) -> None:
    store.save({"x": 1})
    with pytest.raises(SnapshotError, match="at least one"):
        store.prune(keep=0)
    assert len(store.ids()) == 1


def test_prune_never_collects_the_chunks_of_a_save_in_progress(store: Store) -> None:
    paused = paused_namespace()
    oldest = store.save(
        {"shared": paused["shared"], "old_only": np.full(300_000, 3.0)}, notebook="nb"
    )
    newer = store.save({"tiny": 1}, notebook="nb")
    oldest_chunks = chunks_of(manifest_of(store, oldest.id))
    newer_chunks = chunks_of(manifest_of(store, newer.id))
    fresh_chunk = blake3(paused["fresh"].tobytes()).hexdigest()
    assert paused["fresh"].nbytes == CHUNK_SIZE

    writer = run_writer("paused", str(store.path), "nb", stdin=subprocess.PIPE)
    assert writer.stdin is not None and writer.stdout is not None
    try:
        line = writer.stdout.readline()
        assert line == "committing\n", writer.communicate(timeout=30)
        # The writer holds the store: its chunks are written, no manifest names them yet.
        assert fresh_chunk in chunk_files(store)
        with pytest.raises(SnapshotError, match="busy"):
            store.prune(keep=10, wait=0.2)
        assert fresh_chunk in chunk_files(store)

        with ThreadPoolExecutor(1) as pool:
            pruning = pool.submit(store.prune, 1, None, 30.0)
            time.sleep(0.3)
            assert not pruning.done()  # waiting for the writer
            # nothing is removed before the exclusive lock, manifests included
            assert store.ids() == [newer.id, oldest.id]
            assert set(oldest_chunks) <= set(chunk_files(store))
            writer.stdin.write("go\n")
            writer.stdin.flush()
            out, err = writer.communicate(timeout=30)
            assert writer.returncode == 0, err
            report = pruning.result(timeout=30)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.communicate()

    saved_id = out.split()[1]
    # prune chose what to keep once it held the store: the save it waited for is the newest
    assert store.ids() == [saved_id]
    saved_chunks = chunks_of(manifest_of(store, saved_id))
    assert fresh_chunk in saved_chunks
    # the shared array was deduplicated onto the chunks of a snapshot prune removed
    shared_chunks = {c for c, _ in group_of(manifest_of(store, saved_id), "shared")["buffers"][0]}
    assert shared_chunks <= set(oldest_chunks)
    assert report.removed_snapshots == [newer.id, oldest.id]
    gone = (set(oldest_chunks) | set(newer_chunks)) - set(saved_chunks)
    assert report.removed_chunks == len(gone)
    result = store.load(saved_id)
    assert result.failed == []
    for name, value in paused.items():
        assert_arrays_identical(result.variables[name], value)
    _assert_store_consistent(store)


def test_concurrent_saves_from_threads_all_commit(store: Store) -> None:
    def save(index: int) -> str:
        return store.save({"i": index, "data": np.full(50_000, index)}, notebook="t").id

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(save, range(8)))
    assert sorted(store.ids()) == sorted(ids)
    for snapshot_id in ids:
        variables = store.load(snapshot_id).variables
        assert_arrays_identical(variables["data"], np.full(50_000, variables["i"]))
    _assert_store_consistent(store)

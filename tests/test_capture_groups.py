"""Which variables are pickled together, and where their buffers go."""

from __future__ import annotations

import functools
import json

import numpy as np
import pandas as pd

from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.capture import INLINE_BUFFER_BYTES, capture


def groups_of(variables: dict) -> list[set[str]]:
    return [set(group.names) for group in capture(variables).groups]


def test_variables_sharing_an_object_are_grouped_whatever_holds_it():
    data = [3, 1, 2]
    rows: list = []
    frame = pd.DataFrame({"a": np.arange(4)})
    variables = {
        "data": data,
        "largest": functools.partial(max, data),
        "walker": iter(data),
        "rows": rows,
        "add": rows.append,
        "frame": frame,
        "column": frame["a"].array,
        "alone": [1, 2],
    }
    groups = groups_of(variables)
    assert {"data", "largest", "walker"} in groups
    assert {"rows", "add"} in groups
    assert {"alone"} in groups


def test_what_libraries_share_does_not_tie_variables_together():
    """Every structured array reaches its dtype's fields, every frame pandas' class-level
    lists: no relation between the variables."""
    record = np.dtype([("x", "i8"), ("y", "f8")])
    variables = {
        "first": np.zeros(3, dtype=record),
        "second": np.ones(3, dtype=record),
        "left": pd.DataFrame({"a": np.arange(5), "b": list("vwxyz")}),
        "right": pd.DataFrame({"a": np.arange(5), "b": list("vwxyz")}),
        "when": pd.date_range("2024-01-01", periods=3),
        "also_when": pd.date_range("2024-01-01", periods=3),
    }
    assert sorted(map(sorted, groups_of(variables))) == sorted([[n] for n in variables])


def test_small_buffers_stay_in_the_pickle_and_large_ones_become_chunks(tmp_path):
    store = Store(tmp_path / "store")
    small = [np.arange(i % 50, dtype=np.int64) for i in range(3000)]
    large = np.arange(INLINE_BUFFER_BYTES // 8 * 4, dtype=np.int64)
    info = store.save({"small": small, "large": large})
    chunk_files = [p for p in (store.path / "chunks").rglob("*") if p.is_file()]
    # the stream of each variable, and the large array's buffer: not one file per array
    assert len(chunk_files) <= 4, len(chunk_files)
    manifest = json.loads((store.path / "snapshots" / f"{info.id}.json").read_text())
    by_name = {tuple(g["names"]): g for g in manifest["groups"]}
    assert by_name[("small",)]["buffers"] == []
    assert len(by_name[("large",)]["buffers"]) == 1
    loaded = store.load(info.id).variables
    assert all(np.array_equal(a, b) for a, b in zip(loaded["small"], small, strict=True))
    assert np.array_equal(loaded["large"], large)

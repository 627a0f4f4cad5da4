from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from jupyter_gpuguard import cli
from jupyter_gpuguard.cli import main, parse_size
from jupyter_gpuguard.formatting import format_bytes
from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.history import CellRecord, analyse

REPO = Path(__file__).resolve().parent.parent


def _save(store: Store, namespace: dict, notebook: str, **kwargs) -> str:
    info = store.save(namespace, notebook=notebook, **kwargs)
    time.sleep(0.005)  # ids have millisecond resolution: keep "newest first" unambiguous
    return info.id


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "store")


@pytest.fixture
def ids(store) -> list[str]:
    """Three snapshots, oldest first: two of a.ipynb (the first with a skipped generator),
    then one of b.ipynb."""
    first = {
        "np": np,
        "m": math,
        "x": np.arange(20_000, dtype=np.float64),
        "y": np.ones((10, 10), dtype=np.float32),
        "f": eval("lambda v: v + 1", {}),
        "g": (i for i in range(3)),
    }
    return [
        _save(
            store,
            first,
            "a.ipynb",
            notes=["saved by the test"],
            execution_count=7,
            cells=[cell_record(6, "g = (i for i in range(3))")],
        ),
        _save(store, {"x": np.arange(30_000, dtype=np.float64), "z": [1, 2, 3]}, "a.ipynb"),
        _save(store, {"w": np.full(50, 3, dtype=np.int64)}, "b.ipynb"),
    ]


def cell_record(count: int, source: str) -> dict:
    reads, writes, touches, kind = analyse(source)
    return CellRecord(count, source, reads, writes, touches, [], kind, False, True).to_json()


def _manifest(store: Store, snapshot_id: str) -> dict:
    return json.loads((store.snapshots_dir / f"{snapshot_id}.json").read_text())


def _chunks(store: Store, snapshot_id: str) -> dict[str, int]:
    """chunk id -> size, for every chunk a snapshot's manifest references."""
    chunks = {}
    for group in _manifest(store, snapshot_id)["groups"]:
        for chunk_id, size in [*group["stream"], *(c for b in group["buffers"] for c in b)]:
            chunks[chunk_id] = size
    return chunks


def _all_chunks(store: Store) -> set[str]:
    return {chunk for snapshot_id in store.ids() for chunk in _chunks(store, snapshot_id)}


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# ---- list ----------------------------------------------------------------------------------------
def test_list_table_newest_first(store, ids, capsys):
    first, second, third = ids
    code, out, err = _run(capsys, "--store", str(store.path), "list")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "CREATED", "NOTEBOOK", "VARIABLES", "SIZE", "SKIPPED"]
    rows = [line.split() for line in lines[1:4]]
    assert [row[0] for row in rows] == [third, second, first]
    infos = {info.id: info for info in store.list()}
    for row in rows:
        info = infos[row[0]]
        created = datetime.fromisoformat(info.created).astimezone().strftime("%Y-%m-%d %H:%M")
        assert " ".join(row[1:3]) == created
        assert row[3] == info.notebook
        assert row[4] == str(len(info.variables))
        assert " ".join(row[5:7]) == format_bytes(info.bytes_total)
        assert row[7] == str(len(info.skipped))
    assert [(row[3], row[4], row[7]) for row in rows] == [
        ("b.ipynb", "1", "0"),
        ("a.ipynb", "2", "0"),
        ("a.ipynb", "3", "1"),
    ]
    # aligned: text columns start under their header, number columns end under theirs
    header = lines[0]
    for line, row in zip(lines[1:4], rows, strict=True):
        assert line[header.index("CREATED") :].startswith(" ".join(row[1:3]))
        assert line[header.index("NOTEBOOK") :].startswith(row[3])
        assert line[: header.index("VARIABLES") + len("VARIABLES")].endswith(f" {row[4]}")
        assert line[: header.index("SIZE") + len("SIZE")].endswith(f" {row[5]} {row[6]}")
        assert line.endswith(f" {row[7]}") and len(line) == len(header)
    assert lines[4] == ""
    assert lines[5] == (f"3 snapshots; store {store.path} uses {format_bytes(store.disk_usage())}.")
    assert len(lines) == 6


def test_list_json_matches_the_store(store, ids, capsys):
    code, out, err = _run(capsys, "--store", str(store.path), "--json", "list")
    assert (code, err) == (0, "")
    assert json.loads(out) == [info.to_json() for info in store.list()]
    assert [entry["id"] for entry in json.loads(out)] == ids[::-1]


def test_options_also_follow_the_command(store, capsys):
    code, out, _err = _run(capsys, "list", "--store", str(store.path), "--json")
    assert code == 0
    assert json.loads(out) == [info.to_json() for info in store.list()]


def test_list_notebook_filter(store, ids, capsys):
    code, out, _err = _run(
        capsys, "--store", str(store.path), "--json", "list", "--notebook", "a.ipynb"
    )
    assert code == 0
    assert [entry["id"] for entry in json.loads(out)] == ids[1::-1]
    code, out, _err = _run(capsys, "--store", str(store.path), "list", "--notebook", "c.ipynb")
    assert (code, out) == (0, f"No snapshots for notebook c.ipynb in {store.path}.\n")


def test_list_empty_store_is_friendly(tmp_path, capsys):
    missing = tmp_path / "nothing-here"
    code, out, err = _run(capsys, "--store", str(missing), "list")
    assert (code, out, err) == (0, f"No snapshots in {missing}.\n", "")
    assert not missing.exists()
    code, out, _err = _run(capsys, "--store", str(missing), "--json", "list")
    assert (code, json.loads(out)) == (0, [])


def test_store_defaults_to_gpuguard_store_env(store, ids, capsys, monkeypatch):
    monkeypatch.setenv("GPUGUARD_STORE", str(store.path))
    code, out, _err = _run(capsys, "--json", "list")
    assert code == 0
    assert [entry["id"] for entry in json.loads(out)] == ids[::-1]


# ---- show ----------------------------------------------------------------------------------------
def test_show_human(store, ids, capsys):
    first = ids[0]
    info = store.get(first)
    code, out, err = _run(capsys, "--store", str(store.path), "show", first)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"Snapshot   {first}"
    assert "Notebook   a.ipynb" in lines
    assert "Execution  [7]" in lines
    assert "Variables (3):" in lines
    sizes = {v.name: v.bytes for v in info.variables}
    assert [v.name for v in info.variables] == ["x", "y", "f"]
    for name, kind in [("x", "numpy.ndarray"), ("y", "numpy.ndarray"), ("f", "function")]:
        row = next(line.split() for line in lines if line.split()[:1] == [name])
        assert row[:2] == [name, kind]
        assert " ".join(row[2:]) == format_bytes(sizes[name])
    assert "Skipped (1):" in lines
    skipped = next(line for line in lines if line.split()[:1] == ["g"])
    assert skipped.split()[:2] == ["g", "generator"]
    assert "cannot be pickled" in skipped
    assert "  import math as m" in lines
    assert "  import numpy as np" in lines
    assert lines[-4:] == [
        "Notes (1):",
        "  - saved by the test",
        "Rebuild g by re-running 1 cell (cell 6)?",
        "  cell 6: g = (i for i in range(3))",
    ]


def test_show_json_matches_the_store(store, ids, capsys):
    first = ids[0]
    code, out, err = _run(capsys, "--store", str(store.path), "--json", "show", first)
    assert (code, err) == (0, "")
    document = json.loads(out)
    plan = document.pop("plan")
    assert document == store.get(first).to_json()
    assert plan["summary"] == "Rebuild g by re-running 1 cell (cell 6)?"
    assert [c["execution_count"] for c in plan["cells"]] == [6]
    assert [s["name"] for s in document["skipped"]] == ["g"]
    assert document["modules"] == {"np": "numpy", "m": "math"}


@pytest.mark.parametrize("bad", ["../etc/passwd", "20250101T120000.000000Z-0123abcd"])
def test_show_bad_or_unknown_id_exits_2(store, capsys, bad):
    code, out, err = _run(capsys, "--store", str(store.path), "show", bad)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("jupyter gpuguard: error: ")
    if bad.startswith(".."):
        assert "'../etc/passwd' is not a snapshot id" in err
    else:
        assert f"there is no snapshot {bad} in {store.path}" in err


def test_show_refuses_a_store_others_can_write(store, ids, capsys):
    os.chmod(store.path, 0o777)
    try:
        code, out, err = _run(capsys, "--store", str(store.path), "show", ids[0])
    finally:
        os.chmod(store.path, 0o700)
    assert (code, out) == (1, "")
    assert err == (
        f"jupyter gpuguard: error: Refusing to read {store.path}: other users can write to it "
        "(mode 777); run chmod 700 on the store.\n"
    )


def test_a_damaged_manifest_is_one_line_not_a_traceback(store, ids, capsys):
    newest = ids[-1]
    (store.snapshots_dir / f"{newest}.json").write_text("{not json")
    code, out, err = _run(capsys, "--store", str(store.path), "show", newest)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1
    assert f"the manifest of snapshot {newest} is damaged" in err


# ---- verify --------------------------------------------------------------------------------------
def test_verify_all_ok(store, ids, capsys):
    all_chunks = _all_chunks(store)
    code, out, err = _run(capsys, "--store", str(store.path), "verify")
    assert (code, err) == (0, "")
    assert out == f"OK: 3 snapshots, {len(all_chunks)} chunks checked, no damage found.\n"
    code, out, _err = _run(capsys, "--store", str(store.path), "--json", "verify")
    assert code == 0
    assert json.loads(out) == {
        "snapshots": ids[::-1],
        "chunks_checked": len(all_chunks),
        "damaged": [],
        "problems": [],
        "ok": True,
        "removed": [],
    }


def _corrupt_x(store: Store, snapshot_id: str) -> str:
    """Overwrite the bytes of the chunk holding variable ``x``'s array data."""
    group = next(g for g in _manifest(store, snapshot_id)["groups"] if g["names"] == ["x"])
    chunk_id = group["buffers"][0][0][0]
    path = store.chunk_path(chunk_id)
    assert path.parent.parent == store.chunks_dir
    data = bytearray(path.read_bytes())
    data[:8] = bytes(b ^ 0xFF for b in data[:8])
    path.write_bytes(bytes(data))
    return chunk_id


def test_verify_names_the_damaged_variable(store, ids, capsys):
    first = ids[0]
    chunk_id = _corrupt_x(store, first)
    code, out, err = _run(capsys, "--store", str(store.path), "verify")
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"DAMAGED  chunk {chunk_id[:12]} is damaged (content does not match its hash)",
        f"         chunk {chunk_id}",
        "         affects: x",
        f"FAILED: 3 snapshots, {len(_all_chunks(store))} chunks checked: 1 damaged chunk, "
        "0 other problems.",
    ]
    code, out, _err = _run(capsys, "--store", str(store.path), "--json", "verify", first)
    report = json.loads(out)
    assert code == 1
    assert report["ok"] is False
    assert report["snapshots"] == [first]
    assert report["chunks_checked"] == len(_chunks(store, first))
    assert report["damaged"] == [
        {
            "chunk": chunk_id,
            "problem": f"chunk {chunk_id[:12]} is damaged (content does not match its hash)",
            "variables": ["x"],
            "missing": False,
        }
    ]
    # the other snapshots do not share that chunk
    code, out, _err = _run(capsys, "--store", str(store.path), "verify", ids[2])
    assert code == 0
    assert out.startswith("OK: 1 snapshot, ")


def test_verify_repair_removes_the_damaged_chunk(store, ids, capsys):
    chunk_id = _corrupt_x(store, ids[0])
    code, out, err = _run(capsys, "--store", str(store.path), "verify", "--repair")
    assert (code, err) == (1, "")
    assert (
        f"REMOVED  chunk {chunk_id}: the next snapshot holding its data writes it again"
        in out.splitlines()
    )
    assert not store.chunk_path(chunk_id).exists()
    code, out, _err = _run(capsys, "--store", str(store.path), "--json", "verify", "--repair")
    report = json.loads(out)
    assert code == 1  # now missing, which only a new snapshot can mend
    assert report["removed"] == []
    assert "is missing" in report["damaged"][0]["problem"]


def test_verify_names_each_manifest_it_cannot_read_and_checks_the_rest(store, ids, capsys):
    first, second, third = ids
    path = store.snapshots_dir / f"{second}.json"
    path.write_text(path.read_text().replace('"bytes_total": ', '"bytes_total": 1e999, "was": '))
    os.chmod(store.snapshots_dir / f"{third}.json", 0o666)
    code, out, err = _run(capsys, "--store", str(store.path), "verify")
    assert (code, err) == (1, "")
    assert out.splitlines() == [
        f"PROBLEM  {third}: Refusing to read {store.snapshots_dir / (third + '.json')}: other "
        "users can write to it (mode 666); run chmod 600 on it.",
        f"PROBLEM  {second}: the manifest of snapshot {second} is damaged: 'bytes_total' is "
        "missing or has the wrong type",
        f"FAILED: 3 snapshots, {len(_chunks(store, first))} chunks checked: 0 damaged chunks, "
        "2 other problems.",
    ]
    code, out, err = _run(capsys, "--store", str(store.path), "--json", "list")
    assert (code, err) == (0, "")
    assert [info["id"] for info in json.loads(out)] == [first]


def test_verify_refuses_a_chunk_directory_that_is_a_link_in_one_line(store, ids, tmp_path, capsys):
    outside = tmp_path / "outside"
    chunks = _all_chunks(store)
    store.chunks_dir.rename(outside)
    store.chunks_dir.symlink_to(outside)
    for repair in ([], ["--repair"]):
        code, out, err = _run(capsys, "--store", str(store.path), "verify", *repair)
        assert (code, out) == (1, "")
        assert err == (
            f"jupyter gpuguard: error: Refusing to read {store.chunks_dir}: it is a symbolic "
            "link.\n"
        )
    assert {p.name for p in outside.glob("*/*")} == chunks


def test_verify_bad_or_unknown_id_exits_2(store, capsys):
    code, out, err = _run(capsys, "--store", str(store.path), "verify", "../etc/passwd")
    assert (code, out) == (2, "")
    assert "'../etc/passwd' is not a snapshot id" in err
    unknown = "20250101T120000.000000Z-0123abcd"
    code, out, err = _run(capsys, "--store", str(store.path), "verify", unknown)
    assert (code, out) == (2, "")
    assert f"there is no snapshot {unknown}" in err


def test_verify_refuses_a_store_others_can_write_in_one_line(store, ids, capsys):
    os.chmod(store.path, 0o777)
    try:
        code, out, err = _run(capsys, "--store", str(store.path), "verify")
    finally:
        os.chmod(store.path, 0o700)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and "other users can write to it" in err


# ---- prune ---------------------------------------------------------------------------------------
def test_prune_keep_1_removes_the_older_snapshots(store, ids, capsys):
    first, second, third = ids
    only_first = {
        c: s
        for c, s in _chunks(store, first).items()
        if c not in _chunks(store, second) and c not in _chunks(store, third)
    }
    assert only_first
    code, out, err = _run(capsys, "--store", str(store.path), "--json", "prune", "--keep", "1")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "removed_snapshots": [first],
        "removed_chunks": len(only_first),
        "freed_bytes": sum(only_first.values()),
    }
    assert store.ids() == [third, second]
    assert not any(store.chunk_path(c).exists() for c in only_first)
    code, out, _err = _run(capsys, "--store", str(store.path), "verify")
    assert code == 0


def test_prune_human_output(store, ids, capsys):
    first = ids[0]
    before = store.disk_usage()
    code, out, err = _run(capsys, "--store", str(store.path), "prune", "--keep", "1")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == ["Removed 1 snapshot:", f"  {first}"]
    assert lines[2].startswith("Removed ") and "unreferenced chunks, freed " in lines[2]
    assert lines[3] == f"Store {store.path} now uses {format_bytes(store.disk_usage())}."
    assert store.disk_usage() < before
    code, out, _err = _run(capsys, "--store", str(store.path), "prune")
    assert out.splitlines()[:2] == [
        "No snapshots removed.",
        "Removed 0 unreferenced chunks, freed 0 B.",
    ]


def test_prune_max_size_keeps_only_the_newest(store, ids, capsys):
    code, out, _err = _run(capsys, "--store", str(store.path), "--json", "prune", "--max-size", "0")
    assert code == 0
    assert json.loads(out)["removed_snapshots"] == ids[:2]  # oldest first
    assert store.ids() == [ids[2]]


def test_prune_does_not_create_a_missing_store(tmp_path, capsys):
    missing = tmp_path / "typo"
    code, out, _err = _run(capsys, "--store", str(missing), "--json", "prune")
    assert code == 0
    assert json.loads(out) == {"removed_snapshots": [], "removed_chunks": 0, "freed_bytes": 0}
    assert not missing.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500M", 500_000_000),
        ("2G", 2_000_000_000),
        ("2GB", 2_000_000_000),
        ("1.5GiB", 1_610_612_736),
        ("1.5 gib", 1_610_612_736),
        ("10k", 10_000),
        ("512MiB", 512 * 1024**2),
        ("4096", 4096),
        ("0", 0),
    ],
)
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("bad", ["lots", "", "-1", "1e3", "G", "5 XB", "2 iB"])
def test_prune_rejects_a_bad_size(store, ids, capsys, bad):
    code, out, err = _run(capsys, "--store", str(store.path), "prune", "--max-size", bad)
    assert (code, out) == (2, "")
    assert "argument --max-size: invalid size" in err
    assert store.ids() == ids[::-1]


@pytest.mark.parametrize("bad", ["0", "-3", "many"])
def test_prune_rejects_a_bad_keep(store, ids, capsys, bad):
    code, _out, err = _run(capsys, "--store", str(store.path), "prune", "--keep", bad)
    assert code == 2
    assert "argument --keep" in err
    assert store.ids() == ids[::-1]


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 B"), (999, "999 B"), (1000, "1.0 kB"), (1_300_000_000, "1.3 GB"), (999_950, "1.0 MB")],
)
def test_format_bytes(count, text):
    assert format_bytes(count) == text


# ---- the command line itself ---------------------------------------------------------------------
@pytest.mark.parametrize("command", [[], ["list"], ["show"], ["verify"], ["prune"]])
def test_help(capsys, command):
    code, out, err = _run(capsys, *command, "--help")
    assert (code, err) == (0, "")
    assert out.startswith(f"usage: jupyter gpuguard {' '.join(command)}".rstrip())
    assert "--store DIR" in out and "--json" in out


def test_no_command_is_a_usage_error(capsys):
    code, out, err = _run(capsys)
    assert (code, out) == (2, "")
    assert "the following arguments are required: COMMAND" in err


def test_an_unreadable_store_is_one_line(tmp_path, capsys):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    code, out, err = _run(capsys, "--store", str(not_a_dir), "list")
    assert (code, out) == (1, "")
    assert err == f"jupyter gpuguard: error: the snapshot store at {not_a_dir} is not a directory\n"


def test_as_a_subprocess(store):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("GPUGUARD_STORE", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "jupyter_gpuguard.cli",
            "--store",
            str(store.path),
            "--json",
            "list",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == [info.to_json() for info in store.list()]

    done = subprocess.run(
        [sys.executable, "-m", "jupyter_gpuguard.cli", "--store", str(store.path), "show", ".."],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert "Traceback" not in done.stderr and "is not a snapshot id" in done.stderr


def test_importing_the_cli_is_cheap():
    code = (
        "import sys, jupyter_gpuguard.cli; "
        "print(sorted(m for m in ('numpy', 'dill', 'blake3', 'jupyter_gpuguard.snapshot') "
        "if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (0, "[]\n")


def test_console_script_is_declared():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["jupyter-gpuguard"] == "jupyter_gpuguard.cli:main"
    assert callable(cli.main)

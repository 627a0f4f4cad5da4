"""The store trusts nothing it did not write: swapped, linked or foreign files and directories,
chunk ids that are paths, absurd sizes, manifests that break a parser, and prunes that would
remove what a restore is reading.

"Another user" is uid 12345, which needs root to give files to.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from jupyter_gpuguard.snapshot import SnapshotError, Store, StoreSecurityError, trust
from jupyter_gpuguard.snapshot import store as store_module
from jupyter_gpuguard.snapshot.chunks import CHUNK_SIZE
from jupyter_gpuguard.snapshot.manifests import MAX_MANIFEST_BYTES
from jupyter_gpuguard.snapshot.model import DamagedChunk, VerifyReport

OTHER_UID = 12345
as_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="giving a file to another user (chown) needs root"
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store")


class OpensMarker:
    """Unpickling it creates a file: proof that a pickle from the store was run."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def manifest_path(store: Store, snapshot_id: str) -> Path:
    return store.snapshots_dir / f"{snapshot_id}.json"


def manifest_of(store: Store, snapshot_id: str) -> dict[str, Any]:
    return json.loads(manifest_path(store, snapshot_id).read_bytes())


def write_manifest(store: Store, snapshot_id: str, manifest: dict[str, Any]) -> None:
    manifest_path(store, snapshot_id).write_text(json.dumps(manifest))


def group_of(manifest: dict[str, Any], name: str) -> dict[str, Any]:
    (group,) = [g for g in manifest["groups"] if name in g["names"]]
    return group


def chunks_of(manifest: dict[str, Any]) -> set[str]:
    found = set()
    for group in manifest["groups"]:
        found.update(chunk_id for chunk_id, _size in group["stream"])
        for buffer in group["buffers"]:
            found.update(chunk_id for chunk_id, _size in buffer)
    return found


def chunk_files(store: Store) -> set[str]:
    return {p.name for p in store.chunks_dir.glob("*/*") if not p.name.startswith(".tmp-")}


def payload_snapshot(store: Store, marker: Path) -> tuple[str, str]:
    """A snapshot whose ``payload`` creates ``marker`` when unpickled; (id, its stream chunk)."""
    info = store.save({"payload": OpensMarker(str(marker)), "x": 1})
    ((chunk, _size),) = group_of(manifest_of(store, info.id), "payload")["stream"]
    assert not marker.exists()
    return info.id, chunk


def give_away(path: Path) -> None:
    os.chown(path, OTHER_UID, OTHER_UID, follow_symlinks=False)


class SwapOnOpen:
    """Stands in for ``os`` in ``trust``, which opens what the store reads: the first
    ``os.open`` of ``name`` finds ``swap()`` done and leaves with ``unswap()`` done, so the
    file is a look-alike only for the open itself. A check by path, before or after, sees
    the real one."""

    def __init__(self, name: str, swap: Callable[[], None], unswap: Callable[[], None]) -> None:
        self._name = name
        self._swap = swap
        self._unswap = unswap
        self.swapped = 0

    def __getattr__(self, attribute: str) -> Any:
        return getattr(os, attribute)

    def open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        # only the reader's own open: the restore's read-ahead thread opens chunks too
        reader = threading.current_thread() is threading.main_thread()
        if str(path) != self._name or self.swapped or not reader:
            return os.open(path, flags, mode, dir_fd=dir_fd)
        self.swapped += 1
        self._swap()
        try:
            return os.open(path, flags, mode, dir_fd=dir_fd)
        finally:
            self._unswap()


def move_behind_a_link(path: Path, outside: Path) -> None:
    """Move ``path`` to ``outside`` and leave a symbolic link to it in its place."""
    shutil.move(path, outside)
    path.symlink_to(outside)


def exchange(a: Path, b: Path) -> None:
    aside = a.with_name(a.name + ".aside")
    os.rename(a, aside)
    os.rename(b, a)
    os.rename(aside, b)


# ---- part 2: what is checked is what was opened ------------------------------------------------


def test_every_directory_the_store_makes_is_0700_whatever_the_umask(tmp_path: Path) -> None:
    store = Store(tmp_path / "made" / "by" / "store")
    old = os.umask(0)
    try:
        store.save({"big": np.arange(1_000_000, dtype=np.int64)})
    finally:
        os.umask(old)
    made = [tmp_path / "made", tmp_path / "made" / "by", store.path, store.snapshots_dir]
    made += [store.chunks_dir, *store.chunks_dir.iterdir()]
    assert len(made) >= 7
    for directory in made:
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory


@as_root
def test_a_store_swapped_for_a_look_alike_during_the_open_is_refused(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race of renameat2(RENAME_EXCHANGE) from a parent another user can write, made
    deterministic: the look-alike is in place for the open of the store directory only."""
    marker = tmp_path / "marker"
    snapshot_id, _chunk = payload_snapshot(store, marker)
    look_alike = tmp_path / "look-alike"
    shutil.copytree(store.path, look_alike, symlinks=True)
    for path in [look_alike, *look_alike.rglob("*")]:
        give_away(path)
    swapper = SwapOnOpen(
        str(store.path),
        lambda: exchange(store.path, look_alike),
        lambda: exchange(store.path, look_alike),
    )
    monkeypatch.setattr(trust, "os", swapper)
    with pytest.raises(StoreSecurityError, match=f"{store.path}: it belongs to another user"):
        store.load(snapshot_id)
    assert swapper.swapped == 1
    assert not marker.exists()
    monkeypatch.undo()
    result = store.load(snapshot_id)  # the real store: the payload runs
    assert marker.exists()
    result.variables["payload"].close()


@as_root
@pytest.mark.parametrize("target", ["manifest", "chunk"])
def test_a_file_swapped_during_its_open_is_checked_as_opened(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    marker = tmp_path / "marker"
    snapshot_id, chunk = payload_snapshot(store, marker)
    real = manifest_path(store, snapshot_id) if target == "manifest" else store.chunk_path(chunk)
    foreign = real.with_name(real.name + ".foreign")
    shutil.copy2(real, foreign)  # the same bytes: only who owns it differs
    give_away(foreign)
    monkeypatch.setattr(
        trust,
        "os",
        SwapOnOpen(real.name, lambda: exchange(real, foreign), lambda: exchange(real, foreign)),
    )
    if target == "manifest":
        with pytest.raises(StoreSecurityError, match="belongs to another user"):
            store.load(snapshot_id)
    else:
        result = store.load(snapshot_id)
        assert [f.name for f in result.failed] == ["payload"]
        assert f"{real}: it belongs to another user (uid {OTHER_UID})" in result.failed[0].error
    assert not marker.exists()
    assert real.stat().st_uid == os.getuid()  # what a check by path would have seen


# ---- part 4: chunk ids are names, never paths --------------------------------------------------


def _victim_ids(tmp_path: Path) -> dict[str, tuple[Any, Path | None]]:
    victim = tmp_path / "a" / "victim"
    return {
        "absolute": (str(victim), victim),
        "relative": ("../../victim", victim),  # chunks/<..>/../../victim
        "dev-zero": ("/dev/zero", None),
        "upper-case": ("A" * 64, None),
        "short": ("a" * 63, None),
        "long": ("a" * 65, None),
        "number": (12, None),
        "null": (None, None),
        "nested": ([[["x"]]], None),
    }


@pytest.mark.parametrize(
    "kind",
    ["absolute", "relative", "dev-zero", "upper-case", "short", "long", "number", "null", "nested"],
)
@pytest.mark.parametrize("where", ["stream", "buffer"])
def test_a_chunk_id_that_is_not_a_hash_damages_its_manifest_and_names_no_file(
    tmp_path: Path, kind: str, where: str
) -> None:
    store = Store(tmp_path / "a" / "b" / "store")
    bad, victim = _victim_ids(tmp_path)[kind]
    if victim is not None:
        victim.parent.mkdir(parents=True, exist_ok=True)
        victim.write_bytes(b"x" * 1000)
    good = store.save({"kept": np.arange(1_000_000, dtype=np.int64)}, notebook="nb")
    info = store.save({"big": np.arange(1_000_000, dtype=np.float64), "n": 1}, notebook="nb")
    manifest = manifest_of(store, info.id)
    group = group_of(manifest, "big")
    pair = group["stream"][0] if where == "stream" else group["buffers"][0][0]
    pair[0] = bad
    pair[1] = 1000
    write_manifest(store, info.id, manifest)

    with pytest.raises(SnapshotError, match=f"the manifest of snapshot {info.id} is damaged"):
        store.load(info.id)
    with pytest.raises(SnapshotError, match="is not a chunk id"):
        store.load(info.id)
    report = store.verify()
    assert report.damaged == []
    assert len(report.problems) == 1
    assert (
        report.problems[0].startswith(f"{info.id}: ") and "is not a chunk id" in report.problems[0]
    )
    assert store.repair(report) == []
    # the server's unattended scrub: newest of each notebook, verify, repair
    for snapshot_id in store.newest_ids():
        assert store.repair(store.verify(snapshot_id), wait=5.0) == []
    # a report naming the path itself, as one built by hand could
    forged = VerifyReport([info.id], 1, [DamagedChunk(str(bad), "damaged", ["big"])])
    assert store.repair(forged) == []
    store.prune(keep=10)
    if victim is not None:
        assert victim.read_bytes() == b"x" * 1000
    assert store.load(good.id).failed == []
    with pytest.raises(SnapshotError, match="is not a chunk id"):
        store.read_chunk(bad, 1000)
    with pytest.raises(SnapshotError, match="is not a chunk id"):
        store.chunk_path(bad)


@pytest.mark.parametrize(
    "size",
    [-1, True, 1.5, "1000", None, CHUNK_SIZE + 1, 10**30],
    ids=["negative", "bool", "float", "text", "null", "over-a-chunk", "huge"],
)
def test_a_chunk_size_no_chunk_can_have_damages_the_manifest(store: Store, size: Any) -> None:
    info = store.save({"big": np.arange(1_000_000, dtype=np.float64)})
    manifest = manifest_of(store, info.id)
    group_of(manifest, "big")["buffers"][0][0][1] = size
    write_manifest(store, info.id, manifest)
    with pytest.raises(SnapshotError, match="has an impossible size"):
        store.load(info.id)
    (problem,) = store.verify().problems
    assert "has an impossible size" in problem
    with pytest.raises(SnapshotError, match="has an impossible size"):
        store.read_chunk(group_of(manifest, "big")["stream"][0][0], size)


def test_a_size_of_1e999_in_the_text_damages_the_manifest(store: Store) -> None:
    info = store.save({"big": np.arange(1_000_000, dtype=np.float64)})
    manifest = manifest_of(store, info.id)
    group_of(manifest, "big")["buffers"][0][0][1] = "SIZE"
    write_manifest(store, info.id, manifest)
    path = manifest_path(store, info.id)
    path.write_text(path.read_text().replace('"SIZE"', "1e999"))
    with pytest.raises(SnapshotError, match="impossible size inf"):
        store.load(info.id)


@pytest.mark.parametrize("into", [False, True], ids=["bytes", "into"])
def test_a_chunk_file_far_longer_than_its_size_is_read_no_further(store: Store, into: bool) -> None:
    info = store.save({"big": np.arange(1_000_000, dtype=np.float64)})
    chunk, size = group_of(manifest_of(store, info.id), "big")["buffers"][0][0]
    path = store.chunk_path(chunk)
    try:
        os.truncate(path, 1 << 40)  # sparse: a terabyte that takes no disk
    except OSError as err:
        pytest.skip(f"this file system has no terabyte sparse files: {err}")
    started = time.monotonic()
    with pytest.raises(SnapshotError, match=f"chunk {chunk[:12]} is damaged \\(wrong size\\)"):
        if into:
            store.read_chunk(chunk, size, into=memoryview(bytearray(size)))
        else:
            store.read_chunk(chunk, size)
    assert time.monotonic() - started < 5
    (damaged,) = store.verify().damaged
    assert damaged.problem == f"chunk {chunk[:12]} is damaged (wrong size)"


def test_a_manifest_larger_than_any_the_store_writes_is_not_read(store: Store) -> None:
    kept = store.save({"a": 1})
    big = store.save({"a": 2})
    os.truncate(manifest_path(store, big.id), MAX_MANIFEST_BYTES + 1)
    assert [info.id for info in store.list()] == [kept.id]
    (problem,) = store.problems()
    assert problem == (
        f"{big.id}: the manifest of snapshot {big.id} is damaged: it is larger than "
        f"{MAX_MANIFEST_BYTES} bytes"
    )


# ---- part 5: a restore holds the shared lock ---------------------------------------------------


@pytest.mark.parametrize("how", ["keep", "max-bytes"])
def test_prune_waits_for_a_restore_and_removes_nothing_it_reads(
    store: Store, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    data = np.random.default_rng(5).standard_normal(1_500_000)  # 12 MB: three chunks
    old = store.save({"data": data, "tag": "old"}, notebook="nb")
    newer = store.save({"tag": "new"}, notebook="nb")
    old_chunks = chunks_of(manifest_of(store, old.id))

    reading = threading.Event()
    release = threading.Event()
    read_chunk = store.read_chunk

    def slow_read_chunk(*args: Any, **kwargs: Any) -> bytes | None:
        reading.set()
        assert release.wait(30)
        return read_chunk(*args, **kwargs)

    monkeypatch.setattr(store, "read_chunk", slow_read_chunk)
    prune_args = (1, None) if how == "keep" else (10, 0)
    with ThreadPoolExecutor(2) as pool:
        loading = pool.submit(store.load, old.id)
        assert reading.wait(30)
        with pytest.raises(SnapshotError, match="busy"):
            store.prune(*prune_args, wait=0.2)
        pruning = pool.submit(store.prune, *prune_args, 30.0)
        time.sleep(0.3)
        assert not pruning.done()
        assert store.ids() == [newer.id, old.id]
        assert old_chunks <= chunk_files(store)
        release.set()
        result = loading.result(timeout=60)
        report = pruning.result(timeout=60)
    assert result.failed == []
    assert result.variables["tag"] == "old"
    assert result.variables["data"].tobytes() == data.tobytes()
    assert report.removed_snapshots == [old.id]
    assert store.ids() == [newer.id]
    assert not old_chunks & chunk_files(store)


def test_a_restore_waits_for_a_prune_in_progress(store: Store) -> None:
    info = store.save({"x": 1})
    with (
        store._lock(exclusive=True),
        pytest.raises(SnapshotError, match="busy"),
        store._reading(wait=0.2),
    ):
        pass
    assert store.load(info.id).variables == {"x": 1}


# ---- part 6: one bad manifest is skipped and named ---------------------------------------------


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _edit(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        manifest = json.loads(path.read_bytes())
        change(manifest)
        path.write_text(json.dumps(manifest))

    return damage


def _replace_text(old: str, new: str) -> Callable[[Path], None]:
    def damage(path: Path) -> None:
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))

    return damage


def _link_outside(path: Path) -> None:
    outside = path.parent.parent.parent / "outside.json"
    shutil.copy2(path, outside)
    path.unlink()
    path.symlink_to(outside)


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path, 0o600)


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir(mode=0o700)


# (damage, what problems() says, whether the manifest still keeps its chunks)
BAD_MANIFESTS: dict[str, tuple[Callable[[Path], None], str, bool]] = {
    "bytes-total-1e999": (
        _replace_text('"bytes_total": ', '"bytes_total": 1e999, "was": '),
        "is damaged: 'bytes_total' is missing or has the wrong type",
        True,
    ),
    "nested-5000-deep": (
        _replace_text('"notes": [', f'"deep": {_nested(5000)}, "notes": ['),
        "is damaged: it is nested too deeply",
        True,
    ),
    "nan": (
        _replace_text('"duration_seconds": ', '"duration_seconds": NaN, "was": '),
        "is damaged: NaN is not a number this store writes",
        True,
    ),
    "variables-not-a-list": (
        _edit(lambda m: m.update(variables="x")),
        "is damaged: 'variables' is missing or has the wrong type",
        True,
    ),
    "variable-with-extra-field": (
        _edit(lambda m: m["variables"][0].update(extra=1)),
        "is damaged: 'variables' is missing or has the wrong type",
        True,
    ),
    "notebook-a-number": (
        _edit(lambda m: m.update(notebook=5)),
        "is damaged: 'notebook' is missing or has the wrong type",
        True,
    ),
    "execution-count-an-object": (
        _edit(lambda m: m.update(execution_count={"a": [1]})),
        "is damaged: 'execution_count' is missing or has the wrong type",
        True,
    ),
    "skipped-wrong-type": (
        _edit(lambda m: m.update(skipped=[{"name": 1, "type": "t", "reason": "r"}])),
        "is damaged: 'skipped' is missing or has the wrong type",
        True,
    ),
    "modules-wrong-type": (
        _edit(lambda m: m.update(modules={"np": ["numpy"]})),
        "is damaged: 'modules' is missing or has the wrong type",
        True,
    ),
    "created-missing": (
        _edit(lambda m: m.pop("created")),
        "is damaged: 'created' is missing or has the wrong type",
        True,
    ),
    "not-json": (
        lambda path: path.write_bytes(path.read_bytes()[:-40]),
        "is damaged: ",
        True,
    ),
    "writable-by-others": (
        lambda path: os.chmod(path, 0o666),
        "other users can write to it (mode 666); run chmod 600 on it.",
        True,
    ),
    "a-link-outside": (
        _link_outside,
        "it is a symbolic link.",
        False,
    ),
    "a-fifo": (_fifo, "it is not a regular file.", False),
    "a-directory": (_directory, "it is not a regular file.", False),
}
if os.geteuid() == 0:
    BAD_MANIFESTS["another-users"] = (
        give_away,
        f"it belongs to another user (uid {OTHER_UID}).",
        True,
    )


@pytest.mark.parametrize("kind", sorted(BAD_MANIFESTS))
def test_one_bad_manifest_is_skipped_named_and_the_rest_still_served_and_pruned(
    store: Store, kind: str
) -> None:
    damage, reason, keeps_chunks = BAD_MANIFESTS[kind]
    first = store.save({"i": 1, "own": np.full(500_000, 1.0)}, notebook="nb")
    second = store.save({"i": 2, "own": np.full(500_000, 2.0)}, notebook="nb")
    other = store.save({"i": 3}, notebook="other")
    bad = store.save({"i": 4, "own": np.full(500_000, 4.0)}, notebook="nb")
    bad_chunks = chunks_of(manifest_of(store, bad.id))
    damage(manifest_path(store, bad.id))

    listed = [info.id for info in store.list()]
    assert listed == [other.id, second.id, first.id]
    assert [info.id for info in store.list("nb")] == [second.id, first.id]
    (problem,) = store.problems()
    assert problem.startswith(f"{bad.id}: ") and reason in problem, problem
    assert sorted(store.newest_ids()) == sorted([second.id, other.id])
    assert store.load().variables["i"] == 3  # the newest that can be read
    with pytest.raises(SnapshotError):
        store.get(bad.id)
    with pytest.raises(SnapshotError):
        store.load(bad.id)
    report = store.verify()
    assert not report.ok and report.damaged == []
    assert [p.split(":")[0] for p in report.problems] == [bad.id]
    assert reason in report.problems[0]

    pruned = store.prune(keep=1)
    assert pruned.removed_snapshots == [first.id]
    assert [info.id for info in store.list()] == [other.id, second.id]
    assert store.ids() == [bad.id, other.id, second.id]  # prune leaves it for the user
    assert (bad_chunks <= chunk_files(store)) is keeps_chunks
    assert store.load(second.id).variables["own"].tobytes() == np.full(500_000, 2.0).tobytes()
    assert store.problems() == [problem]


def test_bad_manifests_and_no_good_one_say_so(store: Store) -> None:
    info = store.save({"a": 1})
    os.chmod(manifest_path(store, info.id), 0o666)
    with pytest.raises(
        SnapshotError,
        match=r"there are no snapshots in .* that can be read \(1 cannot: see "
        "`jupyter gpuguard verify`\\)",
    ):
        store.load()


# ---- part 7: links and foreign files inside the store ------------------------------------------


@pytest.mark.parametrize("directory", ["chunks", "snapshots"])
def test_a_store_directory_that_is_a_link_outside_is_refused(
    store: Store, tmp_path: Path, directory: str
) -> None:
    marker = tmp_path / "marker"
    snapshot_id, _chunk = payload_snapshot(store, marker)
    real = store.path / directory
    outside = tmp_path / f"outside-{directory}"
    move_behind_a_link(real, outside)
    outside_files = sorted(p for p in outside.rglob("*"))
    extra = outside / "not-a-chunk"  # prune would remove it if it collected through the link
    extra.write_text("kept")

    with pytest.raises(StoreSecurityError, match=f"{real}: it is a symbolic link"):
        store.load(snapshot_id)
    for call in (store.list, store.ids, store.verify):
        with pytest.raises(StoreSecurityError, match="it is a symbolic link"):
            call()
    with pytest.raises(StoreSecurityError, match="it is a symbolic link"):
        store.check_private(real)
    with pytest.raises(StoreSecurityError):
        store.prune(keep=1)
    if directory == "snapshots":
        with pytest.raises(StoreSecurityError):
            store.delete(snapshot_id)
    else:
        forged = VerifyReport([snapshot_id], 1, [DamagedChunk(_chunk, "damaged", ["payload"])])
        with pytest.raises(StoreSecurityError):
            store.repair(forged)
    assert not marker.exists()
    assert sorted(p for p in outside.rglob("*") if p != extra) == outside_files
    assert extra.read_text() == "kept"


def _make_link(path: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside-chunk"
    shutil.copy2(path, outside)  # the right bytes: the hash check alone would pass it
    path.unlink()
    path.symlink_to(outside)


def _give(path: Path, _tmp_path: Path) -> None:
    give_away(path)


def _loosen(path: Path, _tmp_path: Path) -> None:
    os.chmod(path, 0o666)


CHUNK_CASES: dict[str, tuple[Callable[[Path, Path], None], str]] = {
    "a-link": (_make_link, "it is a symbolic link."),
    "writable-by-others": (_loosen, "other users can write to it (mode 666)"),
}
if os.geteuid() == 0:
    CHUNK_CASES["another-users"] = (_give, f"it belongs to another user (uid {OTHER_UID}).")


@pytest.mark.parametrize("kind", sorted(CHUNK_CASES))
def test_a_chunk_that_is_a_link_or_not_ours_is_refused_and_repaired(
    store: Store, tmp_path: Path, kind: str
) -> None:
    make, reason = CHUNK_CASES[kind]
    marker = tmp_path / "marker"
    snapshot_id, chunk = payload_snapshot(store, marker)
    path = store.chunk_path(chunk)
    make(path, tmp_path)

    result = store.load(snapshot_id)
    assert [f.name for f in result.failed] == ["payload"]
    assert f"Refusing to read {path}: {reason}" in result.failed[0].error
    assert result.variables == {"x": 1}
    assert not marker.exists()
    report = store.verify()
    assert [(d.chunk, d.variables) for d in report.damaged] == [(chunk, ["payload"])]
    assert reason in report.damaged[0].problem
    assert store.repair(report) == [chunk]
    assert not os.path.lexists(path)
    if kind == "a-link":
        assert (tmp_path / "outside-chunk").exists()  # the link went, not what it named
    # the next snapshot of the same data writes the chunk again, as the store's own
    store.save({"payload": OpensMarker(str(marker)), "x": 1})
    assert store.verify().ok
    loaded = store.load(snapshot_id)
    assert marker.exists()
    loaded.variables["payload"].close()


@pytest.mark.parametrize("kind", ["a-link", "writable-by-others"])
def test_a_chunk_left_there_that_no_reader_accepts_is_written_again(
    store: Store, tmp_path: Path, kind: str
) -> None:
    data = np.arange(1_000_000, dtype=np.float64)
    info = store.save({"data": data})
    chunk = group_of(manifest_of(store, info.id), "data")["buffers"][0][0][0]
    CHUNK_CASES[kind][0](store.chunk_path(chunk), tmp_path)
    again = store.save({"data": data})
    assert again.bytes_written >= CHUNK_SIZE
    assert store.verify().ok
    assert store.load(info.id).variables["data"].tobytes() == data.tobytes()


@pytest.mark.parametrize("kind", ["a-link", "writable-by-others"])
def test_a_chunk_directory_that_is_a_link_or_open_to_others_is_refused(
    store: Store, tmp_path: Path, kind: str
) -> None:
    marker = tmp_path / "marker"
    snapshot_id, chunk = payload_snapshot(store, marker)
    prefix = store.chunk_path(chunk).parent
    if kind == "a-link":
        move_behind_a_link(prefix, tmp_path / "outside-prefix")
        reason = "it is a symbolic link"
    else:
        os.chmod(prefix, 0o777)
        reason = "other users can write to it"
    result = store.load(snapshot_id)
    (failed,) = [f for f in result.failed if f.name == "payload"]
    assert f"{prefix}: {reason}" in failed.error
    assert not marker.exists()
    assert store.repair(store.verify()) == []  # nothing is removed through it
    store.prune(keep=10)
    assert (prefix / chunk).exists()


# ---- part 8: a killed writer's temporary files -------------------------------------------------


def test_prune_removes_every_temporary_file_however_new(store: Store) -> None:
    info = store.save({"big": np.arange(1_000_000, dtype=np.int64)})
    chunk = next(iter(chunks_of(manifest_of(store, info.id))))
    temporary = [
        store.chunk_path(chunk).parent / f".tmp-{chunk[:16]}-0123abcd",
        store.snapshots_dir / f".tmp-{info.id}",
    ]
    for path in temporary:
        path.write_bytes(b"left by a killed writer")
    store.prune(keep=10)
    assert [p for p in temporary if p.exists()] == []
    assert store.load(info.id).failed == []


# ---- the lock of a reader ----------------------------------------------------------------------


def test_reading_creates_no_store(tmp_path: Path) -> None:
    store = Store(tmp_path / "none")
    with pytest.raises(SnapshotError, match="there are no snapshots"):
        store.load()
    with pytest.raises(SnapshotError, match="there is no snapshot"):
        store.load("20260101T000000.000000Z-0123abcd")
    assert store.list() == [] and store.problems() == [] and store.verify().ok
    assert not store.path.exists()


class ReadOnlyLock:
    """Stands in for ``os`` in the store module: the lock file cannot be created or opened
    for writing, as on a read-only volume."""

    def __getattr__(self, attribute: str) -> Any:
        return getattr(os, attribute)

    def open(self, path: Any, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if str(path) == "lock" and flags & (os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        return os.open(path, flags, mode, dir_fd=dir_fd)


@pytest.mark.parametrize("lock_file", [True, False], ids=["lock-file", "no-lock-file"])
def test_a_read_only_store_still_loads(
    store: Store, monkeypatch: pytest.MonkeyPatch, lock_file: bool
) -> None:
    info = store.save({"big": np.arange(1_000_000, dtype=np.int64)})
    if not lock_file:
        (store.path / "lock").unlink()
    monkeypatch.setattr(store_module, "os", ReadOnlyLock())
    result = store.load(info.id)
    assert result.failed == []
    assert result.variables["big"].tobytes() == np.arange(1_000_000, dtype=np.int64).tobytes()
    assert (store.path / "lock").exists() is lock_file

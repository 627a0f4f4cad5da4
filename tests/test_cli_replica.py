"""``jupyter gpuguard`` on a replica: list, show, verify and prune with ``--store s3://...``,
and ``pull``, against a real S3 server on loopback (moto's)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jupyter_gpuguard.cli import main
from jupyter_gpuguard.cli_replica import ProgressLine
from jupyter_gpuguard.snapshot import Store
from jupyter_gpuguard.snapshot.replica import Replica, Timeouts
from tests.fakes.server import closed_port_url
from tests.helpers.s3_server import KEYS, S3Server, moto_server, silent_server
from tests.helpers.store_writer import namespace
from tests.test_store_crash import assert_identical

pytest_plugins = ["tests.helpers.s3_server"]  # its fixtures: s3, clean_aws, aws_keys
pytest.importorskip("obstore")
pytest.importorskip("boto3")

REPO = Path(__file__).resolve().parent.parent
FAST = Timeouts(connect=1.0, request=10.0, retries=1, total=5.0)
QUICK = 15.0  # seconds a failing command may take, the interpreter's start included
ABSENT = "20260101T000000.000000Z-0123abcd"


@pytest.fixture
def config_dir(tmp_path, monkeypatch) -> Path:
    """A Jupyter config directory of this test's alone, and a local store in it."""
    directory = tmp_path / "jupyter-config"
    directory.mkdir()
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(directory))
    monkeypatch.setenv("GPUGUARD_STORE", str(tmp_path / "local"))
    return directory


class Uploaded:
    """A local store with snapshots of two notebooks, all uploaded to a fresh bucket."""

    def __init__(self, s3: S3Server, store: Store) -> None:
        self.s3 = s3
        self.store = store
        self.bucket = s3.new_bucket()
        self.url = f"s3://{self.bucket}/team/gpu-1"
        self.prefix = "team/gpu-1/"
        self.replica = Replica(self.url, endpoint_url=s3.url, region="us-east-1", timeouts=FAST)
        self.ids: list[str] = []  # oldest first

    def save(self, values: dict, notebook: str) -> str:
        info = self.store.save(values, notebook=notebook)
        time.sleep(0.005)  # ids have millisecond resolution: keep "newest first" unambiguous
        self.replica.upload(self.store, info.id)
        self.ids.append(info.id)
        return info.id

    def args(self, *argv: str) -> list[str]:
        return ["--store", self.url, "--endpoint-url", self.s3.url, *argv]

    def chunk_keys(self, snapshot_id: str) -> dict[str, list[str]]:
        """key -> the names of the variables, for every chunk of a snapshot."""
        manifest = json.loads(self.store.export_manifest(snapshot_id))
        keys: dict[str, list[str]] = {}
        for group in manifest["groups"]:
            for chunk_id, _size in [*group["stream"], *(c for b in group["buffers"] for c in b)]:
                keys.setdefault(f"{self.prefix}chunks/{chunk_id[:2]}/{chunk_id}", group["names"])
        return keys

    def put(self, key: str, body: bytes) -> None:
        self.s3.client().put_object(Bucket=self.bucket, Key=key, Body=body)

    def delete(self, key: str) -> None:
        self.s3.client().delete_object(Bucket=self.bucket, Key=key)


@pytest.fixture
def uploaded(s3, aws_keys, config_dir, tmp_path) -> Uploaded:
    up = Uploaded(s3, Store(tmp_path / "source"))
    up.save({"x": np.arange(300_000, dtype=np.float64), "label": "first"}, "a.ipynb")
    up.save(
        {"x": np.arange(300_000, dtype=np.float64), "y": np.ones((64, 64)), "f": (i for i in [])},
        "a.ipynb",
    )
    up.save({"w": np.full(50_000, 3, dtype=np.int64)}, "b.ipynb")
    return up


def run(capsys, argv: list[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, in its own interpreter, this worktree first on the path."""
    environ = {**os.environ, **(env or {})}
    environ["PYTHONPATH"] = os.pathsep.join(
        [*(env or {}).get("PYTHONPATH", "").split(os.pathsep), str(REPO)]
    ).strip(os.pathsep)
    return subprocess.run(
        [sys.executable, "-m", "jupyter_gpuguard.cli", *argv],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
    )


# ---- list ----------------------------------------------------------------------------------
def test_list_on_a_replica_as_for_a_local_store(uploaded) -> None:
    done = cli(*uploaded.args("list"))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    local = cli("--store", str(uploaded.store.path), "list")
    # the same table, row for row; the last line names the replica instead of the disk
    assert done.stdout.splitlines()[:-1] == local.stdout.splitlines()[:-1]
    assert [line.split()[0] for line in done.stdout.splitlines()[1:4]] == uploaded.ids[::-1]
    assert done.stdout.splitlines()[-1] == f"3 snapshots on {uploaded.url} ({uploaded.s3.url})."

    as_json = cli(*uploaded.args("list", "--json"))
    assert json.loads(as_json.stdout) == [info.to_json() for info in uploaded.store.list()]


def test_list_a_notebook_of_a_replica_and_an_empty_one(uploaded, capsys) -> None:
    code, out, _ = run(capsys, uploaded.args("list", "--notebook", "b.ipynb", "--json"))
    assert code == 0 and [info["id"] for info in json.loads(out)] == [uploaded.ids[2]]
    empty = f"s3://{uploaded.s3.new_bucket()}/x"
    code, out, err = run(capsys, ["--store", empty, "--endpoint-url", uploaded.s3.url, "list"])
    assert (code, err) == (0, "")
    assert out == f"No snapshots on {empty} ({uploaded.s3.url}).\n"


# ---- show ----------------------------------------------------------------------------------
def test_show_on_a_replica_describes_it_as_the_local_store_does(uploaded, capsys) -> None:
    snapshot_id = uploaded.ids[1]
    for extra in ([], ["--json"]):
        code, remote, err = run(capsys, uploaded.args("show", snapshot_id, *extra))
        assert (code, err) == (0, "")
        code, local, _ = run(capsys, ["--store", str(uploaded.store.path), "show", snapshot_id])
        if not extra:
            assert remote == local and "Skipped (1):" in remote
    assert json.loads(remote)["id"] == snapshot_id


@pytest.mark.parametrize("command", ["show", "verify"])
def test_an_unknown_id_on_a_replica_exits_2(uploaded, capsys, command) -> None:
    code, out, err = run(capsys, uploaded.args(command, ABSENT))
    assert (code, out) == (2, "")
    assert f"there is no snapshot {ABSENT} on {uploaded.url}" in err
    code, _, err = run(capsys, uploaded.args(command, "not-an-id"))
    assert code == 2 and "is not a snapshot id" in err


# ---- verify --------------------------------------------------------------------------------
def test_verify_a_replica_finds_missing_and_damaged_chunks(uploaded, capsys) -> None:
    code, out, err = run(capsys, uploaded.args("verify"))
    assert (code, err) == (0, "")
    assert out.startswith("OK: 3 snapshots, ") and "present with their sizes" in out
    code, out, _ = run(capsys, uploaded.args("verify", "--deep", uploaded.ids[0]))
    assert code == 0 and out.startswith("OK: 1 snapshot, ")
    assert "checked against their hashes" in out

    # b's chunk: gone; one of the newest a's: the same size, other bytes
    (gone, gone_names), *_ = uploaded.chunk_keys(uploaded.ids[2]).items()
    uploaded.delete(gone)
    keys = uploaded.chunk_keys(uploaded.ids[1])
    swapped = next(key for key, names in keys.items() if "y" in names)
    size = uploaded.s3.client().head_object(Bucket=uploaded.bucket, Key=swapped)["ContentLength"]
    uploaded.put(swapped, b"\0" * size)

    code, out, _ = run(capsys, uploaded.args("verify"))
    assert code == 1
    assert f"DAMAGED  chunk {gone.rsplit('/', 1)[1][:12]} is missing from {uploaded.url}" in out
    assert f"affects: {', '.join(gone_names)}" in out
    assert "1 damaged chunk, 0 other problems." in out  # same size: only --deep tells

    code, out, _ = run(capsys, uploaded.args("verify", "--deep", "--json"))
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    problems = {d["chunk"]: d["problem"] for d in report["damaged"]}
    assert "missing" in problems[gone.rsplit("/", 1)[1]]
    assert "does not match its hash" in problems[swapped.rsplit("/", 1)[1]]
    assert report["chunks_checked"] == len(
        {k for i in uploaded.ids for k in uploaded.chunk_keys(i)}
    )


def test_verify_names_a_damaged_manifest_on_a_replica(uploaded, capsys) -> None:
    uploaded.put(f"{uploaded.prefix}snapshots/{uploaded.ids[0]}.json", b'{"id": "x"')
    code, out, _ = run(capsys, uploaded.args("verify"))
    assert code == 1
    assert f"PROBLEM  {uploaded.ids[0]}: the manifest of snapshot {uploaded.ids[0]}" in out
    assert "is damaged" in out and "0 damaged chunks, 1 other problem." in out


def test_verify_repair_is_for_a_local_store(uploaded, capsys) -> None:
    code, _, err = run(capsys, uploaded.args("verify", "--repair"))
    assert code == 2 and "--repair mends a local store" in err


# ---- prune ---------------------------------------------------------------------------------
def test_prune_a_replica_keeps_the_newest_per_notebook(uploaded, capsys) -> None:
    code, out, err = run(capsys, uploaded.args("prune", "--keep", "1", "--grace", "600"))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == ["Removed 1 snapshot:", f"  {uploaded.ids[0]}"]
    assert lines[2] == "Removed 0 unreferenced chunks, freed 0 B."
    # the chunks only the removed snapshot used wait out the grace period
    only_old = set(uploaded.chunk_keys(uploaded.ids[0])) - {
        *uploaded.chunk_keys(uploaded.ids[1]),
        *uploaded.chunk_keys(uploaded.ids[2]),
    }
    one = len(only_old) == 1
    assert lines[3] == (
        f"{len(only_old)} unreferenced chunk{'' if one else 's'} wait{'s' if one else ''} out "
        f"the grace period (600 s) before a later prune deletes {'it' if one else 'them'}."
    )
    assert lines[-1] == f"Replica {uploaded.url} ({uploaded.s3.url})."
    assert uploaded.replica.ids() == uploaded.ids[:0:-1]

    code, out, _ = run(capsys, uploaded.args("prune", "--keep", "1", "--json"))
    report = json.loads(out)
    assert code == 0 and report["removed_snapshots"] == [] and report["grace_seconds"] == 3600
    assert report["waiting_chunks"] == len(only_old) and report["removed_chunks"] == 0


def test_prune_a_replica_refuses_what_would_be_unsafe(uploaded, capsys) -> None:
    code, _, err = run(capsys, uploaded.args("prune", "--grace", "10"))
    assert code == 1 and "grace period must be at least 600 seconds" in err
    code, _, err = run(capsys, uploaded.args("prune", "--max-size", "1G"))
    assert code == 2 and "--max-size applies to a local store" in err
    code, _, err = run(capsys, ["--store", str(uploaded.store.path), "prune", "--grace", "700"])
    assert code == 2 and "--grace applies to a replica" in err
    assert uploaded.replica.ids() == uploaded.ids[::-1]


# ---- pull ----------------------------------------------------------------------------------
def test_pull_then_show_and_load_from_the_local_store(s3, aws_keys, config_dir, tmp_path) -> None:
    up = Uploaded(s3, Store(tmp_path / "source"))
    older = up.save(namespace(5, 0), "train.ipynb")
    newer = up.save(namespace(5, 1), "train.ipynb")
    target = tmp_path / "new-disk"
    done = cli("pull", older, "--from", up.url, "--endpoint-url", s3.url, "--store", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"Pulled {older} from {up.url} ({s3.url}) into {target}: ")
    assert "Traceback" not in done.stderr
    local = Store(target)
    assert local.ids() == [older]
    shown_local = cli("--store", str(target), "show", older)
    shown_remote = cli(*up.args("show", older))
    assert shown_local.returncode == 0 and shown_local.stdout == shown_remote.stdout
    result = local.load(older)
    assert result.failed == [] and result.skipped == []
    assert_identical(result.variables, namespace(5, 0))

    # the newest of the notebook; only the chunks the store lacks come down
    done = cli(
        "--json",
        "pull",
        "--latest",
        "train.ipynb",
        "--from",
        up.url,
        "--store",
        str(target),
        env={"AWS_ENDPOINT_URL": s3.url},
    )
    assert done.returncode == 0, done.stderr
    pulled = json.loads(done.stdout)
    assert pulled["id"] == newer and pulled["chunks_present"] > 0
    assert_identical(Store(target).load(newer).variables, namespace(5, 1))
    assert local.verify().ok


def test_pull_reads_the_replica_from_the_config_files(uploaded, config_dir, capsys) -> None:
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "GpuGuard": {
                    "snapshot_replica": uploaded.url,
                    "s3_endpoint_url": uploaded.s3.url,
                    "s3_region": "us-east-1",
                }
            }
        )
    )
    code, out, err = run(capsys, ["pull", uploaded.ids[2]])
    assert (code, err) == (0, ""), err
    local = Store(os.environ["GPUGUARD_STORE"])
    assert local.ids() == [uploaded.ids[2]]
    assert (local.load(uploaded.ids[2]).variables["w"] == 3).all()
    # again: the store has every chunk, only the manifest comes down
    code, out, err = run(capsys, ["--json", "pull", uploaded.ids[2]])
    again = json.loads(out)
    assert (code, again["chunks_downloaded"]) == (0, 0) and again["chunks_present"] > 0
    assert local.ids() == [uploaded.ids[2]]
    # and list --store s3://... finds its endpoint there too
    code, out, _ = run(capsys, ["--store", uploaded.url, "list", "--json"])
    assert code == 0 and len(json.loads(out)) == 3


def test_pull_uses_the_replica_set_in_the_panel_with_its_keys(
    uploaded, config_dir, capsys, monkeypatch, tmp_path
) -> None:
    from jupyter_gpuguard.snapshot.replica.settings import parse, save

    panel_file = tmp_path / "secrets" / "replica.json"
    (config_dir / "jupyter_server_config.json").write_text(
        json.dumps(
            {
                "GpuGuard": {
                    "snapshot_replica": "s3://not-this-one",
                    "replica_settings_file": str(panel_file),
                }
            }
        )
    )
    keys = {"access_key_id": KEYS["AWS_ACCESS_KEY_ID"], "secret_access_key": "panel-secret"}
    save(panel_file, parse({"url": uploaded.url, "endpoint_url": uploaded.s3.url, **keys}))
    for name in KEYS:
        monkeypatch.delenv(name)  # only the panel's keys
    code, out, err = run(capsys, ["pull", uploaded.ids[0]])
    assert (code, err) == (0, ""), err
    assert Store(os.environ["GPUGUARD_STORE"]).ids() == [uploaded.ids[0]]
    assert "panel-secret" not in out


def test_pull_an_unknown_id_exits_2_and_writes_nothing(uploaded, capsys) -> None:
    local = Path(os.environ["GPUGUARD_STORE"])
    base = ["pull", "--from", uploaded.url, "--endpoint-url", uploaded.s3.url]
    done = cli(*base, ABSENT)
    assert (done.returncode, done.stdout) == (2, "")
    assert f"there is no snapshot {ABSENT} on {uploaded.url}" in done.stderr
    assert "Traceback" not in done.stderr
    code, _, err = run(capsys, [*base, "--latest", "nowhere.ipynb"])
    assert code == 2 and "there is no snapshot of nowhere.ipynb" in err
    code, _, err = run(capsys, [*base, "garbage"])
    assert code == 2 and "is not a snapshot id" in err
    code, _, err = run(capsys, base)
    assert code == 2 and "give a snapshot ID or --latest NOTEBOOK" in err
    assert not (local / "snapshots").exists() or Store(local).ids() == []


def test_pull_needs_a_replica_and_a_local_store(uploaded, capsys) -> None:
    code, _, err = run(capsys, ["pull", uploaded.ids[0]])
    assert code == 2 and "no replica to pull from" in err
    code, _, err = run(capsys, ["pull", uploaded.ids[0], "--from", "/tmp/dir"])
    assert code == 2 and "--from takes a replica's address" in err
    code, _, err = run(
        capsys, ["pull", uploaded.ids[0], "--from", uploaded.url, "--store", "s3://b/x"]
    )
    assert code == 2 and "pull writes into a local store" in err
    code, _, err = run(capsys, uploaded.args("wheelhouse"))
    assert code == 2 and "wheelhouse works on a local store" in err


def test_pull_refuses_a_damaged_chunk(uploaded, capsys) -> None:
    key = next(iter(uploaded.chunk_keys(uploaded.ids[2])))
    uploaded.put(key, b"not the chunk")
    code, out, err = run(
        capsys, ["pull", uploaded.ids[2], "--from", uploaded.url, "--endpoint-url", uploaded.s3.url]
    )
    assert (code, out) == (1, "")
    assert "is damaged" in err or "larger than it can be" in err
    assert Store(os.environ["GPUGUARD_STORE"]).ids() == []


# ---- failures: one line, exit 1, quickly ----------------------------------------------------
def failing(*argv: str, env: dict[str, str] | None = None) -> str:
    started = time.monotonic()
    done = cli(*argv, env=env)
    took = time.monotonic() - started
    assert took < QUICK, f"{argv} took {took:.1f} s"
    assert (done.returncode, done.stdout) == (1, ""), done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1, done.stderr
    return done.stderr


def test_an_unreachable_endpoint_fails_quickly(aws_keys, config_dir, tmp_path) -> None:
    url = closed_port_url()
    for argv in (["list"], ["verify"], ["prune"], ["show", ABSENT]):
        err = failing("--store", "s3://bucket-a/x", "--endpoint-url", url, *argv)
        assert f"{url} cannot be reached (for s3://bucket-a/x)" in err
    err = failing("pull", ABSENT, "--from", "s3://bucket-a/x", "--endpoint-url", url)
    assert "cannot be reached" in err


def test_a_silent_endpoint_gives_up_within_the_timeout(aws_keys, config_dir) -> None:
    with silent_server() as url:
        err = failing("--store", "s3://bucket-a/x", "--endpoint-url", url, "list", "--timeout", "1")
    assert f"{url} cannot be reached (for s3://bucket-a/x)" in err


def test_a_missing_bucket(s3, aws_keys, config_dir) -> None:
    err = failing("--store", "s3://no-such-bucket/x", "--endpoint-url", s3.url, "list")
    assert f"the bucket no-such-bucket does not exist at {s3.url}" in err
    err = failing("pull", ABSENT, "--from", "s3://no-such-bucket/x", "--endpoint-url", s3.url)
    assert "does not exist" in err


def test_wrong_credentials_are_named_and_never_shown(clean_aws, config_dir, tmp_path) -> None:
    # moto checks keys after its first action (which makes the bucket)
    with moto_server(INITIAL_NO_AUTH_ACTION_COUNT="1") as server:
        bucket = server.new_bucket()
        env = {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWNKEY000000", "AWS_SECRET_ACCESS_KEY": "n0t-a-secret"}
        url = f"s3://{bucket}/x"
        for argv in (["--store", url, "list"], ["pull", ABSENT, "--from", url]):
            err = failing(*argv, "--endpoint-url", server.url, env=env)
            assert f"{server.url} refused the credentials for s3://{bucket}/x" in err
            assert "AKIAUNKNOWN" not in err and "n0t-a-secret" not in err


def test_a_bad_address_and_a_bad_timeout(aws_keys, config_dir, capsys) -> None:
    code, _, err = run(capsys, ["--store", "s3://KEY:SECRET@bucket/x", "list"])
    assert code == 1 and "not of the form s3://bucket/prefix" in err and "SECRET" not in err
    code, _, err = run(capsys, ["--store", "s3://bucket/x", "list", "--timeout", "0"])
    assert code == 2 and "must be a positive number of seconds" in err


def test_without_obstore_it_says_what_to_install(aws_keys, config_dir, tmp_path) -> None:
    blocked = tmp_path / "blocked" / "obstore"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('obstore is not installed here')\n")
    env = {"PYTHONPATH": str(blocked.parent)}
    err = failing("--store", "s3://bucket-a/x", "list", env=env)
    assert "pip install 'jupyter-gpuguard[s3]'" in err
    err = failing("pull", ABSENT, "--from", "s3://bucket-a/x", env=env)
    assert "obstore" in err
    # the local store still works without it
    assert cli("list", env=env).returncode == 0


# ---- progress ------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_shows_only_a_transfer_that_takes_over_a_second() -> None:
    clock, stream = Clock(), io.StringIO()
    progress = ProgressLine("pulling X", stream, clock=clock)
    progress(8_000_000)  # the first call: the total
    clock.now += 0.5
    progress(6_000_000)
    assert stream.getvalue() == ""
    clock.now += 0.6
    progress(4_000_000)
    clock.now += 1.0  # a log gets a line every few seconds, not one per chunk
    progress(3_000_000)
    clock.now += 0.1
    progress(0)  # the end is always shown
    progress.finish()
    assert stream.getvalue().splitlines() == [
        "pulling X: 4.0 MB left of 8.0 MB",
        "pulling X: 0 B left of 8.0 MB",
    ]

    quick, quiet = Clock(), io.StringIO()
    fast = ProgressLine("pulling Y", quiet, clock=quick)
    fast(10)
    quick.now += 0.2
    fast(0)
    fast.finish()
    assert quiet.getvalue() == ""


def test_progress_on_a_terminal_redraws_one_line() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    clock, stream = Clock(), Terminal()
    progress = ProgressLine("pulling X", stream, clock=clock)
    progress(2_000_000)
    clock.now += 1.5
    progress(1_000_000)
    clock.now += 0.5
    progress(0)
    progress.finish()
    assert stream.getvalue() == (
        "\rpulling X: 1.0 MB left of 2.0 MB\x1b[K\rpulling X: 0 B left of 2.0 MB\x1b[K\n"
    )


def test_keys_stay_out_of_every_output(uploaded, capsys) -> None:
    for argv in (["list"], ["show", uploaded.ids[0]], ["verify"], ["list", "--json"]):
        code, out, err = run(capsys, uploaded.args(*argv))
        assert code == 0
        for secret in KEYS.values():
            assert secret not in out and secret not in err

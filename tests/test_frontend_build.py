"""The frontend build step of a source install: rebuilt when its sources are newer, never
needed for an up-to-date build (a wheel or an sdist), and a clear stop without Node."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import frontend_build
from frontend_build import BUILT, node_problem, stale_reason

REPO = Path(__file__).resolve().parent.parent
BUILT_AT = 1_700_000_000  # any fixed moment: the tests set every mtime around it


def stamp(root: Path, when: float) -> None:
    for directory, _dirs, files in os.walk(root):
        for name in files:
            os.utime(Path(directory) / name, (when, when))


def tree(root: Path) -> Path:
    """A checkout's frontend sources with a build one second newer than all of them."""
    for source in ("src/index.ts", "style/base.css", "schema/plugin.json"):
        (root / source).parent.mkdir(parents=True, exist_ok=True)
        (root / source).write_text("//")
    for name in ("package.json", "tsconfig.json", "yarn.lock"):
        (root / name).write_text("{}")
    for marker in frontend_build.BUILT_MARKERS:
        (root / BUILT / marker).parent.mkdir(parents=True, exist_ok=True)
        (root / BUILT / marker).write_text("built")
    stamp(root, BUILT_AT - 1)
    stamp(root / BUILT, BUILT_AT)
    return root


def test_an_up_to_date_build_is_kept(tmp_path: Path):
    assert stale_reason(tree(tmp_path)) is None


def test_sources_as_old_as_the_build_need_no_rebuild(tmp_path: Path):
    """An sdist: every file carries the same mtime."""
    root = tree(tmp_path)
    stamp(root, BUILT_AT)
    assert stale_reason(root) is None


@pytest.mark.parametrize(
    "changed",
    ["src/index.ts", "style/base.css", "schema/plugin.json", "package.json", "yarn.lock"],
)
def test_a_newer_source_means_a_rebuild(tmp_path: Path, changed: str):
    root = tree(tmp_path)
    os.utime(root / changed, (BUILT_AT + 5, BUILT_AT + 5))
    assert stale_reason(root) == f"{changed} is newer than the build in {BUILT}"


def test_a_missing_or_partial_build_means_a_build(tmp_path: Path):
    root = tree(tmp_path)
    (root / BUILT / "static" / "style.js").unlink()
    assert stale_reason(root) == f"{BUILT} has no complete build"


def fake_node(bin_dir: Path, version: str) -> None:
    bin_dir.mkdir(exist_ok=True)
    node = bin_dir / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)


@pytest.mark.parametrize(
    ("version", "usable"),
    [
        ("v18.20.4", False),  # Debian 12's nodejs
        ("v20.18.1", False),
        ("v20.19.0", True),
        ("v21.7.3", False),
        ("v22.11.0", False),
        ("v22.12.0", True),
        ("v24.1.0", True),
    ],
)
def test_the_node_rspack_needs(tmp_path: Path, monkeypatch, version: str, usable: bool):
    fake_node(tmp_path / "bin", version)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    problem = node_problem()
    assert (problem is None) == usable, problem
    if not usable:
        assert problem == f"the `node` on PATH is {version}"


def test_no_node_at_all(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert node_problem() == "no `node` was found on PATH"


PROJECT_FILES = [
    "pyproject.toml", "README.md", "LICENSE", "package.json", "install.json", "tsconfig.json",
    "yarn.lock", "frontend_build.py", "jupyter-config", "jupyter_gpuguard", "src", "style",
    "schema",
]  # fmt: skip


@pytest.mark.skipif(
    not (REPO / BUILT / "static" / "style.js").is_file(), reason="the frontend is not built here"
)
def test_a_checkout_with_a_fresh_build_makes_a_wheel_without_node(tmp_path: Path):
    checkout = tmp_path / "checkout"
    for name in PROJECT_FILES:
        source, target = REPO / name, checkout / name
        if source.is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(source, target, ignore=ignore)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    stamp(checkout, BUILT_AT - 1)
    stamp(checkout / BUILT, BUILT_AT)
    # No Node anywhere: nothing on PATH (pip runs its build by absolute path).
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    env.pop("PYTHONPATH", None)
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(tmp_path / "dist")]

    done = subprocess.run([*build, str(checkout)], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    [wheel] = (tmp_path / "dist").glob("jupyter_gpuguard-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert any(
            n.endswith("labextensions/jupyter-gpuguard/static/style.js") for n in archive.namelist()
        )

    # After a change in src/, the old build must not ship: without Node that is a clear stop.
    os.utime(checkout / "src" / "index.ts", (BUILT_AT + 5, BUILT_AT + 5))
    done = subprocess.run([*build, str(checkout)], capture_output=True, text=True, env=env)
    assert done.returncode != 0
    said = done.stdout + done.stderr
    assert "src/index.ts is newer than the build" in said
    assert "needs Node.js ^20.19 or >= 22.12" in said

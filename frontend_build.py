"""The frontend step of ``pip install .`` and ``python -m build``.

It builds the labextension (``jlpm build:prod``) only when the build is missing or older than
what it is built from. hatch-jupyter-builder's ``skip-if-exists`` skips whenever any old build
exists, which let a source install after a change in ``src/`` ship a stale frontend, and its
own staleness test watches a single directory. An sdist carries the built labextension with
the same mtime as its sources, so a wheel built from it, or ``pip install`` of it, needs no
Node.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

# Everything the bundle is made from: a newer file in any of them means a rebuild.
SOURCES = ("src", "style", "schema", "package.json", "tsconfig.json", "yarn.lock")
BUILT = Path("jupyter_gpuguard") / "labextension"
# Written by every build; the older of the two dates the build.
BUILT_MARKERS = ("package.json", "static/style.js")
NODE_REQUIREMENT = "Node.js ^20.19 or >= 22.12"

log = logging.getLogger(__name__)


def _newest(path: Path) -> tuple[float, Path] | None:
    if path.is_file():
        return path.stat().st_mtime, path
    newest: tuple[float, Path] | None = None
    for directory, _dirs, files in os.walk(path):
        for name in files:
            found = Path(directory) / name
            mtime = found.stat().st_mtime
            if newest is None or mtime > newest[0]:
                newest = (mtime, found)
    return newest


def stale_reason(root: Path) -> str | None:
    """Why the labextension under ``root`` must be built, or None when it is up to date."""
    built = root / BUILT
    markers = [built / marker for marker in BUILT_MARKERS]
    if not all(marker.is_file() for marker in markers):
        return f"{BUILT} has no complete build"
    built_at = min(marker.stat().st_mtime for marker in markers)
    for source in SOURCES:
        newest = _newest(root / source)
        if newest is not None and newest[0] > built_at:
            return f"{newest[1].relative_to(root)} is newer than the build in {BUILT}"
    return None


def _npm_skipped() -> bool:
    return "--skip-npm" in sys.argv or os.environ.get("HATCH_JUPYTER_BUILDER_SKIP_NPM") == "1"


def node_problem() -> str | None:
    """Why the Node.js on PATH cannot build the frontend, or None when it can."""
    node = shutil.which("node")
    if node is None:
        return "no `node` was found on PATH"
    try:
        shown = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as err:
        return f"`node --version` failed: {err}"
    match = re.fullmatch(r"v?(\d+)\.(\d+)\S*", shown)
    if match is None:
        return None  # an unusual build of Node: let the build itself say whether it works
    major, minor = int(match[1]), int(match[2])
    if (major == 20 and minor >= 19) or (major == 22 and minor >= 12) or major > 22:
        return None
    return f"the `node` on PATH is {shown}"


def build(target_name: str, version: str, **kwargs: Any) -> None:
    """hatch-jupyter-builder's ``build-function``: ``npm_builder`` when the build is stale."""
    from hatch_jupyter_builder import npm_builder

    root = Path(kwargs.get("path", ".")).resolve()
    reason = stale_reason(root)
    if reason is None:
        log.info("The frontend in %s is up to date: not rebuilt", BUILT)
        return
    log.info("Building the frontend: %s", reason)
    problem = None if _npm_skipped() else node_problem()
    if problem is not None:
        raise RuntimeError(
            f"{reason}, and building it needs {NODE_REQUIREMENT} (for rspack), but {problem}. "
            "Install such a Node.js, or install a wheel built where one is "
            "(`python -m build --wheel`; see the README's Quick start)."
        )
    npm_builder(target_name, version, **kwargs)

"""Writing the wheelhouse: the extension's own wheel, then its dependencies' for each Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from urllib.parse import unquote, urlparse

from packaging.tags import sys_tags

from . import needs
from .rebuild import WheelRebuildError, installed_wheel, is_editable, wheel_name
from .report import BUILT, DOWNLOADED, KEPT, REBUILT, Wheel, WheelhouseReport

PACKAGE = "jupyter_gpuguard"
DIR_NAME = "wheels"
PIP_TIMEOUT_S = 600


class WheelhouseError(Exception):
    """The wheelhouse cannot be written; the message says where and why."""


def default_dir(store_path: Path | None = None) -> Path:
    """``wheels/`` in the snapshot store, where the pods' start command looks for it."""
    if store_path is None:
        from ..snapshot.location import default_store_path

        store_path = default_store_path()
    return Path(store_path) / DIR_NAME


def installed() -> metadata.Distribution:
    dist = needs.distribution(PACKAGE)
    if dist is None:
        raise WheelhouseError(f"{PACKAGE} is not installed in {sys.prefix}")
    return dist


def _prepare(directory: Path) -> None:
    """Make ``directory`` and prove it writable: one clear error when it is not."""
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".probe-"):
            pass
    except OSError as err:
        detail = err.strerror or str(err)
        raise WheelhouseError(f"cannot write the wheelhouse in {directory}: {detail}") from None


def _place(source: Path, directory: Path) -> bool:
    """Copy ``source`` into ``directory`` unless a wheel of that name is there; whole or not at
    all, so that a pip reading the directory meanwhile never sees half a wheel."""
    target = directory / source.name
    if target.exists():
        return False
    partial = directory / f".{source.name}.{os.getpid()}.partial"
    try:
        with source.open("rb") as reader, partial.open("wb") as writer:
            while block := reader.read(1 << 20):
                writer.write(block)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return True


def _pip(*args: str) -> tuple[bool, str]:
    """Run this environment's pip; (success, its last error line)."""
    command = [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=PIP_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError) as err:
        return False, f"pip could not run: {err}"
    if done.returncode == 0:
        return True, ""
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR")]
    return False, (errors or lines or [f"pip exited with {done.returncode}"])[-1]


def _own_wheel(dist: metadata.Distribution, directory: Path, scratch: Path) -> Wheel:
    try:
        name = wheel_name(dist)
    except WheelRebuildError as err:
        raise WheelhouseError(str(err)) from None
    if (directory / name).exists():
        return Wheel(name, KEPT)
    if is_editable(dist):
        # An editable install's files are its source tree, which pip can build.
        url = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
        tree, out = unquote(urlparse(url).path), scratch / "editable"
        ok, why = _pip("wheel", "--no-deps", "--wheel-dir", str(out), tree)
        built = next(out.glob("*.whl"), None)
        if not ok or built is None:
            raise WheelhouseError(f"the editable install in {tree} did not build a wheel: {why}")
        _place(built, directory)
        return Wheel(built.name, BUILT)
    try:
        built = installed_wheel(dist, scratch / "own")
    except WheelRebuildError as err:
        raise WheelhouseError(str(err)) from None
    _place(built, directory)
    return Wheel(built.name, REBUILT)


def _download(requirements: list[str], python: str, out: Path) -> str:
    """``pip download`` the wheels ``python`` on a RunPod image needs; '' or why it failed."""
    platforms = [arg for platform in needs.PLATFORMS for arg in ("--platform", platform)]
    ok, why = _pip(
        "download",
        "--only-binary=:all:",
        "--implementation",
        "cp",
        "--python-version",
        python,
        *platforms,
        # A machine without network must not wait through pip's five retries.
        "--retries",
        "1",
        "--timeout",
        "20",
        "--dest",
        str(out),
        *requirements,
    )
    return why


def _fetch(dist: metadata.Distribution, python: str, scratch: Path) -> tuple[list[Path], str]:
    """The dependencies' wheels for ``python``: the versions installed here where it has them,
    else the newest that fit the requirements; (wheels, why not all)."""
    direct = needs.direct(dist, python)
    if not direct:
        return [], ""
    out = scratch / f"py{python}"
    why = _download([needs.pinned(r) for r in direct], python, out)
    if why:  # a version this Python has no wheel of: let pip choose one that fits
        why = _download([needs.unpinned(r) for r in direct], python, out)
    return sorted(out.glob("*.whl")), why


def _rebuild_here(names: Iterable[str], scratch: Path) -> tuple[list[Path], list[str]]:
    """This environment's installed copies: how an offline machine covers its own Python."""
    built, failed = [], []
    for name in names:
        dist = needs.distribution(name)
        try:
            if dist is None:
                raise WheelRebuildError("not installed here")
            built.append(installed_wheel(dist, scratch / "here"))
        except WheelRebuildError as err:
            failed.append(f"{name}: {err}")
    return built, failed


def _is_target(pythons: list[str]) -> bool:
    machine = sys.platform == "linux" and os.uname().machine == "x86_64"
    return machine and sys.implementation.name == "cpython" and needs.this_python() in pythons


def write_wheelhouse(
    directory: Path | None = None, pythons: Iterable[str] = needs.TARGET_PYTHONS
) -> WheelhouseReport:
    """Write the installed version's wheel and its dependencies' wheels into ``directory``
    (default: ``default_dir()``), for each of ``pythons`` on a RunPod image."""
    directory = Path(directory) if directory is not None else default_dir()
    dist = installed()
    _prepare(directory)
    report = WheelhouseReport(directory, dist.version)
    pythons = list(dict.fromkeys(pythons))
    why_not: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="gpuguard-wheelhouse-") as scratch_dir:
        scratch = Path(scratch_dir)
        report.wheels.append(_own_wheel(dist, directory, scratch))
        for python in pythons:
            if not needs.uncovered(
                directory, needs.needed(dist, python), needs.target_tags(python)
            ):
                continue
            fetched, why = _fetch(dist, python, scratch)
            report.wheels += [Wheel(w.name, DOWNLOADED) for w in fetched if _place(w, directory)]
            if why:
                why_not[python] = why
        here, local_tags = needs.needed(dist, needs.this_python()), set(sys_tags())
        missing = needs.uncovered(directory, here, local_tags)
        if missing:
            rebuilt, failed = _rebuild_here(missing, scratch)
            report.wheels += [Wheel(w.name, REBUILT) for w in rebuilt if _place(w, directory)]
            if failed and needs.this_python() in why_not:
                why_not[needs.this_python()] += f"; no copy here to rebuild: {'; '.join(failed)}"
    report.wheels += _kept(directory, report, dist, pythons)
    for python in pythons:
        wanted = [PACKAGE, *needs.needed(dist, python)]
        missing = needs.uncovered(directory, wanted, needs.target_tags(python))
        if missing:
            why = why_not.get(python, "pip download found none")
            report.lacks[python] = f"no wheel of {', '.join(missing)} ({why})"
        else:
            report.covers.append(python)
    report.this_python_covered = not needs.uncovered(directory, [PACKAGE, *here], local_tags)
    if not _is_target(pythons):
        report.this_python = f"{needs.this_python()}, {sys.platform}"
    return report


def _kept(
    directory: Path, report: WheelhouseReport, dist: metadata.Distribution, pythons: list[str]
) -> list[Wheel]:
    """The wheels an earlier run wrote that this version needs too."""
    from packaging.utils import InvalidWheelFilename, parse_wheel_filename

    listed = {w.file for w in report.wheels}
    names = {n for python in pythons for n in needs.needed(dist, python)}
    kept = []
    for path in sorted(directory.glob("*.whl")):
        try:
            name = parse_wheel_filename(path.name)[0]
        except InvalidWheelFilename:
            continue
        if name in names and path.name not in listed:
            kept.append(Wheel(path.name, KEPT))
    return kept


def has_installed_version(directory: Path) -> bool:
    """Whether ``directory`` holds the wheel of the installed version."""
    try:
        return (directory / wheel_name(installed())).exists()
    except WheelRebuildError as err:
        raise WheelhouseError(str(err)) from None

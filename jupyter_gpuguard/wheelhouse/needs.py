"""What a wheelhouse must hold for a Python, and whether it does.

The machine that installs from it has JupyterLab (a RunPod image), so JupyterLab and what
it requires are left out; the rest of the extension's requirements, followed through the
installed distributions' metadata, are what the wheelhouse needs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)

# The Pythons of RunPod's official images.
TARGET_PYTHONS = ("3.10", "3.11", "3.12")
# glibc 2.31 (Ubuntu 20.04) and later run RunPod's images. pip widens only the legacy
# manylinux names by itself, so each glibc from 2.5 up is named.
PLATFORMS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(31, 4, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
)
PLATFORM_WORDS = "CPython, manylinux x86_64"
# What the installing machine has even when this one lacks JupyterLab's metadata.
JUPYTERLAB_BRINGS = ("jupyterlab", "jupyter-server", "ipykernel")


def distribution(name: str) -> metadata.Distribution | None:
    try:
        return metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return None


def this_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _requirements(dist: metadata.Distribution) -> list[Requirement]:
    found = []
    for text in dist.requires or []:
        try:
            found.append(Requirement(text))
        except InvalidRequirement:
            continue
    return found


def _wanted(requirement: Requirement, env: dict[str, str], extras: Iterable[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({**env, "extra": e}) for e in ("", *extras))


def target_environment(python: str) -> dict[str, str]:
    """Marker values of a RunPod image running ``python``."""
    env = dict(default_environment())
    env.update(
        python_version=python,
        python_full_version=f"{python}.0",
        implementation_name="cpython",
        platform_python_implementation="CPython",
        sys_platform="linux",
        platform_system="Linux",
        platform_machine="x86_64",
        os_name="posix",
    )
    return env


def _closure(
    roots: Iterable[Requirement], env: dict[str, str], skip: set[NormalizedName]
) -> dict[NormalizedName, Requirement]:
    """Every requirement reached from ``roots`` through the installed metadata, but for those
    in ``skip`` and what only they need."""
    found: dict[NormalizedName, Requirement] = {}
    pending: list[tuple[Requirement, tuple[str, ...]]] = [(r, ()) for r in roots]
    while pending:
        requirement, extras = pending.pop()
        if not _wanted(requirement, env, extras):
            continue
        name = canonicalize_name(requirement.name)
        if name in skip or name in found:
            continue
        found[name] = requirement
        dist = distribution(name)
        if dist is not None:
            pending += [(r, tuple(requirement.extras)) for r in _requirements(dist)]
    return found


def brought_by_jupyterlab() -> set[NormalizedName]:
    """JupyterLab and everything it requires here: the installing machine has those."""
    names = {canonicalize_name(n) for n in JUPYTERLAB_BRINGS}
    if distribution("jupyterlab") is None:
        return names
    return names | set(_closure([Requirement("jupyterlab")], dict(default_environment()), set()))


def direct(dist: metadata.Distribution, python: str) -> list[Requirement]:
    """``dist``'s own requirements that a JupyterLab machine running ``python`` may lack."""
    env, brought = target_environment(python), brought_by_jupyterlab()
    return [
        r
        for r in _requirements(dist)
        if _wanted(r, env, ()) and canonicalize_name(r.name) not in brought
    ]


def needed(dist: metadata.Distribution, python: str) -> list[NormalizedName]:
    """Those and what they require in turn, as far as the installed metadata tells."""
    return sorted(
        _closure(direct(dist, python), target_environment(python), brought_by_jupyterlab())
    )


def pinned(requirement: Requirement) -> str:
    """The version installed here when it fits (the one this environment runs with)."""
    dist = distribution(requirement.name)
    name = canonicalize_name(requirement.name)
    if dist is not None and requirement.specifier.contains(dist.version, prereleases=True):
        return f"{name}=={dist.version}"
    return unpinned(requirement)


def unpinned(requirement: Requirement) -> str:
    return f"{canonicalize_name(requirement.name)}{requirement.specifier}"


# ---- coverage ------------------------------------------------------------------------------
def target_tags(python: str) -> set[Tag]:
    major, minor = (int(part) for part in python.split("."))
    version = (major, minor)
    return set(cpython_tags(version, platforms=PLATFORMS)) | set(
        compatible_tags(version, f"cp{major}{minor}", platforms=PLATFORMS)
    )


def wheels_in(directory: Path) -> dict[NormalizedName, list[frozenset[Tag]]]:
    found: dict[NormalizedName, list[frozenset[Tag]]] = {}
    for path in directory.glob("*.whl"):
        try:
            name, _version, _build, tags = parse_wheel_filename(path.name)
        except InvalidWheelFilename:
            continue
        found.setdefault(name, []).append(tags)
    return found


def uncovered(directory: Path, names: Iterable[str], tags: set[Tag]) -> list[str]:
    """Which of ``names`` have no wheel in ``directory`` that installs with ``tags``."""
    have = wheels_in(directory)
    return sorted(
        name
        for name in names
        if not any(wheel & tags for wheel in have.get(canonicalize_name(name), []))
    )

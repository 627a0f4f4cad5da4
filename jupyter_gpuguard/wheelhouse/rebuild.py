"""A wheel rebuilt from an installed distribution's files.

An installed distribution's RECORD lists every file its wheel put in place: the package,
and outside site-packages the data files (for this extension the labextension under
``share/jupyter/labextensions`` and the server config under ``etc/jupyter``). Putting them
back under the wheel's ``.data/`` directories gives the wheel again, with no source tree and
no Node. Each file is checked against its RECORD hash, so the wheel is the installed version
and not a copy edited since.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import stat
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath

# Written by the installer, not part of a wheel (PEP 376, PEP 610).
INSTALLER_FILES = ("INSTALLER", "REQUESTED", "direct_url.json", "RECORD.jws", "RECORD.p7s")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the same files give the same bytes


class WheelRebuildError(Exception):
    """The installed files cannot make a wheel; the message says which and why."""


def is_editable(dist: metadata.Distribution) -> bool:
    import json

    try:
        direct = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return False
    return bool(direct.get("dir_info", {}).get("editable"))


def _wheel_metadata(dist: metadata.Distribution) -> list[tuple[str, str]]:
    text = dist.read_text("WHEEL")
    if not text:
        name = dist.metadata["Name"]
        raise WheelRebuildError(f"{name} has no WHEEL file: it was not installed from a wheel")
    return [
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in text.splitlines())
        if value
    ]


def _escaped(text: str) -> str:
    return re.sub(r"[-_.]+", "_", text).lower()


def wheel_name(dist: metadata.Distribution) -> str:
    """The file name the rebuilt wheel gets, from the installed WHEEL file's tags."""
    fields = _wheel_metadata(dist)
    tags = [value.split("-") for key, value in fields if key == "Tag"]
    if not tags or any(len(tag) != 3 for tag in tags):
        raise WheelRebuildError(f"{dist.metadata['Name']}'s WHEEL file names no valid tag")
    # A compressed tag set: each part's values in the order the WHEEL file gives them.
    parts = [".".join(dict.fromkeys(tag[i] for tag in tags)) for i in range(3)]
    build = [value for key, value in fields if key == "Build"]
    version = dist.version.replace("-", "_")
    middle = f"{version}-{build[0]}" if build else version
    return f"{_escaped(dist.metadata['Name'])}-{middle}-{'-'.join(parts)}.whl"


def _inside(path: str, directory: str) -> bool:
    return os.path.commonpath([path, directory]) == directory


def _scheme(site: str) -> tuple[str, str]:
    """(scripts, data) of the install scheme whose site-packages is ``site``."""
    for name in sysconfig.get_scheme_names():
        try:
            paths = sysconfig.get_paths(name)
        except KeyError:
            continue
        libs = {os.path.normpath(paths["purelib"]), os.path.normpath(paths["platlib"])}
        if site in libs or os.path.realpath(site) in {os.path.realpath(p) for p in libs}:
            return os.path.normpath(paths["scripts"]), os.path.normpath(paths["data"])
    # `pip install --prefix` elsewhere: <prefix>/lib/pythonX.Y/site-packages
    site_path = Path(site)
    if site_path.name in ("site-packages", "dist-packages") and site_path.parent.parent.name in (
        "lib",
        "lib64",
    ):
        prefix = site_path.parent.parent.parent
        return str(prefix / "bin"), str(prefix)
    raise WheelRebuildError(f"cannot tell which install scheme {site} belongs to")


def _digest(data: bytes) -> str:
    raw = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _check(data: bytes, recorded: str, shown: str, name: str) -> None:
    if not recorded:
        return
    algorithm, _, expected = recorded.partition("=")
    try:
        actual = hashlib.new(algorithm, data).digest()
    except ValueError:
        return  # an algorithm this Python lacks: nothing to compare with
    if base64.urlsafe_b64encode(actual).rstrip(b"=").decode() != expected:
        raise WheelRebuildError(
            f"{shown} differs from the file {name} installed (its RECORD hash): "
            f"reinstall {name}, then try again"
        )


def _script(data: bytes) -> bytes:
    """An installed script names this interpreter; ``#!python`` lets pip name the target's."""
    first, newline, rest = data.partition(b"\n")
    if first.startswith(b"#!") and b"python" in first:
        return b"#!python" + newline + rest
    return data


def installed_wheel(dist: metadata.Distribution, out_dir: Path) -> Path:
    """Rebuild ``dist``'s wheel from its installed files into ``out_dir``; returns its path."""
    name = dist.metadata["Name"]
    if is_editable(dist):
        raise WheelRebuildError(f"{name} is an editable install: its files are in its source tree")
    record = dist.read_text("RECORD")
    if not record:
        raise WheelRebuildError(f"{name} has no RECORD: its installer did not list its files")
    filename = wheel_name(dist)
    site = os.path.normpath(str(dist.locate_file("")))
    scripts_dir, data_dir = _scheme(site)
    rows = list(csv.reader(io.StringIO(record)))
    info_dir = next(
        (PurePosixPath(r[0]).parent for r in rows if r and r[0].endswith(".dist-info/RECORD")),
        None,
    )
    if info_dir is None:
        raise WheelRebuildError(f"{name}'s RECORD does not list itself")
    wheel_data = info_dir.name.removesuffix(".dist-info") + ".data"
    entry_scripts = {
        ep.name for ep in dist.entry_points if ep.group in ("console_scripts", "gui_scripts")
    }

    files: dict[str, tuple[bytes, int]] = {}
    for row in rows:
        if not row or not row[0]:
            continue
        listed, recorded = row[0], row[1] if len(row) > 1 else ""
        listed_path = PurePosixPath(listed)
        if listed_path.parent == info_dir and listed_path.name in ("RECORD", *INSTALLER_FILES):
            continue
        if "__pycache__" in listed_path.parts:
            continue  # compiled by the installer on the target
        absolute = os.path.normpath(os.path.join(site, listed))
        try:
            data = Path(absolute).read_bytes()
            mode = os.stat(absolute).st_mode
        except OSError as err:
            raise WheelRebuildError(
                f"{absolute}, installed by {name}, cannot be read ({err.strerror}): "
                f"reinstall {name}, then try again"
            ) from None
        _check(data, recorded, absolute, name)
        if _inside(absolute, site):
            arcname = Path(os.path.relpath(absolute, site)).as_posix()
        elif _inside(absolute, scripts_dir):
            if os.path.basename(absolute) in entry_scripts:
                continue  # pip writes these from entry_points.txt for the target's Python
            relative = Path(os.path.relpath(absolute, scripts_dir)).as_posix()
            arcname, data = f"{wheel_data}/scripts/{relative}", _script(data)
        elif _inside(absolute, data_dir):
            relative = Path(os.path.relpath(absolute, data_dir)).as_posix()
            arcname = f"{wheel_data}/data/{relative}"
        else:
            raise WheelRebuildError(f"{absolute}, installed by {name}, is outside {data_dir}")
        files[arcname] = (data, mode)

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / filename
    record_name = f"{info_dir}/RECORD"
    in_info = [a for a in sorted(files) if a.startswith(f"{info_dir}/")]
    ordered = [a for a in sorted(files) if not a.startswith(f"{info_dir}/")] + in_info
    lines = [f"{a},{_digest(files[a][0])},{len(files[a][0])}" for a in ordered]
    lines.append(f"{record_name},,")
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as wheel:
        for arcname in ordered:
            data, mode = files[arcname]
            entry = zipfile.ZipInfo(arcname, ZIP_DATE)
            entry.external_attr = (stat.S_IFREG | stat.S_IMODE(mode)) << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            wheel.writestr(entry, data)
        entry = zipfile.ZipInfo(record_name, ZIP_DATE)
        entry.external_attr = (stat.S_IFREG | 0o644) << 16
        entry.compress_type = zipfile.ZIP_DEFLATED
        wheel.writestr(entry, "\n".join(lines) + "\n")
    return target

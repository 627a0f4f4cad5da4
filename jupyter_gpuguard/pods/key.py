"""Where the RunPod API key comes from, and the copy a user sets from the panel.

The key is a bearer credential for the user's RunPod account and its balance. It is read
here and handed to the GraphQL transport, and nowhere else: no route returns it, no log
line or error message contains it (``transport.scrub``), and the panel's copy is a 0600 file
in a 0700 directory.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..config import GpuGuard
from ..private_files import read_private, remove_private, write_private

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-.]{8,256}$")
SOURCES = {
    "panel": "set from the panel",
    "setting": "the file c.GpuGuard.runpod_api_key_file names",
    "environment": "the RUNPOD_API_KEY environment variable",
    "config-file": "~/.runpod/config.toml",
}
SOURCES_HINT = (
    "the panel's On-demand pod section, c.GpuGuard.runpod_api_key_file, RUNPOD_API_KEY "
    "or ~/.runpod/config.toml"
)


@dataclass(frozen=True)
class ApiKey:
    value: str = field(repr=False)  # a repr may reach a log or a traceback
    source: str  # a key of SOURCES, or "" when there is no key

    def __bool__(self) -> bool:
        return bool(self.value)

    def describe(self) -> dict[str, object]:
        """What the browser may know: whether there is a key and where it comes from."""
        return {
            "configured": bool(self.value),
            "source": self.source or None,
            "source_text": SOURCES.get(self.source),
        }


def default_key_file() -> Path:
    """Apart from the snapshot store, whose default is ``gpuguard`` in the same data
    directory: a copied or shared store must not carry the key along."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "gpuguard-secrets" / "runpod_key"


def legacy_key_file() -> Path:
    """Where the panel's key was kept before: inside the default snapshot store."""
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "gpuguard" / "runpod-api-key"


def adopt_legacy_key_file(path: Path, legacy: Path) -> None:
    """Move a panel key kept at ``legacy`` to ``path``, so that it leaves the store.

    A key already at ``path`` is newer (set since): the old copy is only removed.
    """
    old = read_key_file(legacy)
    if not old:
        return  # none, or not one we would use: not ours to move
    if not read_key_file(path):
        write_key_file(path, old)
    remove_key_file(legacy)


def valid_key(key: str) -> bool:
    return bool(KEY_PATTERN.match(key))


def read_key_file(path: Path, follow_links: bool = False) -> str:
    """The key in ``path``, or "" when there is none or the file is open to other users."""
    key = (read_private(path, follow_links) or "").strip()
    return key if valid_key(key) else ""


def write_key_file(path: Path, key: str) -> None:
    """Replace the panel's key atomically; the file is 0600 from its first byte."""
    if not valid_key(key):
        raise ValueError("not a RunPod API key")
    write_private(path, key + "\n")


def remove_key_file(path: Path) -> bool:
    return remove_private(path)


def _from_config_toml(config_file: Path) -> str:
    try:
        text = config_file.read_text(encoding="utf-8")
    except OSError:
        return ""
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
    try:
        data = tomllib.loads(text)
    except ValueError:
        return ""
    section = data.get("default", data)
    key = section.get("api_key", "") if isinstance(section, dict) else ""
    return key.strip() if isinstance(key, str) else ""


def resolve_api_key(
    configured: str = "", config_file: Path | None = None, key_file: Path | None = None
) -> str:
    """The API key: set from the panel, the setting, RUNPOD_API_KEY, ~/.runpod/config.toml."""
    return find_api_key(configured, key_file, config_file).value


def find_api_key(
    configured: str = "",
    key_file: Path | None = None,
    config_file: Path | None = None,
) -> ApiKey:
    """The key set from the panel, then ``configured`` (read from the file that
    c.GpuGuard.runpod_api_key_file names), RUNPOD_API_KEY, ~/.runpod/config.toml.

    The panel's key comes first: a user who types a new key there expects it to be used,
    even when an older one sits in the environment.
    """
    if key_file is not None:
        stored = read_key_file(key_file)
        if stored:
            return ApiKey(stored, "panel")
    if configured.strip():
        return ApiKey(configured.strip(), "setting")
    from_env = os.environ.get("RUNPOD_API_KEY", "").strip()
    if from_env:
        return ApiKey(from_env, "environment")
    from_file = _from_config_toml(config_file or Path.home() / ".runpod" / "config.toml")
    if from_file:
        return ApiKey(from_file, "config-file")
    return ApiKey("", "")


def key_file_problem(path: Path) -> str | None:
    """Why the key file the user named cannot be used, in words without the key."""
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return f"cannot read it ({err.strerror})"
    if mode & 0o077:
        return f"its mode is {mode & 0o777:o}; only its owner may read it (chmod 600)"
    if not read_key_file(path, follow_links=True):
        return "it does not hold a RunPod API key (8 to 256 letters, digits, '-', '_' or '.')"
    return None


# ---- the key as this server's settings name it ------------------------------------------


def key_file_path(config: GpuGuard) -> Path:
    """The file the panel keeps its key in."""
    if config.runpod_key_file:
        return Path(config.runpod_key_file).expanduser()
    path = default_key_file()
    try:
        adopt_legacy_key_file(path, legacy_key_file())
    except OSError as err:
        config.log.warning(
            "jupyter_gpuguard: could not move the panel's RunPod key out of the snapshot "
            "store to %s: %s",
            path,
            err.strerror,
        )
    return path


def configured_key(config: GpuGuard) -> str:
    """The key in the file c.GpuGuard.runpod_api_key_file names, or ""."""
    if not config.runpod_api_key_file:
        return ""
    return read_key_file(Path(config.runpod_api_key_file).expanduser(), follow_links=True)


def api_key(config: GpuGuard) -> ApiKey:
    return find_api_key(configured_key(config), key_file_path(config))


def warn_of_unusable_key_file(config: GpuGuard) -> None:
    """Say at start why the key file c.GpuGuard.runpod_api_key_file names is not used: the
    panel would only show that no key is set."""
    named = config.runpod_api_key_file
    problem = named and key_file_problem(Path(named).expanduser())
    if problem:
        config.log.warning(
            "jupyter_gpuguard: c.GpuGuard.runpod_api_key_file names %s, which is not used: %s.",
            named,
            problem,
        )

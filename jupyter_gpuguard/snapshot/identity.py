"""Which snapshots belong to a notebook file, whatever root the server that took them had.

A Jupyter server names a notebook by its path relative to its root. RunPod's start script
serves from ``/`` (the notebook is ``workspace/nb.ipynb``); a user who starts ``jupyter lab``
in ``/workspace`` sees ``nb.ipynb``. So a snapshot also records the notebook's absolute path,
and its path relative to the volume the store lives on, which stays the same on a machine
that mounts the volume elsewhere.

The volume is the store's parent directory when the store is a ``.gpuguard`` directory
(``/workspace/.gpuguard`` -> ``/workspace``), else the mount point the store lives on. A
server's root says nothing about the volume: it is one user's choice on one machine.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .model import SnapshotInfo

STORE_DIR_NAME = ".gpuguard"


@functools.lru_cache(maxsize=16)
def _volume_root(store: str) -> str:
    path = Path(store)
    if path.name == STORE_DIR_NAME:
        return str(path.parent)
    # A store that does not exist yet is not a mount: the walk goes on to its parents.
    while not os.path.ismount(path) and path.parent != path:
        path = path.parent
    return str(path)


def volume_root(store_path: str | os.PathLike[str]) -> str:
    """The directory that stands for the volume of the store at ``store_path``."""
    return _volume_root(_absolute(store_path))


def relative_to_volume(path: str, root: str) -> str | None:
    """``path`` relative to the volume ``root``, with ``/`` between names; None outside it."""
    path, root = _absolute(path), _absolute(root)
    if path == root or os.path.commonpath([path, root]) != root:
        return None
    return Path(os.path.relpath(path, root)).as_posix()


def _absolute(path: str | os.PathLike[str]) -> str:
    # No symbolic links resolved: the same volume may be reached through other links on
    # another machine, and the names the user sees are the ones to keep.
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.fspath(path))))


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class NotebookIdentity:
    """A notebook file, by every name a snapshot records of it."""

    notebook: str | None = None  # as the server that took it names it, relative to its root
    path: str | None = None  # absolute
    volume_path: str | None = None  # relative to the volume of the store
    server_root: str | None = None  # absolute

    @classmethod
    def on_server(
        cls, notebook: str, server_root: str | None, store_path: str | os.PathLike[str]
    ) -> NotebookIdentity:
        """The notebook a server names ``notebook`` (relative to its root, as the sessions
        API does); ``server_root`` None where its contents are not files."""
        if server_root is None:
            return cls(notebook=notebook)
        root = _absolute(server_root)
        path = _absolute(os.path.join(root, *notebook.split("/")))
        return cls(notebook, path, relative_to_volume(path, volume_root(store_path)), root)

    @classmethod
    def of_file(
        cls, path: str, store_path: str | os.PathLike[str], notebook: str | None = None
    ) -> NotebookIdentity:
        """The notebook at ``path`` (absolute, or relative to the current directory);
        ``notebook`` is matched against snapshots that recorded no more than that name."""
        absolute = _absolute(path)
        volume_path = relative_to_volume(absolute, volume_root(store_path))
        return cls(notebook, absolute, volume_path)

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> NotebookIdentity:
        """From a control request or a manifest: ``notebook``, ``notebook_path``,
        ``notebook_volume_path``, ``server_root``; anything but a non-empty string is None."""
        return cls(*(_text(request.get(key)) for key in ("notebook", *IDENTITY_FIELDS)))

    @classmethod
    def recorded(cls, info: SnapshotInfo) -> NotebookIdentity:
        path = info.notebook_path
        if path is None and info.notebook is not None and os.path.isabs(info.notebook):
            # A kernel loaded by hand recorded jupyter_server's JPY_SESSION_NAME, which is
            # absolute.
            path = info.notebook
        return cls(info.notebook, path, info.notebook_volume_path, info.server_root)

    def fields(self) -> dict[str, str | None]:
        """What a manifest and a control request carry besides ``notebook``."""
        return {
            "notebook_path": self.path,
            "notebook_volume_path": self.volume_path,
            "server_root": self.server_root,
        }

    def save_arguments(self) -> dict[str, str | None]:
        """The arguments of ``Store.save`` that record this notebook."""
        return {"notebook": self.notebook, **self.fields()}

    def same_file(self, recorded: NotebookIdentity) -> bool:
        """Whether a snapshot that recorded ``recorded`` is of this notebook.

        By absolute path, then by the path on the volume; only where neither can be compared
        (a snapshot that recorded neither, or a server whose contents are not files) by the
        name the servers gave it, which another root gives to another file.
        """
        by_path = self.path is not None and recorded.path is not None
        by_volume = self.volume_path is not None and recorded.volume_path is not None
        if by_path and self.path == recorded.path:
            return True
        if by_volume and self.volume_path == recorded.volume_path:
            return True
        if by_path or by_volume:
            return False
        return self.notebook is not None and self.notebook == recorded.notebook

    @property
    def known(self) -> bool:
        return any((self.notebook, self.path, self.volume_path))


IDENTITY_FIELDS = ("notebook_path", "notebook_volume_path", "server_root")


def of_notebook(infos: Iterable[SnapshotInfo], wanted: NotebookIdentity) -> list[SnapshotInfo]:
    """The snapshots of the notebook ``wanted``, in the order given."""
    return [info for info in infos if wanted.same_file(NotebookIdentity.recorded(info))]


def group_key(info: SnapshotInfo) -> tuple[str, str | None]:
    """One key for the snapshots of one notebook file, for retention and scrubbing: one taken
    by a server rooted elsewhere counts with the others."""
    recorded = NotebookIdentity.recorded(info)
    if recorded.volume_path is not None:
        return "volume", recorded.volume_path
    if recorded.path is not None:
        return "path", recorded.path
    return "notebook", recorded.notebook

"""The start command of a pod launched, moved to or templated from the panel.

A new, reset or restarted pod has a fresh container disk, so the extension is gone: the
command installs this version from the volume's wheelhouse (falling back to the package
index), then runs the image's own start (``/start.sh`` on RunPod's images). The install
can fail (no wheel for the pod's Python, no network, a full disk): that is logged, on the
volume and in the container log, and JupyterLab starts anyway, without the extension.

RunPod runs ``dockerArgs`` as the container's command; its documented form is
``bash -c '...'``. Every value is quoted with ``shlex``, and the script itself holds no
single quote, so the default command is one plain single-quoted argument.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path, PurePosixPath

from .._version import __version__

PACKAGE = "jupyter-gpuguard"
VOLUME_MOUNT_PATH = PurePosixPath("/workspace")
STORE_ON_VOLUME = VOLUME_MOUNT_PATH / ".gpuguard"  # the store's default on RunPod
WHEELS_DIR = "wheels"  # `jupyter gpuguard wheelhouse` writes <store>/wheels
LOG_NAME = "pod-start.log"
IMAGE_START = "/start.sh"
MAX_LENGTH = 4000


class StartCommandError(ValueError):
    """A start command cannot be built or sent; the message says which part and why."""


def volume_store(store_path: str | os.PathLike[str] | None) -> PurePosixPath:
    """The store as the new pod sees it. The volume mounts at /workspace on both pods, so a
    store on it keeps its path; a store elsewhere stays behind, and the new pod uses the
    default on the volume."""
    if store_path is not None:
        path = PurePosixPath(os.path.abspath(os.fspath(store_path)))
        if path == VOLUME_MOUNT_PATH or VOLUME_MOUNT_PATH in path.parents:
            return path
    return STORE_ON_VOLUME


def image_start_argv(image_start: str) -> list[str]:
    """``c.GpuGuard.pod_start_command`` as words, split as a shell would."""
    try:
        argv = shlex.split(image_start)
    except ValueError as err:
        raise StartCommandError(f"pod_start_command {image_start!r}: {err}.") from None
    if not argv:
        raise StartCommandError("pod_start_command is empty: set the image's start command.")
    return argv


def start_script(
    store: str | os.PathLike[str] = STORE_ON_VOLUME,
    image_start: str = IMAGE_START,
    version: str = __version__,
) -> str:
    """The bash script: install, log what failed, then exec the image's start. ``store`` is
    the store as the new pod sees it (``volume_store``): the wheelhouse and the log are in it."""
    argv = image_start_argv(image_start)
    where = PurePosixPath(os.fspath(store))
    q = shlex.quote
    steps = [
        f"log={q(str(where / LOG_NAME))}",
        f"wheels={q(str(where / WHEELS_DIR))}",
        f"want={q(f'{PACKAGE}=={version}')}",
        f"start={q(argv[0])}",
        'say() { printf "%s jupyter-gpuguard: %s\\n" "$(date -u +%FT%TZ)" "$*" | tee -a "$log"; }',
        # An unwritable volume must not cost the start: the container log still gets it all.
        'if ! { mkdir -p "${log%/*}" && : >>"$log"; } 2>/dev/null; then unwritable=$log;'
        ' log=/dev/null; say "cannot write $unwritable: logging to the container log only"; fi',
        'pip_install() { pip install --disable-pip-version-check "$@" 2>&1 | tee -a "$log";'
        ' return "${PIPESTATUS[0]}"; }',
        'say "installing $want from $wheels, else from the package index"',
        'if pip_install --no-index --find-links "$wheels" "$want";'
        ' then say "installed from $wheels"',
        # A pod without network must not wait through pip's five retries before it starts.
        'elif pip_install --retries 1 --timeout 20 "$want";'
        ' then say "installed from the package index"',
        'else say "could not install $want for $(pip -V 2>&1) (pip said why above: often no'
        " wheel for this Python in $wheels; run jupyter gpuguard wheelhouse on a pod with this"
        ' image): JupyterLab starts without it"; fi',
        f'if command -v "$start" >/dev/null 2>&1; then exec {shlex.join(argv)}; fi',
        'say "$start is not in this image, so nothing starts JupyterLab: set'
        " c.GpuGuard.pod_start_command (or the start command of the template) to the command"
        ' that starts this image, then launch again. The pod stays up so that you can look."',
        # A container whose command exits is restarted over and over, hiding the log.
        "exec sleep infinity",
    ]
    return "; ".join(steps)


def start_command(
    store: str | os.PathLike[str] = STORE_ON_VOLUME,
    image_start: str = IMAGE_START,
    version: str = __version__,
) -> str:
    """RunPod's ``dockerArgs``: ``bash -c '<start_script>'``."""
    return shlex.join(["bash", "-c", start_script(store, image_start, version)])


def check_start_command(value: object, field: str = "start_command") -> str:
    """A start command typed into the launch form or sent to the templates route."""
    if not isinstance(value, str):
        raise StartCommandError(f"{field} must be text.")
    if not value.strip():
        raise StartCommandError(f"{field} must not be blank.")
    if len(value) > MAX_LENGTH:
        raise StartCommandError(f"{field} is longer than {MAX_LENGTH} characters.")
    # RunPod's field is one line; a control character would not survive it as typed.
    bad = next((c for c in value if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise StartCommandError(
            f"{field} must be one line without control characters (found {bad!r})."
        )
    try:
        value.encode("utf-8")
        shlex.split(value)
    except UnicodeEncodeError:
        raise StartCommandError(f"{field} holds an unpaired surrogate character.") from None
    except ValueError as err:
        raise StartCommandError(f"{field}: {err} (check the quotes).") from None
    return value


def store_path_of(snapshot_dir: str) -> Path:
    """The store this server writes to, decided as the scheduler decides it."""
    from ..snapshot.location import default_store_path

    return Path(snapshot_dir).expanduser() if snapshot_dir else default_store_path()

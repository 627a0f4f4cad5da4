"""The start command of a pod launched from the panel, run for real with bash.

A fake ``pip`` on PATH plays the install (failing, or recording its arguments), and the
image's start is a script of ours named through ``pod_start_command``: what must hold is
that the start runs whatever pip does, and that the log says why an install failed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import stat
import subprocess
from pathlib import Path, PurePosixPath

import pytest

from jupyter_gpuguard.pods.start_command import (
    STORE_ON_VOLUME,
    StartCommandError,
    check_start_command,
    start_command,
    start_script,
    volume_store,
)

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")

ODD = 'it\'s a "dir" with $HOME and `ticks`'


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


@pytest.fixture
def pod(tmp_path):
    """A directory standing for the new pod: bin/ first on PATH, a store, a start script."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / ODD).mkdir()
    store = tmp_path / ODD / ".gpuguard"
    calls = tmp_path / "pip-calls"
    started = tmp_path / "started"
    start = _script(
        tmp_path / ODD / "start me.sh",
        f'printf "%s\\n" "$@" > {shlex.quote(str(started))}\necho JUPYTER STARTED\n',
    )

    def fake_pip(exit_code: int, fail_index_only: bool = False) -> None:
        rule = f"exit {exit_code}"
        if fail_index_only:  # the wheelhouse works, the index is never asked
            rule = 'case "$*" in *--no-index*) exit 0;; *) exit 1;; esac'
        _script(
            bin_dir / "pip",
            f'printf "%s\\n" "$*" >> {shlex.quote(str(calls))}\n'
            'echo "ERROR: No matching distribution found for jupyter-gpuguard" >&2\n'
            f"{rule}\n",
        )

    def run(command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
        argv = shlex.split(command)  # as RunPod splits dockerArgs into the container's command
        return subprocess.run(
            argv, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=timeout
        )

    class Pod:
        pass

    p = Pod()
    p.bin, p.store, p.calls, p.started, p.start = bin_dir, store, calls, started, start
    p.fake_pip, p.run = fake_pip, run
    return p


def test_a_failed_install_is_logged_and_jupyter_still_starts(pod):
    pod.fake_pip(1)
    image_start = shlex.join([str(pod.start), "--ip", "0.0.0.0", "two words"])
    command = start_command(pod.store, image_start, version="1.2.3")
    done = pod.run(command)
    assert done.returncode == 0, done.stderr
    assert "JUPYTER STARTED" in done.stdout
    # the start got its arguments one by one, spaces and all
    assert pod.started.read_text().splitlines() == ["--ip", "0.0.0.0", "two words"]
    calls = pod.calls.read_text().splitlines()
    wheels = pod.store / "wheels"
    assert calls[0] == (
        f"install --disable-pip-version-check --no-index --find-links {wheels} "
        "jupyter-gpuguard==1.2.3"
    )
    assert "--no-index" not in calls[1] and calls[1].endswith("jupyter-gpuguard==1.2.3")
    log = (pod.store / "pod-start.log").read_text()
    assert "No matching distribution found" in log  # pip's own reason, kept on the volume
    assert "could not install jupyter-gpuguard==1.2.3" in log
    assert "JupyterLab starts without it" in log
    assert "could not install" in done.stdout  # and in the container log


def test_the_wheelhouse_install_skips_the_index(pod):
    pod.fake_pip(0, fail_index_only=True)
    done = pod.run(start_command(pod.store, shlex.quote(str(pod.start)), version="1.2.3"))
    assert "JUPYTER STARTED" in done.stdout
    assert len(pod.calls.read_text().splitlines()) == 1
    assert f"installed from {pod.store / 'wheels'}" in (pod.store / "pod-start.log").read_text()


def test_an_unwritable_volume_still_starts(pod, tmp_path):
    pod.fake_pip(1)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    done = pod.run(start_command(blocker / ".gpuguard", shlex.quote(str(pod.start))))
    assert "JUPYTER STARTED" in done.stdout
    assert "logging to the container log only" in done.stdout
    assert "could not install" in done.stdout


def test_an_image_without_its_start_says_what_to_set(pod, tmp_path):
    pod.fake_pip(1)
    _script(pod.bin / "sleep", 'echo "kept up: $*"\n')  # stands for `sleep infinity`
    missing = tmp_path / "no such" / "start.sh"
    done = pod.run(start_command(pod.store, shlex.quote(str(missing))))
    assert done.returncode == 0, done.stderr
    log = (pod.store / "pod-start.log").read_text()
    assert f"{missing} is not in this image" in log
    assert "c.GpuGuard.pod_start_command" in log
    assert "kept up: infinity" in done.stdout


def test_a_start_found_on_path_runs(pod):
    pod.fake_pip(1)
    _script(pod.bin / "my-start", 'echo "MY START $1"\n')
    done = pod.run(start_command(pod.store, "my-start 'a b'"))
    assert "MY START a b" in done.stdout


def test_the_default_is_one_plain_argument_for_runpod():
    command = start_command()
    argv = shlex.split(command)
    assert argv[:2] == ["bash", "-c"] and len(argv) == 3
    assert command.startswith("bash -c '") and command.count("'") == 2
    assert "/workspace/.gpuguard/wheels" in argv[2]
    assert argv[2].endswith("exec sleep infinity")
    assert "exec /start.sh;" in argv[2]


def test_quoting_keeps_odd_paths_whole():
    store = PurePosixPath("/workspace") / ODD
    script = shlex.split(start_command(store, shlex.quote(f"/opt/{ODD}/start.sh")))[2]
    assert f"wheels={shlex.quote(str(store / 'wheels'))};" in script
    assert f"exec {shlex.quote(f'/opt/{ODD}/start.sh')};" in script
    assert start_script(store).count("exec ") == 2


def test_the_store_follows_the_volume():
    assert volume_store("/workspace/.gpuguard") == PurePosixPath("/workspace/.gpuguard")
    assert volume_store("/workspace/team/store") == PurePosixPath("/workspace/team/store")
    assert volume_store("/root/.local/share/jupyter/gpuguard") == STORE_ON_VOLUME
    assert volume_store("/workspace-other/x") == STORE_ON_VOLUME
    assert volume_store(None) == STORE_ON_VOLUME


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "must not be blank"),
        ("   ", "must not be blank"),
        (42, "must be text"),
        ("bash -c 'one\ntwo'", "one line"),
        ("bash -c 'unclosed", "No closing quotation"),
        ("x" * 4001, "longer than 4000"),
        ("bash \ud800", "surrogate"),
    ],
)
def test_a_typed_start_command_is_checked(value, message):
    with pytest.raises(StartCommandError, match=message):
        check_start_command(value)


def test_a_bad_image_start_setting_is_refused():
    with pytest.raises(StartCommandError, match="pod_start_command"):
        start_command(image_start="'/start.sh")
    with pytest.raises(StartCommandError, match="empty"):
        start_command(image_start="  ")


def test_the_readme_gives_the_command_to_paste():
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    assert f"```text\n{start_command()}\n```" in readme, (
        "README's start command is stale: paste the output of python -c 'from "
        "jupyter_gpuguard.pods.start_command import start_command; print(start_command())'"
    )

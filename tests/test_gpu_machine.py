"""NVML on the machine the tests run on: real GPU facts where there is a GPU, None elsewhere."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from jupyter_gpuguard.instance.nvml import read_gpus


def nvidia_smi() -> list[tuple[str, float]] | None:
    """(name, memory in GiB) of each GPU as nvidia-smi reports it, or None without it."""
    if shutil.which("nvidia-smi") is None:
        return None
    answer = subprocess.run(
        ["nvidia-smi", "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if answer.returncode != 0:
        return None
    gpus = []
    for line in answer.stdout.strip().splitlines():
        name, memory_mib = (part.strip() for part in line.split(","))
        gpus.append((name, float(memory_mib) / 1024))
    return gpus or None


def test_nvml_agrees_with_nvidia_smi_or_finds_nothing():
    expected = nvidia_smi()
    facts = read_gpus()
    if expected is None:
        assert facts is None  # no driver, no GPU: nothing is made up
        return
    assert facts is not None
    assert facts.count == len(expected)
    name, memory_gb = expected[0]
    assert facts.name == name
    assert facts.memory_gb == pytest.approx(memory_gb, abs=0.2)

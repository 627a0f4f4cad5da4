"""What ``jupyter gpuguard wheelhouse`` wrote, and which Pythons the wheelhouse serves."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..formatting import format_bytes
from .needs import PLATFORM_WORDS

REBUILT = "rebuilt from the installed files"
DOWNLOADED = "downloaded"
BUILT = "built from the editable install's source"
KEPT = "kept"


@dataclass
class Wheel:
    file: str
    source: str  # REBUILT, DOWNLOADED, BUILT, or KEPT for one an earlier run wrote


@dataclass
class WheelhouseReport:
    directory: Path
    version: str
    wheels: list[Wheel] = field(default_factory=list)
    covers: list[str] = field(default_factory=list)
    lacks: dict[str, str] = field(default_factory=dict)  # Python version -> why
    this_python: str | None = None  # named only when it is not one of the targets
    this_python_covered: bool = True

    def install_command(self) -> str:
        return (
            f"pip install --no-index --find-links {self.directory} jupyter-gpuguard=={self.version}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "dir": str(self.directory),
            "version": self.version,
            "wheels": [{"file": w.file, "source": w.source} for w in self.wheels],
            "covers": self.covers,
            "lacks": self.lacks,
            "this_python": self.this_python,
            "this_python_covered": self.this_python_covered,
            "install": self.install_command(),
        }

    def lines(self) -> list[str]:
        out = [f"Wheelhouse {self.directory}"]
        for wheel in self.wheels:
            try:
                size = format_bytes((self.directory / wheel.file).stat().st_size)
            except OSError:
                size = "?"
            if wheel.source == KEPT:
                out.append(f"  kept  {wheel.file} ({size}, already there)")
            else:
                out.append(f"  wrote {wheel.file} ({size}, {wheel.source})")
        if self.covers:
            out.append(f"Covers Python {', '.join(self.covers)} ({PLATFORM_WORDS}).")
        for version, why in self.lacks.items():
            out.append(f"Lacks Python {version}: {why}")
        if self.this_python is not None:
            covered = "covers" if self.this_python_covered else "does NOT cover"
            out.append(f"It {covered} this Python ({self.this_python}).")
        out += [
            "On a machine with JupyterLab and no network, install with:",
            f"  {self.install_command()}",
        ]
        return out

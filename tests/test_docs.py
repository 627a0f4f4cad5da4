"""The README documents every setting, with its real default."""

from __future__ import annotations

import json
from pathlib import Path

from jupyter_gpuguard.config import GpuGuard, settings_markdown

ROOT = Path(__file__).parent.parent


def test_settings_table_matches_the_code():
    text = (ROOT / "README.md").read_text()
    start, end = "<!-- settings-table:start -->\n", "\n<!-- settings-table:end -->"
    table = text.split(start)[1].split(end)[0]
    assert table == settings_markdown(), (
        "README settings table is stale: regenerate it with "
        "python -c 'from jupyter_gpuguard.config import settings_markdown as s; print(s())'"
    )
    for name, trait in GpuGuard.class_traits(config=True).items():
        assert trait.help, f"{name} has no help text"
        assert f"`{name}`" in table


def test_browser_settings_are_documented():
    schema = json.loads((ROOT / "schema" / "plugin.json").read_text())
    text = (ROOT / "README.md").read_text()
    assert schema["properties"], "no browser settings"
    for name, spec in schema["properties"].items():
        assert f"| `{name}` | `{json.dumps(spec['default'])}` |" in text, name

"""Every code example in the README and docs runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import gabalance as gb

ROOT = Path(__file__).resolve().parents[1]


def blocks(path: Path, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


PAGES = [ROOT / "README.md"] + [p for p in sorted((ROOT / "docs").glob("*.md"))
                                if "```python" in p.read_text(encoding="utf-8")]


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name)
def test_python_examples_run(path, capsys):
    found = blocks(path, "python")
    assert found
    for code in found:
        exec(compile(code, str(path), "exec"), {})
    if path.name == "README.md":
        assert "valid" in capsys.readouterr().out


def test_json_schema_example_loads():
    (doc,) = blocks(ROOT / "docs" / "json-schema.md", "json")
    p = gb.Problem.from_json(doc)
    assert p.name == "tiny" and p.n_tasks == 2
    assert gb.Problem.from_json(p.to_json()) == p

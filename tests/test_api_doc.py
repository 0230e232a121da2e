"""docs/api.md is what docs/make_api.py writes from the current docstrings."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import gabalance as gb

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def make_api():
    spec = importlib.util.spec_from_file_location("make_api", ROOT / "docs" / "make_api.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_api_page_is_current(make_api):
    page = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert page == make_api.render(), \
        "docs/api.md is out of date: run python docs/make_api.py"
    assert make_api.main(["--check"]) == 0


def test_api_page_covers_the_public_names(make_api):
    page = make_api.render()
    for name in gb.__all__:
        assert f"### `gb.{name}`" in page
    for method in ("to_dict", "save", "load", "check", "plot_convergence", "plot_gantt",
                   "plot_utilization"):
        assert f"* `SolveResult.{method}(" in page
    assert "solve(\n    problem, objective=None, *, sense=None, method='ga'" in page
    assert "Find a good assignment" in page
    assert "``" not in page.replace("```", "") and ":func:" not in page
    assert "xp=numpy)" in page  # a module default is shown by name, not by file path


def test_api_page_follows_the_code(make_api, monkeypatch):
    before = make_api.render()
    monkeypatch.setattr(gb.validate, "__doc__", "A changed summary.\n\nMore.")
    after = make_api.render()
    assert after != before and "A changed summary." in after and "More." not in after

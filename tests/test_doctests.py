"""The ``Examples`` in the package's docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import gabalance as gb

FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE


def _modules() -> list[str]:
    names = ["gabalance"]
    for info in pkgutil.walk_packages(gb.__path__, "gabalance."):
        if info.name != "gabalance.__main__":  # runs the command line on import
            names.append(info.name)
    return sorted(names)


def _examples(name: str) -> list[doctest.DocTest]:
    module = importlib.import_module(name)
    tests = doctest.DocTestFinder(exclude_empty=True).find(module, name)
    return [t for t in tests if t.examples]


MODULES = [m for m in _modules() if _examples(m)]


def test_examples_are_found():
    # the finder sees the package's examples (a finder that stopped seeing them would make
    # the test below pass on nothing)
    assert {"gabalance.evaluate", "gabalance.problem", "gabalance.validate",
            "gabalance.algorithms.ga", "gabalance.profile"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    for test in _examples(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


@pytest.mark.parametrize("name", [n for n in gb.__all__ if callable(getattr(gb, n))])
def test_public_names_have_examples(name):
    doc = inspect.getdoc(getattr(gb, name)) or ""
    assert "Examples\n--------" in doc and ">>>" in doc, f"gabalance.{name} has no Examples"

"""Example problems shipped with gabalance (importable as ``gabalance.examples``).

* ``scenario`` -- the 5-task, 5-node CPU/GPU scenario that motivated the project;
* ``ai_cluster`` -- a 64-node, 500-task heterogeneous AI cluster generated from Gavel's
  measured throughputs by ``make_ai_cluster.py`` (see README.md).

>>> from gabalance import examples
>>> examples.load("scenario").n_tasks
5
"""

from __future__ import annotations

from pathlib import Path

from gabalance.problem import Problem

__all__ = ["load", "names", "path"]

_HERE = Path(__file__).resolve().parent
_NAMES = ("scenario", "ai_cluster")


def names() -> tuple[str, ...]:
    """The names of the shipped example problems."""
    return _NAMES


def path(name: str) -> Path:
    """The JSON file of example ``name`` (``"scenario"`` or ``"ai_cluster"``)."""
    stem = name[:-5] if name.endswith(".json") else name
    if stem not in _NAMES:
        raise KeyError(f"unknown example {name!r} (choose from {', '.join(_NAMES)})")
    return _HERE / f"{stem}.json"


def load(name: str) -> Problem:
    """Read example ``name`` as a :class:`~gabalance.Problem`."""
    return Problem.from_json(path(name))

"""Search algorithms with an ``init/ask/tell`` interface and frozen parameter dataclasses."""

from gabalance.algorithms.ga import GA, GAParams

__all__ = ["GA", "GAParams"]

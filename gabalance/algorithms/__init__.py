"""Search algorithms with an ``init/ask/tell`` interface and frozen parameter dataclasses."""

from gabalance.algorithms.ga import GA, GAParams
from gabalance.algorithms.pso import PSO, PSOParams

__all__ = ["GA", "PSO", "GAParams", "PSOParams"]

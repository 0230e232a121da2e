"""Classic balancers used as baselines (and to seed searches)."""

from __future__ import annotations

import numpy as np

from gabalance.problem import Problem

__all__ = ["round_robin"]


def round_robin(problem: Problem) -> np.ndarray:
    """Deal tasks to nodes in turn, skipping nodes a task may not run on.

    Task ``i`` goes to the first node, cyclically from the node after the previous task's,
    on which it is allowed (labels, finite runtime, fits the empty node). Capacity left on
    the node is not considered: that is what distinguishes round robin from the packing
    baselines.

    Returns
    -------
    ndarray, shape (N,), int32
        The assignment.
    """
    M = problem.n_nodes
    x = np.empty(problem.n_tasks, np.int32)
    nxt = 0
    for i in range(problem.n_tasks):
        nodes = problem.allowed_nodes(i)  # never empty: Problem rejects tasks that fit nowhere
        pos = int(np.searchsorted(nodes, nxt))
        j = int(nodes[pos % len(nodes)])
        x[i] = j
        nxt = (j + 1) % M
    return x

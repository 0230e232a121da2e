"""Capacity profiles: a node's resource usage over time as a step function.

The schedule decoder (``gabalance.backend._numpy``), the list schedulers
(:mod:`gabalance.baselines`) and the simulator's FIFO estimates (:mod:`gabalance.simulate`)
all place a task at the earliest time its node has room for its whole run; this is the one
structure they share.

Examples
--------
>>> from gabalance.profile import NodeProfile
>>> prof = NodeProfile(1)                  # one resource
>>> prof.occupy(0.0, 4.0, [3])             # 3 units busy on [0, 4)
>>> prof.earliest_start(0.0, 2.0, [2], [4])  # 2 more units fit only from t = 4
4.0
>>> prof.earliest_start(0.0, 2.0, [1], [4])
0.0
"""

from __future__ import annotations

__all__ = ["NodeProfile"]


class NodeProfile:
    """Resource usage of one node as a step function: ``usage[s]`` holds on
    ``[times[s], times[s + 1])``, and the last segment runs to infinity.

    Parameters
    ----------
    k : int
        Number of resources (the length of every usage, need and capacity vector).

    Attributes
    ----------
    times : list of float
        Breakpoints, increasing, ``times[0] == 0``.
    usage : list of list
        ``usage[s][r]``: amount of resource ``r`` in use on segment ``s``.

    Notes
    -----
    Plain Python lists: per task the work is a handful of K-vectors, where NumPy's per-call
    overhead would dominate.
    """

    def __init__(self, k: int) -> None:
        self.times: list[float] = [0.0]
        self.usage: list[list] = [[0] * k]

    def segment(self, t: float) -> int:
        """Index of the segment containing time t (t >= 0)."""
        s = 0
        while s + 1 < len(self.times) and self.times[s + 1] <= t:
            s += 1
        return s

    def earliest_start(self, ready: float, length: float, need: list, capacity: list) -> float:
        """Earliest t >= ready with usage + need <= capacity on all of [t, t + length)."""
        t = ready
        s = self.segment(t)
        while s < len(self.times) and self.times[s] < t + length:
            if any(u + d > c for u, d, c in zip(self.usage[s], need, capacity)):
                t = self.times[s + 1]  # the last segment is empty, so it never fails
            s += 1
        return t

    def split(self, t: float) -> int:
        """Make t a breakpoint; return its index."""
        s = self.segment(t)
        if self.times[s] == t:
            return s
        self.times.insert(s + 1, t)
        self.usage.insert(s + 1, list(self.usage[s]))
        return s + 1

    def occupy(self, start: float, finish: float, need: list) -> None:
        """Add ``need`` to the usage on ``[start, finish)``."""
        a = self.split(start)
        b = self.split(finish)
        for s in range(a, b):
            self.usage[s] = [u + d for u, d in zip(self.usage[s], need)]

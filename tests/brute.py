"""Brute-force optima of tiny schedule problems, for the tests of exact models and bounds.

Every allowed assignment times every priority order, decoded by the package's (numba)
decoder, which ``tests/test_parity.py`` checks against the naive oracle: by Kolisch (1996)
the best of these is the optimum over all schedules.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

import gabalance as gb

import naive

#: individuals per evaluate call
CHUNK = 50_000


def brute_schedule(p: gb.Problem, objective: str) -> float:
    """Best value over every allowed assignment and every priority order."""
    allowed = [[j for j in range(p.n_nodes) if naive.allowed(p, i, j)]
               for i in range(p.n_tasks)]
    X = np.array(list(itertools.product(*allowed)), np.int32).reshape(-1, p.n_tasks)
    perms = np.array(list(itertools.permutations(range(p.n_tasks))), np.float64)
    per = max(1, CHUNK // len(perms))
    best = math.inf
    for a in range(0, len(X), per):
        xs = X[a:a + per]
        ev = gb.evaluate(p, np.repeat(xs, len(perms), axis=0), np.tile(perms, (len(xs), 1)),
                         objective, backend="numba")
        assert (ev.violation == 0).all()  # allowed nodes only: the decoder never overloads
        best = min(best, float(ev.objective.min()))
    return best

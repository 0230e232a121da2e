"""What the LP relaxation of a placement-cost problem tells the search.

The LP relaxation of the assignment model (``x_ij`` in [0, 1], one node per task, capacity
per node and resource; :mod:`gabalance.exact` holds the integer model) is solved by HiGHS
through :func:`scipy.optimize.linprog` in a fraction of a second for GAP-sized problems. Its
basic optimum assigns all but at most ``M * K`` tasks integrally (Benders & van Nunen 1983),
so rounding it gives a seed close to the optimum, and its reduced costs
``c_ij - u_i - sum_k v_jk d_ijk`` rank each task's nodes by how much moving there really costs
once capacity is priced: the candidate lists of the incremental search
(:mod:`gabalance.backend._numba_search`) follow that order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from gabalance.problem import Problem

__all__ = ["LPRelaxation", "candidate_lists", "core_assignment", "core_pairs", "fixed_core",
           "fixed_pairs", "lp_relaxation", "solve_pairs"]

#: largest number of (task, node) pairs whose LP is attempted
LP_PAIR_LIMIT = 2_000_000


@dataclass(frozen=True)
class LPRelaxation:
    """The LP relaxation's answer.

    Attributes
    ----------
    bound : float
        Its optimal value in the problem's sense (a lower bound for min, upper for max).
    x : ndarray (N,) int32
        Each task's node of largest LP share (ties: the lowest index): the rounded seed.
    reduced : ndarray (N, M) float64
        Reduced cost of every allowed pair in the minimisation form (``inf`` where not
        allowed), >= 0; 0 on the pairs the LP uses. Any assignment x costs at least
        ``bound + sum_i reduced[i, x_i]``.
    fractional : int
        Tasks split over several nodes.
    seconds : float
    """

    bound: float
    x: np.ndarray
    reduced: np.ndarray
    fractional: int
    seconds: float


def lp_relaxation(problem: Problem, score: np.ndarray, time_limit: float | None = None
                  ) -> LPRelaxation | None:
    """Solve the LP relaxation of ``min sum score[i, x_i]`` under capacity and eligibility.

    ``score`` (N, M) float64 is the signed cost (``-cost`` to maximise). Returns None when
    the problem is too large (more than :data:`LP_PAIR_LIMIT` allowed pairs), the LP is
    infeasible (the demand exceeds what the capacity can hold even fractionally) or HiGHS
    does not finish within ``time_limit``.
    """
    t0 = time.perf_counter()
    allowed = problem.allowed
    ti, tj = np.nonzero(allowed)
    n_pairs = len(ti)
    N, M = problem.n_tasks, problem.n_nodes
    if n_pairs == 0 or n_pairs > LP_PAIR_LIMIT:
        return None
    c = score[ti, tj]
    if not np.all(np.isfinite(c)):
        return None
    a_eq, a_ub, b_ub, d, keep = _rows(problem, ti, tj)
    options: dict[str, object] = {"presolve": True}
    if time_limit is not None:
        options["time_limit"] = max(0.01, float(time_limit))
    # x <= 1 follows from the one-node rows and x >= 0; leaving it out keeps every reduced
    # cost non-negative at the optimum, which reduced-cost fixing relies on
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=np.ones(N), bounds=(0, None),
                  method="highs", options=options)
    if res.status != 0 or res.x is None:
        return None
    share = np.zeros((N, M))
    share[ti, tj] = res.x
    x = np.argmax(np.where(allowed, share, -1.0), axis=1).astype(np.int32)
    u = np.asarray(res.eqlin.marginals)
    red = c - u[ti]
    if keep:
        v = np.asarray(res.ineqlin.marginals).reshape(len(keep), M)  # <= 0 for a <= row
        for q, k in enumerate(keep):
            red -= v[q, tj] * d[:, k]
    reduced = np.full((N, M), np.inf)
    reduced[ti, tj] = np.maximum(red, 0.0)
    frac = int(((share > 1e-9) & (share < 1 - 1e-9)).any(axis=1).sum())
    return LPRelaxation(bound=float(res.fun), x=x, reduced=reduced, fractional=frac,
                        seconds=time.perf_counter() - t0)


def _rows(problem: Problem, ti: np.ndarray, tj: np.ndarray) -> tuple[Any, Any, Any,
                                                                     np.ndarray, list[int]]:
    """The assignment model over the (task, node) pairs ``(ti, tj)``: one-node-per-task rows
    (equalities), capacity rows per node and used resource (``a_ub x <= b_ub``), the pairs'
    demands (n, K) and the resources that have rows."""
    n_pairs, N, M, K = len(ti), problem.n_tasks, problem.n_nodes, problem.n_resources
    cols = np.arange(n_pairs)
    a_eq = sp.csr_matrix((np.ones(n_pairs), (ti, cols)), shape=(N, n_pairs))
    d = problem.demand[ti, tj] if problem.per_node_demand else problem.demand[ti]
    d = np.asarray(d, np.float64).reshape(n_pairs, K)
    cap = np.asarray(problem.capacity, np.float64)
    keep = [k for k in range(K) if np.any(d[:, k] > 0)]
    rows = [sp.csr_matrix((d[:, k], (tj, cols)), shape=(M, n_pairs)) for k in keep]
    a_ub = sp.vstack(rows).tocsr() if rows else None
    b_ub = np.concatenate([cap[:, k] for k in keep]) if rows else None
    return a_eq, a_ub, b_ub, d, keep


def core_pairs(lp: LPRelaxation, per_task: int = 3) -> np.ndarray:
    """The pairs (N, M) bool of the *core* problem: every task's ``per_task`` allowed pairs
    of least LP reduced cost (the core-problem idea of Balas & Zemel 1980 for knapsacks, here
    with the reduced costs of :func:`lp_relaxation`)."""
    red = lp.reduced
    N, M = red.shape
    k = max(1, min(int(per_task), M))
    pick = np.argpartition(red, k - 1, axis=1)[:, :k] if k < M else \
        np.tile(np.arange(M), (N, 1))
    keep = np.zeros((N, M), bool)
    keep[np.arange(N)[:, None], pick] = True
    return keep & np.isfinite(red)


def core_assignment(problem: Problem, score: np.ndarray, lp: LPRelaxation,
                    incumbent: np.ndarray, per_task: int = 3,
                    time_limit: float | None = None) -> np.ndarray | None:
    """Solve the *core* of the problem exactly (HiGHS MILP) and return its assignment.

    The core keeps, for every task, its ``per_task`` pairs of least LP reduced cost
    (:func:`core_pairs`) and its pair in ``incumbent`` (a feasible assignment, so the core
    is feasible); every other pair is fixed to 0. Returns the best assignment HiGHS finds
    within ``time_limit`` (None when it finds none), which is at least as good as
    ``incumbent`` only when HiGHS proves it; callers compare.
    """
    return solve_pairs(problem, score, core_pairs(lp, per_task), incumbent, time_limit)[0]


def fixed_pairs(score: np.ndarray, lp: LPRelaxation, incumbent: np.ndarray) -> np.ndarray:
    """The pairs (N, M) bool that reduced-cost fixing around ``incumbent`` leaves open.

    Every assignment ``x`` costs at least ``lp.bound + sum_i lp.reduced[i, x_i]``, so a pair
    whose reduced cost exceeds ``cost(incumbent) - lp.bound`` (less one when every score is
    an integer) belongs to no better assignment and is fixed to 0 (reduced-cost fixing;
    Nemhauser & Wolsey 1988, I.2.5). The incumbent's own pairs are kept.
    """
    N = score.shape[0]
    inc = np.asarray(incumbent)
    slack = float(score[np.arange(N), inc].sum()) - lp.bound
    finite = score[np.isfinite(score)]
    if np.all(finite == np.round(finite)):
        slack -= 1.0
    keep = np.isfinite(lp.reduced) & (lp.reduced <= slack + 1e-9 * (1.0 + abs(lp.bound)))
    keep[np.arange(N), inc] = True
    return keep


def fixed_core(problem: Problem, score: np.ndarray, lp: LPRelaxation, incumbent: np.ndarray,
               time_limit: float | None = None, keep: np.ndarray | None = None
               ) -> tuple[np.ndarray | None, bool]:
    """Solve exactly (HiGHS) what reduced-cost fixing leaves of the problem around
    ``incumbent`` (:func:`fixed_pairs`, or ``keep`` when given from it).

    That MILP's optimum is the whole problem's when HiGHS solves it to optimality within
    ``time_limit``. Returns (the best assignment found or None, whether it is proven optimal
    for the whole problem).
    """
    if keep is None:
        keep = fixed_pairs(score, lp, incumbent)
    return solve_pairs(problem, score, keep, np.asarray(incumbent), time_limit)


def solve_pairs(problem: Problem, score: np.ndarray, keep: np.ndarray, incumbent: np.ndarray,
                 time_limit: float | None) -> tuple[np.ndarray | None, bool]:
    """Solve the assignment MILP over the pairs ``keep`` (N, M) bool and those of
    ``incumbent`` (N,) int with HiGHS, to a relative gap of 0.

    Returns (the best assignment found within ``time_limit``, (N,) int32, or None; whether
    HiGHS proved it optimal on those pairs).
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    N = score.shape[0]
    keep = keep.copy()
    keep[np.arange(N), np.asarray(incumbent)] = True
    ti, tj = np.nonzero(keep)
    a_eq, a_ub, b_ub, _, rows = _rows(problem, ti, tj)
    cons = [LinearConstraint(a_eq, 1.0, 1.0)]
    if rows:
        cons.append(LinearConstraint(a_ub, -np.inf, b_ub))
    # HiGHS stops at a relative gap of 1e-4 by default, one or two units on a GAP of value
    # 10^4: a core move must be exact to be worth its time
    options: dict[str, Any] = {"presolve": True, "mip_rel_gap": 0.0}
    if time_limit is not None:
        options["time_limit"] = max(0.01, float(time_limit))
    res = milp(score[ti, tj], constraints=cons, integrality=np.ones(len(ti)),
               bounds=Bounds(0, 1), options=options)
    if res.x is None:
        return None, False
    x = np.asarray(incumbent, np.int32).copy()
    chosen = res.x > 0.5
    x[ti[chosen]] = tj[chosen]
    return x, bool(res.status == 0)


def candidate_lists(score: np.ndarray, allowed: np.ndarray, length: int,
                    reduced: np.ndarray | None = None) -> np.ndarray:
    """Each task's ``length`` best allowed nodes, (N, length) int64 padded with -1.

    Nodes are ordered by ``reduced`` (LP reduced cost) when given, then by ``score``, then by
    index; with ``length >= M`` every allowed node is listed.
    """
    M = score.shape[1]
    length = max(1, min(int(length), M))
    primary = score if reduced is None else reduced
    # lexicographic (primary, score, index) through a stable double sort
    order = np.argsort(score, axis=1, kind="stable")
    prim = np.take_along_axis(primary, order, axis=1)
    prim = np.where(np.take_along_axis(allowed, order, axis=1), prim, np.inf)
    order = np.take_along_axis(order, np.argsort(prim, axis=1, kind="stable"), axis=1)
    cand = order[:, :length].astype(np.int64)
    ok = np.take_along_axis(allowed, cand, axis=1)
    return np.where(ok, cand, -1)

"""Exact models: mixed-integer linear programs solved by HiGHS through ``scipy.optimize.milp``.

For small instances these give the true optimum, or, when the time limit ends the search, the
best solution HiGHS found and a proven bound on the optimum, so a metaheuristic's answer can
be judged. :func:`gabalance.solve` calls :func:`solve_milp` for ``method="milp"``;
``docs/exact.md`` describes both models.

Placement (objectives ``cost``, ``max_utilization``, ``nodes_used``)
    One binary ``y[i, j]`` per allowed (task, node) pair (pairs that are not allowed have no
    variable), ``sum_j y[i, j] = 1``, and per node and resource
    ``sum_i demand(i, j, k) y[i, j] <= capacity[j, k]`` (the GAP model). ``max_utilization``
    adds a continuous ``u`` with ``load[j, k] <= u capacity[j, k]``; ``nodes_used`` adds
    binaries ``z[j] >= y[i, j]``. ``imbalance`` (a standard deviation) is not linear and is
    refused.

Schedule (objectives ``makespan``, ``weighted_completion``)
    The time-indexed ("pulse") formulation of Pritsker, Watters & Wolfe (1969), extended with
    node choice: one binary ``x[i, j, t]`` per task, allowed node and integer start time.
    Capacity holds per node, resource and time step; a dependency ``p -> i`` requires
    ``S_i >= F_p + transfer(p, i)``, the transfer counted only when the two tasks sit on
    different nodes (one linear row per node of ``p``). Times must be integer multiples of a
    common unit ``1 / time_unit``, found automatically (runtimes, releases and transfer
    times; ``MILPParams.max_time_unit`` bounds it). The horizon comes from the best feasible
    heuristic schedule (the baselines' plans and a warm start): with upper bound ``UB`` on
    the objective, every task must finish by ``UB`` (makespan) or by
    ``(UB - sum_{l != i} w_l EF_l) / w_i`` (weighted completion, ``EF`` = earliest finish),
    tightened backwards along the dependencies. No optimal schedule is cut off.

    The MILP's schedule is returned as priority keys (tasks in order of MILP start time,
    dependencies breaking ties) that the serial decoder of ``docs/model.md`` turns into a
    schedule in which no task starts later, so its objective is no worse. Because every
    active schedule is produced by the decoder from some order (Kolisch 1996), the MILP's
    optimum equals the best objective over all assignments and priority orders.

Warm starts
    ``scipy.optimize.milp`` (SciPy 1.17) accepts no initial solution and no objective cutoff,
    so a GA solution cannot be handed to HiGHS as an incumbent. Here a warm start serves to
    tighten the schedule horizon (a better upper bound gives a smaller model) and is returned
    when HiGHS finds nothing in time (status 5). Handing it to HiGHS as an incumbent would
    need the ``highspy`` bindings (``Highs.setSolution``) instead of SciPy's wrapper.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import sys
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, milp

from gabalance._params import DictRoundTrip
from gabalance.problem import Problem, mode_of

__all__ = ["EXACT_OBJECTIVES", "MILPParams", "MILPSolution", "solve_milp", "time_unit"]

#: HiGHS's primal and integrality tolerance here (its defaults, 1e-7 and 1e-6, would accept
#: overloads of that size in float data)
FEASIBILITY_TOLERANCE = 1e-9

#: objectives with an exact model
EXACT_OBJECTIVES = ("cost", "max_utilization", "nodes_used", "makespan", "weighted_completion")


@dataclass(frozen=True)
class MILPParams(DictRoundTrip):
    """Parameters of the exact method (``solve(method="milp", params=MILPParams(...))``).

    Attributes
    ----------
    mip_rel_gap : float, default 0.0
        HiGHS stops when (incumbent - bound) / incumbent falls to this; 0 proves optimality
        (HiGHS's own default, 1e-4, would stop up to 0.01% short of it).
    presolve : bool, default True
        Let HiGHS presolve the model.
    max_variables : int, default 200_000
        Size guard: a model with more variables is not built (status 6).
    max_nonzeros : int, default 5_000_000
        Size guard on the constraint matrix's nonzeros (about 40 bytes each in HiGHS).
    max_time_unit : int, default 1000
        Schedule mode: the largest number of time steps per time unit of the input. Times that
        are no multiple of ``1 / max_time_unit`` cannot be modelled exactly (status 6).
    disp : bool, default False
        Print HiGHS's log.
    """

    mip_rel_gap: float = 0.0
    presolve: bool = True
    max_variables: int = 200_000
    max_nonzeros: int = 5_000_000
    max_time_unit: int = 1000
    disp: bool = False

    def __post_init__(self) -> None:
        g = self.mip_rel_gap
        if isinstance(g, bool) or not isinstance(g, (int, float, np.floating)) \
                or not 0.0 <= float(g) < 1.0:
            raise ValueError(f"MILPParams.mip_rel_gap must be a number in [0, 1), got {g!r}")
        for name in ("max_variables", "max_nonzeros", "max_time_unit"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"MILPParams.{name} must be an integer >= 1, got {v!r}")
        for name in ("presolve", "disp"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"MILPParams.{name} must be True or False, "
                                 f"got {getattr(self, name)!r}")


@dataclass
class MILPSolution:
    """What :func:`solve_milp` found (before :func:`gabalance.solve` evaluates it).

    Attributes
    ----------
    status : int
        As :data:`gabalance.result.STATUS`: 0 optimal, 1 time limit with an incumbent,
        2 infeasible, 5 time limit without a MILP solution, 6 too large to model.
    message : str
    x : ndarray, shape (N,), int32, or None
        Node of every task (the MILP's, or for status 5 the heuristic's when there is one).
    keys : ndarray, shape (N,), float64, or None
        Schedule mode: priority keys reproducing the MILP's order.
    bound : float
        Proven bound on the optimum in the objective's units and sense (lower bound for
        "min", upper for "max"); nan when none is known.
    value : float
        The MILP's objective value for its incumbent (nan without one).
    node_count : int
        Branch-and-bound nodes HiGHS explored.
    stats : dict
        Model size: ``variables``, ``constraints``, ``nonzeros``, and in schedule mode
        ``time_unit`` (steps per input time unit) and ``horizon`` (in input time units).
    """

    status: int
    message: str
    x: np.ndarray | None = None
    keys: np.ndarray | None = None
    bound: float = math.nan
    value: float = math.nan
    node_count: int = 0
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)


class _TooLarge(Exception):
    """The model would exceed a size guard (message says which)."""


class _Infeasible(Exception):
    """Infeasibility proven before any model was built (message says why)."""


# --------------------------------------------------------------------------- model assembly


class _Rows:
    """Sparse constraint rows collected as COO triplets: ``lo <= A @ v <= hi``."""

    def __init__(self) -> None:
        self.r: list[np.ndarray] = []
        self.c: list[np.ndarray] = []
        self.v: list[np.ndarray] = []
        self.lo: list[np.ndarray] = []
        self.hi: list[np.ndarray] = []
        self.n = 0

    def add(self, rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, lo: Any, hi: Any,
            count: int) -> None:
        """Append ``count`` rows; ``rows`` holds local row numbers 0..count-1."""
        if count == 0:
            return
        self.r.append(np.asarray(rows, np.int64) + self.n)
        self.c.append(np.asarray(cols, np.int64))
        self.v.append(np.asarray(vals, np.float64))
        self.lo.append(np.broadcast_to(np.asarray(lo, np.float64), (count,)))
        self.hi.append(np.broadcast_to(np.asarray(hi, np.float64), (count,)))
        self.n += count

    def constraint(self, n_vars: int) -> LinearConstraint:
        def cat(parts: list[np.ndarray], dt: Any) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, dt)

        A = sparse.csr_array((cat(self.v, np.float64), (cat(self.r, np.int64),
                                                          cat(self.c, np.int64))),
                             shape=(self.n, n_vars))
        return LinearConstraint(A, cat(self.lo, np.float64), cat(self.hi, np.float64))

    @property
    def nnz(self) -> int:
        return int(sum(len(v) for v in self.v))


def _guard(variables: int, nonzeros: int, params: MILPParams) -> None:
    if variables > params.max_variables or nonzeros > params.max_nonzeros:
        raise _TooLarge(
            f"too large for the exact model: {variables:,} variables and about {nonzeros:,} "
            f"nonzeros (limits: MILPParams.max_variables={params.max_variables:,}, "
            f"max_nonzeros={params.max_nonzeros:,}); raise the limits or use method='ga'")


def _no_node(problem: Problem, allowed: np.ndarray) -> None:
    lonely = np.flatnonzero(~allowed.any(axis=1))
    if lonely.size:
        raise _Infeasible(f"task {problem.task_names[int(lonely[0])]!r} is allowed on no node")


def _demand_pairs(problem: Problem, ti: np.ndarray, tj: np.ndarray) -> np.ndarray:
    """Demand of each (task, node) pair, shape (P, K) float64."""
    d = problem.demand[ti, tj] if problem.per_node_demand else problem.demand[ti]
    return np.asarray(d, np.float64)


def _runtime_matrix(problem: Problem) -> np.ndarray:
    if problem.runtime is not None:
        return np.asarray(problem.runtime, np.float64)
    return problem.duration[:, None] / problem.speed[None, :]


def _capacity_rows(rows: _Rows, problem: Problem, pj: np.ndarray, dem: np.ndarray,
                   cols: np.ndarray) -> None:
    """``sum_i d(i,j,k) y[i,j] <= C[j,k]`` for every (node, resource) that can overflow."""
    M, K = problem.n_nodes, problem.n_resources
    cap = np.asarray(problem.capacity, np.float64)
    total = np.zeros((M, K))
    np.add.at(total, pj, dem)
    binding = total > cap
    for k in range(K):
        sel = binding[pj, k] & (dem[:, k] != 0)
        nodes = np.flatnonzero(binding[:, k])
        if not nodes.size:
            continue
        row_of = np.full(M, -1)
        row_of[nodes] = np.arange(nodes.size)
        rows.add(row_of[pj[sel]], cols[sel], dem[sel, k], -np.inf, cap[nodes, k], nodes.size)


def _placement_model(problem: Problem, objective: str, sense: str, params: MILPParams
                     ) -> dict[str, Any]:
    allowed = problem.allowed
    _no_node(problem, allowed)
    pi, pj = np.nonzero(allowed)
    P, N, M, K = pi.size, problem.n_tasks, problem.n_nodes, problem.n_resources
    extra = {"cost": 0, "max_utilization": 1, "nodes_used": M}[objective]
    n_vars = P + extra
    _guard(n_vars, P * (1 + K) + (P if objective != "cost" else 0) + N, params)
    dem = _demand_pairs(problem, pi, pj)
    cols = np.arange(P)
    rows = _Rows()
    rows.add(pi, cols, np.ones(P), 1.0, 1.0, N)  # each task on exactly one node
    _capacity_rows(rows, problem, pj, dem, cols)
    c = np.zeros(n_vars)
    integrality = np.ones(n_vars)
    lb, ub = np.zeros(n_vars), np.ones(n_vars)
    integral = False
    if objective == "cost":
        cost = problem.cost if problem.cost is not None else _runtime_matrix(problem)
        c[:P] = np.asarray(cost, np.float64)[pi, pj]
        integral = bool(np.all(c == np.round(c)))
        if sense == "max":
            c = -c
        cheapest = np.full(N, np.inf)
        np.minimum.at(cheapest, pi, c[:P])
        simple = float(cheapest.sum())  # every task on its best node, capacities ignored
    elif objective == "max_utilization":
        u = P
        c[u], integrality[u] = 1.0, 0
        cap = np.asarray(problem.capacity, np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            alone = np.where(dem > 0, dem / cap[pj], 0.0).max(axis=1, initial=0.0)
        least = np.full(N, np.inf)
        np.minimum.at(least, pi, alone)
        simple = float(least.max(initial=0.0))  # each task alone on its emptiest node
        for k in range(K):
            sel = (cap[pj, k] > 0) & (dem[:, k] != 0)
            nodes = np.unique(pj[sel])
            row_of = np.full(M, -1)
            row_of[nodes] = np.arange(nodes.size)
            r = np.concatenate([row_of[pj[sel]], np.arange(nodes.size)])
            cc = np.concatenate([cols[sel], np.full(nodes.size, u)])
            vv = np.concatenate([dem[sel, k], -cap[nodes, k]])
            rows.add(r, cc, vv, -np.inf, 0.0, nodes.size)
    else:  # nodes_used: z[j] >= y[i, j]
        c[P:] = 1.0
        integral = True
        simple = float(min(N, 1))
        rows.add(np.repeat(np.arange(P), 2), np.stack([cols, P + pj], 1).ravel(),
                 np.tile([1.0, -1.0], P), -np.inf, 0.0, P)
    return dict(c=c, integrality=integrality, bounds=Bounds(lb, ub),
                constraints=rows.constraint(n_vars), pi=pi, pj=pj, integral=integral,
                simple_bound=simple)


# --------------------------------------------------------------------------- schedule model


def time_unit(problem: Problem, max_unit: int = 1000) -> int | None:
    """Smallest ``s <= max_unit`` such that every time of ``problem`` is a multiple of ``1/s``.

    The times are the runtimes of allowed (task, node) pairs, the release times and the
    transfer times of every dependency between two distinct nodes its tasks may use. Returns
    None when no such ``s`` exists.
    """
    allowed = problem.allowed
    rt = _runtime_matrix(problem)
    values = [rt[allowed], np.asarray(problem.release, np.float64)]
    for e, tr in enumerate(_transfers(problem)):
        p, s = problem.edges[e]
        values.append(tr[np.ix_(allowed[p], allowed[s])].ravel())
    v = np.concatenate(values)
    v = v[v != 0]
    if not v.size:
        return 1
    for s in range(1, max_unit + 1):
        w = v * s
        if np.all(np.abs(w - np.round(w)) <= 1e-9 * np.maximum(1.0, np.abs(w))):
            return s
    return None


def _transfers(problem: Problem) -> list[np.ndarray]:
    """Per edge, the (M, M) transfer times (0 on the diagonal), as the decoder computes them."""
    M = problem.n_nodes
    bw = np.broadcast_to(np.asarray(problem.bandwidth, np.float64), (M, M))
    out = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for amount in np.asarray(problem.data, np.float64):
            tr = np.zeros((M, M)) if amount == 0 else amount / bw
            tr = np.where(np.eye(M, dtype=bool), 0.0, tr)
            out.append(tr)
    return out


def _topological(problem: Problem) -> list[int]:
    from gabalance.baselines import _topological as topo

    return topo(problem)


def _schedule_model(problem: Problem, objective: str, params: MILPParams,
                    incumbent: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Assemble the time-indexed model; ``incumbent`` = (x, start) of a feasible heuristic
    schedule, which fixes the horizon."""
    N, M, K = problem.n_tasks, problem.n_nodes, problem.n_resources
    allowed = problem.allowed
    _no_node(problem, allowed)
    if int(allowed.sum()) > params.max_variables:
        _guard(int(allowed.sum()), 0, params)
    s = time_unit(problem, params.max_time_unit)
    if s is None:
        raise _TooLarge(f"too large for the exact model: the times are no multiples of 1/"
                        f"{params.max_time_unit} of a time unit (MILPParams.max_time_unit), so "
                        "no time grid represents them exactly")
    inc_x, inc_start = incumbent
    rt = _runtime_matrix(problem)
    p_int = np.where(allowed, np.round(np.where(allowed, rt, 0.0) * s), 0).astype(np.int64)
    rel = np.round(np.asarray(problem.release, np.float64) * s).astype(np.int64)
    trans = [np.round(t * s).astype(np.int64) for t in _transfers(problem)]
    big = np.iinfo(np.int64).max // 4
    p_min = np.where(allowed, p_int, big).min(axis=1)
    order = _topological(problem)
    preds: list[list[int]] = [[] for _ in range(N)]
    succs: list[list[int]] = [[] for _ in range(N)]
    for p, q in problem.edges.tolist():
        preds[q].append(p)
        succs[p].append(q)
    es = rel.copy()  # earliest start (transfers may be avoided by sharing a node)
    for i in order:
        for p in preds[i]:
            es[i] = max(es[i], es[p] + p_min[p])
    ef = es + p_min
    inc_f = np.round((inc_start + rt[np.arange(N), inc_x]) * s).astype(np.int64)
    w = np.asarray(problem.weight, np.float64)
    if objective == "makespan":
        ub = int(inc_f.max())
        lf = np.full(N, ub, np.int64)
    else:
        ub_w = float(np.dot(w, inc_f))
        rest = float(np.dot(w, ef))
        lf = np.floor((ub_w - (rest - w * ef)) / w + 1e-9).astype(np.int64)
    for i in reversed(order):
        for q in succs[i]:
            lf[i] = min(lf[i], lf[q] - p_min[q])
    lf = np.maximum(lf, inc_f)  # the heuristic schedule stays inside (round-off safety)
    horizon = int(lf.max())

    # variables x[i, j, t]: t in [es_i, lf_i - p_ij]
    pi, pj = np.nonzero(allowed)
    first = es[pi]
    count = np.maximum(0, lf[pi] - p_int[pi, pj] - first + 1)
    V = int(count.sum())
    # size guard before any per-variable array is allocated (V can be in the billions)
    _guard(V + (1 if objective == "makespan" else 0), V, params)
    vi = np.repeat(pi, count)
    vj = np.repeat(pj, count)
    offs = np.repeat(np.cumsum(count) - count, count)
    vt = np.repeat(first, count) + (np.arange(V) - offs)
    vp = p_int[vi, vj]
    var_per_task = np.bincount(vi, minlength=N)
    # capacity rows: only (node, resource) pairs whose tasks can overflow it
    cap = np.asarray(problem.capacity, np.float64)
    dem_pairs = _demand_pairs(problem, pi, pj)
    total = np.zeros((M, K))
    np.add.at(total, pj, np.where(p_int[pi, pj][:, None] > 0, dem_pairs, 0.0))
    binding = total > cap
    dem_v = _demand_pairs(problem, vi, vj)
    active = binding[vj] & (dem_v != 0) & (vp[:, None] > 0)  # (V, K)
    cap_nnz = int((active * vp[:, None]).sum())
    edge_rows = []
    for e, (p, q) in enumerate(problem.edges.tolist()):
        tmax = np.where(allowed[q][None, :], trans[e], 0).max(axis=1)
        edge_rows.append([a for a in np.flatnonzero(allowed[p]) if tmax[a] > 0])
    prec_nnz = sum((1 + len(r)) * int(var_per_task[p] + var_per_task[q])
                   for r, (p, q) in zip(edge_rows, problem.edges.tolist()))
    ptr = np.concatenate([[0], np.cumsum(var_per_task)])  # vi is sorted: task i's columns
    start_of = [np.arange(ptr[i], ptr[i + 1]) for i in range(N)]
    strong = [_started_by_finished(vt, vp, start_of[q], start_of[p], count_only=True)
              for p, q in problem.edges.tolist()]
    strong_nnz = sum(int(n) for n in strong)
    n_vars = V + (1 if objective == "makespan" else 0)
    nnz = V + cap_nnz + prec_nnz + (V if objective == "makespan" else 0)
    _guard(n_vars, nnz, params)
    use_strong = nnz + strong_nnz <= params.max_nonzeros

    rows = _Rows()
    cols = np.arange(V)
    rows.add(vi, cols, np.ones(V), 1.0, 1.0, N)
    for k in range(K):
        sel = np.flatnonzero(active[:, k])
        if not sel.size:
            continue
        reps = vp[sel]
        v_rep = np.repeat(sel, reps)
        t_rep = np.repeat(vt[sel], reps) + (np.arange(reps.sum())
                                            - np.repeat(np.cumsum(reps) - reps, reps))
        key = vj[v_rep].astype(np.int64) * (horizon + 1) + t_rep
        uniq, local = np.unique(key, return_inverse=True)
        rows.add(local, v_rep, dem_v[v_rep, k], -np.inf, cap[uniq // (horizon + 1), k],
                 uniq.size)
    for e, (p, q) in enumerate(problem.edges.tolist()):
        vq, vp_ = start_of[q], start_of[p]
        if use_strong:
            r_loc, r_col, r_val = _started_by_finished(vt, vp, vq, vp_)
            rows.add(r_loc, r_col, r_val, -np.inf, 0.0,
                     _started_by_finished(vt, vp, vq, vp_, rows_only=True))
        # base row: S_q - F_p >= 0
        r_cols = np.concatenate([vq, vp_])
        r_vals = np.concatenate([vt[vq], -(vt[vp_] + vp[vp_])]).astype(np.float64)
        rows.add(np.zeros(r_cols.size, np.int64), r_cols, r_vals, 0.0, np.inf, 1)
        tr = trans[e]
        for a in edge_rows[e]:
            tmax = float(np.where(allowed[q], tr[a], 0).max())
            vals = np.concatenate([vt[vq] - tr[a, vj[vq]],
                                   -(vt[vp_] + vp[vp_]) - np.where(vj[vp_] == a, tmax, 0.0)])
            rows.add(np.zeros(r_cols.size, np.int64), r_cols, vals.astype(np.float64),
                     -tmax, np.inf, 1)
    c = np.zeros(n_vars)
    integrality = np.ones(n_vars)
    lb, ub_b = np.zeros(n_vars), np.ones(n_vars)
    if objective == "makespan":
        cm = V
        c[cm], integrality[cm] = 1.0, 1
        lb[cm], ub_b[cm] = float(ef.max()), float(ub)
        sinks = [i for i in range(N) if not succs[i]]
        for i in sinks:
            vv = start_of[i]
            rows.add(np.zeros(vv.size + 1, np.int64), np.append(vv, cm),
                     np.append(-(vt[vv] + vp[vv]).astype(np.float64), 1.0), 0.0, np.inf, 1)
        integral = True
        simple = float(ef.max(initial=0))  # the critical path, shortest runtimes
    else:
        c[:V] = w[vi] * (vt + vp)
        integral = bool(np.all(w == np.round(w)))
        simple = float(np.dot(w, ef))  # every task at its earliest finish
    return dict(c=c, integrality=integrality, bounds=Bounds(lb, ub_b),
                constraints=rows.constraint(n_vars), vi=vi, vj=vj, vt=vt, V=V, unit=s,
                integral=integral, horizon=horizon / s, order=order, simple_bound=simple,
                precedence="time-indexed" if use_strong else "aggregated")


def _started_by_finished(vt: np.ndarray, vp: np.ndarray, vq: np.ndarray, vpred: np.ndarray,
                         count_only: bool = False, rows_only: bool = False) -> Any:
    """Time-indexed dependency rows for ``pred -> q`` (Christofides, Alvarez-Valdes &
    Tamarit 1987): for every step ``t`` of q's window, "q started by t" <= "pred finished by
    t", i.e. ``sum_{s <= t} x[q, ., s] - sum_{s + p <= t} x[pred, ., s] <= 0``.

    Returns ``(rows, cols, vals)`` (local row numbers), or the number of nonzeros
    (``count_only``) or of rows (``rows_only``).
    """
    if not vq.size:
        return 0 if (count_only or rows_only) else (np.zeros(0, np.int64),) * 3
    lo, hi = int(vt[vq].min()), int(vt[vq].max())
    if rows_only:
        return hi - lo + 1
    n_q = hi - vt[vq] + 1  # q's column v sits in rows vt_v .. hi
    first_p = np.maximum(lo, vt[vpred] + vp[vpred])
    n_p = np.maximum(0, hi - first_p + 1)  # pred's column in rows max(lo, F_v) .. hi
    if count_only:
        return int(n_q.sum() + n_p.sum())

    def spread(cols: np.ndarray, first: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, ...]:
        rep = np.repeat(cols, n)
        t = np.repeat(first, n) + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n))
        return t - lo, rep

    rq, cq = spread(vq, vt[vq], n_q)
    rp, cp = spread(vpred, first_p, n_p)
    return (np.concatenate([rq, rp]), np.concatenate([cq, cp]),
            np.concatenate([np.ones(cq.size), -np.ones(cp.size)]))


# --------------------------------------------------------------------------- driver


def _heuristics(problem: Problem, objective: str, sense: str,
                initial: tuple[np.ndarray, np.ndarray | None] | None
                ) -> tuple[np.ndarray, np.ndarray | None, float, np.ndarray | None] | None:
    """Best feasible solution among the warm start and the baselines' plans:
    ``(x, keys, objective, start)`` or None."""
    from gabalance.algorithms.ga import _seed_plans
    from gabalance.evaluate import best_index, evaluate

    cands: list[tuple[np.ndarray, np.ndarray | None]] = []
    if initial is not None:
        cands.append(initial)
    cands += [(pl.assignment, pl.keys) for _, pl in _seed_plans(problem, objective, 5.0)]
    schedule = mode_of(objective) == "schedule"
    pop = np.stack([np.asarray(x, np.int32) for x, _ in cands])
    keys = None
    if schedule:
        keys = np.stack([np.zeros(problem.n_tasks) if k is None else np.asarray(k, np.float64)
                         for _, k in cands])
    ev = evaluate(problem, pop, keys, objective, sense=sense, backend="numpy",
                  schedule="best" if schedule else None)
    b = best_index(ev.objective, ev.violation, sense)
    if ev.violation[b] > 0:
        return None
    start = ev.start[0] if ev.start is not None else None
    return pop[b], None if keys is None else keys[b], float(ev.objective[b]), start


@contextlib.contextmanager
def _quiet(on: bool) -> Iterator[None]:
    """Silence file descriptor 1 while HiGHS runs: its MIP solver prints internal notes
    (``HighsMipSolverData::...``) straight to the C-level stdout even with its log off."""
    if not on:
        yield
        return
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _score(problem: Problem, objective: str, sense: str, x: np.ndarray,
           keys: np.ndarray | None) -> float | None:
    """Objective of ``(x, keys)`` as the package evaluates it; None when it is infeasible."""
    from gabalance.evaluate import evaluate

    ev = evaluate(problem, x, keys, objective, sense=sense, backend="numpy")
    return None if ev.violation[0] > 0 else float(ev.objective[0])


def solve_milp(problem: Problem, objective: str, sense: str = "min",
               time_limit: float | None = None, params: MILPParams | None = None,
               initial: tuple[np.ndarray, np.ndarray | None] | None = None) -> MILPSolution:
    """Solve ``problem`` exactly (see the module docstring for the models).

    Parameters
    ----------
    problem : Problem
    objective : str
        One of :data:`EXACT_OBJECTIVES`.
    sense : {"min", "max"}
        "max" for ``cost`` only.
    time_limit : float, optional
        Seconds for HiGHS (model building and the heuristics come on top; they are small).
    params : MILPParams, optional
    initial : (x, keys) or None
        A known solution: tightens the schedule horizon and is returned when HiGHS finds
        nothing in time.

    Returns
    -------
    MILPSolution
    """
    if objective not in EXACT_OBJECTIVES:
        raise ValueError(f"method 'milp' has no exact model for objective {objective!r} "
                         f"(choose from {', '.join(EXACT_OBJECTIVES)})")
    params = params or MILPParams()
    schedule = mode_of(objective) == "schedule"
    t0 = time.perf_counter()
    fallback = None
    try:
        if not schedule:
            m = _placement_model(problem, objective, sense, params)
            stats: dict[str, Any] = {}
        else:
            fallback = _heuristics(problem, objective, sense, initial)
            if fallback is None:
                # the decoder never breaks capacity, so only eligibility can make it
                # infeasible, and every baseline respects eligibility
                _no_node(problem, problem.allowed)
                raise AssertionError("no feasible heuristic schedule")  # pragma: no cover
            x0, _, _, start0 = fallback
            assert start0 is not None
            m = _schedule_model(problem, objective, params, (x0, start0))
            stats = {"time_unit": m["unit"], "horizon": m["horizon"],
                     "precedence": m["precedence"]}
    except _TooLarge as exc:
        return MILPSolution(6, str(exc))
    except _Infeasible as exc:
        return MILPSolution(2, f"infeasible: {exc}")
    c, cons, integral = m["c"], m["constraints"], m["integral"]
    A = cons.A
    stats.update(variables=int(c.size), constraints=int(A.shape[0]), nonzeros=int(A.nnz))
    options: dict[str, Any] = {"disp": params.disp, "presolve": params.presolve,
                               "mip_rel_gap": float(params.mip_rel_gap)}
    if time_limit is not None:
        options["time_limit"] = max(0.01, float(time_limit) - (time.perf_counter() - t0))
    options.update(primal_feasibility_tolerance=FEASIBILITY_TOLERANCE,
                   mip_feasibility_tolerance=FEASIBILITY_TOLERANCE)
    with warnings.catch_warnings(), _quiet(not params.disp):
        # SciPy warns that it passes the two tolerances to HiGHS verbatim
        warnings.filterwarnings("ignore", "Unrecognized options", RuntimeWarning)
        res = milp(c, integrality=m["integrality"], bounds=m["bounds"], constraints=cons,
                   options=options)
    unit = stats.get("time_unit", 1)
    flip = -1.0 if sense == "max" else 1.0
    bound = getattr(res, "mip_dual_bound", None)
    if res.status == 0 and bound is None:
        bound = res.fun
    note = ""
    if (bound is None or not math.isfinite(bound)) and res.status == 1:
        # SciPy passes on no dual bound when HiGHS has no solution; use the model's own
        bound = m["simple_bound"]
        note = (" (the bound is the model's combinatorial one: HiGHS reported none)")
    if bound is not None and math.isfinite(bound):
        if integral:
            bound = math.ceil(bound - 1e-6)
        bound = flip * bound / unit
    else:
        bound = math.nan
    nodes = int(getattr(res, "mip_node_count", 0) or 0)
    if res.status == 2:
        return MILPSolution(2, "infeasible: HiGHS proved that no assignment respects the "
                               "capacities", bound=math.nan, node_count=nodes, stats=stats)
    if res.x is None:
        if res.status != 1:
            return MILPSolution(4 if res.status == 4 else 2, f"HiGHS: {res.message}",
                                node_count=nodes, stats=stats)
        if not schedule:
            fallback = _heuristics(problem, objective, sense, initial)
        msg = "time limit reached before HiGHS found a solution"
        if fallback is not None:
            msg += "; the best heuristic solution is returned"
            return MILPSolution(5, msg + note, x=fallback[0], keys=fallback[1], bound=bound,
                                node_count=nodes, stats=stats)
        return MILPSolution(5, msg + note, bound=bound, node_count=nodes, stats=stats)
    xv = res.x
    value = flip * float(res.fun) / unit
    if not schedule:
        pi, pj = m["pi"], m["pj"]
        chosen = xv[:pi.size] > 0.5
        x = np.empty(problem.n_tasks, np.int32)
        x[pi[chosen]] = pj[chosen]
        keys = None
    else:
        chosen = np.flatnonzero(xv[:m["V"]] > 0.5)
        x = np.empty(problem.n_tasks, np.int32)
        start = np.empty(problem.n_tasks, np.int64)
        x[m["vi"][chosen]] = m["vj"][chosen]
        start[m["vi"][chosen]] = m["vt"][chosen]
        topo = np.empty(problem.n_tasks, np.int64)
        topo[np.asarray(m["order"])] = np.arange(problem.n_tasks)
        rank = np.empty(problem.n_tasks, np.int64)
        rank[np.lexsort((topo, start))] = np.arange(problem.n_tasks)
        keys = rank / problem.n_tasks
    if res.status == 0:
        status, msg = 0, "optimal (proven by HiGHS)"
        if params.mip_rel_gap > 0:
            msg = f"optimal within a relative gap of {params.mip_rel_gap:g} (proven by HiGHS)"
    else:
        status, msg = 1, "time limit reached; the best MILP solution and a bound are returned"
    mine = _score(problem, objective, sense, x, keys)
    if mine is None or (mine - value) * flip > 1e-9 * max(1.0, abs(value)):
        # HiGHS accepted a solution that breaks a capacity by less than its tolerance: its
        # value is not reachable, so nothing is certified (the bound still holds: it bounds
        # a problem with capacities larger by the tolerance)
        if not schedule:
            fallback = _heuristics(problem, objective, sense, initial)
        msg = ("HiGHS's solution overloads a node by less than its feasibility tolerance "
               f"({FEASIBILITY_TOLERANCE:g}), so it certifies nothing")
        if fallback is not None and (mine is None or (fallback[2] - mine) * flip < 0):
            x, keys = fallback[0], fallback[1]
            msg += "; the best heuristic solution is returned"
        return MILPSolution(5, msg + note, x=x, keys=keys, bound=bound, value=value,
                            node_count=nodes, stats=stats)
    if status == 1:
        if not schedule:
            fallback = _heuristics(problem, objective, sense, initial)
        if fallback is not None and (fallback[2] - mine) * flip < 0:
            x, keys = fallback[0], fallback[1]
            msg = ("time limit reached; a heuristic solution better than HiGHS's incumbent "
                   "and a bound are returned")
    return MILPSolution(status, msg + note, x=x, keys=keys, bound=bound, value=value,
                        node_count=nodes, stats=stats)

"""The MILP models behind :mod:`gabalance.exact` and the LP bound of :mod:`gabalance.bounds`:
the GAP placement model, the time-indexed schedule model, the heuristic schedule that sets
its horizon, and the guards that refuse a model before it is built (``docs/exact.md``)."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint

from gabalance.baselines import seed_plans, topological_order
from gabalance.evaluate import best_index, evaluate
from gabalance.problem import Problem, mode_of

if TYPE_CHECKING:
    from gabalance.exact import MILPParams

class TooLarge(Exception):
    """The model would exceed a size guard (message says which)."""


class Infeasible(Exception):
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


#: a model more than this many times a size limit is out of reach, not just over it
OUT_OF_REACH = 100


def _guard(variables: int, nonzeros: int, params: MILPParams) -> None:
    """Refuse a model over a size limit: raise the limits when it is just over them, but
    more than :data:`OUT_OF_REACH` times over, no limit makes it solvable."""
    if variables <= params.max_variables and nonzeros <= params.max_nonzeros:
        return
    message = (f"too large for the exact model: {variables:,} variables and about "
               f"{nonzeros:,} nonzeros (limits: MILPParams.max_variables="
               f"{params.max_variables:,}, max_nonzeros={params.max_nonzeros:,})")
    times = max(variables / max(params.max_variables, 1), nonzeros / max(params.max_nonzeros, 1))
    if times <= OUT_OF_REACH:
        raise TooLarge(message + "; raise the limits or use method='ga'")
    raise TooLarge(f"{message}; at {times:,.0f} times the limit the exact model is out of "
                   "reach for this instance (raising the limits would not make it solvable): "
                   "use the GA (method='ga', --method ga) or a smaller instance")


def no_node(problem: Problem, allowed: np.ndarray) -> None:
    lonely = np.flatnonzero(~allowed.any(axis=1))
    if lonely.size:
        raise Infeasible(f"task {problem.task_names[int(lonely[0])]!r} is allowed on no node")


def _demand_pairs(problem: Problem, ti: np.ndarray, tj: np.ndarray) -> np.ndarray:
    """Demand of each (task, node) pair, shape (P, K) float64."""
    d = problem.demand[ti, tj] if problem.per_node_demand else problem.demand[ti]
    return np.asarray(d, np.float64)


def runtime_matrix(problem: Problem) -> np.ndarray:
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


def placement_model(problem: Problem, objective: str, sense: str, params: MILPParams
                     ) -> dict[str, Any]:
    allowed = problem.allowed
    no_node(problem, allowed)
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
        cost = problem.cost if problem.cost is not None else runtime_matrix(problem)
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
    rt = runtime_matrix(problem)
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


def schedule_model(problem: Problem, objective: str, params: MILPParams,
                   incumbent: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Assemble the time-indexed model; ``incumbent`` = (x, start) of a feasible heuristic
    schedule, which fixes the horizon."""
    N = problem.n_tasks
    allowed = problem.allowed
    no_node(problem, allowed)
    if int(allowed.sum()) > params.max_variables:
        _guard(int(allowed.sum()), 0, params)
    s = time_unit(problem, params.max_time_unit)
    if s is None:
        raise TooLarge(f"too large for the exact model: the times are no multiples of 1/"
                       f"{params.max_time_unit} of a time unit (MILPParams.max_time_unit), so "
                       "no time grid represents them exactly")
    tw = _time_windows(problem, objective, s, incumbent)
    es, lf, p_int = tw["es"], tw["lf"], tw["p_int"]
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
    total = np.zeros((problem.n_nodes, problem.n_resources))
    np.add.at(total, pj, np.where(p_int[pi, pj][:, None] > 0, _demand_pairs(problem, pi, pj),
                                  0.0))
    dem_v = _demand_pairs(problem, vi, vj)
    active = (total > cap)[vj] & (dem_v != 0) & (vp[:, None] > 0)  # (V, K)
    cap_nnz = int((active * vp[:, None]).sum())
    edge_rows: list[list[int]] = []
    for e, (p, q) in enumerate(problem.edges.tolist()):
        tmax = np.where(allowed[q][None, :], tw["trans"][e], 0).max(axis=1)
        edge_rows.append([int(a) for a in np.flatnonzero(allowed[p]) if tmax[a] > 0])
    prec_nnz = sum((1 + len(r)) * int(var_per_task[p] + var_per_task[q])
                   for r, (p, q) in zip(edge_rows, problem.edges.tolist()))
    ptr = np.concatenate([[0], np.cumsum(var_per_task)])  # vi is sorted: task i's columns
    start_of = [np.arange(ptr[i], ptr[i + 1]) for i in range(N)]
    strong_nnz = sum(int(_started_by_finished(vt, vp, start_of[q], start_of[p],
                                              count_only=True))
                     for p, q in problem.edges.tolist())
    n_vars = V + (1 if objective == "makespan" else 0)
    nnz = V + cap_nnz + prec_nnz + (V if objective == "makespan" else 0)
    _guard(n_vars, nnz, params)
    use_strong = nnz + strong_nnz <= params.max_nonzeros

    rows = _Rows()
    rows.add(vi, np.arange(V), np.ones(V), 1.0, 1.0, N)
    cols = dict(vi=vi, vj=vj, vt=vt, vp=vp, start_of=start_of)
    _capacity_rows_in_time(rows, cols, active, dem_v, cap, horizon)
    _precedence_rows(rows, problem, cols, tw["trans"], edge_rows, use_strong)
    c, integrality, lb, ub_b, integral, simple = _schedule_objective(
        rows, problem, objective, cols, tw, n_vars)
    return dict(c=c, integrality=integrality, bounds=Bounds(lb, ub_b),
                constraints=rows.constraint(n_vars), vi=vi, vj=vj, vt=vt, V=V, unit=s,
                integral=integral, horizon=horizon / s, order=tw["order"],
                simple_bound=simple,
                precedence="time-indexed" if use_strong else "aggregated")


def _time_windows(problem: Problem, objective: str, s: int,
                  incumbent: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """Integer times on the grid of ``1 / s`` and each task's window: earliest start ``es``
    (critical path, shortest runtimes, transfers avoidable), earliest finish ``ef`` and latest
    finish ``lf`` given the incumbent's objective ``ub``, tightened along the dependencies."""
    N = problem.n_tasks
    allowed = problem.allowed
    inc_x, inc_start = incumbent
    rt = runtime_matrix(problem)
    p_int = np.where(allowed, np.round(np.where(allowed, rt, 0.0) * s), 0).astype(np.int64)
    rel = np.round(np.asarray(problem.release, np.float64) * s).astype(np.int64)
    trans = [np.round(t * s).astype(np.int64) for t in _transfers(problem)]
    big = np.iinfo(np.int64).max // 4
    p_min = np.where(allowed, p_int, big).min(axis=1)
    order = topological_order(problem)
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
    ub: float
    if objective == "makespan":
        ub = int(inc_f.max())
        lf = np.full(N, ub, np.int64)
    else:
        ub = float(np.dot(w, inc_f))
        rest = float(np.dot(w, ef))
        lf = np.floor((ub - (rest - w * ef)) / w + 1e-9).astype(np.int64)
    for i in reversed(order):
        for q in succs[i]:
            lf[i] = min(lf[i], lf[q] - p_min[q])
    lf = np.maximum(lf, inc_f)  # the heuristic schedule stays inside (round-off safety)
    return dict(p_int=p_int, trans=trans, order=order, succs=succs, es=es, ef=ef, lf=lf,
                ub=ub, w=w)


def _capacity_rows_in_time(rows: _Rows, cols: dict[str, Any], active: np.ndarray,
                           dem_v: np.ndarray, cap: np.ndarray, horizon: int) -> None:
    """Per node, resource and time step where the tasks can overflow it: the demand of the
    tasks running then at most the capacity (``active`` (V, K): the variables that count)."""
    vj, vt, vp = cols["vj"], cols["vt"], cols["vp"]
    for k in range(active.shape[1]):
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


def _precedence_rows(rows: _Rows, problem: Problem, cols: dict[str, Any],
                     trans: list[np.ndarray], edge_rows: list[list[int]],
                     use_strong: bool) -> None:
    """Per dependency ``p -> q``: ``S_q >= F_p`` (aggregated), one row per node ``a`` of
    ``p`` with a transfer (``S_q >= F_p + transfer``), and with ``use_strong`` the
    time-indexed rows (q started by t only if p finished by t)."""
    allowed = problem.allowed
    vj, vt, vp, start_of = cols["vj"], cols["vt"], cols["vp"], cols["start_of"]
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


def _schedule_objective(rows: _Rows, problem: Problem, objective: str, cols: dict[str, Any],
                        tw: dict[str, Any], n_vars: int) -> tuple:
    """Objective vector, integrality, variable bounds, whether the optimum is integral and
    the model's combinatorial bound; makespan adds its variable ``C >= F_i`` (sinks)."""
    vi, vt, vp, start_of = cols["vi"], cols["vt"], cols["vp"], cols["start_of"]
    V = vi.size
    ef, w = tw["ef"], tw["w"]
    c = np.zeros(n_vars)
    integrality = np.ones(n_vars)
    lb, ub_b = np.zeros(n_vars), np.ones(n_vars)
    if objective == "makespan":
        cm = V
        c[cm], integrality[cm] = 1.0, 1
        lb[cm], ub_b[cm] = float(ef.max()), float(tw["ub"])
        for i in range(problem.n_tasks):
            if tw["succs"][i]:
                continue
            vv = start_of[i]
            rows.add(np.zeros(vv.size + 1, np.int64), np.append(vv, cm),
                     np.append(-(vt[vv] + vp[vv]).astype(np.float64), 1.0), 0.0, np.inf, 1)
        return c, integrality, lb, ub_b, True, float(ef.max(initial=0))  # the critical path
    c[:V] = w[vi] * (vt + vp)
    integral = bool(np.all(w == np.round(w)))
    return c, integrality, lb, ub_b, integral, float(np.dot(w, ef))  # all at earliest finish


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


def heuristic_start(problem: Problem, objective: str, sense: str,
                initial: tuple[np.ndarray, np.ndarray | None] | None
                ) -> tuple[np.ndarray, np.ndarray | None, float, np.ndarray | None] | None:
    """Best feasible solution among the warm start and the baselines' plans:
    ``(x, keys, objective, start)`` or None."""
    cands: list[tuple[np.ndarray, np.ndarray | None]] = []
    if initial is not None:
        cands.append(initial)
    cands += [(pl.assignment, pl.keys) for _, pl in seed_plans(problem, objective, 5.0)]
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
def quiet(on: bool) -> Iterator[None]:
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

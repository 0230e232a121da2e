"""Proven lower bounds on the schedule objectives ``makespan`` and ``weighted_completion``.

:func:`schedule_bound` returns a value that no feasible schedule of the problem beats
(every task on a node that allows it, capacities held at every instant, releases and
dependencies with their transfer times respected: the semantics of ``docs/model.md``, of
which the serial decoder's schedules are a subset). :func:`gabalance.solve` reports it as
``SolveResult.bound`` for every method on the schedule objectives, with ``gap`` the relative
distance of the answer to it, so a heuristic's answer can be judged on instances far too
large for the exact model.

The bounds are relaxations, each valid for *every* feasible schedule:

``critical_path`` (both objectives)
    Earliest start of each task on each node, a longest-path pass through the DAG in which
    a task runs at its runtime on that node and a dependency costs its transfer only when
    the two tasks cannot share a node: ``h_i(g) = max(release_i, max_p min_a (h_p(a) +
    runtime(p, a) + transfer_lb(p, i, a, g)))``, where ``transfer_lb`` is 0 when ``a = g``
    (a node group may hold both tasks on one node) and otherwise the least transfer time
    between a node of ``a`` and a node of ``g``. The earliest finish is
    ``EF_i = min_g h_i(g) + runtime(i, g)`` over the nodes that allow task i, the tail
    ``q_i`` the longest chain of fastest runtimes after it. Makespan ``>= max_i EF_i +
    q_i`` (the classic head-body-tail bound of RCPSP, e.g. Brucker & Knust, "Complex
    Scheduling", 2012, ch. 4, here per node); weighted completion ``>= sum_i w_i EF_i``.

``energy`` (both objectives)
    A node ``j`` delivers at most ``capacity[j, k]`` of resource ``k`` per time unit, and a
    task on node j consumes ``runtime(i, j) * demand(i, j, k)`` of it. Pick nonnegative
    prices ``mu_j`` with ``sum_j mu_j capacity[j, k] = 1``: the whole cluster then is one
    machine of rate 1 and a task needs at least ``e_i = min_j mu_j runtime(i, j) demand(i,
    j, k)`` (over the nodes that allow it) of its work. With ``mu`` uniform this is the
    tasks' least energy over the total capacity; with ``mu_j`` proportional to node speed it
    is, for one-task-at-a-time processors, the total work over the total speed; with ``mu``
    zero outside a set of nodes it counts only the tasks that must run inside it (their
    eligibility). Prices over all resources at once, ``sum_{j,k} mu_jk capacity[j, k] =
    1``, work the same way; the best such prices for the makespan are the dual of the
    fractional assignment LP ``min T`` s.t. ``sum_j y_ij = 1``, ``sum_i runtime_ij
    demand_ijk y_ij <= capacity_jk T``, solved by HiGHS when small. Every candidate is
    tried and the best kept (any nonnegative prices give a valid bound).

    * makespan ``>= a + sum_{i: head_i >= a} e_i`` and ``>= sum_{i: q_i >= b} e_i + b`` for
      every threshold ``a``, ``b``, and both at once (the energy that cannot be delivered
      before ``a`` or after ``makespan - b``: energetic reasoning, Erschler, Lopez &
      Thuriot 1991; Baptiste, Le Pape & Nuijten 1999 for cumulative resources).
    * weighted completion: the mean busy time ``M_i = S_i + runtime_i / 2`` of the energy
      ``E_i >= e_i`` of task ``i`` (delivered at a constant rate while it runs) satisfies
      ``sum_{i in S} E_i M_i >= E(S)^2 / 2 + r E(S)`` for every set ``S`` of tasks (a
      machine of rate 1 after the earliest start ``r``; Goemans 1996, Queyranne 1993), and
      over these inequalities ``sum w_i M_i`` is least for Smith's ratio rule (Smith 1956;
      by Abel summation over the tasks in decreasing ``w_i / E_i``), a value that only
      grows with the energies. So ``sum_i w_i F_i >= sum_i w_i (e(before i) + e_i / 2) +
      r W + sum_i w_i min runtime_i / 2``, the tasks in decreasing ``w_i / e_i``; tasks
      with ``e_i = 0`` count ``w_i EF_i`` instead. On ``m`` identical one-task machines
      this is the bound of Eastman, Even & Isaacs (1964); a single node with one slot
      gives Smith's optimum. The tasks are split into windows of earliest start and the
      bound (or, where larger, ``sum w_i EF_i``) is taken per window and summed (any split
      gives a valid bound), the best split found by dynamic programming over a few window
      edges.

``lp`` (optional, small instances; ``lp=True``)
    The LP relaxation of the exact time-indexed model of :mod:`gabalance.exact`
    (Pritsker, Watters & Wolfe 1969, with node choice), solved by HiGHS. Its horizon comes
    from a feasible heuristic schedule, which never cuts an optimal schedule off.

The reported value is the largest of these, rounded up to the next integer when every time
of the problem (runtimes, releases, transfers) is an integer, and for
``weighted_completion`` every weight too: the optimum is then an integer (an optimal
schedule can be left-justified, each start a release or a finish plus a transfer).

Costs ``O(N G + E G)`` time and memory for ``G`` groups of identical nodes (same capacity,
speed, runtimes, demands, labels), at most ``O(N M + E M)``; the node groups cost one sort
of the nodes' data. Schedule mode has no GPU devices and no waiting tasks
(:func:`gabalance.evaluate` refuses them there); the bound reads ``gpus`` only through
eligibility and counts every task as placed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gabalance._milp import Infeasible, TooLarge, heuristic_start, quiet, schedule_model
from gabalance.exact import MILPParams
from gabalance.problem import SCHEDULE_OBJECTIVES, Problem

__all__ = ["Bound", "schedule_bound"]

#: (task, node group) pairs above which the cluster is taken as one group (see
#: :func:`_node_groups`): bounds the memory, about 40 bytes per pair
MAX_PAIRS = 1 << 23
#: node-group pairs per dependency up to which transfer lower bounds are kept per pair of
#: node groups (beyond it one least transfer time per dependency is used: still valid)
PAIR_LIMIT = 4_000_000
#: eligibility sets (node groups) tried as supports of the energy prices
MAX_SUPPORTS = 8
#: window edges of the weighted-completion split
MAX_EDGES = 12
#: energy rows the weighted-completion split tries (the best ones on all tasks at once)
MAX_ROWS = 6
#: element operations the energy candidates and the window split may take
WORK_LIMIT = 4_000_000
#: (task, node group) pairs of the price LP: beyond it the LP sees an evenly spaced sample
#: of the tasks (its prices are then near-best, and valid like any others)
PRICE_LP_PAIRS = 10_000


@dataclass(frozen=True)
class Bound:
    """A proven lower bound on a schedule objective (what :func:`schedule_bound` returns).

    Attributes
    ----------
    value : float
        The bound: no feasible schedule has a smaller objective. The largest of ``parts``,
        rounded up to an integer when the problem's times (and weights) are integers.
    objective : str
        ``"makespan"`` or ``"weighted_completion"``.
    parts : dict
        Each bound by name (``critical_path``, ``energy``, and ``lp`` when computed), so a
        table can say which one binds.
    time : float
        Seconds spent.
    notes : dict
        What the parts used: ``energy_resource`` (the resource of the best energy bound),
        ``lp`` (why the LP bound is missing, when asked for and not given).

    Examples
    --------
    >>> import gabalance as gb
    >>> from gabalance import examples
    >>> b = gb.schedule_bound(examples.load("scenario"))
    >>> b.value, b.binding, b.parts
    (110.0, 'critical_path', {'critical_path': 110.0, 'energy': 96.0})
    """

    value: float
    objective: str
    parts: Mapping[str, float] = field(default_factory=dict)
    time: float = 0.0
    notes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def binding(self) -> str:
        """Name of the part that gives ``value``: the first (in the order critical_path,
        energy, lp) within round-off (1e-9 relative) of the largest."""
        if not self.parts:
            return ""
        top = max(self.parts.values())
        tol = 1e-9 * max(1.0, abs(top))
        return next(k for k, v in self.parts.items() if v >= top - tol)

    def gap(self, fun: float) -> float:
        """Relative gap ``(fun - value) / |fun|`` of an objective value to the bound (0 when
        they meet; nan when ``fun`` is not finite)."""
        return relative_gap(fun, self.value)

    def __float__(self) -> float:
        return float(self.value)


def relative_gap(fun: float, bound: float) -> float:
    """``max(0, fun - bound) / |fun|`` (0 when ``fun == bound``, nan when either is not
    finite)."""
    if not (math.isfinite(fun) and math.isfinite(bound)):
        return math.nan
    diff = max(0.0, fun - bound)
    return 0.0 if diff == 0 else diff / max(abs(fun), 1e-12)


# --------------------------------------------------------------------------- node groups


@dataclass
class _Groups:
    node: np.ndarray  # (M,) group of each node
    reps: np.ndarray  # (G,) a node of each group
    count: np.ndarray  # (G,) nodes per group
    cap: np.ndarray  # (G, K) the group's total capacity
    allowed: np.ndarray  # (N, G) bool
    rt: np.ndarray  # (N, G) runtime, inf where not allowed
    dem: np.ndarray  # (N, G, K) or (N, 1, K) demand
    speed: np.ndarray  # (G,) relative node speed (a price, any positive value is valid)


def _columns(problem: Problem, nodes: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Eligibility (N, n) (exactly :attr:`Problem.allowed`'s rule), runtime (N, n; inf where
    not allowed) and demand (N, n, K) or (N, 1, K) of the given nodes."""
    K = problem.n_resources
    group_ok, task_group = problem.label_ok()
    cap = problem.capacity[nodes].astype(np.float64).reshape(nodes.size, K)
    ok = group_ok[task_group][:, nodes]
    if problem.has_devices:
        ok &= problem.devices_needed[:, None] <= problem.gpus[nodes][None, :]
    if problem.runtime is not None:
        rt = problem.runtime[:, nodes].astype(np.float64)
        ok &= np.isfinite(rt)
    else:
        rt = (problem.duration.astype(np.float64)[:, None]
              / problem.speed[nodes].astype(np.float64)[None, :])
    if problem.per_node_demand:
        dem = problem.demand[:, nodes].astype(np.float64)
    else:
        dem = problem.demand.astype(np.float64)[:, None, :]
    ok &= np.all(dem <= cap[None], axis=2)
    return ok, np.where(ok, rt, np.inf), dem


def _node_groups(problem: Problem) -> _Groups:
    """Nodes with the same capacity, speed, runtimes, demands, labels and GPUs are one
    group: a task may run on one node of a group exactly when it may run on any.

    When ``N * G`` exceeds :data:`MAX_PAIRS`, the whole cluster becomes one group whose
    runtime and demand per task are the least over the nodes allowing it (a relaxation:
    every bound stays valid, the transfers and the node speeds are lost)."""
    N, M, K = problem.n_tasks, problem.n_nodes, problem.n_resources
    group_ok, _ = problem.label_ok()
    feats = [problem.capacity.astype(np.float64).reshape(M, K),
             problem.gpus.astype(np.float64)[:, None],
             group_ok.T.astype(np.float64)]
    if problem.runtime is None:
        feats.append(problem.speed.astype(np.float64)[:, None])
    else:
        feats.append(problem.runtime.T.astype(np.float64))
    if problem.per_node_demand:
        feats.append(problem.demand.transpose(1, 0, 2).reshape(M, -1).astype(np.float64))
    _, reps, node = np.unique(np.hstack(feats), axis=0, return_index=True,
                              return_inverse=True)
    node = np.asarray(node).reshape(-1)
    G = reps.size
    count = np.bincount(node, minlength=G)
    cap1 = problem.capacity[reps].astype(np.float64).reshape(G, K)
    if N * G > MAX_PAIRS:
        return _one_group(problem, reps, cap1 * count[:, None])
    ok, rt, dem = _columns(problem, reps)
    if problem.runtime is None:
        speed = problem.speed[reps].astype(np.float64)
    else:
        speed = _runtime_speed(rt, ok)
    return _Groups(node=node, reps=reps, count=count, cap=cap1 * count[:, None], allowed=ok,
                   rt=rt, dem=dem, speed=speed)


def _one_group(problem: Problem, reps: np.ndarray, cap: np.ndarray) -> _Groups:
    """The whole cluster as one group: per task the least runtime and the least demand
    (per resource) over the node groups that allow it, streamed over the groups."""
    N, M, K = problem.n_tasks, problem.n_nodes, problem.n_resources
    rt = np.full(N, np.inf)
    dem = np.full((N, K), np.inf)
    step = max(1, MAX_PAIRS // max(N, 1))
    for a in range(0, reps.size, step):
        ok, r, d = _columns(problem, reps[a:a + step])
        rt = np.minimum(rt, r.min(axis=1))
        d = np.where(ok[:, :, None], np.broadcast_to(d, (*ok.shape, K)), np.inf)
        dem = np.minimum(dem, d.min(axis=1))
    return _Groups(node=np.zeros(M, np.int64), reps=np.zeros(1, np.int64),
                   count=np.array([M]), cap=cap.sum(axis=0, keepdims=True),
                   allowed=np.ones((N, 1), bool), rt=rt[:, None], dem=dem[:, None, :],
                   speed=np.ones(1))


def _runtime_speed(rt: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Relative speed of each node group from a runtime matrix: the geometric median over the
    tasks it may run of (fastest runtime / runtime there); 1 where it tells nothing."""
    G = rt.shape[1]
    best = np.where(ok, rt, np.inf).min(axis=1)
    out = np.ones(G)
    for g in range(G):
        sel = ok[:, g] & (rt[:, g] > 0) & (best > 0) & np.isfinite(best)
        if sel.any():
            out[g] = float(np.exp(np.median(np.log(best[sel] / rt[sel, g]))))
    return out


# --------------------------------------------------------------------------- the DAG


def _levels(n: int, edges: np.ndarray) -> np.ndarray:
    """Longest-path level of every task (0 for tasks without predecessors)."""
    level = np.zeros(n, np.int64)
    if not edges.shape[0]:
        return level
    pred, succ = edges[:, 0], edges[:, 1]
    order = np.argsort(pred, kind="stable")
    succ_sorted = succ[order]
    ptr = np.searchsorted(pred[order], np.arange(n + 1))
    indeg = np.bincount(succ, minlength=n)
    cur = np.flatnonzero(indeg == 0)
    lvl = 0
    while cur.size:
        level[cur] = lvl
        lens = ptr[cur + 1] - ptr[cur]
        total = int(lens.sum())
        if not total:
            break
        starts = np.repeat(ptr[cur] - (np.cumsum(lens) - lens), lens)
        outs = succ_sorted[starts + np.arange(total)]
        np.subtract.at(indeg, outs, 1)
        cur = np.unique(outs[indeg[outs] == 0])
        lvl += 1
    return level


def _transfer_lb(problem: Problem, grp: _Groups) -> tuple[np.ndarray, np.ndarray | None]:
    """Per dependency, the least transfer time between two distinct nodes: a scalar per edge
    ``c`` (E,), and, when affordable, per pair of node groups ``T`` (E, G, G) as
    ``data[e] * inv[a, g]`` given by ``inv`` (G, G) (0 on the diagonal: a group may hold
    both tasks on one node)."""
    E, M = problem.n_edges, problem.n_nodes
    data = np.asarray(problem.data, np.float64)
    bw = problem.bandwidth
    if np.ndim(bw) == 0:
        b = float(bw)
        c = data / b if (M > 1 and math.isfinite(b)) else np.zeros(E)
        return c, None
    B = np.array(bw, np.float64)
    off = ~np.eye(M, dtype=bool)
    if M < 2:
        return np.zeros(E), None
    bmax = float(B[off].max())
    c = data / bmax if math.isfinite(bmax) else np.zeros(E)
    G = grp.reps.size
    if G < 2 or E * G * G > PAIR_LIMIT:
        return c, None
    Bz = np.where(off, B, 0.0)  # a node never transfers to itself
    rows = np.zeros((G, M))
    np.maximum.at(rows, grp.node, Bz)
    gmax = np.zeros((G, G))
    np.maximum.at(gmax.T, grp.node, rows.T)
    with np.errstate(divide="ignore"):
        inv = np.where(gmax > 0, 1.0 / gmax, 0.0)
    np.fill_diagonal(inv, 0.0)
    return c, inv


def _heads(problem: Problem, grp: _Groups, level: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Earliest start per task and node group (inf where not allowed) and earliest finish
    ``EF`` (N,)."""
    N = problem.n_tasks
    release = problem.release.astype(np.float64)
    h = np.where(grp.allowed, release[:, None], np.inf)
    f = np.empty_like(h)
    if not problem.n_edges:
        f = h + grp.rt
        return h, f.min(axis=1)
    c, inv = _transfer_lb(problem, grp)
    data = np.asarray(problem.data, np.float64)
    pred, succ = problem.edges[:, 0], problem.edges[:, 1]
    elevel = level[succ]
    eorder = np.argsort(elevel, kind="stable")
    eptr = np.searchsorted(elevel[eorder], np.arange(int(level.max()) + 2))
    torder = np.argsort(level, kind="stable")
    tptr = np.searchsorted(level[torder], np.arange(int(level.max()) + 2))
    for lv in range(int(level.max()) + 1):
        es = eorder[eptr[lv]:eptr[lv + 1]]
        if es.size:
            fp = f[pred[es]]
            if inv is None:
                arrive = np.minimum(fp, fp.min(axis=1)[:, None] + c[es, None])
            else:
                arrive = (fp[:, :, None] + data[es, None, None] * inv[None]).min(axis=1)
            np.maximum.at(h, succ[es], arrive)
        ts = torder[tptr[lv]:tptr[lv + 1]]
        f[ts] = np.where(grp.allowed[ts], h[ts] + grp.rt[ts], np.inf)
    h = np.where(grp.allowed, h, np.inf)
    assert np.isfinite(f.min(axis=1)).all() or N == 0
    return h, f.min(axis=1)


def _tails(problem: Problem, pmin: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Longest chain of fastest runtimes after each task (transfers taken as 0)."""
    N = problem.n_tasks
    q = np.zeros(N)
    if not problem.n_edges:
        return q
    pred, succ = problem.edges[:, 0], problem.edges[:, 1]
    plevel = level[pred]
    eorder = np.argsort(plevel, kind="stable")
    eptr = np.searchsorted(plevel[eorder], np.arange(int(level.max()) + 2))
    for lv in range(int(level.max()), -1, -1):
        es = eorder[eptr[lv]:eptr[lv + 1]]
        if es.size:
            np.maximum.at(q, pred[es], pmin[succ[es]] + q[succ[es]])
    return q


# --------------------------------------------------------------------------- energy


def _energies(grp: _Groups) -> tuple[np.ndarray, list[int]]:
    """Candidate task energies (C, N), each for one resource and one set of prices, with
    the machine's rate normalised to 1; and the resource of each row (-1: the LP's prices
    of all resources)."""
    N, G = grp.allowed.shape
    K = grp.cap.shape[1]
    rt0 = np.where(grp.allowed, grp.rt, 0.0)
    weights = [np.ones(G)]
    if not np.allclose(grp.speed, grp.speed[0]):
        weights.append(grp.speed)
    # supports: all nodes, and the eligibility sets most tasks share
    supports = [np.ones(G, bool)]
    if G > 1 and N * G * K * len(weights) * (MAX_SUPPORTS + 1) <= WORK_LIMIT:
        pats, counts = np.unique(grp.allowed, axis=0, return_counts=True)
        for r in np.argsort(-counts, kind="stable")[:MAX_SUPPORTS]:
            if not pats[r].all() and pats[r].any():
                supports.append(pats[r])
    rows: list[np.ndarray] = []
    res: list[int] = []
    seen: set[bytes] = set()
    for k in range(K):
        eng = rt0 * np.broadcast_to(grp.dem[:, :, k], (N, G))  # (N, G), 0 off the allowed
        if not eng.any():
            continue
        for w in weights:
            for s in supports:
                mu = np.where(s, w, 0.0)
                total = float(mu @ grp.cap[:, k])
                if total <= 0:
                    continue
                mu = mu / total
                e = np.where(grp.allowed, eng * mu[None, :], np.inf).min(axis=1)
                if not e.any():
                    continue
                key = e.tobytes()
                if key in seen:
                    continue
                seen.add(key)
                rows.append(e)
                res.append(k)
    e = _price_lp(grp)
    if e is not None and e.any() and e.tobytes() not in seen:
        rows.append(e)
        res.append(-1)
    if not rows:
        return np.zeros((0, N)), []
    return np.vstack(rows), res


def _price_lp(grp: _Groups) -> np.ndarray | None:
    """Task energies (N,) under the best prices of all resources at once: the dual of the
    fractional assignment LP ``min T`` s.t. ``sum_g y_ig = 1``, ``sum_i runtime_ig
    demand_igk y_ig <= capacity_gk T`` (HiGHS). Any nonnegative prices give a valid bound,
    so HiGHS's round-off only costs tightness. On more than :data:`PRICE_LP_PAIRS` pairs
    the LP sees an evenly spaced sample of the tasks. None when not solved."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    N, G = grp.allowed.shape
    K = grp.cap.shape[1]
    if not N or G * K < 2:
        return None
    rt0 = np.where(grp.allowed, grp.rt, 0.0)
    eng_all = rt0[:, :, None] * np.broadcast_to(grp.dem, (N, G, K))  # (N, G, K)
    pairs = int(grp.allowed.sum())
    sample = np.arange(N)
    if pairs > PRICE_LP_PAIRS:
        sample = np.unique(np.linspace(0, N - 1, max(2, N * PRICE_LP_PAIRS // pairs))
                           .astype(np.int64))
    eng, allowed = eng_all[sample], grp.allowed[sample]
    N = sample.size
    ii, gg = np.nonzero(allowed)
    nv = N + G * K
    rows = np.repeat(np.arange(ii.size), 1 + K)
    cols = np.concatenate([ii[:, None], N + gg[:, None] * K + np.arange(K)[None]], axis=1)
    vals = np.concatenate([np.ones((ii.size, 1)), -eng[ii, gg]], axis=1)
    A = sp.csr_matrix((vals.ravel(), (rows, cols.ravel())), shape=(ii.size, nv))
    a_eq = np.zeros((1, nv))
    a_eq[0, N:] = grp.cap.ravel()
    c = np.zeros(nv)
    c[:N] = -1.0
    res = linprog(c, A_ub=A, b_ub=np.zeros(ii.size), A_eq=a_eq, b_eq=[1.0],
                  bounds=[(None, None)] * N + [(0, None)] * (G * K), method="highs")
    if res.status != 0 or res.x is None:
        return None
    mu = np.maximum(res.x[N:].reshape(G, K), 0.0)
    total = float((mu * grp.cap).sum())
    if total <= 0:
        return None
    mu /= total
    return np.where(grp.allowed, (eng_all * mu[None]).sum(axis=2), np.inf).min(axis=1)


def _sweep(E: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Per row of E (C, N): ``max_a a + sum_{i: t_i >= a} E_i`` (0 for an empty set)."""
    if not E.shape[1]:
        return np.zeros(E.shape[0])
    order = np.argsort(-t, kind="stable")
    cs = np.cumsum(E[:, order], axis=1)
    return np.maximum((t[order][None, :] + cs).max(axis=1), 0.0)


def _makespan_energy(E: np.ndarray, head: np.ndarray, tail: np.ndarray) -> np.ndarray:
    """Per row of E, the best energy bound on the makespan over head and tail thresholds,
    and over a few pairs of both."""
    best = np.maximum(_sweep(E, head), _sweep(E, tail))
    cuts = np.unique(head)
    if cuts.size > 1:
        if cuts.size > 16:
            cuts = np.unique(np.quantile(head, np.linspace(0, 1, 16), method="lower"))
        for a in cuts[1:]:
            sel = head >= a
            best = np.maximum(best, a + _sweep(E[:, sel], tail[sel]))
    return best


def _wsum_energy(E: np.ndarray, w: np.ndarray, head: np.ndarray, pmin: np.ndarray,
                 ef: np.ndarray) -> float:
    """The best weighted-completion bound of one set of tasks (the columns given): per
    candidate energy row, Smith's rule on the tasks with energy, plus ``sum w EF`` for the
    rest; and ``sum w EF`` for all."""
    wef = w * ef
    best = float(wef.sum())
    if not E.shape[0] or not E.shape[1]:
        return best
    pos = E > 0
    ratio = np.where(pos, w[None, :] / np.where(pos, E, 1.0), -np.inf)
    order = np.argsort(-ratio, axis=1, kind="stable")
    Eo = np.take_along_axis(E, order, axis=1)
    before = np.cumsum(Eo, axis=1) - Eo
    wo = w[order]
    posw = np.take_along_axis(pos, order, axis=1)
    smith = np.where(posw, wo * (before + Eo / 2), 0.0).sum(axis=1)
    r0 = np.where(pos, head[None, :], np.inf).min(axis=1)
    r0 = np.where(np.isfinite(r0), r0, 0.0)
    wp = np.where(pos, w[None, :], 0.0)
    energy = smith + r0 * wp.sum(axis=1) + (wp * pmin[None, :]).sum(axis=1) / 2
    energy = np.maximum(energy, (wp * ef[None, :]).sum(axis=1))
    rest = np.where(pos, 0.0, wef[None, :]).sum(axis=1)
    return max(best, float((energy + rest).max()))


def _weighted_energy(E: np.ndarray, w: np.ndarray, head: np.ndarray, pmin: np.ndarray,
                     ef: np.ndarray) -> float:
    """Best split of the tasks into windows of earliest start, each bounded by
    :func:`_wsum_energy` (any split of the tasks gives a valid bound: the sum of its
    parts'), found by dynamic programming over a few window edges; the energy rows tried
    are the :data:`MAX_ROWS` best on all tasks at once."""
    N = head.size
    if E.shape[0] > MAX_ROWS:
        whole = np.array([_wsum_energy(E[c:c + 1], w, head, pmin, ef)
                          for c in range(E.shape[0])])
        E = E[np.argsort(-whole, kind="stable")[:MAX_ROWS]]
    # about edges^2 / 2 windows of N / 3 tasks on average, each sorted per row
    n_edges = int(min(MAX_EDGES, max(2, math.sqrt(6 * WORK_LIMIT / max(1, E.shape[0] * N)))))
    order = np.argsort(head, kind="stable")
    hs = head[order]
    cuts = np.quantile(hs, np.linspace(0, 1, n_edges), method="lower") if N else hs
    edges = np.unique(np.concatenate([[0, N], np.searchsorted(hs, np.unique(cuts))]))
    Eo, wo, po, fo = E[:, order], w[order], pmin[order], ef[order]
    best = np.full(edges.size, -np.inf)
    best[0] = 0.0
    for b in range(1, edges.size):
        for a in range(b):
            lo, hi = edges[a], edges[b]
            v = best[a] + _wsum_energy(Eo[:, lo:hi], wo[lo:hi], hs[lo:hi], po[lo:hi],
                                       fo[lo:hi])
            best[b] = max(best[b], v)
    return float(best[-1])


# --------------------------------------------------------------------------- integrality


def _integral_times(problem: Problem) -> bool:
    """True when every runtime, release and transfer time is an integer (checked on a
    superset: all node pairs), so that every left-justified schedule has integer times."""
    def whole(v: np.ndarray) -> bool:
        v = v[np.isfinite(v)]
        return bool(np.all(v == np.round(v)))

    def ratios(num: np.ndarray, den: np.ndarray) -> bool:
        num, den = np.unique(num), np.unique(den)
        den = den[np.isfinite(den)]
        if num.size * den.size > 1_000_000:
            return False
        return whole(num[:, None] / den[None, :])

    if not whole(problem.release.astype(np.float64)):
        return False
    if problem.runtime is not None:
        if not whole(problem.runtime.astype(np.float64)):
            return False
    elif not ratios(problem.duration.astype(np.float64), problem.speed.astype(np.float64)):
        return False
    data = np.asarray(problem.data, np.float64)
    data = data[data > 0]
    if not data.size or problem.n_nodes < 2:
        return True
    bw = np.asarray(problem.bandwidth, np.float64)
    if bw.ndim:
        bw = bw[~np.eye(problem.n_nodes, dtype=bool)]
    return ratios(data, bw.ravel())


# --------------------------------------------------------------------------- LP


def _lp_bound(problem: Problem, objective: str, time_limit: float | None) -> tuple[float, str]:
    """The LP relaxation of the time-indexed model (nan and a reason when not solved)."""
    from scipy.optimize import milp

    t0 = time.perf_counter()
    params = MILPParams()
    fallback = heuristic_start(problem, objective, "min", None)
    if fallback is None:
        return math.nan, "no feasible heuristic schedule to set the horizon"
    x0, _, _, start0 = fallback
    assert start0 is not None  # schedule mode: the decoder gives start times
    try:
        m = schedule_model(problem, objective, params, (x0, start0))
    except (TooLarge, Infeasible) as exc:
        return math.nan, str(exc)
    options: dict[str, Any] = {"presolve": True}
    if time_limit is not None:
        left = time_limit - (time.perf_counter() - t0)
        if left <= 0:
            return math.nan, "no time left for the LP"
        options["time_limit"] = left
    with quiet(True):
        res = milp(m["c"], integrality=np.zeros_like(m["integrality"]), bounds=m["bounds"],
                   constraints=m["constraints"], options=options)
    if res.status != 0 or res.fun is None:
        return math.nan, f"HiGHS: {res.message}"
    value = float(res.fun)
    value -= 1e-7 * max(1.0, abs(value))  # HiGHS's tolerances: never report above the LP
    if m["integral"]:
        value = math.ceil(value - 1e-6)
    return value / m["unit"], ""


# --------------------------------------------------------------------------- entry point


def _bound_iv(problem: Any, objective: Any, lp: Any, time_limit: Any) -> str:
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gabalance.Problem, got {type(problem).__name__}")
    if objective is None:
        objective = problem.objective
    if objective not in SCHEDULE_OBJECTIVES:
        raise ValueError(f"schedule_bound bounds the schedule objectives "
                         f"({', '.join(SCHEDULE_OBJECTIVES)}), got {objective!r}")
    if not isinstance(lp, bool):
        raise TypeError(f"lp must be True or False, got {lp!r}")
    if time_limit is not None and (isinstance(time_limit, bool)
                                   or not isinstance(time_limit, (int, float, np.number))
                                   or not time_limit > 0):
        raise ValueError(f"time_limit must be a positive number of seconds, got "
                         f"{time_limit!r}")
    return str(objective)


def schedule_bound(problem: Problem, objective: str | None = None, *, lp: bool = False,
                   time_limit: float | None = None) -> Bound:
    """A proven lower bound on the optimum of a schedule objective.

    No feasible schedule of ``problem`` (every task on a node that allows it) has a
    ``makespan`` or ``weighted_completion`` below the returned value. The parts are the
    critical path with unavoidable transfers, the energy bounds (total work over the
    cluster's rate, Smith's rule on the pooled capacity) and optionally the LP relaxation of
    the exact time-indexed model; see the module docstring for each and its source.

    Parameters
    ----------
    problem : Problem
    objective : {"makespan", "weighted_completion"}, optional
        Default ``problem.objective``.
    lp : bool, default False
        Also solve the LP relaxation of :mod:`gabalance.exact`'s time-indexed model with
        HiGHS (small instances: it needs a time grid and fits ``MILPParams``' size limits;
        otherwise ``notes["lp"]`` says why it is missing).
    time_limit : float, optional
        Seconds for the LP (the combinatorial parts always run; they take milliseconds).

    Returns
    -------
    Bound
        ``value``, ``parts`` by name, ``binding`` (the part that gives the value), ``time``.

    Examples
    --------
    >>> import gabalance as gb
    >>> p = gb.Problem([[1], [1]], [[1]] * 4, duration=[2, 2, 2, 2], resources=["slots"])
    >>> b = gb.schedule_bound(p, "makespan")   # 8 time units of work on 2 one-task nodes
    >>> b.value, b.binding
    (4.0, 'energy')
    """
    t0 = time.perf_counter()
    objective = _bound_iv(problem, objective, lp, time_limit)
    N = problem.n_tasks
    grp = _node_groups(problem)
    level = _levels(N, problem.edges)
    h, ef = _heads(problem, grp, level)
    head = h.min(axis=1)
    pmin = grp.rt.min(axis=1)
    tail = _tails(problem, pmin, level)
    E, res_of = _energies(grp)
    w = problem.weight.astype(np.float64)
    parts: dict[str, float] = {}
    notes: dict[str, Any] = {}
    if objective == "makespan":
        parts["critical_path"] = float((ef + tail).max(initial=0.0))
        per_row = _makespan_energy(E, head, tail) if E.shape[0] else np.zeros(0)
        parts["energy"] = float(per_row.max(initial=0.0))
        if per_row.size:
            k = res_of[int(per_row.argmax())]
            notes["energy_resource"] = problem.resources[k] if k >= 0 else "all (LP prices)"
    else:
        parts["critical_path"] = float(np.dot(w, ef))
        parts["energy"] = _weighted_energy(E, w, head, pmin, ef)
    if lp:
        left = None if time_limit is None else time_limit - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            notes["lp"] = "no time left for the LP"
        else:
            value, why = _lp_bound(problem, objective, left)
            if math.isnan(value):
                notes["lp"] = why
            else:
                parts["lp"] = value
    value = max(parts.values())
    integral = _integral_times(problem)
    if integral and objective == "weighted_completion":
        integral = bool(np.all(w == np.round(w)))
    if integral and math.isfinite(value):
        value = float(math.ceil(value - 1e-9 * max(1.0, abs(value))))
    return Bound(value=float(value), objective=objective, parts=parts,
                 time=time.perf_counter() - t0, notes=notes)

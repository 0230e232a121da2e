"""Slow, obviously-correct oracles for the semantics in ``docs/model.md``.

One individual at a time, in plain Python loops over lists, dicts, ints and floats. The
Problem's arrays are only read element by element; nothing here is shared with (or imported
from) the package's backends, and ``Problem.allowed`` / ``Problem.runtime_of`` are not used.

Integer data (``capacity.dtype.kind == "i"``; integer ``cost``) are summed as Python ints and
converted to float only at the end, so integer results are exact.

Every public function returns Python floats (and lists of floats), never numpy scalars.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from gabalance.problem import Problem

__all__ = [
    "PLACEMENT",
    "SCHEDULE",
    "allowed",
    "allowed_matrix",
    "assignment_cost",
    "evaluate",
    "fits",
    "improving_shifts",
    "is_feasible",
    "loads",
    "naive_best_fit_decreasing",
    "naive_cost_search",
    "naive_earliest_finish",
    "naive_first_fit_decreasing",
    "naive_fit_decreasing",
    "naive_heft",
    "naive_least_connections",
    "naive_least_loaded",
    "naive_least_loaded_schedule",
    "naive_round_robin",
    "naive_upward_rank",
    "naive_util_search",
    "placement",
    "runtime",
    "schedule",
    "task_demand",
    "transfer",
    "utilization",
    "validate_schedule",
]

PLACEMENT = ("cost", "max_utilization", "nodes_used", "imbalance")
SCHEDULE = ("makespan", "weighted_completion")

INF = math.inf


# --------------------------------------------------------------------------- element access


def _int_data(problem: Problem) -> bool:
    return problem.capacity.dtype.kind == "i"


def _scalar(value: Any, integer: bool) -> int | float:
    return int(value) if integer else float(value)


def _capacity(problem: Problem, j: int) -> list[int | float]:
    integer = _int_data(problem)
    return [_scalar(problem.capacity[j, k], integer) for k in range(problem.n_resources)]


def task_demand(problem: Problem, i: int, j: int) -> list[int | float]:
    """Demand of task ``i`` on node ``j``, one Python number per resource."""
    integer = _int_data(problem)
    out = []
    for k in range(problem.n_resources):
        v = problem.demand[i, j, k] if problem.demand.ndim == 3 else problem.demand[i, k]
        out.append(_scalar(v, integer))
    return out


def runtime(problem: Problem, i: int, j: int) -> float:
    """``runtime[i, j]`` when given, else ``duration[i] / speed[j]``."""
    if problem.runtime is not None:
        return float(problem.runtime[i, j])
    return float(problem.duration[i]) / float(problem.speed[j])


def allowed(problem: Problem, i: int, j: int) -> bool:
    """Task ``i`` may run on node ``j``: labels, finite runtime, fits the empty node."""
    labels = problem.node_labels[j]
    for requirement in problem.task_requires[i]:
        shares = False
        for label in requirement:
            if label in labels:
                shares = True
        if not shares:
            return False
    if not math.isfinite(runtime(problem, i, j)):
        return False
    cap = _capacity(problem, j)
    dem = task_demand(problem, i, j)
    for k in range(problem.n_resources):
        if dem[k] > cap[k]:
            return False
    return True


def allowed_matrix(problem: Problem) -> list[list[bool]]:
    """``allowed`` for every (task, node) pair, as nested lists (N rows of M)."""
    return [[allowed(problem, i, j) for j in range(problem.n_nodes)]
            for i in range(problem.n_tasks)]


def _assignment(problem: Problem, x: Sequence[Any]) -> list[int]:
    xs = [int(v) for v in x]
    if len(xs) != problem.n_tasks:
        raise ValueError(f"assignment has {len(xs)} genes, expected {problem.n_tasks}")
    for i, j in enumerate(xs):
        if not 0 <= j < problem.n_nodes:
            raise ValueError(f"task {i} is assigned to node {j}, out of range")
    return xs


# --------------------------------------------------------------------------- placement mode


def loads(problem: Problem, x: Sequence[Any]) -> list[list[int | float]]:
    """``L[j][k]``: summed demand of all tasks on node ``j`` (allowed or not), task order."""
    xs = _assignment(problem, x)
    zero: int | float = 0 if _int_data(problem) else 0.0
    L = [[zero for _ in range(problem.n_resources)] for _ in range(problem.n_nodes)]
    for i in range(problem.n_tasks):
        j = xs[i]
        d = task_demand(problem, i, j)
        for k in range(problem.n_resources):
            L[j][k] = L[j][k] + d[k]
    return L


def utilization(problem: Problem, x: Sequence[Any]) -> list[list[float]]:
    """``U[j][k] = L / C``; with ``C == 0`` it is 0 when ``L == 0`` else ``inf``."""
    L = loads(problem, x)
    U = []
    for j in range(problem.n_nodes):
        cap = _capacity(problem, j)
        row = []
        for k in range(problem.n_resources):
            if cap[k] == 0:
                row.append(0.0 if L[j][k] == 0 else INF)
            else:
                row.append(L[j][k] / cap[k])  # int / int is correctly rounded
        U.append(row)
    return U


def _not_allowed_count(problem: Problem, xs: list[int]) -> int:
    count = 0
    for i in range(problem.n_tasks):
        if not allowed(problem, i, xs[i]):
            count += 1
    return count


def _placement_violation(problem: Problem, xs: list[int]) -> float:
    L = loads(problem, xs)
    caps = [_capacity(problem, j) for j in range(problem.n_nodes)]
    scale = []
    for k in range(problem.n_resources):
        s = caps[0][k]
        for j in range(1, problem.n_nodes):
            if caps[j][k] > s:
                s = caps[j][k]
        scale.append(s)
    over = 0.0
    for j in range(problem.n_nodes):
        for k in range(problem.n_resources):
            excess = L[j][k] - caps[j][k]
            if excess > 0 and scale[k] > 0:
                over += excess / scale[k]
    return over + float(_not_allowed_count(problem, xs))


def placement(problem: Problem, x: Sequence[Any], objective: str) -> tuple[float, float]:
    """``(objective value, violation)`` of one assignment in placement mode."""
    xs = _assignment(problem, x)
    N, M, K = problem.n_tasks, problem.n_nodes, problem.n_resources
    if objective == "cost":
        if problem.cost is not None:
            integer = problem.cost.dtype.kind == "i"
            total: int | float = 0 if integer else 0.0
            for i in range(N):
                total = total + _scalar(problem.cost[i, xs[i]], integer)
        else:
            total = 0.0
            for i in range(N):
                total = total + runtime(problem, i, xs[i])
        value = float(total)
    elif objective == "max_utilization":
        U = utilization(problem, xs)
        value = 0.0  # utilizations are >= 0; with no resources the maximum is 0
        for j in range(M):
            for k in range(K):
                if U[j][k] > value:
                    value = U[j][k]
    elif objective == "nodes_used":
        used = [False] * M
        for i in range(N):
            used[xs[i]] = True
        value = float(sum(1 for u in used if u))
    elif objective == "imbalance":
        U = utilization(problem, xs)
        vals = []
        for j in range(M):
            cap = _capacity(problem, j)
            for k in range(K):
                if cap[k] > 0:
                    vals.append(U[j][k])
        if not vals:
            value = 0.0
        else:
            s = 0.0
            for u in vals:
                s += u
            mean = s / len(vals)
            sq = 0.0
            for u in vals:
                sq += (u - mean) * (u - mean)
            value = math.sqrt(sq / len(vals))
    else:
        raise ValueError(f"not a placement objective: {objective!r}")
    return float(value), _placement_violation(problem, xs)


# --------------------------------------------------------------------------- schedule mode


def transfer(problem: Problem, e: int, node_from: int, node_to: int) -> float:
    """Transfer time along edge ``e`` from ``node_from`` to ``node_to``."""
    if node_from == node_to:
        return 0.0
    amount = float(problem.data[e])
    if amount == 0.0:
        return 0.0
    if problem.bandwidth.ndim == 0:
        bw = float(problem.bandwidth)
    else:
        bw = float(problem.bandwidth[node_from, node_to])
    return amount / bw


def _preds(problem: Problem) -> list[list[tuple[int, int]]]:
    """Per task, ``(pred, edge index)`` pairs in edge order."""
    preds: list[list[tuple[int, int]]] = [[] for _ in range(problem.n_tasks)]
    for e in range(problem.edges.shape[0]):
        p, s = int(problem.edges[e, 0]), int(problem.edges[e, 1])
        preds[s].append((p, e))
    return preds


def _usage_at(problem: Problem, node: int, occupying: list[int], start: dict[int, float],
              finish: dict[int, float], tau: float) -> list[int | float]:
    zero: int | float = 0 if _int_data(problem) else 0.0
    use = [zero for _ in range(problem.n_resources)]
    for q in occupying:
        if start[q] <= tau < finish[q]:
            d = task_demand(problem, q, node)
            for k in range(problem.n_resources):
                use[k] = use[k] + d[k]
    return use


def schedule(
    problem: Problem, x: Sequence[Any], keys: Sequence[Any] | None, objective: str
) -> tuple[float, float, list[float], list[float]]:
    """Serial schedule generation: ``(objective value, violation, starts, finishes)``."""
    if objective not in SCHEDULE:
        raise ValueError(f"not a schedule objective: {objective!r}")
    xs = _assignment(problem, x)
    N, K = problem.n_tasks, problem.n_resources
    key = [0.0] * N if keys is None else [float(v) for v in keys]
    if len(key) != N:
        raise ValueError(f"keys have {len(key)} entries, expected {N}")
    preds = _preds(problem)

    scheduled = [False] * N
    start: dict[int, float] = {}
    finish: dict[int, float] = {}
    on_node: dict[int, list[int]] = {}  # every task placed on the node so far
    occupying: dict[int, list[int]] = {}  # those that hold capacity (allowed, p > 0)
    violation = 0

    for _ in range(N):
        # 1. the ready task with the smallest key (ties: lower index), by a full scan
        pick = -1
        for i in range(N):
            if scheduled[i]:
                continue
            ready = True
            for p, _e in preds[i]:
                if not scheduled[p]:
                    ready = False
            if not ready:
                continue
            if pick < 0 or key[i] < key[pick]:
                pick = i
        if pick < 0:
            raise ValueError("dependency cycle")  # cannot happen for a valid Problem
        i = pick
        j = xs[i]

        # 2. ready time
        r = float(problem.release[i])
        for p, e in preds[i]:
            t = finish[p] + transfer(problem, e, xs[p], j)
            if t > r:
                r = t

        # 3. start time
        p_time = runtime(problem, i, j)
        here = on_node.setdefault(j, [])
        busy = occupying.setdefault(j, [])
        if not allowed(problem, i, j):
            violation += 1
            s = r
        elif p_time == 0.0:
            s = r
        else:
            d = task_demand(problem, i, j)
            cap = _capacity(problem, j)
            candidates = [r] + [finish[q] for q in here if finish[q] > r]
            candidates.sort()
            s = None
            for t in candidates:
                end = t + p_time
                checks = [t] + [start[q] for q in busy if t < start[q] < end]
                fits = True
                for tau in checks:
                    use = _usage_at(problem, j, busy, start, finish, tau)
                    for k in range(K):
                        if use[k] + d[k] > cap[k]:
                            fits = False
                if fits:
                    s = t
                    break
            if s is None:  # impossible: after the last finish the node is empty
                raise AssertionError(f"no start time found for task {i}")
            busy.append(i)
        start[i] = s
        finish[i] = s + p_time
        here.append(i)
        scheduled[i] = True

    starts = [start[i] for i in range(N)]
    finishes = [finish[i] for i in range(N)]
    if objective == "makespan":
        value = finishes[0]
        for f in finishes:
            if f > value:
                value = f
    else:
        value = 0.0
        for i in range(N):
            value += float(problem.weight[i]) * finishes[i]
    return float(value), float(violation), starts, finishes


# --------------------------------------------------------------------------- helpers


def evaluate(
    problem: Problem,
    population: Sequence[Sequence[Any]],
    objective: str,
    keys: Sequence[Sequence[Any]] | None = None,
) -> tuple[list[float], list[float]]:
    """Objective values and violations of each row of a population (one at a time)."""
    values: list[float] = []
    violations: list[float] = []
    for row in range(len(population)):
        if objective in PLACEMENT:
            v, c = placement(problem, population[row], objective)
        elif objective in SCHEDULE:
            k = None if keys is None else keys[row]
            v, c, _s, _f = schedule(problem, population[row], k, objective)
        else:
            raise ValueError(f"unknown objective {objective!r}")
        values.append(v)
        violations.append(c)
    return values, violations


def validate_schedule(
    problem: Problem,
    x: Sequence[Any],
    start: Sequence[Any],
    *,
    check_allowed: bool = True,
    tol: float = 0.0,
) -> list[str]:
    """Everything wrong with a schedule (empty list: it is valid).

    Checks release times, precedence with transfer times, and at every instant the
    capacity of each node used by its allowed tasks (not-allowed tasks and tasks of runtime
    0 occupy nothing). With ``check_allowed`` each task on a node where it is not allowed is
    reported too. ``tol`` loosens the time comparisons.
    """
    xs = _assignment(problem, x)
    N, K = problem.n_tasks, problem.n_resources
    S = [float(v) for v in start]
    if len(S) != N:
        return [f"start has {len(S)} entries, expected {N}"]
    F = [S[i] + runtime(problem, i, xs[i]) for i in range(N)]
    errors: list[str] = []
    for i in range(N):
        if math.isnan(S[i]):
            errors.append(f"task {i} starts at NaN")
        if S[i] < float(problem.release[i]) - tol:
            errors.append(f"task {i} starts at {S[i]} before its release {problem.release[i]}")
        if check_allowed and not allowed(problem, i, xs[i]):
            errors.append(f"task {i} is on node {xs[i]} where it is not allowed")
    for e in range(problem.edges.shape[0]):
        p, s = int(problem.edges[e, 0]), int(problem.edges[e, 1])
        ready = F[p] + transfer(problem, e, xs[p], xs[s])
        if S[s] < ready - tol:
            errors.append(f"task {s} starts at {S[s]} before predecessor {p} is done and its "
                          f"data arrived ({ready})")
    for j in range(problem.n_nodes):
        cap = _capacity(problem, j)
        busy = [i for i in range(N) if xs[i] == j and allowed(problem, i, j) and F[i] > S[i]]
        for tau in [S[i] for i in busy]:
            zero: int | float = 0 if _int_data(problem) else 0.0
            use = [zero for _ in range(K)]
            for q in busy:
                if S[q] <= tau < F[q]:
                    d = task_demand(problem, q, j)
                    for k in range(K):
                        use[k] = use[k] + d[k]
            for k in range(K):
                slack = 0 if isinstance(cap[k], int) else 1e-9 * max(1.0, abs(cap[k]))
                if use[k] > cap[k] + slack:  # float sums depend on their order
                    errors.append(f"node {j} uses {use[k]} > {cap[k]} of resource {k} at "
                                  f"time {tau}")
    return errors


def is_feasible(problem: Problem, x: Sequence[Any], start: Sequence[Any] | None = None) -> bool:
    """Placement mode (``start`` None): violation 0. Schedule mode: a valid schedule."""
    xs = _assignment(problem, x)
    if start is None:
        return _placement_violation(problem, xs) == 0.0
    return not validate_schedule(problem, xs, start)


# --------------------------------------------------------------------------- local search


def assignment_cost(problem: Problem, i: int, j: int) -> int | float:
    """``cost(i, j)`` of the ``cost`` objective: ``cost[i, j]`` when given, else the runtime."""
    if problem.cost is not None:
        return _scalar(problem.cost[i, j], problem.cost.dtype.kind == "i")
    return runtime(problem, i, j)


def fits(problem: Problem, x: Sequence[Any], i: int, j: int) -> bool:
    """Whether node ``j`` (not task ``i``'s node in ``x``) keeps within its capacity in every
    resource when task ``i`` joins the tasks ``x`` already puts there."""
    xs = _assignment(problem, x)
    if xs[i] == j:
        raise ValueError(f"task {i} is already on node {j}")
    L = loads(problem, xs)
    cap = _capacity(problem, j)
    d = task_demand(problem, i, j)
    for k in range(problem.n_resources):
        if L[j][k] + d[k] > cap[k]:
            return False
    return True


def improving_shifts(problem: Problem, x: Sequence[Any], sense: str = "min"
                     ) -> list[tuple[int, int]]:
    """Every shift move ``(i, j)`` that strictly improves the ``cost`` objective in ``sense``:
    task ``i`` to another node ``j`` where it is allowed and :func:`fits`."""
    if sense not in ("min", "max"):
        raise ValueError(f"sense must be 'min' or 'max', not {sense!r}")
    xs = _assignment(problem, x)
    moves = []
    for i in range(problem.n_tasks):
        here = assignment_cost(problem, i, xs[i])
        for j in range(problem.n_nodes):
            if j == xs[i] or not allowed(problem, i, j) or not fits(problem, xs, i, j):
                continue
            there = assignment_cost(problem, i, j)
            if (there < here) if sense == "min" else (there > here):
                moves.append((i, j))
    return moves


# --------------------------------------------------------------------------- placement baselines
#
# The placement baselines as ``gabalance.baselines`` wrote them before they were made to
# scale: one task at a time, O(M) numpy work per task over the task's allowed nodes. They
# keep the numpy expressions of that code on purpose (``np.lexsort``, ``argmin``, row sums),
# so that the float operations, and with them every tie, are exactly the ones the fast
# baselines must reproduce. Eligibility comes from :func:`allowed`, the order from a plain
# Kahn's algorithm. Each returns ``(assignment, keys)`` as lists (int and float).


def _dependency_order(problem: Problem) -> list[int]:
    """Tasks in dependency order, lowest index first among the ready ones (Kahn)."""
    n = problem.n_tasks
    succ: list[list[int]] = [[] for _ in range(n)]
    waiting = [0] * n
    for e in range(problem.n_edges):
        p, s = int(problem.edges[e, 0]), int(problem.edges[e, 1])
        succ[p].append(s)
        waiting[s] += 1
    ready = [i for i in range(n) if waiting[i] == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for s in succ[i]:
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, s)
    return order


def _order_keys(order: list[int]) -> list[float]:
    """Priority keys that make the decoder take the tasks in ``order``."""
    keys = [0.0] * len(order)
    for rank, i in enumerate(order):
        keys[i] = rank / max(1, len(order))
    return keys


def _allowed_nodes(problem: Problem, i: int) -> np.ndarray:
    return np.array([j for j in range(problem.n_nodes) if allowed(problem, i, j)], np.int64)


def _need(problem: Problem, i: int, nodes: np.ndarray) -> np.ndarray:
    """Demand of task ``i`` on each of ``nodes``, (len(nodes), K) float64."""
    if problem.demand.ndim == 3:
        return problem.demand[i, nodes].astype(np.float64)
    return np.broadcast_to(problem.demand[i], (len(nodes), problem.n_resources)
                           ).astype(np.float64)


def naive_round_robin(problem: Problem) -> tuple[list[int], list[float]]:
    """In dependency order, each task to the first allowed node cyclically from the node
    after the previous task's."""
    order = _dependency_order(problem)
    x = [0] * problem.n_tasks
    nxt = 0
    for i in order:
        nodes = [int(j) for j in _allowed_nodes(problem, i)]
        later = [j for j in nodes if j >= nxt]
        j = later[0] if later else nodes[0]
        x[i] = j
        nxt = (j + 1) % problem.n_nodes
    return x, _order_keys(order)


def naive_least_connections(problem: Problem) -> tuple[list[int], list[float]]:
    """In dependency order, each task to the allowed node holding the fewest tasks so far
    (ties: lowest index)."""
    order = _dependency_order(problem)
    count = [0] * problem.n_nodes
    x = [0] * problem.n_tasks
    for i in order:
        best = -1
        for j in _allowed_nodes(problem, i).tolist():
            if best < 0 or count[j] < count[best]:
                best = j
        x[i] = best
        count[best] += 1
    return x, _order_keys(order)


def naive_least_loaded(problem: Problem) -> tuple[list[int], list[float]]:
    """Placement-mode least-loaded: in dependency order, each task to the allowed node of
    lowest utilization (largest used fraction of a resource), nodes where it still fits
    first, lowest index among equals."""
    capacity = problem.capacity
    load = np.zeros(capacity.shape, np.float64)
    order = _dependency_order(problem)
    x = [0] * problem.n_tasks
    for i in order:
        nodes = _allowed_nodes(problem, i)
        need = _need(problem, i, nodes)
        fits = np.all(load[nodes] + need <= capacity[nodes], axis=1)
        cap = capacity[nodes]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(cap > 0, load[nodes] / np.where(cap > 0, cap, 1), 0.0)
        util = u.max(axis=1) if u.shape[1] else np.zeros(len(u))
        pos = int(np.lexsort((util, ~fits))[0])
        x[i] = int(nodes[pos])
        load[nodes[pos]] += need[pos]
    return x, _order_keys(order)


def naive_fit_decreasing(problem: Problem, best: bool) -> tuple[list[int], list[float]]:
    """Vector bin packing by decreasing size (demand over the largest capacity, summed over
    resources; per-node demands: their mean): first fit (``best=False``: the first allowed
    node with room) or best fit (the least room left, summed in units of that largest
    capacity, lowest index among equals); where nothing has room, the least overload."""
    capacity = problem.capacity
    scale = capacity.max(axis=0).astype(np.float64)
    scale[scale == 0] = 1.0
    demand = problem.demand.mean(axis=1) if problem.demand.ndim == 3 else problem.demand
    size = (demand / scale).sum(axis=1)
    load = np.zeros(capacity.shape, np.float64)
    x = [0] * problem.n_tasks
    for i in [int(i) for i in np.argsort(-size, kind="stable")]:
        nodes = _allowed_nodes(problem, i)
        need = _need(problem, i, nodes)
        room = capacity[nodes] - load[nodes] - need
        fits = np.all(room >= 0, axis=1)
        if fits.any():
            candidates = np.flatnonzero(fits)
            if best:
                slack = (room[candidates] / scale).sum(axis=1)
                pos = int(candidates[np.argmin(slack)])
            else:
                pos = int(candidates[0])
        else:
            over = (np.maximum(-room, 0) / scale).sum(axis=1)
            pos = int(np.argmin(over))
        x[i] = int(nodes[pos])
        load[nodes[pos]] += need[pos]
    return x, _order_keys(_dependency_order(problem))


def naive_first_fit_decreasing(problem: Problem) -> tuple[list[int], list[float]]:
    return naive_fit_decreasing(problem, best=False)


def naive_best_fit_decreasing(problem: Problem) -> tuple[list[int], list[float]]:
    return naive_fit_decreasing(problem, best=True)


# --------------------------------------------------------------------------- cost search


def _scratch_loads(capacity: Any, demand3: Any, x: list[int]) -> list[list[Any]]:
    M, K = len(capacity), len(capacity[0])
    per = len(demand3[0]) > 1
    load: list[list[Any]] = [[0] * K for _ in range(M)]
    for i, j in enumerate(x):
        for k in range(K):
            load[j][k] += demand3[i][j if per else 0][k]
    return load


def _scratch_over(load_j: list[Any], cap_j: list[Any], scale: list[float]) -> float:
    total = 0.0
    for k in range(len(cap_j)):
        o = load_j[k] - cap_j[k]
        if o > 0 and scale[k] > 0:
            total += o / scale[k]
    return total


def naive_cost_search(rec: Any, x0: Sequence[int], order: Sequence[int], w0: float,
                      unit: float, rounds: int, passes: int, wide: int, deep: int,
                      tol_rel: float = 1e-9, up: float = 2.0, down: float = 0.7
                      ) -> list[int]:
    """The incremental cost search of ``gabalance.backend._numba_search`` on one individual,
    with every load and overload recomputed from scratch before each move is priced.

    ``rec`` is a ``CostRecord`` (only read element by element, as lists). Returns the
    assignment the search ends with (the best feasible seen, else the least overloaded)."""
    capacity = rec.capacity.tolist()
    demand3 = rec.demand3.tolist()
    scale = rec.scale.tolist()
    score = rec.score.tolist()
    cand = rec.cand.tolist()
    allowed_t = rec.allowed.tolist()
    N, M = len(x0), len(capacity)
    per = len(demand3[0]) > 1
    x = [int(v) for v in x0]
    for i in range(N):
        if not allowed_t[i][x[i]] and cand[i][0] >= 0:
            x[i] = cand[i][0]
    members: list[list[int]] = [[] for _ in range(M)]  # head first, as the kernel's lists
    for i in range(N - 1, -1, -1):
        members[x[i]].insert(0, i)

    def over_now(j: int) -> float:
        return _scratch_over(_scratch_loads(capacity, demand3, x)[j], capacity[j], scale)

    def over_after(j: int, out: int, into: int) -> float:
        lj = list(_scratch_loads(capacity, demand3, x)[j])
        for k in range(len(lj)):
            if out >= 0:
                lj[k] -= demand3[out][j if per else 0][k]
            if into >= 0:
                lj[k] += demand3[into][j if per else 0][k]
        return _scratch_over(lj, capacity[j], scale)

    def overloaded() -> list[bool]:
        load = _scratch_loads(capacity, demand3, x)
        return [any(load[j][k] > capacity[j][k] for k in range(len(capacity[j])))
                for j in range(M)]

    w = [float(w0)] * M
    floor = 0.01 * unit
    cost = 0.0
    for i in range(N):
        cost += score[i][x[i]]
    tol = tol_rel * (1.0 + abs(cost) / max(N, 1))
    best = list(x)
    best_cost = cost
    best_viol = sum(over_now(j) for j in range(M))
    best_feasible = not any(overloaded())
    dirty = [True] * N
    L = len(cand[0])

    def best_move(i: int) -> tuple[float, int, int]:
        s = x[i]
        base = score[i][s]
        rel = w[s] * (over_after(s, i, -1) - over_now(s))
        bd, bb, bk = -tol, -1, -1
        for q in range(L):
            j = cand[i][q]
            if j < 0:
                break
            if j == s:
                continue
            d = (score[i][j] - base) + rel + w[j] * (over_after(j, -1, i) - over_now(j))
            if d < bd:
                bd, bb, bk = d, -1, j
        for q in range(min(L, wide)):
            j = cand[i][q]
            if j < 0:
                break
            if j == s:
                continue
            move_i = score[i][j] - base
            for b in list(members[j]):
                base_b = score[b][j]
                pen_j = w[j] * (over_after(j, b, i) - over_now(j))
                if allowed_t[b][s]:
                    d = move_i + (score[b][s] - base_b) + pen_j + w[s] * (
                        over_after(s, i, b) - over_now(s))
                    if d < bd:
                        bd, bb, bk = d, b, -1
                for r in range(min(L, deep)):
                    k = cand[b][r]
                    if k < 0:
                        break
                    if k == s or k == j:
                        continue
                    d = move_i + (score[b][k] - base_b) + pen_j + rel + w[k] * (
                        over_after(k, -1, b) - over_now(k))
                    if d < bd:
                        bd, bb, bk = d, b, k
        return bd, bb, bk

    def put(i: int, j: int) -> None:
        members[x[i]].remove(i)
        x[i] = j
        members[j].insert(0, i)

    def wake(j: int) -> None:
        for b in members[j]:
            dirty[b] = True

    for _r in range(rounds):
        for _p in range(passes):
            improved = False
            for i in order:
                i = int(i)
                if not dirty[i]:
                    continue
                _, b, k = best_move(i)
                if b < 0 and k < 0:
                    dirty[i] = False
                    continue
                s = x[i]
                if b < 0:
                    cost += score[i][k] - score[i][s]
                    put(i, k)
                    wake(s)
                    wake(k)
                else:
                    j = x[b]
                    dest = s if k < 0 else k
                    cost += (score[i][j] - score[i][s]) + (score[b][dest] - score[b][j])
                    put(b, dest)
                    put(i, j)
                    wake(s)
                    wake(j)
                    wake(dest)
                improved = True
                if not any(overloaded()) and (not best_feasible or cost < best_cost):
                    best, best_cost, best_viol, best_feasible = list(x), cost, 0.0, True
            if not best_feasible:
                viol = 0.0
                for j in range(M):
                    viol += over_now(j)
                if viol < best_viol or (viol == best_viol and cost < best_cost):
                    best, best_cost, best_viol = list(x), cost, viol
            if not improved:
                break
        bad = overloaded()
        if any(bad):
            for j in range(M):
                if over_now(j) > 0:
                    w[j] = max(w[j], floor) * up
                    wake(j)
        else:
            for j in range(M):
                if w[j] > floor:
                    w[j] = max(floor, w[j] * down)
                    wake(j)
    return best


# --------------------------------------------------------------------------- earliest finish
#
# HEFT and the response-time least-loaded policy as ``gabalance.baselines`` wrote them before
# their node search was pruned: every allowed node's capacity profile is searched for the
# earliest start, the node of least finish wins (the first in index order among equals).


class _Profile:
    """Usage of one node as a step function: ``usage[s]`` holds on ``[times[s], times[s+1])``."""

    def __init__(self, k: int) -> None:
        self.times: list[float] = [0.0]
        self.usage: list[list] = [[0] * k]

    def segment(self, t: float) -> int:
        s = 0
        while s + 1 < len(self.times) and self.times[s + 1] <= t:
            s += 1
        return s

    def earliest_start(self, ready: float, length: float, need: list, cap: list) -> float:
        t = ready
        s = self.segment(t)
        while s < len(self.times) and self.times[s] < t + length:
            if any(u + d > c for u, d, c in zip(self.usage[s], need, cap)):
                t = self.times[s + 1]
            s += 1
        return t

    def split(self, t: float) -> int:
        s = self.segment(t)
        if self.times[s] == t:
            return s
        self.times.insert(s + 1, t)
        self.usage.insert(s + 1, list(self.usage[s]))
        return s + 1

    def occupy(self, start: float, finish: float, need: list) -> None:
        a = self.split(start)
        b = self.split(finish)
        for s in range(a, b):
            self.usage[s] = [u + d for u, d in zip(self.usage[s], need)]


def naive_earliest_finish(problem: Problem, order: Sequence[int]
                          ) -> tuple[list[int], list[float]]:
    """Tasks in ``order`` (a dependency order), each on the allowed node where it finishes
    earliest (insertion into the node's capacity profile; transfers between nodes).
    Returns the assignment and the finish times."""
    n = problem.n_tasks
    x = [-1] * n
    finish = [0.0] * n
    cap = [_capacity(problem, j) for j in range(problem.n_nodes)]
    profiles = [_Profile(problem.n_resources) for _ in range(problem.n_nodes)]
    preds = _preds(problem)
    for i in order:
        best: tuple[float, int, float] | None = None
        for j in range(problem.n_nodes):
            if not allowed(problem, i, j):
                continue
            r = float(problem.release[i])
            for p, e in preds[i]:
                r = max(r, finish[p] + transfer(problem, e, x[p], j))
            length = runtime(problem, i, j)
            need = task_demand(problem, i, j)
            t = r if length == 0 else profiles[j].earliest_start(r, length, need, cap[j])
            if best is None or t + length < best[0]:
                best = (t + length, j, t)
        assert best is not None
        f, j, t = best
        x[i], finish[i] = j, f
        if f > t:
            profiles[j].occupy(t, f, task_demand(problem, i, j))
    return x, finish


def naive_least_loaded_schedule(problem: Problem) -> tuple[list[int], list[float]]:
    """The response-time policy: in dependency order, each task on its earliest-finishing
    allowed node."""
    order = _dependency_order(problem)
    return naive_earliest_finish(problem, order)[0], _order_keys(order)


def naive_upward_rank(problem: Problem) -> list[float]:
    """HEFT's upward rank: mean runtime over the allowed nodes plus the longest path of
    mean communication cost, data / (mean bandwidth over ordered pairs of distinct nodes),
    and rank to an exit task."""
    n, m = problem.n_tasks, problem.n_nodes
    mean_rt = [float(np.mean([runtime(problem, i, j) for j in range(m) if allowed(problem, i, j)]))
               for i in range(n)]
    mean_bw = float("inf")
    if m > 1:
        bw = np.asarray(problem.bandwidth, np.float64)
        pairs = [float(bw) if bw.ndim == 0 else float(bw[a, b])
                 for a in range(m) for b in range(m) if a != b]
        mean_bw = float(np.mean(pairs))
    succ: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    for e in range(problem.n_edges):
        cost = 0.0 if mean_bw == float("inf") else float(problem.data[e]) / mean_bw
        succ[int(problem.edges[e, 0])].append((int(problem.edges[e, 1]), cost))
    rank = [0.0] * n
    for i in reversed(_dependency_order(problem)):
        rank[i] = mean_rt[i] + max((c + rank[s] for s, c in succ[i]), default=0.0)
    return rank


def naive_heft(problem: Problem) -> tuple[list[int], list[float]]:
    """HEFT: tasks by decreasing upward rank (ties in dependency order), each on its
    earliest-finishing allowed node."""
    rank = naive_upward_rank(problem)
    position = {i: k for k, i in enumerate(_dependency_order(problem))}
    order = sorted(range(problem.n_tasks), key=lambda i: (-rank[i], position[i]))
    return naive_earliest_finish(problem, order)[0], _order_keys(order)


def naive_util_search(rec: Any, x0: Sequence[int], order: Sequence[int], passes: int,
                      budget: int, H: int, refresh: int = 32, tol: float = 1e-12
                      ) -> list[int]:
    """The bottleneck search of ``gabalance.backend._numba_balance`` on one individual, with
    every load and utilization recomputed from scratch and the busiest node found by a scan
    (lowest index on ties) instead of a heap. ``rec`` is a ``UtilRecord``."""
    capacity = rec.capacity.tolist()
    demand3 = rec.demand3.tolist()
    scale = rec.scale.tolist()
    group_ok = rec.group_ok.tolist()
    task_group = rec.task_group.tolist()
    gptr, gnodes = rec.gptr.tolist(), rec.gnodes.tolist()
    cand = rec.cand.tolist()
    runtime = rec.runtime.tolist() if rec.has_runtime else None
    N, M = len(x0), len(capacity)
    K = len(capacity[0])
    per = len(demand3[0]) > 1
    x = [int(v) for v in x0]
    members: list[list[int]] = [[] for _ in range(M)]
    for i in range(N):
        members[x[i]].append(i)  # task order, as the kernel's lists start

    def dem(i: int, j: int) -> list:
        return demand3[i][j if per else 0]

    def load_of(j: int) -> list:
        return [sum(dem(i, j)[k] for i in members[j]) for k in range(K)]

    def util_of(v: list, j: int) -> float:
        best = 0.0
        for k in range(K):
            u = v[k] / capacity[j][k] if capacity[j][k] > 0 else (INF if v[k] > 0 else 0.0)
            best = max(best, u)
        return best

    def with_(j: int, out: int = -1, into: int = -1) -> list:
        v = load_of(j)
        for k in range(K):
            if out >= 0:
                v[k] -= dem(out, j)[k]
            if into >= 0:
                v[k] += dem(into, j)[k]
        return v

    def over(v: list, j: int) -> float:
        return sum((v[k] - capacity[j][k]) / scale[k] for k in range(K)
                   if v[k] - capacity[j][k] > 0 and scale[k] > 0)

    def fits(j: int, i: int) -> bool:
        v = with_(j, into=i)
        return all(v[k] <= capacity[j][k] for k in range(K))

    def ok(i: int, j: int) -> bool:
        if not group_ok[task_group[i]][j]:
            return False
        if runtime is not None and not math.isfinite(runtime[i][j]):
            return False
        return all(dem(i, j)[k] <= capacity[j][k] for k in range(K))

    def overloaded(j: int) -> bool:
        v = load_of(j)
        return any(v[k] > capacity[j][k] for k in range(K))

    low: list[list[int]] = []

    def refresh_low() -> None:
        low.clear()
        util = [util_of(load_of(j), j) for j in range(M)]
        for g in range(len(group_ok)):
            nodes = sorted(gnodes[gptr[g]:gptr[g + 1]], key=lambda j: (util[j], j))[:H]
            low.append(nodes + [-1] * (H - len(nodes)))

    def candidates(i: int) -> list[int]:
        return list(cand[i]) + list(low[task_group[i]])

    def put(i: int, j: int) -> None:
        members[x[i]].remove(i)
        x[i] = j
        members[j].insert(0, i)

    since = 0

    def tick() -> None:
        nonlocal since
        since += 1
        if since == refresh:
            refresh_low()
            since = 0

    refresh_low()
    for i in order:
        if ok(i, x[i]):
            continue
        best, b_ov, b_u = -1, INF, INF
        for j in candidates(i):
            if j < 0 or not ok(i, j):
                continue
            ov = over(with_(j, into=i), j) - over(with_(j), j)
            u = util_of(with_(j, into=i), j)
            if ov < b_ov or (ov == b_ov and u < b_u):
                best, b_ov, b_u = j, ov, u
        if best >= 0:
            put(i, best)
            tick()
    for _ in range(passes):
        refresh_low()
        since = 0
        moved = False
        for i in order:
            src = x[i]
            if not overloaded(src):
                continue
            best, b_u = -1, INF
            for j in candidates(i):
                if j < 0 or j == src or not ok(i, j) or not fits(j, i):
                    continue
                u = util_of(with_(j, into=i), j)
                if u < b_u:
                    best, b_u = j, u
            if best >= 0:
                put(i, best)
                moved = True
                tick()
        if not moved:
            break
    refresh_low()
    since = 0
    for i in order:
        src = x[i]
        if not overloaded(src):
            continue
        gain = over(with_(src, out=i), src) - over(with_(src), src)
        best, b_d = -1, 0.0
        for j in candidates(i):
            if j < 0 or j == src or not ok(i, j):
                continue
            d = gain + over(with_(j, into=i), j) - over(with_(j), j)
            if d < b_d:
                best, b_d = j, d
        if best >= 0:
            put(i, best)
            tick()
    refresh_low()
    since = 0
    for _ in range(budget):
        util = [util_of(load_of(j), j) for j in range(M)]
        top = max(range(M), key=lambda j: (util[j], -j))
        u_top = util[top]
        bi, bj, b_u = -1, -1, u_top - tol
        for i in members[top]:
            for j in candidates(i):
                if j < 0 or j == top or not ok(i, j) or not fits(j, i):
                    continue
                u = util_of(with_(j, into=i), j)
                if u < b_u:
                    bi, bj, b_u = i, j, u
        if bi >= 0:
            put(bi, bj)
            tick()
            continue
        chain = None
        for a in members[top]:
            for j in candidates(a):
                if j < 0 or j == top or not ok(a, j):
                    continue
                for b in list(members[j]):
                    v = with_(j, out=b, into=a)
                    if any(v[k] > capacity[j][k] for k in range(K)):
                        continue
                    u_j = max([v[k] / capacity[j][k] for k in range(K) if capacity[j][k] > 0],
                              default=0.0)
                    if not u_j < b_u:
                        continue
                    for kk in candidates(b):
                        if kk < 0 or kk == top or kk == j or not ok(b, kk) or not fits(kk, b):
                            continue
                        worst = max(u_j, util_of(with_(kk, into=b), kk))
                        if worst < b_u:
                            chain, b_u = (a, j, b, kk), worst
        if chain is None:
            break
        a, j, b, kk = chain
        put(b, kk)
        put(a, j)
        tick()
    return x


# --------------------------------------------------------------------------- GPU devices


def _device_pack_order(problem: Problem) -> list[int]:
    """Whole-device tasks (more devices first), then shares (larger first), then the rest;
    ties by index."""
    def key(i: int) -> tuple[int, int, int]:
        g = int(problem.gpu_milli[i])
        kind = 0 if g >= 1000 else (1 if g > 0 else 2)
        return (kind, -g, i)
    return sorted(range(problem.n_tasks), key=key)


def _labels_ok(problem: Problem, i: int, j: int) -> bool:
    labels = problem.node_labels[j]
    return all(any(label in labels for label in req) for req in problem.task_requires[i])


def devices(problem: Problem, x: Sequence[Any], masks: Sequence[Any] | None = None
            ) -> tuple[float, float, list[int]]:
    """``(allocated GPU share, violation, device masks)`` of one solution of the device model.

    ``x`` node per task (-1: waiting); ``masks`` device mask per task, or None to pack the
    devices with the canonical rule (docs/model.md, "GPU devices"): in the order of
    :func:`_device_pack_order`, a task of k whole devices takes the k lowest free devices of
    its node (k least loaded, ties lowest, when fewer are free); a share takes the device
    it fits most tightly (ties lowest; the least loaded when it fits none).
    """
    N, M, K = problem.n_tasks, problem.n_nodes, problem.n_resources
    xs = [int(v) for v in x]
    integer = _int_data(problem)
    gpus = [int(problem.gpus[j]) for j in range(M)]
    dev = [[0] * gpus[j] for j in range(M)]
    zero: int | float = 0 if integer else 0.0
    load = [[zero] * K for _ in range(M)]
    out = [0] * N
    alloc, viol = 0.0, 0.0
    for t in _device_pack_order(problem):
        j = xs[t]
        if j < 0:
            if not bool(problem.may_wait[t]):
                viol += 1
            continue
        d = task_demand(problem, t, j)
        for k in range(K):
            load[j][k] = load[j][k] + d[k]
        if not _labels_ok(problem, t, j):
            viol += 1
        g = int(problem.gpu_milli[t])
        if g == 0:
            continue
        alloc += float(problem.weight[t]) * g
        need = 1 if g < 1000 else g // 1000
        if need > gpus[j]:
            viol += 1
            continue
        amount = g if g < 1000 else 1000
        if masks is not None:
            m = int(masks[t])
            chosen = [b for b in range(64) if (m >> b) & 1]
            if len(chosen) != need or any(b >= gpus[j] for b in chosen):
                viol += 1
                continue
        elif g < 1000:
            fit = [(1000 - dev[j][b] - g, b) for b in range(gpus[j]) if dev[j][b] + g <= 1000]
            chosen = [min(fit)[1]] if fit else [min((dev[j][b], b) for b in range(gpus[j]))[1]]
        else:
            free = [b for b in range(gpus[j]) if dev[j][b] == 0]
            if len(free) >= need:
                chosen = free[:need]
            else:
                chosen = [b for _, b in sorted((dev[j][b], b) for b in range(gpus[j]))][:need]
        for b in chosen:
            dev[j][b] += amount
            out[t] |= 1 << b
    caps = [_capacity(problem, j) for j in range(M)]
    for k in range(K):
        scale = max(caps[j][k] for j in range(M))
        for j in range(M):
            excess = load[j][k] - caps[j][k]
            if excess > 0 and scale > 0:
                viol += excess / scale
    for j in range(M):
        for b in range(gpus[j]):
            if dev[j][b] > 1000:
                viol += (dev[j][b] - 1000) / 1000
    total = 1000 * sum(gpus)
    return alloc / (total if total > 0 else 1), viol, out


def device_brute_force(problem: Problem) -> float:
    """Largest allocated GPU share over every node assignment (waiting where allowed) that
    some device masks make feasible; exhaustive, for a handful of tasks only."""
    import itertools

    N, M = problem.n_tasks, problem.n_nodes
    choices = [([-1] if bool(problem.may_wait[i]) else []) + list(range(M)) for i in range(N)]
    best = -1.0
    for xs in itertools.product(*choices):
        value = _device_feasible_value(problem, list(xs))
        if value is not None and value > best:
            best = value
    return best


def _device_feasible_value(problem: Problem, xs: list[int]) -> float | None:
    """Objective of ``xs`` if some device masks make it feasible, else None (tries every
    mask of every GPU task)."""
    import itertools

    obj, _viol, _ = devices(problem, xs)
    gpu_tasks = [t for t in range(problem.n_tasks) if xs[t] >= 0 and problem.gpu_milli[t] > 0]
    options = []
    for t in gpu_tasks:
        g = int(problem.gpu_milli[t])
        need = 1 if g < 1000 else g // 1000
        n = int(problem.gpus[xs[t]])
        options.append([sum(1 << b for b in c) for c in itertools.combinations(range(n), need)])
    masks = [0] * problem.n_tasks
    for combo in itertools.product(*options):
        for t, m in zip(gpu_tasks, combo, strict=True):
            masks[t] = m
        if devices(problem, xs, masks)[1] == 0:
            return obj
    return None


# --------------------------------------------------------------------------- critical-path search

_MASK64 = (1 << 64) - 1


def _xorshift(state: int) -> tuple[int, int]:
    """xorshift64* step on Python integers: (new state, integer in [0, 2**31))."""
    s = state
    s ^= s >> 12
    s ^= (s << 25) & _MASK64
    s ^= s >> 27
    return s, ((s * 2685821657736338717) & _MASK64) >> 33


def naive_heads(problem: Problem) -> list[float]:
    """Earliest finish of each task: release, longest path of fastest runtimes into it
    (no transfers), plus its own fastest runtime."""
    N = problem.n_tasks
    preds = _preds(problem)
    fastest = [min(runtime(problem, i, j) for j in range(problem.n_nodes)) for i in range(N)]
    head = [0.0] * N
    for i in _dependency_order(problem):
        r = float(problem.release[i])
        for p, _e in preds[i]:
            r = max(r, head[p])
        head[i] = r + fastest[i]
    return head


def _ready_time(problem: Problem, xs: list[int], i: int, j: int, finish: list[float]) -> float:
    r = float(problem.release[i])
    for p, e in _preds(problem)[i]:
        r = max(r, finish[p] + transfer(problem, e, xs[p], j))
    return r


def naive_critical_search(problem: Problem, x: Sequence[int], key: Sequence[float],
                          objective: str, budget: int, width: int, seed: int
                          ) -> tuple[list[int], list[float], float, float, int]:
    """The critical-path search of ``gabalance.backend._numba_critical`` on one genome, with
    a full decode (:func:`schedule`) for every candidate: ``(x, key, objective, violation,
    decodes)``. Same random stream, same chain, same candidate order, same acceptance."""
    xs = [int(v) for v in x]
    ks = [float(v) for v in key]
    N = problem.n_tasks
    code = 0 if objective == "makespan" else 1
    head = naive_heads(problem)
    preds = _preds(problem)
    weight = [float(w) for w in problem.weight]
    state = int(seed)

    def run(xs_: list[int], ks_: list[float]) -> tuple[float, float, list[float], list[float],
                                                       float]:
        value, viol, st, fi = schedule(problem, xs_, ks_, objective)
        return value, viol, st, fi, sum(fi)

    def better(v2: float, o2: float, t2: float, v: float, o: float, t: float) -> bool:
        if v2 != v:
            return v2 < v
        if o2 != o:
            return o2 < o
        return code == 0 and t2 < t

    obj, viol, start, finish, tie = run(xs, ks)
    used = 1
    while used < budget:
        # the chain's last task
        if code == 0:
            e = max(range(N), key=lambda i: (finish[i], -i))
        else:
            delay = sorted(range(N), key=lambda i: (-weight[i] * (finish[i] - head[i]), i))[:4]
            top = [i for i in delay if weight[i] * (finish[i] - head[i]) > 0]
            if not top:
                e = delay[0]
            else:
                state, r = _xorshift(state)
                e = top[r % len(top)]
        # walk it back
        chain: list[int] = []
        waited: list[int] = []
        i = e
        while i >= 0 and len(chain) < N:
            chain.append(i)
            j = xs[i]
            r_i = _ready_time(problem, xs, i, j, finish)
            nxt, w = -1, -1
            if start[i] > r_i:
                on_j = [q for q in range(N) if q != i and xs[q] == j and finish[q] <= start[i]
                        and finish[q] > start[q]]
                if on_j:
                    nxt = max(on_j, key=lambda q: (finish[q], -q))
                w = nxt
            elif r_i > float(problem.release[i]):
                for p, edge in preds[i]:
                    if finish[p] + transfer(problem, edge, xs[p], j) == r_i:
                        nxt = p
                        break
            waited.append(w)
            i = nxt
        pick: list[int] = []
        for c in range(len(chain)):
            pick.append(2 * c)
            if waited[c] >= 0:
                pick.append(2 * c + 1)
        for a in range(len(pick) - 1, 0, -1):
            state, r = _xorshift(state)
            b = r % (a + 1)
            pick[a], pick[b] = pick[b], pick[a]
        improved = False
        for move in pick:
            if used >= budget or improved:
                break
            c, kind = divmod(move, 2)
            i = chain[c]
            if kind == 1:
                q = waited[c]
                k2 = list(ks)
                k2[i], k2[q] = ks[q], ks[i]
                o2, v2, s2, f2, t2 = run(xs, k2)
                used += 1
                if better(v2, o2, t2, viol, obj, tie):
                    ks, obj, viol, start, finish, tie = k2, o2, v2, s2, f2, t2
                    improved = True
                continue
            nodes = [j for j in range(problem.n_nodes) if allowed(problem, i, j) and j != xs[i]]
            est = [_ready_time(problem, xs, i, j, finish) + runtime(problem, i, j)
                   for j in nodes]
            for t in range(min(width, len(nodes))):
                if used >= budget:
                    break
                b = t
                for u in range(t + 1, len(nodes)):
                    if est[u] < est[b]:
                        b = u
                est[t], est[b] = est[b], est[t]
                nodes[t], nodes[b] = nodes[b], nodes[t]
                x2 = list(xs)
                x2[i] = nodes[t]
                o2, v2, s2, f2, t2 = run(x2, ks)
                used += 1
                if better(v2, o2, t2, viol, obj, tie):
                    xs, obj, viol, start, finish, tie = x2, o2, v2, s2, f2, t2
                    improved = True
                    break
        if not improved:
            break
    return xs, ks, obj, viol, used

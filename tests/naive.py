"""Slow, obviously-correct oracles for the semantics in ``docs/model.md``.

One individual at a time, in plain Python loops over lists, dicts, ints and floats. The
Problem's arrays are only read element by element; nothing here is shared with (or imported
from) the package's backends, and ``Problem.allowed`` / ``Problem.runtime_of`` are not used.

Integer data (``capacity.dtype.kind == "i"``; integer ``cost``) are summed as Python ints and
converted to float only at the end, so integer results are exact.

Every public function returns Python floats (and lists of floats), never numpy scalars.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

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

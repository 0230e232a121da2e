"""Classic balancers, used as baselines and to seed searches.

Every baseline returns a :class:`Plan`: an assignment and, for schedules, priority keys
that make the serial schedule generation of ``docs/model.md`` place the tasks in the
baseline's own order, so ``gabalance.evaluate(problem, plan.assignment, plan.keys)`` scores
exactly the plan the baseline built. Nodes a task may not run on are never chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from gabalance.backend._numpy import _NodeProfile
from gabalance.problem import Problem, mode_of

__all__ = [
    "BASELINES",
    "Plan",
    "best_fit_decreasing",
    "first_fit_decreasing",
    "heft",
    "least_connections",
    "least_loaded",
    "random",
    "round_robin",
    "upward_rank",
]


class Plan(NamedTuple):
    """A baseline's answer: ``assignment`` (N,) int32 and ``keys`` (N,) float64 (the order
    tasks were placed in, as priority keys in [0, 1))."""

    assignment: np.ndarray
    keys: np.ndarray


def _topological(problem: Problem) -> list[int]:
    """Tasks in dependency order, lowest index first among the ready ones (Kahn)."""
    import heapq

    preds = problem.predecessors
    succ: list[list[int]] = [[] for _ in range(problem.n_tasks)]
    for p, s in problem.edges.tolist():
        succ[p].append(s)
    waiting = [len(p) for p in preds]
    ready = [i for i in range(problem.n_tasks) if waiting[i] == 0]
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


def _needs(problem: Problem, i: int, nodes: np.ndarray) -> np.ndarray:
    """Demand of task i on each of ``nodes``, shape (len(nodes), K) float64."""
    d = problem.demand[i, nodes] if problem.per_node_demand else \
        np.broadcast_to(problem.demand[i], (len(nodes), problem.n_resources))
    return d.astype(np.float64)


def _keys(order: list[int]) -> np.ndarray:
    keys = np.empty(len(order))
    keys[order] = np.arange(len(order)) / max(1, len(order))
    return keys


def round_robin(problem: Problem) -> Plan:
    """Deal tasks to nodes in turn, skipping nodes a task may not run on.

    In dependency order, each task goes to the first node, cyclically from the node after
    the previous task's, on which it is allowed. Load is not considered: that is what
    distinguishes round robin from the other balancers.
    """
    M = problem.n_nodes
    x = np.empty(problem.n_tasks, np.int32)
    order = _topological(problem)
    nxt = 0
    for i in order:
        nodes = problem.allowed_nodes(i)  # never empty: Problem rejects tasks that fit nowhere
        j = int(nodes[int(np.searchsorted(nodes, nxt)) % len(nodes)])
        x[i] = j
        nxt = (j + 1) % M
    return Plan(x, _keys(order))


def least_connections(problem: Problem) -> Plan:
    """Each task, in dependency order, to the allowed node holding the fewest tasks so far
    (ties: the lowest node index)."""
    count = np.zeros(problem.n_nodes, np.int64)
    x = np.empty(problem.n_tasks, np.int32)
    order = _topological(problem)
    for i in order:
        nodes = problem.allowed_nodes(i)
        j = int(nodes[np.argmin(count[nodes])])
        x[i] = j
        count[j] += 1
    return Plan(x, _keys(order))


def _utilization(load: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Per node, the largest fraction used of any resource it offers."""
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.where(capacity > 0, load / np.where(capacity > 0, capacity, 1), 0.0)
    return u.max(axis=1) if u.shape[1] else np.zeros(len(u))


def least_loaded(problem: Problem, objective: str | None = None) -> Plan:
    """The least-loaded policy.

    Placement objectives: each task, in dependency order, to the allowed node whose
    utilization (largest used fraction of any resource) is lowest, preferring nodes where it
    still fits. Schedule objectives: the response-time policy — each task, in dependency
    order, to the allowed node where it would finish earliest given the tasks already placed.
    """
    objective = objective or problem.objective or "max_utilization"
    if mode_of(objective) == "schedule":
        order = _topological(problem)
        return Plan(_earliest_finish(problem, order)[0], _keys(order))
    load = np.zeros(problem.capacity.shape, np.float64)
    x = np.empty(problem.n_tasks, np.int32)
    order = _topological(problem)
    for i in order:
        nodes = problem.allowed_nodes(i)
        need = _needs(problem, i, nodes)
        fits = np.all(load[nodes] + need <= problem.capacity[nodes], axis=1)
        util = _utilization(load[nodes], problem.capacity[nodes])
        j_pos = int(np.lexsort((util, ~fits))[0])
        x[i] = nodes[j_pos]
        load[nodes[j_pos]] += need[j_pos]
    return Plan(x, _keys(order))


def _size(problem: Problem) -> np.ndarray:
    """Vector-packing size of each task: demand over the largest capacity, summed over
    resources (per-node demands: their mean)."""
    scale = problem.capacity.max(axis=0).astype(np.float64)
    scale[scale == 0] = 1.0
    demand = problem.demand.mean(axis=1) if problem.per_node_demand else problem.demand
    return (demand / scale).sum(axis=1)


def _fit_decreasing(problem: Problem, best: bool) -> Plan:
    scale = problem.capacity.max(axis=0).astype(np.float64)
    scale[scale == 0] = 1.0
    load = np.zeros(problem.capacity.shape, np.float64)
    x = np.empty(problem.n_tasks, np.int32)
    order = [int(i) for i in np.argsort(-_size(problem), kind="stable")]
    for i in order:
        nodes = problem.allowed_nodes(i)
        need = _needs(problem, i, nodes)
        room = problem.capacity[nodes] - load[nodes] - need
        fits = np.all(room >= 0, axis=1)
        if fits.any():
            candidates = np.flatnonzero(fits)
            if best:  # the tightest fit: least room left, measured in units of scale
                slack = (room[candidates] / scale).sum(axis=1)
                j_pos = int(candidates[np.argmin(slack)])
            else:
                j_pos = int(candidates[0])
        else:  # nowhere to fit: the smallest overload
            over = (np.maximum(-room, 0) / scale).sum(axis=1)
            j_pos = int(np.argmin(over))
        x[i] = nodes[j_pos]
        load[nodes[j_pos]] += need[j_pos]
    return Plan(x, _keys(_topological(problem)))


def first_fit_decreasing(problem: Problem) -> Plan:
    """Vector bin packing: tasks by decreasing size (demand relative to the largest
    capacity, summed over resources), each to the first allowed node with room for it, else
    to the node it overloads least."""
    return _fit_decreasing(problem, best=False)


def best_fit_decreasing(problem: Problem) -> Plan:
    """As :func:`first_fit_decreasing`, but to the node with the least room left after it."""
    return _fit_decreasing(problem, best=True)


def _mean_transfer(problem: Problem) -> float:
    """Mean time to move one unit of data between two different nodes."""
    M = problem.n_nodes
    if M < 2:
        return 0.0
    bw = np.broadcast_to(np.asarray(problem.bandwidth, np.float64), (M, M))
    off = ~np.eye(M, dtype=bool)
    return float(np.mean(1.0 / bw[off]))


def upward_rank(problem: Problem) -> np.ndarray:
    """HEFT's upward rank (Topcuoglu, Hariri & Wu 2002): mean runtime over the allowed
    nodes plus the longest path of mean transfer and rank to an exit task. Shape (N,)."""
    N = problem.n_tasks
    allowed = [problem.allowed_nodes(i) for i in range(N)]
    mean_rt = np.array([np.mean([problem.runtime_of(i, int(j)) for j in allowed[i]])
                        for i in range(N)])
    per_unit = _mean_transfer(problem)
    succ: list[list[tuple[int, float]]] = [[] for _ in range(N)]
    for (p, s), d in zip(problem.edges.tolist(), problem.data.tolist()):
        succ[p].append((s, d * per_unit))
    rank = np.zeros(N)
    for i in reversed(_topological(problem)):
        rank[i] = mean_rt[i] + max((c + rank[s] for s, c in succ[i]), default=0.0)
    return rank


def heft(problem: Problem) -> Plan:
    """Heterogeneous Earliest Finish Time (Topcuoglu, Hariri & Wu 2002), insertion-based.

    Tasks in decreasing upward rank (ties in dependency order), each to the allowed node on
    which it finishes earliest, inserted into the earliest gap that holds it, with transfer
    times between nodes. On nodes that run several tasks at once (cumulative capacity) the
    same rule uses the node's capacity profile.
    """
    rank = upward_rank(problem)
    position = np.empty(problem.n_tasks, np.int64)
    position[_topological(problem)] = np.arange(problem.n_tasks)
    order = [int(i) for i in np.lexsort((position, -rank))]
    return Plan(_earliest_finish(problem, order)[0], _keys(order))


def _earliest_finish(problem: Problem, order: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Place tasks in ``order`` (a dependency order), each on its earliest-finishing node.

    Returns the assignment (N,) int32 and the finish times (N,) of the schedule built."""
    x = np.full(problem.n_tasks, -1, np.int32)
    finish = np.zeros(problem.n_tasks)
    capacity = problem.capacity.tolist()
    profiles = [_NodeProfile(problem.n_resources) for _ in range(problem.n_nodes)]
    preds: list[list[tuple[int, int]]] = [[] for _ in range(problem.n_tasks)]  # (pred, edge)
    for e, (p, s) in enumerate(problem.edges.tolist()):
        preds[s].append((p, e))
    bw = problem.bandwidth
    for i in order:
        best: tuple[float, int, float] | None = None
        for j in problem.allowed_nodes(i).tolist():
            r = float(problem.release[i])
            for p, e in preds[i]:
                transfer = 0.0
                if x[p] != j and problem.data[e] != 0:
                    transfer = problem.data[e] / (bw if np.ndim(bw) == 0 else bw[x[p], j])
                r = max(r, finish[p] + transfer)
            length = problem.runtime_of(i, j)
            need = problem.task_demand(i, j).tolist()
            t = r if length == 0 else profiles[j].earliest_start(r, length, need, capacity[j])
            if best is None or t + length < best[0]:
                best = (t + length, j, t)
        assert best is not None  # every task has an allowed node
        f, j, t = best
        x[i], finish[i] = j, f
        if f > t:
            profiles[j].occupy(t, f, problem.task_demand(i, j).tolist())
    return x, finish


def random(problem: Problem, seed: int | np.random.Generator | None = None) -> Plan:
    """Each task on a uniformly drawn allowed node; random priority keys."""
    rng = np.random.default_rng(seed)
    x = np.empty(problem.n_tasks, np.int32)
    for i in range(problem.n_tasks):
        nodes = problem.allowed_nodes(i)
        x[i] = nodes[rng.integers(len(nodes))]
    return Plan(x, rng.random(problem.n_tasks))


#: name -> baseline; each takes the problem (``least_loaded`` also the objective)
BASELINES: dict[str, Callable[..., Plan]] = {
    "round_robin": round_robin,
    "least_connections": least_connections,
    "least_loaded": least_loaded,
    "first_fit_decreasing": first_fit_decreasing,
    "best_fit_decreasing": best_fit_decreasing,
    "heft": heft,
    "random": random,
}

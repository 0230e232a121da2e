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

from gabalance import _placement
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

    if problem.n_edges == 0:
        return list(range(problem.n_tasks))
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


def _keys(order: list[int]) -> np.ndarray:
    keys = np.empty(len(order))
    keys[order] = np.arange(len(order)) / max(1, len(order))
    return keys


# The placement baselines below run as Numba kernels (gabalance._placement): nodes of equal
# label eligibility (and capacity, while that gives few classes) form classes, each searched
# through a segment tree, so a task typically costs O(C (K + log M)) for C classes instead
# of O(M K); problems with a runtime matrix or per-node demands are scanned node by node.
# The answers, ties included, are those of the per-task rules stated in each docstring.


def round_robin(problem: Problem) -> Plan:
    """Deal tasks to nodes in turn, skipping nodes a task may not run on.

    In dependency order, each task goes to the first node, cyclically from the node after
    the previous task's, on which it is allowed. Load is not considered: that is what
    distinguishes round robin from the other balancers.
    """
    order = _topological(problem)
    return Plan(_placement.round_robin(problem, order), _keys(order))


def least_connections(problem: Problem) -> Plan:
    """Each task, in dependency order, to the allowed node holding the fewest tasks so far
    (ties: the lowest node index)."""
    order = _topological(problem)
    return Plan(_placement.least_connections(problem, order), _keys(order))


def least_loaded(problem: Problem, objective: str | None = None) -> Plan:
    """The least-loaded policy.

    Placement objectives: each task, in dependency order, to the allowed node whose
    utilization (largest used fraction of any resource) is lowest, preferring nodes where it
    still fits (ties: the lowest node index). Schedule objectives: the response-time policy
    — each task, in dependency order, to the allowed node where it would finish earliest
    given the tasks already placed.
    """
    objective = objective or problem.objective or "max_utilization"
    order = _topological(problem)
    if mode_of(objective) == "schedule":
        return Plan(_earliest_finish(problem, order)[0], _keys(order))
    return Plan(_placement.least_loaded(problem, order), _keys(order))


def _size(problem: Problem) -> np.ndarray:
    """Vector-packing size of each task: demand over the largest capacity, summed over
    resources (per-node demands: their mean)."""
    scale = problem.capacity.max(axis=0).astype(np.float64)
    scale[scale == 0] = 1.0
    demand = problem.demand.mean(axis=1) if problem.per_node_demand else problem.demand
    return (demand / scale).sum(axis=1)


def _fit_decreasing(problem: Problem, best: bool) -> Plan:
    order = np.argsort(-_size(problem), kind="stable")
    x = (_placement.best_fit if best else _placement.first_fit)(problem, order)
    return Plan(x, _keys(_topological(problem)))


def first_fit_decreasing(problem: Problem) -> Plan:
    """Vector bin packing: tasks by decreasing size (demand relative to the largest
    capacity, summed over resources), each to the first allowed node with room for it, else
    to the node it overloads least (overload summed in units of the largest capacity; ties:
    the lowest node index)."""
    return _fit_decreasing(problem, best=False)


def best_fit_decreasing(problem: Problem) -> Plan:
    """As :func:`first_fit_decreasing`, but to the node with the least room left after it
    (summed in units of the largest capacity; ties: the lowest node index)."""
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
    mean_rt = np.empty(N)
    for i in range(N):
        nodes = problem.allowed_nodes(i)
        if problem.runtime is not None:
            mean_rt[i] = np.mean(problem.runtime[i, nodes].astype(np.float64))
        else:
            mean_rt[i] = np.mean(float(problem.duration[i])
                                 / problem.speed[nodes].astype(np.float64))
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
    """Place tasks in ``order`` (a dependency order), each on its earliest-finishing node
    (ties: the lowest node index).

    Returns the assignment (N,) int32 and the finish times (N,) of the schedule built.

    Per task, the ready time on every allowed node (release, predecessors' finish plus
    transfer) and the runtime are computed at once; nodes are then tried in increasing
    ``ready + runtime``, a lower bound on the finish there, and the search stops as soon as
    that bound cannot beat the best finish found: only those nodes' capacity profiles are
    searched for a start time."""
    N = problem.n_tasks
    x = np.full(N, -1, np.int32)
    finish = np.zeros(N)
    capacity = problem.capacity.tolist()
    profiles = [_NodeProfile(problem.n_resources) for _ in range(problem.n_nodes)]
    preds: list[list[tuple[int, int]]] = [[] for _ in range(N)]  # (pred, edge)
    for e, (p, s) in enumerate(problem.edges.tolist()):
        preds[s].append((p, e))
    bw = problem.bandwidth
    scalar_bw = np.ndim(bw) == 0
    data = problem.data
    per_node = problem.per_node_demand
    for i in order:
        nodes = problem.allowed_nodes(i)  # never empty: Problem rejects such tasks
        ready = np.full(len(nodes), float(problem.release[i]))
        for p, e in preds[i]:
            done = finish[p]
            if data[e] != 0:  # + data / bandwidth where the predecessor ran elsewhere
                arrive = done + data[e] / (bw if scalar_bw else bw[x[p], nodes])
                ready = np.maximum(ready, np.where(nodes != x[p], arrive, done))
            else:
                ready = np.maximum(ready, done)
        if problem.runtime is not None:
            lengths = problem.runtime[i, nodes].astype(np.float64)
        else:
            lengths = float(problem.duration[i]) / problem.speed[nodes].astype(np.float64)
        bound = ready + lengths
        need = None if per_node else problem.demand[i].tolist()
        bf, bj, bt = np.inf, -1, 0.0
        for pos in np.lexsort((nodes, bound)).tolist():
            j = int(nodes[pos])
            lb = float(bound[pos])
            if lb > bf or (lb == bf and j > bj):
                break  # tried in increasing (bound, index): none of the rest can win
            r, length = float(ready[pos]), float(lengths[pos])
            if length == 0:
                t = r
            else:
                t = profiles[j].earliest_start(
                    r, length, problem.demand[i, j].tolist() if need is None else need,
                    capacity[j])
            f = t + length
            if f < bf or (f == bf and j < bj):
                bf, bj, bt = f, j, t
        x[i], finish[i] = bj, bf
        if bf > bt:
            profiles[bj].occupy(bt, bf, problem.task_demand(i, bj).tolist())
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

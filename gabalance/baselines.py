"""Classic balancers, used as baselines and to seed searches.

Every baseline returns a :class:`Plan`: an assignment and, for schedules, priority keys
that make the serial schedule generation of ``docs/model.md`` place the tasks in the
baseline's own order, so ``gabalance.evaluate(problem, plan.assignment, plan.keys)`` scores
exactly the plan the baseline built. Nodes a task may not run on are never chosen.
"""

from __future__ import annotations

import bisect
import heapq
import math
import time
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from gabalance import _placement
from gabalance.problem import Problem, mode_of
from gabalance.profile import NodeProfile

__all__ = [
    "BASELINES",
    "CONVENTIONS",
    "Plan",
    "best_fit_decreasing",
    "cpop",
    "downward_rank",
    "earliest_finish",
    "first_fit_decreasing",
    "heft",
    "least_connections",
    "least_loaded",
    "optimistic_cost_table",
    "peft",
    "random",
    "round_robin",
    "seed_plans",
    "topological_order",
    "upward_rank",
    "wspt",
]


class Plan(NamedTuple):
    """A baseline's answer: ``assignment`` (N,) int32 and ``keys`` (N,) float64 (the order
    tasks were placed in, as priority keys in [0, 1))."""

    assignment: np.ndarray
    keys: np.ndarray


def topological_order(problem: Problem) -> list[int]:
    """Tasks in dependency order, lowest index first among the ready ones (Kahn 1962).

    Parameters
    ----------
    problem : Problem

    Returns
    -------
    list of int
        Every task index once, each after all its predecessors.
    """
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
    order = topological_order(problem)
    return Plan(_placement.round_robin(problem, order), _keys(order))


def least_connections(problem: Problem) -> Plan:
    """Each task, in dependency order, to the allowed node holding the fewest tasks so far
    (ties: the lowest node index)."""
    order = topological_order(problem)
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
    order = topological_order(problem)
    if mode_of(objective) == "schedule":
        return Plan(earliest_finish(problem, order)[0], _keys(order))
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
    return Plan(x, _keys(topological_order(problem)))


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


# --------------------------------------------------------------------------- list schedulers
# HEFT, CPOP and PEFT: a priority list, then each task in turn to a node, at the earliest
# start there given the tasks already placed (insertion into gaps: the decoder's own rule,
# so the keys of the placing order make the decoder rebuild the schedule exactly).

#: rank conventions of the list schedulers: the papers' definitions, or anrg-saga 2.0's
CONVENTIONS = ("paper", "saga")

#: above this many task-node pairs the allowed nodes are found task by task, not from the
#: dense (N, M) eligibility matrix
_DENSE_PAIRS = 1 << 24


def _convention_iv(convention: object, who: str) -> str:
    if not isinstance(convention, str) or convention not in CONVENTIONS:
        raise ValueError(f"{who}: convention must be one of "
                         f"{', '.join(map(repr, CONVENTIONS))}, got {convention!r}")
    return convention


class _Graph:
    """What the list schedulers share, computed once per call: per task its allowed nodes
    and runtimes there, successors and predecessors as (task, edge) lists, the dependency
    order of :func:`topological_order` and each task's position in it."""

    def __init__(self, problem: Problem) -> None:
        N, M = problem.n_tasks, problem.n_nodes
        self.problem = problem
        if N * M <= _DENSE_PAIRS:
            self.nodes = [np.flatnonzero(row) for row in problem.allowed]
        else:
            self.nodes = [problem.allowed_nodes(i) for i in range(N)]
        if problem.runtime is not None:
            rt = problem.runtime
            self.runtime = [rt[i, nodes].astype(np.float64) for i, nodes in enumerate(self.nodes)]
        else:
            speed = problem.speed.astype(np.float64)
            duration = problem.duration.astype(np.float64).tolist()
            self.runtime = [duration[i] / speed[nodes] for i, nodes in enumerate(self.nodes)]
        self.succ: list[list[tuple[int, int]]] = [[] for _ in range(N)]
        self.pred: list[list[tuple[int, int]]] = [[] for _ in range(N)]
        for e, (p, s) in enumerate(problem.edges.tolist()):
            self.succ[p].append((s, e))
            self.pred[s].append((p, e))
        self.topo = topological_order(problem)
        self.position = [0] * N
        for k, i in enumerate(self.topo):
            self.position[i] = k

    def mean_runtime(self) -> list[float]:
        """``w̄``: each task's mean runtime over the nodes it may run on."""
        return [float(np.mean(rt)) for rt in self.runtime]

    def mean_transfer(self, convention: str) -> list[float]:
        """``c̄``: the mean transfer time of each dependency (see :func:`upward_rank`)."""
        problem = self.problem
        data = problem.data.astype(np.float64)
        M = problem.n_nodes
        if M < 2 or data.size == 0:
            return [0.0] * data.size
        off = ~np.eye(M, dtype=bool)
        bw = np.broadcast_to(np.asarray(problem.bandwidth, np.float64), (M, M))[off]
        if convention == "paper":
            mean_bw = float(np.mean(bw))
            return [0.0] * data.size if math.isinf(mean_bw) else (data / mean_bw).tolist()
        # each undirected pair appears twice in bw (both directions): their mean, over the
        # M (M - 1) / 2 pairs and the M self-links of transfer 0
        return (data * (float(np.sum(1.0 / bw)) / (M * (M + 1)))).tolist()

    def upward(self, convention: str) -> np.ndarray:
        w = self.mean_runtime()
        c = self.mean_transfer(convention)
        succ = self.succ
        rank = [0.0] * len(w)
        for i in reversed(self.topo):
            rank[i] = w[i] + max((c[e] + rank[s] for s, e in succ[i]), default=0.0)
        return np.array(rank)

    def downward(self, convention: str) -> np.ndarray:
        c = self.mean_transfer(convention)
        pred = self.pred
        rank = [0.0] * len(pred)
        if convention == "paper":
            w = self.mean_runtime()
            for i in self.topo:
                rank[i] = max((rank[p] + w[p] + c[e] for p, e in pred[i]), default=0.0)
            return np.array(rank)
        # saga: the task's own runtime on a node of mean speed; several entry tasks get
        # saga's zero-cost super source (rank 0, zero-size edges) before them
        own = self.mean_speed_runtime()
        super_source = sum(1 for ps in pred if not ps) > 1
        for i in self.topo:
            if pred[i]:
                rank[i] = max(rank[p] + c[e] + own[i] for p, e in pred[i])
            elif super_source:
                rank[i] = own[i]
        return np.array(rank)

    def mean_speed_runtime(self) -> list[float]:
        """Each task's runtime on a node of mean speed over its allowed nodes: ``duration /
        mean(speed)``; with a runtime matrix the harmonic mean of its runtimes (the same on
        related nodes; 0 when one is 0)."""
        problem = self.problem
        if problem.runtime is None:
            speed = problem.speed.astype(np.float64)
            return [float(problem.duration[i]) / float(np.mean(speed[nodes]))
                    for i, nodes in enumerate(self.nodes)]
        return [0.0 if np.any(rt == 0) else 1.0 / float(np.mean(1.0 / rt))
                for rt in self.runtime]

    def ready_order(self, priority: np.ndarray) -> list[int]:
        """The ready list: repeatedly the ready task of highest priority (ties: the earlier
        in dependency order). Always a dependency order."""
        import heapq

        neg = (-np.asarray(priority, np.float64)).tolist()
        position, succ = self.position, self.succ
        waiting = [len(ps) for ps in self.pred]
        ready = [(neg[i], position[i], i) for i in range(len(neg)) if waiting[i] == 0]
        heapq.heapify(ready)
        order = []
        while ready:
            i = heapq.heappop(ready)[2]
            order.append(i)
            for s, _ in succ[i]:
                waiting[s] -= 1
                if waiting[s] == 0:
                    heapq.heappush(ready, (neg[s], position[s], s))
        return order


def upward_rank(problem: Problem, convention: str = "paper") -> np.ndarray:
    """HEFT's upward rank (Topcuoglu, Hariri & Wu 2002, eq. 5).

    ``rank_u(i) = w̄_i + max over successors j of (c̄_ij + rank_u(j))`` (an exit task: its
    ``w̄``), with ``w̄_i`` the mean runtime of task ``i`` over the nodes it may run on and
    ``c̄_ij`` the mean transfer time of the dependency.

    Parameters
    ----------
    problem : Problem
    convention : {"paper", "saga"}, default "paper"
        How ``c̄`` averages over the network. ``"paper"`` (eq. 4, no start-up cost):
        ``data / B̄``, ``B̄`` the mean bandwidth over the ordered pairs of distinct nodes (so
        ``c̄ = 0`` with one node, or when a pair's bandwidth is infinite). ``"saga"``
        (anrg-saga 2.0): the mean of ``data / bandwidth`` over the ``M (M + 1) / 2``
        undirected links of the network, each node's link to itself (transfer 0) included
        and a pair's two directions averaged; on a uniform network that is ``(M - 1) /
        (M + 1)`` of the paper's.

    Returns
    -------
    ndarray, shape (N,)
    """
    return _Graph(problem).upward(_convention_iv(convention, "upward_rank"))


def downward_rank(problem: Problem, convention: str = "paper") -> np.ndarray:
    """CPOP's downward rank (Topcuoglu, Hariri & Wu 2002, eq. 6).

    ``rank_d(i) = max over predecessors p of (rank_d(p) + w̄_p + c̄_pi)``, 0 for an entry
    task: the longest path of mean runtimes and transfers from an entry task to ``i``, its
    own runtime excluded (``w̄``, ``c̄`` as in :func:`upward_rank`).

    Parameters
    ----------
    problem : Problem
    convention : {"paper", "saga"}, default "paper"
        ``"saga"`` is anrg-saga 2.0's ``downward_rank``: ``c̄`` of ``convention="saga"``,
        and the task's *own* runtime on a node of mean speed (``duration / mean(speed)``;
        with a runtime matrix the harmonic mean of its runtimes) in place of the
        predecessor's mean runtime; when the graph has several entry tasks saga adds a
        zero-cost super source before them, so an entry task's rank is then its own
        runtime, not 0.

    Returns
    -------
    ndarray, shape (N,)
    """
    return _Graph(problem).downward(_convention_iv(convention, "downward_rank"))


def heft(problem: Problem, *, convention: str = "paper") -> Plan:
    """Heterogeneous Earliest Finish Time (Topcuoglu, Hariri & Wu 2002), insertion-based.

    Tasks in decreasing :func:`upward_rank` (mean runtime over the allowed nodes, mean
    transfer time), each to the allowed node on which it finishes earliest (ties: the lowest
    node index), inserted into the earliest gap that holds it after its inputs arrive and
    its release time. The paper breaks rank ties at random; here they go in dependency
    order, which keeps the list a dependency order when zero-cost tasks tie. On nodes that
    run several tasks at once (cumulative capacity) the same rule uses the node's capacity
    profile.

    Parameters
    ----------
    problem : Problem
        A schedule problem.
    convention : {"paper", "saga"}, default "paper"
        The mean transfer time of the ranks (see :func:`upward_rank`). With ``"saga"`` the
        schedule is that of anrg-saga 2.0's ``HeftScheduler`` on the same instance, up to
        ties between nodes (saga breaks them in the iteration order of a frozenset).

    Returns
    -------
    Plan
        The assignment, and keys in the order the tasks were placed: the decoder rebuilds
        the schedule exactly.

    References
    ----------
    H. Topcuoglu, S. Hariri and M.-Y. Wu, "Performance-effective and low-complexity task
    scheduling for heterogeneous computing", IEEE TPDS 13(3):260-274, 2002.
    """
    order, x, _ = _heft(problem, _convention_iv(convention, "heft"))
    return Plan(x, _keys(order))


#: what the list schedulers build: (placing order, assignment (N,) int32, finish (N,))
_Built = tuple[list[int], np.ndarray, np.ndarray]


def _heft(problem: Problem, convention: str) -> _Built:
    g = _Graph(problem)
    rank = g.upward(convention)
    # upward ranks never increase along an edge (in floating point too: a + b >= b for
    # a >= 0), so this sorted list is a dependency order, the one the ready list gives
    order = [int(i) for i in np.lexsort((np.array(g.position), -rank))]
    return (order, *earliest_finish(problem, order, graph=g))


def _critical_path(g: _Graph, priority: np.ndarray) -> list[int]:
    """CPOP's critical path: from the entry task of highest priority, repeatedly the
    successor of highest priority (ties: the earlier in dependency order), to an exit task.

    In exact arithmetic the tasks of a longest path have priority ``|CP|`` and no task has
    more, so following the largest priority is the paper's "successor of priority
    ``|CP|``", and stays on the path under rounding."""
    pr, position = priority.tolist(), g.position

    def best(tasks: list[int]) -> int:
        return min(tasks, key=lambda t: (-pr[t], position[t]))

    path = [best([i for i in g.topo if not g.pred[i]])]
    while g.succ[path[-1]]:
        path.append(best([s for s, _ in g.succ[path[-1]]]))
    return path


def _critical_node(g: _Graph, cp: list[int]) -> int:
    """``p_CP``: the node minimising the critical tasks' total runtime. Where no node may
    run all of them: the node that may run the most, then the least total runtime of those
    (ties: the lowest index)."""
    M = g.problem.n_nodes
    count = np.zeros(M, np.int64)
    total = np.zeros(M)
    for i in cp:
        count[g.nodes[i]] += 1
        total[g.nodes[i]] += g.runtime[i]
    return int(np.lexsort((np.arange(M), total, -count))[0])


def cpop(problem: Problem, *, convention: str = "paper") -> Plan:
    """Critical-Path-on-a-Processor (Topcuoglu, Hariri & Wu 2002), insertion-based.

    Priority = :func:`upward_rank` + :func:`downward_rank`, and ``|CP|`` the priority of the
    entry task (of a zero-cost pseudo entry before several: their largest). The critical
    path runs from the entry task of priority ``|CP|`` through successors of priority
    ``|CP|`` to an exit task (ties: the earlier in dependency order), and the
    critical-path processor ``p_CP`` is the node minimising the path's total runtime. Then,
    from a ready list (the ready task of highest priority first; ties in dependency order),
    a critical-path task goes to ``p_CP`` and any other to the allowed node where it
    finishes earliest (ties: the lowest index), each inserted into the earliest gap that
    holds it after its inputs arrive and its release time; cumulative nodes use their
    capacity profile.

    Beyond the paper's model: a critical-path task that may not run on ``p_CP`` is placed
    like the others, and when no node may run the whole path, ``p_CP`` is the node that
    may run most of it (then the least runtime of those).

    Parameters
    ----------
    problem : Problem
        A schedule problem.
    convention : {"paper", "saga"}, default "paper"
        ``"saga"`` follows anrg-saga 2.0's ``CpopScheduler``: the ranks of
        ``convention="saga"`` (see :func:`upward_rank`, :func:`downward_rank`), and every
        task whose priority is ``numpy.isclose`` (default tolerances) to ``|CP|`` is
        critical, not one path (with saga's downward rank that is mostly the entry task of
        a graph with one, and no task where saga adds a super source before several). The
        schedule is then saga's on the same instance, up to ties between nodes.

    Returns
    -------
    Plan
        The assignment, and keys in the order the tasks were placed: the decoder rebuilds
        the schedule exactly.

    References
    ----------
    H. Topcuoglu, S. Hariri and M.-Y. Wu, "Performance-effective and low-complexity task
    scheduling for heterogeneous computing", IEEE TPDS 13(3):260-274, 2002.
    """
    order, x, _ = _cpop(problem, _convention_iv(convention, "cpop"))
    return Plan(x, _keys(order))


def _cpop(problem: Problem, convention: str) -> _Built:
    g = _Graph(problem)
    up = g.upward(convention)
    priority = up + g.downward(convention)
    if convention == "paper":
        cp = _critical_path(g, priority)
    else:  # saga: |CP| is its (super) source's priority, the largest rank_u of an entry
        entry = [i for i in range(problem.n_tasks) if not g.pred[i]]
        cp = np.flatnonzero(np.isclose(priority, up[entry].max())).tolist()
    pinned = np.full(problem.n_tasks, -1, np.int64)
    if cp:
        node = _critical_node(g, cp)
        for i in cp:
            if np.any(g.nodes[i] == node):
                pinned[i] = node
    order = g.ready_order(priority)
    return (order, *earliest_finish(problem, order, graph=g, pinned=pinned))


def _oct(g: _Graph) -> np.ndarray:
    problem = g.problem
    N, M = problem.n_tasks, problem.n_nodes
    c = g.mean_transfer("paper")
    table = np.zeros((N, M))
    reach = np.empty((N, M))  # OCT(j, w) + w(j, w); inf where j may not run on w
    best = np.empty(N)  # its minimum over w
    for i in reversed(g.topo):
        row = table[i]
        for s, e in g.succ[i]:
            np.maximum(row, np.minimum(reach[s], best[s] + c[e]), out=row)
        r = reach[i]
        r.fill(np.inf)
        r[g.nodes[i]] = row[g.nodes[i]] + g.runtime[i]
        best[i] = r.min()
    return table


def optimistic_cost_table(problem: Problem) -> np.ndarray:
    """PEFT's optimistic cost table (Arabnejad & Barbosa 2014, eq. 7).

    ``OCT(i, k) = max over successors j of min over nodes w of (OCT(j, w) + w(j, w) +
    c̄_ij [w != k])``, 0 for an exit task: the longest way from task ``i`` placed on node
    ``k`` to an exit task when each later task takes its best node, with ``w(j, w)`` the
    runtime (only the nodes ``j`` may run on count) and ``c̄`` the mean transfer time of
    :func:`upward_rank`.

    Returns
    -------
    ndarray, shape (N, M)

    References
    ----------
    H. Arabnejad and J. G. Barbosa, "List scheduling algorithm for heterogeneous systems by
    an optimistic cost table", IEEE TPDS 25(3):682-694, 2014.
    """
    return _oct(_Graph(problem))


def peft(problem: Problem) -> Plan:
    """Predict Earliest Finish Time (Arabnejad & Barbosa 2014), insertion-based.

    ``rank_oct(i)``, the mean of :func:`optimistic_cost_table` over the nodes task ``i`` may
    run on, orders a ready list (the ready task of highest ``rank_oct`` first; ties in
    dependency order). Each task goes to the allowed node minimising the optimistic EFT,
    ``EFT(i, k) + OCT(i, k)`` (ties: the lowest index), inserted into the earliest gap that
    holds it after its inputs arrive and its release time; cumulative nodes use their
    capacity profile.

    Parameters
    ----------
    problem : Problem
        A schedule problem.

    Returns
    -------
    Plan
        The assignment, and keys in the order the tasks were placed: the decoder rebuilds
        the schedule exactly.

    References
    ----------
    H. Arabnejad and J. G. Barbosa, "List scheduling algorithm for heterogeneous systems by
    an optimistic cost table", IEEE TPDS 25(3):682-694, 2014.
    """
    order, x, _ = _peft(problem)
    return Plan(x, _keys(order))


def _peft(problem: Problem) -> _Built:
    g = _Graph(problem)
    table = _oct(g)
    rank = np.array([float(np.mean(table[i, nodes])) for i, nodes in enumerate(g.nodes)])
    order = g.ready_order(rank)
    return (order, *earliest_finish(problem, order, graph=g, bias=table))


def wspt(problem: Problem) -> Plan:
    """Smith's ratio rule as a list scheduler, for weighted completion times.

    The ready task of largest ``weight / fastest runtime`` (its shortest runtime over the
    nodes it may use; ties: the earlier in dependency order) goes next, to the allowed node
    on which it finishes earliest, inserted into the earliest gap that holds it, with transfer
    times between nodes (the placement rule of :func:`heft`).

    On one machine, ordering by the ratio is optimal for the weighted sum of completion
    times (Smith 1956); on identical parallel machines list scheduling in that order is
    within a factor (1 + sqrt 2) / 2 of it (Kawaguchi & Kyan 1986).

    Parameters
    ----------
    problem : Problem
        A schedule problem.

    Returns
    -------
    Plan
        The assignment, and keys in the order the tasks were placed: the decoder rebuilds
        the schedule exactly.

    References
    ----------
    W. E. Smith, "Various optimizers for single-stage production", Naval Research Logistics
    Quarterly 3:59-66, 1956. T. Kawaguchi and S. Kyan, "Worst case bound of an LRF schedule
    for the mean weighted flow-time problem", SIAM J. Computing 15(4):1119-1129, 1986.
    """
    order, x, _ = _wspt(problem)
    return Plan(x, _keys(order))


def _wspt(problem: Problem) -> _Built:
    g = _Graph(problem)
    fastest = np.array([float(np.min(rt)) for rt in g.runtime])
    weight = problem.weight.astype(np.float64)
    with np.errstate(divide="ignore"):
        ratio = np.where(fastest > 0, weight / np.where(fastest > 0, fastest, 1.0), np.inf)
    order = g.ready_order(ratio)
    return (order, *earliest_finish(problem, order, graph=g))


class _Profile(NodeProfile):
    """The decoder's capacity profile (:class:`gabalance.profile.NodeProfile`) with the same
    answers, found faster: the segment by bisection, the capacity test as plain loops."""

    def segment(self, t: float) -> int:
        return max(0, bisect.bisect_right(self.times, t) - 1)

    def earliest_start(self, ready: float, length: float, need: list, capacity: list) -> float:
        """Earliest t >= ready with usage + need <= capacity on all of [t, t + length)."""
        times, usage = self.times, self.usage
        n = len(times)
        t = ready
        s = self.segment(t)
        if len(need) == 1:
            d, c = need[0], capacity[0]
            while s < n and times[s] < t + length:
                if usage[s][0] + d > c:
                    t = times[s + 1]  # the last segment is empty, so it never fails
                s += 1
            return t
        pairs = list(zip(need, capacity))
        while s < n and times[s] < t + length:
            for u, (d, c) in zip(usage[s], pairs):
                if u + d > c:
                    t = times[s + 1]
                    break
            s += 1
        return t


def earliest_finish(problem: Problem, order: list[int], *, graph: _Graph | None = None,
                     bias: np.ndarray | None = None, pinned: np.ndarray | None = None
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Place tasks in ``order`` (a dependency order), each on its earliest-finishing node
    (ties: the lowest node index), at the earliest start there given the tasks already
    placed (insertion into gaps, the decoder's rule).

    Returns the assignment (N,) int32 and the finish times (N,) of the schedule built.

    ``bias`` (N, M), optional: choose the node minimising ``finish + bias[i, node]`` instead
    (PEFT's optimistic EFT). ``pinned`` (N,) int, optional: a task with ``pinned[i] >= 0``
    goes to that node (CPOP's critical path; the caller pins only to allowed nodes).

    Per task, the ready time on every allowed node (release, predecessors' finish plus
    transfer) and the runtime are computed at once; nodes are then tried in increasing
    ``ready + runtime (+ bias)``, a lower bound on the score there, and the search stops as
    soon as that bound cannot beat the best score found: only those nodes' capacity
    profiles are searched for a start time."""
    g = _Graph(problem) if graph is None else graph
    N = problem.n_tasks
    x = np.full(N, -1, np.int32)
    finish = np.zeros(N)
    capacity = problem.capacity.tolist()
    profiles = [_Profile(problem.n_resources) for _ in range(problem.n_nodes)]
    bw = problem.bandwidth
    scalar_bw = np.ndim(bw) == 0
    data = problem.data.tolist()
    release = problem.release.astype(np.float64).tolist()
    per_node = problem.per_node_demand
    pin = None if pinned is None else pinned.tolist()
    for i in order:
        nodes, lengths = g.nodes[i], g.runtime[i]  # never empty: Problem rejects such tasks
        if pin is not None and pin[i] >= 0:
            keep = np.flatnonzero(nodes == pin[i])
            nodes, lengths = nodes[keep], lengths[keep]
        ready = np.full(len(nodes), release[i])
        for p, e in g.pred[i]:
            done = float(finish[p])
            if data[e] != 0:  # + data / bandwidth where the predecessor ran elsewhere
                arrive = done + data[e] / (bw if scalar_bw else bw[x[p], nodes])
                ready = np.maximum(ready, np.where(nodes != x[p], arrive, done))
            else:
                ready = np.maximum(ready, done)
        bound = ready + lengths
        extra = None if bias is None else bias[i, nodes].astype(np.float64)
        if extra is not None:
            bound = bound + extra
        need = None if per_node else problem.demand[i].tolist()
        bs, bf, bj, bt = math.inf, math.inf, -1, 0.0
        for pos in np.lexsort((nodes, bound)).tolist():
            j = int(nodes[pos])
            lb = float(bound[pos])
            if lb > bs or (lb == bs and j > bj):
                break  # tried in increasing (bound, index): none of the rest can win
            r, length = float(ready[pos]), float(lengths[pos])
            if length == 0:
                t = r
            else:
                t = profiles[j].earliest_start(
                    r, length, problem.demand[i, j].tolist() if need is None else need,
                    capacity[j])
            f = t + length
            score = f if extra is None else f + float(extra[pos])
            if score < bs or (score == bs and j < bj):
                bs, bf, bj, bt = score, f, j, t
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
    "cpop": cpop,
    "peft": peft,
    "wspt": wspt,
    "random": random,
}


def seed_plans(problem: Problem, objective: str, budget_s: float, clock: Any = None
               ) -> list[tuple[str, Plan]]:
    """The baselines' plans for ``objective``, cheapest first, as long as they fit in
    ``budget_s`` seconds: the seeds of the GA's and PSO's first population, and the
    heuristic start of the exact models.

    Parameters
    ----------
    problem : Problem
    objective : str
    budget_s : float
        Seconds (of ``clock.elapsed()`` when a clock with that method is given, so that
        compilation does not count; else of ``time.perf_counter``). A maker starts only
        while the budget is not spent.
    clock : object, optional

    Returns
    -------
    list of (str, Plan)
        The makers' names and plans, in the order they ran: on a schedule objective HEFT,
        CPOP, PEFT, both in anrg-saga's convention, then (weighted completion) WSPT; then
        least-loaded, best-fit and first-fit decreasing, round-robin, least-connections.
    """
    schedule = mode_of(objective) == "schedule"
    makers: list[tuple[str, Any]] = []
    if schedule:  # the list schedulers, each also in the convention of anrg-saga
        makers += [("heft", heft), ("cpop", cpop), ("peft", peft),
                   ("heft_saga", lambda p: heft(p, convention="saga")),
                   ("cpop_saga", lambda p: cpop(p, convention="saga"))]
        if objective == "weighted_completion":
            makers.append(("wspt", wspt))
    makers += [("least_loaded", lambda p: least_loaded(p, objective)),
               ("best_fit_decreasing", best_fit_decreasing),
               ("first_fit_decreasing", first_fit_decreasing),
               ("round_robin", round_robin), ("least_connections", least_connections)]
    plans = []
    now = clock.elapsed if clock is not None else time.perf_counter
    t0 = now()
    for name, make in makers:
        if now() - t0 > budget_s:
            break
        plans.append((name, make(problem)))
    return plans

"""The readable reference backend: NumPy, vectorised over the population where that is clear.

Placement is fully vectorised; the schedule decoder loops over individuals and follows
docs/model.md step by step (a heap of ready tasks, a step profile per node).
"""

from __future__ import annotations

import heapq

import numpy as np

from gabalance.backend import Packed


def _runtime(pk: Packed, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    if pk.has_runtime:
        return pk.runtime[tasks, nodes]
    return pk.duration[tasks] / pk.speed[nodes]


def _demand(pk: Packed, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Demand of each (task, node) pair, shape ``tasks.shape + (K,)``."""
    per_node = pk.demand3.shape[1] > 1
    return pk.demand3[tasks, nodes if per_node else 0]


def _allowed(pk: Packed, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    ok = pk.group_ok[pk.task_group[tasks], nodes]
    if pk.has_runtime:
        ok &= np.isfinite(pk.runtime[tasks, nodes])
    ok &= np.all(_demand(pk, tasks, nodes) <= pk.capacity[nodes], axis=-1)
    return ok


def _in_order(terms: np.ndarray) -> np.ndarray:
    """Row sums (P, n) -> (P,) added left to right, as the kernels add them (``sum`` pairs)."""
    if terms.shape[1] == 0:
        return np.zeros(terms.shape[0], terms.dtype)
    return np.cumsum(terms, axis=1)[:, -1]


def placement(pk: Packed, pop: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray]:
    """Placement objective and violation of every individual; ``pop`` is (P, N) int32."""
    # extreme float data overflow to inf (and inf - inf to nan) silently, as in the kernels
    with np.errstate(over="ignore", invalid="ignore"):
        return _placement(pk, pop, code)


def _placement(pk: Packed, pop: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray]:
    P, N = pop.shape
    M, K = pk.capacity.shape
    tasks = np.broadcast_to(np.arange(N), (P, N))
    # loads L[p, j, k], accumulated in the data's dtype (int64 stays exact)
    load = np.zeros((P, M, K), pk.capacity.dtype)
    rows = np.broadcast_to(np.arange(P)[:, None], (P, N))
    np.add.at(load, (rows, pop), _demand(pk, tasks, pop))

    over = np.maximum(load - pk.capacity, 0)
    safe = np.where(pk.scale > 0, pk.scale, 1.0)
    violation = _in_order(np.where(pk.scale > 0, over / safe, 0.0).reshape(P, -1))
    violation = violation + (~_allowed(pk, tasks, pop)).sum(axis=1)

    if code == 0:  # cost
        if pk.has_cost:
            objective = _in_order(pk.cost[tasks, pop]).astype(np.float64)
        else:
            objective = _in_order(_runtime(pk, tasks, pop))
    elif code == 2:  # nodes_used
        used = np.zeros((P, M), bool)
        used[rows, pop] = True
        objective = used.sum(axis=1).astype(np.float64)
    else:
        positive = pk.capacity > 0
        util = np.where(positive, load / np.where(positive, pk.capacity, 1), 0.0)
        if code == 1:  # max_utilization
            util = np.where(~positive & (load > 0), np.inf, util)
            objective = util.reshape(P, -1).max(axis=1) if M * K else np.zeros(P)
        else:  # imbalance: population std over the pairs with positive capacity, two passes
            values = util[:, positive]
            count = values.shape[1]
            if count:
                mean = _in_order(values) / count
                objective = np.sqrt(_in_order((values - mean[:, None]) ** 2) / count)
            else:
                objective = np.zeros(P)
    return objective.astype(np.float64), violation.astype(np.float64)


class _NodeProfile:
    """Resource usage of one node as a step function: usage[s] holds on [times[s], times[s+1]).

    Plain Python lists: per task the work is a handful of K-vectors, where NumPy's per-call
    overhead would dominate.
    """

    def __init__(self, k: int) -> None:
        self.times: list[float] = [0.0]
        self.usage: list[list] = [[0] * k]

    def _segment(self, t: float) -> int:
        """Index of the segment containing time t (t >= 0)."""
        s = 0
        while s + 1 < len(self.times) and self.times[s + 1] <= t:
            s += 1
        return s

    def earliest_start(self, ready: float, length: float, need: list, capacity: list) -> float:
        """Earliest t >= ready with usage + need <= capacity on all of [t, t + length)."""
        t = ready
        s = self._segment(t)
        while s < len(self.times) and self.times[s] < t + length:
            if any(u + d > c for u, d, c in zip(self.usage[s], need, capacity)):
                t = self.times[s + 1]  # the last segment is empty, so it never fails
            s += 1
        return t

    def _split(self, t: float) -> int:
        """Make t a breakpoint; return its index."""
        s = self._segment(t)
        if self.times[s] == t:
            return s
        self.times.insert(s + 1, t)
        self.usage.insert(s + 1, list(self.usage[s]))
        return s + 1

    def occupy(self, start: float, finish: float, need: list) -> None:
        a = self._split(start)
        b = self._split(finish)
        for s in range(a, b):
            self.usage[s] = [u + d for u, d in zip(self.usage[s], need)]


def decode_one(pk: Packed, x: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Serial schedule generation for one individual: (start (N,), finish (N,), violation)."""
    N = x.shape[0]
    K = pk.capacity.shape[1]
    tasks = np.arange(N)
    # per-task facts for this assignment, as Python lists (the loop below is scalar work)
    allowed = _allowed(pk, tasks, x).tolist()
    length = _runtime(pk, tasks, x).tolist()
    need = _demand(pk, tasks, x).tolist()
    capacity = pk.capacity.tolist()
    node, keys, release = x.tolist(), key.tolist(), pk.release.tolist()
    pred_ptr, pred_src, pred_data = (pk.pred_ptr.tolist(), pk.pred_src.tolist(),
                                     pk.pred_data.tolist())
    succ_ptr, succ_dst = pk.succ_ptr.tolist(), pk.succ_dst.tolist()
    bw = pk.bw.tolist()

    start = [0.0] * N
    finish = [0.0] * N
    violation = 0
    waiting = [pred_ptr[i + 1] - pred_ptr[i] for i in range(N)]  # unscheduled predecessors
    ready = [(keys[i], i) for i in range(N) if waiting[i] == 0]
    heapq.heapify(ready)
    profiles: dict[int, _NodeProfile] = {}
    while ready:
        _, i = heapq.heappop(ready)
        j = node[i]
        r = release[i]
        for e in range(pred_ptr[i], pred_ptr[i + 1]):
            q = pred_src[e]
            transfer = 0.0
            if node[q] != j and pred_data[e] != 0:
                transfer = pred_data[e] / (bw[node[q]][j] if pk.bw_matrix else bw[0][0])
            r = max(r, finish[q] + transfer)
        if not allowed[i]:
            violation += 1
            t = r
        elif length[i] == 0:
            t = r
        else:
            prof = profiles.setdefault(j, _NodeProfile(K))
            t = prof.earliest_start(r, length[i], need[i], capacity[j])
            prof.occupy(t, t + length[i], need[i])
        start[i], finish[i] = t, t + length[i]
        for e in range(succ_ptr[i], succ_ptr[i + 1]):
            s = succ_dst[e]
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, (keys[s], s))
    return np.array(start), np.array(finish), violation


def schedule(pk: Packed, pop: np.ndarray, keys: np.ndarray, code: int, rows: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode every individual; start/finish (len(rows), N) for the individuals in ``rows``."""
    P, N = pop.shape
    objective = np.zeros(P)
    violation = np.zeros(P)
    start = np.zeros((len(rows), N))
    finish = np.zeros((len(rows), N))
    where = {int(p): r for r, p in enumerate(rows)}
    for p in range(P):
        s, f, v = decode_one(pk, pop[p], keys[p])
        violation[p] = v
        if code == 0:
            objective[p] = f.max()
        else:
            total = 0.0
            for i in range(N):
                total += pk.weight[i] * f[i]
            objective[p] = total
        if p in where:
            start[where[p]], finish[where[p]] = s, f
    return objective, violation, start, finish

"""Bottleneck search for the ``max_utilization`` objective on large placements.

The scan engine of :mod:`gabalance.backend._numba` (``_improve_one``) prices every move
against all M nodes and finds the busiest node by a scan of all N tasks, O(N M) per pass:
fine for hundreds of nodes, hours at 100,000 tasks x 10,000 nodes. This engine keeps, per
individual, the node loads, each node's utilization ``u_j = max_k load[j, k] /
capacity[j, k]`` and a linked list of the tasks on every node, and draws destinations from
short candidate lists, so that a move costs O(K (L + H)) for the tasks on one node:

* ``cand`` (N, L): for each task, L of its allowed nodes drawn once per solve;
* ``low`` (G, H): for each label class, its H least utilized allowed nodes, recomputed
  every :data:`REFRESH` moves (and at the start of every phase).

Phases, in the order of the scan engine:

1. **eligibility**: a task on a node it may not use moves to the candidate with the least
   added overload, then the least utilization after the move;
2. **capacity**: ``passes`` sweeps in which tasks on overloaded nodes move to the candidate
   with room and the least utilization after the move; then one sweep of moves that shrink
   the total scaled overload;
3. **bottleneck descent**: the busiest node (a lazy max-heap, ties to the lowest index)
   hands one of its tasks to the candidate whose utilization after the move is lowest, if
   that stays below the busiest node's and within capacity; when no task can go, an
   ejection chain of depth two makes room (a task b on the destination moves on to one of
   its own candidates first; Yagiura, Ibaraki & Glover 2004); it stops when the busiest node
   keeps all its tasks or after ``budget`` moves. Every move lowers the busiest node's
   utilization or keeps it (a tie elsewhere), so the maximum never rises.

A task's candidate nodes are scanned in the order cand[i, :], then ``low[g_i, :]``; the
first strictly best wins. ``tests/naive.py::naive_util_search`` recomputes every quantity
from scratch and makes the same moves.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from gabalance.backend._numba_shared import (
    dynamic_chunks,
    heap_pop,
    heap_push,
    link_task,
    move_task,
    node_util,
    unlink_task,
)

__all__ = ["REFRESH", "UtilRecord", "search_utilization"]

#: moves between two recomputations of the least utilized nodes of each label class
REFRESH = 32
#: a destination must be below the busiest node's utilization by more than this
TOL = 1e-12


class UtilRecord(NamedTuple):
    """What the bottleneck search reads (one record: one numba signature per data variant).

    capacity : (M, K) int64 or float64
    demand3 : (N, Md, K) same dtype; Md is 1 (per task) or M (per node)
    scale : (K,) float64, ``max_j capacity[j, k]`` (0 marks a resource nobody offers)
    group_ok : (G, M) bool, which nodes satisfy label class g
    task_group : (N,) int32, the label class of each task
    gptr : (G + 1,) int64 and gnodes : (nnz,) int64, the nodes of each class (CSR)
    cand : (N, L) int64, candidate nodes per task (allowed nodes; -1 pads)
    has_runtime : bool and runtime : (N, M) float64 (or (1, 1) unused); a task may not run
        where its runtime is infinite
    """

    capacity: np.ndarray
    demand3: np.ndarray
    scale: np.ndarray
    group_ok: np.ndarray
    task_group: np.ndarray
    gptr: np.ndarray
    gnodes: np.ndarray
    cand: np.ndarray
    has_runtime: bool
    runtime: np.ndarray


@numba.njit(inline="always", cache=True, nogil=True)
def _ok(rec, i, j):
    """Task i may run on node j: label class, finite runtime, demand within the empty node."""
    if not rec.group_ok[rec.task_group[i], j]:
        return False
    if rec.has_runtime and not np.isfinite(rec.runtime[i, j]):
        return False
    jj = j if rec.demand3.shape[1] > 1 else 0
    for k in range(rec.capacity.shape[1]):
        if rec.demand3[i, jj, k] > rec.capacity[j, k]:
            return False
    return True


@numba.njit(inline="always", cache=True, nogil=True)
def _over_with(rec, load, j, i, sgn):
    """Scaled overload of node j with task i added (sgn 1), removed (-1) or as is (0)."""
    capacity, demand3, scale = rec.capacity, rec.demand3, rec.scale
    jj = j if demand3.shape[1] > 1 else 0
    total = 0.0
    for k in range(capacity.shape[1]):
        v = load[j, k]
        if sgn != 0:
            v = v + sgn * demand3[i, jj, k]
        o = v - capacity[j, k]
        if o > 0 and scale[k] > 0:
            total += o / scale[k]
    return total


@numba.njit(inline="always", cache=True, nogil=True)
def _fits(rec, load, j, i):
    jj = j if rec.demand3.shape[1] > 1 else 0
    for k in range(rec.capacity.shape[1]):
        if load[j, k] + rec.demand3[i, jj, k] > rec.capacity[j, k]:
            return False
    return True


@numba.njit(inline="always", cache=True, nogil=True)
def _overloaded(rec, load, j):
    for k in range(rec.capacity.shape[1]):
        if load[j, k] > rec.capacity[j, k]:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _refresh_low(rec, util, low):
    """low[g, :] = the H least utilized nodes of class g (ties to the lower index), -1 pads."""
    H = low.shape[1]
    for g in range(low.shape[0]):
        n = 0
        for p in range(rec.gptr[g], rec.gptr[g + 1]):
            j = rec.gnodes[p]
            u = util[j]
            if n == H and u >= util[low[g, H - 1]]:
                continue
            c = n if n < H else H - 1
            while c > 0 and util[low[g, c - 1]] > u:
                if c < H:
                    low[g, c] = low[g, c - 1]
                c -= 1
            low[g, c] = j
            if n < H:
                n += 1
        for c in range(n, H):
            low[g, c] = -1


@numba.njit(inline="always", cache=True, nogil=True)
def _tick(rec, util, low, since):
    """Count one move; every :data:`REFRESH` moves, recompute the low lists. Returns the
    moves since the last recomputation."""
    since += 1
    if since == REFRESH:
        _refresh_low(rec, util, low)
        return 0
    return since


@numba.njit(inline="always", cache=True, nogil=True)
def _candidate(rec, low, i, c):
    """The c-th candidate node of task i: cand[i, c], then low[class of i, c - L]."""
    L = rec.cand.shape[1]
    if c < L:
        return rec.cand[i, c]
    return low[rec.task_group[i], c - L]


@numba.njit(inline="always", cache=True, nogil=True)
def _relink(rec, x, load, util, head, nxt, prv, i, j):
    """Move task i to node j, with the loads, the task lists and the utilizations."""
    src = x[i]
    move_task(load, rec.demand3, x, i, j)
    unlink_task(head, nxt, prv, src, i)
    link_task(head, nxt, prv, j, i)
    util[src] = node_util(load, rec.capacity, rec.demand3, src, 0, 0)
    util[j] = node_util(load, rec.capacity, rec.demand3, j, 0, 0)


@numba.njit(cache=True, nogil=True)
def _chain(rec, x, load, util, head, nxt, low, top):
    """The best ejection chain of depth two out of the busiest node ``top``: a task a on
    top moves to a candidate node j after a task b on j moves to one of its own candidates
    k (k not top, not j); both nodes must stay within capacity and below top's utilization.
    Best = the lowest larger utilization of j and k after the chain (first found on ties).
    Returns (a, j, b, k), all -1 when there is none."""
    ncand = rec.cand.shape[1] + low.shape[1]
    u_top = util[top]
    capacity, demand3 = rec.capacity, rec.demand3
    per = demand3.shape[1] > 1
    K = capacity.shape[1]
    best_a, best_j, best_b, best_k = -1, -1, -1, -1
    b_u = u_top - TOL
    a = head[top]
    while a >= 0:
        for c in range(ncand):
            j = _candidate(rec, low, a, c)
            if j < 0 or j == top or not _ok(rec, a, j):
                continue
            b = head[j]
            while b >= 0:
                # node j without b and with a: within capacity and below top
                fits = True
                u_j = 0.0
                for k in range(K):
                    v = load[j, k] - demand3[b, j if per else 0, k] \
                        + demand3[a, j if per else 0, k]
                    if v > capacity[j, k]:
                        fits = False
                        break
                    if capacity[j, k] > 0:
                        u = v / capacity[j, k]
                        if u > u_j:
                            u_j = u
                if fits and u_j < b_u:
                    for c2 in range(ncand):
                        kk = _candidate(rec, low, b, c2)
                        if kk < 0 or kk == top or kk == j or not _ok(rec, b, kk) \
                                or not _fits(rec, load, kk, b):
                            continue
                        u_k = node_util(load, rec.capacity, rec.demand3, kk, b, 1)
                        worst = u_j if u_j > u_k else u_k
                        if worst < b_u:
                            best_a, best_j, best_b, best_k, b_u = a, j, b, kk, worst
                b = nxt[b]
        a = nxt[a]
    return best_a, best_j, best_b, best_k


@numba.njit(cache=True, nogil=True)
def _balance_one(rec, x, order, passes, budget, low, hk, hi):
    """Phases 1-3 (module docstring) on one individual ``x`` (N,) int32, in place; returns
    the moves made."""
    N = x.shape[0]
    M, K = rec.capacity.shape
    ncand = rec.cand.shape[1] + low.shape[1]
    load = np.zeros((M, K), rec.capacity.dtype)
    per = rec.demand3.shape[1] > 1
    head = np.full(M, -1, np.int64)
    nxt = np.full(N, -1, np.int64)
    prv = np.full(N, -1, np.int64)
    for t in range(N):  # link in reverse order: each list then runs in task order
        i = N - 1 - t
        j = x[i]
        for k in range(K):
            load[j, k] += rec.demand3[i, j if per else 0, k]
        nxt[i] = head[j]
        if head[j] >= 0:
            prv[head[j]] = i
        head[j] = i
    util = np.empty(M)
    for j in range(M):
        util[j] = node_util(load, rec.capacity, rec.demand3, j, 0, 0)
    moves = 0

    # 1. eligibility
    _refresh_low(rec, util, low)
    since = 0
    for t in range(N):
        i = order[t]
        if _ok(rec, i, x[i]):
            continue
        best, b_ov, b_u = -1, np.inf, np.inf
        for c in range(ncand):
            j = _candidate(rec, low, i, c)
            if j < 0 or not _ok(rec, i, j):
                continue
            ov = _over_with(rec, load, j, i, 1) - _over_with(rec, load, j, i, 0)
            u = node_util(load, rec.capacity, rec.demand3, j, i, 1)
            if ov < b_ov or (ov == b_ov and u < b_u):
                best, b_ov, b_u = j, ov, u
        if best >= 0:
            _relink(rec, x, load, util, head, nxt, prv, i, best)
            moves += 1
            since = _tick(rec, util, low, since)

    # 2. capacity: to candidates with room, then moves that shrink the overload
    for _rep in range(passes):
        _refresh_low(rec, util, low)
        since = 0
        moved = False
        for t in range(N):
            i = order[t]
            src = x[i]
            if not _overloaded(rec, load, src):
                continue
            best, b_u = -1, np.inf
            for c in range(ncand):
                j = _candidate(rec, low, i, c)
                if j < 0 or j == src or not _ok(rec, i, j) or not _fits(rec, load, j, i):
                    continue
                u = node_util(load, rec.capacity, rec.demand3, j, i, 1)
                if u < b_u:
                    best, b_u = j, u
            if best >= 0:
                _relink(rec, x, load, util, head, nxt, prv, i, best)
                moves += 1
                moved = True
                since = _tick(rec, util, low, since)
        if not moved:
            break
    _refresh_low(rec, util, low)
    since = 0
    for t in range(N):
        i = order[t]
        src = x[i]
        if not _overloaded(rec, load, src):
            continue
        gain = _over_with(rec, load, src, i, -1) - _over_with(rec, load, src, i, 0)
        best, b_d = -1, 0.0
        for c in range(ncand):
            j = _candidate(rec, low, i, c)
            if j < 0 or j == src or not _ok(rec, i, j):
                continue
            d = gain + _over_with(rec, load, j, i, 1) - _over_with(rec, load, j, i, 0)
            if d < b_d:
                best, b_d = j, d
        if best >= 0:
            _relink(rec, x, load, util, head, nxt, prv, i, best)
            moves += 1
            since = _tick(rec, util, low, since)

    # 3. bottleneck descent (lazy max-heap: keys -util, stale entries skipped)
    _refresh_low(rec, util, low)
    since = 0
    size = 0
    for j in range(M):
        size = heap_push(hk, hi, size, -util[j], j)
    done = 0
    while done < budget and size > 0:
        key = hk[0]
        top, size = heap_pop(hk, hi, size)
        if key != -util[top]:
            continue  # stale
        u_top = util[top]
        best_i, best_j, b_u = -1, -1, u_top - TOL
        i = head[top]
        while i >= 0:
            for c in range(ncand):
                j = _candidate(rec, low, i, c)
                if j < 0 or j == top or not _ok(rec, i, j) or not _fits(rec, load, j, i):
                    continue
                u = node_util(load, rec.capacity, rec.demand3, j, i, 1)
                if u < b_u:
                    best_i, best_j, b_u = i, j, u
            i = nxt[i]
        best_b, best_k = -1, -1
        if best_i < 0:
            best_i, best_j, best_b, best_k = _chain(rec, x, load, util, head, nxt, low, top)
            if best_i < 0:
                break  # the busiest node keeps its tasks: a local optimum of the maximum
            _relink(rec, x, load, util, head, nxt, prv, best_b, best_k)
            moves += 1
            size = heap_push(hk, hi, size, -util[best_k], best_k)
        _relink(rec, x, load, util, head, nxt, prv, best_i, best_j)
        moves += 1
        done += 1
        if size + 3 > hk.shape[0]:  # rebuild the heap from the current utilizations
            size = 0
            for j in range(M):
                size = heap_push(hk, hi, size, -util[j], j)
        else:
            size = heap_push(hk, hi, size, -util[top], top)
            size = heap_push(hk, hi, size, -util[best_j], best_j)
        since = _tick(rec, util, low, since)
    return moves


@numba.njit(parallel=True, cache=True, nogil=True)
def _balance_kernel(rec, pop, orders, passes, budget, H, moves):
    M = rec.capacity.shape[0]
    G = rec.group_ok.shape[0]
    for p in numba.prange(pop.shape[0]):
        low = np.empty((G, H), np.int64)
        hk = np.empty(2 * M + 2)
        hi = np.empty(2 * M + 2, np.int64)
        moves[p] = _balance_one(rec, pop[p], orders[p], passes, budget, low, hk, hi)


def search_utilization(rec: UtilRecord, pop: np.ndarray, orders: np.ndarray, passes: int,
                       budget: int, low: int = 8) -> np.ndarray:
    """Repair and improve every individual of ``pop`` (P, N) int32 in place for the
    ``max_utilization`` objective; returns the moves made (P,) int64.

    ``orders`` (P, N) int64: each individual's task visiting order; ``passes``: capacity
    repair sweeps; ``budget``: bottleneck moves at most; ``low``: H, the least utilized
    nodes per label class added to every task's candidates.
    """
    if pop.dtype != np.int32 or not pop.flags.c_contiguous or not pop.flags.writeable:
        raise ValueError("search_utilization: pop must be a writable C-ordered int32 array")
    moves = np.zeros(pop.shape[0], np.int64)
    orders = np.ascontiguousarray(orders, np.int64)
    with dynamic_chunks(pop.shape[0]):
        _balance_kernel(rec, pop, orders, int(passes), int(budget), int(low), moves)
    return moves

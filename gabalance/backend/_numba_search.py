"""Incremental local search for the ``cost`` objective (GAP and its multi-resource kin).

One individual per thread; per individual, the search keeps its node loads, the scaled
overload of every node and its cost, so a move is priced from cached quantities in O(K),
never by re-summing (Yagiura, Ibaraki & Glover 2004, "An ejection chain approach for the
generalized assignment problem", INFORMS J. Computing 16(2); 2006, "A path relinking approach
with ejection chains for the generalized assignment problem", EJOR 169(2)).

The search descends on the penalised cost

    F(x) = sum_i score[i, x_i] + sum_j w_j * over_j(x),
    over_j = sum_k max(0, load[j, k] - capacity[j, k]) / scale[k]

over three neighbourhoods, each restricted by candidate lists (every task's best ``L``
allowed nodes, ordered by LP reduced cost when the LP relaxation is known, else by cost):

* **shift**: task i moves to a node of its candidate list;
* **swap**: task a moves to a candidate node j and a task b on j moves to a's node;
* **ejection chain** of depth two: task a moves to a candidate node j, a task b on j
  moves to one of its own candidate nodes (neither a's old node nor j).

When no move lowers F (a local optimum of F), the node weights ``w`` adapt: up by a factor
on overloaded nodes, down on the others when the whole solution is feasible (strategic
oscillation), so the search crosses infeasible ground. The best feasible solution seen (by
cost), else the least overloaded one, is what the individual becomes. The budget is explicit:
``rounds`` local-optimum rounds per individual, each at most ``passes`` sweeps.

Everything the kernels read comes in one record argument (:class:`CostRecord`), normalised
once, so each kernel compiles for one signature per data variant (int64 or float64 loads).
``tests/naive.py`` holds a loop-per-individual oracle that recomputes every quantity from
scratch; the two make the same moves.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from gabalance.backend._numba_shared import dynamic_chunks, link_task, move_task, unlink_task

__all__ = ["CostRecord", "search_cost"]


class CostRecord(NamedTuple):
    """What the cost search reads (one record: one numba signature per data variant).

    capacity : (M, K) int64 or float64
    demand3 : (N, Md, K) same dtype; Md is 1 (per task) or M (per node)
    scale : (K,) float64, ``max_j capacity[j, k]`` (0 marks a resource nobody offers)
    score : (N, M) float64, the signed cost (``-cost`` to maximise)
    cand : (N, L) int64 candidate nodes per task, best first, padded with -1
    allowed : (N, M) bool eligibility table
    """

    capacity: np.ndarray
    demand3: np.ndarray
    scale: np.ndarray
    score: np.ndarray
    cand: np.ndarray
    allowed: np.ndarray


#: a move must lower F by more than this (relative to 1 + the mean |score| per task)
TOL = 1e-9
#: weight factors at a local optimum: overloaded nodes up, all nodes down when feasible
UP = 2.0
DOWN = 0.7


@numba.njit(inline="always", cache=True, nogil=True)
def _over_of(load, capacity, scale, j):
    total = 0.0
    for k in range(capacity.shape[1]):
        o = load[j, k] - capacity[j, k]
        if o > 0 and scale[k] > 0:
            total += o / scale[k]
    return total


@numba.njit(inline="always", cache=True, nogil=True)
def _over_change(load, capacity, scale, demand3, j, out, into):
    """over_j after task ``out`` (or -1) leaves node j and task ``into`` (or -1) arrives."""
    jj = j if demand3.shape[1] > 1 else 0
    total = 0.0
    for k in range(capacity.shape[1]):
        v = load[j, k]
        if out >= 0:
            v = v - demand3[out, jj, k]
        if into >= 0:
            v = v + demand3[into, jj, k]
        o = v - capacity[j, k]
        if o > 0 and scale[k] > 0:
            total += o / scale[k]
    return total


@numba.njit(inline="always", cache=True, nogil=True)
def _shift(rec, x, load, over, nbad, i, j):
    """Move task i to node j, updating loads, overloads and the overloaded-node count."""
    capacity, demand3, scale = rec.capacity, rec.demand3, rec.scale
    s = x[i]
    move_task(load, demand3, x, i, j)
    for side in range(2):
        n = s if side == 0 else j
        was = over[n] > 0
        over[n] = _over_of(load, capacity, scale, n)
        bad = False
        for k in range(capacity.shape[1]):
            if load[n, k] > capacity[n, k]:
                bad = True
        if bad and not was:
            nbad += 1
        elif was and not bad:
            nbad -= 1
        if not bad:
            over[n] = 0.0
    return nbad


@numba.njit(cache=True, nogil=True)
def _state(rec, x, load, over):
    """Loads and overloads from scratch; returns the number of overloaded nodes."""
    capacity, demand3, scale = rec.capacity, rec.demand3, rec.scale
    per = demand3.shape[1] > 1
    load[:, :] = 0
    for i in range(x.shape[0]):
        for k in range(capacity.shape[1]):
            load[x[i], k] += demand3[i, x[i] if per else 0, k]
    nbad = 0
    for j in range(capacity.shape[0]):
        bad = False
        for k in range(capacity.shape[1]):
            if load[j, k] > capacity[j, k]:
                bad = True
        over[j] = _over_of(load, capacity, scale, j) if bad else 0.0
        if bad:
            nbad += 1
    return nbad


@numba.njit(cache=True, nogil=True)
def _best_move(rec, x, load, over, w, head, nxt, i, wide, deep, tol):
    """The best move of task i: (delta, b, dest). b = -1: shift i to dest; dest = -1: swap i
    with b; else chain: i to b's node, b to dest. (inf, -1, -1) when nothing lowers F by
    more than ``tol``. Ties: shift before swap before chain, earlier candidates first, then
    the order of the node's task list."""
    capacity, demand3, scale, score, cand, allowed = (rec.capacity, rec.demand3, rec.scale,
                                                      rec.score, rec.cand, rec.allowed)
    L = cand.shape[1]
    s = x[i]
    base = score[i, s]
    rel = w[s] * (_over_change(load, capacity, scale, demand3, s, i, -1) - over[s])
    bd = -tol
    bb = -1
    bk = -1
    for q in range(L):  # shift
        j = cand[i, q]
        if j < 0:
            break
        if j == s:
            continue
        d = (score[i, j] - base) + rel + w[j] * (
            _over_change(load, capacity, scale, demand3, j, -1, i) - over[j])
        if d < bd:
            bd, bb, bk = d, -1, j
    for q in range(min(L, wide)):  # swap and chain: i -> j, b (on j) -> s or k
        j = cand[i, q]
        if j < 0:
            break
        if j == s:
            continue
        move_i = score[i, j] - base
        b = head[j]
        while b >= 0:
            base_b = score[b, j]
            pen_j = w[j] * (_over_change(load, capacity, scale, demand3, j, b, i) - over[j])
            if allowed[b, s]:
                d = move_i + (score[b, s] - base_b) + pen_j + w[s] * (
                    _over_change(load, capacity, scale, demand3, s, i, b) - over[s])
                if d < bd:
                    bd, bb, bk = d, b, -1
            for r in range(min(L, deep)):
                k = cand[b, r]
                if k < 0:
                    break
                if k == s or k == j:
                    continue
                d = move_i + (score[b, k] - base_b) + pen_j + rel + w[k] * (
                    _over_change(load, capacity, scale, demand3, k, -1, b) - over[k])
                if d < bd:
                    bd, bb, bk = d, b, k
            b = nxt[b]
    if bb < 0 and bk < 0:
        return np.inf, -1, -1
    return bd, bb, bk


@numba.njit(inline="always", cache=True, nogil=True)
def _wake(head, nxt, dirty, j):
    """Mark every task on node j for another look."""
    b = head[j]
    while b >= 0:
        dirty[b] = True
        b = nxt[b]


@numba.njit(cache=True, nogil=True)
def _search_one(rec, x, order, w0, unit, rounds, passes, wide, deep, best_x):
    """Search from ``x`` (N,) int32; ``best_x`` receives the result. Returns moves made.

    Each sweep visits the tasks in ``order`` that are marked for a look (don't-look bits,
    Bentley 1992): a task whose best move (:func:`_best_move`) lowers F makes it and wakes
    the tasks on the nodes it touched; one that has none is left alone until a move or a
    weight change touches its node. A round ends when a sweep makes no move or after
    ``passes`` sweeps; then the weights adapt."""
    N = x.shape[0]
    M = rec.capacity.shape[0]
    score, cand, allowed = rec.score, rec.cand, rec.allowed
    load = np.zeros(rec.capacity.shape, rec.capacity.dtype)
    over = np.zeros(M)
    # eligibility first: a task on a node it may not use goes to its first candidate
    for i in range(N):
        if not allowed[i, x[i]] and cand[i, 0] >= 0:
            x[i] = cand[i, 0]
    nbad = _state(rec, x, load, over)
    # a doubly linked list of the tasks on each node (swap and chain partners)
    head = np.full(M, -1, np.int64)
    nxt = np.full(N, -1, np.int64)
    prv = np.full(N, -1, np.int64)
    for i in range(N - 1, -1, -1):
        link_task(head, nxt, prv, x[i], i)
    dirty = np.ones(N, np.bool_)
    w = np.full(M, w0)
    floor = 0.01 * unit
    cost = 0.0
    for i in range(N):
        cost += score[i, x[i]]
    tol = TOL * (1.0 + abs(cost) / max(N, 1))
    best_x[:] = x
    best_cost = cost
    best_viol = 0.0
    for j in range(M):
        best_viol += over[j]
    best_feasible = nbad == 0
    moves = 0
    for _r in range(rounds):
        for _p in range(passes):
            improved = False
            for t in range(N):
                i = order[t]
                if not dirty[i]:
                    continue
                _, b, k = _best_move(rec, x, load, over, w, head, nxt, i, wide, deep, tol)
                if b < 0 and k < 0:
                    dirty[i] = False
                    continue
                s = x[i]
                if b < 0:  # shift i -> k
                    cost += score[i, k] - score[i, s]
                    unlink_task(head, nxt, prv, s, i)
                    nbad = _shift(rec, x, load, over, nbad, i, k)
                    link_task(head, nxt, prv, k, i)
                    _wake(head, nxt, dirty, s)
                    _wake(head, nxt, dirty, k)
                else:  # b leaves j (for s, or for k), i takes its place
                    j = x[b]
                    dest = s if k < 0 else k
                    cost += (score[i, j] - score[i, s]) + (score[b, dest] - score[b, j])
                    unlink_task(head, nxt, prv, j, b)
                    nbad = _shift(rec, x, load, over, nbad, b, dest)
                    link_task(head, nxt, prv, dest, b)
                    unlink_task(head, nxt, prv, s, i)
                    nbad = _shift(rec, x, load, over, nbad, i, j)
                    link_task(head, nxt, prv, j, i)
                    _wake(head, nxt, dirty, s)
                    _wake(head, nxt, dirty, j)
                    _wake(head, nxt, dirty, dest)
                improved = True
                moves += 1
                if nbad == 0 and (not best_feasible or cost < best_cost):
                    best_x[:] = x
                    best_cost, best_viol, best_feasible = cost, 0.0, True
            if not best_feasible:
                viol = 0.0
                for j in range(M):
                    viol += over[j]
                if viol < best_viol or (viol == best_viol and cost < best_cost):
                    best_x[:] = x
                    best_cost, best_viol = cost, viol
            if not improved:
                break
        # a local optimum of F: adapt the weights (strategic oscillation) and wake the tasks
        # on the nodes whose weight changed
        if nbad > 0:
            for j in range(M):
                if over[j] > 0:
                    w[j] = max(w[j], floor) * UP
                    _wake(head, nxt, dirty, j)
        else:
            for j in range(M):
                if w[j] > floor:
                    w[j] = max(floor, w[j] * DOWN)
                    _wake(head, nxt, dirty, j)
    return moves


@numba.njit(parallel=True, cache=True, nogil=True)
def _search_kernel(rec, pop, orders, w0, unit, rounds, passes, wide, deep, moves):
    for p in numba.prange(pop.shape[0]):
        best = np.empty_like(pop[p])
        moves[p] = _search_one(rec, pop[p], orders[p], w0[p], unit, rounds, passes, wide, deep,
                               best)
        pop[p, :] = best


def search_cost(rec: CostRecord, pop: np.ndarray, orders: np.ndarray, w0: np.ndarray,
                unit: float, rounds: int, passes: int, wide: int = 8, deep: int = 4
                ) -> np.ndarray:
    """Improve every individual of ``pop`` (P, N) int32 in place; returns moves (P,) int64.

    ``orders`` (P, N) int64: each individual's task visiting order; ``w0`` (P,) float64: its
    starting penalty weight; ``unit``: the penalty scale (weights never fall below
    ``0.01 * unit``); ``rounds``: local optima (weight updates) per individual; ``passes``:
    sweeps at most per round; ``wide`` / ``deep``: candidates scanned by swaps and chains
    (see :func:`_search_one`).
    """
    moves = np.zeros(pop.shape[0], np.int64)
    if pop.dtype != np.int32 or not pop.flags.c_contiguous or not pop.flags.writeable:
        raise ValueError("search_cost: pop must be a writable C-ordered int32 array")
    orders = np.ascontiguousarray(orders, np.int64)
    with dynamic_chunks(pop.shape[0]):
        _search_kernel(rec, pop, orders, np.ascontiguousarray(w0, np.float64), float(unit),
                       int(rounds), int(passes), int(wide), int(deep), moves)
    return moves

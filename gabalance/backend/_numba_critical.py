"""Critical-path local search for the schedule objectives (``makespan``,
``weighted_completion``).

One individual per thread. A round decodes the genome (assignment ``x`` and priority keys,
DESIGN §1), picks a target task (the last to finish for ``makespan``; for
``weighted_completion`` the task with the largest weighted delay ``w_i (F_i - head_i)`` over
its lower bound ``head_i`` (release plus the fastest path into it, plus its fastest runtime),
drawn among the heaviest by the individual's random stream), and walks its **critical
chain** back from it: a task that started at its ready time is held by the predecessor whose
finish plus transfer set that time (or by its release, which ends the chain); a task that
started later waited for capacity and is held by the task on its node that finished last at
or before its start. Only the tasks on that chain can shorten it (the classic
critical-path neighbourhood of job-shop and DAG scheduling: van Laarhoven, Aarts & Lenstra
1992, "Job shop scheduling by simulated annealing", Oper. Res. 40(1); Kwok & Ahmad 1999,
"Static scheduling algorithms for allocating directed task graphs to multiprocessors",
ACM Comput. Surv. 31(4)). Two moves are tried on it, each decoded in full and kept at the
first improvement (feasibility first, as everywhere):

* **move**: a chain task to another allowed node (nodes in the order of the task's runtime
  there, fastest first);
* **swap priority**: where the chain runs through a capacity wait (task ``i`` waited for
  ``q`` on its node), ``i`` and ``q`` exchange keys, so ``i`` is decoded first.

The chain tasks are tried in an order drawn from the individual's stream; a round ends at the
first improvement or when the chain is exhausted (a local optimum of this neighbourhood, which
ends the search). Each individual spends at most ``budget`` decodes.

The decode order of the serial schedule generation depends on the keys and the graph only,
so a move of task ``c`` leaves every task decoded before ``c`` where it was: the re-decode
starts at ``c``'s position, from the node profiles rebuilt from the kept tasks' own start
times (no search for a start time, which is what a decode mostly spends).

``tests/naive.py::critical_search`` is the loop-per-individual oracle (full decodes through
the reference decoder, the same stream); the two make the same moves.
"""

from __future__ import annotations

import numba
import numpy as np

from gabalance.backend import Packed
from gabalance.backend._numba import (
    as_readonly,
    kernel_packed,
    may_run,
    occupy_at,
    push_sources,
    ready_time,
    runtime_of,
)
from gabalance.backend._numba_shared import dynamic_chunks, heap_pop, heap_push

__all__ = ["critical_search", "decode_order", "heads"]


@numba.njit(inline="always", cache=True, nogil=True)
def _next(state):
    """xorshift64* step: (new state, a uniform integer in [0, 2**31))."""
    s = state
    s ^= (s >> np.uint64(12))
    s ^= (s << np.uint64(25))
    s ^= (s >> np.uint64(27))
    out = (s * np.uint64(2685821657736338717)) >> np.uint64(33)
    return s, np.int64(out)


@numba.njit(cache=True, nogil=True)
def _order(key, pred_ptr, succ_ptr, succ_dst, order):
    """The serial decode order (smallest ready key first, ties: lower index) into ``order``;
    returns nothing. Depends on the keys and the graph only."""
    N = key.shape[0]
    waiting = np.empty(N, np.int64)
    hk = np.empty(N)
    hi = np.empty(N, np.int64)
    size = push_sources(key, pred_ptr, waiting, hk, hi)
    n = 0
    while size > 0:
        i, size = heap_pop(hk, hi, size)
        order[n] = i
        n += 1
        for e in range(succ_ptr[i], succ_ptr[i + 1]):
            s2 = succ_dst[e]
            waiting[s2] -= 1
            if waiting[s2] == 0:
                size = heap_push(hk, hi, size, key[s2], s2)


@numba.njit(cache=True, nogil=True)
def _place(x, order, first, capacity, demand3, has_runtime, runtime, duration, speed,
           group_ok, task_group, release, pred_ptr, pred_src, pred_data, bw_matrix, bw,
           start, finish, times, usage, base, nbreak):
    """Serial schedule generation along ``order``: the tasks before position ``first`` keep
    their ``start``/``finish`` and only occupy their nodes; the rest are placed at their
    earliest feasible start. Returns the violation (tasks on nodes where they may not run)."""
    N = x.shape[0]
    M, K = capacity.shape
    per_node = demand3.shape[1] > 1
    count = np.zeros(M, np.int64)
    for i in range(N):
        count[x[i]] += 1
    total = 0
    for j in range(M):
        base[j] = total
        nbreak[j] = 1
        times[total] = 0.0
        for k in range(K):
            usage[total, k] = 0
        total += 2 * count[j] + 1
    violation = 0
    for n in range(N):
        i = order[n]
        j = x[i]
        jj = j if per_node else 0
        length = runtime_of(has_runtime, runtime, duration, speed, i, j)
        if n < first:
            t = start[i]
            if not may_run(capacity, demand3, has_runtime, runtime, group_ok, task_group,
                            i, j):
                violation += 1
                continue
        else:
            t = ready_time(x, i, j, release, pred_ptr, pred_src, pred_data, bw_matrix, bw, finish)
            if not may_run(capacity, demand3, has_runtime, runtime, group_ok, task_group,
                            i, j):
                violation += 1
                start[i] = t
                finish[i] = t + length
                continue
        if length != 0:
            t, nbreak[j] = occupy_at(times, usage, base[j], nbreak[j], t, length, demand3, i, jj,
                                   capacity, j, n >= first)
        start[i] = t
        finish[i] = t + length
    return violation


@numba.njit(inline="always", cache=True, nogil=True)
def _value(code, weight, finish):
    N = finish.shape[0]
    if code == 0:
        best = finish[0]
        for i in range(1, N):
            if finish[i] > best:
                best = finish[i]
        return best
    total = 0.0
    for i in range(N):
        total += weight[i] * finish[i]
    return total


@numba.njit(inline="always", cache=True, nogil=True)
def _better(code, v2, o2, t2, viol, obj, tie):
    """Feasibility first, then the objective; for ``makespan`` equal makespans are told
    apart by the sum of finish times (a plateau move that frees the chain's nodes earlier)."""
    if v2 != viol:
        return v2 < viol
    if o2 != obj:
        return o2 < obj
    return code == 0 and t2 < tie


@numba.njit(inline="always", cache=True, nogil=True)
def _total(finish):
    total = 0.0
    for i in range(finish.shape[0]):
        total += finish[i]
    return total


@numba.njit(cache=True, nogil=True)
def _target(code, weight, head, finish, state):
    """The chain's last task: the latest to finish (makespan; ties: lower index) or one of
    the four tasks of largest weighted delay, drawn (weighted_completion)."""
    N = finish.shape[0]
    if code == 0:
        e = 0
        for i in range(1, N):
            if finish[i] > finish[e]:
                e = i
        return e, state
    top = np.full(4, -1, np.int64)
    val = np.full(4, -1.0)
    for i in range(N):
        d = weight[i] * (finish[i] - head[i])
        if top[3] < 0 or d > val[3]:
            p = 3
            while p > 0 and (d > val[p - 1] or top[p - 1] < 0):
                val[p] = val[p - 1]
                top[p] = top[p - 1]
                p -= 1
            val[p] = d
            top[p] = i
    n = 0
    while n < 4 and top[n] >= 0 and val[n] > 0:
        n += 1
    if n == 0:
        return top[0], state
    state, r = _next(state)
    return top[r % n], state


@numba.njit(cache=True, nogil=True)
def _chain(x, e, start, finish, release, pred_ptr, pred_src, pred_data, bw_matrix, bw,
           has_runtime, runtime, duration, speed, chain, waited):
    """Walk the critical chain back from task e into ``chain`` (latest first); ``waited[n]``
    is the task chain[n] waited for on its node (-1 when it started at its ready time).
    Returns the chain's length."""
    N = x.shape[0]
    n = 0
    i = e
    while i >= 0 and n < N:
        chain[n] = i
        waited[n] = -1
        j = x[i]
        r = ready_time(x, i, j, release, pred_ptr, pred_src, pred_data, bw_matrix, bw, finish)
        nxt = -1
        if start[i] > r:  # waited for capacity: the task on j that finished last by then
            best = -1.0
            for q in range(N):
                if q != i and x[q] == j and finish[q] <= start[i] and finish[q] > best \
                        and finish[q] > start[q]:
                    best = finish[q]
                    nxt = q
            waited[n] = nxt
        elif r > release[i]:
            for ee in range(pred_ptr[i], pred_ptr[i + 1]):
                q = pred_src[ee]
                tr = 0.0
                if x[q] != j and pred_data[ee] != 0:
                    tr = pred_data[ee] / (bw[x[q], j] if bw_matrix else bw[0, 0])
                if finish[q] + tr == r:
                    nxt = q
                    break
        n += 1
        i = nxt
    return n


@numba.njit(cache=True, nogil=True)
def _try(x, order, first, code, weight, obj, viol, tie, capacity, demand3, has_runtime,
         runtime, duration, speed, group_ok, task_group, release, pred_ptr, pred_src,
         pred_data, bw_matrix, bw, start, finish, s2, f2, times, usage, base, nbreak):
    """Re-decode the genome from position ``first`` on into ``s2``/``f2``; when it is better
    (:func:`_better`), take it into ``start``/``finish``. Returns (taken, objective,
    violation, sum of finish times) of the genome kept."""
    s2[:] = start
    f2[:] = finish
    v2 = _place(x, order, first, capacity, demand3, has_runtime, runtime, duration, speed,
                group_ok, task_group, release, pred_ptr, pred_src, pred_data, bw_matrix, bw,
                s2, f2, times, usage, base, nbreak)
    o2 = _value(code, weight, f2)
    t2 = _total(f2)
    if _better(code, v2, o2, t2, viol, obj, tie):
        start[:] = s2
        finish[:] = f2
        return True, o2, v2, t2
    return False, obj, viol, tie


@numba.njit(cache=True, nogil=True)
def _search_one(x, key, code, budget, width, state, head, rank_nodes, capacity, demand3,
                has_runtime, runtime, duration, speed, group_ok, task_group, weight, release,
                pred_ptr, pred_src, pred_data, succ_ptr, succ_dst, bw_matrix, bw):
    """Critical-path search on one genome (``x``, ``key`` changed in place); returns
    (objective, violation, decodes used)."""
    N = x.shape[0]
    M, K = capacity.shape
    order = np.empty(N, np.int64)
    pos = np.empty(N, np.int64)
    start = np.zeros(N)
    finish = np.zeros(N)
    s2 = np.zeros(N)
    f2 = np.zeros(N)
    total = 2 * N + M
    times = np.zeros(total)
    usage = np.zeros((total, K), capacity.dtype)
    base = np.zeros(M, np.int64)
    nbreak = np.ones(M, np.int64)
    chain = np.empty(N, np.int64)
    waited = np.empty(N, np.int64)
    pick = np.empty(2 * N, np.int64)
    L = rank_nodes.shape[1]
    est = np.empty(L)
    cand = np.empty(L, np.int64)
    _order(key, pred_ptr, succ_ptr, succ_dst, order)
    for n in range(N):
        pos[order[n]] = n
    viol = _place(x, order, 0, capacity, demand3, has_runtime, runtime, duration, speed,
                  group_ok, task_group, release, pred_ptr, pred_src, pred_data, bw_matrix,
                  bw, start, finish, times, usage, base, nbreak)
    obj = _value(code, weight, finish)
    tie = _total(finish)
    used = 1
    while used < budget:
        e, state = _target(code, weight, head, finish, state)
        n_chain = _chain(x, e, start, finish, release, pred_ptr, pred_src, pred_data,
                         bw_matrix, bw, has_runtime, runtime, duration, speed, chain, waited)
        # candidate moves: 2 per chain entry (node moves, then the priority swap), shuffled
        n_pick = 0
        for c in range(n_chain):
            pick[n_pick] = 2 * c
            n_pick += 1
            if waited[c] >= 0:
                pick[n_pick] = 2 * c + 1
                n_pick += 1
        for a in range(n_pick - 1, 0, -1):
            state, r = _next(state)
            b = r % (a + 1)
            tmp = pick[a]
            pick[a] = pick[b]
            pick[b] = tmp
        improved = False
        for a in range(n_pick):
            if used >= budget or improved:
                break
            c = pick[a] // 2
            i = chain[c]
            if pick[a] % 2 == 1:  # swap priorities with the task it waited for
                q = waited[c]
                ki = key[i]
                key[i] = key[q]
                key[q] = ki
                _order(key, pred_ptr, succ_ptr, succ_dst, order)
                first = 0  # tasks before the first change of the order keep their times
                while first < N and pos[order[first]] == first:
                    first += 1
                used += 1
                ok, obj, viol, tie = _try(x, order, first, code, weight, obj, viol, tie,
                                          capacity, demand3, has_runtime, runtime, duration,
                                          speed, group_ok, task_group, release, pred_ptr,
                                          pred_src, pred_data, bw_matrix, bw, start, finish,
                                          s2, f2, times, usage, base, nbreak)
                if ok:
                    for n in range(N):
                        pos[order[n]] = n
                    improved = True
                else:
                    key[q] = key[i]
                    key[i] = ki
                    for n in range(N):
                        order[pos[n]] = n
                continue
            # the allowed nodes by ready time + runtime there, the ``width`` best tried
            n_est = 0
            for t in range(L):
                j = rank_nodes[i, t]
                if j < 0:
                    break
                if j == x[i]:
                    continue
                est[n_est] = ready_time(x, i, j, release, pred_ptr, pred_src, pred_data,
                                    bw_matrix, bw, finish) + \
                    runtime_of(has_runtime, runtime, duration, speed, i, j)
                cand[n_est] = j
                n_est += 1
            old = x[i]
            for t in range(min(width, n_est)):
                if used >= budget:
                    break
                b = t  # selection: the t-th best (ties: earlier in rank_nodes)
                for u in range(t + 1, n_est):
                    if est[u] < est[b]:
                        b = u
                tmp_e = est[t]
                est[t] = est[b]
                est[b] = tmp_e
                tmp = cand[t]
                cand[t] = cand[b]
                cand[b] = tmp
                x[i] = cand[t]
                used += 1
                ok, obj, viol, tie = _try(x, order, pos[i], code, weight, obj, viol, tie,
                                          capacity, demand3, has_runtime, runtime, duration,
                                          speed, group_ok, task_group, release, pred_ptr,
                                          pred_src, pred_data, bw_matrix, bw, start, finish,
                                          s2, f2, times, usage, base, nbreak)
                if ok:
                    improved = True
                    break
                x[i] = old
        if not improved:
            break
    return obj, viol, used


@numba.njit(parallel=True, cache=True, nogil=True)
def _kernel(pop, keys, code, budget, width, seeds, head, rank_nodes, capacity, demand3, has_runtime,
            runtime, duration, speed, group_ok, task_group, weight, release, pred_ptr,
            pred_src, pred_data, succ_ptr, succ_dst, bw_matrix, bw, out_obj, out_viol,
            out_used):
    P = pop.shape[0]
    for p in numba.prange(P):
        o, v, u = _search_one(pop[p], keys[p], code, budget, width, seeds[p], head, rank_nodes,
                              capacity, demand3, has_runtime, runtime, duration, speed,
                              group_ok, task_group, weight, release, pred_ptr, pred_src,
                              pred_data, succ_ptr, succ_dst, bw_matrix, bw)
        out_obj[p] = o
        out_viol[p] = v
        out_used[p] = u


def heads(pk: Packed) -> np.ndarray:
    """Each task's earliest possible finish, (N,) float64: release, the longest path of
    fastest runtimes into it (transfers taken as zero) and its own fastest runtime."""
    N = pk.duration.shape[0]
    fastest = np.empty(N)
    if pk.has_runtime:
        fastest[:] = np.min(pk.runtime, axis=1)
    else:
        fastest[:] = pk.duration / float(np.max(pk.speed))
    order = np.empty(N, np.int64)
    _order(np.zeros(N), pk.pred_ptr, pk.succ_ptr, pk.succ_dst, order)
    head = np.zeros(N)
    for i in order.tolist():
        r = float(pk.release[i])
        for e in range(pk.pred_ptr[i], pk.pred_ptr[i + 1]):
            r = max(r, head[pk.pred_src[e]])
        head[i] = r + fastest[i]
    return head


def decode_order(pk: Packed, key: np.ndarray) -> np.ndarray:
    """The serial decode order of one key vector (N,) → (N,) int64 task indices."""
    pk = kernel_packed(pk)
    order = np.empty(key.shape[0], np.int64)
    _order(np.ascontiguousarray(key, np.float64), pk.pred_ptr, pk.succ_ptr, pk.succ_dst, order)
    return order


def critical_search(pk: Packed, pop: np.ndarray, keys: np.ndarray, code: int, budget: int,
                    width: int, seeds: np.ndarray, head: np.ndarray, rank_nodes: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Critical-path search on every individual, in place.

    Parameters
    ----------
    pk : Packed
    pop : (P, N) int32, writable; keys : (P, N) float64, writable
        Genomes; both are changed in place to the improved ones.
    code : int
        0 ``makespan``, 1 ``weighted_completion``.
    budget : int
        Decodes per individual (at least 1: the first decode of the genome as it is).
    width : int
        Nodes tried per chain task: its allowed nodes other than its own, by ready time
        plus runtime there (the earliest first), the ``width`` best.
    seeds : (P,) uint64
        Each individual's random stream (nonzero).
    head : (N,) float64
        :func:`heads` of the problem.
    rank_nodes : (N, L) int64
        Each task's allowed nodes to try, best first, padded with -1.

    Returns
    -------
    objective, violation : (P,) float64
    used : (P,) int64, decodes spent per individual
    """
    pk = kernel_packed(pk)
    if pop.dtype != np.int32 or not pop.flags.c_contiguous or not pop.flags.writeable:
        raise ValueError("critical_search: pop must be a writable C-contiguous int32 array")
    if keys.dtype != np.float64 or not keys.flags.c_contiguous or not keys.flags.writeable:
        raise ValueError("critical_search: keys must be a writable C-contiguous float64 array")
    P = pop.shape[0]
    obj = np.empty(P)
    viol = np.empty(P)
    used = np.empty(P, np.int64)
    with dynamic_chunks(P):
        _kernel(pop, keys, int(code), int(budget), int(width), as_readonly(seeds, np.uint64),
                as_readonly(head, np.float64), as_readonly(rank_nodes, np.int64), pk.capacity,
                pk.demand3, pk.has_runtime, pk.runtime, pk.duration, pk.speed, pk.group_ok,
                pk.task_group, pk.weight, pk.release, pk.pred_ptr, pk.pred_src, pk.pred_data,
                pk.succ_ptr, pk.succ_dst, pk.bw_matrix, pk.bw, obj, viol, used)
    return obj, viol, used

"""The Numba backend: one parallel loop over the population, one plain loop per individual.

Each kernel mirrors the NumPy reference (``_numpy.py``) step for step so the two agree
exactly on integer data; compiled once per dtype combination and cached on disk.
"""

from __future__ import annotations

import numba
import numpy as np

from gabalance.backend import Packed, score_matrix, transposed
from gabalance.backend._numba_devices import devices  # noqa: F401  (the backend's entry)
from gabalance.backend._numba_shared import (
    dynamic_chunks,
    heap_pop,
    heap_push,
    move_task,
    node_util,
)


def as_readonly(a: np.ndarray, dtype: type | np.dtype) -> np.ndarray:
    """``a`` as a C-contiguous, read-only ``dtype`` array (``a`` itself, or a view of it, when
    it already is C-contiguous ``dtype``): numba compiles a kernel once per argument type,
    and dtype, layout and writability are all part of the type."""
    a = np.ascontiguousarray(a, dtype)
    if a.flags.writeable:
        a = a.view()  # never changes the flags of an array the caller holds
        a.setflags(write=False)
    return a


def as_writable(a: np.ndarray, dtype: type | np.dtype) -> np.ndarray:
    """``a`` as a C-contiguous, writable ``dtype`` array (``a`` itself when it is one)."""
    a = np.ascontiguousarray(a, dtype)
    return a if a.flags.writeable else a.copy()


def kernel_packed(pk: Packed) -> Packed:
    """``pk`` as the kernels take it: every array C-contiguous and read-only with one dtype
    per role, the flags Python ``bool`` and ``elig_mode`` an ``int`` (checked once per object,
    cached on it). :func:`~gabalance.backend.pack` already makes them so; this also covers
    objects made with ``dataclasses.replace`` (the reversed problem, tests), so each kernel
    compiles once per data variant."""
    return pk.memo("kernel_packed", lambda: _kernel_ready(pk))


def _kernel_ready(pk: Packed) -> Packed:
    data = np.int64 if pk.capacity.dtype.kind in "iub" else np.float64
    cost = np.int64 if pk.has_cost and pk.cost.dtype.kind in "iub" else np.float64
    dtypes = {"capacity": data, "demand3": data, "scale": np.float64, "runtime": np.float64,
              "duration": np.float64, "speed": np.float64, "cost": cost,
              "group_ok": np.bool_, "task_group": np.int32, "allowed": np.bool_,
              "weight": np.float64, "release": np.float64, "pred_ptr": np.int64,
              "pred_src": np.int64, "pred_data": np.float64, "succ_ptr": np.int64,
              "succ_dst": np.int64, "bw": np.float64}
    changes: dict[str, object] = {}
    for name, dtype in dtypes.items():
        a = getattr(pk, name)
        b = as_readonly(a, dtype)
        if b is not a:
            changes[name] = b
    for name, kind in (("has_runtime", bool), ("has_cost", bool), ("bw_matrix", bool),
                       ("elig_mode", int)):
        v = getattr(pk, name)
        if type(v) is not kind:
            changes[name] = kind(v)
    if changes:
        import dataclasses

        ready = dataclasses.replace(pk, **changes)  # type: ignore[arg-type]
        ready.memos["kernel_packed"] = ready
        return ready
    return pk


@numba.njit(inline="always", cache=True, nogil=True)
def runtime_of(has_runtime, runtime, duration, speed, i, j):
    if has_runtime:
        return runtime[i, j]
    return duration[i] / speed[j]


@numba.njit(inline="always", cache=True, nogil=True)
def may_run(capacity, demand3, has_runtime, runtime, group_ok, task_group, i, j):
    if not group_ok[task_group[i], j]:
        return False
    if has_runtime and not np.isfinite(runtime[i, j]):
        return False
    jj = j if demand3.shape[1] > 1 else 0
    for k in range(capacity.shape[1]):
        if demand3[i, jj, k] > capacity[j, k]:
            return False
    return True


# --------------------------------------------------------------------------- placement


@numba.njit(parallel=True, cache=True, nogil=True)
def _placement_kernel(pop, capacity, demand2, demand3, per_node, scale, has_runtime, runtime,
                      duration, speed, has_cost, cost, elig_mode, allowed, group_ok, task_group,
                      code, out_obj, out_viol):
    """One individual per iteration, a few tight loops over its tasks.

    ``demand2`` is ``demand3`` (N, Md, K) viewed as (N, Md * K). ``elig_mode``: 0 = every
    task is allowed on every node (nothing to count), 1 = look up the dense ``allowed``
    (N, M) table, 2 = work eligibility out per task.
    """
    P, N = pop.shape
    M, K = capacity.shape
    for p in numba.prange(P):
        x = pop[p]
        load = np.zeros(M * K, capacity.dtype)
        # node indices are cast to unsigned so no negative-index wraparound is emitted
        fused_cost = False  # GAP's hot case: cost summed in the same pass as the loads
        total = cost[0, 0] * 0  # the cost's dtype: int64 sums stay exact
        if K == 1:
            if per_node and code == 0 and has_cost:
                fused_cost = True
                for i in range(N):
                    j = numba.uint32(x[i])
                    load[j] += demand2[i, j]
                    total += cost[i, j]
            elif per_node:
                for i in range(N):
                    j = numba.uint32(x[i])
                    load[j] += demand2[i, j]
            else:
                for i in range(N):
                    load[numba.uint32(x[i])] += demand2[i, 0]
        else:
            for i in range(N):
                j = x[i]
                src = j * K if per_node else 0
                for k in range(K):
                    load[numba.uintp(j * K + k)] += demand2[i, numba.uintp(src + k)]
        bad = 0
        if elig_mode == 1:
            for i in range(N):
                if not allowed[i, numba.uint32(x[i])]:
                    bad += 1
        elif elig_mode == 2:
            for i in range(N):
                if not may_run(capacity, demand3, has_runtime, runtime, group_ok, task_group,
                                i, x[i]):
                    bad += 1
        viol = 0.0
        for j in range(M):
            for k in range(K):
                over = load[j * K + k] - capacity[j, k]
                if over > 0 and scale[k] > 0:
                    viol += over / scale[k]
        out_viol[p] = viol + bad
        if code == 0:
            if has_cost:
                if not fused_cost:
                    for i in range(N):
                        total += cost[i, numba.uint32(x[i])]
                out_obj[p] = total
            else:
                acc = 0.0
                for i in range(N):
                    acc += runtime_of(has_runtime, runtime, duration, speed, i, x[i])
                out_obj[p] = acc
        elif code == 2:
            used = np.zeros(M, np.bool_)
            for i in range(N):
                used[numba.uint32(x[i])] = True
            count = 0
            for j in range(M):
                if used[j]:
                    count += 1
            out_obj[p] = count
        elif code == 1:
            best = 0.0
            for j in range(M):
                for k in range(K):
                    if capacity[j, k] > 0:
                        u = load[j * K + k] / capacity[j, k]
                    elif load[j * K + k] > 0:
                        u = np.inf
                    else:
                        u = 0.0
                    if u > best:
                        best = u
            out_obj[p] = best
        else:
            total_u = 0.0
            count = 0
            for j in range(M):
                for k in range(K):
                    if capacity[j, k] > 0:
                        total_u += load[j * K + k] / capacity[j, k]
                        count += 1
            if count == 0:
                out_obj[p] = 0.0
            else:
                mean = total_u / count
                sq = 0.0
                for j in range(M):
                    for k in range(K):
                        if capacity[j, k] > 0:
                            dev = load[j * K + k] / capacity[j, k] - mean
                            sq += dev * dev
                out_obj[p] = np.sqrt(sq / count)


#: below this magnitude every integer, and every sum or difference of two of them, is exact in
#: float64 (2**53 with a factor 2 to spare for the bound's own rounding)
_EXACT = float(2**52)


def _placement_data(pk: Packed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(capacity, demand3, cost) for :func:`_placement_kernel`, all of one dtype when that
    changes no result, so the kernel compiles once per data variant (cached on ``pk``).

    ``pack`` keeps integer capacity and demand (summed exactly) and the cost's own dtype; when
    they differ, the integer side is handed over as float64, but only when every load, cost
    sum and capacity difference the kernel forms stays below 2**52 in magnitude: then each
    is an integer computed exactly in float64 too, so the objective and violation are the
    same to the last bit. The (1, 1) placeholder without cost takes the data's dtype."""
    return pk.memo("placement_data", lambda: _placement_arrays(pk))


def _placement_arrays(pk: Packed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    cap, d3, cost = pk.capacity, pk.demand3, pk.cost
    if not pk.has_cost:
        cost = as_readonly(np.zeros((1, 1), cap.dtype), cap.dtype)
    elif cost.dtype != cap.dtype:
        if cost.dtype.kind in "iu":
            bound = float(np.abs(cost.astype(np.float64)).max(axis=1, initial=0).sum())
            if bound < _EXACT:
                cost = as_readonly(cost, np.float64)
        elif cap.dtype.kind in "iu":
            loads = np.abs(d3.astype(np.float64)).max(axis=1).sum(axis=0)
            bound = float(loads.max(initial=0)) + float(np.abs(cap).max(initial=0))
            if bound < _EXACT:
                cap, d3 = as_readonly(cap, np.float64), as_readonly(d3, np.float64)
    return cap, d3, cost


def placement(pk: Packed, pop: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray]:
    """Placement objective and violation of every individual; ``pop`` is (P, N) int32
    (other integer dtypes and layouts are converted, so the kernel keeps one signature)."""
    pk = kernel_packed(pk)
    capacity, demand3, cost = _placement_data(pk)
    pop = as_readonly(pop, np.int32)
    P = pop.shape[0]
    obj = np.empty(P)
    viol = np.empty(P)
    N, Md, K = demand3.shape
    demand2 = demand3.reshape(N, Md * K)
    with dynamic_chunks(P):
        _placement_kernel(pop, capacity, demand2, demand3, Md > 1, pk.scale, pk.has_runtime,
                          pk.runtime, pk.duration, pk.speed, pk.has_cost, cost, pk.elig_mode,
                          pk.allowed, pk.group_ok, pk.task_group, int(code), obj, viol)
    return obj, viol


# --------------------------------------------------------------------------- schedule


@numba.njit(cache=True, nogil=True)
def _segment(times, base, n, t):
    """Index (relative to base) of the profile segment containing t."""
    s = 0
    while s + 1 < n and times[base + s + 1] <= t:
        s += 1
    return s


@numba.njit(cache=True, nogil=True)
def _split(times, usage, base, n, t):
    """Make t a breakpoint of the profile at base (n breakpoints); return (index, new n)."""
    s = _segment(times, base, n, t)
    if times[base + s] == t:
        return s, n
    for q in range(n, s + 1, -1):  # shift segments s+1.. one place right
        times[base + q] = times[base + q - 1]
        usage[base + q, :] = usage[base + q - 1, :]
    times[base + s + 1] = t
    usage[base + s + 1, :] = usage[base + s, :]
    return s + 1, n + 1


@numba.njit(inline="always", cache=True, nogil=True)
def occupy_at(times, usage, b, n, t, length, demand3, i, jj, capacity, j, search):
    """Task i (runtime ``length`` > 0) on node j, whose step profile starts at ``b`` with
    ``n`` breakpoints: with ``search``, its earliest start at or after ``t`` with room in
    every resource for the whole run (candidates: ``t`` and the profile's breakpoints), else
    ``t`` as given; the profile then holds its demand over the run. Returns (start, new n)."""
    K = capacity.shape[1]
    if search:
        s = _segment(times, b, n, t)
        while s < n and times[b + s] < t + length:
            for k in range(K):
                if usage[b + s, k] + demand3[i, jj, k] > capacity[j, k]:
                    t = times[b + s + 1]
                    break
            s += 1
    a, n = _split(times, usage, b, n, t)
    z, n = _split(times, usage, b, n, t + length)
    for s in range(a, z):
        for k in range(K):
            usage[b + s, k] += demand3[i, jj, k]
    return t, n


@numba.njit(inline="always", cache=True, nogil=True)
def push_sources(key, pred_ptr, waiting, hk, hi):
    """The decode's start: ``waiting[i]`` = predecessors of task i, and the tasks without
    any pushed on the heap (``hk``, ``hi``) by key. Returns the heap's size."""
    size = 0
    for i in range(key.shape[0]):
        waiting[i] = pred_ptr[i + 1] - pred_ptr[i]
        if waiting[i] == 0:
            size = heap_push(hk, hi, size, key[i], i)
    return size


@numba.njit(inline="always", cache=True, nogil=True)
def ready_time(x, i, j, release, pred_ptr, pred_src, pred_data, bw_matrix, bw, finish):
    """Ready time of task i on node j given its predecessors' finish times."""
    r = release[i]
    for e in range(pred_ptr[i], pred_ptr[i + 1]):
        q = pred_src[e]
        tr = 0.0
        if x[q] != j and pred_data[e] != 0:
            tr = pred_data[e] / (bw[x[q], j] if bw_matrix else bw[0, 0])
        if finish[q] + tr > r:
            r = finish[q] + tr
    return r


@numba.njit(cache=True, nogil=True)
def _decode(x, key, capacity, demand3, has_runtime, runtime, duration, speed, group_ok,
            task_group, release, pred_ptr, pred_src, pred_data, succ_ptr, succ_dst, bw_matrix,
            bw, start, finish):
    """Serial schedule generation for one individual; fills start/finish, returns violation."""
    N = x.shape[0]
    M, K = capacity.shape
    per_node = demand3.shape[1] > 1
    # per-node step profiles in one pool: node j owns slots base[j] .. base[j] + 2 n_j
    base = np.zeros(M, np.int64)
    nbreak = np.ones(M, np.int64)
    count = np.zeros(M, np.int64)
    for i in range(N):
        count[x[i]] += 1
    total = 0
    for j in range(M):
        base[j] = total
        total += 2 * count[j] + 1
    times = np.zeros(total)
    usage = np.zeros((total, K), capacity.dtype)
    waiting = np.empty(N, np.int64)
    hk = np.empty(N)
    hi = np.empty(N, np.int64)
    size = push_sources(key, pred_ptr, waiting, hk, hi)
    violation = 0
    while size > 0:
        i, size = heap_pop(hk, hi, size)
        j = x[i]
        jj = j if per_node else 0
        length = runtime_of(has_runtime, runtime, duration, speed, i, j)
        t = ready_time(x, i, j, release, pred_ptr, pred_src, pred_data, bw_matrix, bw, finish)
        if not may_run(capacity, demand3, has_runtime, runtime, group_ok, task_group, i, j):
            violation += 1
        elif length != 0:
            t, nbreak[j] = occupy_at(times, usage, base[j], nbreak[j], t, length, demand3, i, jj,
                                   capacity, j, True)
        start[i] = t
        finish[i] = t + length
        for e in range(succ_ptr[i], succ_ptr[i + 1]):
            s2 = succ_dst[e]
            waiting[s2] -= 1
            if waiting[s2] == 0:
                size = heap_push(hk, hi, size, key[s2], s2)
    return violation


@numba.njit(parallel=True, cache=True, nogil=True)
def _schedule_kernel(pop, keys, capacity, demand3, has_runtime, runtime, duration, speed,
                     group_ok, task_group, weight, release, pred_ptr, pred_src, pred_data,
                     succ_ptr, succ_dst, bw_matrix, bw, code, row_of, out_obj, out_viol,
                     out_start, out_finish):
    P, N = pop.shape
    for p in numba.prange(P):
        start = np.zeros(N)
        finish = np.zeros(N)
        v = _decode(pop[p], keys[p], capacity, demand3, has_runtime, runtime, duration, speed,
                    group_ok, task_group, release, pred_ptr, pred_src, pred_data, succ_ptr,
                    succ_dst, bw_matrix, bw, start, finish)
        out_viol[p] = v
        if code == 0:
            best = finish[0]
            for i in range(1, N):
                if finish[i] > best:
                    best = finish[i]
            out_obj[p] = best
        else:
            total = 0.0
            for i in range(N):
                total += weight[i] * finish[i]
            out_obj[p] = total
        r = row_of[p]
        if r >= 0:
            out_start[r, :] = start
            out_finish[r, :] = finish


def schedule(pk: Packed, pop: np.ndarray, keys: np.ndarray, code: int, rows: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode every individual; start/finish (len(rows), N) for the individuals in ``rows``.
    ``pop`` (P, N) is taken as int32 and ``keys`` (P, N) as float64 (converted when they are
    not, so the kernel keeps one signature; the decoder compares keys as float64 anyway)."""
    pk = kernel_packed(pk)
    pop = as_readonly(pop, np.int32)
    keys = as_readonly(keys, np.float64)
    P, N = pop.shape
    obj = np.empty(P)
    viol = np.empty(P)
    row_of = np.full(P, -1, np.int64)
    row_of[rows] = np.arange(len(rows))
    start = np.zeros((len(rows), N))
    finish = np.zeros((len(rows), N))
    with dynamic_chunks(P):
        _schedule_kernel(pop, keys, pk.capacity, pk.demand3, pk.has_runtime, pk.runtime,
                         pk.duration, pk.speed, pk.group_ok, pk.task_group, pk.weight,
                         pk.release, pk.pred_ptr, pk.pred_src, pk.pred_data, pk.succ_ptr,
                         pk.succ_dst, pk.bw_matrix, pk.bw, int(code), row_of, obj, viol, start,
                         finish)
    return obj, viol, start, finish


# --------------------------------------------------------------------------- repair and search
# Mirrors ``_numpy.improve_placement`` move for move (same candidates, same order, same ties:
# the lowest node index, then the earliest task in ``order``), so the two agree exactly.


@numba.njit(inline="always", cache=True, nogil=True)
def _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime, group_ok, task_group, i, j):
    if elig_mode == 0:
        return True
    if elig_mode == 1:
        return allowed[i, j]
    return may_run(capacity, demand3, has_runtime, runtime, group_ok, task_group, i, j)


@numba.njit(inline="always", cache=True, nogil=True)
def _score(has_score, score, duration, speed, sign, i, j):
    """The signed cost of task i on node j: ``score`` when given, else duration / speed."""
    if has_score:
        return score[i, j]
    return sign * (duration[i] / speed[j])


@numba.njit(inline="always", cache=True, nogil=True)
def _fits(load, capacity, demand3, i, j):
    jj = j if demand3.shape[1] > 1 else 0
    for k in range(capacity.shape[1]):
        if load[j, k] + demand3[i, jj, k] > capacity[j, k]:
            return False
    return True


@numba.njit(inline="always", cache=True, nogil=True)
def _swap_fits(load, capacity, demand3, a, ja, b, jb):
    """Whether swapping a (on ja) and b (on jb) keeps both nodes within capacity."""
    per = demand3.shape[1] > 1
    for k in range(capacity.shape[1]):
        if load[ja, k] - demand3[a, ja if per else 0, k] + demand3[b, ja if per else 0, k] \
                > capacity[ja, k]:
            return False
        if load[jb, k] - demand3[b, jb if per else 0, k] + demand3[a, jb if per else 0, k] \
                > capacity[jb, k]:
            return False
    return True


@numba.njit(inline="always", cache=True, nogil=True)
def _over(load, capacity, j):
    for k in range(capacity.shape[1]):
        if load[j, k] > capacity[j, k]:
            return True
    return False


@numba.njit(inline="always", cache=True, nogil=True)
def _overflow(load, capacity, scale, j, extra, demand3, i, sgn):
    """Scaled overload of node j after adding (sgn=1) or removing (sgn=-1) task i's demand."""
    per = demand3.shape[1] > 1
    total = 0.0
    for k in range(capacity.shape[1]):
        v = load[j, k]
        if extra:
            v = v + sgn * demand3[i, j if per else 0, k]
        over = v - capacity[j, k]
        if over > 0 and scale[k] > 0:
            total += over / scale[k]
    return total


@numba.njit(cache=True, nogil=True)
def _improve_one(x, order, capacity, demand3, demand_t, scale, has_runtime, runtime, duration,
                 speed, has_score, score, score_t, elig_mode, allowed, group_ok, task_group, code,
                 sign, passes, weight):
    N = x.shape[0]
    M, K = capacity.shape
    per = demand3.shape[1] > 1
    load = np.zeros((M, K), capacity.dtype)
    for i in range(N):
        for k in range(K):
            load[x[i], k] += demand3[i, x[i] if per else 0, k]
    # 1. eligibility: a task on a node it may not use goes to the allowed node with the least
    #    added overload, then the best score (cost) or the lowest utilization after the move
    for t in range(N):
        i = order[t]
        if _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime, group_ok, task_group,
               i, x[i]):
            continue
        best = -1
        b_over = np.inf
        b_sc = np.inf
        for j in range(M):
            if not _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime, group_ok,
                       task_group, i, j):
                continue
            ov = _overflow(load, capacity, scale, j, True, demand3, i, 1) \
                - _overflow(load, capacity, scale, j, False, demand3, i, 0)
            if code == 0:
                sc = _score(has_score, score, duration, speed, sign, i, j)
            else:
                sc = node_util(load, capacity, demand3, j, i, 1)
            if ov < b_over or (ov == b_over and sc < b_sc):
                best, b_over, b_sc = j, ov, sc
        if best >= 0:
            move_task(load, demand3, x, i, best)
    if weight > 0:
        _penalized(x, order, load, capacity, demand3, scale, duration, speed, has_score, score,
                   elig_mode, allowed, has_runtime, runtime, group_ok, task_group, sign, weight,
                   passes)
    # 2. capacity: tasks leave overloaded nodes for allowed nodes with room (best score first),
    #    then, where nothing has room, for the node that reduces the total overload most
    for _rep in range(passes):
        moved = False
        for t in range(N):
            i = order[t]
            src = x[i]
            if not _over(load, capacity, src):
                continue
            best = -1
            b_sc = np.inf
            for j in range(M):
                if j == src or not _ok(elig_mode, allowed, capacity, demand3, has_runtime,
                                       runtime, group_ok, task_group, i, j):
                    continue
                if not _fits(load, capacity, demand3, i, j):
                    continue
                if code == 0:
                    sc = _score(has_score, score, duration, speed, sign, i, j)
                else:
                    sc = node_util(load, capacity, demand3, j, i, 1)
                if sc < b_sc:
                    best, b_sc = j, sc
            if best >= 0:
                move_task(load, demand3, x, i, best)
                moved = True
        if not moved:
            break
    for t in range(N):
        i = order[t]
        src = x[i]
        if not _over(load, capacity, src):
            continue
        gain_src = _overflow(load, capacity, scale, src, True, demand3, i, -1) \
            - _overflow(load, capacity, scale, src, False, demand3, i, 0)
        best = -1
        b_d = 0.0
        for j in range(M):
            if j == src or not _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime,
                                   group_ok, task_group, i, j):
                continue
            d = gain_src + _overflow(load, capacity, scale, j, True, demand3, i, 1) \
                - _overflow(load, capacity, scale, j, False, demand3, i, 0)
            if d < b_d:
                best, b_d = j, d
        if best >= 0:
            move_task(load, demand3, x, i, best)
    # 3. local improvement that never adds overload
    if code == 0:
        for _it in range(passes):
            improved = False
            for t in range(N):  # shift: the best node with room
                i = order[t]
                src = x[i]
                best = -1
                b_sc = _score(has_score, score, duration, speed, sign, i, src)
                for j in range(M):
                    if j == src or not _ok(elig_mode, allowed, capacity, demand3, has_runtime,
                                           runtime, group_ok, task_group, i, j):
                        continue
                    sc = _score(has_score, score, duration, speed, sign, i, j)
                    if sc < b_sc and _fits(load, capacity, demand3, i, j):
                        best, b_sc = j, sc
                if best >= 0:
                    move_task(load, demand3, x, i, best)
                    improved = True
            if _swaps(x, order, load, capacity, demand3, demand_t, duration, speed, has_score,
                      score, score_t, elig_mode, allowed, has_runtime, runtime, group_ok,
                      task_group, sign):
                improved = True
            if _chains(x, order, load, capacity, demand3, has_runtime, runtime, duration, speed,
                       has_score, score, elig_mode, allowed, group_ok, task_group, sign):
                improved = True
            if not improved:
                break
    elif code == 1:
        for _it in range(passes * N):
            top = 0
            u_top = node_util(load, capacity, demand3, 0, 0, 0)
            for j in range(1, M):
                u = node_util(load, capacity, demand3, j, 0, 0)
                if u > u_top:
                    top, u_top = j, u
            found = False
            for t in range(N):
                i = order[t]
                if x[i] != top:
                    continue
                u_src = node_util(load, capacity, demand3, top, i, -1)
                best = -1
                b_u = u_top
                for j in range(M):
                    if j == top or not _ok(elig_mode, allowed, capacity, demand3, has_runtime,
                                           runtime, group_ok, task_group, i, j):
                        continue
                    u = node_util(load, capacity, demand3, j, i, 1)
                    if u < b_u and u_src < u_top and _fits(load, capacity, demand3, i, j):
                        best, b_u = j, u
                if best >= 0:
                    move_task(load, demand3, x, i, best)
                    found = True
                    break
            if not found:
                break
    elif code == 2:
        count = np.zeros(M, np.int64)
        for i in range(N):
            count[x[i]] += 1
        for _it in range(passes):
            improved = False
            for src in np.argsort(count, kind="mergesort"):
                if count[src] == 0:
                    continue
                saved = x.copy()
                saved_load = load.copy()
                ok = True
                for t in range(N):
                    i = order[t]
                    if x[i] != src:
                        continue
                    dest = -1
                    for j in range(M):
                        if j != src and count[j] > 0 and _ok(
                                elig_mode, allowed, capacity, demand3, has_runtime, runtime,
                                group_ok, task_group, i, j) and _fits(load, capacity, demand3,
                                                                      i, j):
                            dest = j
                            break
                    if dest < 0:
                        ok = False
                        break
                    move_task(load, demand3, x, i, dest)
                if ok:
                    for i in range(N):
                        if saved[i] == src:
                            count[x[i]] += 1
                    count[src] = 0
                    improved = True
                else:
                    x[:] = saved
                    load[:, :] = saved_load
            if not improved:
                break
    else:
        _improve_imbalance(x, order, load, capacity, demand3, elig_mode, allowed, has_runtime,
                           runtime, group_ok, task_group, passes)


@numba.njit(cache=True, nogil=True)
def _swaps(x, order, load, capacity, demand3, demand_t, duration, speed, has_score, score,
           score_t, elig_mode, allowed, has_runtime, runtime, group_ok, task_group, sign):
    """Swap moves: each task a (in ``order``) exchanges nodes with the partner b (scanned by
    index; the lowest index among equals) that lowers the score most while both nodes keep
    within capacity. ``score_t`` / ``demand_t`` are node-major copies so the scan over b
    reads memory in order. Returns whether a swap was made."""
    N = x.shape[0]
    K = capacity.shape[1]
    per = demand3.shape[1] > 1
    cur = np.empty(N)
    for b in range(N):
        cur[b] = _score(has_score, score, duration, speed, sign, b, x[b])
    swapped = False
    for ta in range(N):
        a = order[ta]
        ja = x[a]
        ca = cur[a]
        best = -1
        b_d = 0.0
        for b in range(N):
            jb = x[b]
            if jb == ja:
                continue
            if has_score:
                d = (score[a, jb] + score_t[ja, b]) - (ca + cur[b])
            else:
                d = (sign * (duration[a] / speed[jb]) + sign * (duration[b] / speed[ja])) \
                    - (ca + cur[b])
            if d < b_d:
                fit = True
                for k in range(K):
                    if per:
                        da_a, da_b = demand3[a, ja, k], demand_t[ja, b, k]
                        db_b, db_a = demand_t[jb, b, k], demand3[a, jb, k]
                    else:
                        da_a, da_b = demand3[a, 0, k], demand3[b, 0, k]
                        db_b, db_a = demand3[b, 0, k], demand3[a, 0, k]
                    if load[ja, k] - da_a + da_b > capacity[ja, k] \
                            or load[jb, k] - db_b + db_a > capacity[jb, k]:
                        fit = False
                        break
                if fit and _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime,
                               group_ok, task_group, a, jb) \
                        and _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime,
                                group_ok, task_group, b, ja):
                    best, b_d = b, d
        if best >= 0:
            jb = x[best]
            move_task(load, demand3, x, a, jb)
            move_task(load, demand3, x, best, ja)
            cur[a] = _score(has_score, score, duration, speed, sign, a, jb)
            cur[best] = _score(has_score, score, duration, speed, sign, best, ja)
            swapped = True
    return swapped


@numba.njit(cache=True, nogil=True)
def _penalized(x, order, load, capacity, demand3, scale, duration, speed, has_score, score,
               elig_mode, allowed, has_runtime, runtime, group_ok, task_group, sign, weight,
               passes):
    """Shift and swap descent on score + weight * scaled overload (strategic oscillation,
    cf. Yagiura, Ibaraki & Glover 2004): crosses infeasible ground that the feasible moves
    cannot, before capacity repair."""
    N = x.shape[0]
    M = capacity.shape[0]
    for _it in range(passes):
        improved = False
        for t in range(N):
            i = order[t]
            src = x[i]
            base = _score(has_score, score, duration, speed, sign, i, src)
            rel = _overflow(load, capacity, scale, src, True, demand3, i, -1) \
                - _overflow(load, capacity, scale, src, False, demand3, i, 0)
            best = -1
            b_d = 0.0
            for j in range(M):
                if j == src or not _ok(elig_mode, allowed, capacity, demand3, has_runtime,
                                       runtime, group_ok, task_group, i, j):
                    continue
                d = (_score(has_score, score, duration, speed, sign, i, j) - base) + weight * (
                    rel + _overflow(load, capacity, scale, j, True, demand3, i, 1)
                    - _overflow(load, capacity, scale, j, False, demand3, i, 0))
                if d < b_d:
                    best, b_d = j, d
            if best >= 0:
                move_task(load, demand3, x, i, best)
                improved = True
        for t in range(N):  # swaps, partners by index
            a = order[t]
            ja = x[a]
            ca = _score(has_score, score, duration, speed, sign, a, ja)
            old_a = _overflow(load, capacity, scale, ja, False, demand3, a, 0)
            best = -1
            b_d = 0.0
            for b in range(N):
                jb = x[b]
                if jb == ja:
                    continue
                d = (_score(has_score, score, duration, speed, sign, a, jb)
                     + _score(has_score, score, duration, speed, sign, b, ja)) \
                    - (ca + _score(has_score, score, duration, speed, sign, b, jb))
                pen = (_swapped_overflow(load, capacity, scale, demand3, ja, a, b) - old_a) \
                    + (_swapped_overflow(load, capacity, scale, demand3, jb, b, a)
                       - _overflow(load, capacity, scale, jb, False, demand3, b, 0))
                d = d + weight * pen
                if d < b_d and _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime,
                                   group_ok, task_group, a, jb) \
                        and _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime,
                                group_ok, task_group, b, ja):
                    best, b_d = b, d
            if best >= 0:
                jb = x[best]
                move_task(load, demand3, x, a, jb)
                move_task(load, demand3, x, best, ja)
                improved = True
        if not improved:
            break


@numba.njit(inline="always", cache=True, nogil=True)
def _swapped_overflow(load, capacity, scale, demand3, j, out, into):
    """Scaled overload of node j after task ``out`` leaves it and task ``into`` arrives."""
    per = demand3.shape[1] > 1
    total = 0.0
    for k in range(capacity.shape[1]):
        over = load[j, k] - demand3[out, j if per else 0, k] + demand3[into, j if per else 0, k] \
            - capacity[j, k]
        if over > 0 and scale[k] > 0:
            total += over / scale[k]
    return total


@numba.njit(cache=True, nogil=True)
def _alternatives(x, load, capacity, demand3, has_runtime, runtime, duration, speed, has_score,
                  score, elig_mode, allowed, group_ok, task_group, sign, alt_node, alt_sc,
                  alt_delta):
    """For every task, the best other allowed node with room now and the score change."""
    for b in range(x.shape[0]):
        _alternative(b, x, load, capacity, demand3, has_runtime, runtime, duration, speed,
                     has_score, score, elig_mode, allowed, group_ok, task_group, sign, alt_node,
                     alt_sc, alt_delta)


@numba.njit(cache=True, nogil=True)
def _alternative(b, x, load, capacity, demand3, has_runtime, runtime, duration, speed, has_score,
                 score, elig_mode, allowed, group_ok, task_group, sign, alt_node, alt_sc,
                 alt_delta):
    cur = _score(has_score, score, duration, speed, sign, b, x[b])
    best = -1
    b_sc = np.inf
    for j in range(capacity.shape[0]):
        if j == x[b] or not _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime,
                                group_ok, task_group, b, j):
            continue
        sc = _score(has_score, score, duration, speed, sign, b, j)
        if sc < b_sc and _fits(load, capacity, demand3, b, j):
            best, b_sc = j, sc
    alt_node[b] = best
    alt_sc[b] = b_sc
    alt_delta[b] = b_sc - cur if best >= 0 else np.inf


@numba.njit(cache=True, nogil=True)
def _chains(x, order, load, capacity, demand3, has_runtime, runtime, duration, speed, has_score,
            score, elig_mode, allowed, group_ok, task_group, sign):
    """Ejection chains of length two (cf. Yagiura, Ibaraki & Glover 2004): task a moves to
    the node j of task b, and b leaves j for its best other node with room. Returns whether
    a chain was applied."""
    N = x.shape[0]
    per = demand3.shape[1] > 1
    K = capacity.shape[1]
    alt_node = np.empty(N, np.int64)
    alt_delta = np.empty(N)
    alt_sc = np.empty(N)
    _alternatives(x, load, capacity, demand3, has_runtime, runtime, duration, speed, has_score,
                  score, elig_mode, allowed, group_ok, task_group, sign, alt_node, alt_sc,
                  alt_delta)
    applied = False
    for ta in range(N):
        a = order[ta]
        src = x[a]
        ca = _score(has_score, score, duration, speed, sign, a, src)
        best = -1
        b_g = 0.0
        for b in range(N):  # partners by index: the lowest index among equals
            j = x[b]
            if j == src or alt_node[b] < 0:
                continue
            g = (_score(has_score, score, duration, speed, sign, a, j) - ca) \
                + alt_delta[b]
            if g < b_g and _ok(elig_mode, allowed, capacity, demand3, has_runtime, runtime,
                               group_ok, task_group, a, j):
                fit = True
                for k in range(K):
                    if load[j, k] + demand3[a, j if per else 0, k] \
                            - demand3[b, j if per else 0, k] > capacity[j, k]:
                        fit = False
                        break
                if fit:
                    best, b_g = b, g
        if best >= 0:
            j = x[best]
            dest = alt_node[best]
            move_task(load, demand3, x, best, dest)
            move_task(load, demand3, x, a, j)
            applied = True
            # update the alternatives for the loads that changed (src lost a, j swapped a for
            # b, dest gained b); this gives what a full _alternatives pass would give
            for t in range(N):
                if t == a or t == best or alt_node[t] == dest or alt_node[t] == j:
                    _alternative(t, x, load, capacity, demand3, has_runtime, runtime,
                                 duration, speed, has_score, score, elig_mode, allowed, group_ok,
                                 task_group, sign, alt_node, alt_sc, alt_delta)
                    continue
                cur = _score(has_score, score, duration, speed, sign, t,
                             x[t])
                for side in range(2):
                    n = src if side == 0 else j
                    if n == x[t] or not _ok(elig_mode, allowed, capacity, demand3, has_runtime,
                                            runtime, group_ok, task_group, t, n):
                        continue
                    sc = _score(has_score, score, duration, speed, sign,
                                t, n)
                    held = alt_sc[t]
                    if (sc < held or (sc == held and n < alt_node[t])) \
                            and _fits(load, capacity, demand3, t, n):
                        alt_node[t] = n
                        alt_sc[t] = sc
                        alt_delta[t] = sc - cur
    return applied


@numba.njit(cache=True, nogil=True)
def _improve_imbalance(x, order, load, capacity, demand3, elig_mode, allowed, has_runtime,
                       runtime, group_ok, task_group, passes):
    """Shift moves that lower the standard deviation of utilization (sum of squares at a fixed
    count; sums kept exactly by recomputing them from the loads after each move)."""
    N = x.shape[0]
    M, K = capacity.shape
    per = demand3.shape[1] > 1
    count = 0
    for j in range(M):
        for k in range(K):
            if capacity[j, k] > 0:
                count += 1
    if count == 0:
        return
    for _it in range(passes):
        improved = False
        for t in range(N):
            i = order[t]
            src = np.int64(x[i])
            s1 = 0.0
            s2 = 0.0
            for j in range(M):
                for k in range(K):
                    if capacity[j, k] > 0:
                        u = load[j, k] / capacity[j, k]
                        s1 += u
                        s2 += u * u
            var0 = s2 / count - (s1 / count) ** 2
            best = -1
            b_var = var0 - 1e-12 * (1.0 + abs(var0))
            for j in range(M):
                if j == src or not _ok(elig_mode, allowed, capacity, demand3, has_runtime,
                                       runtime, group_ok, task_group, i, j):
                    continue
                if not _fits(load, capacity, demand3, i, j):
                    continue
                a1 = s1
                a2 = s2
                for k in range(K):
                    for side in range(2):
                        node = src if side == 0 else j
                        sgn = -1 if side == 0 else 1
                        c = capacity[node, k]
                        if c > 0:
                            old = load[node, k] / c
                            new = (load[node, k] + sgn * demand3[i, node if per else 0, k]) / c
                            a1 += new - old
                            a2 += new * new - old * old
                var = a2 / count - (a1 / count) ** 2
                if var < b_var:
                    best, b_var = j, var
            if best >= 0:
                move_task(load, demand3, x, i, best)
                improved = True
        if not improved:
            break


@numba.njit(parallel=True, cache=True, nogil=True)
def _improve_kernel(pop, orders, capacity, demand3, demand_t, scale, has_runtime, runtime,
                    duration, speed, has_score, score, score_t, elig_mode, allowed, group_ok,
                    task_group, code, sign, passes, weights):
    for p in numba.prange(pop.shape[0]):
        _improve_one(pop[p], orders[p], capacity, demand3, demand_t, scale, has_runtime, runtime,
                     duration, speed, has_score, score, score_t, elig_mode, allowed, group_ok,
                     task_group, code, sign, passes, weights[p])


def improve_placement(pk: Packed, pop: np.ndarray, orders: np.ndarray, code: int, sign: float,
                      passes: int, weights: np.ndarray | None = None) -> None:
    """Repair and locally improve every placement in ``pop`` (P, N) int32, in place.

    ``orders`` (P, N) int64 holds a permutation of the tasks per individual: the order in
    which tasks are visited (drawn by the caller, so every backend makes the same moves).
    ``sign`` is 1.0 to minimise the cost objective and -1.0 to maximise it. ``weights``
    (P,) float64, cost objective only: before repair, individual p descends on
    score + weights[p] * scaled overload (0 skips that phase).
    """
    pk = kernel_packed(pk)
    work = as_writable(pop, np.int32)  # pop itself when it is C-contiguous int32
    orders = as_readonly(orders, np.int64)
    weights = as_readonly(np.zeros(pop.shape[0]) if weights is None else weights, np.float64)
    sign = float(sign)
    with dynamic_chunks(work.shape[0]):
        score = score_matrix(pk, sign)
        _improve_kernel(work, orders, pk.capacity, pk.demand3, transposed(pk, "demand3"),
                        pk.scale, pk.has_runtime, pk.runtime, pk.duration, pk.speed,
                        bool(pk.has_cost or pk.has_runtime), score,
                        transposed(pk, "score", sign), pk.elig_mode, pk.allowed, pk.group_ok,
                        pk.task_group, int(code), sign, int(passes), weights)
    if work is not pop:
        pop[...] = work


from gabalance.backend._numba_balance import search_utilization  # noqa: E402,F401
from gabalance.backend._numba_search import search_cost  # noqa: E402,F401  (the backend's API)

"""Numba kernels of the GPU-sharing policies (``gabalance.gpushare``): one pass over the
arriving tasks, each placed on the node its policy scores highest, on per-device state.

State of the cluster while tasks arrive: ``free`` (M, K) what each node has left of every
resource, ``left`` (M, W) int64 milli-GPU left on every device (1000 = free; devices beyond
a node's count are never read), ``tags`` (M, W + 1) int64 how many tasks of each GPU kind a
node holds (column 0: shares, column k: tasks of k whole devices; GpuClustering reads it).

``sc`` (2,) float64: the scales of CPU and GPU in the DotProd and BestFit scores (the
artifact's 128000 milli-CPU and 8000 milli-GPU, its largest node). Scores follow the
policies of the FGD paper's artifact (Weng et al., USENIX ATC 2023): the integer scores
and the choice among the nodes with the highest score are part of each policy.
``FGD_EXACT`` is this package's variant of FGD: the fragmentation increase itself (no
sigmoid, no rounding) is minimised, ties go to the tighter fit.
"""

from __future__ import annotations

import math

import numba
import numpy as np

MILLI = 1000

RANDOM, DOTPROD, GPU_CLUSTERING, GPU_PACKING, BEST_FIT, FGD, FGD_EXACT, FGD_FIT, FGD_PACK = range(9)
NO_NODE = -1


@numba.njit(cache=True, nogil=True)
def _fits(free, left, gpus, group_ok, demand, gpu, need, group, j):
    """Can node ``j`` take the task now (resources, labels, devices)?"""
    if not group_ok[group, j]:
        return False
    for k in range(free.shape[1]):
        if demand[k] > free[j, k]:
            return False
    if gpu == 0:
        return True
    if need > gpus[j]:
        return False
    per = gpu if gpu < MILLI else MILLI
    count = 0
    for d in range(gpus[j]):
        if left[j, d] >= per:
            count += 1
    return count >= need


@numba.njit(cache=True, nogil=True)
def _idle(left, gpus, j):
    s = 0
    for d in range(gpus[j]):
        s += left[j, d]
    return s


@numba.njit(cache=True, nogil=True)
def frag_of(left, gpus, cpu_left, j, t_cpu, t_milli, t_num, t_p, t_ok):
    """FGD's expected fragment of node ``j`` (milli-GPU) over the typical tasks ``t_*``:
    a typical task that fits counts only the devices with less left than it asks; one that
    cannot fit (CPU, GPU count, model) or asks no GPU counts every idle milli-GPU."""
    idle = 0
    for d in range(gpus[j]):
        idle += left[j, d]
    if idle == 0:
        return 0.0
    total = 0.0
    for m in range(t_cpu.shape[0]):
        amount = idle
        if t_milli[m] > 0 and t_ok[m, j]:
            count = 0
            small = 0
            for d in range(gpus[j]):
                if left[j, d] >= t_milli[m]:
                    count += 1
                else:
                    small += left[j, d]
            if count >= t_num[m] and cpu_left >= t_cpu[m]:
                amount = small
        total += t_p[m] * amount
    return total


@numba.njit(cache=True, nogil=True)
def _tightest(left, gpus, j, per, skip):
    """Device of node ``j`` with the least left that still holds ``per`` (ties: lowest index;
    ``skip`` a bit mask of devices already taken), or -1."""
    best, best_left = -1, 1 << 62
    for d in range(gpus[j]):
        if (skip >> d) & 1:
            continue
        if left[j, d] >= per and left[j, d] < best_left:
            best, best_left = d, left[j, d]
    return best


@numba.njit(cache=True, nogil=True)
def _lowest_free(left, gpus, j, need):
    mask = 0
    taken = 0
    for d in range(gpus[j]):
        if taken < need and left[j, d] == MILLI:
            mask |= 1 << d
            taken += 1
    return mask


@numba.njit(cache=True, nogil=True)
def _fgd_choice(left, gpus, free, j, cpu_col, demand, gpu, need, t_cpu, t_milli, t_num, t_p,
                t_ok, exact):
    """(score, device mask) of FGD on node ``j``: the artifact's integer score of the
    fragmentation increase, or with ``exact`` minus the increase itself."""
    cpu_left = free[j, cpu_col] if cpu_col >= 0 else 0
    cpu = demand[cpu_col] if cpu_col >= 0 else 0
    before = frag_of(left, gpus, cpu_left, j, t_cpu, t_milli, t_num, t_p, t_ok)
    if 0 < gpu < MILLI:
        best_sc, best_mask = -math.inf, 0
        for d in range(gpus[j]):
            if left[j, d] < gpu:
                continue
            left[j, d] -= gpu
            after = frag_of(left, gpus, cpu_left - cpu, j, t_cpu, t_milli, t_num, t_p, t_ok)
            left[j, d] += gpu
            sc = _fgd_score(before - after, exact)
            if sc > best_sc:
                best_sc, best_mask = sc, 1 << d
        return best_sc, best_mask
    mask = _lowest_free(left, gpus, j, need) if gpu > 0 else 0
    for d in range(gpus[j]):
        if (mask >> d) & 1:
            left[j, d] -= MILLI
    after = frag_of(left, gpus, cpu_left - cpu, j, t_cpu, t_milli, t_num, t_p, t_ok)
    for d in range(gpus[j]):
        if (mask >> d) & 1:
            left[j, d] += MILLI
    return _fgd_score(before - after, exact), mask


@numba.njit(cache=True, nogil=True)
def _fgd_score(gain, exact):
    if exact:
        return gain
    return float(np.int64(100.0 / (1.0 + math.exp(-gain / 1000.0))))


@numba.njit(cache=True, nogil=True)
def _packing_score(left, gpus, j, gpu, need):
    g = gpus[j]
    full = 0
    for d in range(g):
        if left[j, d] == MILLI:
            full += 1
    if full == g:
        return float(max(33 - full, full))
    per = gpu if gpu < MILLI else MILLI
    # devices ascending by left (stable): take those that hold `per` until `need` are taken
    taken = 0
    k = 0
    sum_pct = 0
    used = 0
    while taken < need:
        best, best_left = -1, 1 << 62
        for d in range(g):
            if not (used >> d) & 1 and left[j, d] < best_left:
                best, best_left = d, left[j, d]
        if best < 0:
            break
        used |= 1 << best
        if best_left >= per:
            taken += 1
            if best_left == MILLI:
                k += 1
            sum_pct += best_left * 100 // MILLI
    if k > 0:
        return float(max(50 - k, 33))
    return float(max(100 - sum_pct // 10, 50))


@numba.njit(cache=True, nogil=True)
def _clustering_score(left, gpus, tags, j, gpu, need):
    if gpu == 0:
        return 0.0
    idle = _idle(left, gpus, j)
    diff = 25 * (8000 - idle)
    base = diff // 8000 if diff >= 0 else -((-diff) // 8000)  # Go's truncating division
    tag = 0 if gpu < MILLI else need
    kinds = 0
    for c in range(tags.shape[1]):
        if tags[j, c] > 0:
            kinds += 1
    if kinds == 0:
        return float(25 + base)
    if tags[j, tag] > 0:
        return float((75 if kinds == 1 else 50) + base)
    return float(base)


@numba.njit(cache=True, nogil=True)
def _score(policy, free, left, gpus, tags, j, cpu_col, demand, gpu, need, t_cpu, t_milli,
           t_num, t_p, t_ok, sc):
    """(score, device mask or -1 for "choose later") of one feasible node."""
    idle = _idle(left, gpus, j)
    cpu_left = free[j, cpu_col] if cpu_col >= 0 else 0
    cpu = demand[cpu_col] if cpu_col >= 0 else 0
    total = gpu if gpu < MILLI else MILLI * need
    if policy == DOTPROD:
        d = (cpu_left / sc[0] * (cpu / sc[0]) + idle / sc[1] * (total / sc[1])) / 2.0
        return float(np.int64(100.0 * (1.0 - d))), -1
    if policy == BEST_FIT:
        raw = 0.5 * (cpu_left - cpu) / sc[0] + 0.5 * (idle - total) / sc[1]
        return float(np.int64((1.0 - raw) * 100.0)), -1
    if policy == GPU_PACKING:
        if gpu == 0:
            return 0.0, -1
        return _packing_score(left, gpus, j, gpu, need), -1
    if policy == GPU_CLUSTERING:
        return _clustering_score(left, gpus, tags, j, gpu, need), -1
    sc, mask = _fgd_choice(left, gpus, free, j, cpu_col, demand, gpu, need, t_cpu, t_milli,
                           t_num, t_p, t_ok, policy == FGD_EXACT)
    return sc, mask


@numba.njit(cache=True, nogil=True)
def _tiebreak(free, left, gpus, j, cpu_col, demand, gpu, need, sc):
    """Secondary key of FGD_EXACT (lower is better): what the node keeps idle after the
    task, CPU and GPU on the artifact's scales (a best-fit rule)."""
    cpu_left = free[j, cpu_col] if cpu_col >= 0 else 0
    cpu = demand[cpu_col] if cpu_col >= 0 else 0
    total = gpu if gpu < MILLI else MILLI * need
    return (cpu_left - cpu) / sc[0] + (_idle(left, gpus, j) - total) / sc[1]


@numba.njit(cache=True, nogil=True)
def place_one(policy, free, left, gpus, tags, group_ok, cpu_col, demand, gpu, need, group,
              t_cpu, t_milli, t_num, t_p, t_ok, sc, node_order, first_tie, candidates):
    """Choose (node, device mask) for one task, or (-1, 0) when no node can take it; does not
    change the state. ``candidates`` (M,) int64 scratch. Ties among the best nodes: uniform
    (numba's generator, seeded by the caller), except FGD_EXACT (tighter fit, lowest index)."""
    M = free.shape[0]
    n = 0
    best = -math.inf
    best_tb = math.inf
    for jj in range(M):
        j = node_order[jj]
        if not _fits(free, left, gpus, group_ok, demand, gpu, need, group, j):
            continue
        if policy == RANDOM:
            candidates[n] = j
            n += 1
            continue
        s, _ = _score(policy, free, left, gpus, tags, j, cpu_col, demand, gpu, need, t_cpu,
                      t_milli, t_num, t_p, t_ok, sc)
        if policy == FGD_PACK:
            # FGD's score; among equal scores a node already holding GPU work goes first
            # (then the node order), keeping untouched nodes whole for larger tasks
            tb = 1.0 if _idle(left, gpus, j) == MILLI * gpus[j] else 0.0
            if s > best or (s == best and tb < best_tb):
                best, best_tb = s, tb
                candidates[0] = j
                n = 1
            continue
        if policy == FGD_EXACT or policy == FGD_FIT:
            tb = _tiebreak(free, left, gpus, j, cpu_col, demand, gpu, need, sc)
            if s > best + 1e-9 or (s > best - 1e-9 and tb < best_tb):
                best, best_tb = s, tb
                candidates[0] = j
                n = 1
            continue
        if s > best:
            best = s
            n = 0
        if s == best and not (first_tie and n > 0):
            candidates[n] = j
            n += 1
    if n == 0:
        return NO_NODE, 0
    # numba's own seeded stream (np.random inside a kernel), hence the noqa below
    j = candidates[np.random.randint(n)] if n > 1 else candidates[0]  # noqa: NPY002
    per = gpu if gpu < MILLI else MILLI
    if gpu == 0:
        return j, 0
    if policy == FGD or policy == FGD_EXACT or policy == FGD_FIT or policy == FGD_PACK:
        _, mask = _fgd_choice(left, gpus, free, j, cpu_col, demand, gpu, need, t_cpu, t_milli,
                              t_num, t_p, t_ok, policy == FGD_EXACT)
        return j, mask
    if gpu >= MILLI:
        return j, _lowest_free(left, gpus, j, need)
    if policy == RANDOM:  # a uniformly random device that holds the share
        n_ok = 0
        for d in range(gpus[j]):
            if left[j, d] >= per:
                n_ok += 1
        pick = np.random.randint(n_ok)  # noqa: NPY002
        for d in range(gpus[j]):
            if left[j, d] >= per:
                if pick == 0:
                    return j, 1 << d
                pick -= 1
    return j, 1 << _tightest(left, gpus, j, per, 0)


@numba.njit(cache=True, nogil=True)
def seed_stream(seed):
    """Seed numba's own random stream (the one ``place_one`` draws ties from)."""
    np.random.seed(seed)  # noqa: NPY002 (numba's stream, not numpy's)


@numba.njit(cache=True, nogil=True)
def commit(free, left, tags, j, mask, demand, gpu, need):
    """Apply a placement to the state."""
    for k in range(free.shape[1]):
        free[j, k] -= demand[k]
    if gpu == 0:
        return
    amount = gpu if gpu < MILLI else MILLI
    for d in range(left.shape[1]):
        if (mask >> d) & 1:
            left[j, d] -= amount
    tags[j, 0 if gpu < MILLI else need] += 1


@numba.njit(cache=True, nogil=True)
def simulate(policy, seed, order, free, left, gpus, tags, group_ok, task_group, cpu_col,
             demand, gpu, need, t_cpu, t_milli, t_num, t_p, t_ok, sc, node_order, first_tie,
             x, masks, used):
    """Place ``order``'s tasks one after the other (a task that fits nowhere waits for good);
    ``x``/``masks`` (N,) receive the placement, ``used`` (len(order),) the allocated
    milli-GPU after each arrival."""
    np.random.seed(seed)  # noqa: NPY002 (seeds numba's stream, not numpy's)
    candidates = np.empty(free.shape[0], np.int64)
    total = 0
    for e in range(order.shape[0]):
        t = order[e]
        j, mask = place_one(policy, free, left, gpus, tags, group_ok, cpu_col, demand[t],
                            gpu[t], need[t], task_group[t], t_cpu, t_milli, t_num, t_p, t_ok,
                            sc, node_order, first_tie, candidates)
        if j >= 0:
            commit(free, left, tags, j, mask, demand[t], gpu[t], need[t])
            x[t] = j
            masks[t] = mask
            total += gpu[t]
        used[e] = total


@numba.njit(cache=True, nogil=True)
def _balance_key(free, left, gpus, capacity, j, demand, gpu, need):
    """How far node ``j``'s resources would be from equally used once the task is there:
    sum over resources of |used share - used GPU share| (lower is better)."""
    g = gpus[j]
    idle = 0
    for d in range(g):
        idle += left[j, d]
    total = gpu if gpu < MILLI else MILLI * need
    ug = 1.0 - (idle - total) / (MILLI * g) if g > 0 else 0.0
    key = 0.0
    for k in range(free.shape[1]):
        if capacity[j, k] > 0:
            uk = 1.0 - (free[j, k] - demand[k]) / capacity[j, k]
            key += abs(uk - ug)
    return key


@numba.njit(cache=True, nogil=True)
def quota_pack(order, task_kind, quota, node_kind_ptr, node_kind_nodes, free, left, gpus,
               tags, capacity, group_ok, task_group, demand, gpu, need, x, masks):
    """Place ``order``'s tasks on the node kinds the LP gives them (``quota`` (T, C) tasks
    of kind t on node kind c, used up as tasks are placed): each on the node of a kind
    with quota left whose resources stay most evenly used (``_balance_key``; ties: lowest
    index), its devices by best fit. Tasks without quota, or that fit no such node, stay
    waiting (x = -1). Returns the number placed."""
    C = quota.shape[1]
    placed = 0
    for e in range(order.shape[0]):
        t = order[e]
        tk = task_kind[t]
        done = False
        while not done:
            c_best, q_best = -1, 0
            for c in range(C):
                if quota[tk, c] > q_best:
                    c_best, q_best = c, quota[tk, c]
            if c_best < 0:
                break
            best, best_key = -1, np.inf
            for a in range(node_kind_ptr[c_best], node_kind_ptr[c_best + 1]):
                j = node_kind_nodes[a]
                if not _fits(free, left, gpus, group_ok, demand[t], gpu[t], need[t],
                             task_group[t], j):
                    continue
                key = _balance_key(free, left, gpus, capacity, j, demand[t], gpu[t], need[t])
                if key < best_key:
                    best, best_key = j, key
            quota[tk, c_best] -= 1
            if best < 0:
                continue  # this kind is full for t: try the next kind with quota
            mask = 0
            if gpu[t] >= MILLI:
                mask = _lowest_free(left, gpus, best, need[t])
            elif gpu[t] > 0:
                mask = 1 << _tightest(left, gpus, best, gpu[t], 0)
            commit(free, left, tags, best, mask, demand[t], gpu[t], need[t])
            x[t] = best
            masks[t] = mask
            placed += 1
            done = True
    return placed


@numba.njit(cache=True, nogil=True)
def build_state(x, masks, free, left, tags, demand, gpu, need):
    """Commit every placed task of a plan to a fresh state."""
    for t in range(x.shape[0]):
        if x[t] >= 0:
            commit(free, left, tags, x[t], masks[t], demand[t], gpu[t], need[t])

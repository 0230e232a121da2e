"""Numba kernels of the GPU-sharing improvement (``gabalance.gpushare.improve``): a plan
with waiting tasks is improved by placing waiting tasks, after repacking a node's devices
or ejecting tasks that ask for less GPU (which are then placed elsewhere when they fit).

Every move keeps the plan valid per device: a node's tasks are packed onto its devices by
best-fit decreasing (whole devices first, then shares largest first, each on the device it
fits most tightly) whenever the node changes, so the device masks are recomputed there.
"""

from __future__ import annotations

import numba
import numpy as np

MILLI = 1000


@numba.njit(cache=True, nogil=True)
def _link(head, nxt, prv, j, t):
    nxt[t] = head[j]
    prv[t] = -1
    if head[j] >= 0:
        prv[head[j]] = t
    head[j] = t


@numba.njit(cache=True, nogil=True)
def _unlink(head, nxt, prv, j, t):
    if prv[t] >= 0:
        nxt[prv[t]] = nxt[t]
    else:
        head[j] = nxt[t]
    if nxt[t] >= 0:
        prv[nxt[t]] = prv[t]
    nxt[t] = -1
    prv[t] = -1


@numba.njit(cache=True, nogil=True)
def _pack_node(j, head, nxt, gpu, need, gpus, extra, skip, skip2, buf, out_mask, dev):
    """Best-fit-decreasing packing of node ``j``'s GPU tasks (plus ``extra`` >= 0, minus
    ``skip``/``skip2``) onto its devices. ``buf`` scratch (N,), ``out_mask`` (N,) receives
    the masks of the packed tasks, ``dev`` (W,) scratch loads. Returns True when all fit."""
    n = 0
    t = head[j]
    while t >= 0:
        if t != skip and t != skip2 and gpu[t] > 0:
            buf[n] = t
            n += 1
        t = nxt[t]
    if extra >= 0:
        buf[n] = extra
        n += 1
    # insertion sort: whole-device tasks first (more devices first), then shares largest
    # first; ties by task index (deterministic)
    for a in range(1, n):
        v = buf[a]
        b = a - 1
        while b >= 0 and _before(v, buf[b], gpu, need):
            buf[b + 1] = buf[b]
            b -= 1
        buf[b + 1] = v
    g = gpus[j]
    for d in range(g):
        dev[d] = 0
    for a in range(n):
        t = buf[a]
        if gpu[t] >= MILLI:
            mask = 0
            taken = 0
            for d in range(g):
                if taken < need[t] and dev[d] == 0:
                    mask |= 1 << d
                    taken += 1
            if taken < need[t]:
                return False
            for d in range(g):
                if (mask >> d) & 1:
                    dev[d] = MILLI
            out_mask[t] = mask
        else:
            best, best_left = -1, MILLI + 1
            for d in range(g):
                left = MILLI - dev[d] - gpu[t]
                if 0 <= left < best_left:
                    best, best_left = d, left
            if best < 0:
                return False
            dev[best] += gpu[t]
            out_mask[t] = 1 << best
    return True


@numba.njit(cache=True, nogil=True)
def _before(a, b, gpu, need):
    wa, wb = gpu[a] >= MILLI, gpu[b] >= MILLI
    if wa != wb:
        return wa
    if wa and need[a] != need[b]:
        return need[a] > need[b]
    if gpu[a] != gpu[b]:
        return gpu[a] > gpu[b]
    return a < b


@numba.njit(cache=True, nogil=True)
def _res_fit(free, demand, j, t, back, back2):
    """Do ``t``'s resources fit node ``j`` once ``back``/``back2`` (-1: none) leave it?"""
    for k in range(free.shape[1]):
        room = free[j, k]
        if back >= 0:
            room += demand[back, k]
        if back2 >= 0:
            room += demand[back2, k]
        if demand[t, k] > room:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _res_fit_device(free, demand, j, t, d, head, nxt, masks):
    """Do ``t``'s resources fit node ``j`` once the tasks on device ``d`` leave it?"""
    for k in range(free.shape[1]):
        room = free[j, k]
        u = head[j]
        while u >= 0:
            if (masks[u] >> d) & 1:
                room += demand[u, k]
            u = nxt[u]
        if demand[t, k] > room:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _idle(masks_left, j, g):
    s = 0
    for d in range(g):
        s += masks_left[j, d]
    return s


@numba.njit(cache=True, nogil=True)
def _apply_node(j, head, nxt, gpu, gpus, masks, new_mask, left):
    """Take the packing in ``new_mask`` for node ``j``'s GPU tasks; recompute ``left``."""
    for d in range(gpus[j]):
        left[j, d] = MILLI
    t = head[j]
    while t >= 0:
        if gpu[t] > 0:
            masks[t] = new_mask[t]
            amount = gpu[t] if gpu[t] < MILLI else MILLI
            for d in range(gpus[j]):
                if (masks[t] >> d) & 1:
                    left[j, d] -= amount
        t = nxt[t]


@numba.njit(cache=True, nogil=True)
def _place(j, t, x, head, nxt, prv, free, demand, gpu, gpus, masks, new_mask, left):
    x[t] = j
    _link(head, nxt, prv, j, t)
    for k in range(free.shape[1]):
        free[j, k] -= demand[t, k]
    _apply_node(j, head, nxt, gpu, gpus, masks, new_mask, left)


@numba.njit(cache=True, nogil=True)
def _remove(j, t, x, head, nxt, prv, free, demand, gpu, gpus, masks, left):
    """Take ``t`` off node ``j`` (it waits); the node keeps its other devices as they are."""
    x[t] = -1
    _unlink(head, nxt, prv, j, t)
    for k in range(free.shape[1]):
        free[j, k] += demand[t, k]
    if gpu[t] > 0:
        amount = gpu[t] if gpu[t] < MILLI else MILLI
        for d in range(gpus[j]):
            if (masks[t] >> d) & 1:
                left[j, d] += amount
    masks[t] = 0


@numba.njit(cache=True, nogil=True)
def _fits_now(j, t, free, demand, gpu, need, gpus, left, allowed_row):
    """Cheap exact test: ``t`` fits node ``j`` without touching the other tasks."""
    if not allowed_row[j] or not _res_fit(free, demand, j, t, -1, -1):
        return False
    if gpu[t] == 0:
        return True
    per = gpu[t] if gpu[t] < MILLI else MILLI
    count = 0
    for d in range(gpus[j]):
        if left[j, d] >= per:
            count += 1
    return count >= need[t]


@numba.njit(cache=True, nogil=True)
def _insert_anywhere(t, x, head, nxt, prv, free, demand, gpu, need, gpus, masks, left,
                     allowed, group, cap_cpu, cpu_col, buf, new_mask, dev, start):
    """Place ``t`` where it fits now, on the node it fits most tightly (idle GPU left, then
    CPU left on their scales); scan from ``start``. Returns the node or -1."""
    M = free.shape[0]
    best, best_key = -1, np.inf
    for jj in range(M):
        j = (start + jj) % M
        if not _fits_now(j, t, free, demand, gpu, need, gpus, left, allowed[group[t]]):
            continue
        key = (_idle(left, j, gpus[j]) - gpu[t]) / (MILLI * 8.0)
        if cpu_col >= 0:
            key += (free[j, cpu_col] - demand[t, cpu_col]) / cap_cpu
        if key < best_key:
            best, best_key = j, key
    if best < 0:
        return -1
    j = best
    x[t] = j
    _link(head, nxt, prv, j, t)
    for k in range(free.shape[1]):
        free[j, k] -= demand[t, k]
    masks[t] = 0
    if gpu[t] >= MILLI:  # the lowest-index free devices
        taken = 0
        for d in range(gpus[j]):
            if taken < need[t] and left[j, d] == MILLI:
                masks[t] |= 1 << d
                left[j, d] = 0
                taken += 1
    elif gpu[t] > 0:  # the device it fits most tightly
        pick, low = -1, MILLI + 1
        for d in range(gpus[j]):
            if gpu[t] <= left[j, d] < low:
                pick, low = d, left[j, d]
        masks[t] = 1 << pick
        left[j, pick] -= gpu[t]
    return best


@numba.njit(cache=True, nogil=True)
def build_lists(x, M):
    """Per-node task lists (``head`` (M,), ``nxt``/``prv`` (N,)) of a plan."""
    N = x.shape[0]
    head = np.full(M, -1, np.int64)
    nxt = np.full(N, -1, np.int64)
    prv = np.full(N, -1, np.int64)
    for t in range(N):
        if x[t] >= 0:
            _link(head, nxt, prv, x[t], t)
    return head, nxt, prv


@numba.njit(cache=True, nogil=True)
def improve(x, masks, free, left, head, nxt, prv, demand, gpu, need, gpus, allowed, group,
            weight, cap_cpu, cpu_col, tasks, kind, failed_at, version):
    """Try to place each waiting task of ``tasks`` (in that order): directly; after
    repacking a node's devices; or by ejecting one task of a node that asks less weighted
    GPU (the ejected task is placed elsewhere when it fits, else it waits). Every move
    raises the allocated weighted GPU. ``kind`` (N,): identical tasks share a kind;
    ``failed_at`` (kinds,): the state ``version[0]`` at which a kind last found no move, so
    that an identical task is not tried again before the state changes. Returns the number
    of tasks placed."""
    N = x.shape[0]
    M = free.shape[0]
    buf = np.empty(N + 1, np.int64)
    new_mask = np.zeros(N, np.int64)
    dev = np.zeros(max(1, left.shape[1]), np.int64)
    placed = 0
    for w in range(tasks.shape[0]):
        t = tasks[w]
        if x[t] >= 0 or failed_at[kind[t]] == version[0]:
            continue
        value_t = weight[t] * gpu[t]
        version[0] += 1  # a move changes the state; taken back below when there is none
        if _insert_anywhere(t, x, head, nxt, prv, free, demand, gpu, need, gpus, masks,
                            left, allowed, group, cap_cpu, cpu_col, buf, new_mask, dev,
                            t % M) >= 0:
            placed += 1
            continue
        if gpu[t] == 0:
            version[0] -= 1
            failed_at[kind[t]] = version[0]
            continue
        done = False
        for j in range(M):  # a node whose devices hold t once repacked
            if not allowed[group[t], j] or gpus[j] < need[t]:
                continue
            if _res_fit(free, demand, j, t, -1, -1) and _idle(left, j, gpus[j]) >= gpu[t] \
                    and _pack_node(j, head, nxt, gpu, need, gpus, t, -1, -1, buf, new_mask,
                                   dev):
                _place(j, t, x, head, nxt, prv, free, demand, gpu, gpus, masks, new_mask,
                       left)
                placed += 1
                done = True
                break
        if done:
            continue
        best_j, best_u, best_gain = -1, -1, 0.0
        for j in range(M):  # eject one task u of less weighted GPU
            if not allowed[group[t], j] or gpus[j] < need[t]:
                continue
            u = head[j]
            while u >= 0:
                loss = weight[u] * gpu[u]
                room = gpu[u] if gpu[u] < MILLI else MILLI * need[u]
                if loss < value_t and value_t - loss > best_gain and \
                        _res_fit(free, demand, j, t, u, -1) and \
                        _idle(left, j, gpus[j]) + room >= gpu[t] and \
                        _pack_node(j, head, nxt, gpu, need, gpus, t, u, -1, buf, new_mask,
                                   dev):
                    best_j, best_u, best_gain = j, u, value_t - loss
                u = nxt[u]
        # eject every share on one device (of less weighted GPU in total): t takes it
        best_d, dj, d_gain = -1, -1, best_gain
        if gpu[t] < MILLI:
            for j in range(M):
                if not allowed[group[t], j] or gpus[j] < 1:
                    continue
                for d in range(gpus[j]):
                    loss = 0.0
                    whole = False
                    u = head[j]
                    while u >= 0:
                        if (masks[u] >> d) & 1:
                            if gpu[u] >= MILLI:
                                whole = True
                            loss += weight[u] * gpu[u]
                        u = nxt[u]
                    if whole or left[j, d] == MILLI or value_t - loss <= d_gain:
                        continue
                    if _res_fit_device(free, demand, j, t, d, head, nxt, masks):
                        best_d, dj, d_gain = d, j, value_t - loss
        if best_d >= 0:
            j = dj
            u = head[j]
            ejected = 0
            while u >= 0:
                v = nxt[u]
                if (masks[u] >> best_d) & 1:
                    _remove(j, u, x, head, nxt, prv, free, demand, gpu, gpus, masks, left)
                    buf[N - ejected] = u
                    ejected += 1
                u = v
            x[t] = j
            _link(head, nxt, prv, j, t)
            for k in range(free.shape[1]):
                free[j, k] -= demand[t, k]
            masks[t] = 1 << best_d
            left[j, best_d] -= gpu[t]
            placed += 1
            for e in range(ejected):
                _insert_anywhere(buf[N - e], x, head, nxt, prv, free, demand, gpu, need, gpus,
                                 masks, left, allowed, group, cap_cpu, cpu_col, buf, new_mask,
                                 dev, buf[N - e] % M)
            continue
        if best_j < 0:
            version[0] -= 1
            failed_at[kind[t]] = version[0]
            continue
        j, u = best_j, best_u
        _remove(j, u, x, head, nxt, prv, free, demand, gpu, gpus, masks, left)
        _pack_node(j, head, nxt, gpu, need, gpus, t, -1, -1, buf, new_mask, dev)
        _place(j, t, x, head, nxt, prv, free, demand, gpu, gpus, masks, new_mask, left)
        placed += 1
        _insert_anywhere(u, x, head, nxt, prv, free, demand, gpu, need, gpus, masks, left,
                         allowed, group, cap_cpu, cpu_col, buf, new_mask, dev, u % M)
    return placed

"""Numba kernel of the GPU-device model: node loads, device loads (packing them when no
masks are given), violation and allocated GPU, one individual per parallel iteration.

Twin of ``kernels/devices.cu`` and of the NumPy reference ``_numpy.devices``: the same
loops in the same order (tasks in the canonical packing order, then nodes, resources and
devices), so that every backend returns the same numbers.
"""

from __future__ import annotations

from typing import Any

import numba
import numpy as np

from gabalance.devices import DeviceRecord

__all__ = ["devices"]

MILLI = 1000


@numba.njit(cache=True, nogil=True)
def _pack_one(dev: np.ndarray, j: int, n_dev: int, need: int, share: int) -> int:
    """Pick devices of node ``j`` for one task (canonical rule) and return the mask.

    A share (``share > 0``) goes to the device it fits most tightly (ties: lowest index),
    or, when it fits none, to the least loaded device (an overflow the violation counts).
    Whole devices: the lowest-index free devices, or the least loaded ones when too few
    are free."""
    if share > 0:
        best, best_left = -1, MILLI + 1
        for d in range(n_dev):
            left = MILLI - dev[j, d] - share
            if 0 <= left < best_left:
                best, best_left = d, left
        if best < 0:
            low = MILLI * 64
            for d in range(n_dev):
                if dev[j, d] < low:
                    best, low = d, dev[j, d]
        return 1 << best
    free = 0
    for d in range(n_dev):
        if dev[j, d] == 0:
            free += 1
    mask = 0
    if free >= need:
        taken = 0
        for d in range(n_dev):
            if taken < need and dev[j, d] == 0:
                mask |= 1 << d
                taken += 1
        return mask
    for _ in range(need):  # too few free devices: the least loaded ones, ties lowest index
        best, low = -1, MILLI * 64
        for d in range(n_dev):
            if not (mask >> d) & 1 and dev[j, d] < low:
                best, low = d, dev[j, d]
        mask |= 1 << best
    return mask


@numba.njit(cache=True, nogil=True)
def _one(x, masks_in, given, order, capacity, demand, scale, gpus, gpu, need, may_wait, weight,
         group_ok, task_group, load, dev, masks_out):
    """Evaluate one individual; returns (allocated weighted milli-GPU, violation)."""
    M, K = capacity.shape
    load[:] = 0
    dev[:] = 0
    alloc = 0.0
    viol = 0.0
    for t in order:
        j = x[t]
        masks_out[t] = 0
        if j < 0:
            if not may_wait[t]:
                viol += 1.0
            continue
        for k in range(K):
            load[j, k] += demand[t, k]
        if not group_ok[task_group[t], j]:
            viol += 1.0
        if gpu[t] == 0:
            continue
        alloc += weight[t] * gpu[t]
        if need[t] > gpus[j]:
            viol += 1.0
            continue
        share = gpu[t] if gpu[t] < MILLI else 0
        if given:
            m = masks_in[t]
            count = 0
            inside = True
            for d in range(64):
                if (m >> d) & 1:
                    count += 1
                    if d >= gpus[j]:
                        inside = False
            if count != need[t] or not inside:
                viol += 1.0
                continue
        else:
            m = _pack_one(dev, j, gpus[j], need[t], share)
        masks_out[t] = m
        amount = share if share > 0 else MILLI
        for d in range(gpus[j]):
            if (m >> d) & 1:
                dev[j, d] += amount
    for j in range(M):
        for k in range(K):
            over = load[j, k] - capacity[j, k]
            if over > 0 and scale[k] > 0:
                viol += over / scale[k]
    for j in range(M):
        for d in range(gpus[j]):
            over = dev[j, d] - MILLI
            if over > 0:
                viol += over / MILLI
    return alloc, viol


@numba.njit(parallel=True, cache=True, nogil=True)
def _kernel(pop, masks_in, given, order, capacity, demand, scale, gpus, gpu, need, may_wait,
            weight, group_ok, task_group, width, alloc, viol, masks_out):
    P = pop.shape[0]
    M, K = capacity.shape
    last = masks_in.shape[0] - 1  # without masks: one placeholder row
    for p in numba.prange(P):
        load = np.zeros((M, K), capacity.dtype)
        dev = np.zeros((M, width), np.int64)
        m_in = masks_in[min(np.int64(p), last)]
        m_out = masks_out[p]
        a, v = _one(pop[p], m_in, given, order, capacity, demand, scale, gpus, gpu, need,
                    may_wait, weight, group_ok, task_group, load, dev, m_out)
        alloc[p] = a
        viol[p] = v


def devices(rec: DeviceRecord, pop: np.ndarray, masks: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(allocated weighted milli-GPU / total, violation, masks) of every individual.

    ``pop`` (P, N) int32 node indices (-1 waiting); ``masks`` (P, N) int64 or None (pack
    with the canonical rule). Returns float64 (P,), float64 (P,) and int64 (P, N)."""
    P, N = pop.shape
    given = masks is not None
    m_in: Any = np.ascontiguousarray(masks, dtype=np.int64) if given else np.zeros((1, N),
                                                                                   np.int64)
    alloc, viol = np.empty(P), np.empty(P)
    out = np.zeros((P, N), np.int64)
    _kernel(np.ascontiguousarray(pop, dtype=np.int32), m_in, bool(given), rec.order,
            rec.capacity, rec.demand, rec.scale, rec.gpus, rec.gpu, rec.need, rec.may_wait,
            rec.weight, rec.group_ok, rec.task_group, int(rec.width), alloc, viol, out)
    return alloc / rec.total_gpu, viol, out

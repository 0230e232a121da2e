"""Pieces shared by the numba kernels: a node's utilization, and a binary min-heap over
parallel key/index arrays (the smallest key first, ties to the smallest index, so every
kernel that uses it is deterministic)."""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(inline="always", cache=True, nogil=True)
def _less(hk, hi, a, b):
    return hk[a] < hk[b] or (hk[a] == hk[b] and hi[a] < hi[b])


@numba.njit(cache=True, nogil=True)
def heap_push(hk, hi, size, key, idx):
    c = size
    hk[c] = key
    hi[c] = idx
    while c > 0:
        parent = (c - 1) // 2
        if _less(hk, hi, c, parent):
            hk[c], hk[parent] = hk[parent], hk[c]
            hi[c], hi[parent] = hi[parent], hi[c]
            c = parent
        else:
            break
    return size + 1


@numba.njit(cache=True, nogil=True)
def heap_pop(hk, hi, size):
    top = hi[0]
    size -= 1
    hk[0] = hk[size]
    hi[0] = hi[size]
    c = 0
    while True:
        left = 2 * c + 1
        if left >= size:
            break
        small = left
        if left + 1 < size and _less(hk, hi, left + 1, left):
            small = left + 1
        if _less(hk, hi, small, c):
            hk[c], hk[small] = hk[small], hk[c]
            hi[c], hi[small] = hi[small], hi[c]
            c = small
        else:
            break
    return top, size


@numba.njit(inline="always", cache=True, nogil=True)
def node_util(load, capacity, demand3, j, i, sgn):
    """Largest utilization of node j, optionally with task i added (sgn=1) or removed (-1)."""
    per = demand3.shape[1] > 1
    best = 0.0
    for k in range(capacity.shape[1]):
        v = load[j, k]
        if sgn != 0:
            v = v + sgn * demand3[i, j if per else 0, k]
        if capacity[j, k] > 0:
            u = v / capacity[j, k]
        elif v > 0:
            u = np.inf
        else:
            u = 0.0
        if u > best:
            best = u
    return best


@numba.njit(inline="always", cache=True, nogil=True)
def move_task(load, demand3, x, i, j):
    """Move task i to node j: x[i] = j, and the loads follow."""
    per = demand3.shape[1] > 1
    src = x[i]
    for k in range(load.shape[1]):
        load[src, k] -= demand3[i, src if per else 0, k]
        load[j, k] += demand3[i, j if per else 0, k]
    x[i] = j


@numba.njit(inline="always", cache=True, nogil=True)
def unlink_task(head, nxt, prv, j, i):
    """Take task i out of node j's doubly linked task list."""
    if prv[i] >= 0:
        nxt[prv[i]] = nxt[i]
    else:
        head[j] = nxt[i]
    if nxt[i] >= 0:
        prv[nxt[i]] = prv[i]
    nxt[i] = -1
    prv[i] = -1


@numba.njit(inline="always", cache=True, nogil=True)
def link_task(head, nxt, prv, j, i):
    """Put task i at the head of node j's doubly linked task list."""
    nxt[i] = head[j]
    prv[i] = -1
    if head[j] >= 0:
        prv[head[j]] = i
    head[j] = i


def dynamic_chunks(P: int):
    """Hand individuals to threads in small chunks on demand (numba's default splits the loop
    evenly up front, so one thread on a core another process is using stalls the call)."""
    return numba.parallel_chunksize(max(1, min(32, P // (4 * numba.get_num_threads()))))

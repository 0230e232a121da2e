"""Numba kernels of the placement baselines (``gabalance.baselines``).

The baselines place one task at a time and, for each task, pick among its allowed nodes by
a per-node criterion (utilization, room, task count, index). Done directly that is O(M)
work per task; here it is typically O(C (K + log M)) for C node classes (the searches
below are branch and bound: where bounds are loose they visit more of a class, never less
than needed).

Classes. Without a runtime matrix and without per-node demands, task ``i`` may run on node
``j`` when the node carries the task's labels (one column of ``Problem.label_ok()[0]``)
and the task's demand fits the empty node (``Problem.allowed_nodes``). The nodes are
grouped into classes of equal label eligibility -- and of equal capacity too when that
still gives few classes (:data:`EXACT_CLASSES`). A task may use a whole class or none of
it, up to the demand test, which the trees below prune.

Trees. A class of ``n`` nodes (ascending index) is a segment tree of width ``P >= n`` (a
power of two), stored 1-based (node ``t`` has children ``2t`` and ``2t + 1``; leaves
``P .. P + n - 1``; padding leaves hold neutral values). Each tree node keeps, over its
leaves: the largest capacity of each resource, the lowest and highest node index, the least
key (utilization for least-loaded, task count for least-connections) with the lowest index
attaining it, and, per resource, the largest *fit threshold* (a bound on the demand that
still fits the node as loaded: :func:`_threshold`) and the least room (``capacity -
load``), plus sums of room over resources for linear bounds on best fit's slack and on the
overload (per subset of resources while K is small). Searches are branch and bound: a
subtree is skipped only when a
bound proves that none of its leaves can beat the best leaf so far under the baseline's
order (ties: the lowest node index), and every leaf is decided by the exact expression of
the original per-task numpy code. Bounds are either computed with the same monotone float
operations as the quantity they bound, or (the linear bounds on slack and overload) widened
by a rounding-error margin. So every answer, ties included, is the one that code gave.

Problems with a runtime matrix or per-node demands (OR-Library GAP) carry (N, M) data
anyway; they run through plain O(M)-per-task scan kernels (:func:`_scan_kernel`).

Floating point. Loads are float64 and accumulate in task order, as in the numpy code. Row
sums over the K resources (best fit's slack, the overload) are evaluated in the order numpy's
``sum(axis=1)`` uses on a contiguous row (:func:`_row_sum`: in order below 8 terms, numpy's
8-way pairwise summation from 8 on). Integer inputs are compared in their own dtype where
``Problem.allowed_nodes`` does (the demand fits the empty node).
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np

from gabalance.problem import Problem

__all__ = [
    "EXACT_CLASSES",
    "Classes",
    "best_fit",
    "classes_of",
    "first_fit",
    "least_connections",
    "least_loaded",
    "round_robin",
]

#: at most this many (capacity, labels) classes are used as they are; beyond, the nodes are
#: grouped by labels only (capacities then differ within a class, which the trees handle)
EXACT_CLASSES = 64

_BIG = np.iinfo(np.int64).max
_STACK = 256  # DFS stack: at most 2 entries per level of a tree of width <= 2**62
_U = 2.0 ** -53  # unit roundoff of float64
_TINY = 1e-300  # absolute slack against underflow in the error margins

_SUBSET_K = 4  # overload bounds per subset of resources up to this many resources

# kernel modes
_LL, _FF, _BF, _RR, _LC = 0, 1, 2, 3, 4


class Classes(NamedTuple):
    """Nodes grouped into classes (see the module docstring); int64 arrays."""

    cls_of: np.ndarray  # (M,) class of each node
    pos_of: np.ndarray  # (M,) position of each node within its class
    nodes: np.ndarray  # (M,) members of class c are nodes[noff[c]:noff[c + 1]], ascending
    noff: np.ndarray  # (C + 1,)
    width: np.ndarray  # (C,) power of two >= class size
    toff: np.ndarray  # (C + 1,) tree storage of class c is toff[c]:toff[c + 1] (2 * width)


def _classes(cls_of: np.ndarray) -> Classes:
    M = len(cls_of)
    C = int(cls_of.max()) + 1 if M else 0
    nodes = np.argsort(cls_of, kind="stable").astype(np.int64)
    size = np.bincount(cls_of, minlength=C).astype(np.int64)
    noff = np.zeros(C + 1, np.int64)
    np.cumsum(size, out=noff[1:])
    pos_of = np.empty(M, np.int64)
    pos_of[nodes] = np.arange(M, dtype=np.int64) - noff[cls_of[nodes]]
    width = np.ones(C, np.int64)
    big = size > 1
    width[big] = np.int64(1) << np.frexp((size[big] - 1).astype(np.float64))[1].astype(np.int64)
    toff = np.zeros(C + 1, np.int64)
    np.cumsum(2 * width, out=toff[1:])
    return Classes(*(_ro(a, np.int64) for a in (cls_of, pos_of, nodes, noff, width, toff)))


def _class_ids(key: np.ndarray) -> np.ndarray:
    _, inverse = np.unique(key, axis=0, return_inverse=True)
    return np.asarray(inverse, np.int64).reshape(-1)


def classes_of(problem: Problem, how: str = "auto") -> Classes:
    """Group the nodes of ``problem`` (one without a runtime matrix or per-node demands).

    ``how``: ``"exact"`` (equal capacity and labels), ``"labels"`` (equal labels),
    ``"nodes"`` (one class per node) or ``"auto"`` (exact when that gives at most
    :data:`EXACT_CLASSES` classes, else labels).
    """
    if how not in ("auto", "exact", "labels", "nodes"):
        raise ValueError(f"unknown grouping {how!r}")
    M = problem.n_nodes
    group_ok, _ = problem.label_ok()
    labels = group_ok.T
    if how == "nodes":
        return _classes(np.arange(M, dtype=np.int64))
    if how == "labels":
        return _classes(_class_ids(labels))
    cap = problem.capacity
    exact = _class_ids(np.concatenate([cap, labels.astype(cap.dtype)], axis=1))
    if how == "exact" or int(exact.max(initial=-1)) < EXACT_CLASSES:
        return _classes(exact)
    return _classes(_class_ids(labels))


class _Data(NamedTuple):
    """The arrays every kernel takes, normalised to one dtype per variant."""

    cap: np.ndarray  # (M, K) float64
    dem: np.ndarray  # (N, 1 or M, K) float64
    cap_n: np.ndarray  # (M, K) capacity in its own dtype (int64 or float64)
    dem_n: np.ndarray  # (N, 1 or M, K) demand in that dtype
    runtime: np.ndarray  # (N, M) float64, or (1, 1) unused
    has_runtime: bool
    group_ok: np.ndarray  # (G, M) bool
    task_group: np.ndarray  # (N,) int64
    scale: np.ndarray  # (K,) float64: largest capacity per resource, 1 where 0


def _ro(a: np.ndarray, dtype: type) -> np.ndarray:
    """``a`` as a C-contiguous, read-only array of ``dtype`` (a view where it already is):
    read-only always, so that each kernel compiles one signature per data variant."""
    out = np.ascontiguousarray(a, dtype).view()  # a view: the caller's array stays as it is
    out.flags.writeable = False
    return out


def _data(problem: Problem) -> _Data:
    dtype = np.int64 if problem.capacity.dtype.kind in "iub" else np.float64
    d = problem.demand if problem.per_node_demand else problem.demand[:, None, :]
    has_runtime = problem.runtime is not None
    runtime = problem.runtime if problem.runtime is not None else np.zeros((1, 1))
    group_ok, task_group = problem.label_ok()
    scale = problem.capacity.max(axis=0).astype(np.float64)
    scale[scale == 0] = 1.0
    return _Data(_ro(problem.capacity, np.float64), _ro(d, np.float64),
                 _ro(problem.capacity, dtype), _ro(d, dtype), _ro(runtime, np.float64),
                 has_runtime, _ro(group_ok, np.bool_), _ro(task_group, np.int64),
                 _ro(scale, np.float64))


# --------------------------------------------------------------------------- shared helpers


@numba.njit(cache=True, nogil=True)
def _block(a, lo, n):  # pragma: no cover - compiled
    """numpy's summation of a block ``a[lo:lo + n]``, n <= 128: in order below 8 terms,
    else eight interleaved partial sums combined pairwise."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0 = a[lo]
    r1 = a[lo + 1]
    r2 = a[lo + 2]
    r3 = a[lo + 3]
    r4 = a[lo + 4]
    r5 = a[lo + 5]
    r6 = a[lo + 6]
    r7 = a[lo + 7]
    m = n - n % 8
    i = 8
    while i < m:
        r0 += a[lo + i]
        r1 += a[lo + i + 1]
        r2 += a[lo + i + 2]
        r3 += a[lo + i + 3]
        r4 += a[lo + i + 4]
        r5 += a[lo + i + 5]
        r6 += a[lo + i + 6]
        r7 += a[lo + i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@numba.njit(cache=True, nogil=True)
def _pairwise(a, lo, n):  # pragma: no cover - compiled
    """numpy's pairwise summation of ``a[lo:lo + n]`` (its ``sum`` of one contiguous row):
    blocks of at most 128 (:func:`_block`); a longer range is split in two, the first part
    a multiple of 8, and the halves' sums added. numpy recurses; this walks the same tree
    with an explicit stack (recursive functions do not load from Numba's cache)."""
    s_lo = np.empty(128, np.int64)
    s_n = np.empty(128, np.int64)
    s_done = np.zeros(128, np.bool_)
    vals = np.empty(128)
    s_lo[0] = lo
    s_n[0] = n
    s_done[0] = False
    sp = 1
    nv = 0
    while sp > 0:
        t = sp - 1
        if s_n[t] <= 128:
            vals[nv] = _block(a, s_lo[t], s_n[t])
            nv += 1
            sp -= 1
        elif s_done[t]:  # both halves summed: left below right on the value stack
            vals[nv - 2] = vals[nv - 2] + vals[nv - 1]
            nv -= 1
            sp -= 1
        else:
            s_done[t] = True
            h = s_n[t] // 2
            h -= h % 8
            s_lo[sp] = s_lo[t] + h  # right half, summed second
            s_n[sp] = s_n[t] - h
            s_done[sp] = False
            s_lo[sp + 1] = s_lo[t]  # left half, summed first
            s_n[sp + 1] = h
            s_done[sp + 1] = False
            sp += 2
    return vals[0]


@numba.njit(cache=True, nogil=True)
def _row_sum(buf, K):  # pragma: no cover - compiled
    """``buf[:K].sum()`` exactly as numpy computes it for one contiguous row."""
    if K <= 128:
        return _block(buf, 0, K)
    return _pairwise(buf, 0, K)


@numba.njit(cache=True, nogil=True)
def _fits_empty(i, j, jj, cap_n, dem_n):  # pragma: no cover - compiled
    """The demand of task i fits the empty node j (in the data's own dtype)."""
    for k in range(cap_n.shape[1]):
        if dem_n[i, jj, k] > cap_n[j, k]:
            return False
    return True


@numba.njit(cache=True, nogil=True)
def _utilization(load, cap, j):  # pragma: no cover - compiled
    """Largest used fraction of any resource node j offers (0 where it offers none)."""
    u = 0.0
    for k in range(cap.shape[1]):
        v = load[j, k] / cap[j, k] if cap[j, k] > 0 else 0.0
        if k == 0 or v > u:
            u = v
    return u


@numba.njit(cache=True, nogil=True)
def _threshold(load, cap):  # pragma: no cover - compiled
    """An upper bound on the demands ``d`` that pass least-loaded's fit test ``load + d <=
    cap`` (float arithmetic; ``load + d`` is monotone in ``d``, so a subtree whose largest
    bound is below a demand holds no node that fits). Usually the exact largest passing
    float: start at ``cap - load`` and climb while the next float still passes. Where that
    takes long (``load`` close to ``cap``: the passing range then reaches into tiny
    numbers), step out geometrically to a failing value instead: still an upper bound."""
    t = cap - load
    if not np.isfinite(t):
        return t
    for _ in range(4):
        up = np.nextafter(t, np.inf)
        if load + up <= cap:
            t = up
        else:
            return t
    delta = (abs(load) + abs(cap)) * 2.0 ** -50 + 5e-324
    while True:
        h = t + delta
        if not load + h <= cap:
            return h
        delta *= 2.0


# --------------------------------------------------------------------------- the trees


@numba.njit(cache=True, nogil=True)
def _n_subsets(K):  # pragma: no cover - compiled
    return (1 << K) - 1 if K <= _SUBSET_K else 1


@numba.njit(cache=True, nogil=True)
def _subset(si, K):  # pragma: no cover - compiled
    """Bit mask of the resources in subset number si (-1: all of them)."""
    return si + 1 if K <= _SUBSET_K else -1


# The trees of all classes share flat arrays, passed as one tuple ``tr`` (index: field):
#   0 capmax (T, K) largest capacity (static)     1 lo (T,) lowest node index (static)
#   2 hi (T,) highest node index (static)         3 key (T,) least key
#   4 kidx (T,) lowest node index with that key   5 thr (T, K) largest fit threshold
#   6 rmin (T, K) least room (capacity - load)
#   7 zdn (T,) least lower bound on sum_k max(room_k, 0) / scale_k
#   8 wup (T, S) per resource subset S, largest upper bound on
#     sum_{k in S} (room_k + u |room_k|) / scale_k (S: every non-empty subset while
#     K <= _SUBSET_K, else only all resources; :func:`_subsets`)
# (thr: least-loaded's :func:`_threshold`; first/best fit's room, their exact threshold.)


@numba.njit(cache=True, nogil=True)
def _leaf(mode, tr, a, j, load, cap, scale, key):  # pragma: no cover - compiled
    """Set leaf a (node j) from the node's load and key."""
    tkey = tr[3]
    kidx = tr[4]
    thr = tr[5]
    rmin = tr[6]
    zdn = tr[7]
    wup = tr[8]
    K = cap.shape[1]
    tkey[a] = key
    kidx[a] = j
    if mode == _LL:
        for k in range(K):
            thr[a, k] = _threshold(load[j, k], cap[j, k])
    elif mode == _FF or mode == _BF:
        z = 0.0
        size = 0.0
        for k in range(K):
            room = cap[j, k] - load[j, k]
            thr[a, k] = room  # first/best fit's test is (capacity - load) - d >= 0
            rmin[a, k] = room
            z += (room if room > 0.0 else 0.0) / scale[k]
            size += abs(room) / scale[k]
        zdn[a] = z - (8.0 * (K + 4) * _U * size + _TINY)
        for si in range(wup.shape[1]):
            mask = _subset(si, K)
            w = 0.0
            size = 0.0
            for k in range(K):
                if mask >> k & 1:
                    room = thr[a, k]
                    w += (room + _U * abs(room)) / scale[k]
                    size += abs(room) / scale[k]
            wup[a, si] = w + (8.0 * (K + 4) * _U * size + _TINY)


@numba.njit(cache=True, nogil=True)
def _combine(mode, tr, a, al, ar):  # pragma: no cover - compiled
    """Tree node a from its children al (lower indices) and ar (the dynamic fields)."""
    tkey = tr[3]
    kidx = tr[4]
    thr = tr[5]
    rmin = tr[6]
    zdn = tr[7]
    wup = tr[8]
    if tkey[al] <= tkey[ar]:  # equal keys: the left subtree holds the lower indices
        tkey[a] = tkey[al]
        kidx[a] = kidx[al]
    else:
        tkey[a] = tkey[ar]
        kidx[a] = kidx[ar]
    if mode == _LL or mode == _FF or mode == _BF:
        for k in range(thr.shape[1]):
            thr[a, k] = max(thr[al, k], thr[ar, k])
    if mode == _FF or mode == _BF:
        for k in range(thr.shape[1]):
            rmin[a, k] = min(rmin[al, k], rmin[ar, k])
        zdn[a] = min(zdn[al], zdn[ar])
        for si in range(wup.shape[1]):
            wup[a, si] = max(wup[al, si], wup[ar, si])


@numba.njit(cache=True, nogil=True)
def _build(mode, load, cap, scale, nodes, noff, width, toff):  # pragma: no cover - compiled
    """Trees of all classes, every node empty (load 0, key 0)."""
    T = toff[-1]
    K = cap.shape[1]
    S = _n_subsets(K)
    tr = (np.empty((T, K)), np.empty(T, np.int64), np.empty(T, np.int64), np.empty(T),
          np.empty(T, np.int64), np.empty((T, K)), np.empty((T, K)), np.empty(T),
          np.empty((T, S)))
    capmax, lo, hi, tkey, kidx, thr, rmin, zdn, wup = tr
    for c in range(width.shape[0]):
        base = toff[c]
        P = width[c]
        n = noff[c + 1] - noff[c]
        for p in range(P):
            a = base + P + p
            if p < n:
                j = nodes[noff[c] + p]
                for k in range(K):
                    capmax[a, k] = cap[j, k]
                lo[a] = j
                hi[a] = j
                _leaf(mode, tr, a, j, load, cap, scale, 0.0)
            else:  # padding: never a candidate, neutral in every aggregate
                for k in range(K):
                    capmax[a, k] = -np.inf
                    thr[a, k] = -np.inf
                    rmin[a, k] = np.inf
                lo[a] = _BIG
                hi[a] = -1
                tkey[a] = np.inf
                kidx[a] = _BIG
                zdn[a] = np.inf
                for si in range(S):
                    wup[a, si] = -np.inf
        for t in range(P - 1, 0, -1):
            a = base + t
            al = base + 2 * t
            for k in range(K):
                capmax[a, k] = max(capmax[al, k], capmax[al + 1, k])
            lo[a] = min(lo[al], lo[al + 1])
            hi[a] = max(hi[al], hi[al + 1])
            _combine(mode, tr, a, al, al + 1)
        lo[base] = _BIG  # slot 0 is unused
        hi[base] = -1
    return tr


@numba.njit(cache=True, nogil=True)
def _update(mode, tr, j, load, cap, scale, key, cls_of, pos_of, width,
            toff):  # pragma: no cover - compiled
    """Node j's load or key changed: refresh its leaf and the path to the root."""
    c = cls_of[j]
    base = toff[c]
    t = width[c] + pos_of[j]
    _leaf(mode, tr, base + t, j, load, cap, scale, key)
    t //= 2
    while t >= 1:
        _combine(mode, tr, base + t, base + 2 * t, base + 2 * t + 1)
        t //= 2


@numba.njit(cache=True, nogil=True)
def _no_room(capmax, a, dem, i):  # pragma: no cover - compiled
    """No node of subtree a can hold task i even empty (a sound float test)."""
    for k in range(capmax.shape[1]):
        if dem[i, 0, k] > capmax[a, k]:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _cannot_fit(thr, a, dem, i):  # pragma: no cover - compiled
    """No node of subtree a has room for task i now (exact at a leaf)."""
    for k in range(thr.shape[1]):
        if dem[i, 0, k] > thr[a, k]:
            return True
    return False


@numba.njit(cache=True, nogil=True)
def _slack_bound(tr, a, dem, i, scale, d_up, buf):  # pragma: no cover - compiled
    """Least slack (best fit's room left after the task, over scale, summed) of a node of
    subtree a where the task fits: per resource at the subtree's least room (monotone), and
    the linear bound (1 - cu) (sum room / s - sum d / s) with its rounding margin."""
    rmin = tr[6]
    zdn = tr[7]
    K = rmin.shape[1]
    for k in range(K):
        left = rmin[a, k] - dem[i, 0, k]
        buf[k] = (left if left > 0.0 else 0.0) / scale[k]
    sep = _row_sum(buf, K)
    lin = (1.0 - 8.0 * (K + 4) * _U) * (zdn[a] - d_up)
    return lin if lin > sep else sep


@numba.njit(cache=True, nogil=True)
def _over_bound(tr, a, dem, i, scale, d_dn, buf):  # pragma: no cover - compiled
    """Least overload of a node of subtree a (exact at a leaf): per resource at the
    subtree's most room (monotone), and per subset S of resources the linear bound
    ``sum_{k in S} (d_k - room_k) / s_k`` (the overload is at least that: it sums
    ``max(d_k - room_k, 0) / s_k``), its rounding margin included (``d_dn[S]`` is a lower
    bound on ``sum_{k in S} d_k / s_k``)."""
    thr = tr[5]
    wup = tr[8]
    K = thr.shape[1]
    for k in range(K):
        over = -(thr[a, k] - dem[i, 0, k])
        buf[k] = (over if over > 0.0 else 0.0) / scale[k]
    best = _row_sum(buf, K)
    c = 8.0 * (K + 4) * _U
    for si in range(wup.shape[1]):
        lin = (1.0 - c) * ((1.0 - c) * d_dn[si] - wup[a, si])
        if lin > best:
            best = lin
    return best


# --------------------------------------------------------------------------- tree kernel


@numba.njit(cache=True, nogil=True)
def _pruned(mode, bound, tie, bv, bj):  # pragma: no cover - compiled
    """No leaf of a subtree with this bound and least tie index (the lowest index of its
    least key for least-loaded's utilization and least-connections' count, else its lowest
    index) can beat the best so far ``(bv, bj)``; first fit only compares indices."""
    if mode == _FF and bv == np.inf:
        return tie >= bj
    return bound > bv or (bound == bv and tie >= bj)


@numba.njit(inline="always", cache=True, nogil=True)
def _push(stk, stl, sp, n_push, lb_first, ch, lb):  # pragma: no cover - compiled
    """Push child ``ch`` with bound ``lb`` on the search stack so that of a node's two
    children the one of lesser bound is popped first (the left one on equal bounds).
    Returns (sp, n_push, lb_first)."""
    if n_push == 1 and lb < lb_first:  # the lesser bound on top
        stk[sp] = ch
        stl[sp] = lb
        return sp + 1, n_push, lb_first
    if n_push == 1:  # equal or greater: the left child on top
        stk[sp] = stk[sp - 1]
        stl[sp] = stl[sp - 1]
        stk[sp - 1] = ch
        stl[sp - 1] = lb
        return sp + 1, n_push, lb_first
    stk[sp] = ch
    stl[sp] = lb
    return sp + 1, 1, lb


@numba.njit(cache=True, nogil=True)
def _tree_kernel(mode, order, cap, dem, cap_n, dem_n, group_ok, task_group, scale, cls_of,
                 pos_of, nodes, noff, width, toff):  # pragma: no cover - compiled
    N = dem.shape[0]
    M, K = cap.shape
    C = width.shape[0]
    load = np.zeros((M, K))
    count = np.zeros(M, np.int64)
    x = np.empty(N, np.int32)
    tr = _build(mode, load, cap, scale, nodes, noff, width, toff)
    capmax, lo, hi, tkey, kidx, thr = tr[0], tr[1], tr[2], tr[3], tr[4], tr[5]
    elig = np.zeros(C, np.bool_)
    stk = np.empty(_STACK, np.int64)  # DFS stack: tree node (1-based within its class)
    stl = np.empty(_STACK)  # and its bound, computed once when pushed
    buf = np.empty(K)
    d_dn = np.empty(_n_subsets(K))
    nxt = 0
    c_err = 8.0 * (K + 4) * _U
    keyed = mode == _LL or mode == _LC  # ties by kidx (lowest index of the least key)
    for i in order:
        g = task_group[i]
        for c in range(C):  # labels: a whole class or none of it
            elig[c] = group_ok[g, nodes[noff[c]]]
        bv = np.inf  # best value so far (utilization, slack, overload, count)
        bj = _BIG  # and its node
        # ------------------------------------------------------------ the fitting nodes
        # least-loaded: least (utilization, index); first fit: least index; best fit:
        # least (slack, index); subtrees where the task fits no node are skipped
        if mode == _LL or mode == _FF or mode == _BF:
            d_sum = 0.0
            for k in range(K):
                d_sum += dem[i, 0, k] / scale[k]
            d_up = d_sum + c_err * d_sum + _TINY
            for c in range(C):
                if not elig[c]:
                    continue
                base = toff[c]
                P = width[c]
                sp = 0
                a = base + 1  # the root; children are bounded and filtered when pushed
                if not _cannot_fit(thr, a, dem, i):
                    lb = tkey[a] if mode == _LL else (
                        _slack_bound(tr, a, dem, i, scale, d_up, buf) if mode == _BF else 0.0)
                    if not _pruned(mode, lb, kidx[a] if mode == _LL else lo[a], bv, bj):
                        stk[0] = 1
                        stl[0] = lb
                        sp = 1
                while sp > 0:
                    sp -= 1
                    t = stk[sp]
                    a = base + t
                    if _pruned(mode, stl[sp], kidx[a] if mode == _LL else lo[a], bv, bj):
                        continue
                    if t >= P:  # a leaf: the original test and value
                        j = kidx[a]
                        if not _fits_empty(i, j, 0, cap_n, dem_n):
                            continue
                        if mode == _LL:
                            ok = True
                            for k in range(K):
                                if not load[j, k] + dem[i, 0, k] <= cap[j, k]:
                                    ok = False
                            if ok:
                                bv = tkey[a]
                                bj = j
                        else:
                            ok = True
                            for k in range(K):
                                left = (cap[j, k] - load[j, k]) - dem[i, 0, k]
                                if not left >= 0:
                                    ok = False
                                buf[k] = left / scale[k]
                            if ok:
                                if mode == _FF:
                                    bj = j
                                    break  # leaves come in index order
                                s = _row_sum(buf, K)
                                if s < bv or (s == bv and j < bj):
                                    bv = s
                                    bj = j
                        continue
                    n_push = 0
                    lb_first = 0.0
                    for side in range(2):
                        ch = 2 * t + side
                        a = base + ch
                        if _cannot_fit(thr, a, dem, i):
                            continue
                        lb = tkey[a] if mode == _LL else (
                            _slack_bound(tr, a, dem, i, scale, d_up, buf) if mode == _BF
                            else 0.0)
                        if _pruned(mode, lb, kidx[a] if mode == _LL else lo[a], bv, bj):
                            continue
                        sp, n_push, lb_first = _push(stk, stl, sp, n_push, lb_first, ch, lb)
        # ------------------------------------------------------------ over all allowed nodes
        if bj == _BIG:
            bv = np.inf
            if mode == _RR:  # the first allowed node from nxt on, else the first of all
                for wrap in range(2):
                    start = nxt if wrap == 0 else 0
                    for c in range(C):
                        if not elig[c]:
                            continue
                        base = toff[c]
                        P = width[c]
                        stk[0] = 1
                        sp = 1
                        while sp > 0:
                            sp -= 1
                            t = stk[sp]
                            a = base + t
                            if hi[a] < start or lo[a] >= bj or _no_room(capmax, a, dem, i):
                                continue
                            if t >= P:
                                if _fits_empty(i, lo[a], 0, cap_n, dem_n):
                                    bj = lo[a]
                                    break
                                continue
                            stk[sp] = 2 * t + 1
                            stk[sp + 1] = 2 * t
                            sp += 2
                    if bj != _BIG:
                        break
            else:  # the least key (utilization, count) or, for first / best fit, overload
                if not keyed:
                    for si in range(d_dn.shape[0]):
                        mask = _subset(si, K)
                        d_sum = 0.0
                        for k in range(K):
                            if mask >> k & 1:
                                d_sum += dem[i, 0, k] / scale[k]
                        d_dn[si] = d_sum - c_err * d_sum - _TINY
                for c in range(C):
                    if not elig[c]:
                        continue
                    base = toff[c]
                    P = width[c]
                    sp = 0
                    a = base + 1
                    if not _no_room(capmax, a, dem, i):
                        lb = tkey[a] if keyed else _over_bound(tr, a, dem, i, scale, d_dn, buf)
                        if not _pruned(mode, lb, kidx[a] if keyed else lo[a], bv, bj):
                            stk[0] = 1
                            stl[0] = lb
                            sp = 1
                    while sp > 0:
                        sp -= 1
                        t = stk[sp]
                        a = base + t
                        if _pruned(mode, stl[sp], kidx[a] if keyed else lo[a], bv, bj):
                            continue
                        if t >= P:  # a leaf: the key, or the overload as numpy computes it
                            j = lo[a]
                            if not _fits_empty(i, j, 0, cap_n, dem_n):
                                continue
                            if keyed:
                                v = tkey[a]
                            else:
                                for k in range(K):
                                    over = -((cap[j, k] - load[j, k]) - dem[i, 0, k])
                                    buf[k] = (over if over > 0.0 else 0.0) / scale[k]
                                v = _row_sum(buf, K)
                            if v < bv or (v == bv and j < bj):
                                bv = v
                                bj = j
                            continue
                        n_push = 0
                        lb_first = 0.0
                        for side in range(2):
                            ch = 2 * t + side
                            a = base + ch
                            if lo[a] == _BIG or _no_room(capmax, a, dem, i):
                                continue
                            lb = tkey[a] if keyed else _over_bound(tr, a, dem, i, scale, d_dn,
                                                                   buf)
                            if _pruned(mode, lb, kidx[a] if keyed else lo[a], bv, bj):
                                continue
                            sp, n_push, lb_first = _push(stk, stl, sp, n_push, lb_first, ch, lb)
        # ------------------------------------------------------------ place it
        j = bj
        x[i] = j
        if mode == _RR:
            nxt = (j + 1) % M
        elif mode == _LC:
            count[j] += 1
            _update(mode, tr, j, load, cap, scale, float(count[j]), cls_of, pos_of, width, toff)
        else:
            for k in range(K):
                load[j, k] += dem[i, 0, k]
            key = _utilization(load, cap, j) if mode == _LL else 0.0
            _update(mode, tr, j, load, cap, scale, key, cls_of, pos_of, width, toff)
    return x


# --------------------------------------------------------------------------- scan kernel


@numba.njit(cache=True, nogil=True)
def _allowed(i, j, g, cap_n, dem_n, runtime, has_runtime, group_ok,
             per_node):  # pragma: no cover - compiled
    """``Problem.allowed_nodes``' rule for task i on node j."""
    if not group_ok[g, j]:
        return False
    if has_runtime and not np.isfinite(runtime[i, j]):
        return False
    return _fits_empty(i, j, j if per_node else 0, cap_n, dem_n)


@numba.njit(cache=True, nogil=True)
def _scan_kernel(mode, order, cap, dem, cap_n, dem_n, runtime, has_runtime, group_ok,
                 task_group, scale):  # pragma: no cover - compiled
    """The per-task rules as plain loops over all nodes (runtime matrix, per-node demand)."""
    N = dem.shape[0]
    M, K = cap.shape
    per_node = dem.shape[1] > 1
    load = np.zeros((M, K))
    util = np.zeros(M)
    count = np.zeros(M, np.int64)
    x = np.empty(N, np.int32)
    buf = np.empty(K)
    nxt = 0
    for i in order:
        g = task_group[i]
        bj = -1
        if mode == _RR:
            for step in range(M):
                j = nxt + step
                if j >= M:
                    j -= M
                if _allowed(i, j, g, cap_n, dem_n, runtime, has_runtime, group_ok, per_node):
                    bj = j
                    break
            nxt = (bj + 1) % M
        elif mode == _LC:
            for j in range(M):
                if _allowed(i, j, g, cap_n, dem_n, runtime, has_runtime, group_ok, per_node):
                    if bj < 0 or count[j] < count[bj]:
                        bj = j
            count[bj] += 1
        elif mode == _LL:  # (does not fit, utilization, index) least
            b_fit = False
            for j in range(M):
                if not _allowed(i, j, g, cap_n, dem_n, runtime, has_runtime, group_ok,
                                per_node):
                    continue
                jj = j if per_node else 0
                fits = True
                for k in range(K):
                    if not load[j, k] + dem[i, jj, k] <= cap[j, k]:
                        fits = False
                if bj < 0 or (fits and not b_fit) or (fits == b_fit and util[j] < util[bj]):
                    bj = j
                    b_fit = fits
        else:  # first fit, best fit; else the least overload
            bv = np.inf
            for j in range(M):
                if not _allowed(i, j, g, cap_n, dem_n, runtime, has_runtime, group_ok,
                                per_node):
                    continue
                jj = j if per_node else 0
                fits = True
                for k in range(K):
                    left = (cap[j, k] - load[j, k]) - dem[i, jj, k]
                    if not left >= 0:
                        fits = False
                    buf[k] = left / scale[k]
                if fits:
                    if mode == _FF:
                        bj = j
                        break
                    s = _row_sum(buf, K)
                    if s < bv:
                        bv = s
                        bj = j
            if bj < 0:
                for j in range(M):
                    if not _allowed(i, j, g, cap_n, dem_n, runtime, has_runtime, group_ok,
                                    per_node):
                        continue
                    jj = j if per_node else 0
                    for k in range(K):
                        over = -((cap[j, k] - load[j, k]) - dem[i, jj, k])
                        buf[k] = (over if over > 0.0 else 0.0) / scale[k]
                    s = _row_sum(buf, K)
                    if s < bv:
                        bv = s
                        bj = j
        x[i] = bj
        if mode == _LL or mode == _FF or mode == _BF:
            jj = bj if per_node else 0
            for k in range(K):
                load[bj, k] += dem[i, jj, k]
            if mode == _LL:
                util[bj] = _utilization(load, cap, bj)
    return x


# --------------------------------------------------------------------------- entry points


def _run(problem: Problem, mode: int, order: np.ndarray | list[int],
         classes: Classes | str | None) -> np.ndarray:
    d = _data(problem)
    o = _ro(np.asarray(order), np.int64)
    if d.has_runtime or problem.per_node_demand or classes == "scan":
        return _scan_kernel(mode, o, d.cap, d.dem, d.cap_n, d.dem_n, d.runtime, d.has_runtime,
                            d.group_ok, d.task_group, d.scale)
    cl = classes if isinstance(classes, Classes) else classes_of(problem, classes or "auto")
    return _tree_kernel(mode, o, d.cap, d.dem, d.cap_n, d.dem_n, d.group_ok, d.task_group,
                        d.scale, cl.cls_of, cl.pos_of, cl.nodes, cl.noff, cl.width, cl.toff)


def least_loaded(problem: Problem, order: np.ndarray | list[int],
                 classes: Classes | str | None = None) -> np.ndarray:
    """Placement-mode least-loaded assignment (N,) int32 of the tasks taken in ``order``.

    ``classes``: a :class:`Classes`, a ``how`` of :func:`classes_of`, or ``"scan"`` (the
    plain loops); the default picks (all give the same answer)."""
    return _run(problem, _LL, order, classes)


def first_fit(problem: Problem, order: np.ndarray | list[int],
              classes: Classes | str | None = None) -> np.ndarray:
    """First fit of the tasks in ``order``, else the least overload: (N,) int32."""
    return _run(problem, _FF, order, classes)


def best_fit(problem: Problem, order: np.ndarray | list[int],
             classes: Classes | str | None = None) -> np.ndarray:
    """Best fit of the tasks in ``order``, else the least overload: (N,) int32."""
    return _run(problem, _BF, order, classes)


def round_robin(problem: Problem, order: np.ndarray | list[int],
                classes: Classes | str | None = None) -> np.ndarray:
    """Round robin over the allowed nodes of the tasks in ``order``: (N,) int32."""
    return _run(problem, _RR, order, classes)


def least_connections(problem: Problem, order: np.ndarray | list[int],
                      classes: Classes | str | None = None) -> np.ndarray:
    """Fewest tasks so far, lowest index among equals, for the tasks in ``order``: (N,)
    int32."""
    return _run(problem, _LC, order, classes)

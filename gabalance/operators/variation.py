"""Batched GA operators over ``xp`` (numpy now, cupy with no change).

Shapes: a population of assignments is (P, N) int32 (node of each task); priority keys are
(P, N) float64 where a smaller key means an earlier place in the schedule decoder's list.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gabalance.evaluate import rank_order
from gabalance.problem import Problem


def tournament(xp: Any, rng: Any, rank: Any, n: int, size: int) -> Any:
    """Tournament selection: ``n`` winners, each the best-ranked of ``size`` uniform draws.

    ``rank`` (P,) int: 0 for the best individual (feasibility first, see ``rank_order``).
    Returns (n,) int64 indices into the population (Goldberg & Deb 1991).
    """
    P = rank.shape[0]
    cand = rng.integers(0, P, (n, size))
    best = xp.argmin(rank[cand], axis=1)
    return xp.take_along_axis(cand, best[:, None], axis=1)[:, 0]


def crossover_uniform(xp: Any, rng: Any, a: Any, b: Any, rate: float) -> Any:
    """Uniform crossover (Syswerda 1989): each gene from ``a`` or ``b`` with probability 1/2;
    a row is copied from ``a`` unchanged with probability ``1 - rate``. (C, N) -> (C, N)."""
    C, N = a.shape
    mix = rng.random((C, 1)) < rate
    take_b = (rng.random((C, N)) < 0.5) & mix
    return xp.where(take_b, b, a)


def standardize_keys(xp: Any, keys: Any) -> Any:
    """Keys replaced by their ranks (0 .. N-1, ties by task index): the same decoder order,
    in a form where the activity-list operators below apply. (P, N) float64."""
    order = xp.argsort(keys, axis=1, kind="stable")
    ranks = xp.empty_like(order)
    rows = xp.arange(keys.shape[0])[:, None]
    ranks[rows, order] = xp.arange(keys.shape[1])[None, :]
    return ranks.astype(xp.float64)


def crossover_keys(xp: Any, rng: Any, a: Any, b: Any, rate: float) -> Any:
    """Two-point crossover of activity lists (Hartmann 1998) on standardized keys.

    The child's list takes positions ``[0, q1)`` from ``a``, then the next ``q2 - q1`` tasks
    not yet taken in ``b``'s order, then the rest in ``a``'s order. Rows without crossover
    (probability ``1 - rate``) copy ``a``. ``a``, ``b``: (C, N) ranks. Returns (C, N) ranks.
    """
    C, N = a.shape
    cuts = xp.sort(rng.integers(0, N + 1, (C, 2)), axis=1)
    q1, q2 = cuts[:, :1], cuts[:, 1:]
    from_a = a < q1
    order_b = xp.argsort(b, axis=1, kind="stable")
    rest_in_b = ~xp.take_along_axis(from_a, order_b, axis=1)
    pos = xp.cumsum(rest_in_b, axis=1) - 1  # place among the remaining tasks, in b's order
    pos_task = xp.empty_like(pos)
    rows = xp.arange(C)[:, None]
    pos_task[rows, order_b] = pos
    from_b = ~from_a & (pos_task < (q2 - q1))
    child = xp.where(from_a, a, xp.where(from_b, q1 + pos_task, N + a))
    child = standardize_keys(xp, child)
    mix = rng.random((C, 1)) < rate
    return xp.where(mix, child, a)


def mutate_keys(xp: Any, rng: Any, keys: Any, rate: float) -> Any:
    """Shift mutation on ranks: each task, with probability ``rate``, moves by up to two
    places either way in the list (a neighbour swap when the decoder allows it; cf. Hartmann
    1998). (C, N) -> (C, N) float64 (no longer standardized)."""
    C, N = keys.shape
    hit = rng.random((C, N)) < rate
    return xp.where(hit, keys + (rng.random((C, N)) * 5.0 - 2.5), keys)


#: N * M up to which the sampler reads the (N, M) eligibility table
_SMALL = 1 << 25


def _shared_lists(problem: Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start (N,), count (N,), nodes) of every task's allowed nodes without the (N, M)
    table: tasks with the same label class and the same set of distinct node capacities they
    fit in share one list (a large cluster has few node types), else one list per task."""
    N = problem.n_tasks
    group_ok, task_group = problem.label_ok()
    cap = problem.capacity
    kinds, node_kind = np.unique(cap, axis=0, return_inverse=True)
    node_kind = node_kind.reshape(-1)
    if problem.runtime is not None or problem.per_node_demand or len(kinds) > 62:
        lists = [problem.allowed_nodes(i).astype(np.int32) for i in range(N)]
        counts = np.array([len(v) for v in lists], np.int64)
        start = np.zeros(N, np.int64)
        np.cumsum(counts[:-1], out=start[1:])
        return start, counts, np.concatenate(lists)
    fits = np.zeros(N, np.int64)  # bit u: the task fits an empty node of capacity kinds[u]
    for u, row in enumerate(kinds):
        fits |= np.all(problem.demand <= row[None, :], axis=1).astype(np.int64) << u
    key = np.stack([task_group.astype(np.int64), fits], axis=1)
    classes, task_class = np.unique(key, axis=0, return_inverse=True)
    task_class = task_class.reshape(-1)
    lists = []
    for g, bits in classes:
        ok = group_ok[g] & (((bits >> node_kind) & 1) == 1)
        lists.append(np.flatnonzero(ok).astype(np.int32))
    counts_c = np.array([len(v) for v in lists], np.int64)
    start_c = np.zeros(len(lists), np.int64)
    np.cumsum(counts_c[:-1], out=start_c[1:])
    return start_c[task_class], counts_c[task_class], np.concatenate(lists)


class AllowedSampler:
    """Draws uniformly among each task's allowed nodes, batched.

    Built once per problem as sorted node lists (``start``, ``stop`` (N,), ``nodes`` (nnz,)
    int32), from the eligibility table on small problems and from shared per-class lists on
    large ones (:func:`_shared_lists`); ``xp`` arrays, so it runs on the device with the
    population.
    """

    def __init__(self, xp: Any, problem: Problem) -> None:
        self.xp = xp
        N, M = problem.n_tasks, problem.n_nodes
        if N * M <= _SMALL:
            table = problem.allowed
            counts = table.sum(axis=1)
            nodes = np.nonzero(table)[1].astype(np.int32)
            start = np.zeros(N, np.int64)
            np.cumsum(counts[:-1], out=start[1:])
        else:
            start, counts, nodes = _shared_lists(problem)
        self.everywhere = bool((counts == M).all())
        self.n_nodes = M
        #: the allowed nodes of task i are nodes[start[i]:stop[i]], sorted (tasks with the
        #: same eligibility may share one list)
        self.start = xp.asarray(start.astype(np.int64))
        self.stop = xp.asarray((start + counts).astype(np.int64))
        self.count = xp.asarray(counts.astype(np.int64))
        self.nodes = xp.asarray(nodes)

    def draw(self, rng: Any, shape: tuple[int, int]) -> Any:
        """(C, N) int32: for every task (column) an allowed node chosen uniformly."""
        return self.decode(rng.random(shape))

    def decode(self, u: Any) -> Any:
        """(C, N) nodes for keys ``u`` in [0, 1): key u of task i picks the node at position
        ``floor(u * count_i)`` of the task's sorted list of allowed nodes."""
        xp = self.xp
        if self.everywhere:
            return xp.minimum((u * self.n_nodes).astype(xp.int32), self.n_nodes - 1)
        pick = xp.minimum((u * self.count[None, :]).astype(xp.int64), self.count[None, :] - 1)
        return self.nodes[self.start[None, :] + pick]

    def encode(self, pop: Any) -> Any:
        """(C, N) float64 keys that :meth:`decode` maps back to ``pop``: the middle of each
        gene's interval (genes on nodes that are not allowed get the nearest position)."""
        xp = self.xp
        if self.everywhere:
            return (pop.astype(xp.float64) + 0.5) / self.n_nodes
        pos = xp.minimum(self._lower_bound(pop) - self.start[None, :], self.count[None, :] - 1)
        return (pos.astype(xp.float64) + 0.5) / self.count[None, :]

    def allowed(self, pop: Any) -> Any:
        """(C, N) bool: whether each gene names an allowed node (binary search in the CSR)."""
        xp = self.xp
        if self.everywhere:
            return xp.ones(pop.shape, bool)
        lo = self._lower_bound(pop)
        inside = lo < self.stop[None, :]
        return inside & (self.nodes[xp.minimum(lo, self.nodes.shape[0] - 1)] == pop)

    def _lower_bound(self, pop: Any) -> Any:
        """(C, N) CSR index of the first allowed node >= each gene, per task."""
        xp = self.xp
        C, N = pop.shape
        lo = xp.broadcast_to(self.start[None, :], (C, N)).copy()
        hi = xp.broadcast_to(self.stop[None, :], (C, N)).copy()
        while True:  # lower bound of the gene in the task's sorted node list
            open_ = lo < hi
            if not bool(open_.any()):
                break
            mid = (lo + hi) // 2
            val = self.nodes[xp.minimum(mid, self.nodes.shape[0] - 1)]
            go_right = open_ & (val < pop)
            lo = xp.where(go_right, mid + 1, lo)
            hi = xp.where(open_ & ~go_right, mid, hi)
        return lo


def mutate_reassign(xp: Any, rng: Any, pop: Any, rate: float, sampler: AllowedSampler) -> Any:
    """Each gene, with probability ``rate``, moves to an allowed node drawn uniformly."""
    hit = rng.random(pop.shape) < rate
    return xp.where(hit, sampler.draw(rng, pop.shape), pop)


def mutate_swap(xp: Any, rng: Any, pop: Any, rate: float) -> Any:
    """With probability ``rate`` per row, two random tasks exchange their nodes."""
    C, N = pop.shape
    out = pop.copy()
    rows = xp.flatnonzero(rng.random(C) < rate)
    if rows.shape[0] == 0 or N < 2:
        return out
    a = rng.integers(0, N, rows.shape[0])
    b = rng.integers(0, N, rows.shape[0])
    va, vb = out[rows, a], out[rows, b]
    out[rows, a] = vb
    out[rows, b] = va
    return out


def row_hash(xp: Any, pop: Any, keys: Any, weights: Any) -> Any:
    """(P,) int64 fingerprint of each genome (assignment, and the key order when given):
    a dot product with fixed random odd weights, wrapping modulo 2**64."""
    N = pop.shape[1]
    h = (pop.astype(xp.int64) * weights[None, :N]).sum(axis=1)
    if keys is not None:
        ranks = standardize_keys(xp, keys).astype(xp.int64)
        h = h + (ranks * weights[None, N:]).sum(axis=1)
    return h


def select_survivors(xp: Any, objective: Any, violation: Any, hashes: Any, n: int,
                     sense: str) -> Any:
    """Elitist (mu + lambda) replacement with duplicate control.

    Among the pooled parents and children, keep one copy of each distinct genome (the first:
    parents come first in the pool), rank feasibility-first and return the indices of the
    best ``n`` (fewer only if fewer are distinct; then duplicates fill the rest, best first).
    """
    _, first = xp.unique(hashes, return_index=True)
    distinct = xp.zeros(hashes.shape[0], bool)
    distinct[first] = True
    order = xp.asarray(rank_order(objective, violation, sense))
    order = xp.concatenate([order[distinct[order]], order[~distinct[order]]])
    return order[:n]

"""Repair and local improvement as operators (pymoo's habit): the GA and PSO call one object,
which hands the hot loops to the chosen backend's kernels.

Placement (docs/search.md): eligibility repair, capacity repair (tasks leave overloaded nodes
for allowed nodes with room, best objective first; then moves that shrink the overload), and
local improvement that never adds overload: shift and swap moves for ``cost`` (Chu & Beasley
1997; Osman 1995), bottleneck moves for ``max_utilization``, node emptying for ``nodes_used``
and variance-lowering shifts for ``imbalance``.

Schedule: eligibility repair of the assignment, then forward-backward improvement
(justification; Valls, Ballestin & Quintanilla 2005, Tormos & Lova 2001) of the key order:
decode, right-justify by decoding the reversed problem in order of decreasing finish times,
left-justify again in order of the right-justified start times; the better of the original
and the justified genome is kept.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from gabalance.arrays import to_host
from gabalance.backend import OBJECTIVE_CODES, Packed, get_backend, pack
from gabalance.operators.variation import AllowedSampler, standardize_keys
from gabalance.problem import Problem, mode_of


def reverse_packed(problem: Problem) -> Packed:
    """The problem with every dependency reversed and no release times: decoding it schedules
    tasks as late as possible, read backwards in time (cached on the problem)."""
    return problem.memo("reversed", lambda: _reverse_packed(problem))


def _reverse_packed(problem: Problem) -> Packed:
    pk = pack(problem)
    n = problem.n_tasks
    e = problem.edges
    # predecessors in the reversed graph are the successors in the original one
    order = np.lexsort((e[:, 0], e[:, 1]))
    ptr = np.searchsorted(e[order, 1], np.arange(n + 1)).astype(np.int64)
    succ_dst = e[order, 0].astype(np.int64)
    order_s = np.lexsort((e[:, 1], e[:, 0]))
    ptr_s = np.searchsorted(e[order_s, 0], np.arange(n + 1)).astype(np.int64)
    rev = replace(pk, pred_ptr=ptr_s, pred_src=e[order_s, 1].astype(np.int64),
                  pred_data=np.ascontiguousarray(problem.data[order_s]),
                  succ_ptr=ptr, succ_dst=succ_dst, release=np.zeros(n),
                  bw=np.ascontiguousarray(pk.bw.T))
    return rev


def _frozen(a: Any, dtype: Any) -> np.ndarray:
    """A C-ordered, read-only copy of ``a`` in ``dtype``: one array type per record field,
    so a kernel compiles once per data variant."""
    out = np.array(a, dtype=dtype, order="C", copy=True)
    out.setflags(write=False)
    return out


class Search:
    """Repair + improvement for one problem, objective and backend.

    Parameters
    ----------
    problem : Problem
    objective : str
    sense : {"min", "max"}
    backend : str
        A resolved backend name ("numba" or "numpy").
    xp : module
        numpy (or cupy) for the population arrays.
    """

    def __init__(self, problem: Problem, objective: str, sense: str, backend: str,
                 xp: Any = np) -> None:
        self.problem, self.objective, self.sense = problem, objective, sense
        self.mode = mode_of(objective)
        self.code = OBJECTIVE_CODES[objective]
        self.sign = -1.0 if sense == "max" else 1.0
        self.be = get_backend(backend)
        self.pk = pack(problem)
        self.xp = xp
        self.sampler = AllowedSampler(xp, problem)
        #: a gabalance._clock.Clock with the run's time limit, when there is one: the LP
        #: relaxation gets at most a quarter of the time left
        self.clock: Any = None
        #: candidate list length of the incremental cost search
        self.candidates = 20
        self._engine: Any = None
        self._util: Any = None
        self._critical: Any = None
        self.lp: Any = None

    #: N * M from which ``max_utilization`` uses the bottleneck engine of
    #: :mod:`gabalance.backend._numba_balance` (numba backend): below it, the scan engine,
    #: whose moves look at every node, is affordable
    BOTTLENECK_SIZE = 1 << 24

    @property
    def bottleneck(self) -> bool:
        """Whether ``max_utilization`` uses the bottleneck engine (large problems, numba)."""
        p = self.problem
        return (self.code == 1 and self.mode == "placement"
                and hasattr(self.be, "search_utilization")
                and p.n_tasks * p.n_nodes >= self.BOTTLENECK_SIZE)

    def util_engine(self, rng: Any) -> Any:
        """The record of the bottleneck engine, built once; each task's ``candidates``
        candidate nodes are drawn uniformly from its allowed nodes with ``rng``."""
        if self._util is None:
            from gabalance.backend.host import UtilRecord

            pk, problem = self.pk, self.problem
            L = max(1, self.candidates)
            cand = to_host(self.sampler.draw(rng, (L, problem.n_tasks))).T
            group_ok, task_group = problem.label_ok()
            counts = group_ok.sum(axis=1)
            gptr = np.zeros(len(counts) + 1, np.int64)
            np.cumsum(counts, out=gptr[1:])
            gnodes = np.nonzero(group_ok)[1]
            dtype = np.int64 if pk.capacity.dtype.kind in "iub" else np.float64
            runtime = pk.runtime if pk.has_runtime else np.zeros((1, 1))
            self._util = UtilRecord(
                capacity=_frozen(pk.capacity, dtype), demand3=_frozen(pk.demand3, dtype),
                scale=_frozen(pk.scale, np.float64), group_ok=_frozen(group_ok, np.bool_),
                task_group=_frozen(task_group, np.int32), gptr=_frozen(gptr, np.int64),
                gnodes=_frozen(gnodes, np.int64), cand=_frozen(cand, np.int64),
                has_runtime=bool(pk.has_runtime), runtime=_frozen(runtime, np.float64))
        return self._util

    def evaluate(self, pop: Any, keys: Any = None) -> tuple[Any, Any]:
        """(objective (P,), violation (P,)) of genomes as they are."""
        if self.mode == "placement":
            return self.be.placement(self.pk, pop, self.code)
        obj, viol, _, _ = self.be.schedule(self.pk, pop, keys, self.code,
                                           np.zeros(0, np.int64))
        return obj, viol

    def penalty_unit(self) -> float:
        """The oscillation weight that makes overloading a node by one task of average size
        cost as much as the score's whole range (cost objective)."""
        if getattr(self, "_unit", None) is None:
            from gabalance.backend import score_matrix

            score = score_matrix(self.pk, 1.0)
            finite = score[np.isfinite(score)] if score.shape[0] > 1 else np.zeros(1)
            spread = float(finite.max() - finite.min()) if finite.size else 0.0
            scale = self.pk.scale
            d = self.pk.demand3[..., scale > 0] / scale[scale > 0]
            typical = float(d.mean()) if d.size else 0.0
            self._unit = (spread or 1.0) / (typical or 1.0)
        return self._unit

    @property
    def incremental(self) -> bool:
        """Whether the cost objective uses the incremental search
        (:mod:`gabalance.backend._numba_search`; numba backend)."""
        return self.code == 0 and self.mode == "placement" and hasattr(self.be, "search_cost")

    def cost_engine(self) -> Any:
        """The record of the incremental cost search, built once: the signed score, and
        candidate lists ordered by the LP relaxation's reduced costs when HiGHS solves it
        before ``deadline`` (``self.lp`` then holds it), else by cost."""
        if self._engine is None:
            from gabalance.backend import score_matrix
            from gabalance.backend.host import CostRecord
            from gabalance.relax import candidate_lists, lp_relaxation

            pk, problem = self.pk, self.problem
            score = score_matrix(pk, self.sign)
            if score.shape != (problem.n_tasks, problem.n_nodes):
                score = self.sign * (pk.duration[:, None] / pk.speed[None, :])
            score = np.ascontiguousarray(score, np.float64)
            limit = None
            if self.clock is not None and self.clock.limit is not None:
                limit = 0.25 * self.clock.remaining()
            if limit is None or limit > 0.05:
                self.lp = lp_relaxation(problem, score, limit)
            allowed = np.ascontiguousarray(problem.allowed)
            cand = candidate_lists(score, allowed, self.candidates,
                                   None if self.lp is None else self.lp.reduced)
            dtype = np.int64 if pk.capacity.dtype.kind in "iub" else np.float64
            self._engine = CostRecord(
                capacity=_frozen(pk.capacity, dtype), demand3=_frozen(pk.demand3, dtype),
                scale=_frozen(pk.scale, np.float64), score=_frozen(score, np.float64),
                cand=_frozen(cand, np.int64), allowed=_frozen(allowed, np.bool_))
        return self._engine

    def placement(self, rng: Any, pop: Any, passes: int, oscillation: float = 0.0,
                  rounds: int = 8) -> tuple[Any, Any]:
        """Repair and improve ``pop`` (P, N) int32 in place; return its objective, violation.

        Cost objective on the numba backend: the incremental search of
        :mod:`gabalance.backend._numba_search`, ``rounds`` local optima per individual of at
        most ``passes`` sweeps each, from a penalty weight drawn uniformly from
        ``[0, 2 * oscillation] * penalty_unit()`` (at least ``0.1 * penalty_unit()``).
        Otherwise, ``oscillation`` > 0 (cost objective): each individual first descends on
        the score plus a penalty on overload whose weight is drawn uniformly from
        ``[0, 2 * oscillation] * penalty_unit()``, so the search crosses infeasible ground
        before the capacity repair."""
        orders = self.xp.argsort(rng.random(pop.shape), axis=1)
        if self.bottleneck:
            rec = self.util_engine(rng)
            self.be.search_utilization(rec, pop, orders, max(1, passes),
                                       max(1, passes) * pop.shape[1])
            return self.be.placement(self.pk, pop, self.code)
        if self.incremental:
            rec = self.cost_engine()
            unit = self.penalty_unit()
            xp = self.xp  # drawn where the population lives
            w0 = xp.maximum(0.1, rng.random(pop.shape[0]) * 2 * oscillation) * unit
            self.be.search_cost(rec, pop, orders, w0, unit, rounds, max(1, passes))
            return self.be.placement(self.pk, pop, self.code)
        weights = None
        if oscillation > 0 and self.code == 0:
            weights = rng.random(pop.shape[0]) * (2 * oscillation * self.penalty_unit())
        self.be.improve_placement(self.pk, pop, orders, self.code, self.sign, passes, weights)
        return self.be.placement(self.pk, pop, self.code)

    def repair_assignment(self, rng: Any, pop: Any) -> Any:
        """Genes on nodes the task may not use move to an allowed node drawn uniformly."""
        if self.sampler.everywhere:
            return pop
        bad = ~self.sampler.allowed(pop)
        if not bool(bad.any()):
            return pop
        return self.xp.where(bad, self.sampler.draw(rng, pop.shape), pop)

    def reassign(self, rng: Any, pop: Any, keys: Any, obj: Any, viol: Any, tries: int
                 ) -> tuple[Any, Any, Any, int]:
        """Schedule mode: ``tries`` rounds of one move per individual (a random task to a
        random allowed node), all decoded in one batch; a move is kept when it makes the
        individual better (feasibility first). Returns (pop, objective, violation, decodes)."""
        xp = self.xp
        P, N = pop.shape
        if tries <= 0 or self.problem.n_nodes < 2:
            return pop, obj, viol, 0
        rows = xp.arange(P)
        for _ in range(tries):
            task = rng.integers(0, N, P)
            node = self.sampler.draw(rng, (P, N))[rows, task]
            cand = pop.copy()
            cand[rows, task] = node
            o2, v2 = self.evaluate(cand, keys)
            better = (v2 < viol) | ((v2 == viol) & (o2 < obj))
            pop = xp.where(better[:, None], cand, pop)
            obj = xp.where(better, o2, obj)
            viol = xp.where(better, v2, viol)
        return pop, obj, viol, tries * P

    def critical(self, rng: Any, pop: Any, keys: Any, budget: int, width: int = 8
                 ) -> tuple[Any, Any, Any, Any, int]:
        """Schedule mode: critical-path search (:mod:`gabalance.backend._numba_critical`) on
        every individual, ``budget`` decodes each: chain tasks move to the nodes where they
        are ready and done earliest, capacity waits on the chain swap priorities, each kept
        at the first improvement. Runs on the host on every backend (the moves are
        sequential per individual); the population comes back where it lives.

        Returns (pop, keys, objective, violation, decodes)."""
        from gabalance.backend.host import critical_search, heads

        xp = self.xp
        if self._critical is None:
            p = self.problem
            order = np.full((p.n_tasks, p.n_nodes), -1, np.int64)
            for i in range(p.n_tasks):
                nodes = p.allowed_nodes(i)
                order[i, :len(nodes)] = nodes
            self._critical = (heads(self.pk), order)
        head, order = self._critical
        P = pop.shape[0]
        seeds = np.asarray(to_host(rng.integers(1, 2**62, P)), np.uint64)
        x = np.array(to_host(pop), np.int32, order="C")
        k = np.array(to_host(keys), np.float64, order="C")
        obj, viol, used = critical_search(self.pk, x, k, self.code, budget, width, seeds, head,
                                          order)
        return (xp.asarray(x), xp.asarray(k), xp.asarray(obj), xp.asarray(viol),
                int(used.sum()))

    def schedule(self, rng: Any, pop: Any, keys: Any, fbi: bool
                 ) -> tuple[Any, Any, Any, Any]:
        """Repair the assignment, justify the keys; returns (pop, keys, objective, violation)
        with ``keys`` standardized (ranks), consistent with the objective returned."""
        xp = self.xp
        pop = self.repair_assignment(rng, pop)
        keys = standardize_keys(xp, keys)
        rows = np.arange(pop.shape[0])
        obj, viol, _, finish = self.be.schedule(self.pk, pop, keys, self.code, rows)
        if not fbi:
            return pop, keys, obj, viol
        rev = reverse_packed(self.problem)
        _, _, _, back = self.be.schedule(rev, pop, -finish, self.code, rows)
        keys2 = standardize_keys(xp, -back)
        obj2, viol2, _, _ = self.be.schedule(self.pk, pop, keys2, self.code,
                                             np.zeros(0, np.int64))
        better = (viol2 < viol) | ((viol2 == viol) & (obj2 <= obj))
        keys = xp.where(better[:, None], keys2, keys)
        return pop, keys, xp.where(better, obj2, obj), xp.where(better, viol2, viol)

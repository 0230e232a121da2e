"""A genetic algorithm for both modes, run as whole-population array operations plus kernels.

Genome: the assignment ``x`` (N,) int32 (node of each task) and, in schedule mode, priority
keys (N,) float64 kept as ranks (an activity list). One generation:

1. tournament selection on the feasibility-first rank (Deb 2000; Chu & Beasley 1997 keep
   fitness and unfitness apart in the same spirit);
2. uniform crossover of assignments (Syswerda 1989), two-point crossover of activity lists
   (Hartmann 1998);
3. reassignment mutation to a uniformly drawn allowed node, a swap of two tasks' nodes, and a
   shift mutation of list positions;
4. repair and local improvement of every child (:mod:`gabalance.operators.search`): capacity
   and eligibility repair plus shift/swap moves in placement mode, forward-backward
   improvement in schedule mode;
5. elitist (mu + lambda) replacement that keeps one copy of each distinct genome.

Steps 1-3 and 5 are written once against ``xp``; step 4 runs in the backend's kernels. Part
of the first population comes from the baselines (:mod:`gabalance.baselines`), the rest is
drawn at random; on stagnation the population is refreshed around its best members.

Use it step by step::

    ga = GA(problem, "cost", seed=0)
    ga.init()
    for _ in range(100):
        x, keys = ga.ask()               # children, repaired, improved and evaluated
        ga.tell(x, keys)                 # merged; the values ask computed are reused
    ga.best                              # (x, keys, objective, violation)

or let :func:`gabalance.solve` drive it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from gabalance._params import DictRoundTrip
from gabalance.algorithms.base import Searcher
from gabalance.arrays import to_host
from gabalance.backend import resolve_backend
from gabalance.evaluate import rank_order
from gabalance.operators.search import Search
from gabalance.operators.variation import (
    crossover_keys,
    crossover_uniform,
    mutate_keys,
    mutate_reassign,
    mutate_swap,
    row_hash,
    select_survivors,
    standardize_keys,
    tournament,
)
from gabalance.problem import Problem

__all__ = ["GA", "GAParams", "Searcher"]


@dataclass(frozen=True)
class GAParams(DictRoundTrip):
    """Parameters of :class:`GA` (immutable; ``dataclasses.replace`` makes variants).

    Attributes
    ----------
    population : int, default 100
        Individuals kept from one generation to the next (mu).
    offspring : int or None, default None
        Children per generation (lambda). None means ``population``, except under a time
        limit in placement mode, where a generation is cut to the children that fit in
        :attr:`GA.GENERATION_SHARE` of the limit (at least 2; a generation gap in De Jong's
        1975 sense, as in the steady-state GAP GA of Chu & Beasley 1997), so that the
        population evolves on large instances whose children take long to improve.
    tournament : int, default 2
        Tournament size (binary tournaments, as in Chu & Beasley 1997).
    crossover : float, default 0.9
        Probability that a child mixes two parents instead of copying one.
    mutation : float or None, default None
        Per-gene probability of moving a task to a random allowed node; None means
        ``min(1, 2 / N)`` (two genes per child on average, Chu & Beasley 1997).
    swap : float, default 0.3
        Probability per child that two random tasks exchange their nodes.
    key_mutation : float, default 0.05
        Schedule mode: per-task probability of a shift of its list position (Hartmann 1998).
    local_search : int, default 3
        Placement mode: passes of repair and shift/swap/ejection-chain improvement per child
        (0: repair only, no improvement).
    oscillation : float, default 1.0
        Cost objective: strength of the penalized descent that precedes repair (strategic
        oscillation; Yagiura, Ibaraki & Glover 2004). Each child's penalty weight is drawn
        from ``[0, 2 * oscillation]`` in units where overloading a node by one average task
        costs the whole range of the costs; 0 turns the phase off.
    ls_rounds : int, default 8
        Cost objective (numba backend): local optima per child of the incremental search,
        each followed by an update of the per-node penalty weights (the explicit budget of
        :mod:`gabalance.backend._numba_search`); ``local_search`` bounds the sweeps per
        round.
    candidates : int, default 20
        Cost objective (numba backend): length of each task's candidate list (its best
        nodes by LP reduced cost, else by cost) that shift, swap and ejection-chain moves
        draw from. ``max_utilization`` on large problems (numba backend, the bottleneck
        engine of docs/search.md): allowed nodes drawn per task once per solve.
    justify : bool, default True
        Schedule mode: forward-backward improvement of every child.
    reassign : int, default 0
        Schedule mode on several nodes: rounds of one random task move per child, each kept
        only when it improves the child (every round decodes the whole batch once more). Off
        by default: on the bundled ai_cluster instance at 20 s, 0, 1 and 2 rounds ended
        11.3%, 9.7% and 8.6% below the best baseline (one run each; see bench/RESULTS.md).
    critical : int, default 20
        Schedule mode: decodes per child of the critical-path search
        (:mod:`gabalance.backend._numba_critical`; 0: off). Measured with
        ``bench/schedule_ablation.py`` (bench/RESULTS.md, "Schedules"): on j30 and the
        random DAGs it pays; on the bundled ai_cluster, seeded with ``wspt``, it neither
        helps nor hurts at 20 s.
    seed_baselines : bool, default True
        Put the baselines' plans (and, on the cost objective, the LP relaxation's rounding)
        in the first population.
    stagnation : int, default 0
        Generations without improvement of the best after which all but the best tenth of
        the population is replaced by fresh individuals (0: never).

    Examples
    --------
    >>> import gabalance as gb
    >>> params = gb.GAParams(population=50, mutation=0.02)
    >>> params.to_dict()["mutation"], gb.GAParams.from_dict({"population": 40}).population
    (0.02, 40)
    >>> gb.GAParams(population=1)
    Traceback (most recent call last):
    ...
    ValueError: GAParams.population must be an integer >= 2, got 1
    """

    population: int = 100
    offspring: int | None = None
    tournament: int = 2
    crossover: float = 0.9
    mutation: float | None = None
    swap: float = 0.3
    key_mutation: float = 0.05
    local_search: int = 3
    oscillation: float = 1.0
    ls_rounds: int = 8
    candidates: int = 20
    justify: bool = True
    reassign: int = 0
    critical: int = 20
    seed_baselines: bool = True
    stagnation: int = 0

    def __post_init__(self) -> None:
        def whole(name: str, low: int, allow_none: bool = False) -> None:
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"GAParams.{name} must be an integer >= {low}, got {v!r}")

        def prob(name: str, allow_none: bool = False) -> None:
            v = getattr(self, name)
            if v is None and allow_none:
                return
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) \
                    or not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"GAParams.{name} must be a probability in [0, 1], got {v!r}")

        whole("population", 2)
        whole("offspring", 1, allow_none=True)
        whole("tournament", 1)
        whole("local_search", 0)
        whole("ls_rounds", 1)
        whole("candidates", 1)
        whole("reassign", 0)
        whole("critical", 0)
        whole("stagnation", 0)
        for name in ("crossover", "swap", "key_mutation"):
            prob(name)
        v = self.oscillation
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) \
                or not 0.0 <= float(v) < float("inf"):
            raise ValueError(f"GAParams.oscillation must be a finite number >= 0, got {v!r}")
        prob("mutation", allow_none=True)
        for name in ("justify", "seed_baselines"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"GAParams.{name} must be True or False, "
                                 f"got {getattr(self, name)!r}")




class GA(Searcher):
    """Genetic algorithm with ``init/ask/tell`` (see the module docstring).

    Parameters
    ----------
    problem : Problem
    objective : str
        One of :data:`gabalance.OBJECTIVES`.
    sense : {"min", "max"}
        Direction (only ``cost`` may be maximised).
    params : GAParams, optional
    backend : str
        "numba", "numpy", "cupy" or "auto" (see :func:`gabalance.backend.resolve_backend`).
    seed : int or numpy.random.Generator, optional
        All randomness of the run comes from this one generator (with ``xp=cupy``, the
        operators draw from a CuPy generator seeded from it).
    xp : module, default numpy
        Array module of the population: numpy, or cupy to keep whole generations on the
        device (with the cupy backend).

    Attributes
    ----------
    pop : ndarray (P, N) int32; keys : ndarray (P, N) float64 or None
    objective, violation : ndarray (P,) float64
    generation : int; nfev : int
        Generations told so far; full genome evaluations (decodes) made so far.

    Examples
    --------
    >>> import gabalance as gb
    >>> from gabalance.algorithms import GA
    >>> from gabalance.generate import gap_like
    >>> problem = gap_like(5, 30, kind="c", seed=1)      # 30 jobs on 5 agents, cost
    >>> ga = GA(problem, "cost", params=gb.GAParams(population=20), seed=0)
    >>> ga.init()
    >>> for _ in range(5):
    ...     x, keys = ga.ask()          # children, repaired, improved and evaluated
    ...     ga.tell(x, keys)            # merged; ask's values are reused
    >>> x, keys, value, violation = ga.best
    >>> value, violation, ga.generation
    (553.0, 0.0, 5)
    """

    def __init__(self, problem: Problem, objective: str, *, sense: str = "min",
                 params: GAParams | None = None, backend: str = "auto",
                 seed: int | np.random.Generator | None = None, xp: Any = np) -> None:
        self.problem = problem
        self.objective_name = objective
        self.sense = sense
        self.params = params if params is not None else GAParams()
        self.backend = resolve_backend(backend)
        self.xp = xp
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        # the operators draw from a generator of the array module: the run's own with numpy,
        # one seeded from it with cupy, so a whole generation stays on the device
        self.drng = self.rng if xp is np else xp.random.default_rng(
            int(self.rng.integers(0, 2**63)))
        self.search = Search(problem, objective, sense, self.backend, xp)
        self.search.candidates = self.params.candidates
        self._core_done = 0  # exact moves made (see CORE_PAIRS)
        self._fixed_from: np.ndarray | None = None  # the best the last fixed core began from
        self._barren = False  # the last exact move ran out of time without a better best
        #: True once an exact move has proven the best value optimal (cost objective)
        self.optimal = False
        self.core_seconds = 0.0  # what the last generation's core move took
        self.schedule = self.search.mode == "schedule"
        N = problem.n_tasks
        p = self.params
        self.offspring = p.offspring if p.offspring is not None else p.population
        self.mutation = p.mutation if p.mutation is not None else min(1.0, 2.0 / N)
        w = self.rng.integers(1, 2**62, 2 * N) | 1
        self._weights = xp.asarray(w.astype(np.int64))
        self.generation = 0
        self.nfev = 0
        self.seeded: list[str] = []
        self._asked: tuple[Any, Any, Any, Any] | None = None
        self._since_improved = 0

    # ------------------------------------------------------------------ building blocks
    def _improve(self, pop: Any, keys: Any) -> tuple[Any, Any, Any, Any]:
        if self.schedule:
            pop, keys, obj, viol = self.search.schedule(self.drng, pop, keys, self.params.justify)
            self.nfev += pop.shape[0] * (3 if self.params.justify else 1)
            pop, obj, viol, used = self.search.reassign(self.drng, pop, keys, obj, viol,
                                                        self.params.reassign)
            self.nfev += used
            if self.params.critical > 0:
                pop, keys, obj, viol, used = self.search.critical(
                    self.drng, pop, keys, self.params.critical)
                self.nfev += used
            return pop, keys, obj, viol
        obj, viol = self.search.placement(self.drng, pop, self.params.local_search,
                                          self.params.oscillation, self.params.ls_rounds)
        self.nfev += pop.shape[0]
        return pop, None, obj, viol

    def _random(self, n: int) -> tuple[Any, Any]:
        N = self.problem.n_tasks
        pop = self.search.sampler.draw(self.drng, (n, N)).astype(self.xp.int32)
        keys = self.xp.asarray(self.drng.random((n, N))) if self.schedule else None
        return pop, keys

    def _rank(self) -> Any:
        xp = self.xp  # ranked where the population lives (no host round trip)
        order = rank_order(self.objective, self.violation, self.sense)
        rank = xp.empty(len(order), xp.int64)
        rank[order] = xp.arange(len(order))
        return rank

    # ------------------------------------------------------------------ init / ask / tell
    def init(self, initial: Any = None, initial_keys: Any = None,
             seed_budget_s: float = 5.0) -> None:
        """Build and evaluate the first population.

        ``initial`` (N,) or (R, N) int assignments and ``initial_keys`` (same shape) are put
        in first (after repair and improvement), then the baselines' plans (if
        ``params.seed_baselines``; those that fit in ``seed_budget_s``), then random genomes.
        """
        xp, P = self.xp, self.params.population
        given, given_k = self._given(initial, initial_keys, seed_budget_s, P)
        pop, keys = self._random(P - len(given))
        pop = xp.concatenate([xp.asarray(given), pop])
        if self.schedule:
            keys = xp.concatenate([xp.asarray(given_k), keys])
        self.pop, self.keys, self.objective, self.violation = self._improve_within(pop, keys)
        self._select(self.pop, self.keys, self.objective, self.violation)
        self._best_value = self._key_of_best()

    def _propose(self) -> tuple[Any, Any, Any, Any]:
        """Children of the current population, repaired, improved and evaluated:
        ``(x (C, N) int32, keys (C, N) float64 ranks or None, objective (C,), violation
        (C,))``."""
        xp, p, rng, C = self.xp, self.params, self.drng, self.children()
        rank = self._rank()
        parents = tournament(xp, rng, rank, 2 * C, p.tournament)
        a, b = parents[:C], parents[C:]
        child = crossover_uniform(xp, rng, self.pop[a], self.pop[b], p.crossover)
        child = mutate_reassign(xp, rng, child, self.mutation, self.search.sampler)
        child = mutate_swap(xp, rng, child, p.swap).astype(xp.int32)
        keys = None
        if self.schedule:
            keys = crossover_keys(xp, rng, self.keys[a], self.keys[b], p.crossover)
            keys = mutate_keys(xp, rng, keys, p.key_mutation)
        child, keys, obj, viol = self._improve_children(child, keys)
        now = time.perf_counter if self.clock is None else self.clock.elapsed
        t_core = now()
        core = self._core_move()
        self.core_seconds = now() - t_core
        if core is not None:  # the core's solution joins the children
            cx, co, cv = core
            child = xp.concatenate([child, xp.asarray(cx)[None]])
            obj = xp.concatenate([xp.asarray(obj), xp.asarray(co)])
            viol = xp.concatenate([xp.asarray(viol), xp.asarray(cv)])
        return child, keys, obj, viol

    #: under a time limit (placement mode, ``params.offspring`` None), the share of the limit
    #: that one generation's children may take
    GENERATION_SHARE = 0.01

    def children(self) -> int:
        """Children of the next generation: ``offspring``, or under a time limit in placement
        mode with ``params.offspring`` None, as many as fit in ``GENERATION_SHARE`` of the
        limit at the last measured cost per child (at least 2)."""
        C, clock = self.offspring, self.clock
        if self.schedule or self.params.offspring is not None or clock is None \
                or clock.limit is None or self.seconds_per_child <= 0:
            return C
        fit = int(self.GENERATION_SHARE * clock.limit / self.seconds_per_child)
        return max(2, min(C, fit))

    #: the first exact move (under a time limit, cost objective): the core problem of each
    #: task's ``CORE_PAIRS`` least-reduced-cost pairs (:func:`gabalance.relax.core_pairs`)
    #: and the best assignment's, at the first generation, with ``CORE_SHARE`` of the limit
    CORE_PAIRS, CORE_SHARE = 2, 0.25
    #: then, whenever the best has not improved for ``STALL`` generations (at the latest once
    #: ``FIXED_AT`` of the limit has passed), and only around a best that no fixed core has
    #: started from: the fixed core (:func:`gabalance.relax.fixed_pairs`) around the best,
    #: with ``FIXED_SHARE`` of the limit (at most 80 % of what remains). Not when fixing
    #: leaves more than ``FIXED_MAX`` of the pairs open: that MILP is about the whole model,
    #: which HiGHS does not solve in the time, and the population does better with it. No
    #: exact move follows one that used its whole budget without improving on the best
    #: (HiGHS cannot make progress at that size in the time; the population can)
    FIXED_SHARE, STALL, FIXED_AT, FIXED_MAX = 0.5, 10, 0.5, 0.9

    def _core_move(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """Cost objective under a time limit, when the LP relaxation is known: an exact move
        (HiGHS) around the best assignment when one is due (see :attr:`CORE_PAIRS`,
        :attr:`FIXED_SHARE`), returned evaluated (assignment (N,), objective (1,),
        violation (1,)); else None. When HiGHS solves a fixed core to optimality, the best
        value of the whole problem is proven and :attr:`optimal` is set."""
        search, clock = self.search, self.clock
        if not search.incremental or search.lp is None or clock is None or clock.limit is None \
                or self._barren:
            return None
        feasible = float(self.violation[0]) == 0
        if self._core_done == 0:
            share = self.CORE_SHARE
        elif feasible and (self._since_improved >= self.STALL
                           or clock.elapsed() >= self.FIXED_AT * clock.limit):
            share = self.FIXED_SHARE
        else:
            return None
        best = to_host(self.pop[0]).astype(np.int32)  # only when a move may be due
        if self._core_done > 0 and self._fixed_from is not None \
                and np.array_equal(best, self._fixed_from):
            return None
        from gabalance.relax import core_pairs, fixed_pairs, solve_pairs

        score, lp = search.cost_engine().score, search.lp
        fixed = self._core_done > 0
        if fixed:
            self._fixed_from = best  # skipped or made, not again from this best
            keep = fixed_pairs(score, lp, best)
            if keep.sum() > self.FIXED_MAX * np.isfinite(lp.reduced).sum():
                return None
        else:
            keep = core_pairs(lp, self.CORE_PAIRS)
        self._core_done += 1
        budget = min(share * clock.limit, (0.8 if fixed else 0.5) * clock.remaining())
        if budget < 0.05:
            return None
        x, solved = solve_pairs(self.problem, score, keep, best if feasible else lp.x, budget)
        self.optimal = fixed and solved
        if x is None:
            self._barren = True
            return None
        obj, viol = search.evaluate(x[None])
        self.nfev += 1
        obj, viol = np.asarray(to_host(obj)), np.asarray(to_host(viol))
        better = self._key(float(obj[0]), float(viol[0])) < self._key_of_best()
        self._barren = not solved and not better
        return x, obj, viol

    def _accept(self, x: Any, keys: Any, objective: Any, violation: Any) -> None:
        """Merge evaluated children into the population (elitist, without duplicates)."""
        xp = self.xp
        if self.schedule:
            keys = standardize_keys(xp, xp.asarray(keys))
        pop = xp.concatenate([self.pop, xp.asarray(x, dtype=xp.int32)])
        allk = xp.concatenate([self.keys, keys]) if self.schedule else None
        obj = xp.concatenate([self.objective, xp.asarray(objective, dtype=xp.float64)])
        viol = xp.concatenate([self.violation, xp.asarray(violation, dtype=xp.float64)])
        self._select(pop, allk, obj, viol)

    # ------------------------------------------------------------------ internals
    def _select(self, pop: Any, keys: Any, obj: Any, viol: Any) -> None:
        h = row_hash(self.xp, pop, keys, self._weights)
        keep = select_survivors(self.xp, obj, viol, h, self.params.population, self.sense)
        self.pop, self.objective, self.violation = pop[keep], obj[keep], viol[keep]
        self.keys = keys[keep] if keys is not None else None

    def _key_of_best(self) -> tuple[float, float]:
        return self._key(float(self.objective[0]), float(self.violation[0]))

    def _restart(self) -> None:
        P = self.params.population
        keep = max(1, P // 10)
        pop, keys = self._random(P - keep)
        pop, keys, obj, viol = self._improve(pop, keys)
        xp = self.xp
        self.pop = xp.concatenate([self.pop[:keep], pop])
        self.objective = xp.concatenate([self.objective[:keep], obj])
        self.violation = xp.concatenate([self.violation[:keep], viol])
        if self.schedule:
            self.keys = xp.concatenate([self.keys[:keep], keys])
        self._select(self.pop, self.keys, self.objective, self.violation)
        self._since_improved = 0

    def _pop_best_value(self) -> tuple[float, float]:
        return float(self.objective[0]), float(self.violation[0])

    def _pop_best(self) -> tuple[np.ndarray, np.ndarray | None, float, float]:
        x = to_host(self.pop[0])
        k = to_host(self.keys[0]) if self.keys is not None else None
        return x, k, float(self.objective[0]), float(self.violation[0])


"""The base of the search algorithms: an evosax-style ``init/ask/tell`` loop over a batched
population, with the pieces the GA and the particle swarm share.

A searcher runs as::

    searcher.init()                  # the first population (given members, then random)
    while ...:
        x, keys = searcher.ask()     # candidates, repaired, improved and evaluated
        searcher.tell(x, keys)       # taken in; the values ask computed are reused
    searcher.best                    # (x, keys, objective, violation)

``tell(x, keys, objective, violation)`` takes values computed some other way instead.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from gabalance.arrays import to_host
from gabalance.baselines import seed_plans
from gabalance.operators.search import Search
from gabalance.operators.variation import standardize_keys
from gabalance.problem import Problem

__all__ = ["HOLD_LIST_SCHEDULES", "LIST_SCHEDULERS", "Searcher"]

#: the list schedulers among the seeds (``seed_plans`` names)
LIST_SCHEDULERS = frozenset({"heft", "cpop", "peft", "heft_saga", "cpop_saga"})
#: objectives on which the list schedulers' plans are held beside the population instead of
#: joining it: they minimise the makespan, and on ``weighted_completion`` the best of them
#: (PEFT on the bundled ai_cluster, 8.3% below least_loaded) takes the population over within
#: a few generations (``bench/schedule_ablation.py``: at 20 s, without the WSPT seed, 10.8%
#: below least_loaded with them in the population, 13.8% with them held). A held plan is
#: still returned while nothing better is found, so the GA never ends above it.
HOLD_LIST_SCHEDULES = frozenset({"weighted_completion"})


class Searcher:
    """What the GA and the particle swarm share: ``ask``/``tell``/``step``, the first
    population's given members (warm start, baselines' plans, held list schedules), the best
    found, and the iteration count with the restart on stagnation.

    A subclass sets the attributes annotated below in ``__init__`` and ``init`` and defines
    the hooks :meth:`_propose` (new candidates, improved and evaluated), :meth:`_accept`
    (take them in), :meth:`_improve`, :meth:`_key_of_best`, :meth:`_restart`,
    :meth:`_pop_best` and :meth:`_pop_best_value`; ``ask`` and ``tell`` call them in order
    and count the iteration, so no subclass has to remember to.
    """

    problem: Problem
    objective_name: str
    params: Any
    generation: int
    seeded: list[str]
    _asked: tuple[Any, Any, Any, Any] | None
    _best_value: tuple[float, float]
    _since_improved: int
    xp: Any
    search: Search
    nfev: int
    #: a gabalance._clock.Clock with the run's time limit, set by solve() (None: no limit);
    #: the first population's seeding, LP and improvement stop when it says so
    clock: Any = None
    #: seconds the first population's improvement took per individual (estimates the cost
    #: of a generation before the first one runs)
    seconds_per_child: float = 0.0

    @property
    def chunks(self) -> int:
        """Chunks a population is improved in under a time limit (a device wants large
        launches)."""
        return 8 if self.xp is np else 2

    def _improve(self, pop: Any, keys: Any) -> tuple[Any, Any, Any, Any]:
        raise NotImplementedError  # pragma: no cover

    def _improve_children(self, pop: Any, keys: Any) -> tuple[Any, Any, Any, Any]:
        """A generation's improvement: in placement mode in chunks against the clock
        (:meth:`_improve_within`), since one child's search can take long on large
        instances; schedule generations are short, and one batch decodes them faster (on the
        bundled ai_cluster, chunks ended 2 % worse at 20 s), so they run whole."""
        if getattr(self, "schedule", False):
            return self._improve(pop, keys)
        return self._improve_within(pop, keys, share=1.0)

    def _improve_within(self, pop: Any, keys: Any, share: float = 0.5
                        ) -> tuple[Any, Any, Any, Any]:
        """Improve ``pop`` in chunks while ``clock`` leaves time (until ``share`` of the time
        limit has passed: half for the first population, all of it for a generation's
        children); the individuals left when the time is up are only evaluated (schedule keys
        standardized), so no step runs past the limit by more than one chunk. Without a time
        limit, one call improves all (same seed, same result)."""
        clock = self.clock
        n = pop.shape[0]
        now = time.perf_counter if clock is None else clock.elapsed  # compilation apart
        t0 = now()
        if clock is None or clock.limit is None or n <= 1:
            out = self._improve(pop, keys)
            self.seconds_per_child = (now() - t0) / max(n, 1)
            return out
        xp = self.xp
        size = max(1, n // self.chunks)
        parts: list[tuple[Any, Any, Any, Any]] = []
        done = 0
        while done < n and clock.elapsed() < share * clock.limit:
            sl = slice(done, min(n, done + size))
            parts.append(self._improve(pop[sl], None if keys is None else keys[sl]))
            done = sl.stop
        self.seconds_per_child = (now() - t0) / max(done, 1)
        if done < n:
            rest = pop[done:]
            rk = None if keys is None else standardize_keys(xp, keys[done:])
            obj, viol = self.search.evaluate(rest, rk)
            self.nfev += rest.shape[0]
            parts.append((rest, rk, xp.asarray(obj), xp.asarray(viol)))
        cat = xp.concatenate
        return (cat([q[0] for q in parts]),
                None if keys is None else cat([q[1] for q in parts]),
                cat([q[2] for q in parts]), cat([q[3] for q in parts]))

    def ask(self) -> tuple[Any, Any]:
        """The candidates of the next iteration, repaired and improved.

        Returns
        -------
        x : array, (C, N) int32
            Assignments (on the searcher's array module ``xp``).
        keys : array, (C, N) float64, or None
            Priority keys in schedule mode, None in placement mode.

        Notes
        -----
        Improving a candidate evaluates it, so ``ask`` already knows each candidate's
        objective and violation: ``tell(x, keys)`` with the arrays ``ask`` returned reuses
        them. Evaluate only to score candidates in another way.
        """
        x, keys, obj, viol = self._propose()
        self._asked = (x, keys, obj, viol)
        return x, keys

    def tell(self, x: Any, keys: Any = None, objective: Any = None,
             violation: Any = None) -> None:
        """Take the evaluated candidates into the search and count an iteration.

        Parameters
        ----------
        x : array, (C, N) int32
        keys : array, (C, N) float64, or None
            Schedule mode: the candidates' priority keys.
        objective, violation : array, (C,) float64, optional
            Their values. Left out, the values :meth:`ask` computed are used; ``x`` must
            then be the array ``ask`` returned.

        Raises
        ------
        ValueError
            When the values are left out and ``x`` is not what the last ``ask`` returned.
        """
        if objective is None or violation is None:
            asked = self._asked
            if asked is None or x is not asked[0]:
                raise ValueError("tell: pass objective and violation, or the x that the "
                                 "last ask() returned (its values are then reused)")
            objective, violation = asked[2], asked[3]
        self._accept(x, keys, objective, violation)
        self._told()

    def _propose(self) -> tuple[Any, Any, Any, Any]:
        """The subclass's move: ``(x, keys, objective, violation)`` of new candidates."""
        raise NotImplementedError  # pragma: no cover - both subclasses define it

    def _accept(self, x: Any, keys: Any, objective: Any, violation: Any) -> None:
        """The subclass's update with evaluated candidates."""
        raise NotImplementedError  # pragma: no cover

    def _key_of_best(self) -> tuple[float, float]:
        raise NotImplementedError  # pragma: no cover

    def _restart(self) -> None:
        raise NotImplementedError  # pragma: no cover

    def _given(self, initial: Any, initial_keys: Any, seed_budget_s: float, size: int
               ) -> tuple[np.ndarray, np.ndarray]:
        """(assignments (G, N) int32, keys (G, N)): the warm start, then the baselines' plans
        (if ``params.seed_baselines``, those that fit in ``seed_budget_s``), at most
        ``size``; the baselines used are recorded in ``seeded``."""
        N = self.problem.n_tasks
        rows: list[Any] = []
        krows: list[Any] = []
        if initial is not None:
            init = np.atleast_2d(np.asarray(initial, np.int32))
            rows.append(init)
            if initial_keys is not None:
                krows.append(np.atleast_2d(np.asarray(initial_keys, np.float64)))
            else:
                krows.append(np.tile(np.arange(N, dtype=np.float64), (len(init), 1)))
        search = self.search
        if search.incremental and self.params.seed_baselines:
            search.cost_engine()  # solves the LP relaxation when it fits the budget
            if search.lp is not None:
                rows.append(search.lp.x[None].astype(np.int32))
                krows.append(np.arange(N, dtype=np.float64)[None])
                self.seeded.append("lp_round")
        if self.params.seed_baselines:
            hold = self.objective_name in HOLD_LIST_SCHEDULES
            for name, plan in seed_plans(self.problem, self.objective_name, seed_budget_s,
                                          self.clock):
                if hold and name in LIST_SCHEDULERS:
                    self._hold(plan.assignment, plan.keys)
                elif sum(len(r) for r in rows) < size:
                    rows.append(plan.assignment[None].astype(np.int32))
                    krows.append(plan.keys[None].astype(np.float64))
                else:
                    continue  # no room left in the first population
                self.seeded.append(name)
        given = np.concatenate(rows)[:size] if rows else np.zeros((0, N), np.int32)
        given_k = np.concatenate(krows)[:size] if krows else np.zeros((0, N))
        return given, given_k

    #: the held plan: ``(x (N,) int32, keys (N,) float64, objective, violation)`` or None
    held: tuple[np.ndarray, np.ndarray, float, float] | None = None
    sense: str

    def _hold(self, x: np.ndarray, keys: np.ndarray) -> None:
        """Evaluate a plan kept beside the population (not in it) and keep the better of it
        and the plan held so far; :attr:`best` returns it while nothing found is better."""
        x = np.asarray(x, np.int32)
        keys = np.asarray(keys, np.float64)
        obj, viol = self.search.evaluate(self.xp.asarray(x[None]), self.xp.asarray(keys[None]))
        self.nfev += 1
        o, v = float(to_host(obj)[0]), float(to_host(viol)[0])
        if self.held is None or self._key(o, v) < self._key(self.held[2], self.held[3]):
            self.held = (x, keys, o, v)

    def _key(self, objective: float, violation: float) -> tuple[float, float]:
        """Feasibility-first comparison key (smaller is better)."""
        if violation != 0:
            return (violation, 0.0)
        return (0.0, -objective if self.sense == "max" else objective)

    def _pop_best(self) -> tuple[np.ndarray, np.ndarray | None, float, float]:
        raise NotImplementedError  # pragma: no cover

    def _pop_best_value(self) -> tuple[float, float]:
        raise NotImplementedError  # pragma: no cover

    def _held_wins(self, objective: float, violation: float) -> bool:
        h = self.held
        return h is not None and self._key(h[2], h[3]) < self._key(objective, violation)

    @property
    def best_value(self) -> tuple[float, float]:
        """``(objective, violation)`` of the best solution: two scalars from the device."""
        o, v = self._pop_best_value()
        if self._held_wins(o, v):
            assert self.held is not None
            return self.held[2], self.held[3]
        return o, v

    @property
    def best(self) -> tuple[np.ndarray, np.ndarray | None, float, float]:
        """``(x, keys, objective, violation)`` of the best solution (host arrays): the
        population's (the swarm's) best, or the held plan while it is better."""
        x, k, o, v = self._pop_best()
        if self._held_wins(o, v):
            assert self.held is not None
            hx, hk, ho, hv = self.held
            return hx.copy(), hk.copy(), ho, hv
        return x, k, o, v

    def _told(self) -> None:
        """Count an iteration; restart after ``params.stagnation`` without a better best."""
        self.generation += 1
        self._asked = None
        best = self._key_of_best()
        if best < self._best_value:
            self._best_value = best
            self._since_improved = 0
        else:
            self._since_improved += 1
        s = self.params.stagnation
        if s and self._since_improved >= s:
            self._restart()

    def step(self) -> None:
        """One iteration: :meth:`ask` (which also evaluates), then :meth:`tell`."""
        x, keys = self.ask()
        self.tell(x, keys)

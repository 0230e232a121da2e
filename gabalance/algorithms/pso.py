"""Discrete particle swarm optimization for both modes, on the GA's kernels.

A particle is a full solution, as in the GA: the assignment ``x`` (N,) int32 and, in
schedule mode, priority keys. Every iteration moves the whole swarm at once with array
operations written against ``xp`` and then repairs and improves every particle with the
kernels the GA uses (:class:`gabalance.operators.search.Search`); the improved particle is
written back into the particle's position (Lamarckian), and personal and neighbourhood
bests follow the feasibility-first order (Deb 2000).

Assignment moves, two variants (``PSOParams.variant``):

``"jump"``
    The jumping particle swarm of Martínez-García & Moreno-Pérez (2008): every gene of the
    next position is copied from the particle's current position (probability ``keep``),
    from its personal best (``personal``), from its neighbourhood's best (``social``), or
    jumps to a uniformly drawn allowed node (the rest).
``"keys"``
    A continuous swarm (Kennedy & Eberhart 1995, inertia weight of Shi & Eberhart 1998)
    over one random key per task in [0, 1): the key picks the task's allowed node by its
    position in the task's sorted node list (``AllowedSampler.decode``), and an improved
    particle's nodes are encoded back to the middle of their intervals.

Schedule mode adds a continuous random-key swarm over the priority keys (inertia, cognitive
and social terms; keys kept as ranks / N after the forward-backward improvement).

Neighbourhoods (``topology``): ``"global"`` (every particle follows the swarm's best) or
``"ring"`` (the best of the ``neighbours`` particles on each side, Kennedy & Mendes 2002). After
``stagnation`` iterations without a better swarm best, all particles but the best tenth
restart from random positions (their personal bests are kept).

The defaults (``variant="jump"``, ``topology="global"``) come from runs on gap1-12 and gapd
(both senses, against the known optima) and j30, recorded with their commands in
``bench/RESULTS.md`` ("Particle swarm"): with a ring both variants reach 118 of the 120
gap1-12 optima at 2 s and "keys" is slightly ahead on gapd, but on the ten hardest gap1-12
problems (gap8, gap12) at 5 s "jump" with the global best reaches every optimum and "keys"
does not. On j30 (one node) only the priority-key swarm acts and the variants coincide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gabalance._params import DictRoundTrip
from gabalance.algorithms.base import Searcher
from gabalance.arrays import to_host
from gabalance.backend import resolve_backend
from gabalance.evaluate import rank_order
from gabalance.operators.search import Search
from gabalance.operators.variation import standardize_keys
from gabalance.problem import Problem

__all__ = ["PSO", "PSOParams"]

VARIANTS = ("jump", "keys")
TOPOLOGIES = ("global", "ring")


@dataclass(frozen=True)
class PSOParams(DictRoundTrip):
    """Parameters of :class:`PSO` (immutable; ``dataclasses.replace`` makes variants).

    Attributes
    ----------
    swarm : int, default 60
        Particles.
    variant : {"jump", "keys"}, default "jump"
        How assignments move (see the module docstring; the evidence for the default is in
        ``bench/RESULTS.md``, "Particle swarm").
    topology : {"global", "ring"}, default "global"
    neighbours : int, default 2
        Ring topology: particles on each side that form a particle's neighbourhood.
    keep, personal, social : float, default 0.2, 0.3, 0.4
        Jump variant: probability that a gene comes from the particle itself, its personal
        best, its neighbourhood best; with the remaining probability it jumps to a random
        allowed node. The three must sum to at most 1.
    jump : float or None, default None
        Jump variant: per-gene probability of the random jump, the three sources above
        sharing the rest in their proportions. None: in placement mode the rest of the three
        (``1 - keep - personal - social``, the setting measured on GAP, where repair and
        local search absorb the jumps), in schedule mode ``min(that, 2 / N)``, two jumps per
        particle on average: a schedule has no repair that undoes a jump, and at the
        placement rate (a tenth of the genes) a particle of 500 tasks moves 50 tasks at
        random per iteration and the swarm never leaves its seeds (ai_cluster, see
        bench/RESULTS.md).
    inertia, cognitive, social_weight : float, default 0.7, 1.5, 1.5
        Continuous parts (schedule keys; the assignment keys of the "keys" variant):
        ``v = inertia v + cognitive r1 (pbest - u) + social_weight r2 (nbest - u)``.
    max_velocity : float, default 0.5
        Velocities of the assignment keys ("keys" variant) are clipped to
        [-max_velocity, max_velocity].
    key_velocity : float, default 0.1
        Schedule mode: the clip of the priority keys' velocities (keys are ranks / N in
        [0, 1)). Small, because a key that moves by half the range reorders the whole
        schedule: on ai_cluster at 20 s, 0.5 left the swarm at its best seed, 0.1 and 0.05
        went 3.3 points further below least_loaded (bench/RESULTS.md, "Particle swarm").
    local_search : int, default 3
        Placement mode: passes of repair and improvement per particle (as ``GAParams``).
    oscillation : float, default 1.0
        Cost objective: strength of the penalized descent before repair (as ``GAParams``).
    justify : bool, default True
        Schedule mode: forward-backward improvement of every particle.
    critical : int, default 20
        Schedule mode: decodes per particle of the critical-path search (as ``GAParams``).
    seed_baselines : bool, default True
        Start some particles at the baselines' plans.
    stagnation : int, default 30
        Iterations without a better swarm best before the restart (0: never).

    Examples
    --------
    >>> import gabalance as gb
    >>> gb.PSOParams(swarm=30, topology="ring").neighbours
    2
    >>> gb.PSOParams(topology="star")
    Traceback (most recent call last):
    ...
    ValueError: PSOParams.topology must be one of global, ring, got 'star'
    """

    swarm: int = 60
    variant: str = "jump"
    topology: str = "global"
    neighbours: int = 2
    keep: float = 0.2
    personal: float = 0.3
    social: float = 0.4
    jump: float | None = None
    inertia: float = 0.7
    cognitive: float = 1.5
    social_weight: float = 1.5
    max_velocity: float = 0.5
    key_velocity: float = 0.1
    local_search: int = 3
    oscillation: float = 1.0
    justify: bool = True
    critical: int = 20
    seed_baselines: bool = True
    stagnation: int = 30

    def __post_init__(self) -> None:
        def whole(name: str, low: int) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
                raise ValueError(f"PSOParams.{name} must be an integer >= {low}, got {v!r}")

        def number(name: str, low: float, high: float) -> None:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) \
                    or not low <= float(v) <= high:
                raise ValueError(f"PSOParams.{name} must be a number in [{low:g}, {high:g}], "
                                 f"got {v!r}")

        whole("swarm", 2)
        whole("neighbours", 1)
        whole("local_search", 0)
        whole("stagnation", 0)
        whole("critical", 0)
        if self.jump is not None:
            number("jump", 0.0, 1.0)
        if self.variant not in VARIANTS:
            raise ValueError(f"PSOParams.variant must be one of {', '.join(VARIANTS)}, got "
                             f"{self.variant!r}")
        if self.topology not in TOPOLOGIES:
            raise ValueError(f"PSOParams.topology must be one of {', '.join(TOPOLOGIES)}, got "
                             f"{self.topology!r}")
        for name in ("keep", "personal", "social"):
            number(name, 0.0, 1.0)
        if self.keep + self.personal + self.social > 1.0 + 1e-12:
            raise ValueError(f"PSOParams.keep + personal + social must be at most 1, got "
                             f"{self.keep + self.personal + self.social:g}")
        number("inertia", 0.0, 2.0)
        for name in ("cognitive", "social_weight"):
            number(name, 0.0, 4.0)
        number("max_velocity", 0.0, 1.0)
        number("key_velocity", 0.0, 1.0)
        number("oscillation", 0.0, float("inf"))
        for name in ("justify", "seed_baselines"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"PSOParams.{name} must be True or False, "
                                 f"got {getattr(self, name)!r}")


class PSO(Searcher):
    """Particle swarm with ``init/ask/tell`` (see the module docstring).

    Parameters
    ----------
    problem : Problem
    objective : str
    sense : {"min", "max"}
    params : PSOParams, optional
    backend : str
        "numba", "numpy", "cupy" or "auto".
    seed : int or numpy.random.Generator, optional
        All randomness of the run comes from this one generator (with ``xp=cupy`` the moves
        draw from a CuPy generator seeded from it).
    xp : module, default numpy

    Attributes
    ----------
    pop, keys, objective, violation : the particles' current positions and their values
    best_pop, best_keys, best_objective, best_violation : the personal bests
    generation : int
        Iterations told so far.
    nfev : int
        Full evaluations (decodes) made.

    Examples
    --------
    >>> import gabalance as gb
    >>> from gabalance.algorithms import PSO
    >>> from gabalance.generate import gap_like
    >>> problem = gap_like(5, 30, kind="c", seed=1)
    >>> pso = PSO(problem, "cost", params=gb.PSOParams(swarm=20), seed=0)
    >>> pso.init()
    >>> for _ in range(5):
    ...     pso.step()                  # ask, then tell
    >>> pso.best[2], pso.generation
    (553.0, 5)
    """

    def __init__(self, problem: Problem, objective: str, *, sense: str = "min",
                 params: PSOParams | None = None, backend: str = "auto",
                 seed: int | np.random.Generator | None = None, xp: Any = np) -> None:
        self.problem = problem
        self.objective_name = objective
        self.sense = sense
        self.params = params if params is not None else PSOParams()
        self.backend = resolve_backend(backend)
        self.xp = xp
        self.rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        self.drng = self.rng if xp is np else xp.random.default_rng(
            int(self.rng.integers(0, 2**63)))
        self.search = Search(problem, objective, sense, self.backend, xp)
        self.schedule = self.search.mode == "schedule"
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
            if self.params.critical > 0:
                pop, keys, obj, viol, used = self.search.critical(
                    self.drng, pop, keys, self.params.critical)
                self.nfev += used
            return pop, keys, obj, viol
        obj, viol = self.search.placement(self.drng, pop, self.params.local_search,
                                          self.params.oscillation)
        self.nfev += pop.shape[0]
        return pop, None, obj, viol

    def _signed(self, obj: Any) -> Any:
        return -obj if self.sense == "max" else obj

    def _better(self, obj: Any, viol: Any, obj2: Any, viol2: Any) -> Any:
        """Where (obj, viol) is at least as good as (obj2, viol2), feasibility first."""
        a, b = self._signed(obj), self._signed(obj2)
        return (viol < viol2) | ((viol == viol2) & ((viol > 0) | (a <= b)))

    def _neighbour_best(self) -> Any:
        """(S,) index of the best personal best in each particle's neighbourhood."""
        xp = self.xp
        S = self.best_pop.shape[0]
        order = rank_order(to_host(self.best_objective), to_host(self.best_violation),
                           self.sense)
        rank = np.empty(S, np.int64)
        rank[order] = np.arange(S)
        if self.params.topology == "global":
            return xp.full(S, int(order[0]), dtype=xp.int64)
        k = min(self.params.neighbours, (S - 1) // 2) if S > 2 else 1
        offsets = np.arange(-k, k + 1)
        idx = (np.arange(S)[:, None] + offsets[None, :]) % S
        pick = idx[np.arange(S), np.argmin(rank[idx], axis=1)]
        return xp.asarray(pick.astype(np.int64))

    def _velocity(self, u: Any, v: Any, pbest: Any, nbest: Any, clip: float
                  ) -> tuple[Any, Any]:
        """One continuous step in [0, 1), velocities clipped to [-clip, clip]: new
        (position, velocity)."""
        xp, p, rng = self.xp, self.params, self.drng
        r1 = rng.random(u.shape)
        r2 = rng.random(u.shape)
        v = p.inertia * v + p.cognitive * r1 * (pbest - u) + p.social_weight * r2 * (nbest - u)
        v = xp.clip(v, -clip, clip)
        u = xp.mod(u + v, 1.0)
        return u, v

    def _shares(self) -> tuple[float, float, float]:
        """Jump variant: the per-gene probabilities of (keep, personal, social); the jump
        takes the rest (see ``PSOParams.jump``)."""
        p = self.params
        total = p.keep + p.personal + p.social
        jump = p.jump
        if jump is None:
            if not self.schedule:
                return p.keep, p.personal, p.social
            jump = min(1.0 - total, 2.0 / max(1, self.problem.n_tasks))
        if total <= 0:
            return 0.0, 0.0, 0.0
        scale = (1.0 - jump) / total
        return p.keep * scale, p.personal * scale, p.social * scale

    def _ranks01(self, keys: Any) -> Any:
        """Schedule keys (ranks) as positions in [0, 1)."""
        return standardize_keys(self.xp, keys) / max(1, self.problem.n_tasks)

    # ------------------------------------------------------------------ init / ask / tell
    def init(self, initial: Any = None, initial_keys: Any = None,
             seed_budget_s: float = 5.0) -> None:
        """Place and evaluate the swarm: the warm start and the baselines' plans first, the
        rest at random; personal bests start at the (improved) first positions."""
        xp, N, S = self.xp, self.problem.n_tasks, self.params.swarm
        given, given_k = self._given(initial, initial_keys, seed_budget_s, S)
        n = S - len(given)
        pop = xp.concatenate([xp.asarray(given),
                              self.search.sampler.draw(self.drng, (n, N)).astype(xp.int32)])
        keys = None
        if self.schedule:
            keys = xp.concatenate([xp.asarray(given_k), xp.asarray(self.drng.random((n, N)))])
        pop, keys, obj, viol = self._improve_within(pop, keys)
        self.pop, self.keys, self.objective, self.violation = pop, keys, obj, viol
        self.best_pop, self.best_objective, self.best_violation = pop.copy(), obj, viol
        self.best_keys = keys.copy() if keys is not None else None
        self.vel_x: Any = xp.zeros((S, N)) if self.params.variant == "keys" else None
        self.pos_x: Any = (self.search.sampler.encode(pop) if self.params.variant == "keys"
                           else None)
        self.vel_k: Any = xp.zeros((S, N)) if self.schedule else None
        self._best_value = self._key_of_best()

    def _propose(self) -> tuple[Any, Any, Any, Any]:
        """The swarm's next positions, repaired, improved and evaluated: (S, N) int32
        assignments, in schedule mode (S, N) float64 key ranks (else None), objective (S,)
        and violation (S,)."""
        xp, p, rng = self.xp, self.params, self.drng
        S, N = self.pop.shape
        nb = self._neighbour_best()
        if p.variant == "jump":
            u = rng.random((S, N))
            jump = self.search.sampler.draw(rng, (S, N)).astype(xp.int32)
            keep, personal, social = self._shares()
            x = xp.where(u < keep, self.pop,
                         xp.where(u < keep + personal, self.best_pop,
                                  xp.where(u < keep + personal + social,
                                           self.best_pop[nb], jump))).astype(xp.int32)
        else:
            pbest_u = self.search.sampler.encode(self.best_pop)
            self.pos_x, self.vel_x = self._velocity(self.pos_x, self.vel_x, pbest_u,
                                                    pbest_u[nb], p.max_velocity)
            x = self.search.sampler.decode(self.pos_x).astype(xp.int32)
        keys = None
        if self.schedule:
            u = self._ranks01(self.keys)
            pb = self._ranks01(self.best_keys)
            u, self.vel_k = self._velocity(u, self.vel_k, pb, pb[nb], p.key_velocity)
            keys = u
        x, keys, obj, viol = self._improve_children(x, keys)
        return x, keys, obj, viol

    def _accept(self, x: Any, keys: Any, objective: Any, violation: Any) -> None:
        """Move the particles to ``x`` (and ``keys``) and update the personal bests."""
        xp = self.xp
        self.pop = xp.asarray(x, dtype=xp.int32)
        self.objective = xp.asarray(objective, dtype=xp.float64)
        self.violation = xp.asarray(violation, dtype=xp.float64)
        if self.schedule:
            self.keys = standardize_keys(xp, xp.asarray(keys))
        if self.pos_x is not None:
            self.pos_x = self.search.sampler.encode(self.pop)  # Lamarckian: back to the nodes
        up = self._better(self.objective, self.violation, self.best_objective,
                          self.best_violation)
        self.best_pop = xp.where(up[:, None], self.pop, self.best_pop)
        self.best_objective = xp.where(up, self.objective, self.best_objective)
        self.best_violation = xp.where(up, self.violation, self.best_violation)
        if self.schedule:
            self.best_keys = xp.where(up[:, None], self.keys, self.best_keys)

    # ------------------------------------------------------------------ internals
    def _best_index(self) -> int:
        return int(rank_order(to_host(self.best_objective), to_host(self.best_violation),
                              self.sense)[0])

    def _key_of_best(self) -> tuple[float, float]:
        b = self._best_index()
        v = float(self.best_violation[b])
        o = float(self.best_objective[b])
        return (v, -o if self.sense == "max" else o) if v == 0 else (v, 0.0)

    def _restart(self) -> None:
        """All particles but the best tenth (by personal best) jump to random positions."""
        xp, N = self.xp, self.problem.n_tasks
        S = self.pop.shape[0]
        order = rank_order(to_host(self.best_objective), to_host(self.best_violation),
                           self.sense)
        moved = xp.asarray(order[max(1, S // 10):].astype(np.int64))
        n = int(moved.shape[0])
        pop = self.search.sampler.draw(self.drng, (n, N)).astype(xp.int32)
        keys = xp.asarray(self.drng.random((n, N))) if self.schedule else None
        pop, keys, obj, viol = self._improve(pop, keys)
        self.pop[moved] = pop
        self.objective[moved] = obj
        self.violation[moved] = viol
        if self.schedule:
            assert self.keys is not None and self.vel_k is not None
            self.keys[moved] = standardize_keys(xp, keys)
            self.vel_k[moved] = 0.0
        if self.pos_x is not None:
            assert self.vel_x is not None
            self.pos_x = self.search.sampler.encode(self.pop)
            self.vel_x[moved] = 0.0
        self._since_improved = 0

    def _pop_best_value(self) -> tuple[float, float]:
        b = self._best_index()
        return float(self.best_objective[b]), float(self.best_violation[b])

    def _pop_best(self) -> tuple[np.ndarray, np.ndarray | None, float, float]:
        b = self._best_index()
        x = to_host(self.best_pop[b])
        k = to_host(self.best_keys[b]) if self.best_keys is not None else None
        return x, k, float(self.best_objective[b]), float(self.best_violation[b])

"""The GA on GPU-sharing problems (objective ``gpu_allocation``): a memetic algorithm whose
individuals are whole plans (a node and a device mask per task, -1 for a task that waits).

* First population: the field's policies (BestFit, FGD, each in task order) and the plan of
  the resource LP (:func:`gabalance.gpushare.lp_plan`), each improved by
  :func:`gabalance.gpushare.improve`, cheapest first while the time allows.
* Crossover: node-wise uniform -- each node keeps the tasks (and devices) it holds in one of
  the two parents, a task held by both parents' chosen nodes stays with the first; so the
  child is valid per device by construction (Falkenauer 1996, grouping crossover).
* Mutation: a random share of the nodes is emptied (its tasks wait).
* Repair and improvement: :func:`gabalance.gpushare.improve` places waiting tasks again
  (directly, after repacking a node, or by ejection); a memetic step (Moscato 1989).
* Replacement: steady state, the child replaces the worst member when it is better and not
  a copy of a member's value.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gabalance import gpushare
from gabalance.problem import Problem

__all__ = ["PackOutcome", "pack_search"]


@dataclass
class PackOutcome:
    """What :func:`pack_search` found."""

    x: np.ndarray
    devices: np.ndarray
    value: float
    generations: int
    seeded: list[str]
    history: dict[str, list] = field(default_factory=dict)
    stopped: str = "generations"


def _value(problem: Problem, x: np.ndarray) -> float:
    placed = x >= 0
    return float((problem.weight[placed] * problem.gpu_milli[placed]).sum()) / \
        (1000.0 * float(problem.gpus.sum()))


def pack_search(problem: Problem, *, time_limit: float | None = None,
                max_generations: int | None = None, seed: int | None = None,
                pop_size: int = 8, clear: float = 0.02,
                elapsed: Callable[[], float] | None = None,
                callback: Callable[[int, float, np.ndarray, np.ndarray], Any] | None = None
                ) -> PackOutcome:
    """Run the memetic GA on a problem with GPU devices.

    Parameters
    ----------
    problem : Problem
        With GPU devices (``gpus``, ``gpu_milli``); tasks may wait where ``may_wait``.
    time_limit : float, optional
        Seconds (of ``elapsed``) for the whole search.
    max_generations : int, optional
        Children made after the first population (one per generation).
    seed : int, optional
    pop_size : int
        Population size (at least 2).
    clear : float
        Share of the nodes a mutation empties.
    elapsed : callable, optional
        Seconds since the start (default: wall time since the call).
    callback : callable, optional
        ``callback(generation, value, x, devices)`` after every generation; a true return
        stops the search.

    Ctrl-C (``KeyboardInterrupt``) once a plan is known ends the search with that plan
    (``stopped="interrupted"``).

    Returns
    -------
    PackOutcome
    """
    t0 = time.perf_counter()
    clock = elapsed if elapsed is not None else (lambda: time.perf_counter() - t0)
    rng = np.random.default_rng(seed)

    def left() -> float | None:
        return None if time_limit is None else max(0.0, time_limit - clock())

    def improved(x: np.ndarray, masks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rest = left()
        x, masks, _ = gpushare.improve(problem, x, masks, time_limit=rest)
        return x, masks

    pop: list[tuple[float, np.ndarray, np.ndarray]] = []
    seeded: list[str] = []
    history: dict[str, list] = {"generation": [], "time": [], "best": []}
    # seeds, cheapest first; a seed starts only while a third of the limit is left
    makers: list[tuple[str, Callable[[], tuple[np.ndarray, np.ndarray]]]] = [
        ("best_fit", lambda: _policy(problem, "best_fit")),
        ("lp_plan", lambda: gpushare.lp_plan(problem)),
        ("fgd", lambda: _policy(problem, "fgd")),
    ]
    stopped = "generations"
    gen = 0
    try:
        gen = _evolve(problem, pop, seeded, history, makers, improved, rng, clock, time_limit,
                      max_generations, pop_size, clear, callback)
    except _Stop as stop:
        stopped, gen = stop.reason, stop.generation
    except KeyboardInterrupt:
        if not pop:
            raise
        stopped = "interrupted"
        gen = history["generation"][-1] if history["generation"] else 0
    pop.sort(key=lambda p: -p[0])
    best = pop[0]
    return PackOutcome(best[1], best[2], best[0], gen, seeded, history, stopped)


class _Stop(Exception):
    def __init__(self, reason: str, generation: int) -> None:
        super().__init__(reason)
        self.reason, self.generation = reason, generation


def _evolve(problem: Problem, pop: list, seeded: list[str], history: dict[str, list],
            makers: list, improved: Callable, rng: np.random.Generator,
            clock: Callable[[], float], time_limit: float | None,
            max_generations: int | None, pop_size: int, clear: float,
            callback: Callable[[int, float, np.ndarray, np.ndarray], Any] | None) -> int:
    """Seeds then generations, in place on ``pop`` (so an interrupt keeps what was found);
    returns the generations made, raises :class:`_Stop` on the time limit or the callback."""
    M = problem.n_nodes
    for name, make in makers:
        if pop and time_limit is not None and clock() > time_limit / 3:
            break
        x, masks = improved(*make())
        pop.append((_value(problem, x), x, masks))
        seeded.append(name)
    pop.sort(key=lambda p: -p[0])
    gen = 0
    history["generation"].append(0)
    history["time"].append(clock())
    history["best"].append(pop[0][0])
    while max_generations is None or gen < max_generations:
        if time_limit is not None and clock() >= time_limit:
            raise _Stop("time", gen)
        a, b = _tournament(pop, rng), _tournament(pop, rng)
        x, masks = _crossover(pop[a][1], pop[a][2], pop[b][1], pop[b][2], M, rng)
        emptied = _to_empty(problem, x, clear, rng)
        out = emptied[np.maximum(x, 0)] & (x >= 0)
        x[out], masks[out] = -1, 0
        x, masks = improved(x, masks)
        value = _value(problem, x)
        gen += 1
        if len(pop) < pop_size:
            pop.append((value, x, masks))
        elif value > pop[-1][0] and all(value != p[0] for p in pop):
            pop[-1] = (value, x, masks)
        pop.sort(key=lambda p: -p[0])
        history["generation"].append(gen)
        history["time"].append(clock())
        history["best"].append(pop[0][0])
        if callback is not None and callback(gen, pop[0][0], pop[0][1], pop[0][2]):
            raise _Stop("callback", gen)
    return gen


def _idle(problem: Problem, x: np.ndarray) -> np.ndarray:
    """(M,) milli-GPU each node leaves idle in the plan."""
    g = problem.gpu_milli
    placed = x >= 0
    used = np.bincount(x[placed], weights=g[placed], minlength=problem.n_nodes)
    return 1000.0 * problem.gpus - used


def _to_empty(problem: Problem, x: np.ndarray, clear: float, rng: np.random.Generator
              ) -> np.ndarray:
    """(M,) bool: nodes a mutation empties, drawn with probability proportional to the GPU
    they leave idle (fragments are where a repacking can gain)."""
    idle = np.maximum(_idle(problem, x), 0.0)
    M = problem.n_nodes
    k = max(1, round(clear * M))
    out = np.zeros(M, bool)
    if idle.sum() <= 0:
        out[rng.choice(M, size=k, replace=False)] = True
        return out
    k = min(k, int(np.count_nonzero(idle)))
    out[rng.choice(M, size=k, replace=False, p=idle / idle.sum())] = True
    return out


def _policy(problem: Problem, name: str) -> tuple[np.ndarray, np.ndarray]:
    run = gpushare.run_policy(problem, name)
    return run.x, run.devices


def _tournament(pop: list[tuple[float, np.ndarray, np.ndarray]], rng: np.random.Generator
                ) -> int:
    i, j = rng.integers(len(pop), size=2)
    return int(min(i, j))  # the population is sorted best first


def _crossover(xa: np.ndarray, ma: np.ndarray, xb: np.ndarray, mb: np.ndarray, M: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Node-wise uniform crossover: node j keeps its tasks of parent A or of parent B."""
    from_a = rng.random(M) < 0.5
    x = np.full(xa.shape, -1, np.int64)
    masks = np.zeros(xa.shape, np.int64)
    keep_a = (xa >= 0) & from_a[np.maximum(xa, 0)]
    x[keep_a], masks[keep_a] = xa[keep_a], ma[keep_a]
    # parent B's nodes take B's tasks, except those already placed from A: removing tasks
    # from a node keeps its devices valid
    keep_b = (xb >= 0) & ~from_a[np.maximum(xb, 0)] & ~keep_a
    x[keep_b], masks[keep_b] = xb[keep_b], mb[keep_b]
    return x, masks

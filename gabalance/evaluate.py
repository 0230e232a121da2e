"""Batched evaluation: one dispatcher, no math (the math lives in ``gabalance/backend``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gabalance.arrays import array_module, as_module, to_host
from gabalance.backend import OBJECTIVE_CODES, get_backend, pack, resolve_backend
from gabalance.devices import device_record
from gabalance.problem import Problem, ProblemError, check_sense, default_sense, mode_of

__all__ = ["Evaluation", "best_index", "evaluate", "rank_order"]


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate` returns.

    Examples
    --------
    >>> import gabalance as gb
    >>> from gabalance import examples
    >>> problem = examples.load("scenario")
    >>> ev = gb.evaluate(problem, [3, 3, 4, 3, 4], schedule=True)   # one plan, its times
    >>> ev.objective, ev.finish.shape
    (array([144.]), (1, 5))

    Attributes
    ----------
    objective : ndarray, shape (P,), float64
        Objective of each individual, in the objective's own units (not negated for "max").
        NumPy arrays, or CuPy arrays on the population's device when :func:`evaluate` was
        given a CuPy population (so are ``violation``, ``start`` and ``finish``).
    violation : ndarray, shape (P,), float64
        Constraint violation (0 = feasible); see docs/model.md.
    objective_name : str
    sense : {"min", "max"}
    mode : {"placement", "schedule"}
    backend : str
        The backend that computed it.
    rows : ndarray, shape (R,), int64
        Schedule mode: the individuals whose times are in ``start``/``finish``.
    start, finish : ndarray, shape (R, N), float64, or None
        Schedule mode: start and finish time of every task for the individuals in ``rows``.
    devices : ndarray, shape (P, N), int64, or None
        Problems with GPU devices or waiting tasks: the device mask of every task (bit d =
        device d of its node; 0 for a task without GPU, a waiting task, or an invalid given
        mask), as given or as packed by the canonical rule (``gabalance.devices``).
    """

    objective: np.ndarray
    violation: np.ndarray
    objective_name: str
    sense: str
    mode: str
    backend: str
    rows: np.ndarray
    start: np.ndarray | None = None
    finish: np.ndarray | None = None
    devices: np.ndarray | None = None

    @property
    def feasible(self) -> np.ndarray:
        """(P,) bool: violation is zero."""
        return self.violation == 0

    def best(self) -> int:
        """Index of the best individual under feasibility-first comparison."""
        return best_index(self.objective, self.violation, self.sense)


def rank_order(objective: Any, violation: Any, sense: str = "min") -> Any:
    """Indices sorting individuals best first: feasible before infeasible (by violation),
    then by objective in its sense, ties by index (Deb 2000, feasibility rules).

    ``objective`` and ``violation`` (P,): array_like, or CuPy arrays, which are ranked on
    their device (the indices come back there too), so that a generation on the GPU needs
    no round trip to the host. Two stable sorts (by objective, then by violation) make the
    order of ``lexsort((index, objective, violation))`` on both; NaN sorts last, and -0.0
    ranks with 0.0.

    Examples
    --------
    >>> import gabalance as gb
    >>> gb.rank_order([5.0, 3.0, 1.0], [0.0, 0.0, 2.0])   # the infeasible 1.0 ranks last
    array([1, 0, 2])
    """
    xp = array_module(objective)
    objective = xp.asarray(objective, dtype=xp.float64)
    violation = as_module(xp, violation).astype(xp.float64, copy=False)
    signed = -objective if sense == "max" else objective
    secondary = xp.where(violation > 0, 0.0, signed) + 0.0  # + 0.0: -0.0 becomes 0.0
    first = xp.argsort(secondary, kind="stable")
    return first[xp.argsort(violation[first] + 0.0, kind="stable")]


def best_index(objective: Any, violation: Any, sense: str = "min") -> int:
    """Index of the best individual (see :func:`rank_order`).

    Examples
    --------
    >>> import gabalance as gb
    >>> gb.best_index([5.0, 3.0, 1.0], [0.0, 0.0, 2.0])
    1
    >>> gb.best_index([5.0, 3.0], [0.0, 0.0], sense="max")
    0
    """
    return int(rank_order(objective, violation, sense)[0])


def check_mode(problem: Problem, objective: str) -> None:
    """Refuse a placement objective on a problem with dependencies.

    A placement objective scores all tasks resident at once, so it has no place for a
    dependency ("after ``p`` finishes"); :func:`evaluate` and :func:`gabalance.solve` refuse
    the pair alike rather than ignore the dependencies.

    Raises
    ------
    ProblemError
        Naming the objective and the number of dependencies.
    """
    if mode_of(objective) == "placement" and problem.n_edges:
        raise ProblemError(f"objective {objective!r} is a placement objective (all tasks "
                           f"resident at once), but the problem has {problem.n_edges} "
                           "dependencies; use a schedule objective (makespan, "
                           "weighted_completion)")


def _evaluate_iv(problem: Any, population: Any, keys: Any, objective: str | None,
                 sense: str | None, schedule: Any, devices: Any = None
                 ) -> tuple[Any, Any, str, str, str, np.ndarray, Any]:
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gabalance.Problem, got {type(problem).__name__}")
    objective = objective if objective is not None else problem.objective
    if objective is None:
        raise ProblemError("no objective: pass objective=... or set Problem.objective")
    mode = mode_of(objective)
    check_mode(problem, objective)
    sense = sense if sense is not None else default_sense(objective, problem.sense)
    check_sense(objective, sense)

    N, M = problem.n_tasks, problem.n_nodes
    shared = problem.has_devices or problem.waiting_allowed
    if shared and mode == "schedule":
        raise ProblemError("GPU devices and waiting tasks are modelled in placement mode only; "
                           f"objective {objective!r} is a schedule objective")
    if objective == "gpu_allocation" and not shared:
        raise ProblemError("objective 'gpu_allocation' needs GPU devices (Problem gpus / "
                           "gpu_milli)")
    if devices is not None and not shared:
        raise ProblemError("devices are only used when the problem has GPU devices")
    xp = array_module(population)  # a device population is checked where it lies
    pop = xp.asarray(population)
    if pop.ndim == 1:
        pop = pop[None, :]
    if pop.ndim != 2 or pop.shape[1] != N:
        raise ProblemError(f"population must have shape (P, {N}) (one node index per task), "
                           f"got shape {np.shape(population)}")
    if pop.shape[0] == 0:
        raise ProblemError("population is empty")
    if pop.dtype.kind not in "iu":
        if pop.dtype.kind != "f" or not bool(xp.all(xp.isfinite(pop))) \
                or bool(xp.any(pop != xp.round(pop))):
            raise ProblemError(f"population must hold integer node indices, got dtype "
                               f"{pop.dtype}")
        pop = pop.astype(np.int64)
    # one pass: seen as unsigned, negative indices are huge, so max() catches both ends
    unsigned = pop.view(pop.dtype.str.replace("i", "u")) if pop.dtype.kind == "i" else pop
    low = -1 if shared else 0  # -1: the task waits (a violation where it may not)
    if int(unsigned.max()) >= M and (not shared or int(pop.min()) < low or int(pop.max()) >= M):
        p, i = (int(v) for v in to_host(xp.argwhere((pop < low) | (pop >= M))[0]))
        raise ProblemError(f"population[{p}, {i}] = {int(pop[p, i])} (task "
                           f"{problem.task_names[i]!r}) is not a node index; the problem has "
                           f"{M} nodes" + (" (-1: the task waits)" if shared else ""))
    pop = xp.ascontiguousarray(pop, dtype=np.int32)
    P = pop.shape[0]

    key_arr = None
    if mode == "schedule":
        if keys is None:
            key_arr = xp.zeros((P, N))
        else:
            key_arr = xp.asarray(keys, dtype=np.float64)
            if key_arr.ndim == 1:
                key_arr = key_arr[None, :]
            if key_arr.shape != (P, N):
                raise ProblemError(f"keys must have shape ({P}, {N}) like the population, "
                                   f"got shape {np.shape(keys)}")
            if not bool(xp.all(xp.isfinite(key_arr))):
                p, i = (int(v) for v in to_host(xp.argwhere(~xp.isfinite(key_arr))[0]))
                raise ProblemError(f"keys[{p}, {i}] is not finite")
            key_arr = xp.ascontiguousarray(key_arr)
    elif keys is not None:
        raise ProblemError(f"keys are only used in schedule mode; objective {objective!r} is a "
                           "placement objective")

    if schedule is None or schedule is False:
        rows = np.zeros(0, np.int64)
    elif schedule is True:
        rows = np.arange(P, dtype=np.int64)
    elif isinstance(schedule, str):
        if schedule != "best":
            raise ProblemError(f"schedule must be None, True, 'best' or indices, got {schedule!r}")
        rows = np.zeros(0, np.int64)  # resolved after evaluation
    else:
        rows = np.unique(to_host(schedule).astype(np.int64).ravel())
        if rows.size and (rows[0] < 0 or rows[-1] >= P):
            raise ProblemError(f"schedule indices must lie in 0..{P - 1}")
    if mode == "placement" and rows.size:
        raise ProblemError("start/finish times exist only in schedule mode")
    masks = None
    if devices is not None:
        masks = xp.asarray(devices)
        if masks.ndim == 1:
            masks = masks[None, :]
        if masks.shape != pop.shape or masks.dtype.kind not in "iu":
            raise ProblemError(f"devices must hold integer device masks of shape {pop.shape} "
                               f"like the population, got dtype {masks.dtype} shape "
                               f"{np.shape(devices)}")
        masks = xp.ascontiguousarray(masks, dtype=np.int64)
    return pop, key_arr, objective, sense, mode, rows, masks


def evaluate(
    problem: Problem,
    population: Any,
    keys: Any = None,
    objective: str | None = None,
    *,
    sense: str | None = None,
    backend: str | None = "auto",
    schedule: Any = None,
    devices: Any = None,
) -> Evaluation:
    """Evaluate a population of assignments in one batched call.

    Parameters
    ----------
    problem : Problem
    population : array_like, shape (P, N) or (N,), int
        Node index of every task, one row per individual. A CuPy array stays on its device:
        it is checked there, evaluated there by the cupy backend (any other backend works on
        a host copy), and the result's arrays are CuPy arrays on the same device; NumPy in,
        NumPy out.
    keys : array_like, shape (P, N) or (N,), float, optional
        Schedule mode: priority keys of the serial schedule generation (default all zero,
        i.e. ready tasks in index order).
    objective : str, optional
        One of ``gabalance.OBJECTIVES`` (default ``problem.objective``).
    sense : {"min", "max"}, optional
        For ``cost`` only (default ``problem.sense``).
    backend : {"auto", "numba", "numpy", "cupy"}
        ``auto`` honours the ``GABALANCE_BACKEND`` environment variable, else takes ``cupy``
        when a CUDA device answers, else ``numba``.
    schedule : None, True, "best" or array of int
        Schedule mode: the individuals whose start/finish times to return.
    devices : array_like, shape (P, N) or (N,), int, optional
        Problems with GPU devices: the device mask of every task (bit d = device d of its
        node). Without it each individual's devices are packed by the canonical rule of
        :func:`gabalance.devices.pack_order`. With devices or waiting tasks a population
        may hold -1 (the task waits; a violation where ``may_wait`` is False).

    Returns
    -------
    Evaluation
        ``objective`` and ``violation`` (P,) float64, plus times when asked.

    Examples
    --------
    Two plans for the bundled scenario (5 tasks, 5 nodes, makespan): all tasks on
    ``gpu-1``, and one that puts GPU tasks on CPU nodes.

    >>> import numpy as np
    >>> import gabalance as gb
    >>> from gabalance import examples
    >>> problem = examples.load("scenario")
    >>> ev = gb.evaluate(problem, np.array([[3, 3, 4, 3, 4], [0, 1, 2, 0, 1]]),
    ...                  schedule="best")
    >>> ev.objective, ev.violation      # the second breaks 4 constraints
    (array([144.,  inf]), array([0., 4.]))
    >>> ev.best(), ev.start[0]          # start times of the best plan
    (0, array([20.,  0., 16.,  0., 64.]))
    """
    pop, key_arr, objective, sense, mode, rows, masks = _evaluate_iv(
        problem, population, keys, objective, sense, schedule, devices)
    name = resolve_backend(backend)
    out = array_module(pop)  # the population's side: host in, host out; device stays
    if name != "cupy" and out is not np:  # the CPU backends work on host copies
        pop = to_host(pop)
        key_arr = None if key_arr is None else to_host(key_arr)
        masks = None if masks is None else to_host(masks)
    engine = get_backend(name)
    if problem.has_devices or problem.waiting_allowed:
        return _shared(problem, engine, name, pop, masks, objective, sense, out)
    pk = pack(problem)
    code = OBJECTIVE_CODES[objective]
    start = finish = None
    if mode == "placement":
        obj, viol = engine.placement(pk, pop, code)
    else:
        assert key_arr is not None  # _evaluate_iv makes keys in schedule mode
        obj, viol, start, finish = engine.schedule(pk, pop, key_arr, code, rows)
        if isinstance(schedule, str):  # "best": decode that one individual again
            b = best_index(obj, viol, sense)
            rows = np.array([b], np.int64)
            _, _, start, finish = engine.schedule(pk, pop[b:b + 1], key_arr[b:b + 1], code,
                                                  np.zeros(1, np.int64))
    obj, viol = as_module(out, obj), as_module(out, viol)
    start = None if start is None else as_module(out, start)
    finish = None if finish is None else as_module(out, finish)
    return Evaluation(obj, viol, objective, sense, mode, name, rows, start, finish)


def _shared(problem: Problem, engine: Any, name: str, pop: Any, masks: Any, objective: str,
            sense: str, out: Any) -> Evaluation:
    """Evaluation on the GPU-device model: the device kernel gives the violation (capacity,
    labels, devices, waiting) and the allocated GPU; another placement objective comes from
    the placement kernel, which needs every task placed."""
    alloc, viol, dev = engine.devices(device_record(problem), pop, masks)
    if objective == "gpu_allocation":
        obj = alloc
    else:
        if bool((pop < 0).any()):
            p, i = (int(v) for v in to_host(array_module(pop).argwhere(pop < 0)[0]))
            raise ProblemError(f"objective {objective!r} needs every task placed, but task "
                               f"{problem.task_names[i]!r} waits in individual {p}; use "
                               "'gpu_allocation'")
        obj, _ = engine.placement(pack(problem), pop, OBJECTIVE_CODES[objective])
    return Evaluation(as_module(out, obj), as_module(out, viol), objective, sense, "placement",
                      name, np.zeros(0, np.int64), devices=as_module(out, dev))

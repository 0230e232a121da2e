"""``solve()``: argument checks, method dispatch, termination, progress and callbacks."""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from gabalance._clock import Clock
from gabalance.algorithms.ga import GA, GAParams
from gabalance.algorithms.pso import PSO, PSOParams
from gabalance.backend import resolve_backend
from gabalance.bounds import relative_gap, schedule_bound
from gabalance.evaluate import check_mode, evaluate
from gabalance.exact import EXACT_OBJECTIVES, MILPParams, solve_milp
from gabalance.problem import (
    ALWAYS_MAX,
    DEVICE_OBJECTIVES,
    MAX_OBJECTIVES,
    OBJECTIVES,
    Problem,
    default_sense,
    mode_of,
)
from gabalance.progress import ProgressBar, note
from gabalance.result import SolveResult, successful

__all__ = ["METHODS", "solve"]

logger = logging.getLogger(__name__)

#: search methods (take params, seeds, time limits, warm starts)
SEARCH_METHODS = ("ga", "pso")
#: constructive baselines, each run once
BASELINE_METHODS = ("round_robin", "least_connections", "least_loaded", "first_fit_decreasing",
                    "best_fit_decreasing", "heft", "cpop", "peft", "wspt", "random")
#: the list schedulers among them (HEFT, CPOP, PEFT, WSPT): schedule objectives only
SCHEDULE_ONLY_METHODS = ("heft", "cpop", "peft", "wspt")
#: exact methods (a MILP solved by HiGHS; see gabalance.exact)
EXACT_METHODS = ("milp",)
#: the GPU-sharing field's policies (objective ``gpu_allocation``; :mod:`gabalance.gpushare`),
#: each placing the tasks one at a time in task order; "random" there is the field's Random
DEVICE_METHODS = ("best_fit", "fgd", "fgd_fit", "fgd_exact", "fgd_pack", "dotprod",
                  "gpu_clustering", "gpu_packing")
METHODS = SEARCH_METHODS + EXACT_METHODS + BASELINE_METHODS + DEVICE_METHODS

#: generations run when neither ``time_limit`` nor ``max_generations`` is given
DEFAULT_GENERATIONS = 300


def _initial_iv(problem: Problem, initial: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Assignment (N,) int32 and keys (N,) or None from any accepted warm-start form."""
    N, M = problem.n_tasks, problem.n_nodes
    keys = None
    if isinstance(initial, SolveResult):
        keys = initial.get("priority")
        initial = initial.x
    if isinstance(initial, dict):
        index = {t: i for i, t in enumerate(problem.task_names)}
        x = np.full(N, -1, np.int64)
        for task, node in initial.items():
            if task not in index:
                raise ValueError(f"initial names unknown task {task!r}")
            x[index[task]] = _node_index(problem, node, task)
        missing = [problem.task_names[i] for i in np.flatnonzero(x < 0)[:5]]
        if missing:
            raise ValueError(f"initial gives no node for task(s) {', '.join(map(repr, missing))}")
        return x.astype(np.int32), None
    arr = np.asarray(initial)
    if arr.shape != (N,):
        raise ValueError(f"initial must give one node per task, shape ({N},), got shape "
                         f"{arr.shape}")
    if arr.dtype.kind in "US":
        x = np.array([_node_index(problem, str(v), problem.task_names[i])
                      for i, v in enumerate(arr.tolist())], np.int64)
    elif arr.dtype.kind in "iu":
        bad = np.flatnonzero((arr < 0) | (arr >= M))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"initial[{i}] = {arr[i]} (task {problem.task_names[i]!r}) is not a"
                             f" node index; the problem has {M} nodes")
        x = arr.astype(np.int64)
    else:
        raise ValueError(f"initial must hold node indices or node names, got dtype {arr.dtype}")
    if keys is not None:
        keys = np.asarray(keys, np.float64)
        if keys.shape != (N,):
            keys = None
    return x.astype(np.int32), keys


def _node_index(problem: Problem, node: Any, task: str) -> int:
    if isinstance(node, (int, np.integer)) and not isinstance(node, bool):
        if 0 <= int(node) < problem.n_nodes:
            return int(node)
    else:
        try:
            return problem.node_names.index(str(node))
        except ValueError:
            pass
    raise ValueError(f"initial: task {task!r} names unknown node {node!r}")


def _params_iv(params: Any, cls: type[GAParams] | type[PSOParams] | type[MILPParams],
               method: str) -> Any:
    """``params`` as an instance of ``cls`` (GAParams, PSOParams, MILPParams): default,
    dict or itself."""
    if params is None:
        return cls()
    if isinstance(params, dict):
        return cls.from_dict(params)
    if not isinstance(params, cls):
        raise TypeError(f"params must be a {cls.__name__} (or a dict of its fields) for method "
                        f"{method!r}, got {type(params).__name__}")
    return params


def _seed_iv(seed: Any) -> int:
    """The run's seed as a non-negative int; None draws one from the operating system's
    entropy, so that the result records a seed that repeats the run."""
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) \
            or seed < 0:
        raise ValueError(f"seed must be None or a non-negative integer, got {seed!r}")
    return int(seed)


def _solve_iv(problem: Any, objective: Any, sense: Any, method: Any, time_limit: Any,
              max_generations: Any, params: Any, initial: Any, callback: Any,
              max_evaluations: Any = None) -> dict[str, Any]:
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gabalance.Problem, got {type(problem).__name__}")
    if objective is None:
        objective = problem.objective
        if objective is None:
            raise ValueError("no objective: pass objective=... or set Problem.objective")
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r} (choose from {', '.join(OBJECTIVES)})")
    mode = mode_of(objective)
    check_mode(problem, objective)  # a ProblemError, which is a ValueError
    if sense is None:
        sense = default_sense(objective, problem.sense)
    if sense not in ("min", "max"):
        raise ValueError(f"sense must be 'min' or 'max', got {sense!r}")
    if sense == "max" and objective not in MAX_OBJECTIVES:
        raise ValueError(f"objective {objective!r} can only be minimised")
    if sense == "min" and objective in ALWAYS_MAX:
        raise ValueError(f"objective {objective!r} can only be maximised")
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
    if objective in DEVICE_OBJECTIVES or method in DEVICE_METHODS or problem.has_devices:
        _devices_iv(problem, objective, method, params, initial, max_evaluations)
    if method in SCHEDULE_ONLY_METHODS and mode != "schedule":
        raise ValueError(f"method {method!r} builds schedules; objective {objective!r} is a "
                         "placement objective")
    if method in EXACT_METHODS and objective not in EXACT_OBJECTIVES:
        raise ValueError(f"method 'milp' has no exact model for objective {objective!r} "
                         f"(choose from {', '.join(EXACT_OBJECTIVES)})")
    if time_limit is not None:
        if isinstance(time_limit, (bool, np.bool_)) \
                or not isinstance(time_limit, (numbers.Real, np.floating, np.integer)) \
                or not math.isfinite(time_limit) or time_limit <= 0:
            raise ValueError(f"time_limit must be a positive number of seconds, got "
                             f"{time_limit!r}")
    if max_generations is not None:
        if isinstance(max_generations, bool) or not isinstance(max_generations, (int, np.integer)) \
                or max_generations < 0:
            raise ValueError(f"max_generations must be a non-negative integer, got "
                             f"{max_generations!r}")
    if max_evaluations is not None:
        if isinstance(max_evaluations, bool) or not isinstance(max_evaluations, (int, np.integer)) \
                or max_evaluations < 1:
            raise ValueError(f"max_evaluations must be a positive integer, got "
                             f"{max_evaluations!r}")
        if method not in SEARCH_METHODS:
            raise ValueError(f"max_evaluations is only used by search methods "
                             f"({', '.join(SEARCH_METHODS)}), not by {method!r}")
    if method in SEARCH_METHODS:
        params = _params_iv(params, GAParams if method == "ga" else PSOParams, method)
    elif method in EXACT_METHODS:
        if max_generations is not None:
            raise ValueError("max_generations is not used by method 'milp'; use time_limit")
        params = _params_iv(params, MILPParams, method)
    elif params is not None:
        raise TypeError(f"method {method!r} takes no params")
    x0 = keys0 = None
    if initial is not None:
        if method not in SEARCH_METHODS + EXACT_METHODS:
            raise ValueError(f"initial is only used by search and exact methods "
                             f"({', '.join(SEARCH_METHODS + EXACT_METHODS)}), not by {method!r}")
        x0, keys0 = _initial_iv(problem, initial)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {type(callback).__name__}")
    if callback is not None and method in EXACT_METHODS:
        raise ValueError("callback is not used by method 'milp' (HiGHS reports no progress "
                         "to Python)")
    return dict(objective=objective, sense=sense, mode=mode, params=params, x0=x0,
                keys0=keys0)


def _devices_iv(problem: Problem, objective: str, method: str, params: Any, initial: Any,
                max_evaluations: Any) -> None:
    """The GPU-device model's rules: its objective, its methods, its options."""
    device_methods = ("ga", "random", *DEVICE_METHODS)
    if objective not in DEVICE_OBJECTIVES:
        if method in DEVICE_METHODS:
            raise ValueError(f"method {method!r} is a GPU-sharing policy: it needs objective "
                             f"{', '.join(map(repr, DEVICE_OBJECTIVES))}, not {objective!r}")
        raise ValueError(f"problem {problem.name!r} has GPU devices: solve() packs them per "
                         f"device only for objective 'gpu_allocation' (got {objective!r}); "
                         "for other objectives read the cluster pooled, a relaxation "
                         "(read_openb(..., pooled=True))")
    if not problem.has_devices:
        raise ValueError(f"objective {objective!r} needs GPU devices (Problem gpus and "
                         f"gpu_milli), problem {problem.name!r} has none")
    if method not in device_methods:
        raise ValueError(f"method {method!r} has no GPU-device model; for objective "
                         f"{objective!r} choose from {', '.join(device_methods)}")
    if params is not None:
        raise TypeError(f"params are not used on objective {objective!r} (its GA is the "
                        "packing search of gabalance.algorithms.packing)")
    if initial is not None:
        raise ValueError(f"initial is not used on objective {objective!r}")
    if max_evaluations is not None:
        raise ValueError(f"max_evaluations is not used on objective {objective!r}; use "
                         "time_limit or max_generations")


def solve(problem: Problem, objective: str | None = None, *, sense: str | None = None,
          method: str = "ga", backend: str = "auto", time_limit: float | None = None,
          max_generations: int | None = None, max_evaluations: int | None = None,
          seed: int | None = None, params: GAParams | PSOParams | MILPParams | dict | None = None,
          initial: Any = None, callback: Callable[[SolveResult], Any] | None = None,
          progress: bool = False) -> SolveResult:
    """Find a good assignment (and, for schedule objectives, a schedule) for ``problem``.

    Parameters
    ----------
    problem : Problem
    objective : str, optional
        One of :data:`gabalance.OBJECTIVES` (default ``problem.objective``).
    sense : {"min", "max"}, optional
        Only ``cost`` may be maximised (default ``problem.sense``); ``gpu_allocation`` always is.
    method : str, default "ga"
        "ga" (:class:`gabalance.algorithms.GA`), "pso" (:class:`gabalance.algorithms.PSO`),
        "milp" (the exact models of :mod:`gabalance.exact`, solved by HiGHS; small instances)
        or a baseline from :mod:`gabalance.baselines`: round_robin, least_connections,
        least_loaded, first_fit_decreasing, best_fit_decreasing, heft, cpop, peft, wspt (the
        list schedulers HEFT, CPOP, PEFT and Smith's ratio rule; schedule objectives), random.
        Objective ``gpu_allocation`` (GPU devices, docs/gpushare.md): "ga" is the packing
        search (:func:`gabalance.algorithms.packing.pack_search`; no ``params``, ``initial``
        or ``max_evaluations``), the others the GPU-sharing policies of
        :mod:`gabalance.gpushare`, run once in task order; ``devices`` then holds a device
        mask per task, and ``x`` -1 for a task that waits.
    backend : {"auto", "numba", "numpy", "cupy"}
        Evaluation engine: ``auto`` honours ``GABALANCE_BACKEND``, else takes ``cupy`` when
        CuPy imports and a CUDA device answers, else ``numba``.
    time_limit : float, optional
        Seconds for the whole solve except one-time kernel compilation (``compile_time``). Each
        stage of a search is sized to end in time (docs/search.md; an exact move that proves
        the best optimal ends it early, status 0); the message says by how much a step that
        still ran past the limit overran. The schedule objectives' lower bound
        (:func:`gabalance.schedule_bound`: ``bound``, ``gap``) counts inside it. For "milp",
        HiGHS's limit: the result then carries the best MILP solution (status 1) or none
        (status 5) and a proven ``bound``.
    max_generations : int, optional
        Generations after the first population. With no limit given, 300 generations.
    max_evaluations : int, optional
        Search methods: no new generation starts once this many full evaluations (decodes,
        ``nfev``; local search and justification count theirs) have been made (a run may end
        one generation past it). Unlike ``time_limit`` it does not depend on the machine: same
        seed, same budget, same result.
    seed : int, optional
        Seed of the run's one random generator (a non-negative integer): same seed and
        backend, same result. None draws one from the operating system's entropy; either
        way ``res.seed`` records it, so ``solve(..., seed=res.seed)`` repeats the run.
    params : GAParams, PSOParams ("pso"), MILPParams ("milp") or a dict of their fields
    initial : array_like (N,) of node indices or names, dict task -> node, or SolveResult
        Warm start: this solution joins the first population (after repair). For "milp" it
        tightens the schedule horizon and is returned if HiGHS finds nothing in time.
    callback : callable, optional
        Called after every generation with the current best as a :class:`SolveResult`
        (``x``, ``fun``, ``violation``, ``nit``, ``nfev``, ``time``); returning a true value
        or raising ``StopIteration`` stops the search (status 4).
    progress : bool, default False
        A progress bar on stderr (:mod:`gabalance.progress`): generations, evaluations and
        the best value; with a ``time_limit`` it fills with the seconds spent.

    Returns
    -------
    SolveResult
        Ctrl-C during the search also returns the best found so far (status 4).

    Examples
    --------
    >>> import gabalance as gb
    >>> from gabalance import examples
    >>> gb.solve(examples.load("scenario"), "makespan", max_generations=20, seed=0).success
    True
    """
    t0 = time.perf_counter()
    a = _solve_iv(problem, objective, sense, method, time_limit, max_generations, params,
                  initial, callback, max_evaluations)
    base = _common_fields(a, method, _seed_iv(seed), backend)
    return _dispatch(problem, a, base, time_limit, max_generations, max_evaluations, callback,
                     progress, t0)


def _common_fields(a: dict[str, Any], method: str, seed: int, backend: str) -> dict[str, Any]:
    """The fields every result of the call carries (``a`` from :func:`_solve_iv`)."""
    return dict(objective=a["objective"], sense=a["sense"], mode=a["mode"], method=method,
                backend=resolve_backend(backend), seed=seed)


def _dispatch(problem: Problem, a: dict[str, Any], base: dict[str, Any],
              time_limit: float | None, max_generations: int | None,
              max_evaluations: int | None, callback: Callable[[SolveResult], Any] | None,
              progress: bool, t0: float) -> SolveResult:
    """Run the checked call (``a`` from :func:`_solve_iv`, ``base`` the fields every result
    carries) with its method: device model, baseline, exact or search."""
    method, objective, seed = base["method"], base["objective"], base["seed"]
    logger.debug("solve %r: method %s, objective %s (%s), backend %s, seed %d", problem.name,
                 method, objective, base["sense"], base["backend"], seed)
    if objective in DEVICE_OBJECTIVES:
        if method == "ga" and time_limit is None and max_generations is None:
            max_generations = DEFAULT_GENERATIONS
        return _devices(problem, method, seed, time_limit, max_generations, callback,
                        progress, base, t0)
    # schedule objectives: a proven lower bound (milliseconds), inside the time limit
    bound = schedule_bound(problem, objective).value if base["mode"] == "schedule" else None
    if method in BASELINE_METHODS:
        return _bounded(_baseline(problem, method, seed, base, t0), bound)
    if method in EXACT_METHODS:
        initial_pair = None if a["x0"] is None else (a["x0"], a["keys0"])
        if time_limit is not None:  # what the bound took comes off HiGHS's time
            time_limit = max(0.01, time_limit - (time.perf_counter() - t0))
        return _exact(problem, a["params"], time_limit, initial_pair, base, progress, t0,
                      bound)
    if time_limit is None and max_generations is None and max_evaluations is None:
        max_generations = DEFAULT_GENERATIONS
    with Clock(time_limit) as clock:
        clock.t0 = t0
        res = _search(problem, a, base, time_limit, max_generations, max_evaluations,
                      callback, progress, clock)
    return _bounded(res, bound)


def _bounded(res: SolveResult, bound: float | None) -> SolveResult:
    """Set ``bound`` and ``gap`` of a minimised objective's result from a proven lower
    bound (round-off: a bound within 1e-9 above a feasible ``fun`` is ``fun``)."""
    if bound is None:
        return res
    fun = res.fun
    if res.violation == 0 and math.isfinite(fun) and bound > fun \
            and bound - fun <= 1e-9 * max(1.0, abs(fun)):
        bound = fun
    res.update(bound=float(bound),
               gap=relative_gap(fun, bound) if res.violation == 0 else math.nan)
    return res


def _search(problem: Problem, a: dict[str, Any], base: dict[str, Any],
            time_limit: float | None, max_generations: int | None,
            max_evaluations: int | None, callback: Callable[[SolveResult], Any] | None,
            progress: bool, clock: Clock) -> SolveResult:
    """The GA / PSO run of :func:`solve`: ``clock`` counts search time (wall time less
    kernel compilation), which ``time_limit`` bounds.

    Under a time limit the first population stays within it: the baselines' plans are
    seeded cheapest first while a fifth of the limit lasts (at most 5 s), the LP relaxation
    (cost objective) gets at most a quarter of what is left, and the first population is
    improved in chunks until half the limit has passed (the rest is only evaluated). A
    generation starts only when the last one (before the first: the first population's cost
    per individual) says it ends in time; in placement mode its children are improved in
    chunks until the limit, the rest only evaluated.
    """
    method, backend = base["method"], base["backend"]
    algo = GA if method == "ga" else PSO
    ga: Any = algo(problem, base["objective"], sense=base["sense"], params=a["params"],
                   backend=backend, seed=base["seed"], xp=_array_module(backend))
    ga.clock = clock
    ga.search.clock = clock
    bar = ProgressBar(f"gabalance {method}", enabled=progress, unit="gen",
                      total=max_generations, time_limit=time_limit)
    run = _SearchRun(ga, clock, base, callback, bar)
    budget = 5.0 if time_limit is None else min(5.0, 0.2 * time_limit)
    status, message = run.run(a["x0"], a["keys0"], budget, time_limit, max_generations,
                              max_evaluations)
    logger.debug("solve %r: %s after %d generations, %d evaluations", problem.name,
                 message, ga.generation, ga.nfev)
    res = run.result(problem, status, message, time_limit, a["params"])
    bar.close(ga.generation, _fields(ga.nfev, res.fun, res.violation), res.time)
    return res


class _SearchRun:
    """One GA / PSO run: its stopping rules, history, callback and progress bar."""

    def __init__(self, ga: Any, clock: Clock, base: dict[str, Any],
                 callback: Callable[[SolveResult], Any] | None, bar: ProgressBar) -> None:
        self.ga, self.clock, self.base, self.callback, self.bar = ga, clock, base, callback, bar
        self.history: dict[str, list] = {"generation": [], "time": [], "best": [],
                                         "violation": [], "nfev": []}

    def record(self) -> None:
        """Append the current generation to the history."""
        ga, history = self.ga, self.history
        fun, viol = ga.best_value  # scalars only: a device population stays where it is
        history["generation"].append(ga.generation)
        history["time"].append(self.clock.elapsed())
        history["best"].append(fun)
        history["violation"].append(viol)
        history["nfev"].append(ga.nfev)

    def run(self, x0: np.ndarray | None, keys0: np.ndarray | None, seed_budget_s: float,
            time_limit: float | None, max_generations: int | None,
            max_evaluations: int | None) -> tuple[int, str]:
        """The first population, then generations until a limit: (status, message)."""
        status, message = 1, ""
        try:
            self.ga.init(x0, keys0, seed_budget_s=seed_budget_s)
            self.record()
            status, message = self._generations(time_limit, max_generations, max_evaluations)
        except KeyboardInterrupt:
            status, message = 4, "interrupted"
            if not self.history["generation"]:
                raise
        if self.history["generation"] and self.history["generation"][-1] != self.ga.generation:
            self.record()
        return status, message

    def _generations(self, time_limit: float | None, max_generations: int | None,
                     max_evaluations: int | None) -> tuple[int, str]:
        ga, clock, history = self.ga, self.clock, self.history
        # a generation's cost before one has run: the first population's per-child cost
        last_gen = ga.seconds_per_child * (ga.children() if hasattr(ga, "children")
                                           else ga.pop.shape[0])
        while True:
            now = clock.elapsed()
            if max_generations is not None and ga.generation >= max_generations:
                return 1, f"generation limit reached ({max_generations})"
            if max_evaluations is not None and ga.nfev >= max_evaluations:
                return 1, f"evaluation limit reached ({max_evaluations})"
            # a small reserve for the final evaluation of the best and the result
            if time_limit is not None and now + last_gen + 0.01 * (1 + time_limit) > time_limit:
                return 1, f"time limit reached ({time_limit:g} s)"
            g0 = clock.elapsed()
            ga.step()
            # a core move (GA, cost objective) happens at set stages only: not part of the
            # next generation's expected cost
            last_gen = clock.elapsed() - g0 - getattr(ga, "core_seconds", 0.0)
            self.record()
            self.bar.update(ga.generation, _fields(ga.nfev, history["best"][-1],
                                                   history["violation"][-1]),
                            history["time"][-1])
            if getattr(ga, "optimal", False):
                return 0, ("optimal: HiGHS solved what reduced-cost fixing leaves around the "
                           "best assignment")
            if self.callback is not None:
                x, k, fun, viol = ga.best
                partial = SolveResult(x=x, priority=k, fun=fun, violation=viol, nit=ga.generation,
                                      nfev=ga.nfev, time=history["time"][-1], **self.base)
                if _callback_stops(self.callback, partial):
                    return 4, "stopped by the callback"

    def result(self, problem: Problem, status: int, message: str, time_limit: float | None,
               params: GAParams | PSOParams) -> SolveResult:
        """The best individual, evaluated once more, with the run's counts, history and
        (cost objective) the LP relaxation's bound."""
        ga, sense = self.ga, self.base["sense"]
        x, keys, _, _ = ga.best
        res = _finish(problem, x, keys, self.base, status, message, self.clock.t0)
        compile_s = self.clock.compile_time
        _say_overrun(res, time_limit, res.time - compile_s)
        lp = getattr(ga.search, "lp", None)
        bound = None if lp is None else (lp.bound if sense == "min" else -lp.bound)
        if res.status == 0:
            bound = res.fun
        gap = math.nan
        if bound is not None and res.violation == 0:
            gap = relative_gap(res.fun, bound) if sense == "min" else relative_gap(-res.fun, -bound)
        res.update(nit=ga.generation, nfev=ga.nfev, history=self.history,
                   params=params.to_dict(), seeded=list(ga.seeded), compile_time=compile_s,
                   bound=bound, gap=gap)
        return res


def _fields(nfev: int, best: float, violation: float) -> str:
    """A search's progress fields: evaluations and the best value (feasible or not)."""
    state = "feasible" if violation == 0 else f"violation {violation:.4g}"
    return f"evals {nfev}, best {best:.6g} ({state})"


def _callback_stops(callback: Callable[[SolveResult], Any], partial: SolveResult) -> bool:
    """Whether ``callback`` asks to stop: a true return value or ``StopIteration``."""
    try:
        return bool(callback(partial))
    except StopIteration:
        return True


def _say_overrun(res: SolveResult, time_limit: float | None, used: float) -> None:
    """Say in the message when ``used`` seconds of search ran past the time limit (the first
    population, or one generation, took longer than the limit left)."""
    if time_limit is not None and used > time_limit:
        res["message"] = res.message.replace(
            f"time limit reached ({time_limit:g} s)",
            f"time limit of {time_limit:g} s exceeded ({used:.2f} s of search)")


def _finish(problem: Problem, x: np.ndarray, keys: np.ndarray | None, base: dict[str, Any],
            status: int, message: str, t0: float) -> SolveResult:
    """Evaluate the chosen genome once more (times included) and fill in the result."""
    schedule = base["mode"] == "schedule"
    ev = evaluate(problem, x, keys if schedule else None, objective=base["objective"],
                  sense=base["sense"], backend=base["backend"],
                  schedule=True if schedule else None)
    fun, viol = float(ev.objective[0]), float(ev.violation[0])
    if viol > 0:
        status, message = 2, (message + "; " if message else "") + "no feasible solution found"
        if base["mode"] == "placement":
            message += _overcommitted(problem)
    elif not message:
        message = "completed"
    res = SolveResult(
        x=np.asarray(x, np.int32), fun=fun, violation=viol,
        success=successful(status, viol), status=status, message=message,
        nit=0, nfev=1,
        assignment={t: problem.node_names[int(j)] for t, j in zip(problem.task_names, x)},
        priority=None if not schedule or keys is None else np.asarray(keys, np.float64),
        start=ev.start[0] if ev.start is not None else None,
        finish=ev.finish[0] if ev.finish is not None else None,
        history=None, params=None, **base)
    res["time"] = time.perf_counter() - t0
    return res


def _overcommitted(problem: Problem) -> str:
    """``"; the tasks ask for ..."`` when, in some resource, the tasks' total demand (on their
    least demanding node) exceeds the nodes' total capacity, so that no placement is
    feasible; else ``""``."""
    d = problem.demand.min(axis=1) if problem.per_node_demand else problem.demand
    need = d.astype(np.float64).sum(axis=0)
    have = problem.capacity.astype(np.float64).sum(axis=0)
    over = [(problem.resources[k], need[k] / have[k] if have[k] > 0 else math.inf)
            for k in range(problem.n_resources) if need[k] > have[k]]
    if not over:
        return ""
    parts = ", ".join(f"{name} {ratio:.3g}x" for name, ratio in over)
    return (f"; the tasks ask for more than the nodes hold in total ({parts} the total "
            "capacity), so no feasible placement exists")


def _array_module(backend: str) -> Any:
    """numpy, or cupy for the cupy backend (whole generations then stay on the device)."""
    if backend == "cupy":
        import cupy

        return cupy
    return np


def _exact(problem: Problem, params: MILPParams, time_limit: float | None,
           initial: tuple[np.ndarray, np.ndarray | None] | None, base: dict[str, Any],
           progress: bool, t0: float, lower: float | None = None) -> SolveResult:
    """``method="milp"``; ``lower`` is the combinatorial lower bound of a schedule
    objective (:func:`gabalance.bounds.schedule_bound`), kept when HiGHS's is weaker."""
    limit = f", time limit {time_limit:g} s" if time_limit else ""
    note("gabalance milp", f"building and solving the MILP (HiGHS{limit})", progress)
    sol = solve_milp(problem, base["objective"], base["sense"], time_limit, params, initial)
    if sol.x is None:
        res = SolveResult(x=None, fun=math.nan, violation=math.nan, success=False,
                          status=sol.status, message=sol.message, nit=sol.node_count, nfev=0,
                          assignment=None, priority=None, start=None, finish=None,
                          history=None, **base)
        res["time"] = time.perf_counter() - t0
    else:
        res = _finish(problem, sol.x, sol.keys, base, sol.status, sol.message, t0)
        res.update(nit=sol.node_count, nfev=1)
        if sol.status == 5:
            res["success"] = False
    fun, bound = res.fun, sol.bound
    if lower is not None and not (math.isfinite(bound) and bound >= lower):
        bound = lower
    gap = math.nan
    if math.isfinite(fun) and math.isfinite(bound) and res.violation == 0:
        # fun is feasible, so the optimum lies between bound and fun; keep the bound there
        # against round-off (HiGHS's value is rescaled, fun is the decoder's own sum)
        bound = min(bound, fun) if base["sense"] == "min" else max(bound, fun)
        if sol.status == 0 and abs(fun - bound) <= 1e-9 * max(1.0, abs(fun)):
            bound = fun
    if math.isfinite(fun) and math.isfinite(bound):
        diff = max(0.0, fun - bound if base["sense"] == "min" else bound - fun)
        gap = 0.0 if diff == 0 else diff / max(abs(fun), 1e-12)
        if gap == 0 and res.status == 1:  # the (rounded) bound meets the solution: proven
            res.update(status=0, message="optimal: the time limit came, but the bound (rounded "
                       "to the objective's grid) already meets the solution")
    res.update(bound=bound, gap=gap, model=sol.stats, params=params.to_dict())
    note("gabalance milp", f"{res.message}: objective {fun:.6g}, bound {bound:.6g}, "
         f"{res.time:.2f} s", progress)
    return res


def _baseline(problem: Problem, method: str, seed: int | None, base: dict[str, Any],
              t0: float) -> SolveResult:
    from gabalance import baselines

    fn = baselines.BASELINES[method]
    if method == "least_loaded":
        plan = fn(problem, base["objective"])
    elif method == "random":
        plan = fn(problem, seed)
    else:
        plan = fn(problem)
    return _finish(problem, plan.assignment, plan.keys, base, 3, "", t0)


def _devices(problem: Problem, method: str, seed: int | None, time_limit: float | None,
             max_generations: int | None, callback: Callable[[SolveResult], Any] | None,
             progress: bool, base: dict[str, Any], t0: float) -> SolveResult:
    """Objective ``gpu_allocation``: a policy of :mod:`gabalance.gpushare` (run once) or the
    packing GA (:func:`gabalance.algorithms.packing.pack_search`)."""
    from gabalance import gpushare
    from gabalance.algorithms.packing import pack_search

    if method != "ga":
        run = gpushare.run_policy(problem, method, seed=0 if seed is None else seed)
        return _finish_devices(problem, run.x, run.devices, base, 3, "", t0)
    bar = ProgressBar("gabalance ga", enabled=progress, unit="gen", total=max_generations,
                      time_limit=time_limit)
    status, message = 1, ""
    with Clock(time_limit) as clock:
        clock.t0 = t0

        def report(gen: int, value: float, x: np.ndarray, masks: np.ndarray) -> bool:
            elapsed = clock.elapsed()
            bar.update(gen, _fields(gen, value, 0.0), elapsed)
            if callback is None:
                return False
            partial = SolveResult(x=x.astype(np.int32), devices=masks.copy(), fun=value,
                                  violation=0.0, nit=gen, nfev=gen, time=elapsed, **base)
            return _callback_stops(callback, partial)

        out = pack_search(problem, time_limit=time_limit, max_generations=max_generations,
                          seed=seed, elapsed=clock.elapsed, callback=report)
        if out.stopped in ("callback", "interrupted"):
            status = 4
            message = "interrupted" if out.stopped == "interrupted" else "stopped by the callback"
        elif out.stopped == "time":
            message = f"time limit reached ({time_limit:g} s)"
        else:
            message = f"generation limit reached ({max_generations})"
        compile_s = clock.compile_time
    res = _finish_devices(problem, out.x, out.devices, base, status, message, t0)
    _say_overrun(res, time_limit, res.time - compile_s)
    history = dict(out.history)
    history["violation"] = [0.0] * len(history.get("best", []))
    res.update(nit=out.generations, nfev=out.generations + len(out.seeded), history=history,
               seeded=list(out.seeded), compile_time=compile_s)
    bar.close(out.generations, _fields(res.nfev, res.fun, res.violation), res.time)
    return res


def _finish_devices(problem: Problem, x: np.ndarray, masks: np.ndarray, base: dict[str, Any],
                    status: int, message: str, t0: float) -> SolveResult:
    """The result of a device-model plan: x (-1 for a task that waits) and device masks."""
    x = np.asarray(x, np.int64)
    masks = np.asarray(masks, np.int64)
    ev = evaluate(problem, x, objective=base["objective"], sense=base["sense"],
                  backend="numpy", devices=masks)
    fun, viol = float(ev.objective[0]), float(ev.violation[0])
    if viol > 0:
        status, message = 2, (message + "; " if message else "") + "the plan is not valid"
    elif not message:
        message = "completed"
    waiting = int((x < 0).sum())
    res = SolveResult(
        x=x.astype(np.int32), devices=masks, fun=fun, violation=viol,
        success=successful(status, viol), status=status,
        message=message + (f"; {waiting} task(s) wait" if waiting else ""), nit=0, nfev=1,
        assignment={t: (problem.node_names[int(j)] if j >= 0 else None)
                    for t, j in zip(problem.task_names, x)},
        priority=None, start=None, finish=None, history=None, params=None, **base)
    res["time"] = time.perf_counter() - t0
    return res

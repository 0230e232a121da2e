"""Peer solvers of the GAP benchmark: CP-SAT, HiGHS and a GA written as DEAP teaches it.

Every peer is called as ``fn(problem, time_limit, *, seed=0, ...)`` on a generalised
assignment problem (objective ``cost`` of ``problem.sense``; per-node demand, integer data)
and returns a dict

``value``
    Objective of the best feasible assignment found, in the problem's sense, recomputed with
    :func:`gabalance.evaluate` from the solver's assignment (the same arithmetic for every
    solver); ``None`` when none was found.
``x``
    That assignment, int array (N,) of node indices, or ``None``.
``feasible``
    True when ``x`` has zero violation under :func:`gabalance.evaluate`.
``bound``
    Proven bound on the optimum (lower for "min", upper for "max") when the solver gives one,
    else ``None``.
``status``
    The solver's end state, lower case (CP-SAT's status name, HiGHS's through
    :data:`gabalance.result.STATUS`, ``"time_limit"`` for the DEAP GA).
``time``
    Wall seconds of the whole call (model building included).
``evaluations``
    Full fitness evaluations (the GA peer), else ``None``.
``history``
    ``(seconds since the call began, best feasible value)`` at every improvement.

:data:`SOLVERS` maps the suite's names to the functions; :func:`available` says which can
run. OR-Tools and DEAP are imported inside the functions, so this module imports without
them.
"""

from __future__ import annotations

import math
import os
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import gabalance as gb

__all__ = ["SOLVERS", "available", "cpsat_gap", "deap_gap", "highs_gap"]


# --------------------------------------------------------------------------- helpers


def _gap_data(problem: gb.Problem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``cost`` (N, M), per-node ``demand`` (N, M, K) and ``capacity`` (M, K) of a GAP."""
    if problem.cost is None:
        raise ValueError("a GAP needs an assignment cost (problem.cost is None)")
    demand = problem.demand
    if demand.ndim == 2:
        demand = np.broadcast_to(demand[:, None, :],
                                 (problem.n_tasks, problem.n_nodes, problem.n_resources))
    return problem.cost, demand, problem.capacity


def _score(problem: gb.Problem, x: Any) -> tuple[np.ndarray | None, float | None, bool]:
    """``(x, value, feasible)`` of an assignment by :func:`gabalance.evaluate`."""
    if x is None:
        return None, None, False
    x = np.asarray(x, dtype=np.int32)
    ev = gb.evaluate(problem, x[None, :], objective="cost", sense=problem.sense,
                     backend="numpy")
    if ev.violation[0] > 0:
        return x, None, False
    return x, float(ev.objective[0]), True


def _better(a: float, b: float | None, sense: str) -> bool:
    return b is None or (a > b if sense == "max" else a < b)


def _result(problem: gb.Problem, x: Any, *, bound: float | None, status: str, t0: float,
            evaluations: int | None, history: list[tuple[float, float]]) -> dict[str, Any]:
    x, value, feasible = _score(problem, x)
    if bound is not None and not math.isfinite(bound):
        bound = None
    return {"value": value, "x": x, "feasible": feasible,
            "bound": None if bound is None else float(bound), "status": status,
            "time": time.perf_counter() - t0, "evaluations": evaluations,
            "history": [(float(t), float(v)) for t, v in history]}


# --------------------------------------------------------------------------- CP-SAT


def cpsat_gap(problem: gb.Problem, time_limit: float, *, workers: int | None = None,
              seed: int = 0) -> dict[str, Any]:
    """Solve a GAP with OR-Tools' CP-SAT solver.

    The model: one Boolean ``x[i, j]`` per allowed (task, node) pair (``problem.allowed``;
    the other pairs get no variable), ``sum_j x[i, j] == 1`` per task, per node and resource
    ``sum_i demand[i, j, k] x[i, j] <= capacity[j, k]`` (left out when even all tasks allowed
    there fit), and ``sum cost[i, j] x[i, j]`` minimised or maximised by ``problem.sense``.

    Parameters
    ----------
    problem : gabalance.Problem
        A GAP: ``cost`` (N, M); ``cost``, ``demand`` and ``capacity`` integer-valued.
    time_limit : float
        ``max_time_in_seconds`` of the search (seconds).
    workers : int, optional
        ``num_workers`` (default ``os.cpu_count()``: one search worker per core).
    seed : int, default 0
        ``random_seed``.

    Returns
    -------
    dict
        As described in :mod:`bench.suite.peers`; ``bound`` is
        ``CpSolver.best_objective_bound`` (when a solution was found), ``history`` the
        objective of every solution CP-SAT reported (``CpSolverSolutionCallback``), with the
        wall time since the call began.

    Raises
    ------
    ValueError
        Non-integer cost, demand or capacity (CP-SAT's constraints take integer
        coefficients), or no cost matrix.
    """
    t0 = time.perf_counter()
    from ortools.sat.python import cp_model

    cost, demand, capacity = _gap_data(problem)
    for name, arr in (("cost", cost), ("demand", demand), ("capacity", capacity)):
        if not (np.all(np.isfinite(arr)) and np.array_equal(arr, np.round(arr))):
            raise ValueError(f"CP-SAT needs integer GAP data, but {name} holds non-integer "
                             "values")
    cost = cost.astype(np.int64)
    demand = demand.astype(np.int64)
    capacity = capacity.astype(np.int64)
    allowed = problem.allowed
    N, M = allowed.shape

    model = cp_model.CpModel()
    x: dict[tuple[int, int], Any] = {
        (i, j): model.new_bool_var(f"x[{i},{j}]")
        for i in range(N) for j in range(M) if allowed[i, j]
    }
    for i in range(N):
        model.add_exactly_one(x[i, j] for j in range(M) if allowed[i, j])
    for j in range(M):
        tasks = [i for i in range(N) if allowed[i, j]]
        for k in range(capacity.shape[1]):
            coef = [int(demand[i, j, k]) for i in tasks]
            if sum(coef) > capacity[j, k]:
                model.add(cp_model.LinearExpr.weighted_sum([x[i, j] for i in tasks], coef)
                          <= int(capacity[j, k]))
    pairs = list(x)
    objective = cp_model.LinearExpr.weighted_sum([x[p] for p in pairs],
                                                 [int(cost[p]) for p in pairs])
    if problem.sense == "max":
        model.maximize(objective)
    else:
        model.minimize(objective)

    history: list[tuple[float, float]] = []

    class _Recorder(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self) -> None:
            history.append((time.perf_counter() - t0, self.objective_value))

    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit)
    solver.parameters.num_workers = int(workers if workers is not None
                                        else (os.cpu_count() or 1))
    solver.parameters.random_seed = int(seed)
    status = solver.solve(model, _Recorder())

    assignment = None
    bound = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        assignment = np.full(N, -1, np.int32)
        for (i, j), var in x.items():
            if solver.boolean_value(var):
                assignment[i] = j
        bound = solver.best_objective_bound
    return _result(problem, assignment, bound=bound, status=solver.status_name(status).lower(),
                   t0=t0, evaluations=None, history=history)


# --------------------------------------------------------------------------- HiGHS

#: short names of :data:`gabalance.result.STATUS` for the exact method
_MILP_STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 4: "stopped",
                5: "no_solution", 6: "too_large"}


def highs_gap(problem: gb.Problem, time_limit: float, *, seed: int = 0) -> dict[str, Any]:
    """Solve a GAP with HiGHS (``scipy.optimize.milp``), through gabalance's exact model.

    This is ``gabalance.solve(problem, "cost", method="milp", time_limit=time_limit)``: the
    standard GAP model of :mod:`gabalance.exact` (a binary per allowed (task, node) pair, one
    assignment row per task, one knapsack row per node) handed to HiGHS with its time limit.

    Parameters
    ----------
    problem : gabalance.Problem
    time_limit : float
        HiGHS's time limit (seconds).
    seed : int, default 0
        Unused (SciPy's ``milp`` takes no seed); accepted so every peer has one signature.

    Returns
    -------
    dict
        As described in :mod:`bench.suite.peers`. ``history`` holds only the final point:
        ``scipy.optimize.milp`` has no callback, so HiGHS's intermediate incumbents are not
        seen. ``bound`` is HiGHS's dual bound.
    """
    del seed
    t0 = time.perf_counter()
    res = gb.solve(problem, "cost", sense=problem.sense, method="milp", time_limit=time_limit)
    bound = res.get("bound")
    out = _result(problem, res.x, bound=None if bound is None else float(bound),
                  status=_MILP_STATUS.get(int(res.status), str(res.status)), t0=t0,
                  evaluations=None, history=[])
    if out["feasible"]:
        out["history"] = [(out["time"], out["value"])]
    return out


# --------------------------------------------------------------------------- DEAP


def _deap_classes(sense: str) -> tuple[Any, Any]:
    """The creator's fitness and individual types for ``sense``, made once per process."""
    from deap import base, creator

    fit_name, weight = ("FitnessMax", 1.0) if sense == "max" else ("FitnessMin", -1.0)
    ind_name = "GapIndividualMax" if sense == "max" else "GapIndividualMin"
    if not hasattr(creator, fit_name):
        creator.create(fit_name, base.Fitness, weights=(weight,))
    fitness = getattr(creator, fit_name)
    if tuple(fitness.weights) != (weight,):
        raise RuntimeError(f"deap.creator.{fit_name} exists with weights {fitness.weights}")
    if not hasattr(creator, ind_name):
        creator.create(ind_name, list, fitness=fitness)
    return fitness, getattr(creator, ind_name)


def deap_gap(problem: gb.Problem, time_limit: float, *, seed: int = 0, pop_size: int = 300,
             cxpb: float = 0.5, mutpb: float = 0.2, indpb: float = 0.05,
             tournsize: int = 3) -> dict[str, Any]:
    """A GA for the GAP written the way DEAP's documentation teaches it, stopped by the clock.

    The design follows DEAP's tutorials and its One Max example
    (https://deap.readthedocs.io/en/master/examples/ga_onemax.html, and "Creating Types",
    "Operators and Algorithms" in https://deap.readthedocs.io/en/master/tutorials/): the
    ``creator`` makes a fitness (``FitnessMin``, or ``FitnessMax`` for sense "max") and a
    list-based individual; the ``toolbox`` registers ``attr`` (``random.randint(0, M - 1)``,
    a node drawn uniformly as a DEAP user would write it, allowed or not), ``individual``
    (``tools.initRepeat``, N genes), ``population``, ``evaluate`` (``evalGAP`` of
    ``bench/bench_evaluate.py``: cost plus a penalty per unit of capacity overload, the
    penalty larger than any total cost), ``mate`` (``tools.cxTwoPoint``), ``mutate``
    (``tools.mutUniformInt`` over 0..M-1) and ``select`` (``tools.selTournament``). The loop
    is that of ``algorithms.eaSimple`` written out (select, ``algorithms.varAnd``, evaluate
    the invalid individuals, replace the population, update a ``tools.HallOfFame(1)``) so
    that it stops at the time limit: before each generation the clock is read once, and the
    run stops when the last generation's duration would carry it past ``time_limit`` (the
    rule of :func:`gabalance.solve`; the first population is always evaluated).

    For sense "max", ``evalGAP`` is called with the penalty negated, so the fitness is
    ``cost - penalty * overload`` and is maximised; feasible (zero overload) individuals
    beat infeasible ones in both senses because the penalty exceeds any total cost.

    Parameters
    ----------
    problem : gabalance.Problem
        A GAP with one resource (``capacity`` (M, 1)) and non-negative costs.
    time_limit : float
        Wall seconds.
    seed : int, default 0
        Seeds Python's ``random`` module (DEAP's operators draw from it; the global state
        is changed).
    pop_size : int, default 300
        Population size (DEAP's One Max example uses 300).
    cxpb, mutpb : float, default 0.5, 0.2
        Crossover and mutation probabilities of ``varAnd`` (DEAP's tutorial values).
    indpb : float, default 0.05
        Per-gene mutation probability of ``mutUniformInt`` (the tutorial's ``indpb``).
    tournsize : int, default 3
        Tournament size of ``selTournament`` (the tutorial's value).

    Returns
    -------
    dict
        As described in :mod:`bench.suite.peers`: the best feasible individual met over the
        whole run (tracked generation by generation; the hall of fame keeps the best
        penalised one, which is the same individual once a feasible one exists), its value
        recomputed with :func:`gabalance.evaluate`; ``value`` ``None`` and ``feasible``
        False when no individual was feasible. ``evaluations`` counts ``evalGAP`` calls;
        ``status`` is ``"time_limit"``; ``bound`` is ``None``.

    Notes
    -----
    An individual whose penalised fitness beats the best feasible value so far (and is
    below the penalty, so has no integer overload) is confirmed with one batched
    :func:`gabalance.evaluate` call per generation before it is taken; those checks are not
    counted in ``evaluations``.
    """
    t0 = time.perf_counter()
    from deap import algorithms, base, tools

    from bench.bench_evaluate import evalGAP, gap_lists

    if problem.n_resources != 1:
        raise ValueError("evalGAP models one resource; the problem has "
                         f"{problem.n_resources}")
    if problem.cost is None:
        raise ValueError("a GAP needs an assignment cost (problem.cost is None)")
    if problem.demand.ndim == 2:
        problem_lists = problem.replace(demand=np.broadcast_to(
            problem.demand[:, None, :], (problem.n_tasks, problem.n_nodes, 1)).copy())
    else:
        problem_lists = problem
    sense = problem.sense
    _, Individual = _deap_classes(sense)
    data = gap_lists(problem_lists)
    penalty = data["penalty"]
    if sense == "max":
        data["penalty"] = -penalty  # fitness = cost - penalty * overload, maximised

    random.seed(seed)
    N, M = problem.n_tasks, problem.n_nodes
    toolbox = base.Toolbox()
    toolbox.register("attr", random.randint, 0, M - 1)
    toolbox.register("individual", tools.initRepeat, Individual, toolbox.attr, N)
    toolbox.register("population", tools.initRepeat, list, toolbox.individual)
    toolbox.register("evaluate", evalGAP, **data)
    toolbox.register("mate", tools.cxTwoPoint)
    toolbox.register("mutate", tools.mutUniformInt, low=0, up=M - 1, indpb=indpb)
    toolbox.register("select", tools.selTournament, tournsize=tournsize)

    best_x: list[int] | None = None
    best_value: float | None = None
    history: list[tuple[float, float]] = []
    evaluations = 0

    def evaluate_invalid(individuals: list) -> list:
        nonlocal evaluations
        invalid = [ind for ind in individuals if not ind.fitness.valid]
        for ind, fit in zip(invalid, map(toolbox.evaluate, invalid)):
            ind.fitness.values = fit
        evaluations += len(invalid)
        return invalid

    def track(individuals: list) -> None:
        """Take the best feasible individual among ``individuals`` if it improves."""
        nonlocal best_x, best_value
        candidates = []
        for ind in individuals:
            f = ind.fitness.values[0]
            no_overload = f < penalty if sense == "min" else f >= 0
            if no_overload and _better(f, best_value, sense):
                candidates.append(ind)
        if not candidates:
            return
        pop = np.array(candidates, dtype=np.int32)
        ev = gb.evaluate(problem, pop, objective="cost", sense=sense, backend="numpy")
        ok = np.flatnonzero(ev.violation == 0)
        if not ok.size:
            return
        b = ok[np.argmax(ev.objective[ok])] if sense == "max" else ok[np.argmin(ev.objective[ok])]
        value = float(ev.objective[b])
        if _better(value, best_value, sense):
            best_x, best_value = list(candidates[b]), value
            history.append((time.perf_counter() - t0, value))

    population = toolbox.population(n=pop_size)
    hof = tools.HallOfFame(1)
    evaluate_invalid(population)
    hof.update(population)
    track(population)

    last_gen = 0.0
    while time.perf_counter() - t0 + last_gen <= time_limit:
        g0 = time.perf_counter()
        offspring = toolbox.select(population, len(population))
        offspring = algorithms.varAnd(offspring, toolbox, cxpb, mutpb)
        fresh = evaluate_invalid(offspring)
        hof.update(offspring)
        population[:] = offspring
        track(fresh)
        last_gen = time.perf_counter() - g0

    return _result(problem, best_x, bound=None, status="time_limit", t0=t0,
                   evaluations=evaluations, history=history)


# --------------------------------------------------------------------------- registry

SOLVERS: dict[str, Callable[..., dict[str, Any]]] = {
    "cpsat": cpsat_gap, "highs": highs_gap, "deap": deap_gap,
}

#: modules each peer imports
_NEEDS = {
    "cpsat": ("ortools.sat.python.cp_model",),
    "highs": ("scipy.optimize",),
    "deap": ("deap.base", "deap.creator", "deap.tools", "deap.algorithms",
             "bench.bench_evaluate"),
}


def available() -> dict[str, str | None]:
    """Which peers can run here.

    Returns
    -------
    dict
        Peer name -> ``None`` when its modules import, else why not (e.g.
        ``"ortools not installed"``), so the suite can skip it with a note.
    """
    import importlib

    out: dict[str, str | None] = {}
    for name, modules in _NEEDS.items():
        reason = None
        for module in modules:
            try:
                mod = importlib.import_module(module)
                if name == "highs" and not hasattr(mod, "milp"):
                    reason = "scipy.optimize.milp missing (SciPy >= 1.9 needed)"
            except ModuleNotFoundError as exc:
                missing = (exc.name or module).split(".")[0]
                reason = f"{missing} not installed"
            except ImportError as exc:
                reason = f"{module} does not import ({exc})"
            if reason is not None:
                break
        out[name] = reason
    return out

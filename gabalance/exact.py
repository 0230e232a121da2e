"""Exact models: mixed-integer linear programs solved by HiGHS through ``scipy.optimize.milp``.

For small instances these give the true optimum, or, when the time limit ends the search, the
best solution HiGHS found and a proven bound on the optimum, so a metaheuristic's answer can
be judged. :func:`gabalance.solve` calls :func:`solve_milp` for ``method="milp"``;
``docs/exact.md`` describes both models.

Placement (objectives ``cost``, ``max_utilization``, ``nodes_used``)
    One binary ``y[i, j]`` per allowed (task, node) pair (pairs that are not allowed have no
    variable), ``sum_j y[i, j] = 1``, and per node and resource
    ``sum_i demand(i, j, k) y[i, j] <= capacity[j, k]`` (the GAP model). ``max_utilization``
    adds a continuous ``u`` with ``load[j, k] <= u capacity[j, k]``; ``nodes_used`` adds
    binaries ``z[j] >= y[i, j]``. ``imbalance`` (a standard deviation) is not linear and is
    refused.

Schedule (objectives ``makespan``, ``weighted_completion``)
    The time-indexed ("pulse") formulation of Pritsker, Watters & Wolfe (1969), extended with
    node choice: one binary ``x[i, j, t]`` per task, allowed node and integer start time.
    Capacity holds per node, resource and time step; a dependency ``p -> i`` requires
    ``S_i >= F_p + transfer(p, i)``, the transfer counted only when the two tasks sit on
    different nodes (one linear row per node of ``p``). Times must be integer multiples of a
    common unit ``1 / time_unit``, found automatically (runtimes, releases and transfer
    times; ``MILPParams.max_time_unit`` bounds it). The horizon comes from the best feasible
    heuristic schedule (the baselines' plans and a warm start): with upper bound ``UB`` on
    the objective, every task must finish by ``UB`` (makespan) or by
    ``(UB - sum_{l != i} w_l EF_l) / w_i`` (weighted completion, ``EF`` = earliest finish),
    tightened backwards along the dependencies. No optimal schedule is cut off.

    The MILP's schedule is returned as priority keys (tasks in order of MILP start time,
    dependencies breaking ties) that the serial decoder of ``docs/model.md`` turns into a
    schedule in which no task starts later, so its objective is no worse. Because every
    active schedule is produced by the decoder from some order (Kolisch 1996), the MILP's
    optimum equals the best objective over all assignments and priority orders.

Warm starts
    ``scipy.optimize.milp`` (SciPy 1.17) accepts no initial solution and no objective cutoff,
    so a GA solution cannot be handed to HiGHS as an incumbent. Here a warm start serves to
    tighten the schedule horizon (a better upper bound gives a smaller model) and is returned
    when HiGHS finds nothing in time (status 5). Handing it to HiGHS as an incumbent would
    need the ``highspy`` bindings (``Highs.setSolution``) instead of SciPy's wrapper.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import milp

from gabalance._milp import (
    Infeasible,
    TooLarge,
    heuristic_start,
    no_node,
    placement_model,
    quiet,
    schedule_model,
    time_unit,
)
from gabalance._params import DictRoundTrip
from gabalance.problem import Problem, mode_of

__all__ = ["EXACT_OBJECTIVES", "MILPParams", "MILPSolution", "solve_milp", "time_unit"]

#: HiGHS's primal and integrality tolerance here (its defaults, 1e-7 and 1e-6, would accept
#: overloads of that size in float data)
FEASIBILITY_TOLERANCE = 1e-9

#: objectives with an exact model
EXACT_OBJECTIVES = ("cost", "max_utilization", "nodes_used", "makespan", "weighted_completion")


@dataclass(frozen=True)
class MILPParams(DictRoundTrip):
    """Parameters of the exact method (``solve(method="milp", params=MILPParams(...))``).

    Attributes
    ----------
    mip_rel_gap : float, default 0.0
        HiGHS stops when (incumbent - bound) / incumbent falls to this; 0 proves optimality
        (HiGHS's own default, 1e-4, would stop up to 0.01% short of it).
    presolve : bool, default True
        Let HiGHS presolve the model.
    max_variables : int, default 200_000
        Size guard: a model with more variables is not built (status 6).
    max_nonzeros : int, default 5_000_000
        Size guard on the constraint matrix's nonzeros (about 40 bytes each in HiGHS).
    max_time_unit : int, default 1000
        Schedule mode: the largest number of time steps per time unit of the input. Times that
        are no multiple of ``1 / max_time_unit`` cannot be modelled exactly (status 6).
    disp : bool, default False
        Print HiGHS's log.

    Examples
    --------
    >>> import gabalance as gb
    >>> from gabalance import examples
    >>> problem = examples.load("scenario")
    >>> res = gb.solve(problem, method="milp", params=gb.MILPParams(mip_rel_gap=0.01))
    >>> res.status, res.fun, res.message
    (0, 110.0, 'optimal within a relative gap of 0.01 (proven by HiGHS)')
    """

    mip_rel_gap: float = 0.0
    presolve: bool = True
    max_variables: int = 200_000
    max_nonzeros: int = 5_000_000
    max_time_unit: int = 1000
    disp: bool = False

    def __post_init__(self) -> None:
        g = self.mip_rel_gap
        if isinstance(g, bool) or not isinstance(g, (int, float, np.floating)) \
                or not 0.0 <= float(g) < 1.0:
            raise ValueError(f"MILPParams.mip_rel_gap must be a number in [0, 1), got {g!r}")
        for name in ("max_variables", "max_nonzeros", "max_time_unit"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"MILPParams.{name} must be an integer >= 1, got {v!r}")
        for name in ("presolve", "disp"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"MILPParams.{name} must be True or False, "
                                 f"got {getattr(self, name)!r}")


@dataclass
class MILPSolution:
    """What :func:`solve_milp` found (before :func:`gabalance.solve` evaluates it).

    Attributes
    ----------
    status : int
        As :data:`gabalance.result.STATUS`: 0 optimal, 1 time limit with an incumbent,
        2 infeasible, 5 time limit without a MILP solution, 6 too large to model.
    message : str
    x : ndarray, shape (N,), int32, or None
        Node of every task (the MILP's, or for status 5 the heuristic's when there is one).
    keys : ndarray, shape (N,), float64, or None
        Schedule mode: priority keys reproducing the MILP's order.
    bound : float
        Proven bound on the optimum in the objective's units and sense (lower bound for
        "min", upper for "max"); nan when none is known.
    value : float
        The MILP's objective value for its incumbent (nan without one).
    node_count : int
        Branch-and-bound nodes HiGHS explored.
    stats : dict
        Model size: ``variables``, ``constraints``, ``nonzeros``, and in schedule mode
        ``time_unit`` (steps per input time unit) and ``horizon`` (in input time units).
    """

    status: int
    message: str
    x: np.ndarray | None = None
    keys: np.ndarray | None = None
    bound: float = math.nan
    value: float = math.nan
    node_count: int = 0
    stats: dict[str, Any] = dataclasses.field(default_factory=dict)


# --------------------------------------------------------------------------- driver


def _score(problem: Problem, objective: str, sense: str, x: np.ndarray,
           keys: np.ndarray | None) -> float | None:
    """Objective of ``(x, keys)`` as the package evaluates it; None when it is infeasible."""
    from gabalance.evaluate import evaluate

    ev = evaluate(problem, x, keys, objective, sense=sense, backend="numpy")
    return None if ev.violation[0] > 0 else float(ev.objective[0])


def solve_milp(problem: Problem, objective: str, sense: str = "min",
               time_limit: float | None = None, params: MILPParams | None = None,
               initial: tuple[np.ndarray, np.ndarray | None] | None = None) -> MILPSolution:
    """Solve ``problem`` exactly (see the module docstring for the models).

    Parameters
    ----------
    problem : Problem
    objective : str
        One of :data:`EXACT_OBJECTIVES`.
    sense : {"min", "max"}
        "max" for ``cost`` only.
    time_limit : float, optional
        Seconds for HiGHS (model building and the heuristics come on top; they are small).
    params : MILPParams, optional
    initial : (x, keys) or None
        A known solution: tightens the schedule horizon and is returned when HiGHS finds
        nothing in time.

    Returns
    -------
    MILPSolution
    """
    if objective not in EXACT_OBJECTIVES:
        raise ValueError(f"method 'milp' has no exact model for objective {objective!r} "
                         f"(choose from {', '.join(EXACT_OBJECTIVES)})")
    params = params or MILPParams()
    schedule = mode_of(objective) == "schedule"
    t0 = time.perf_counter()
    built = _build(problem, objective, sense, params, initial)
    if isinstance(built, MILPSolution):
        return built
    m, stats, fallback = built
    res = _run_highs(m, params, time_limit, t0, stats)
    flip = -1.0 if sense == "max" else 1.0
    bound, note = _dual_bound(res, m, stats.get("time_unit", 1), flip)
    nodes = int(getattr(res, "mip_node_count", 0) or 0)
    if res.status == 2:
        return MILPSolution(2, "infeasible: HiGHS proved that no assignment respects the "
                               "capacities", bound=math.nan, node_count=nodes, stats=stats)

    def heuristic() -> tuple | None:
        """The best heuristic solution (built once; schedules have it already)."""
        return fallback if schedule else heuristic_start(problem, objective, sense, initial)

    if res.x is None:
        if res.status != 1:
            return MILPSolution(4 if res.status == 4 else 2, f"HiGHS: {res.message}",
                                node_count=nodes, stats=stats)
        best = heuristic()
        msg = "time limit reached before HiGHS found a solution"
        if best is not None:
            msg += "; the best heuristic solution is returned"
            return MILPSolution(5, msg + note, x=best[0], keys=best[1], bound=bound,
                                node_count=nodes, stats=stats)
        return MILPSolution(5, msg + note, bound=bound, node_count=nodes, stats=stats)
    value = flip * float(res.fun) / stats.get("time_unit", 1)
    x, keys = _solution(problem, m, res.x, schedule)
    if res.status == 0:
        status, msg = 0, "optimal (proven by HiGHS)"
        if params.mip_rel_gap > 0:
            msg = f"optimal within a relative gap of {params.mip_rel_gap:g} (proven by HiGHS)"
    else:
        status, msg = 1, "time limit reached; the best MILP solution and a bound are returned"
    mine = _score(problem, objective, sense, x, keys)
    if mine is None or (mine - value) * flip > 1e-9 * max(1.0, abs(value)):
        # HiGHS accepted a solution that breaks a capacity by less than its tolerance: its
        # value is not reachable, so nothing is certified (the bound still holds: it bounds
        # a problem with capacities larger by the tolerance)
        best = heuristic()
        msg = ("HiGHS's solution overloads a node by less than its feasibility tolerance "
               f"({FEASIBILITY_TOLERANCE:g}), so it certifies nothing")
        if best is not None and (mine is None or (best[2] - mine) * flip < 0):
            x, keys = best[0], best[1]
            msg += "; the best heuristic solution is returned"
        return MILPSolution(5, msg + note, x=x, keys=keys, bound=bound, value=value,
                            node_count=nodes, stats=stats)
    if status == 1:
        best = heuristic()
        if best is not None and (best[2] - mine) * flip < 0:
            x, keys = best[0], best[1]
            msg = ("time limit reached; a heuristic solution better than HiGHS's incumbent "
                   "and a bound are returned")
    return MILPSolution(status, msg + note, x=x, keys=keys, bound=bound, value=value,
                        node_count=nodes, stats=stats)


def _build(problem: Problem, objective: str, sense: str, params: MILPParams,
           initial: tuple[np.ndarray, np.ndarray | None] | None
           ) -> MILPSolution | tuple[dict[str, Any], dict[str, Any], tuple | None]:
    """The model, its statistics and (schedules) the heuristic start that set its horizon;
    or the answer when no model is built (too large: status 6; proven infeasible: 2)."""
    fallback = None
    try:
        if mode_of(objective) != "schedule":
            return placement_model(problem, objective, sense, params), {}, None
        fallback = heuristic_start(problem, objective, sense, initial)
        if fallback is None:
            # the decoder never breaks capacity, so only eligibility can make it
            # infeasible, and every baseline respects eligibility
            no_node(problem, problem.allowed)
            raise AssertionError("no feasible heuristic schedule")  # pragma: no cover
        x0, _, _, start0 = fallback
        assert start0 is not None
        m = schedule_model(problem, objective, params, (x0, start0))
    except TooLarge as exc:
        return MILPSolution(6, str(exc))
    except Infeasible as exc:
        return MILPSolution(2, f"infeasible: {exc}")
    stats = {"time_unit": m["unit"], "horizon": m["horizon"], "precedence": m["precedence"]}
    return m, stats, fallback


def _run_highs(m: dict[str, Any], params: MILPParams, time_limit: float | None, t0: float,
               stats: dict[str, Any]) -> Any:
    """HiGHS on model ``m`` within what is left of ``time_limit`` since ``t0``; adds the
    model's size to ``stats``."""
    c, cons = m["c"], m["constraints"]
    stats.update(variables=int(c.size), constraints=int(cons.A.shape[0]),
                 nonzeros=int(cons.A.nnz))
    options: dict[str, Any] = {"disp": params.disp, "presolve": params.presolve,
                               "mip_rel_gap": float(params.mip_rel_gap)}
    if time_limit is not None:
        options["time_limit"] = max(0.01, float(time_limit) - (time.perf_counter() - t0))
    options.update(primal_feasibility_tolerance=FEASIBILITY_TOLERANCE,
                   mip_feasibility_tolerance=FEASIBILITY_TOLERANCE)
    with warnings.catch_warnings(), quiet(not params.disp):
        # SciPy warns that it passes the two tolerances to HiGHS verbatim
        warnings.filterwarnings("ignore", "Unrecognized options", RuntimeWarning)
        return milp(c, integrality=m["integrality"], bounds=m["bounds"], constraints=cons,
                    options=options)


def _dual_bound(res: Any, m: dict[str, Any], unit: int, flip: float) -> tuple[float, str]:
    """HiGHS's bound on the optimum in the problem's units and sense (nan when there is
    none), and a note when it is the model's own combinatorial bound instead."""
    bound = getattr(res, "mip_dual_bound", None)
    if res.status == 0 and bound is None:
        bound = res.fun
    note = ""
    if (bound is None or not math.isfinite(bound)) and res.status == 1:
        # SciPy passes on no dual bound when HiGHS has no solution; use the model's own
        bound = m["simple_bound"]
        note = " (the bound is the model's combinatorial one: HiGHS reported none)"
    if bound is None or not math.isfinite(bound):
        return math.nan, note
    if m["integral"]:
        bound = math.ceil(bound - 1e-6)
    return flip * bound / unit, note


def _solution(problem: Problem, m: dict[str, Any], xv: np.ndarray, schedule: bool
              ) -> tuple[np.ndarray, np.ndarray | None]:
    """The assignment (N,) int32 and (schedules) the priority keys (N,) of the MILP's
    solution vector ``xv``: tasks in order of start time, dependencies breaking ties."""
    x = np.empty(problem.n_tasks, np.int32)
    if not schedule:
        pi, pj = m["pi"], m["pj"]
        picked = xv[:pi.size] > 0.5
        x[pi[picked]] = pj[picked]
        return x, None
    chosen = np.flatnonzero(xv[:m["V"]] > 0.5)
    start = np.empty(problem.n_tasks, np.int64)
    x[m["vi"][chosen]] = m["vj"][chosen]
    start[m["vi"][chosen]] = m["vt"][chosen]
    topo = np.empty(problem.n_tasks, np.int64)
    topo[np.asarray(m["order"])] = np.arange(problem.n_tasks)
    rank = np.empty(problem.n_tasks, np.int64)
    rank[np.lexsort((topo, start))] = np.arange(problem.n_tasks)
    return x, rank / problem.n_tasks

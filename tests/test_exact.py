"""The exact method (gabalance/exact.py, ``solve(method="milp")``): MILP optima against brute
force, statuses 0/1/2/5/6, pinned argument errors, the time grid, real benchmark optima and
the SolveResult it returns.

The brute force is independent of the models:

* placement: every one of the M^N assignments is judged by the naive oracle
  (``naive.placement``); the best feasible value is the optimum, none feasible means the
  MILP must prove infeasibility (status 2);
* schedule: every allowed assignment is decoded with every permutation of the tasks as
  priority keys (``gabalance.evaluate``, numba backend). The serial decoder turns any
  permutation into a dependency-feasible order, so this covers every order, and with it every
  active schedule: the best value is the optimum over all schedules (Kolisch 1996).
"""

from __future__ import annotations

import csv
import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import gabalance as gb
from gabalance import exact, examples, generate
from gabalance.exact import EXACT_OBJECTIVES, MILPParams
from gabalance.io import data_dir, psplib_optima, read_orlib_gap, read_psplib
from gabalance.result import STATUS, SolveResult

import naive
from brute import brute_schedule
from strategies import problems

DATA = data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="benchmark data folder not found")

BRUTE = settings(max_examples=60, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])
NO_EDGES = dict(edges=np.zeros((0, 2), np.int64), data=np.zeros(0))


def _raises(exc, message):
    return pytest.raises(exc, match="^" + re.escape(message) + "$")


def _close(a: float, b: float, rel: float) -> bool:
    return abs(a - b) <= rel * max(1.0, abs(b))


# --------------------------------------------------------------------------- brute force


def brute_placement(p: gb.Problem, objective: str, sense: str) -> float | None:
    """Best value over all M^N assignments that the naive oracle calls feasible (None: none
    is)."""
    best = None
    for x in itertools.product(range(p.n_nodes), repeat=p.n_tasks):
        value, violation = naive.placement(p, x, objective)
        if violation == 0 and (best is None or (value < best if sense == "min"
                                                else value > best)):
            best = value
    return best



def check_placement(p: gb.Problem, objective: str, sense: str) -> None:
    if p.n_edges:
        p = p.replace(**NO_EDGES)
    res = gb.solve(p, objective, sense=sense, method="milp")
    best = brute_placement(p, objective, sense)
    if best is None:
        assert res.status == 2, res.message
        assert res.x is None and not res.success
        assert math.isnan(res.fun) and math.isnan(res.bound) and math.isnan(res.gap)
        return
    assert res.status == 0, res.message
    assert res.success and res.violation == 0
    assert _close(res.fun, best, 1e-9), (res.fun, best)
    assert _close(res.bound, best, 1e-6), (res.bound, best)
    assert res.gap == 0, (res.fun, res.bound, res.gap)
    value, violation = naive.placement(p, res.x, objective)
    assert violation == 0 and value == res.fun
    assert gb.validate(p, res.x).ok
    res.check(p)


def check_schedule(p: gb.Problem, objective: str) -> None:
    res = gb.solve(p, objective, method="milp")
    assert res.status == 0, res.message
    best = brute_schedule(p, objective)
    assert res.success and res.violation == 0
    assert _close(res.fun, best, 1e-9), (res.fun, best)
    assert _close(res.bound, best, 1e-6), (res.bound, best)
    assert res.gap == 0, (res.fun, res.bound, res.gap)
    check = gb.validate(p, res.x, res.start)
    assert check.ok, str(check)
    assert naive.validate_schedule(p, res.x, res.start) == []
    value, violation, starts, _ = naive.schedule(p, res.x, res.priority, objective)
    assert violation == 0 and _close(value, res.fun, 1e-12)
    np.testing.assert_allclose(starts, res.start, rtol=1e-12)
    res.check(p)


@BRUTE
@given(problems(max_nodes=3, max_tasks=7))
def test_cost_min_equals_brute_force(p):
    check_placement(p, "cost", "min")


@BRUTE
@given(problems(max_nodes=3, max_tasks=7))
def test_cost_max_equals_brute_force(p):
    check_placement(p, "cost", "max")


@BRUTE
@given(problems(max_nodes=3, max_tasks=7))
def test_max_utilization_equals_brute_force(p):
    check_placement(p, "max_utilization", "min")


@BRUTE
@given(problems(max_nodes=3, max_tasks=7))
def test_nodes_used_equals_brute_force(p):
    check_placement(p, "nodes_used", "min")


@BRUTE
@given(problems(schedule=True, max_nodes=3, max_tasks=6))
def test_makespan_equals_brute_force(p):
    check_schedule(p, "makespan")


@BRUTE
@given(problems(schedule=True, max_nodes=3, max_tasks=6))
def test_weighted_completion_equals_brute_force(p):
    check_schedule(p, "weighted_completion")


# --------------------------------------------------------------------------- unit tests


@pytest.fixture(scope="module")
def scenario() -> gb.Problem:
    return examples.load("scenario")


@pytest.fixture(scope="module")
def scenario_milp(scenario) -> SolveResult:
    return gb.solve(scenario, method="milp")


def _tiny_placement() -> gb.Problem:
    """Two tasks, two nodes, one resource, everything fits (4 variables)."""
    return gb.Problem([[4], [4]], [[1], [2]], cost=[[1, 5], [3, 2]])


def test_scenario_is_solved_to_proven_optimality(scenario, scenario_milp):
    res = scenario_milp
    assert scenario.objective == "makespan"
    assert res.status == 0 and res.success
    assert res.message == "optimal (proven by HiGHS)"
    assert res.method == "milp" and res.objective == "makespan" and res.mode == "schedule"
    assert res.fun == 110.0 and res.bound == 110.0 and res.gap == 0.0
    assert res.violation == 0
    assert set(res.model) >= {"variables", "constraints", "nonzeros", "time_unit", "horizon"}
    assert res.model["time_unit"] == 1 and res.model["horizon"] >= 110.0
    assert res.params == MILPParams().to_dict()
    ga = gb.solve(scenario, seed=0, max_generations=50)
    assert ga.fun == 110.0


def test_milp_schedule_passes_validate(scenario, scenario_milp):
    res = scenario_milp
    check = gb.validate(scenario, res.x, res.start)
    assert check.ok, str(check)
    assert naive.validate_schedule(scenario, res.x, res.start) == []
    runtimes = [scenario.runtime_of(i, int(j)) for i, j in enumerate(res.x)]
    np.testing.assert_allclose(res.finish, res.start + runtimes)
    assert res.finish.max() == res.fun
    ev = gb.evaluate(scenario, res.x, res.priority, "makespan", schedule=True)
    assert ev.objective[0] == res.fun
    res.check(scenario)


def test_infeasible_by_capacity_is_status_2():
    # each task fits node 0 alone, both together need 5 > 4
    p = gb.Problem([[4]], [[3], [2]])
    for objective in ("cost", "max_utilization", "nodes_used"):
        res = gb.solve(p, objective, method="milp")
        assert res.status == 2
        assert res.message == ("infeasible: HiGHS proved that no assignment respects the "
                               "capacities")
        assert res.x is None and res.assignment is None and not res.success
        assert math.isnan(res.fun) and math.isnan(res.bound) and math.isnan(res.gap)


def test_too_many_variables_is_status_6():
    p = _tiny_placement()
    res = gb.solve(p, "cost", method="milp", params=MILPParams(max_variables=3))
    assert res.status == 6 and not res.success
    assert res.message == ("too large for the exact model: 4 variables and about 10 nonzeros "
                           "(limits: MILPParams.max_variables=3, max_nonzeros=5,000,000); "
                           "raise the limits or use method='ga'")
    assert res.x is None and math.isnan(res.fun) and math.isnan(res.bound)
    assert res.model == {}
    assert STATUS[6].startswith("too large")
    # the same problem within the limit
    assert gb.solve(p, "cost", method="milp", params=MILPParams(max_variables=4)).status == 0


def test_hopelessly_large_model_is_not_told_to_raise_the_limits():
    """Over 100 times a limit no limit makes the model solvable: the message says so (it used
    to advise raising the limits for a model with trillions of variables)."""
    p = _tiny_placement()
    res = gb.solve(p, "cost", method="milp", params=MILPParams(max_nonzeros=1))
    assert res.status == 6
    # 10 nonzeros against a limit of 1: just over, the limits may be raised
    assert res.message.endswith("raise the limits or use method='ga'")
    big = gb.solve(examples.load("ai_cluster"), method="milp")
    assert big.status == 6 and "raise the limits" not in big.message
    assert "out of reach for this instance" in big.message and "method='ga'" in big.message


def test_times_off_the_grid_are_status_6():
    p = gb.Problem([[1]], [[1], [1]], runtime=[[1 / 3], [1.0]])  # one after the other
    res = gb.solve(p, "makespan", method="milp", params=MILPParams(max_time_unit=2))
    assert res.status == 6 and res.x is None
    assert res.message == ("too large for the exact model: the times are no multiples of 1/2 "
                           "of a time unit (MILPParams.max_time_unit), so no time grid "
                           "represents them exactly")
    res = gb.solve(p, "makespan", method="milp", params=MILPParams(max_time_unit=3))
    assert res.status == 0 and res.model["time_unit"] == 3
    assert res.fun == pytest.approx(4 / 3, rel=1e-12)


def test_huge_time_grid_is_status_6_before_any_allocation():
    # 1e9 time units on a grid of 1/1000: about 1e12 start-time variables; the size guard must
    # answer before the per-variable arrays are built (they once asked numpy for terabytes)
    p = gb.Problem([[1]], [[1], [1]], runtime=[[1e9], [0.001]])
    res = gb.solve(p, "makespan", method="milp")
    assert res.status == 6 and res.x is None and res.model == {}
    assert re.match(r"too large for the exact model: 1,000,000,000,\d{3} variables and about ",
                    res.message), res.message


def test_time_unit():
    def one(**kw):
        return gb.Problem([[1]], [[0]], **kw)

    assert exact.time_unit(one(duration=[2.0])) == 1
    assert exact.time_unit(one(duration=[0.0])) == 1
    assert exact.time_unit(one(duration=[0.5])) == 2
    assert exact.time_unit(one(duration=[1.0], speed=[3.0])) == 3
    assert exact.time_unit(one(duration=[1.0], speed=[3.0]), max_unit=2) is None
    assert exact.time_unit(one(duration=[1.0], release=[0.25])) == 4
    # an edge between two nodes: transfer 1 / 8
    two = gb.Problem([[1], [1]], [[0], [0]], duration=[1.0, 1.0], edges=[[0, 1]], data=[1.0],
                     bandwidth=8.0)
    assert exact.time_unit(two) == 8
    # on one node there is no transfer
    assert exact.time_unit(gb.Problem([[1]], [[0], [0]], edges=[[0, 1]], data=[1.0],
                                      bandwidth=8.0)) == 1
    # runtimes of pairs that are not allowed do not count
    masked = gb.Problem([[1], [1]], [[0]], runtime=[[1.0, 1 / 7]],
                        node_labels=[["a"], []], task_requires=[[["a"]]])
    assert exact.time_unit(masked) == 1


def test_time_limit_returns_incumbent_and_bound():
    p = generate.gap_like(20, 200, kind="d", seed=1)
    res = gb.solve(p, "cost", method="milp", time_limit=0.05)
    assert res.status in (1, 5), res.message
    assert math.isnan(res.bound) or math.isfinite(res.bound)
    if res.status == 1:
        assert res.success and res.x is not None and res.violation == 0
        assert res.message.startswith("time limit reached; ")
        res.check(p)
    else:
        assert not res.success
        assert res.message.startswith("time limit reached before HiGHS found a solution")
    if res.x is not None and math.isfinite(res.bound):
        assert res.bound <= res.fun  # a lower bound for "min"
        assert res.gap == pytest.approx((res.fun - res.bound) / res.fun)
    assert res.time < 30.0  # HiGHS stops at 0.05 s; the baselines and model come on top


def test_time_limit_for_max_gives_an_upper_bound():
    p = generate.gap_like(20, 200, kind="c", seed=2)
    res = gb.solve(p, "cost", sense="max", method="milp", time_limit=0.05)
    assert res.status in (1, 5), res.message
    if res.x is not None and math.isfinite(res.bound):
        assert res.bound >= res.fun
        assert res.gap >= 0


def test_schedule_time_limit_returns_a_valid_schedule_and_bound():
    p = generate.random_dag(30, seed=1, n_procs=3, w_dag=10)
    p = p.replace(runtime=np.round(p.runtime), data=np.round(p.data))  # integer times
    res = gb.solve(p, "makespan", method="milp", time_limit=0.05)
    assert res.status in (1, 5), res.message
    assert res.message.startswith("time limit reached")
    assert res.x is not None  # schedule mode always has the baselines' schedules
    assert res.success == (res.status == 1) and res.violation == 0
    assert math.isnan(res.bound) or res.bound <= res.fun
    check = gb.validate(p, res.x, res.start)
    assert check.ok, str(check)
    res.check(p)


def test_initial_is_accepted(scenario, scenario_milp):
    ga = gb.solve(scenario, seed=0, max_generations=5)
    for initial in (ga, ga.x, ga.assignment):
        res = gb.solve(scenario, method="milp", initial=initial)
        assert res.status == 0 and res.fun == 110.0 and res.bound == 110.0
    p = _tiny_placement()
    res = gb.solve(p, "cost", method="milp", initial=[1, 0])
    assert res.status == 0 and res.fun == 3.0 and list(res.x) == [0, 1]
    with _raises(ValueError, "initial must give one node per task, shape (2,), got shape (3,)"):
        gb.solve(p, "cost", method="milp", initial=[0, 0, 0])


def test_mip_rel_gap_message(scenario):
    res = gb.solve(scenario, method="milp", params={"mip_rel_gap": 0.5})
    assert res.status == 0
    assert res.message == "optimal within a relative gap of 0.5 (proven by HiGHS)"
    assert res.params["mip_rel_gap"] == 0.5


def test_solve_argument_errors(scenario):
    p = _tiny_placement()
    with _raises(ValueError, "method 'milp' has no exact model for objective 'imbalance' "
                             "(choose from cost, max_utilization, nodes_used, makespan, "
                             "weighted_completion)"):
        gb.solve(p, "imbalance", method="milp")
    with _raises(ValueError, "method 'milp' has no exact model for objective 'imbalance' "
                             "(choose from cost, max_utilization, nodes_used, makespan, "
                             "weighted_completion)"):
        exact.solve_milp(p, "imbalance")
    assert EXACT_OBJECTIVES == ("cost", "max_utilization", "nodes_used", "makespan",
                                "weighted_completion")
    with _raises(ValueError, "max_generations is not used by method 'milp'; use time_limit"):
        gb.solve(p, "cost", method="milp", max_generations=10)
    with _raises(ValueError, "callback is not used by method 'milp' (HiGHS reports no "
                             "progress to Python)"):
        gb.solve(p, "cost", method="milp", callback=lambda r: None)
    with _raises(TypeError, "callback must be callable, got int"):
        gb.solve(p, "cost", method="milp", callback=3)
    with _raises(TypeError, "params must be a MILPParams (or a dict of its fields) for method "
                            "'milp', got GAParams"):
        gb.solve(p, "cost", method="milp", params=gb.GAParams())
    with _raises(TypeError, "params must be a GAParams (or a dict of its fields) for method "
                            "'ga', got MILPParams"):
        gb.solve(p, "cost", params=MILPParams())
    with _raises(ValueError, "unknown MILPParams field(s): bogus"):
        gb.solve(p, "cost", method="milp", params={"bogus": 1})
    with _raises(ValueError, "time_limit must be a positive number of seconds, got 0"):
        gb.solve(p, "cost", method="milp", time_limit=0)
    with _raises(ValueError, "objective 'makespan' can only be minimised"):
        gb.solve(scenario, "makespan", sense="max", method="milp")


def test_milp_params_validation():
    with _raises(ValueError, "MILPParams.mip_rel_gap must be a number in [0, 1), got 1.5"):
        MILPParams(mip_rel_gap=1.5)
    with _raises(ValueError, "MILPParams.mip_rel_gap must be a number in [0, 1), got -0.1"):
        MILPParams(mip_rel_gap=-0.1)
    with _raises(ValueError, "MILPParams.mip_rel_gap must be a number in [0, 1), got True"):
        MILPParams(mip_rel_gap=True)
    with _raises(ValueError, "MILPParams.max_variables must be an integer >= 1, got 0"):
        MILPParams(max_variables=0)
    with _raises(ValueError, "MILPParams.max_nonzeros must be an integer >= 1, got 2.5"):
        MILPParams(max_nonzeros=2.5)
    with _raises(ValueError, "MILPParams.max_time_unit must be an integer >= 1, got False"):
        MILPParams(max_time_unit=False)
    with _raises(ValueError, "MILPParams.presolve must be True or False, got 1"):
        MILPParams(presolve=1)
    with _raises(ValueError, "MILPParams.disp must be True or False, got 'yes'"):
        MILPParams(disp="yes")
    with _raises(ValueError, "unknown MILPParams field(s): bogus"):
        MILPParams.from_dict({"bogus": 1})
    with _raises(ValueError, "unknown MILPParams field(s): a, b"):
        MILPParams.from_dict({"b": 1, "a": 2, "disp": True})
    params = MILPParams(mip_rel_gap=0.01, presolve=False, max_variables=10, max_nonzeros=20,
                        max_time_unit=4, disp=False)
    assert MILPParams.from_dict(params.to_dict()) == params
    assert MILPParams.from_dict({}) == MILPParams()
    assert MILPParams().to_dict() == dict(mip_rel_gap=0.0, presolve=True, max_variables=200_000,
                                          max_nonzeros=5_000_000, max_time_unit=1000,
                                          disp=False)


# ------------------------------------------------------------------ round-off and tolerances


@pytest.mark.parametrize("runtime", [[[1 / 12], [7 / 12]], [[1 / 12], [1 / 3]]],
                         ids=["bound-below", "bound-above"])
def test_proven_makespan_optimum_has_bound_equal_to_fun(runtime):
    p = gb.Problem([[1]], [[1], [1]], runtime=runtime)  # one after the other
    res = gb.solve(p, "makespan", method="milp")
    assert res.status == 0 and res.model["time_unit"] == 12
    assert res.fun == pytest.approx(sum(r[0] for r in runtime), rel=1e-12)
    assert res.bound == res.fun and res.gap == 0


def test_proven_cost_optimum_has_gap_zero():
    p = gb.Problem([[1], [1]], [[0], [0]], runtime=[[0.5, math.inf], [0.5, 1 / 12]])
    res = gb.solve(p, "cost", method="milp")
    assert res.status == 0 and list(res.x) == [0, 1]
    assert res.bound == res.fun and res.gap == 0


def test_overload_within_highs_tolerance_placement():
    p = gb.Problem([[1.0], [1.0]], [[0.5], [0.5 + 1e-8]], cost=[[0, 5], [0, 5]])
    res = gb.solve(p, "cost", method="milp")
    assert res.status == 0 and res.violation == 0 and res.fun == 5.0


def test_overload_within_highs_tolerance_schedule():
    p = gb.Problem([[1.0], [1.0]], [[0.5], [0.5 + 1e-8]], speed=[1.0, 0.8])
    res = gb.solve(p, "makespan", method="milp")
    assert res.status == 0 and res.fun == 1.25


def test_overload_below_highs_tolerance_is_not_certified():
    # 1e-11 is below HiGHS's feasibility tolerance here (1e-9): the MILP may put both tasks
    # on node 0; if it does, nothing is certified and a feasible heuristic plan is returned
    p = gb.Problem([[1.0], [1.0]], [[0.5], [0.5 + 1e-11]], cost=[[0, 5], [0, 5]])
    res = gb.solve(p, "cost", method="milp")
    assert res.violation == 0 and res.fun == 5.0
    assert res.status in (0, 5)
    if res.status == 5:
        assert "overloads a node by less than its feasibility tolerance" in res.message
        assert not res.success and res.bound <= 5.0


# --------------------------------------------------------------------------- benchmark data


def _gap1_optima() -> dict[tuple[int, str], int]:
    """(1-based problem index in gap1.txt, sense) -> proven optimum."""
    out = {}
    with open(DATA / "gap_yagiura" / "DERIVED_gap_reference_values.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["orlib_file"] == "gap1.txt":
                assert row["proven_optimal"] == "yes"
                out[(int(row["orlib_problem_index_1based"]), row["sense"])] = \
                    int(row["best_known_value"])
    return out


@pytest.mark.data
@needs_data
@pytest.mark.parametrize("sense", ["min", "max"])
def test_orlib_gap1_optima(sense):
    optima = _gap1_optima()
    found = read_orlib_gap(DATA / "gap_orlib" / "gap1.txt", sense)
    assert len(found) == 5
    for k, p in enumerate(found, 1):
        res = gb.solve(p, "cost", sense=sense, method="milp", time_limit=60)
        assert res.status == 0, (p.name, res.message)
        assert res.fun == optima[(k, sense)], p.name
        assert res.bound == optima[(k, sense)] and res.gap == 0
        assert gb.validate(p, res.x).ok
        res.check(p)


@pytest.mark.data
@needs_data
def test_psplib_j301_1():
    p = read_psplib(DATA / "psplib_j30" / "j30" / "j301_1.sm")
    optimum = psplib_optima(DATA / "psplib_j30" / "optimum" / "optimum.csv")[p.name]
    res = gb.solve(p, "makespan", method="milp", time_limit=20)
    assert res.status in (0, 1), res.message
    if res.status == 0:
        assert res.fun == optimum and res.bound == optimum
    else:
        assert res.bound <= optimum <= res.fun
    check = gb.validate(p, res.x, res.start)
    assert check.ok, str(check)
    res.check(p)


# --------------------------------------------------------------------------- SolveResult


def test_save_load_roundtrip(tmp_path, scenario, scenario_milp):
    path = tmp_path / "milp.json"
    scenario_milp.save(path)
    back = SolveResult.load(path, scenario)  # re-checks against the problem
    assert back.status == 0 and back.method == "milp"
    assert back.bound == scenario_milp.bound and back.gap == scenario_milp.gap
    assert back.model == scenario_milp.model
    assert back.params == scenario_milp.params
    np.testing.assert_array_equal(back.x, scenario_milp.x)
    np.testing.assert_array_equal(back.start, scenario_milp.start)
    np.testing.assert_array_equal(back.priority, scenario_milp.priority)


def test_save_load_without_solution(tmp_path):
    p = _tiny_placement()
    res = gb.solve(p, "cost", method="milp", params=MILPParams(max_variables=3))
    message = ("the result holds no solution (status 6: too large for the exact model: "
               "4 variables")
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        res.check(p)
    path = tmp_path / "none.json"
    res.save(path)
    back = SolveResult.load(path)
    assert back.status == 6 and back.x is None and math.isnan(back.bound)
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        SolveResult.load(path, p)

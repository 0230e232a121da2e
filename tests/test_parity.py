"""Both backends equal the naive oracles (tests/naive.py) on hypothesis-generated problems.

Integer data must match exactly (objective, start and finish times); float data to 1e-9
relative. Violations are sums of quotients, compared to 1e-9 relative.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import gabalance as gb
from gabalance import backend as engines
from gabalance.problem import PLACEMENT_OBJECTIVES, SCHEDULE_OBJECTIVES

import naive
from strategies import placement_cases, schedule_cases

BACKENDS = ["numpy", "numba"]
EXAMPLES = settings(max_examples=260, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def exact_data(problem: gb.Problem, objective: str) -> bool:
    """Whether this objective is a sum/max of integers for this problem."""
    if problem.capacity.dtype.kind != "i":
        return False
    if objective == "cost":
        return problem.cost is not None and problem.cost.dtype.kind == "i"
    return objective in ("nodes_used", "max_utilization")


def check(actual, expected, exact):
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    if exact:
        np.testing.assert_array_equal(actual, expected)
    else:
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("dense_limit", [engines.DENSE_ALLOWED_LIMIT, 0],
                         ids=["eligibility-table", "eligibility-computed"])
@pytest.mark.parametrize("backend", BACKENDS)
@EXAMPLES
@given(case=placement_cases(max_p=5))
def test_placement_equals_oracle(backend, dense_limit, case):
    problem, pop = case
    saved, engines.DENSE_ALLOWED_LIMIT = engines.DENSE_ALLOWED_LIMIT, dense_limit
    try:
        engines.pack(problem)  # kernels see the table only while N * M <= the limit
    finally:
        engines.DENSE_ALLOWED_LIMIT = saved
    for objective in PLACEMENT_OBJECTIVES:
        ev = gb.evaluate(problem, pop, objective=objective, backend=backend)
        want_obj, want_viol = naive.evaluate(problem, pop, objective)
        check(ev.objective, want_obj, exact_data(problem, objective))
        # violations add quotients in one documented order, so integer data match exactly
        check(ev.violation, want_viol, exact=problem.capacity.dtype.kind == "i")
        assert np.all((ev.violation == 0) == (np.asarray(want_viol) == 0))


@pytest.mark.parametrize("backend", BACKENDS)
@EXAMPLES
@given(case=schedule_cases(max_p=4))
def test_schedule_equals_oracle(backend, case):
    problem, pop, keys = case
    exact = bool(problem.capacity.dtype.kind == "i" and np.all(problem.data == np.round(
        problem.data)) and (problem.runtime is None or np.all(
            problem.runtime[np.isfinite(problem.runtime)] % 1 == 0)))
    for objective in SCHEDULE_OBJECTIVES:
        ev = gb.evaluate(problem, pop, keys, objective=objective, backend=backend,
                         schedule=True)
        for p in range(pop.shape[0]):
            obj, viol, start, finish = naive.schedule(problem, pop[p], keys[p], objective)
            assert ev.violation[p] == viol
            check(ev.objective[p], obj, exact)
            check(ev.start[p], start, exact)
            check(ev.finish[p], finish, exact)
            if viol == 0:  # every decoded feasible schedule passes the independent checker
                assert gb.validate(problem, pop[p], ev.start[p]).ok


@settings(max_examples=60, deadline=None)
@given(case=schedule_cases(max_p=4, nice_floats=False))
def test_backends_agree_on_arbitrary_floats(case):
    """The two backends do the same arithmetic in the same order, so they agree bit for bit."""
    problem, pop, keys = case
    a = gb.evaluate(problem, pop, keys, "makespan", backend="numpy", schedule=True)
    b = gb.evaluate(problem, pop, keys, "makespan", backend="numba", schedule=True)
    np.testing.assert_array_equal(a.objective, b.objective)
    np.testing.assert_array_equal(a.start, b.start)
    np.testing.assert_array_equal(a.violation, b.violation)


def test_generated_cases_cover_every_feature():
    """The parity tests above are only as good as what the strategies generate: count it."""
    seen: dict[str, int] = dict.fromkeys(
        ["edges", "data", "bandwidth_matrix", "per_node_demand", "runtime", "inf_runtime",
         "multi_resource", "integer", "float", "labels", "release", "ineligible",
         "waits"], 0)

    @settings(max_examples=300, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(case=schedule_cases(max_p=4))
    def collect(case):
        problem, pop, keys = case
        flags = {
            "edges": problem.n_edges > 0,
            "data": bool(np.any(problem.data > 0)),
            "bandwidth_matrix": np.ndim(problem.bandwidth) == 2,
            "per_node_demand": problem.per_node_demand,
            "runtime": problem.runtime is not None,
            "inf_runtime": problem.runtime is not None and bool(np.isinf(problem.runtime).any()),
            "multi_resource": problem.n_resources > 1,
            "integer": problem.capacity.dtype.kind == "i",
            "float": problem.capacity.dtype.kind == "f",
            "labels": any(problem.task_requires),
            "release": bool(np.any(problem.release > 0)),
        }
        ev = gb.evaluate(problem, pop, keys, "makespan", schedule=True)
        flags["ineligible"] = bool(np.any(ev.violation > 0))
        # capacity made a task without predecessors wait past its release time
        roots = np.array([len(preds) == 0 for preds in problem.predecessors])
        flags["waits"] = bool(np.any((ev.start > problem.release)[:, roots]))
        for name, hit in flags.items():
            seen[name] += bool(hit)

    collect()
    missing = {name: n for name, n in seen.items() if n < 15}
    assert not missing, f"features generated fewer than 15 times in 300 cases: {missing}"


@settings(max_examples=80, deadline=None)
@given(case=placement_cases(max_p=4, nice_floats=False))
def test_placement_backends_agree_bit_for_bit(case):
    """Same arithmetic in the same order: the two backends agree exactly, floats included."""
    problem, pop = case
    for objective in PLACEMENT_OBJECTIVES:
        a = gb.evaluate(problem, pop, objective=objective, backend="numpy")
        b = gb.evaluate(problem, pop, objective=objective, backend="numba")
        np.testing.assert_array_equal(a.objective, b.objective)
        np.testing.assert_array_equal(a.violation, b.violation)

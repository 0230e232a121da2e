"""The classic balancers: hand-checked cases and properties on generated problems."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_decoder import heft_example

import gabalance as gb
from gabalance import baselines as B
from gabalance import generate

from strategies import placement_problems, schedule_problems

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def test_heft_reproduces_the_paper():
    """Topcuoglu et al. (2002), Fig. 2 and Table 1: upward ranks and the makespan of 80."""
    p = heft_example()
    np.testing.assert_allclose(B.upward_rank(p), [108, 77, 80, 80, 69, 63 + 1 / 3, 42 + 2 / 3,
                                                  35 + 2 / 3, 44 + 1 / 3, 14 + 2 / 3])
    plan = B.heft(p)
    np.testing.assert_array_equal(plan.assignment, [2, 0, 2, 1, 2, 1, 2, 0, 1, 1])
    ev = gb.evaluate(p, plan.assignment, plan.keys, schedule=True)
    np.testing.assert_array_equal(ev.finish[0], [9, 40, 28, 26, 38, 42, 49, 62, 68, 80])


def test_packing_by_hand():
    # capacities 10 and 6; sizes 6, 5, 4, 1 (one resource)
    p = gb.Problem([[10], [6]], [[4], [6], [1], [5]], objective="max_utilization")
    # first fit, by decreasing size: 6 -> n0, 5 -> n1, 4 -> n0, 1 -> n1 (n0 full)
    np.testing.assert_array_equal(B.first_fit_decreasing(p).assignment, [0, 0, 1, 1])
    # best fit: 6 -> n1 (room 0), 5 -> n0 (room 5), 4 -> n0 (room 1), 1 -> n0 (room 0)
    np.testing.assert_array_equal(B.best_fit_decreasing(p).assignment, [0, 1, 0, 0])
    # least loaded (utilization before the task): 4 -> n0 (tie), 6 -> n1 (0 < .4), 1 -> n0
    # (.4 < 1), 5 -> n0 (.5; n1 is full and 5 no longer fits there)
    np.testing.assert_array_equal(B.least_loaded(p).assignment, [0, 1, 0, 0])
    np.testing.assert_array_equal(B.round_robin(p).assignment, [0, 1, 0, 1])
    np.testing.assert_array_equal(B.least_connections(p).assignment, [0, 1, 0, 1])


def test_round_robin_skips_nodes_a_task_may_not_use():
    p = gb.Problem([[1, 0], [1, 1], [1, 0]], [[1, 1], [1, 0], [1, 0], [1, 1]])
    np.testing.assert_array_equal(B.round_robin(p).assignment, [1, 2, 0, 1])


def test_random_is_seeded():
    p = generate.random_dag(30, seed=2)
    a, b = B.random(p, seed=5), B.random(p, seed=5)
    np.testing.assert_array_equal(a.assignment, b.assignment)
    np.testing.assert_array_equal(a.keys, b.keys)
    assert not np.array_equal(a.keys, B.random(p, seed=6).keys)


@pytest.mark.parametrize("name", sorted(B.BASELINES))
@SETTINGS
@given(problem=schedule_problems())
def test_schedule_plans_are_valid(name, problem):
    plan = B.BASELINES[name](problem)
    assert plan.assignment.shape == (problem.n_tasks,) and plan.keys.shape == (problem.n_tasks,)
    assert problem.allowed[np.arange(problem.n_tasks), plan.assignment].all()
    ev = gb.evaluate(problem, plan.assignment, plan.keys, "makespan", schedule=True)
    assert ev.violation[0] == 0
    assert gb.validate(problem, plan.assignment, ev.start[0]).ok


@SETTINGS
@given(problem=schedule_problems())
def test_earliest_finish_policies_decode_to_their_own_schedule(problem):
    """HEFT and the response-time policy build a schedule while placing; the decoder, given
    their keys, must rebuild exactly that schedule (so evaluate scores what they built)."""
    for plan in (B.heft(problem), B.least_loaded(problem, "makespan")):
        order = [int(i) for i in np.argsort(plan.keys, kind="stable")]
        x, finish = B.earliest_finish(problem, order)
        np.testing.assert_array_equal(x, plan.assignment)
        ev = gb.evaluate(problem, plan.assignment, plan.keys, "makespan", schedule=True)
        np.testing.assert_allclose(ev.finish[0], finish, rtol=1e-12)


@pytest.mark.parametrize("name", ["first_fit_decreasing", "best_fit_decreasing",
                                  "least_loaded"])
@SETTINGS
@given(problem=placement_problems())
def test_packers_overload_only_when_nothing_fits(name, problem):
    """Replaying a packer's order: a task lands where it does not fit only when no allowed
    node had room for it at that moment."""
    plan = B.BASELINES[name](problem)
    assert problem.allowed[np.arange(problem.n_tasks), plan.assignment].all()
    order = (B.topological_order(problem) if name == "least_loaded"
             else np.argsort(-B._size(problem), kind="stable"))
    load = np.zeros(problem.capacity.shape)
    for i in order:
        j = plan.assignment[i]
        if np.any(load[j] + problem.task_demand(i, j) > problem.capacity[j]):
            for other in problem.allowed_nodes(i):
                assert np.any(load[other] + problem.task_demand(i, other) >
                              problem.capacity[other])
        load[j] += problem.task_demand(i, j)
    ev = gb.evaluate(problem, plan.assignment, objective="max_utilization")
    assert (ev.violation[0] == 0) == gb.validate(problem, plan.assignment).ok or \
        problem.capacity.dtype.kind == "f"


def test_least_connections_balances_counts():
    p = gb.Problem(np.full((3, 1), 100), np.ones((10, 1), int))
    counts = np.bincount(B.least_connections(p).assignment, minlength=3)
    assert counts.max() - counts.min() <= 1


def test_least_loaded_prefers_a_node_with_room_over_a_lower_utilization():
    # t0 (50) only fits n1; t1 (1) goes to the idle n0; t2 (10) would overload n0, whose
    # utilization (0.1) is lower than n1's (0.5): it goes to n1, which has room
    p = gb.Problem([[10], [100]], [[50], [1], [10]], objective="max_utilization")
    np.testing.assert_array_equal(B.least_loaded(p).assignment, [1, 0, 1])

"""evaluate(): argument checks (messages pinned), backend choice, ranking, hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import gabalance as gb
from gabalance import Problem, ProblemError, evaluate
from gabalance.backend import resolve_backend

BACKENDS = ["numpy", "numba"]


def placement_problem():
    return Problem([[4, 2], [8, 0]], [[2, 1], [1, 0], [3, 0]], resources=["cpu", "gpu"],
                   cost=[[5, 7], [2, 1], [3, 3]], task_names=["a", "b", "c"],
                   node_names=["g", "c"], objective="cost")


def schedule_problem():
    # two single-slot processors; chain a -> c with a transfer, b independent
    return Problem([[1], [1]], [[1], [1], [1]], resources=["slots"],
                   runtime=[[2, 3], [4, 1], [1, 1]], edges=[[0, 2]], data=[6],
                   bandwidth=3, objective="makespan")


@pytest.mark.parametrize("backend", BACKENDS)
def test_placement_by_hand(backend):
    p = placement_problem()
    pop = [[0, 0, 0], [0, 1, 1], [1, 1, 1]]
    ev = evaluate(p, pop, backend=backend)
    np.testing.assert_array_equal(ev.objective, [10, 9, 11])
    # [0,0,0]: load g = (6, 1) over cpu by 2 -> 2/8; [1,1,1]: task a not allowed on c (gpu) + 1,
    # load c = (6, 1): gpu over by 1 -> 1/2
    np.testing.assert_allclose(ev.violation, [0.25, 0.0, 1.5])
    assert ev.best() == 1
    assert ev.backend == backend and ev.mode == "placement"
    ev = evaluate(p, pop, objective="cost", sense="max", backend=backend)
    assert ev.sense == "max" and ev.best() == 1  # only feasible one
    np.testing.assert_array_equal(evaluate(p, pop, objective="nodes_used",
                                           backend=backend).objective, [1, 2, 1])
    np.testing.assert_allclose(evaluate(p, pop, objective="max_utilization",
                                        backend=backend).objective, [1.5, 0.5, np.inf])
    # [0,1,1]: U = (2/4, 1/2, 4/8) over the three positive-capacity pairs -> all 0.5
    np.testing.assert_allclose(evaluate(p, pop, objective="imbalance",
                                        backend=backend).objective[1], 0.0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_schedule_by_hand(backend):
    p = schedule_problem()
    # x = [0, 0, 1]: a on n0 [0,2); b on n0 waits [2,6); c on n1 after 2 + 6/3 -> [4,5)
    ev = evaluate(p, [[0, 0, 1], [0, 1, 0]], backend=backend, schedule=True)
    np.testing.assert_array_equal(ev.start[0], [0, 2, 4])
    np.testing.assert_array_equal(ev.finish[0], [2, 6, 5])
    # x = [0, 1, 0]: a [0,2) on n0, b [0,1) on n1, c on n0 right after a: [2,3)
    np.testing.assert_array_equal(ev.finish[1], [2, 1, 3])
    np.testing.assert_array_equal(ev.objective, [6, 3])
    # keys put b before a on the shared node
    ev = evaluate(p, [0, 0, 1], keys=[0.9, 0.1, 0.5], backend=backend, schedule="best")
    np.testing.assert_array_equal(ev.start[0], [4, 0, 8])
    ev = evaluate(p, [0, 1, 0], objective="weighted_completion", backend=backend)
    assert ev.objective[0] == 2 + 1 + 3


_SPECIAL = st.sampled_from([0.0, -0.0, 1.0, 2.0, -1.0, 0.5, float("nan"), float("inf")])


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.integers(1, 25).flatmap(lambda n: st.tuples(
    st.lists(_SPECIAL, min_size=n, max_size=n), st.lists(_SPECIAL, min_size=n, max_size=n))),
    st.sampled_from(["min", "max"]))
def test_rank_order_is_the_lexicographic_order(case, sense):
    """The two stable sorts (which run on a device as they are) order like
    lexsort((index, objective in its sense where feasible, violation)): ties, NaN, -0.0."""
    obj, viol = (np.asarray(v, np.float64) for v in case)
    signed = -obj if sense == "max" else obj
    want = np.lexsort((np.arange(len(obj)), np.where(viol > 0, 0.0, signed), viol))
    np.testing.assert_array_equal(gb.rank_order(obj, viol, sense), want)


def test_rank_order():
    order = gb.rank_order([5, 1, 3, 2], [0, 0.5, 0, 0.1])
    np.testing.assert_array_equal(order, [2, 0, 3, 1])
    assert gb.best_index([5, 1, 3], [0, 0, 0], "max") == 0


@pytest.mark.parametrize("kwargs, message", [
    (dict(population=[[0, 1]]), r"population must have shape \(P, 3\) \(one node index per task\)"),
    (dict(population=[[0, 1, 2]]), r"population\[0, 2\] = 2 \(task 'c'\) is not a node index; "
                                   r"the problem has 2 nodes"),
    (dict(population=[[0, -1, 0]]), r"population\[0, 1\] = -1 \(task 'b'\)"),
    (dict(population=[[0, 0.5, 0]]), r"population must hold integer node indices"),
    (dict(population=np.zeros((0, 3), int)), r"population is empty"),
    (dict(objective="speed"), r"unknown objective 'speed'"),
    (dict(objective="nodes_used", sense="max"), r"objective 'nodes_used' can only be minimised"),
    (dict(sense="most"), r"sense must be 'min' or 'max', got 'most'"),
    (dict(keys=[0, 0, 0]), r"keys are only used in schedule mode"),
    (dict(objective="makespan", keys=[[0, 0]]), r"keys must have shape \(1, 3\)"),
    (dict(objective="makespan", keys=[0, np.inf, 0]), r"keys\[0, 1\] is not finite"),
    (dict(schedule=True), r"start/finish times exist only in schedule mode"),
    (dict(objective="makespan", schedule="all"), r"schedule must be None, True, 'best' or"),
    (dict(objective="makespan", schedule=[3]), r"schedule indices must lie in 0..0"),
])
def test_evaluate_messages(kwargs, message):
    args = dict(population=[[0, 1, 1]])
    args.update(kwargs)
    with pytest.raises(ProblemError, match=message):
        evaluate(placement_problem().replace(cost=None, objective=None)
                 if "objective" in kwargs else placement_problem(), **args)


def test_evaluate_needs_an_objective_and_a_problem():
    p = placement_problem().replace(objective=None)
    with pytest.raises(ProblemError, match=r"no objective: pass objective=\.\.\. or set"):
        evaluate(p, [0, 1, 1])
    with pytest.raises(TypeError, match=r"problem must be a gabalance\.Problem"):
        evaluate({"nodes": []}, [0])


def test_backend_choice(monkeypatch):
    monkeypatch.delenv("GABALANCE_BACKEND", raising=False)
    assert resolve_backend("auto") == "numba"
    monkeypatch.setenv("GABALANCE_BACKEND", "numpy")
    assert resolve_backend("auto") == "numpy"
    assert evaluate(placement_problem(), [0, 1, 1]).backend == "numpy"
    assert resolve_backend("numba") == "numba"  # an explicit choice wins
    monkeypatch.setenv("GABALANCE_BACKEND", "tpu")
    with pytest.raises(ValueError, match=r"GABALANCE_BACKEND='tpu' is not a backend"):
        resolve_backend("auto")
    with pytest.raises(ValueError, match=r"unknown backend 'cuda' \(available: numba, numpy"):
        evaluate(placement_problem(), [0, 1, 1], backend="cuda")


@pytest.mark.parametrize("objective", gb.PLACEMENT_OBJECTIVES)
def test_placement_objective_with_dependencies_is_refused_as_solve_refuses_it(objective):
    """evaluate used to score a placement objective on a problem with dependencies (ignoring
    them), which solve refuses: both now give the same message."""
    from gabalance import examples

    problem = examples.load("scenario")  # 4 dependencies
    x = np.zeros((1, problem.n_tasks), np.int32)
    with pytest.raises(ProblemError) as by_evaluate:
        evaluate(problem, x, objective=objective)
    with pytest.raises(ValueError) as by_solve:
        gb.solve(problem, objective, max_generations=1)
    assert "placement objective" in str(by_evaluate.value)
    assert "4 dependencies" in str(by_evaluate.value)
    assert str(by_evaluate.value) == str(by_solve.value)

"""validate(): every broken constraint is reported by name; valid solutions pass."""

from __future__ import annotations

import numpy as np
import pytest

from gabalance import Problem, ProblemError, validate


def schedule_problem():
    return Problem.from_dicts(
        nodes=[{"name": "cpu", "capacity": {"cpu": 2, "gpu": 0}, "labels": ["cpu"]},
               {"name": "gpu", "capacity": {"cpu": 4, "gpu": 1}, "labels": ["gpu"]}],
        tasks=[{"name": "load", "demand": {"cpu": 2}, "duration": 2},
               {"name": "train", "demand": {"cpu": 1, "gpu": 1}, "duration": 3,
                "requires": ["gpu"]},
               {"name": "eval", "demand": {"cpu": 1}, "duration": 1, "release": 1}],
        dependencies=[("load", "train", 4)], bandwidth=2, objective="makespan")


def test_valid_schedule():
    p = schedule_problem()
    # load on cpu [0,2); transfer 4/2 = 2 -> train on gpu [4,7); eval on cpu [2,3)
    v = validate(p, [0, 1, 0], [0, 4, 2])
    assert v.ok and bool(v) and str(v) == "valid"
    np.testing.assert_array_equal(v.finish, [2, 7, 3])
    v.raise_if_invalid()


def test_every_broken_constraint_named():
    p = schedule_problem()
    v = validate(p, [0, 0, 0], [0, 3, 0.5])
    assert not v.ok
    text = str(v)
    assert "task 'train' on node 'cpu': node lacks required label 'gpu'" in text
    assert "task 'train' on node 'cpu': demand 1 of 'gpu' exceeds the node's capacity 0" in text
    assert "task 'eval' starts at 0.5 before its release time 1" in text
    assert "node 'cpu' over capacity in 'cpu' at time 0.5: 3 > 2 (tasks load, eval)" in text
    with pytest.raises(ValueError, match="invalid solution"):
        v.raise_if_invalid()


def test_dependency_with_transfer():
    p = schedule_problem()
    v = validate(p, [0, 1, 0], [0, 3, 2])
    assert v.problems == ["task 'train' starts at 3 before its predecessor 'load' finishes at 2 "
                          "plus transfer 2"]
    # same node: no transfer, so train may start at 2 (it would not fit on cpu, though)
    assert "before its predecessor" not in str(validate(p, [1, 1, 0], [0, 2, 2]))


def test_placement_capacity():
    p = Problem([[4, 1], [2, 0]], [[2, 1], [2, 0], [1, 0]], resources=["cpu", "gpu"],
                node_names=["a", "b"], task_names=["x", "y", "z"])
    assert validate(p, [0, 0, 1]).ok
    v = validate(p, [0, 1, 1])
    assert v.problems == ["node 'b' over capacity in 'cpu': load 3 > 2"]


def test_infinite_runtime_named():
    p = Problem([[1], [1]], [[1], [1]], runtime=[[1, np.inf], [1, 1]], task_names=["x", "y"],
                node_names=["a", "b"])
    assert validate(p, [1, 0], [0, 0]).problems == [
        "task 'x' on node 'b': the task cannot run there (infinite runtime)"]


@pytest.mark.parametrize("args, message", [
    (([0, 1],), r"assignment must have shape \(3,\), got shape \(2,\)"),
    (([0, 1, 5],), r"assignment\[2\] = 5 \(task 'eval'\) is not a node index; the problem has 2"),
    (([0.0, 1.0, 0.0],), r"assignment must hold integer node indices"),
    (([0, 1, 0], [0, 1]), r"start must have shape \(3,\)"),
    (([0, 1, 0], [0, np.nan, 1]), r"start of task 'train' is NaN"),
])
def test_validate_input_errors(args, message):
    with pytest.raises(ProblemError, match=message):
        validate(schedule_problem(), *args)


def test_float_loads_within_rounding_are_valid():
    """0.1 + 0.2 + 0.3 > 0.6 in floating point; validate allows a 1e-9 relative slack."""
    p = Problem([[0.6]], [[0.1], [0.2], [0.3]])
    assert validate(p, [0, 0, 0], [0, 0, 0]).ok
    assert validate(p, [0, 0, 0]).ok
    q = Problem([[0.6]], [[0.1], [0.2], [0.31]])
    assert validate(q, [0, 0, 0]).problems == [
        "node 'n0' over capacity in 'r0': load 0.6100000000000001 > 0.6"]


def test_not_allowed_tasks_occupy_nothing_in_schedules():
    p = Problem([[1], [2]], [[1], [2]], node_names=["small", "big"], task_names=["a", "b"],
                objective="makespan")
    # b (demand 2) cannot run on 'small'; the decoder starts it at once and it occupies nothing
    assert validate(p, [0, 0], [0, 0]).problems == [
        "task 'b' on node 'small': demand 2 of 'r0' exceeds the node's capacity 1"]


def test_schedule_problem_needs_start_times():
    """Without start times a schedule would be checked as if every task ran at once, which
    reports overloads no schedule has; the error says what to pass instead."""
    import gabalance as gb
    from gabalance import examples

    p = examples.load("scenario")
    res = gb.solve(p, max_generations=5, seed=0)
    assert gb.validate(p, res.x, res.start).ok
    with pytest.raises(gb.ProblemError, match=r"problem 'scenario' is a schedule \(objective "
                                              r"'makespan'\): pass its start times, e\.g\. "
                                              r"validate\(problem, res\.x, res\.start\)"):
        gb.validate(p, res.x)


def test_task_that_cannot_run_before_a_dependency_gives_no_warning():
    """A task on a node where it cannot run (infinite runtime) has no finish time; its
    successor's dependency check used to compute inf - inf and warn."""
    import warnings

    from gabalance import examples

    problem = examples.load("scenario")
    x = np.zeros(problem.n_tasks, np.int32)  # GPU tasks on the CPU node cpu-1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = validate(problem, x, np.zeros(problem.n_tasks))
    assert not report.ok
    assert "the task cannot run there (infinite runtime)" in report.problems[0]

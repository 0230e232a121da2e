"""Hand-computed cases that pin the oracles in ``naive.py``, and a smoke test of the strategies."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabalance.problem import Problem

import naive
import strategies

# --------------------------------------------------------------------------- (a) placement


def three_tasks(**kw):
    # resources (cpu, mem); node 0 offers (4, 8), node 1 offers (2, 4)
    return Problem([[4, 8], [2, 4]], [[2, 4], [1, 2], [2, 2]], **kw)


def test_placement_by_hand():
    p = three_tasks(cost=[[3, 5], [2, 2], [4, 1]])
    x = [0, 0, 1]
    # L[0] = (2+1, 4+2) = (3, 6), L[1] = (2, 2)
    assert naive.loads(p, x) == [[3, 6], [2, 2]]
    # U[0] = (3/4, 6/8) = (0.75, 0.75), U[1] = (2/2, 2/4) = (1.0, 0.5)
    assert naive.utilization(p, x) == [[0.75, 0.75], [1.0, 0.5]]
    assert naive.placement(p, x, "cost") == (3 + 2 + 1, 0.0)
    assert naive.placement(p, x, "max_utilization") == (1.0, 0.0)
    assert naive.placement(p, x, "nodes_used") == (2.0, 0.0)
    # mean 0.75; squared deviations 0, 0, 0.0625, 0.0625 -> variance 0.125 / 4 = 0.03125
    value, viol = naive.placement(p, x, "imbalance")
    assert value == pytest.approx(math.sqrt(0.03125), abs=1e-15) and viol == 0.0
    # all on node 0: L = (5, 8) overloads cpu by 1 -> 1 / scale_cpu 4
    assert naive.placement(p, [0, 0, 0], "nodes_used") == (1.0, 0.25)


def test_placement_violation_and_runtime_cost():
    p = three_tasks(duration=[1, 2, 3], speed=[1, 2])
    # x = [0, 1, 1]: L[1] = (3, 4) overloads cpu by 1; scale_cpu = max(4, 2) = 4 -> 0.25
    assert naive.placement(p, [0, 1, 1], "max_utilization") == (1.5, 0.25)
    # without a cost matrix the cost is the runtime: 1/1 + 2/1 + 3/2 = 4.5
    assert naive.placement(p, [0, 0, 1], "cost") == (4.5, 0.0)
    # all on node 1: L = (5, 8) -> excess (3, 4) / scales (4, 8) = 0.75 + 0.5; task 0
    # (cpu 2, mem 4) fits the empty node 1, so nothing is "not allowed"
    assert naive.placement(p, [1, 1, 1], "nodes_used") == (1.0, 1.25)


def test_zero_capacity_utilization():
    # resource 1 is absent on node 1 (C = 0) and everywhere used only by task 1
    p = Problem([[2, 1], [2, 0]], [[1, 0], [1, 1]])
    # x = [1, 0]: U[1][1] = 0 (L = 0, C = 0) -> imbalance over (0.5, 1.0, 0.5): mean 2/3
    u = naive.utilization(p, [1, 0])
    assert u == [[0.5, 1.0], [0.5, 0.0]]
    mean = 2 / 3
    sd = math.sqrt(((0.5 - mean) ** 2 * 2 + (1 - mean) ** 2) / 3)
    assert naive.placement(p, [1, 0], "imbalance")[0] == pytest.approx(sd, rel=1e-15)
    # x = [0, 1]: task 1 needs resource 1 on node 1 where C = 0 -> U = inf and it is not
    # allowed there; scale_1 = max(1, 0) = 1, so the overload term is (1 - 0) / 1 = 1, plus 1
    assert naive.placement(p, [0, 1], "max_utilization") == (math.inf, 2.0)
    # a resource nobody offers: scale 0, term 0
    q = Problem([[1, 0]], [[1, 0]])
    assert naive.placement(q, [0], "imbalance") == (0.0, 0.0)


def test_allowed_any_of_groups():
    p = Problem([[1], [1], [1]], [[1], [0]], node_labels=[["gpu", "a100"], ["gpu"], []],
                task_requires=[["gpu", ["a100", "h100"]], []],
                runtime=[[1, 1, 1], [1, 1, math.inf]])
    assert [naive.allowed(p, 0, j) for j in range(3)] == [True, False, False]
    assert [naive.allowed(p, 1, j) for j in range(3)] == [True, True, False]
    assert naive.allowed_matrix(p) == p.allowed.tolist()


# --------------------------------------------------------------------------- (b) DAG, 2 slots


def diamond(bandwidth=1.0):
    #        A
    #   1 /     \ 4        data on each edge; bandwidth 1 (transfer time = data)
    #    B       C
    #   2 \     / 1
    #        D
    # runtimes A=2, B=3, C=2, D=1 on both processors; each processor has one slot
    return Problem([[1], [1]], [[1]] * 4, duration=[2, 3, 2, 1],
                   edges=[[0, 1], [0, 2], [1, 3], [2, 3]], data=[1, 4, 2, 1],
                   bandwidth=bandwidth, weight=[1, 1, 1, 2])


def test_dag_two_processors_by_hand():
    p = diamond()
    x = [0, 0, 1, 0]
    keys = [0.0, 0.1, 0.2, 0.3]
    # A on P0: r = 0, S = 0, F = 2
    # ready: B (0.1), C (0.2) -> B on P0, same node as A: r = 2 -> S = 2, F = 5
    # C on P1: r = F_A + 4/1 = 6 -> S = 6, F = 8
    # D on P0: r = max(F_B + 0 (same node), F_C + 1/1) = 9 -> S = 9, F = 10
    value, viol, s, f = naive.schedule(p, x, keys, "makespan")
    assert (value, viol) == (10.0, 0.0)
    assert s == [0.0, 2.0, 6.0, 9.0] and f == [2.0, 5.0, 8.0, 10.0]
    # weighted completion: 1*2 + 1*5 + 1*8 + 2*10 = 35
    assert naive.schedule(p, x, keys, "weighted_completion")[0] == 35.0
    assert naive.validate_schedule(p, x, s) == []
    assert naive.validate_schedule(p, x, [0.0, 2.0, 5.0, 9.0]) != []  # C before its data

    # all on P0 with C first (keys B = 0.2 > C = 0.1): A 0-2, C 2-4, B 4-7, D 7-8
    v, _, s, f = naive.schedule(p, [0, 0, 0, 0], [0.0, 0.2, 0.1, 0.3], "makespan")
    assert v == 8.0 and s == [0.0, 4.0, 2.0, 7.0]
    # equal keys: ties go to the lower index, so B before C: A 0-2, B 2-5, C 5-7, D 7-8
    v, _, s, f = naive.schedule(p, [0, 0, 0, 0], None, "makespan")
    assert v == 8.0 and s == [0.0, 2.0, 5.0, 7.0]

    # matrix bandwidth: P0 -> P1 at 2, P1 -> P0 at 0.5
    q = diamond(bandwidth=None).replace(bandwidth=[[1.0, 2.0], [0.5, 1.0]])
    # A 0-2 on P0; B 2-5 on P0; C on P1: r = 2 + 4/2 = 4, 4-6; D on P0: max(5, 6 + 1/0.5) = 8
    v, _, s, f = naive.schedule(q, x, keys, "makespan")
    assert s == [0.0, 2.0, 4.0, 8.0] and v == 9.0


def test_gap_insertion_half_open():
    # one slot; t1 (key 0) released at 3 runs 3-5; t0 (runtime 1) then fits at 0-1;
    # t2 (runtime 2): candidates 0, 1, 5; at 0 the slot is taken by t0; at 1 it runs 1-3,
    # which ends exactly when t1 starts ([1, 3) and [3, 5) do not overlap)
    p = Problem([[1]], [[1]] * 3, duration=[1, 2, 2], release=[0, 3, 0])
    v, viol, s, f = naive.schedule(p, [0, 0, 0], [0.5, 0.0, 0.9], "makespan")
    assert s == [0.0, 3.0, 1.0] and f == [1.0, 5.0, 3.0] and (v, viol) == (5.0, 0.0)


# --------------------------------------------------------------------------- (c) RCPSP


def test_cumulative_resource_waits():
    # one node with capacity 2; (demand, runtime) = t0 (1, 3), t1 (1, 2), t2 (2, 2), t3 (1, 1)
    p = Problem([[2]], [[1], [1], [2], [1]], duration=[3, 2, 2, 1])
    v, viol, s, f = naive.schedule(p, [0, 0, 0, 0], None, "makespan")
    # index order (keys all zero):
    # t0: S = 0, F = 3.  t1: usage 1 at 0 -> 1 + 1 <= 2, S = 0, F = 2.
    # t2 needs 2: candidates 0, 2, 3 -> at 0 usage 2, at 2 usage 1 (t0) -> wait until 3: 3-5.
    # t3: candidates 0, 2, 3, 5 -> at 0 usage 2 (full); at 2 usage 1 and t2 starts at 3,
    #     not before 2 + 1 -> S = 2, F = 3.
    assert s == [0.0, 0.0, 3.0, 2.0] and f == [3.0, 2.0, 5.0, 3.0]
    assert (v, viol) == (5.0, 0.0)
    assert naive.validate_schedule(p, [0, 0, 0, 0], s) == []
    assert naive.validate_schedule(p, [0, 0, 0, 0], [0.0, 0.0, 2.0, 2.0]) != []


def test_zero_duration_occupies_nothing():
    p = Problem([[1]], [[1], [1]], duration=[0, 2], release=[1, 0])
    _, _, s, f = naive.schedule(p, [0, 0], None, "makespan")
    assert s == [1.0, 0.0] and f == [1.0, 2.0]


# --------------------------------------------------------------------------- (d) not allowed


def test_not_allowed_task_occupies_nothing():
    # node 0 has 1 slot, node 1 has 2; t1 demands 2 so it is not allowed on node 0
    p = Problem([[1], [2]], [[1], [2], [1]], duration=[2, 5, 1])
    assert not naive.allowed(p, 1, 0)
    v, viol, s, f = naive.schedule(p, [0, 0, 0], None, "makespan")
    # t0 0-2; t1 starts at its ready time 0, runs 5, holds nothing; t2 waits only for t0: 2-3
    assert s == [0.0, 0.0, 2.0] and f == [2.0, 5.0, 3.0]
    assert (v, viol) == (5.0, 1.0)
    assert naive.validate_schedule(p, [0, 0, 0], s, check_allowed=False) == []
    assert len(naive.validate_schedule(p, [0, 0, 0], s)) == 1
    # placement: the load still counts. L[0] = 1 + 2 + 1 = 4 > 1: excess 3 / scale 2 = 1.5,
    # plus 1 for t1 on a node where it is not allowed
    assert naive.placement(p, [0, 0, 0], "nodes_used") == (1.0, 2.5)


def test_not_allowed_infinite_runtime():
    p = Problem([[1], [1]], [[1], [1]], runtime=[[math.inf, 1], [1, 1]],
                edges=[[0, 1]])
    v, viol, s, f = naive.schedule(p, [0, 0], None, "makespan")
    assert s[0] == 0.0 and f == [math.inf, math.inf] and (v, viol) == (math.inf, 1.0)
    # placement: L[0] = 2 > 1 -> excess 1 / scale 1, plus 1 for t0 not allowed on node 0
    assert naive.placement(p, [0, 0], "cost") == (math.inf, 2.0)


# --------------------------------------------------------------------------- (e) exact integers


def test_integer_placement_is_exact():
    big = 2**53
    p = Problem([[10]], [[3], [3], [4]], cost=[[big], [1], [1]])
    value, viol = naive.placement(p, [0, 0, 0], "cost")
    # float accumulation would give 2**53 (2**53 + 1 rounds back down, twice)
    assert (big + 0.0) + 1.0 + 1.0 == float(big)
    assert type(value) is float and value == float(big + 2) and viol == 0.0
    u, _ = naive.placement(p, [0, 0, 0], "max_utilization")
    assert u == 1.0 and naive.loads(p, [0, 0, 0]) == [[10]]
    assert type(naive.loads(p, [0, 0, 0])[0][0]) is int


# --------------------------------------------------------------------------- smoke test


@settings(max_examples=50)
@given(strategies.placement_cases())
def test_strategies_placement(case):
    problem, pop = case
    assert pop.dtype == np.int32 and pop.shape[1] == problem.n_tasks
    ok = naive.allowed_matrix(problem)
    assert ok == problem.allowed.tolist()
    assert all(any(row) for row in ok)
    for objective in naive.PLACEMENT:
        values, viols = naive.evaluate(problem, pop, objective)
        for x, v, c in zip(pop, values, viols):
            bad = sum(1 for i, j in enumerate(x) if not ok[i][j])
            assert c >= bad and not math.isnan(v)
            assert type(v) is float and type(c) is float


@settings(max_examples=50)
@given(strategies.schedule_cases())
def test_strategies_schedule(case):
    problem, pop, keys = case
    assert keys.shape == pop.shape and keys.dtype == np.float64
    for x, k in zip(pop, keys):
        v, viol, s, f = naive.schedule(problem, x, k, "makespan")
        w = naive.schedule(problem, x, k, "weighted_completion")
        assert w[1:] == (viol, s, f)
        assert viol == sum(1 for i, j in enumerate(x) if not naive.allowed(problem, i, j))
        assert v == max(f)
        assert naive.validate_schedule(problem, x, s, check_allowed=False) == []
        for i, j in enumerate(x):
            assert f[i] == s[i] + naive.runtime(problem, i, int(j))


@settings(max_examples=20)
@given(st.data())
def test_strategies_cover_features(data):
    p = data.draw(strategies.schedule_problems(nice_floats=False))
    assert p.n_tasks <= 12 and p.n_nodes <= 8 and p.n_resources <= 3


def _grid_fits(problem, x, busy, start, finish, i, j, t, p):
    """Capacity holds at every unit step tau in [t, t + p) (all times are integers)."""
    d = naive.task_demand(problem, i, j)
    for tau in range(int(t), int(t + p)):
        for k in range(problem.n_resources):
            used = sum(naive.task_demand(problem, q, j)[k] for q in busy
                       if int(x[q]) == j and start[q] <= tau < finish[q])
            if used + d[k] > problem.capacity[j, k]:
                return False
    return True


def _grid_decoder(problem, x, keys):
    """Independent check for integer times: try t = r, r + 1, ... until the task fits."""
    n = problem.n_tasks
    preds = [[(int(a), e) for e, (a, b) in enumerate(problem.edges.tolist()) if b == i]
             for i in range(n)]
    done, start, finish, busy = set(), {}, {}, []
    while len(done) < n:
        ready = [i for i in range(n) if i not in done and all(a in done for a, _ in preds[i])]
        i = min(ready, key=lambda t: (keys[t], t))
        j = int(x[i])
        r = max([float(problem.release[i])] + [finish[a] + naive.transfer(problem, e, int(x[a]), j)
                                               for a, e in preds[i]])
        p = naive.runtime(problem, i, j)
        t = r
        if naive.allowed(problem, i, j) and p > 0 and math.isfinite(r):
            while not _grid_fits(problem, x, busy, start, finish, i, j, t, p):
                t += 1.0
            busy.append(i)
        start[i], finish[i] = t, t + p
        done.add(i)
    return [start[i] for i in range(n)]


@settings(max_examples=100)
@given(st.data())
def test_oracle_matches_time_grid(data):
    problem, pop, keys = data.draw(strategies.schedule_cases(max_p=3))
    n, m = problem.n_tasks, problem.n_nodes
    ints = st.integers(0, 3)
    runtime = [[math.inf if problem.runtime is not None and math.isinf(problem.runtime[i, j])
                else data.draw(ints) for j in range(m)] for i in range(n)]
    problem = problem.replace(runtime=runtime, release=[data.draw(ints) for _ in range(n)],
                              data=[data.draw(ints) for _ in range(problem.n_edges)],
                              bandwidth=1.0, duration=None, speed=None)
    for x, k in zip(pop, keys):
        _, _, s, _ = naive.schedule(problem, x, k, "makespan")
        assert s == _grid_decoder(problem, x, k.tolist())

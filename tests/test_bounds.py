"""Lower bounds on the schedule objectives (gabalance/bounds.py, ``SolveResult.bound``).

Oracles: the bound never exceeds

* the optimum, found by brute force (every allowed assignment decoded with every priority
  order; the serial decoder reaches every active schedule, so this is the optimum over all
  schedules, Kolisch 1996), on small random problems;
* the objective of any feasible decoded schedule, on larger random problems (cumulative
  nodes, releases, transfers, runtime matrices with inf, per-node demand, labels);

and fixed cases where it is tight show each part does its job.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabalance as gb
from gabalance import bounds, generate
from gabalance.bounds import Bound, schedule_bound
from gabalance.result import SolveResult

import naive
from brute import brute_schedule
from strategies import problems

SCHEDULE = ("makespan", "weighted_completion")
BRUTE = settings(max_examples=60, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.filter_too_much])
MANY = settings(max_examples=80, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _le(bound: float, value: float) -> bool:
    """bound <= value up to round-off (the bound is a float sum in another order)."""
    return bound <= value + 1e-9 * max(1.0, abs(value))



def random_schedules(p: gb.Problem, objective: str, rows: int, seed: int) -> np.ndarray:
    """Objectives of ``rows`` random feasible decoded schedules (allowed nodes, random keys)."""
    rng = np.random.default_rng(seed)
    ok = [np.flatnonzero([naive.allowed(p, i, j) for j in range(p.n_nodes)])
          for i in range(p.n_tasks)]
    pop = np.array([[rng.choice(ok[i]) for i in range(p.n_tasks)] for _ in range(rows)],
                   np.int32)
    keys = rng.random((rows, p.n_tasks))
    ev = gb.evaluate(p, pop, keys, objective, backend="numba")
    assert (ev.violation == 0).all()
    return ev.objective


# --------------------------------------------------------------------------- oracles


@BRUTE
@given(problems(schedule=True, max_nodes=3, max_tasks=5), st.sampled_from(SCHEDULE))
def test_bound_below_the_brute_force_optimum(p, objective):
    b = schedule_bound(p, objective)
    best = brute_schedule(p, objective)
    assert _le(b.value, best), (b, best)
    for name, part in b.parts.items():
        assert _le(part, best), (name, part, best)
    assert b.value >= max(b.parts.values()) - 1e-12
    # and the exact model's optimum agrees with the brute force that far
    assert b.binding in b.parts


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(problems(schedule=True, max_nodes=3, max_tasks=5), st.sampled_from(SCHEDULE))
def test_lp_part_below_the_brute_force_optimum(p, objective):
    b = schedule_bound(p, objective, lp=True)
    best = brute_schedule(p, objective)
    assert _le(b.value, best), (b, best)
    assert "lp" in b.parts or b.notes.get("lp"), b
    if "lp" in b.parts:
        assert _le(b.parts["lp"], best), (b, best)


@MANY
@given(problems(schedule=True, max_nodes=8, max_tasks=12), st.sampled_from(SCHEDULE),
       st.integers(0, 2**31))
def test_bound_below_random_decoded_schedules(p, objective, seed):
    b = schedule_bound(p, objective)
    values = random_schedules(p, objective, 64, seed)
    assert _le(b.value, float(values.min())), (b, float(values.min()))
    # and the least-loaded and heft plans (often much better than random ones)
    for method in ("least_loaded", "heft"):
        res = gb.solve(p, objective, method=method)
        assert _le(b.value, res.fun), (method, b, res.fun)
        assert res.bound == pytest.approx(b.value, rel=1e-12, abs=1e-12) or res.bound == res.fun
        assert res.gap >= 0


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(problems(schedule=True, max_nodes=3, max_tasks=5), st.sampled_from(SCHEDULE))
def test_size_guards_keep_the_bound_valid(p, objective):
    """With the memory guard at 1 pair the cluster is one group, with the price LP's at 2
    pairs it sees a sample of the tasks, with the work limit at 1 no window split is
    searched: weaker bounds, still valid."""
    full = schedule_bound(p, objective)
    best = brute_schedule(p, objective)
    assert _le(full.value, best), (full, best)
    for name, value in (("MAX_PAIRS", 1), ("PRICE_LP_PAIRS", 2), ("WORK_LIMIT", 1)):
        saved = getattr(bounds, name)
        setattr(bounds, name, value)
        try:
            coarse = schedule_bound(p, objective)
        finally:
            setattr(bounds, name, saved)
        assert _le(coarse.value, best), (name, coarse, best)


@given(problems(schedule=True, max_nodes=8, max_tasks=10))
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_node_groups_keep_eligibility_and_runtimes(p):
    grp = bounds._node_groups(p)
    allowed = p.allowed
    for j in range(p.n_nodes):
        g = grp.node[j]
        np.testing.assert_array_equal(grp.allowed[:, g], allowed[:, j])
        for i in range(p.n_tasks):
            want = naive.runtime(p, i, j) if allowed[i, j] else math.inf
            assert grp.rt[i, g] == want
    np.testing.assert_allclose(grp.cap, np.array([
        p.capacity[grp.node == g].astype(float).sum(axis=0) for g in range(grp.reps.size)]
    ).reshape(grp.cap.shape))


def test_bound_on_generated_instances_below_the_baselines():
    """Larger generated instances: every baseline's objective stays above the bound."""
    cases = [generate.ai_cluster(8, 60, seed=3), generate.random_dag(40, n_procs=4, seed=1),
             generate.random_dag(30, n_procs=3, seed=2, speeds=True, ccr=5.0),
             generate.ai_cluster(6, 50, seed=5, dependencies=False)]
    for p in cases:
        for objective in SCHEDULE:
            b = schedule_bound(p, objective)
            assert 0 < b.value < math.inf
            for method in ("least_loaded", "heft", "round_robin"):
                res = gb.solve(p, objective, method=method)
                assert res.violation == 0
                assert _le(b.value, res.fun), (p.name, objective, method, b, res.fun)
            assert _le(b.value, float(random_schedules(p, objective, 32, 0).min()))


# --------------------------------------------------------------------------- tight cases


def test_chain_on_one_node_is_tight():
    # 0 -> 1 -> 2 on a single node, data on the edges (free: same node), a release
    p = gb.Problem([[1]], [[1], [1], [1]], duration=[2, 3, 4], weight=[1, 2, 3],
                   release=[1, 0, 0], edges=[(0, 1), (1, 2)], data=[5.0, 5.0], bandwidth=1.0)
    b = schedule_bound(p, "makespan")
    assert b.value == 10 and b.binding == "critical_path"
    res = gb.solve(p, "makespan", method="least_loaded")
    assert res.fun == 10 and res.bound == 10 and res.gap == 0
    # finishes 3, 6, 10: 3 + 12 + 30
    assert schedule_bound(p, "weighted_completion").value == 45


def test_equal_tasks_on_identical_machines_are_tight():
    # n = 6 tasks of length 2 on m = 3 one-slot machines: makespan 4; sum of completion
    # times p n (n + m) / (2 m) = 18 (Eastman, Even & Isaacs 1964)
    p = gb.Problem([[1]] * 3, [[1]] * 6, duration=[2] * 6, resources=["slots"])
    mk = schedule_bound(p, "makespan")
    assert mk.value == 4 and mk.binding == "energy"
    wc = schedule_bound(p, "weighted_completion")
    assert wc.value == 18 and wc.binding == "energy"
    assert brute_schedule(p, "makespan") == 4 and brute_schedule(p, "weighted_completion") == 18


def test_single_machine_smith_rule_is_tight():
    # one slot: Smith's rule (w / p decreasing) is optimal and the bound equals it
    dur, w = [3.0, 1.0, 2.0, 4.0], [1.0, 3.0, 2.0, 2.0]
    p = gb.Problem([[1]], [[1]] * 4, duration=dur, weight=w)
    order = sorted(range(4), key=lambda i: -w[i] / dur[i])
    t, opt = 0.0, 0.0
    for i in order:
        t += dur[i]
        opt += w[i] * t
    b = schedule_bound(p, "weighted_completion")
    assert b.value == pytest.approx(opt, rel=1e-12)
    assert brute_schedule(p, "weighted_completion") == pytest.approx(opt, rel=1e-12)


def test_total_work_over_total_speed():
    # 3 tasks of work 2 on one-task nodes of speeds 1 and 2: 6 / 3 = 2 = the optimum
    p = gb.Problem([[1], [1]], [[1]] * 3, duration=[2, 2, 2], speed=[1.0, 2.0])
    b = schedule_bound(p, "makespan")
    assert b.value == 2 and b.parts["energy"] == pytest.approx(2.0)
    assert brute_schedule(p, "makespan") == 2


def test_cumulative_node_energy():
    # one 4-GPU node, four 2-GPU tasks of length 1 (two at a time): makespan 2
    p = gb.Problem([[4]], [[2]] * 4, duration=[1] * 4, resources=["gpu"])
    assert schedule_bound(p, "makespan").value == 2 == brute_schedule(p, "makespan")
    # sum of completions 1 + 1 + 2 + 2 = 6
    assert schedule_bound(p, "weighted_completion").value == 6


def test_unavoidable_transfer_counts():
    # pred only on node 0, succ only on node 1 (runtime inf elsewhere): the transfer
    # 3 / 1.5 = 2 cannot be avoided; a third task shows a transfer that can be
    rt = [[1.0, math.inf], [math.inf, 2.0], [1.0, 1.0]]
    p = gb.Problem([[1], [1]], [[1]] * 3, runtime=rt, edges=[(0, 1), (0, 2)],
                   data=[3.0, 3.0], bandwidth=1.5)
    b = schedule_bound(p, "makespan")
    assert b.parts["critical_path"] == 5  # 1 + 2 + 2
    assert b.value == 5 == brute_schedule(p, "makespan")
    # a bandwidth matrix: the slower direction only matters when forced
    bw = [[math.inf, 3.0], [0.5, math.inf]]
    q = p.replace(bandwidth=np.array(bw))
    assert schedule_bound(q, "makespan").parts["critical_path"] == 1 + 1 + 2
    assert brute_schedule(q, "makespan") == 4


def test_releases_and_eligibility_sets():
    # two tasks only on node 0 (label), released at 5; node 1 idle: 5 + 2 + 2 = 9
    p = gb.Problem([[1], [1]], [[1]] * 3, duration=[2, 2, 1], release=[5, 5, 0],
                   node_labels=[["a"], []], task_requires=[["a"], ["a"], []])
    b = schedule_bound(p, "makespan")
    assert b.value == 9 and b.binding == "energy"
    assert brute_schedule(p, "makespan") == 9


def test_rounding_up_on_integer_data():
    # three unit tasks on two one-slot nodes: energy 1.5, the optimum an integer 2
    p = gb.Problem([[1]] * 2, [[1]] * 3, duration=[1, 1, 1])
    b = schedule_bound(p, "makespan")
    assert b.parts["energy"] == 1.5 and b.value == 2
    # fractional times: no rounding
    q = p.replace(duration=np.array([1.5, 1.5, 1.5]))
    assert schedule_bound(q, "makespan").value == 2.25


def test_zero_runtimes():
    p = gb.Problem([[1]], [[1]] * 3, duration=[0, 0, 0], edges=[(0, 1)])
    for objective in SCHEDULE:
        assert schedule_bound(p, objective).value == 0


# --------------------------------------------------------------------------- API


def test_bound_object():
    p = gb.Problem([[1]], [[1]] * 2, duration=[1, 2], objective="makespan")
    b = gb.schedule_bound(p)
    assert isinstance(b, Bound) and b.objective == "makespan"
    assert float(b) == b.value == 3 and b.time >= 0
    assert b.gap(4.0) == pytest.approx(0.25) and b.gap(3.0) == 0
    assert math.isnan(b.gap(math.nan))
    with pytest.raises(AttributeError):
        b.value = 1  # type: ignore[misc]


def test_bound_errors():
    p = gb.Problem([[1]], [[1]])
    with pytest.raises(ValueError, match=re.escape(
            "schedule_bound bounds the schedule objectives (makespan, weighted_completion), "
            "got 'cost'")):
        schedule_bound(p, "cost")
    with pytest.raises(ValueError, match="got None"):
        schedule_bound(p)
    with pytest.raises(TypeError, match=re.escape("problem must be a gabalance.Problem, got dict")):
        schedule_bound({}, "makespan")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="lp must be True or False, got 1"):
        schedule_bound(p, "makespan", lp=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="time_limit must be a positive number"):
        schedule_bound(p, "makespan", time_limit=0)


def test_lp_is_missing_with_a_reason_when_too_large():
    p = gb.Problem([[1]], [[1]] * 2, duration=[1 / 3001, 1.0])  # no time grid
    b = schedule_bound(p, "makespan", lp=True)
    assert "lp" not in b.parts and "time grid" in b.notes["lp"]


# --------------------------------------------------------------------------- solve


@pytest.mark.parametrize("method", ["ga", "pso", "round_robin", "least_connections",
                                    "least_loaded", "best_fit_decreasing", "heft", "random",
                                    "milp"])
def test_solve_reports_bound_and_gap(method, tmp_path):
    # integer times, so that the exact model has a grid; a transfer between the nodes
    p = gb.Problem([[2], [1]], [[1], [1], [2], [1], [1], [1]],
                   duration=[2, 3, 1, 4, 2, 2], weight=[1, 2, 1, 3, 1, 1],
                   release=[0, 0, 1, 0, 2, 0], edges=[(0, 1), (0, 2), (1, 3), (2, 4)],
                   data=[2.0, 0.0, 4.0, 1.0], bandwidth=2.0, speed=[1.0, 2.0])
    kw = dict(max_generations=2, seed=0) if method in ("ga", "pso") else {}
    for objective in SCHEDULE:
        res = gb.solve(p, objective, method=method, **kw)
        b = schedule_bound(p, objective)
        assert res.bound <= res.fun + 1e-9 * res.fun
        assert res.bound >= b.value or res.bound == res.fun
        assert res.gap == pytest.approx(max(0.0, res.fun - res.bound) / res.fun, abs=1e-15)
        path = tmp_path / f"{method}-{objective}.json"
        res.save(path)
        back = SolveResult.load(path, p)
        assert back.bound == res.bound and back.gap == res.gap


def test_solve_placement_results_carry_no_schedule_bound():
    p = gb.Problem([[2], [2]], [[1]] * 3)
    res = gb.solve(p, "max_utilization", method="least_loaded")
    assert "bound" not in res and "gap" not in res

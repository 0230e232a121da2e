"""The critical-path search of schedule mode against its loop-per-individual oracle
(``naive.naive_critical_search``: full reference decodes, the same random stream)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabalance as gb
from gabalance.backend import pack
from gabalance.backend._numba_critical import critical_search, heads
from gabalance.generate import random_dag

import naive
from strategies import schedule_cases


def _allowed_lists(problem: gb.Problem) -> np.ndarray:
    out = np.full((problem.n_tasks, problem.n_nodes), -1, np.int64)
    for i in range(problem.n_tasks):
        nodes = problem.allowed_nodes(i)
        out[i, :len(nodes)] = nodes
    return out


def _run(problem, pop, keys, objective, budget, width, seeds):
    x = np.array(pop, np.int32, order="C")
    k = np.array(keys, np.float64, order="C")
    obj, viol, used = critical_search(pack(problem), x, k, 0 if objective == "makespan" else 1,
                                      budget, width, np.asarray(seeds, np.uint64),
                                      heads(pack(problem)), _allowed_lists(problem))
    return x, k, obj, viol, used


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=schedule_cases(max_p=3), objective=st.sampled_from(["makespan",
                                                                "weighted_completion"]),
       budget=st.integers(1, 25), width=st.integers(1, 4))
def test_critical_search_matches_oracle(case, objective, budget, width):
    problem, pop, keys = case
    seeds = [7 + 1000 * r for r in range(pop.shape[0])]
    x, k, obj, viol, used = _run(problem, pop, keys, objective, budget, width, seeds)
    assert np.allclose(naive.naive_heads(problem), heads(pack(problem)), rtol=1e-12)
    for r in range(pop.shape[0]):
        nx, nk, nobj, nviol, nused = naive.naive_critical_search(
            problem, pop[r], keys[r], objective, budget, width, seeds[r])
        assert x[r].tolist() == nx
        assert k[r].tolist() == nk
        assert viol[r] == nviol
        assert obj[r] == pytest.approx(nobj, rel=1e-9)
        assert used[r] == nused
        # what comes back is what the genome decodes to, and never worse than the start
        v0, c0, _, _ = naive.schedule(problem, pop[r], keys[r], objective)
        v1, c1, _, _ = naive.schedule(problem, x[r], k[r], objective)
        assert (c1, v1) == (viol[r], pytest.approx(obj[r], rel=1e-9))
        assert c1 < c0 or (c1 == c0 and v1 <= v0 * (1 + 1e-12))


def test_critical_search_shortens_a_bad_schedule():
    """Four equal independent tasks piled on one of two equal nodes: the chain is the pile,
    moving two of them halves the makespan."""
    p = gb.Problem(np.ones((2, 1), int), np.ones((4, 1), int), resources=["slots"],
                   duration=[3.0, 3.0, 3.0, 3.0], objective="makespan")
    x, _k, obj, viol, used = _run(p, np.zeros((1, 4), np.int32), np.arange(4.0)[None] / 4,
                                  "makespan", 50, 4, [11])
    assert viol[0] == 0 and obj[0] == 6.0
    assert sorted(np.bincount(x[0], minlength=2).tolist()) == [2, 2]
    assert used[0] < 50  # stopped at a local optimum, not at the budget


def test_critical_search_swaps_priorities_on_one_node():
    """One node, a long task of weight 1 before a short one of weight 10: swapping the two on
    the chain (the short one waited for the long one) lowers the weighted completion."""
    p = gb.Problem(np.ones((1, 1), int), np.ones((2, 1), int), resources=["slots"],
                   duration=[10.0, 1.0], weight=[1.0, 10.0], objective="weighted_completion")
    _x, k, obj, _viol, _used = _run(p, np.zeros((1, 2), np.int32), np.array([[0.0, 1.0]]),
                                   "weighted_completion", 10, 2, [3])
    assert k[0, 1] < k[0, 0]
    assert obj[0] == 1.0 * 11 + 10.0 * 1


def test_critical_search_rejects_read_only_population():
    p = gb.Problem(np.ones((1, 1), int), np.ones((2, 1), int), resources=["slots"],
                   objective="makespan")
    pop = np.zeros((1, 2), np.int32)
    pop.flags.writeable = False
    with pytest.raises(ValueError, match="pop must be a writable C-contiguous int32 array"):
        critical_search(pack(p), pop, np.zeros((1, 2)), 0, 5, 2, np.ones(1, np.uint64),
                        heads(pack(p)), _allowed_lists(p))


@pytest.mark.parametrize("objective", ["makespan", "weighted_completion"])
def test_ga_with_critical_search_is_valid_and_repeatable(objective):
    p = random_dag(40, ccr=1.0, n_procs=4, seed=3, speeds=True)
    params = gb.GAParams(population=16, critical=20)
    a = gb.solve(p, objective, max_generations=6, seed=5, params=params)
    b = gb.solve(p, objective, max_generations=6, seed=5, params=params)
    assert a.fun == b.fun and np.array_equal(a.x, b.x)
    assert gb.validate(p, a.x, a.start).ok
    plain = gb.solve(p, objective, max_generations=6, seed=5,
                     params=gb.GAParams(population=16, critical=0))
    assert plain.nfev < a.nfev  # the search's decodes are counted

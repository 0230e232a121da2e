"""The particle swarm (gabalance/algorithms/pso.py): parameters, init/ask/tell, the moves of
both variants, neighbourhoods, reproducibility, and solve(method="pso") in both modes.

Answers are judged with :func:`gabalance.validate` and :func:`gabalance.evaluate`; the
neighbourhood bests against a loop written here.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import gabalance as gb
from gabalance import examples, generate
from gabalance.algorithms.pso import PSO, PSOParams
from gabalance.operators.variation import AllowedSampler

from strategies import placement_problems, schedule_problems

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = PSOParams(swarm=10)


def _no_edges(problem: gb.Problem) -> gb.Problem:
    if not problem.n_edges:
        return problem
    return problem.replace(edges=np.zeros((0, 2), np.int64), data=np.zeros(0))


# --------------------------------------------------------------------------- PSOParams


@pytest.mark.parametrize("change, message", [
    (dict(swarm=1), "PSOParams.swarm must be an integer >= 2, got 1"),
    (dict(neighbours=0), "PSOParams.neighbours must be an integer >= 1, got 0"),
    (dict(local_search=-1), "PSOParams.local_search must be an integer >= 0, got -1"),
    (dict(variant="fast"), "PSOParams.variant must be one of jump, keys, got 'fast'"),
    (dict(topology="star"), "PSOParams.topology must be one of global, ring, got 'star'"),
    (dict(keep=1.5), "PSOParams.keep must be a number in [0, 1], got 1.5"),
    (dict(keep=0.5, personal=0.5, social=0.5),
     "PSOParams.keep + personal + social must be at most 1, got 1.5"),
    (dict(inertia=float("nan")), "PSOParams.inertia must be a number in [0, 2], got nan"),
    (dict(cognitive=-1), "PSOParams.cognitive must be a number in [0, 4], got -1"),
    (dict(max_velocity=2), "PSOParams.max_velocity must be a number in [0, 1], got 2"),
    (dict(justify=1), "PSOParams.justify must be True or False, got 1"),
])
def test_psoparams_rejects_bad_values(change, message):
    with pytest.raises(ValueError, match="^" + re.escape(message) + "$"):
        PSOParams(**change)


def test_psoparams_round_trip():
    p = PSOParams(swarm=7, variant="keys", topology="global")
    assert PSOParams.from_dict(p.to_dict()) == p
    with pytest.raises(ValueError, match=re.escape("unknown PSOParams field(s): size")):
        PSOParams.from_dict({"size": 3})


# --------------------------------------------------------------------------- moves


def test_sampler_encode_decode_round_trip():
    p = generate.gap_like(5, 30, kind="c", seed=1)
    holes = p.replace(runtime=np.where(np.arange(30)[:, None] % 3 == np.arange(5)[None, :],
                                       np.inf, 1.0))
    for problem in (p, holes):
        s = AllowedSampler(np, problem)
        x = s.draw(np.random.default_rng(0), (6, 30))
        u = s.encode(x)
        assert np.all((u > 0) & (u < 1))
        np.testing.assert_array_equal(s.decode(u), x)


def test_ring_and_global_neighbourhoods():
    p = generate.gap_like(4, 20, kind="c", seed=2)
    for topology, k in (("ring", 1), ("ring", 2), ("global", 1)):
        pso = PSO(p, "cost", params=PSOParams(swarm=9, topology=topology, neighbours=k,
                                              seed_baselines=False), backend="numba", seed=0)
        pso.init()
        nb = pso._neighbour_best()
        obj, viol = pso.best_objective, pso.best_violation
        order = gb.rank_order(obj, viol, "min")
        rank = np.empty(9, int)
        rank[order] = np.arange(9)
        for s in range(9):
            group = [(s + d) % 9 for d in range(-k, k + 1)] if topology == "ring" else range(9)
            assert nb[s] == min(group, key=lambda q: rank[q])


def test_jump_with_keep_one_moves_nothing():
    """keep = 1 and repair only (nothing to repair: capacities never bind): no gene moves."""
    p = generate.gap_like(4, 20, kind="c", seed=3)
    p = p.replace(capacity=p.capacity * 100)
    pso = PSO(p, "cost", params=PSOParams(swarm=6, variant="jump", keep=1.0, personal=0.0,
                                          social=0.0,
                                          local_search=0, oscillation=0.0, stagnation=0),
              backend="numba", seed=1)
    pso.init()
    before = pso.pop.copy()
    x, _ = pso.ask()
    np.testing.assert_array_equal(x, before)


def test_personal_bests_never_get_worse():
    p = generate.gap_like(5, 40, kind="d", seed=4)
    pso = PSO(p, "cost", params=PSOParams(swarm=8, stagnation=3), backend="numba", seed=2)
    pso.init()
    for _ in range(10):
        old_o, old_v = pso.best_objective.copy(), pso.best_violation.copy()
        pso.step()
        o, v = pso.best_objective, pso.best_violation
        assert np.all((v < old_v) | ((v == old_v) & ((v > 0) | (o <= old_o))))
        ev = gb.evaluate(p, pso.best_pop, objective="cost", backend="numpy")
        np.testing.assert_array_equal(ev.objective, o)
        np.testing.assert_array_equal(ev.violation, v)


# --------------------------------------------------------------------------- protocol


@pytest.mark.parametrize("variant", ["jump", "keys"])
def test_ask_tell_equals_step(variant):
    p = examples.load("scenario")
    params = PSOParams(swarm=8, variant=variant)
    a = PSO(p, "weighted_completion", params=params, backend="numba", seed=3)
    b = PSO(p, "weighted_completion", params=params, backend="numba", seed=3)
    a.init()
    b.init()
    for _ in range(4):
        a.step()
        x, keys = b.ask()
        ev = gb.evaluate(p, x, keys, "weighted_completion", backend="numba")
        b.tell(x, keys, ev.objective, ev.violation)
    assert a.best[2:] == b.best[2:]
    np.testing.assert_array_equal(a.best[0], b.best[0])


@SETTINGS
@given(placement_problems(max_nodes=5, max_tasks=10))
def test_pso_placement_is_valid_and_reproducible(problem):
    problem = _no_edges(problem)
    for variant in ("jump", "keys"):
        params = PSOParams(swarm=8, variant=variant)
        r1 = gb.solve(problem, "cost", method="pso", params=params, max_generations=5, seed=9)
        r2 = gb.solve(problem, "cost", method="pso", params=params, max_generations=5, seed=9)
        np.testing.assert_array_equal(r1.x, r2.x)
        assert r1.fun == r2.fun and r1.method == "pso" and r1.nit == 5
        assert gb.validate(problem, r1.x).ok == (r1.violation == 0)
        ev = gb.evaluate(problem, r1.x, objective="cost", backend="numpy")
        assert ev.objective[0] == r1.fun


@SETTINGS
@given(schedule_problems(max_nodes=4, max_tasks=8))
def test_pso_schedule_is_valid_and_no_worse_than_heft(problem):
    heft = gb.solve(problem, "makespan", method="heft")
    for variant in ("jump", "keys"):
        res = gb.solve(problem, "makespan", method="pso", max_generations=4, seed=1,
                       params=PSOParams(swarm=8, variant=variant))
        assert gb.validate(problem, res.x, res.start).ok == (res.violation == 0)
        if heft.violation == 0:  # heft's plan is in the first swarm
            assert res.violation == 0 and res.fun <= heft.fun


def test_solve_pso_scenario_and_params():
    s = examples.load("scenario")
    res = gb.solve(s, method="pso", max_generations=20, seed=0)
    assert res.success and res.fun == 110.0 and res.method == "pso"
    assert PSOParams.from_dict(res.params) == PSOParams()
    assert "heft" in res.seeded
    with pytest.raises(TypeError, match=re.escape(
            "params must be a PSOParams (or a dict of its fields) for method 'pso', "
            "got GAParams")):
        gb.solve(s, method="pso", params=gb.GAParams())
    res = gb.solve(s, method="pso", max_generations=2, seed=0, params={"swarm": 4},
                   initial=res)
    assert res.success and res.fun == 110.0

"""The genetic algorithm (gabalance/algorithms/ga.py): parameters, the init/ask/tell protocol,
reproducibility, elitism, and the guarantees that seeding with the baselines gives.

The GA's answers are judged with :func:`gabalance.validate` and :func:`gabalance.evaluate`,
and compared with the baselines of :mod:`gabalance.baselines` evaluated independently.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabalance as gb
from gabalance import baselines as B
from gabalance import examples, generate
from gabalance.algorithms.base import HOLD_LIST_SCHEDULES
from gabalance.algorithms.ga import GA, GAParams

from strategies import placement_problems, schedule_problems

SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

SMALL = GAParams(population=12)


def _placement_problem() -> gb.Problem:
    """10 tasks, 4 nodes, two resources, a cost matrix and an eligibility hole."""
    rng = np.random.default_rng(7)
    cap = np.array([[8, 4], [6, 6], [10, 2], [4, 8]])
    dem = rng.integers(0, 4, (10, 2))
    dem[0] = [9, 0]  # fits node 2 only
    cost = rng.integers(1, 20, (10, 4))
    return gb.Problem(cap, dem, cost=cost, objective="cost")


def _no_edges(problem: gb.Problem) -> gb.Problem:
    """Placement objectives are refused on problems with dependencies: drop them."""
    if not problem.n_edges:
        return problem
    return problem.replace(edges=np.zeros((0, 2), np.int64), data=np.zeros(0))


def _better_or_equal(a: tuple[float, float], b: tuple[float, float], sense: str) -> bool:
    """Feasibility-first: (objective, violation) a is at least as good as b."""
    (oa, va), (ob, vb) = a, b
    if va != vb:
        return va < vb
    if va > 0:
        return True  # equal violation: equally good
    return oa >= ob if sense == "max" else oa <= ob


# --------------------------------------------------------------------------- GAParams


@pytest.mark.parametrize("change, message", [
    (dict(population=1), "GAParams.population must be an integer >= 2, got 1"),
    (dict(population=2.0), "GAParams.population must be an integer >= 2, got 2.0"),
    (dict(offspring=0), "GAParams.offspring must be an integer >= 1, got 0"),
    (dict(tournament=True), "GAParams.tournament must be an integer >= 1, got True"),
    (dict(local_search=-1), "GAParams.local_search must be an integer >= 0, got -1"),
    (dict(crossover=1.5), "GAParams.crossover must be a probability in [0, 1], got 1.5"),
    (dict(mutation=-0.1), "GAParams.mutation must be a probability in [0, 1], got -0.1"),
    (dict(swap=float("nan")), "GAParams.swap must be a probability in [0, 1], got nan"),
    (dict(key_mutation="0.1"), "GAParams.key_mutation must be a probability in [0, 1], got '0.1'"),
    (dict(justify="yes"), "GAParams.justify must be True or False, got 'yes'"),
    (dict(seed_baselines=1), "GAParams.seed_baselines must be True or False, got 1"),
])
def test_gaparams_rejects_bad_values(change, message):
    with pytest.raises(ValueError, match=re.escape(message) + "$"):
        GAParams(**change)


def test_gaparams_from_dict_rejects_unknown_fields():
    with pytest.raises(ValueError, match=re.escape("unknown GAParams field(s): bogus, pop")):
        GAParams.from_dict({"pop": 3, "population": 4, "bogus": 1})


def test_gaparams_round_trip_and_defaults():
    p = GAParams(population=7, offspring=3, mutation=None, crossover=1, justify=False,
                 stagnation=4)
    d = p.to_dict()
    assert d["population"] == 7 and d["offspring"] == 3 and d["justify"] is False
    assert set(d) == {f.name for f in dataclasses.fields(GAParams)}
    assert GAParams.from_dict(d) == p
    assert GAParams.from_dict({}) == GAParams()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.population = 3  # type: ignore[misc]
    # None means: offspring = population, mutation = min(1, 2 / N)
    ga = GA(_placement_problem(), "cost", params=GAParams(population=5), seed=0)
    assert ga.offspring == 5 and ga.mutation == pytest.approx(0.2)
    ga = GA(gb.Problem([[1]], [[0]]), "cost", params=GAParams(population=5), seed=0)
    assert ga.mutation == 1.0


def test_generation_gap_under_a_time_limit():
    """Placement mode, offspring None: a generation holds the children that fit in
    GENERATION_SHARE of the limit (at least 2, at most the population); a given offspring,
    no limit or schedule mode keep the whole generation."""
    from gabalance._clock import Clock

    ga = GA(_placement_problem(), "cost", params=GAParams(population=50), seed=0)
    assert ga.children() == 50  # no clock
    ga.clock = Clock(10.0)
    ga.seconds_per_child = 0.0
    assert ga.children() == 50  # nothing measured yet
    ga.seconds_per_child = 0.01  # 10 s * 1 % / 0.01 s = 10 children
    assert ga.children() == 10
    ga.seconds_per_child = 5.0
    assert ga.children() == 2
    ga.seconds_per_child = 1e-6
    assert ga.children() == 50
    fixed = GA(_placement_problem(), "cost", params=GAParams(population=50, offspring=30),
               seed=0)
    fixed.clock, fixed.seconds_per_child = Clock(10.0), 0.01
    assert fixed.children() == 30
    sched = GA(examples.load("scenario"), "makespan", params=GAParams(population=50), seed=0)
    sched.clock, sched.seconds_per_child = Clock(10.0), 0.01
    assert sched.children() == 50
    with Clock(10.0) as clock:
        ga.clock = clock
        ga.init()
        ga.seconds_per_child = 0.01
        x, _ = ga.ask()
    assert x.shape[0] in (10, 11)  # a core move may add its solution


# --------------------------------------------------------------------------- init / ask / tell


def _run_manual(problem, objective, params, seed, gens, backend):
    ga = GA(problem, objective, params=params, backend=backend, seed=seed)
    ga.init()
    for _ in range(gens):
        x, keys = ga.ask()
        assert x.shape == (ga.offspring, problem.n_tasks) and x.dtype == np.int32
        if ga.schedule:
            assert keys.shape == x.shape
        else:
            assert keys is None
        ev = gb.evaluate(problem, x, keys, objective, backend=backend)
        ga.tell(x, keys, ev.objective, ev.violation)
    return ga


def _run_steps(problem, objective, params, seed, gens, backend):
    ga = GA(problem, objective, params=params, backend=backend, seed=seed)
    ga.init()
    for _ in range(gens):
        ga.step()
    return ga


def test_tell_reuses_what_ask_evaluated():
    """ask() evaluates its candidates; tell(x, keys) takes those values, makes the same run
    as telling gb.evaluate's values, and counts the generation without any subclass help."""
    problem = _placement_problem()
    params = GAParams(population=10, offspring=8)
    a = _run_manual(problem, "cost", params, 5, 4, "numba")
    b = GA(problem, "cost", params=params, backend="numba", seed=5)
    b.init()
    for _ in range(4):
        x, keys = b.ask()
        b.tell(x, keys)
    assert a.generation == b.generation == 4
    np.testing.assert_array_equal(a.pop, b.pop)
    np.testing.assert_array_equal(a.objective, b.objective)


def test_tell_without_values_needs_the_asked_array():
    problem = _placement_problem()
    ga = GA(problem, "cost", params=GAParams(population=10, offspring=8), seed=0)
    ga.init()
    with pytest.raises(ValueError, match="the x that the last ask"):
        ga.tell(ga.pop.copy())             # nothing asked yet
    x, keys = ga.ask()
    with pytest.raises(ValueError, match="pass objective and violation"):
        ga.tell(x.copy(), keys)            # a copy: its values are not known
    ga.tell(x, keys)
    with pytest.raises(ValueError, match="the x that the last ask"):
        ga.tell(x, keys)                   # told already
    assert ga.generation == 1


@pytest.mark.parametrize("objective, backend", [("cost", "numba"), ("imbalance", "numba"),
                                                ("makespan", "numba"),
                                                ("weighted_completion", "numpy")])
def test_ask_tell_with_evaluate_equals_step(objective, backend):
    """Children come back repaired and improved with consistent genomes: scoring them with
    gb.evaluate and telling the GA gives exactly the run that step() makes."""
    problem = examples.load("scenario") if objective in gb.SCHEDULE_OBJECTIVES \
        else _placement_problem()
    params = GAParams(population=10, offspring=8)
    a = _run_manual(problem, objective, params, 3, 8, backend)
    b = _run_steps(problem, objective, params, 3, 8, backend)
    assert a.generation == b.generation == 8
    np.testing.assert_array_equal(a.pop, b.pop)
    np.testing.assert_array_equal(a.objective, b.objective)
    np.testing.assert_array_equal(a.violation, b.violation)
    if a.schedule:
        np.testing.assert_array_equal(a.keys, b.keys)
    xa, _, fa, va = a.best
    xb, _, fb, vb = b.best
    np.testing.assert_array_equal(xa, xb)
    assert (fa, va) == (fb, vb)
    assert a.nfev == b.nfev > 0


def test_population_bookkeeping():
    problem = examples.load("scenario")
    ga = GA(problem, "makespan", params=GAParams(population=9, offspring=4), seed=1,
            backend="numba")
    ga.init()
    assert ga.generation == 0
    assert ga.pop.shape == (9, 5) and ga.keys.shape == (9, 5)
    # the list schedulers first, then the others, as many as the population holds
    assert ga.seeded == ["heft", "cpop", "peft", "heft_saga", "cpop_saga", "least_loaded",
                         "best_fit_decreasing", "first_fit_decreasing", "round_robin"]
    nfev = ga.nfev
    ga.step()
    assert ga.generation == 1 and ga.nfev > nfev
    assert ga.pop.shape == (9, 5)
    # the stored values are those of the stored genomes, sorted feasibility-first
    ev = gb.evaluate(problem, ga.pop, ga.keys, "makespan", backend="numpy")
    np.testing.assert_array_equal(ev.objective, ga.objective)
    np.testing.assert_array_equal(ev.violation, ga.violation)
    assert gb.best_index(ga.objective, ga.violation) == 0
    for row in ga.keys:  # kept as ranks
        assert sorted(row.tolist()) == [0, 1, 2, 3, 4]


# --------------------------------------------------------------------------- reproducibility


@pytest.mark.parametrize("objective", ["max_utilization", "makespan"])
def test_same_seed_same_result(objective):
    problem = examples.load("scenario") if objective == "makespan" else _placement_problem()
    kw = dict(max_generations=10, seed=11, backend="numba", params=SMALL)
    a = gb.solve(problem, objective, **kw)
    b = gb.solve(problem, objective, **kw)
    np.testing.assert_array_equal(a.x, b.x)
    assert a.fun == b.fun and a.violation == b.violation and a.nfev == b.nfev
    assert a.history["best"] == b.history["best"]
    if objective == "makespan":
        np.testing.assert_array_equal(a.priority, b.priority)
        np.testing.assert_array_equal(a.start, b.start)
    # and a generator works as the seed
    ga1 = _run_steps(problem, objective, SMALL, np.random.default_rng(5), 4, "numba")
    ga2 = _run_steps(problem, objective, SMALL, np.random.default_rng(5), 4, "numba")
    np.testing.assert_array_equal(ga1.pop, ga2.pop)


def test_different_seeds_explore_differently():
    problem = generate.random_dag(25, n_procs=3, seed=4)
    params = GAParams(population=10, seed_baselines=False)
    a = _run_steps(problem, "makespan", params, 1, 3, "numba")
    b = _run_steps(problem, "makespan", params, 2, 3, "numba")
    assert not np.array_equal(a.pop, b.pop)


# --------------------------------------------------------------------------- elitism


def _never_worse(history: dict, sense: str) -> None:
    best, viol = history["best"], history["violation"]
    for g in range(1, len(best)):
        assert _better_or_equal((best[g], viol[g]), (best[g - 1], viol[g - 1]), sense), \
            (g, best[g - 1], viol[g - 1], best[g], viol[g])


@pytest.mark.parametrize("objective, sense, stagnation", [
    ("cost", "min", 0), ("cost", "max", 2), ("nodes_used", "min", 3), ("makespan", "min", 2),
    ("weighted_completion", "min", 0)])
def test_best_never_gets_worse(objective, sense, stagnation):
    """Elitist replacement (and restarts that keep the best tenth): the best's violation never
    grows, and a feasible best's objective never gets worse in its sense."""
    if objective in gb.SCHEDULE_OBJECTIVES:
        problem = generate.random_dag(20, n_procs=3, seed=2)
    else:  # tight (demand 46 of capacity 48): feasibility is found along the way
        rng = np.random.default_rng(0)
        demand = np.array([2, 3] * 8 + [1, 1, 2, 2])[:, None]
        problem = gb.Problem(np.full((3, 1), 16), demand, cost=rng.integers(1, 9, (20, 3)))
    params = GAParams(population=8, stagnation=stagnation, seed_baselines=False)
    res = gb.solve(problem, objective, sense=sense, max_generations=25, seed=0,
                   backend="numba", params=params)
    _never_worse(res.history, sense)
    assert res.nit == 25


# --------------------------------------------------------------------------- against baselines


def _baseline_scores(problem, objective, sense, names):
    out = {}
    for name in names:
        if name == "least_loaded":
            plan = B.least_loaded(problem, objective)
        elif name.endswith("_saga"):
            plan = B.BASELINES[name[:-5]](problem, convention="saga")
        else:
            plan = B.BASELINES[name](problem)
        keys = plan.keys if gb.mode_of(objective) == "schedule" else None
        ev = gb.evaluate(problem, plan.assignment, keys, objective, sense=sense,
                         backend="numba", schedule=True if keys is not None else None)
        out[name] = (float(ev.objective[0]), float(ev.violation[0]))
    return out


def _check_against_baselines(problem, objective, sense, res):
    # the plans the GA seeds its population with (the random baseline is not among them)
    # (on the cost objective the LP relaxation's rounding comes first, when HiGHS solved it)
    lp = ["lp_round"] if objective == "cost" and res.get("bound") is not None else []
    lists = [] if gb.mode_of(objective) == "placement" else [
        "heft", "cpop", "peft", "heft_saga", "cpop_saga"]
    wspt = ["wspt"] if objective == "weighted_completion" else []
    expected = lp + lists + wspt + ["least_loaded", "best_fit_decreasing", "first_fit_decreasing",
                             "round_robin", "least_connections"]
    # as many as the first population holds (the held list schedules always count)
    held = len(lists) if objective in HOLD_LIST_SCHEDULES else 0
    assert res.seeded == expected[:min(len(expected), SMALL.population + held)]
    scores = _baseline_scores(problem, objective, sense, [n for n in res.seeded
                                                          if n != "lp_round"])
    start = res.start if res.mode == "schedule" else None
    check = gb.validate(problem, res.x, start)
    feasible = [v for v in scores.values() if v[1] == 0]
    if feasible:
        assert res.violation == 0 and res.success, scores
        assert check.ok, str(check)
        best = max(feasible) if sense == "max" else min(feasible)
        assert _better_or_equal((res.fun, res.violation), best, sense), (res.fun, scores)
    assert res.violation <= min(v[1] for v in scores.values())
    if res.violation == 0:  # validate is the more lenient on float loads, never stricter
        assert check.ok, str(check)


@given(problem=placement_problems(max_tasks=10, max_nodes=5),
       objective=st.sampled_from(gb.PLACEMENT_OBJECTIVES), sense=st.sampled_from(["min", "max"]),
       seed=st.integers(0, 2**16))
@SETTINGS
def test_ga_placement_at_least_as_good_as_the_seeding_baselines(problem, objective, sense, seed):
    problem = _no_edges(problem)
    sense = sense if objective == "cost" else "min"
    res = gb.solve(problem, objective, sense=sense, max_generations=5, seed=seed,
                   backend="numba", params=SMALL)
    _check_against_baselines(problem, objective, sense, res)


@given(problem=schedule_problems(max_tasks=10, max_nodes=5),
       objective=st.sampled_from(gb.SCHEDULE_OBJECTIVES), seed=st.integers(0, 2**16))
@SETTINGS
def test_ga_schedule_at_least_as_good_as_the_seeding_baselines(problem, objective, seed):
    res = gb.solve(problem, objective, max_generations=5, seed=seed, backend="numba",
                   params=SMALL)
    _check_against_baselines(problem, objective, "min", res)
    # every baseline builds a schedule of allowed tasks, so the GA's is feasible and valid
    assert res.success and gb.validate(problem, res.x, res.start).ok
    # the decoded schedule is the one reported
    check = gb.validate(problem, res.x, res.start)
    np.testing.assert_array_equal(check.finish, res.finish)


@given(problem=schedule_problems(max_tasks=8, max_nodes=4), seed=st.integers(0, 99))
@SETTINGS
def test_ga_best_evaluates_to_what_it_reports(problem, seed):
    """The stored objective and violation of the best genome are what evaluating it gives
    (genomes and their scores stay in step through repair and justification)."""
    for objective, backend in (("makespan", "numba"), ("weighted_completion", "numpy")):
        ga = _run_steps(problem, objective, GAParams(population=6), seed, 3, backend)
        x, keys, fun, viol = ga.best
        ev = gb.evaluate(problem, x, keys, objective, backend=backend)
        assert (float(ev.objective[0]), float(ev.violation[0])) == (fun, viol)
    pl = _no_edges(problem)
    for objective in gb.PLACEMENT_OBJECTIVES:
        ga = _run_steps(pl, objective, GAParams(population=6), seed, 3, "numba")
        x, keys, fun, viol = ga.best
        assert keys is None
        ev = gb.evaluate(pl, x, objective=objective, backend="numba")
        assert (float(ev.objective[0]), float(ev.violation[0])) == (fun, viol)


# --------------------------------------------------------------------------- warm start


@given(problem=placement_problems(max_tasks=10, max_nodes=5),
       objective=st.sampled_from(gb.PLACEMENT_OBJECTIVES), data=st.data())
@SETTINGS
def test_warm_start_placement_is_never_worse_than_the_initial(problem, objective, data):
    problem = _no_edges(problem)
    N, M = problem.n_tasks, problem.n_nodes
    x0 = np.array(data.draw(st.lists(st.integers(0, M - 1), min_size=N, max_size=N)), np.int32)
    before = gb.evaluate(problem, x0, objective=objective, backend="numba")
    res = gb.solve(problem, objective, max_generations=0, seed=0, backend="numba",
                   initial=x0, params=GAParams(population=2, seed_baselines=False))
    assert res.nit == 0 and res.status in (1, 2) and res.seeded == []
    assert _better_or_equal((res.fun, res.violation),
                            (float(before.objective[0]), float(before.violation[0])), "min")


@given(problem=schedule_problems(max_tasks=8, max_nodes=4), data=st.data())
@SETTINGS
def test_warm_start_schedule_is_never_worse_than_the_initial(problem, data):
    N = problem.n_tasks
    allowed = [np.flatnonzero(problem.allowed[i]).tolist() for i in range(N)]
    x0 = np.array([data.draw(st.sampled_from(a)) for a in allowed], np.int32)
    before = gb.evaluate(problem, x0, None, "makespan", backend="numba")  # index order
    names = [problem.node_names[j] for j in x0]
    for initial in (x0, names, dict(zip(problem.task_names, names))):
        res = gb.solve(problem, "makespan", max_generations=0, seed=1, backend="numba",
                       initial=initial, params=GAParams(population=2, seed_baselines=False))
        assert res.violation == 0
        assert res.fun <= before.objective[0]
    # a SolveResult carries its keys: the warm start is at least as good as that result
    first = gb.solve(problem, "makespan", method="random", seed=3, backend="numba")
    res = gb.solve(problem, "makespan", max_generations=0, seed=1, backend="numba",
                   initial=first, params=GAParams(population=2, seed_baselines=False))
    assert res.fun <= first.fun


def test_warm_start_keeps_a_good_initial():
    """The initial solution itself joins the population: without improvement (no local search,
    no oscillation) a feasible initial is kept as it is, and a run of zero generations started
    from the result of a longer run returns exactly that result (one random individual of 30
    tasks, not improved, does not come near it)."""
    rng = np.random.default_rng(3)
    problem = gb.Problem(np.full((5, 1), 20), rng.integers(1, 5, (30, 1)),
                         cost=rng.integers(1, 50, (30, 5)))
    good = gb.solve(problem, "cost", max_generations=30, seed=0, backend="numba", params=SMALL)
    assert good.success
    bare = GAParams(population=2, seed_baselines=False, local_search=0, oscillation=0.0)
    for initial in (good, good.x, good.assignment):
        res = gb.solve(problem, "cost", max_generations=0, seed=9, backend="numba",
                       initial=initial, params=bare)
        assert res.fun == good.fun
        np.testing.assert_array_equal(res.x, good.x)
    # several initial rows at once (GA.init takes (R, N)): the best of them leads
    ga = GA(problem, "cost", params=dataclasses.replace(bare, population=4), seed=0)
    ga.init(np.stack([np.roll(good.x, 1), good.x]))
    np.testing.assert_array_equal(ga.pop[0], good.x)
    assert ga.objective[0] == good.fun


def test_warm_start_schedule_row_joins_the_population():
    problem = examples.load("scenario")
    x0 = np.array([4, 4, 0, 3, 3], np.int32)  # allowed: GPU tasks on GPU nodes
    k0 = np.array([4.0, 3.0, 2.0, 1.0, 0.0])
    ga = GA(problem, "makespan", params=GAParams(population=3, seed_baselines=False,
                                                 justify=False, critical=0), seed=0)
    ga.init(x0, k0)
    found = [i for i in range(3) if ga.pop[i].tolist() == x0.tolist()
             and ga.keys[i].tolist() == k0.tolist()]
    assert found
    ev = gb.evaluate(problem, x0, k0, "makespan")
    assert ga.objective[found[0]] == ev.objective[0]


def test_reassignment_rounds_keep_only_improvements():
    from gabalance import examples
    from gabalance.operators.search import Search

    problem = examples.load("scenario")
    search = Search(problem, "makespan", "min", "numba")
    rng = np.random.default_rng(3)
    pop = search.sampler.draw(rng, (16, problem.n_tasks)).astype(np.int32)
    keys = rng.random(pop.shape)
    pop, keys, obj, viol = search.schedule(rng, pop, keys, True)
    new_pop, new_obj, new_viol, decodes = search.reassign(rng, pop, keys, obj, viol, 4)
    assert decodes == 4 * len(pop)
    assert np.all((new_viol < viol) | ((new_viol == viol) & (new_obj <= obj)))
    ev = gb.evaluate(problem, new_pop, keys, objective="makespan")
    np.testing.assert_array_equal(ev.objective, new_obj)
    res = gb.solve(problem, max_generations=5, seed=0, params=GAParams(reassign=2))
    assert gb.validate(problem, res.x, res.start).ok

"""Benchmarks of batched evaluation against a DEAP-style, one-individual-at-a-time evaluation.

Run (not part of the default test run)::

    pytest bench/bench_evaluate.py --benchmark-only --benchmark-json=bench/results.json
    python bench/report.py bench/results.json

Cases
-----
* placement, objective ``cost``, P = 1024 seeded random assignments on the Yagiura GAP
  instances d20200 (200 tasks, 20 agents) and c801600 (1600 tasks, 80 agents);
* schedule decoding, objective ``makespan``, P = 256 seeded random (assignment, keys) on the
  PSPLIB instance j301_1 (one node) and on the bundled ``ai_cluster`` example (500 tasks,
  64 nodes, 384 dependencies).

Contenders, each a separate benchmark on the same population: ``gabalance.evaluate`` with
backend ``numba`` (all threads, and one thread), backend ``numpy``, and a ``deap`` evaluation
written as DEAP's documentation teaches (``creator``/``toolbox``, individuals as lists, a
plain-Python evaluate function mapped over the population, the instance held in Python
lists). Placement also times ``deap-ndarray``: the same evaluate function reading the
instance from NumPy arrays, as a user who loaded it with NumPy would write it (context only;
the targets compare against ``deap``). After timing, every contender's results are checked
against gabalance's: DEAP-style GAP cost and overload against gabalance's objective and
violation, DEAP-style makespans against gabalance's (exactly on j301_1, to 1e-9 relative on
ai_cluster), the NumPy backend against the Numba backend.
"""

from __future__ import annotations

import contextlib
import heapq
from collections.abc import Iterator
from types import SimpleNamespace

import numba
import numpy as np
import pytest
from deap import base, creator

import gabalance as gb
from gabalance import examples
from gabalance.io import read_psplib, read_yagiura_gap

GAP_DIR = "gap_yagiura/AssignmentProblems.jl/data"
J30_FILE = "psplib_j30/j30/j301_1.sm"
P_PLACEMENT = 1024
P_SCHEDULE = 256
SEED = 12345

CONTENDERS = ("numba", "numba-1thread", "numpy", "deap")
#: placement only: the same evalGAP reading the instance from NumPy arrays instead of lists
PLACEMENT_CONTENDERS = (*CONTENDERS, "deap-ndarray")

#: timed rounds per (mode, contender); every round evaluates the whole population once
ROUNDS = {
    ("placement", "numba"): 300, ("placement", "numba-1thread"): 150,
    ("placement", "numpy"): 15, ("placement", "deap"): 9, ("placement", "deap-ndarray"): 3,
    ("schedule", "numba"): 20, ("schedule", "numba-1thread"): 20,
    ("schedule", "numpy"): 3, ("schedule", "deap"): 3,
}

# --------------------------------------------------------------------------- DEAP set-up
# As in DEAP's tutorials: a minimising fitness and a list-based individual.
if not hasattr(creator, "FitnessMin"):
    creator.create("FitnessMin", base.Fitness, weights=(-1.0,))
if not hasattr(creator, "Individual"):
    creator.create("Individual", list, fitness=creator.FitnessMin)


def evalGAP(individual, cost, weight, capacity, penalty):
    """DEAP-style GAP fitness: total cost plus ``penalty`` per unit of capacity overload.

    ``individual[task]`` is the agent of ``task``; ``cost[task][agent]`` and
    ``weight[task][agent]`` are lists of lists, ``capacity[agent]`` a list. ``penalty``
    exceeds any total cost, so ``divmod(fitness, penalty)`` gives back (overload, cost).
    """
    load = [0] * len(capacity)
    total = 0
    for task, agent in enumerate(individual):
        total += cost[task][agent]
        load[agent] += weight[task][agent]
    overload = 0
    for agent in range(len(capacity)):
        if load[agent] > capacity[agent]:
            overload += load[agent] - capacity[agent]
    return (total + penalty * overload,)


def _fits(placed, tau, need, cap):
    """Do the tasks of ``placed`` running at ``tau`` leave room for ``need``?"""
    used = list(need)
    for s, f, d in placed:
        if s <= tau < f:
            for k in range(len(used)):
                used[k] += d[k]
    for k in range(len(used)):
        if used[k] > cap[k]:
            return False
    return True


def _earliest_start(placed, ready, length, need, cap):
    """Earliest t >= ready at which ``need`` fits beside ``placed`` during [t, t + length)."""
    candidates = sorted({ready, *[f for _, f, _ in placed if f > ready]})
    for t in candidates:
        end = t + length
        # usage only rises where a task starts: check t and the starts inside (t, end)
        points = [t] + [s for s, _, _ in placed if t < s < end]
        if all(_fits(placed, tau, need, cap) for tau in points):
            return t
    raise AssertionError("unreachable: the last finish time always fits")


def evalMakespan(individual, inst):
    """DEAP-style serial schedule generation; ``individual`` = N node indices + N keys."""
    n = inst.n
    nodes = individual[:n]
    keys = individual[n:]
    waiting = [len(p) for p in inst.preds]
    ready = [(keys[i], i) for i in range(n) if waiting[i] == 0]
    heapq.heapify(ready)
    finish = [0.0] * n
    placed = [[] for _ in inst.capacity]  # per node: (start, finish, demand) of its tasks
    while ready:
        _, i = heapq.heappop(ready)  # smallest key, ties to the lower index
        j = nodes[i]
        r = inst.release[i]
        for q, amount in inst.preds[i]:
            t = finish[q]
            if nodes[q] != j and amount != 0:
                t += amount / inst.bandwidth[nodes[q]][j]
            if t > r:
                r = t
        length = inst.runtime[i][j]
        start = r
        if inst.allowed[i][j] and length != 0:
            need = inst.demand[i][j]
            start = _earliest_start(placed[j], r, length, need, inst.capacity[j])
            placed[j].append((start, start + length, need))
        finish[i] = start + length
        for s in inst.succs[i]:
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, (keys[s], s))
    return (max(finish),)


def gap_lists(problem: gb.Problem, ndarray: bool = False) -> dict:
    """The GAP instance as plain lists (what a DEAP user would read from the file), or, with
    ``ndarray``, as the NumPy arrays themselves (``cost[task][agent]`` is then a NumPy
    scalar)."""
    cost = problem.cost.tolist()
    data = {
        "cost": cost,
        "weight": problem.demand[:, :, 0].tolist(),
        "capacity": problem.capacity[:, 0].tolist(),
        "penalty": sum(max(row) for row in cost) + 1,
    }
    if ndarray:
        data.update(cost=problem.cost, weight=problem.demand[:, :, 0],
                    capacity=problem.capacity[:, 0])
    return data


def schedule_lists(problem: gb.Problem) -> SimpleNamespace:
    """The scheduling instance as plain lists, one entry per task (or node)."""
    n, m = problem.n_tasks, problem.n_nodes
    runtime = (problem.runtime if problem.runtime is not None
               else problem.duration[:, None] / problem.speed[None, :])
    demand = problem.demand if problem.demand.ndim == 3 else \
        np.broadcast_to(problem.demand[:, None, :], (n, m, problem.n_resources))
    bandwidth = np.broadcast_to(np.asarray(problem.bandwidth, dtype=np.float64), (m, m))
    preds: list[list[tuple[int, float]]] = [[] for _ in range(n)]
    succs: list[list[int]] = [[] for _ in range(n)]
    for (p, s), amount in zip(problem.edges.tolist(), problem.data.tolist()):
        preds[s].append((p, amount))
        succs[p].append(s)
    return SimpleNamespace(
        n=n, preds=preds, succs=succs, release=problem.release.tolist(),
        runtime=runtime.tolist(), demand=demand.tolist(), capacity=problem.capacity.tolist(),
        allowed=problem.allowed.tolist(), bandwidth=bandwidth.tolist(),
    )


# --------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def numba_threads(contender: str) -> Iterator[None]:
    """Run with one Numba thread for ``numba-1thread``, else with all of them."""
    old = numba.get_num_threads()
    numba.set_num_threads(1 if contender == "numba-1thread" else numba.config.NUMBA_NUM_THREADS)
    try:
        yield
    finally:
        numba.set_num_threads(old)


def backend_of(contender: str) -> str:
    return "numpy" if contender == "numpy" else "numba"


def record(benchmark, mode: str, case: SimpleNamespace, contender: str) -> None:
    benchmark.extra_info.update(
        mode=mode, case=case.name, contender=contender, objective=case.objective,
        P=int(case.pop.shape[0]), N=int(case.problem.n_tasks), M=int(case.problem.n_nodes),
        numba_threads=1 if contender == "numba-1thread" else numba.config.NUMBA_NUM_THREADS,
    )


def run_gabalance(benchmark, case: SimpleNamespace, contender: str, mode: str) -> gb.Evaluation:
    backend = backend_of(contender)

    def once() -> gb.Evaluation:
        return gb.evaluate(case.problem, case.pop, case.keys, objective=case.objective,
                           backend=backend)

    with numba_threads(contender):
        once()  # warm-up: JIT compilation (or loading the on-disk cache)
        return benchmark.pedantic(once, rounds=ROUNDS[mode, contender], iterations=1,
                                  warmup_rounds=1)


# --------------------------------------------------------------------------- placement


@pytest.fixture(scope="module", params=["d20200", "c801600"])
def gap_case(request: pytest.FixtureRequest, data_file) -> SimpleNamespace:
    problem = read_yagiura_gap(data_file(f"{GAP_DIR}/{request.param}.zip"))
    rng = np.random.default_rng(SEED)
    pop = rng.integers(0, problem.n_nodes, size=(P_PLACEMENT, problem.n_tasks), dtype=np.int32)
    ref = gb.evaluate(problem, pop, objective="cost", backend="numba")
    return SimpleNamespace(name=request.param, problem=problem, pop=pop, keys=None,
                           objective="cost", ref=ref)


@pytest.mark.parametrize("contender", PLACEMENT_CONTENDERS)
def test_placement(benchmark, gap_case: SimpleNamespace, contender: str) -> None:
    benchmark.group = f"placement {gap_case.name} P={P_PLACEMENT}"
    record(benchmark, "placement", gap_case, contender)
    problem, pop, ref = gap_case.problem, gap_case.pop, gap_case.ref

    if not contender.startswith("deap"):
        got = run_gabalance(benchmark, gap_case, contender, "placement")
        np.testing.assert_array_equal(got.objective, ref.objective)
        np.testing.assert_allclose(got.violation, ref.violation, rtol=1e-12, atol=0)
        return

    toolbox = base.Toolbox()
    toolbox.register("evaluate", evalGAP,
                     **gap_lists(problem, ndarray=contender == "deap-ndarray"))
    population = [creator.Individual(row) for row in pop.tolist()]

    def evaluate_population() -> None:
        fitnesses = list(map(toolbox.evaluate, population))
        for ind, fit in zip(population, fitnesses):
            ind.fitness.values = fit

    benchmark.pedantic(evaluate_population, rounds=ROUNDS["placement", contender],
                       iterations=1, warmup_rounds=0)

    # the fitness each individual got, split back into (overload, cost)
    penalty = gap_lists(problem)["penalty"]
    values = [ind.fitness.values[0] for ind in population]
    assert max(values) < 2**53  # exact in float64
    overload, cost = np.array([divmod(int(v), penalty) for v in values]).T
    np.testing.assert_array_equal(cost, ref.objective)
    # gabalance's violation: overload / max capacity + tasks on agents they do not fit
    ineligible = (~problem.allowed[np.arange(problem.n_tasks), pop]).sum(axis=1)
    expected = overload / max(problem.capacity[:, 0].tolist()) + ineligible
    np.testing.assert_allclose(ref.violation, expected, rtol=1e-12, atol=0)


# --------------------------------------------------------------------------- schedule


def _j30(data_file) -> tuple[gb.Problem, np.ndarray, np.ndarray]:
    problem = read_psplib(data_file(J30_FILE))
    rng = np.random.default_rng(SEED)
    pop = np.zeros((P_SCHEDULE, problem.n_tasks), np.int32)  # one node
    keys = rng.random((P_SCHEDULE, problem.n_tasks))
    return problem, pop, keys


def _ai_cluster() -> tuple[gb.Problem, np.ndarray, np.ndarray]:
    problem = examples.load("ai_cluster")
    rng = np.random.default_rng(SEED)
    pop = np.empty((P_SCHEDULE, problem.n_tasks), np.int32)
    for i in range(problem.n_tasks):
        pop[:, i] = rng.choice(problem.allowed_nodes(i), size=P_SCHEDULE)
    keys = rng.random((P_SCHEDULE, problem.n_tasks))
    return problem, pop, keys


@pytest.fixture(scope="module", params=["j301_1", "ai_cluster"])
def schedule_case(request: pytest.FixtureRequest, data_file) -> SimpleNamespace:
    if request.param == "j301_1":
        problem, pop, keys = _j30(data_file)
        exact = True  # integer durations and demands
    else:
        problem, pop, keys = _ai_cluster()
        exact = False
    ref = gb.evaluate(problem, pop, keys, objective="makespan", backend="numba")
    assert np.all(ref.violation == 0)
    return SimpleNamespace(name=request.param, problem=problem, pop=pop, keys=keys,
                           objective="makespan", ref=ref, exact=exact)


def _check_makespans(case: SimpleNamespace, got) -> None:
    if case.exact:
        np.testing.assert_array_equal(got, case.ref.objective)
    else:
        np.testing.assert_allclose(got, case.ref.objective, rtol=1e-9, atol=0)


@pytest.mark.parametrize("contender", CONTENDERS)
def test_schedule(benchmark, schedule_case: SimpleNamespace, contender: str) -> None:
    benchmark.group = f"schedule {schedule_case.name} P={P_SCHEDULE}"
    record(benchmark, "schedule", schedule_case, contender)

    if contender != "deap":
        got = run_gabalance(benchmark, schedule_case, contender, "schedule")
        _check_makespans(schedule_case, got.objective)
        np.testing.assert_array_equal(got.violation, schedule_case.ref.violation)
        return

    toolbox = base.Toolbox()
    toolbox.register("evaluate", evalMakespan, inst=schedule_lists(schedule_case.problem))
    population = [creator.Individual(x + k) for x, k in
                  zip(schedule_case.pop.tolist(), schedule_case.keys.tolist())]

    def evaluate_population() -> None:
        fitnesses = list(map(toolbox.evaluate, population))
        for ind, fit in zip(population, fitnesses):
            ind.fitness.values = fit

    benchmark.pedantic(evaluate_population, rounds=ROUNDS["schedule", contender],
                       iterations=1, warmup_rounds=0)
    _check_makespans(schedule_case, [ind.fitness.values[0] for ind in population])

"""The incremental cost search (numba) against its from-scratch oracle, and its contract."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabalance as gb
from gabalance.backend import get_backend
from gabalance.backend._numba_search import _search_kernel
from gabalance.operators.search import Search
from gabalance.relax import candidate_lists, lp_relaxation

import naive
from strategies import placement_problems


def _engine(problem: gb.Problem, sense: str = "min", candidates: int = 20) -> Search:
    s = Search(problem, "cost", sense, "numba")
    s.candidates = candidates
    s.cost_engine()
    return s


def _run(search: Search, pop: np.ndarray, orders: np.ndarray, w0: np.ndarray, rounds: int,
         passes: int, wide: int, deep: int) -> np.ndarray:
    out = pop.copy()
    get_backend("numba").search_cost(search.cost_engine(), out, orders, w0,
                                     search.penalty_unit(), rounds, passes, wide, deep)
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=placement_problems(max_nodes=5, max_tasks=9), data=st.data())
def test_search_equals_from_scratch_oracle(problem, data):
    """Same moves as the oracle that recomputes every load before pricing a move: the cached
    loads, overloads, node lists and don't-look bits are right (integer data: exact)."""
    search = _engine(problem, candidates=data.draw(st.integers(1, 6), label="L"))
    rec = search.cost_engine()
    N, M = problem.n_tasks, problem.n_nodes
    P = data.draw(st.integers(1, 3), label="P")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    pop = rng.integers(0, M, (P, N)).astype(np.int32)
    orders = np.argsort(rng.random((P, N)), axis=1)
    unit = search.penalty_unit()
    w0 = rng.random(P) * 2 * unit
    rounds = data.draw(st.integers(1, 4), label="rounds")
    passes = data.draw(st.integers(1, 3), label="passes")
    wide = data.draw(st.integers(0, 4), label="wide")
    deep = data.draw(st.integers(0, 3), label="deep")
    got = _run(search, pop, orders, w0, rounds, passes, wide, deep)
    integer = problem.capacity.dtype.kind == "i"
    for p in range(P):
        want = naive.naive_cost_search(rec, pop[p].tolist(), orders[p].tolist(), float(w0[p]),
                                       unit, rounds, passes, wide, deep)
        if integer:
            assert got[p].tolist() == want
        else:  # float loads: the same feasibility and a cost within round-off
            cg = naive.placement(problem, got[p], "cost")
            cw = naive.placement(problem, want, "cost")
            assert (cg[1] == 0) == (cw[1] == 0) or abs(cg[0] - cw[0]) <= 1e-6 * (1 + abs(cw[0]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=placement_problems(max_nodes=6, max_tasks=12), seed=st.integers(0, 1000))
def test_search_never_worse_than_a_feasible_start(problem, seed):
    """The result is the best feasible solution seen: never worse than a feasible start, and
    always on allowed nodes."""
    search = _engine(problem)
    ok = np.array(naive.allowed_matrix(problem))
    start = np.array([naive.naive_best_fit_decreasing(problem)[0]], np.int32)
    rng = np.random.default_rng(seed)
    orders = np.argsort(rng.random(start.shape), axis=1)
    got = _run(search, start, orders, np.array([search.penalty_unit()]), 3, 3, 4, 2)
    assert ok[np.arange(problem.n_tasks), got[0]].all()
    c0, v0 = naive.placement(problem, start[0], "cost")
    c1, v1 = naive.placement(problem, got[0], "cost")
    if v0 == 0:
        assert v1 == 0
        assert c1 <= c0 + 1e-9 * (1 + abs(c0))


def test_search_reaches_the_optimum_of_a_small_gap():
    """gap1-1 style: 5 agents x 15 jobs, per-node demands; a few rounds from a random start
    reach the MILP optimum on some individual."""
    rng = np.random.default_rng(3)
    M, N = 5, 15
    cost = rng.integers(15, 50, (N, M))
    demand = rng.integers(5, 25, (N, M))
    capacity = (0.8 * demand.sum(axis=0) / M).astype(np.int64).reshape(M, 1)
    problem = gb.Problem(capacity, demand[:, :, None], resources=("r",), cost=cost)
    best = gb.solve(problem, "cost", method="milp").fun
    search = _engine(problem)
    P = 16
    pop = rng.integers(0, M, (P, N)).astype(np.int32)
    orders = np.argsort(rng.random((P, N)), axis=1)
    got = _run(search, pop, orders, np.full(P, search.penalty_unit()), 10, 5, 8, 4)
    obj, viol = get_backend("numba").placement(search.pk, got, 0)
    assert (viol == 0).any()
    assert obj[viol == 0].min() == best


def test_candidate_lists_order_and_padding():
    score = np.array([[3.0, 1.0, 2.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    allowed = np.array([[True, True, True, False], [False, True, True, True]])
    cand = candidate_lists(score, allowed, 3)
    assert cand.tolist() == [[1, 2, 0], [1, 2, 3]]
    cand = candidate_lists(score, allowed, 4)
    assert cand.tolist() == [[1, 2, 0, -1], [1, 2, 3, -1]]
    reduced = np.array([[0.0, 5.0, 0.0, np.inf], [np.inf, 2.0, 0.0, 1.0]])
    cand = candidate_lists(score, allowed, 2, reduced)
    assert cand.tolist() == [[2, 0], [2, 3]]


def _gap(seed: int, M: int, N: int, slack: float, top: int = 40
         ) -> tuple[gb.Problem, np.ndarray]:
    """A random GAP: integer costs in [10, top), demands in [1, 10), every node's capacity
    ``slack`` times the mean demand per node; (problem, cost (N, M))."""
    rng = np.random.default_rng(seed)
    cost = rng.integers(10, top, (N, M))
    demand = rng.integers(1, 10, (N, M))
    capacity = np.full((M, 1), int(demand.mean() * N / M * slack))
    return gb.Problem(capacity, demand[:, :, None], resources=("r",), cost=cost), cost


def test_lp_relaxation_bounds_the_milp():
    problem, cost = _gap(0, 4, 20, 1.2)
    N, M = cost.shape
    lp = lp_relaxation(problem, cost.astype(np.float64))
    assert lp is not None
    best = gb.solve(problem, "cost", method="milp").fun
    assert lp.bound <= best + 1e-6
    assert lp.fractional <= M
    assert (lp.reduced[np.arange(N), lp.x] >= 0).all()


def test_kernel_signatures_per_data_variant():
    """One compiled signature per data variant (int64 or float64 loads) in this process."""
    sigs = {str(s) for s in _search_kernel.signatures}
    variants = {("int64" if "int64, 3d" in s else "float64") for s in sigs}
    assert len(sigs) <= 2
    assert len(sigs) == len(variants) or not sigs


def test_core_assignment_is_exact_on_its_core():
    """With every pair in the core the core MILP is the whole problem: its optimum; with
    fewer pairs, a feasible assignment no worse than the incumbent it must contain."""
    from gabalance.relax import core_assignment

    problem, cost = _gap(1, 4, 16, 1.1)
    M = cost.shape[1]
    score = cost.astype(np.float64)
    lp = lp_relaxation(problem, score)
    assert lp is not None
    best = gb.solve(problem, "cost", method="milp").fun
    incumbent = np.array(naive.naive_best_fit_decreasing(problem)[0], np.int32)
    assert naive.placement(problem, incumbent, "cost")[1] == 0
    x = core_assignment(problem, score, lp, incumbent, per_task=M)
    assert naive.placement(problem, x, "cost") == (best, 0.0)
    for k in (1, 2):
        x = core_assignment(problem, score, lp, incumbent, per_task=k)
        value, viol = naive.placement(problem, x, "cost")
        assert viol == 0
        assert value <= naive.placement(problem, incumbent, "cost")[0]


def _all_assignments(problem: gb.Problem, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every assignment of a tiny per-node-demand problem (T, N) and its cost (T,), inf
    where a node is over capacity: the brute-force oracle of the two tests below."""
    N, M = cost.shape
    xs = np.array(np.meshgrid(*[np.arange(M)] * N, indexing="ij")).reshape(N, -1).T
    rows = np.arange(N)
    demand = np.asarray(problem.demand)[:, :, 0]
    load = np.zeros((len(xs), M))
    for i in rows:
        np.add.at(load, (np.arange(len(xs)), xs[:, i]), demand[i, xs[:, i]])
    ok = (load <= np.asarray(problem.capacity)[:, 0][None, :]).all(axis=1)
    value = cost[rows[None, :], xs].sum(axis=1).astype(np.float64)
    return xs, np.where(ok, value, np.inf)


def _tiny_gap(seed: int) -> tuple[gb.Problem, np.ndarray]:
    return _gap(seed, 3, 8, 1.1)


@pytest.mark.parametrize("seed", range(6))
def test_lp_reduced_costs_bound_every_feasible_assignment(seed):
    """cost(x) >= bound + sum_i reduced[i, x_i] for every feasible x, by enumeration: the
    inequality reduced-cost fixing relies on."""
    problem, cost = _tiny_gap(seed)
    lp = lp_relaxation(problem, cost.astype(np.float64))
    assert lp is not None
    assert (lp.reduced >= 0).all()
    xs, value = _all_assignments(problem, cost)
    feasible = np.isfinite(value)
    assert feasible.any()
    floor = lp.bound + lp.reduced[np.arange(cost.shape[0])[None, :], xs].sum(axis=1)
    assert (value[feasible] >= floor[feasible] - 1e-6).all()


@pytest.mark.parametrize("seed", range(6))
def test_fixed_core_reaches_the_enumerated_optimum(seed):
    """From any feasible incumbent, the MILP over the pairs that reduced-cost fixing keeps
    has the whole problem's optimum (brute force); near the optimum it keeps fewer pairs."""
    from gabalance.relax import fixed_core, fixed_pairs

    problem, cost = _tiny_gap(seed)
    score = cost.astype(np.float64)
    lp = lp_relaxation(problem, score)
    assert lp is not None
    xs, value = _all_assignments(problem, cost)
    order = np.argsort(value, kind="stable")
    n_feasible = int(np.isfinite(value).sum())
    N, M = cost.shape
    for rank in (0, 1, n_feasible // 2, n_feasible - 1):
        incumbent = xs[order[rank]].astype(np.int32)
        x, proven = fixed_core(problem, score, lp, incumbent)
        assert x is not None and proven
        assert naive.placement(problem, x, "cost") == (value[order[0]], 0.0)
        keep = fixed_pairs(score, lp, incumbent)
        kept = int(keep.sum())
        better = value < value[order[rank]]  # every strictly better assignment stays open
        assert keep[np.arange(N)[None, :], xs[better]].all()
        assert N <= kept <= N * M
        if rank == 0:
            assert kept < N * M  # at the optimum, every pair of reduced cost > 0 is fixed


def test_ga_stops_when_an_exact_move_proves_the_optimum():
    """Cost objective under a time limit: once the fixed core is solved to optimality the
    GA stops with status 0, its value is the MILP optimum and the bound meets it."""
    problem, _ = _gap(1, 4, 16, 1.1)
    best = gb.solve(problem, "cost", method="milp").fun
    res = gb.solve(problem, "cost", time_limit=30, seed=0, backend="numba")
    assert res.status == 0 and res.success, res.message
    assert res.message.startswith("optimal")
    assert res.fun == best and res.bound == best
    assert res.time < 30
    assert gb.validate(problem, res.x).ok


@pytest.mark.parametrize("solved, moves", [(False, 1), (True, 2)])
def test_no_exact_move_after_one_that_ran_out_without_gain(monkeypatch, solved, moves):
    """An exact move that uses its whole budget (HiGHS not done) without a better best is
    the last one: the GA keeps the rest of the time. One that finishes is followed by the
    fixed core when the best stalls (which, reported solved, ends the run as proven)."""
    from gabalance import relax
    from gabalance.algorithms.ga import GA

    calls = []

    def no_gain(problem, score, keep, incumbent, time_limit):
        calls.append(int(keep.sum()))
        return np.asarray(incumbent, np.int32).copy(), solved

    monkeypatch.setattr(relax, "solve_pairs", no_gain)
    monkeypatch.setattr(GA, "FIXED_MAX", 1.0)
    monkeypatch.setattr(GA, "STALL", 2)
    problem, _ = _gap(3, 5, 40, 1.2, top=50)
    res = gb.solve(problem, "cost", time_limit=1.5, seed=0, backend="numba")
    assert len(calls) == moves
    assert res.status == (0 if solved else 1), res.message
    assert gb.validate(problem, res.x).ok

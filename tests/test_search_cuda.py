"""The CUDA twin of the incremental cost search (kernels/search.cu, ``gb_search_cost``)
against the Numba kernel (gabalance/backend/_numba_search.py): host-compiled through
tests/cuda_host.py everywhere, and (gpu-marked) the cupy backend on a device. The moves are
decisions taken on comparisons of sums, so the populations and move counts must be identical,
for integer and float data alike."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabalance as gb
from gabalance import backend as be
from gabalance.backend import _cupy as cu
from gabalance.backend import _numba_search as ns
from gabalance.backend._launch import KERNELS
from gabalance.operators.search import Search

import cuda_host
from strategies import placement_problems

host = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler")


def _search(problem: gb.Problem, sense: str = "min", candidates: int = 20) -> Search:
    s = Search(problem, "cost", sense, "numba")
    s.candidates = candidates
    s.cost_engine()
    return s


def _pair(search: Search, pop: np.ndarray, orders: np.ndarray, w0: np.ndarray, rounds: int,
          passes: int, wide: int, deep: int, xp=np, runner=cuda_host.runner):
    """((Numba population, moves), (kernel population, moves)) on copies of ``pop``."""
    rec, unit = search.cost_engine(), search.penalty_unit()
    want = pop.copy()
    want_moves = ns.search_cost(rec, want, orders, w0, unit, rounds, passes, wide, deep)
    got = pop.copy() if xp is np else xp.asarray(pop)
    got_moves = cu.search_cost(rec, got, xp.asarray(orders), xp.asarray(w0), unit, rounds,
                               passes, wide, deep, runner=runner, xp=xp)
    if xp is not np:
        got, got_moves = got.get(), got_moves.get()
    return (want, want_moves), (got, got_moves)


def _assert_same(search, pop, orders, w0, rounds, passes, wide, deep, **kw):
    (want, wm), (got, gm) = _pair(search, pop, orders, w0, rounds, passes, wide, deep, **kw)
    msg = f"{rounds=} {passes=} {wide=} {deep=} L={search.cost_engine().cand.shape[1]}"
    np.testing.assert_array_equal(got, want, err_msg=msg)
    np.testing.assert_array_equal(gm, wm, err_msg=msg)
    return want, wm


def _inputs(rng: np.random.Generator, search: Search, P: int, weights=(0.0, 2.0)):
    problem = search.problem
    pop = rng.integers(0, problem.n_nodes, (P, problem.n_tasks)).astype(np.int32)
    orders = np.argsort(rng.random(pop.shape), axis=1).astype(np.int64)
    lo, hi = weights
    w0 = (lo + rng.random(P) * (hi - lo)) * search.penalty_unit()
    return pop, orders, w0


@host
@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(problem=placement_problems(max_nodes=6, max_tasks=12)
       | placement_problems(max_nodes=6, max_tasks=12, nice_floats=False),
       data=st.data())
def test_search_kernel_equals_numba(problem, data):
    """Hypothesis problems (integer and float data, per-task or per-node demands, labels,
    zero capacities), both senses, candidate lists of 1..M+1 nodes, and the budgets and
    neighbourhood widths varied: identical populations and move counts."""
    sense = data.draw(st.sampled_from(["min", "max"]), label="sense")
    L = data.draw(st.integers(1, problem.n_nodes + 1), label="L")
    search = _search(problem, sense, L)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    P = data.draw(st.integers(1, 5), label="P")
    pop, orders, w0 = _inputs(rng, search, P)
    orders_before, w0_before = orders.copy(), w0.copy()
    for rounds, passes, wide, deep in [
        (data.draw(st.integers(0, 6), label="rounds"), data.draw(st.integers(0, 4), label="passes"),
         data.draw(st.integers(0, 8), label="wide"), data.draw(st.integers(0, 5), label="deep")),
        (4, 3, 8, 4),
        (8, 1, 1, 0),
    ]:
        _assert_same(search, pop, orders, w0, rounds, passes, wide, deep)
    np.testing.assert_array_equal(orders, orders_before)
    np.testing.assert_array_equal(w0, w0_before)


def _tie_problem(seed: int) -> gb.Problem:
    """A small, tight problem full of ties: few distinct costs, demands 1-2 against
    capacities 3-6 (sometimes per node), a label some tasks need; integer data for even
    seeds, halves for odd ones."""
    rng = np.random.default_rng(seed)
    M, N, K = 3 + seed % 3, 14, 1 + seed % 2
    cap = rng.integers(3, 7, (M, K))
    dem = rng.integers(1, 3, (N, M, K) if seed % 4 == 1 else (N, K))
    if seed % 2:
        cap, dem = cap / 2, dem / 2
    labels = [["gpu"] if j % 2 == 0 else [] for j in range(M)]
    requires = [[["gpu"]] if rng.random() < 0.2 else [] for _ in range(N)]
    return gb.Problem(cap, dem, cost=rng.integers(0, 4, (N, M)), node_labels=labels,
                      task_requires=requires)


@host
@pytest.mark.parametrize("seed", range(16))
def test_search_kernel_ties(seed):
    """Tie-heavy, tightly packed problems (equal deltas among shifts, swaps and chains,
    equal-cost feasible solutions, zero-gain moves): still the Numba kernel's moves."""
    problem = _tie_problem(seed)
    rng = np.random.default_rng(200 + seed)
    for sense in ("min", "max"):
        for L in (1, 2, problem.n_nodes):
            search = _search(problem, sense, L)
            pop, orders, w0 = _inputs(rng, search, 6, weights=(0.0, 1.0))
            w0[0] = 0.0  # weights start at zero: the floor takes over
            for rounds, passes, wide, deep in [(6, 3, 8, 4), (3, 1, 2, 1), (10, 2, 0, 0)]:
                _assert_same(search, pop, orders, w0, rounds, passes, wide, deep)


@host
@pytest.mark.parametrize("seed", range(6))
def test_search_kernel_near_tolerance(seed):
    """Costs that differ by fractions of the move tolerance (TOL * (1 + |cost| / N)): moves
    just above and just below it are taken or refused alike."""
    rng = np.random.default_rng(300 + seed)
    M, N = 4, 10
    tol = ns.TOL * 2.0  # the mean |score| is near 1
    cost = 1.0 + rng.integers(0, 6, (N, M)) * (0.45 * tol)
    problem = gb.Problem(rng.integers(3, 6, (M, 1)), rng.integers(1, 3, (N, 1)), cost=cost)
    for sense in ("min", "max"):
        search = _search(problem, sense, M)
        pop, orders, w0 = _inputs(rng, search, 6, weights=(0.5, 2.0))
        _, wm = _assert_same(search, pop, orders, w0, 4, 3, 8, 4)
        assert wm.sum() > 0


@host
def test_search_kernel_gap_like_moves_and_writes_back():
    """A GAP-like instance where the search moves a lot; a population that is not C-ordered
    int32 is worked on as a copy and written back; the argument list is the kernel's."""
    from gabalance.generate import gap_like

    problem = gap_like(5, 40, seed=7)
    search = _search(problem, "min", 4)
    rng = np.random.default_rng(1)
    pop, orders, w0 = _inputs(rng, search, 7, weights=(0.1, 2.0))
    want, wm = _assert_same(search, pop, orders, w0, 8, 4, 8, 4)
    assert wm.sum() > 0 and not np.array_equal(want, pop)
    rec, unit = search.cost_engine(), search.penalty_unit()
    for other in (pop.astype(np.int64), np.asfortranarray(pop)):
        moves = cu.search_cost(rec, other, orders, w0, unit, 8, 4, 8, 4,
                               runner=cuda_host.runner, xp=np)
        np.testing.assert_array_equal(other, want)
        np.testing.assert_array_equal(moves, wm)
    with pytest.raises(ValueError, match="orders has shape"):
        cu.search_cost(rec, pop.copy(), orders[:, :-1], w0, unit, 1, 1,
                       runner=cuda_host.runner, xp=np)
    with pytest.raises(ValueError, match="w0 has shape"):
        cu.search_cost(rec, pop.copy(), orders, w0[:-1], unit, 1, 1,
                       runner=cuda_host.runner, xp=np)
    seen = []

    def spy(name, threads, args, int_data, int_cost, **launch):
        seen.append(([kind for kind, _ in args], threads, int_data, int_cost, launch))

    cu.search_cost(rec, pop.copy(), orders, w0, unit, 1, 1, runner=spy, xp=np)
    assert seen == [([kind for _, kind in KERNELS["gb_search_cost"][1]], 7 * 32, True, False,
                     {"cooperative": True})]  # one warp per individual


@host
def test_search_kernel_empty_population():
    problem = _tie_problem(0)
    search = _search(problem)
    pop = np.zeros((0, problem.n_tasks), np.int32)
    moves = cu.search_cost(search.cost_engine(), pop, pop.astype(np.int64), np.zeros(0),
                           search.penalty_unit(), 3, 3, runner=cuda_host.runner, xp=np)
    assert moves.shape == (0,)


def _gap1():
    from gabalance.io import data_dir, read_orlib_gap_one

    root = data_dir()
    path = None if root is None else root / "gap_orlib" / "gap1.txt"
    if path is None or not path.is_file():
        pytest.skip("benchmark data (gap_orlib/gap1.txt) not found")
    return read_orlib_gap_one(path, 1, "max")


@host
@pytest.mark.parametrize("L", [3, 20])
def test_search_kernel_orlib_gap1(L):
    """OR-Library gap1-1 (maximisation, integer data), the LP relaxation ordering the
    candidate lists: the kernel follows the Numba search move for move."""
    problem = _gap1()
    search = _search(problem, "max", L)
    rng = np.random.default_rng(L)
    pop, orders, w0 = _inputs(rng, search, 4, weights=(0.1, 2.0))
    _, wm = _assert_same(search, pop, orders, w0, 6, 3, 8, 4)
    assert wm.sum() > 0


# --------------------------------------------------------------------------- on a device

HAVE_GPU = be.gpu_status()[0]


@pytest.mark.gpu
@pytest.mark.usefixtures("gpu_warm")
@pytest.mark.timeout(120, method="thread")
@pytest.mark.skipif(not HAVE_GPU, reason="needs CuPy and a CUDA device")
@pytest.mark.parametrize("seed", range(6))
def test_cupy_search_cost_equals_numba(seed):
    """The cupy backend on a device, CuPy arrays in and out: the Numba kernel's moves (float
    data for odd seeds, per-node demands for seed 1), and a GAP-like instance with many
    individuals so that several blocks run."""
    import cupy

    from gabalance.generate import gap_like

    problem = _tie_problem(seed) if seed < 4 else gap_like(6, 60, seed=seed)
    search = _search(problem, "max" if seed % 3 == 0 else "min", 2 + seed)
    rng = np.random.default_rng(seed)
    pop, orders, w0 = _inputs(rng, search, 9 if seed < 4 else 300, weights=(0.1, 2.0))
    (want, wm), (got, gm) = _pair(search, pop, orders, w0, 6, 3, 8, 4, xp=cupy, runner=None)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(gm, wm)
    host_pop = pop.copy()  # host arrays in: worked on the device, written back
    moves = cu.search_cost(search.cost_engine(), host_pop, orders, w0, search.penalty_unit(),
                           6, 3, 8, 4)
    assert isinstance(moves, np.ndarray)
    np.testing.assert_array_equal(host_pop, want)
    np.testing.assert_array_equal(moves, wm)

"""The CUDA kernels of kernels/: host-compiled twins against the NumPy reference, launch
helpers, packaging, and (with a device) the cupy backend itself."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gabalance.backend import OBJECTIVE_CODES, pack
from gabalance.backend import _cupy as cu
from gabalance.backend import _numpy as ref
from gabalance.backend._launch import (
    BLOCK,
    KERNELS,
    SHARED_LIMIT,
    grid_1d,
    options,
    pack_args,
    placement_launch,
)

import cuda_host
from strategies import placement_cases, schedule_cases

host = pytest.mark.skipif(not cuda_host.available(), reason="no C++ compiler")


def test_grid_1d():
    assert grid_1d(0) == (1, BLOCK)
    assert grid_1d(1) == (1, BLOCK)
    assert grid_1d(BLOCK) == (1, BLOCK)
    assert grid_1d(BLOCK + 1) == (2, BLOCK)
    assert grid_1d(65536, 256) == (256, 256)
    with pytest.raises(ValueError, match=r"threads per block must be in 1\.\.1024, got 2048"):
        grid_1d(10, 2048)
    with pytest.raises(ValueError, match="cannot launch -1 threads"):
        grid_1d(-1)


def test_options_and_args():
    assert options(False, False) == ("--fmad=false", "-std=c++17")
    assert options(True, True)[-2:] == ("-DGB_DATA_INT", "-DGB_COST_INT")
    name = "gb_placement"
    spec = KERNELS[name][1]
    values = {arg: i for i, (arg, _) in enumerate(spec)}
    assert [v for _, v in pack_args(name, values)] == list(range(len(spec)))
    del values["code"]
    with pytest.raises(KeyError, match="gb_placement: missing argument"):
        pack_args(name, values)


@host
@settings(max_examples=60, deadline=None, derandomize=True)
@given(placement_cases(max_p=5))
def test_placement_kernel_equals_numpy(case):
    problem, pop = case
    pk = pack(problem)
    for objective in ("cost", "max_utilization", "nodes_used", "imbalance"):
        code = OBJECTIVE_CODES[objective]
        want_obj, want_viol = ref.placement(pk, pop, code)
        obj, viol = cu.placement(pk, pop, code, runner=cuda_host.runner, xp=np)
        if problem.capacity.dtype.kind == "i":
            np.testing.assert_array_equal(viol, want_viol)
        else:
            np.testing.assert_allclose(viol, want_viol, rtol=1e-12, atol=0)
        np.testing.assert_allclose(obj, want_obj, rtol=1e-12, atol=0)


def test_placement_launch_shape():
    """The block fits its tile and loads in the shared limit; a wide problem falls back to
    global loads; a small population does not get a wider block than a warp needs."""
    b, shared, in_shared = placement_launch(65536, 20, 1, 0, 8)
    assert (b, in_shared) == (128, True) and shared <= SHARED_LIMIT
    assert shared == 128 * 33 * 4 + 20 * 128 * 8
    assert placement_launch(3, 20, 1, 0, 8)[0] == 32
    b, shared, in_shared = placement_launch(65536, 2000, 3, 2, 8)
    assert (b, in_shared) == (128, False) and shared == 128 * 33 * 4
    b, _, in_shared = placement_launch(65536, 60, 1, 2, 8)  # 128 threads do not fit: 64
    assert (b, in_shared) == (64, True)


@host
@pytest.mark.parametrize("shared_loads", [True, False])
@pytest.mark.parametrize("integer", [True, False])
def test_placement_kernel_blocks_tiles_and_global_loads(monkeypatch, shared_loads, integer):
    """Several blocks, tasks over several tiles, a last partial block and tile, loads in
    shared or (forced) global memory: the numba kernel's values exactly."""
    from gabalance.backend import _numba as nb
    from gabalance.generate import gap_like

    if not shared_loads:
        monkeypatch.setattr(cu, "placement_launch", lambda P, M, K, code, size: (
            64, 64 * 33 * 4, False))
    problem = gap_like(7, 77, kind="d", seed=2)
    if not integer:
        problem = problem.replace(capacity=problem.capacity * 1.0 + 0.25,
                                  demand=problem.demand * 1.0 + 0.125)
    rng = np.random.default_rng(0)
    pop = rng.integers(0, problem.n_nodes, (150, problem.n_tasks)).astype(np.int32)
    pk = pack(problem)
    for objective in ("cost", "max_utilization", "nodes_used", "imbalance"):
        code = OBJECTIVE_CODES[objective]
        want = nb.placement(pk, pop, code)
        got = cu.placement(pk, pop, code, runner=cuda_host.runner, xp=np)
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


# --------------------------------------------------------------------------- schedule


def _assert_schedule_equal(problem, got, want):
    """obj, viol, start, finish: exact on integer data, to 1e-12 otherwise."""
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape
        if problem.capacity.dtype.kind == "i":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=0)


@host
@settings(max_examples=60, deadline=None, derandomize=True)
@given(schedule_cases(max_p=5))
def test_schedule_kernel_equals_numpy(case):
    problem, pop, keys = case
    pk = pack(problem)
    rows = np.arange(pop.shape[0])
    for objective in ("makespan", "weighted_completion"):
        code = OBJECTIVE_CODES[objective]
        want = ref.schedule(pk, pop, keys, code, rows)
        got = cu.schedule(pk, pop, keys, code, rows, runner=cuda_host.runner, xp=np)
        _assert_schedule_equal(problem, got, want)


def _schedule_fixture(integer: bool):
    """A small DAG on 3 nodes, 2 resources, a bandwidth matrix, releases and weights, with
    speeds that make runtimes inexact; a population mixing allowed and unallowed nodes."""
    import gabalance as gb

    dtype = np.int64 if integer else np.float64
    scale = 1 if integer else 0.75
    capacity = np.array([[4, 2], [3, 3], [2, 1]], dtype) * scale
    demand = np.array([[2, 1], [1, 1], [3, 0], [1, 2], [2, 1], [1, 0], [2, 2], [1, 1]],
                      dtype) * scale
    inf = np.inf
    problem = gb.Problem(
        capacity, demand, duration=[3, 1, 2, 2.5, 1, 0, 4, 2], speed=[1.0, 1.5, 3.0],
        edges=[(0, 2), (0, 3), (1, 3), (2, 5), (3, 5), (3, 6), (4, 6), (5, 7), (6, 7)],
        data=[1.0, 2.0, 0.0, 0.5, 3.0, 1.0, 2.0, 1.0, 0.0],
        bandwidth=[[inf, 1.0, 2.0], [1.0, inf, 0.5], [2.0, 0.5, inf]],
        release=[0.0, 1.0, 0.0, 0.0, 2.5, 0.0, 0.0, 0.0],
        weight=[1.0, 2.0, 0.5, 1.0, 3.0, 1.0, 2.0, 1.0])
    rng = np.random.default_rng(7)
    pop = rng.integers(0, 3, (6, 8)).astype(np.int32)
    pop[0] = [0, 1, 0, 1, 0, 0, 1, 0]  # all allowed
    pop[1] = 0  # everything on node 0: a crowded profile
    keys = rng.random((6, 8))
    keys[2] = 0.0  # all ties: index order
    keys[3] = np.repeat([0.5, 0.25], 4)
    return problem, pop, keys


@host
@pytest.mark.parametrize("integer", [True, False])
def test_schedule_kernel_rows_subset(integer):
    from gabalance.backend import _numba as nb

    problem, pop, keys = _schedule_fixture(integer)
    pk = pack(problem)
    for rows in (np.array([1]), np.array([4, 1]), np.zeros(0, np.int64)):
        for code in (0, 1):
            want = ref.schedule(pk, pop, keys, code, rows)
            got = cu.schedule(pk, pop, keys, code, rows, runner=cuda_host.runner, xp=np)
            _assert_schedule_equal(problem, got, want)
            _assert_schedule_equal(problem, got, nb.schedule(pk, pop, keys, code, rows))
            assert got[2].shape == (len(rows), pop.shape[1])
    # the fixture exercises what it is meant to: violations and a non-trivial schedule
    _, viol, start, finish = cu.schedule(pk, pop, keys, 0, np.arange(6),
                                         runner=cuda_host.runner, xp=np)
    assert viol[0] == 0 and viol.max() > 0
    # row 1 runs on one node (no transfers): some task waits for resources, not predecessors
    ready = pk.release.copy()
    for i in range(pop.shape[1]):
        for q in pk.pred_src[pk.pred_ptr[i]:pk.pred_ptr[i + 1]]:
            ready[i] = max(ready[i], finish[1, q])
    assert (start[1] > ready).any()


@host
@pytest.mark.parametrize("integer", [True, False])
def test_schedule_kernel_reversed_problem(integer):
    """The backward pass of forward-backward improvement: the reversed DAG, keys -finish."""
    from gabalance.operators.search import reverse_packed

    problem, pop, keys = _schedule_fixture(integer)
    pk = pack(problem)
    rev = reverse_packed(problem)
    rows = np.arange(pop.shape[0])
    for code in (0, 1):
        _, _, _, finish = ref.schedule(pk, pop, keys, code, rows)
        want = ref.schedule(rev, pop, -finish, code, rows)
        got = cu.schedule(rev, pop, -finish, code, rows, runner=cuda_host.runner, xp=np)
        _assert_schedule_equal(problem, got, want)


# --------------------------------------------------------------------------- improve_placement
#: (objective code, sign): both senses of cost, then the other placement objectives
IMPROVE_SEARCHES = [(0, 1.0), (0, -1.0), (1, 1.0), (2, 1.0), (3, 1.0)]


def _improved_pair(pk, pop, orders, code, sign, passes, weights):
    """(Numba result, host-compiled kernel result) on copies of ``pop``."""
    from gabalance.backend import _numba as nb

    want = pop.copy()
    nb.improve_placement(pk, want, orders, code, sign, passes, weights)
    got = pop.copy()
    cu.improve_placement(pk, got, orders, code, sign, passes, weights,
                         runner=cuda_host.runner, xp=np)
    return want, got


@host
@settings(max_examples=50, deadline=None, derandomize=True)
@given(placement_cases(max_p=5) | placement_cases(max_p=5, nice_floats=False),
       st.integers(0, 2**32 - 1), st.booleans())
def test_improve_kernel_equals_numba(case, seed, computed):
    """Same moves as the Numba kernel: every objective, both senses of cost, 0, 1 and 3
    passes, with and without oscillation weights, dense or worked-out eligibility; the
    populations must be identical (moves are decisions, for float data too)."""
    import dataclasses

    problem, pop = case
    pk = pack(problem)
    if computed and pk.elig_mode != 0:
        pk = dataclasses.replace(pk, elig_mode=2, allowed=np.ones((1, 1), bool))
    rng = np.random.default_rng(seed)
    P, N = pop.shape
    orders = np.argsort(rng.random((P, N)), axis=1).astype(np.int64)
    weights = rng.random(P) * rng.choice([0.5, 5.0, 100.0])
    weights[rng.random(P) < 0.25] = 0.0
    orders_before = orders.copy()
    for code, sign in IMPROVE_SEARCHES:
        for passes in (0, 1, 3):
            for w in (None, weights) if code == 0 else (None,):
                want, got = _improved_pair(pk, pop, orders, code, sign, passes, w)
                np.testing.assert_array_equal(got, want, err_msg=f"{code=} {sign=} {passes=}")
    np.testing.assert_array_equal(orders, orders_before)


@host
def test_improve_kernel_converts_and_writes_back():
    """A population that is not C-ordered int32 is worked on as a copy and written back."""
    from gabalance.backend import _numba as nb
    from gabalance.generate import gap_like

    problem = gap_like(4, 12, seed=3)
    pk = pack(problem)
    rng = np.random.default_rng(0)
    pop = rng.integers(0, problem.n_nodes, (3, problem.n_tasks)).astype(np.int32)
    orders = np.argsort(rng.random(pop.shape), axis=1)
    want = pop.copy()
    nb.improve_placement(pk, want, orders, 0, 1.0, 3)
    assert not np.array_equal(want, pop)  # the case exercises moves
    wide = pop.astype(np.int64)  # another dtype
    cu.improve_placement(pk, wide, orders, 0, 1.0, 3, runner=cuda_host.runner, xp=np)
    np.testing.assert_array_equal(wide, want)
    fortran = np.asfortranarray(pop)  # not C-ordered
    cu.improve_placement(pk, fortran, orders, 0, 1.0, 3, runner=cuda_host.runner, xp=np)
    np.testing.assert_array_equal(fortran, want)
    same = pop.copy()  # C-ordered int32: rewritten directly
    args, work = cu.improve_args(pk, same, orders, 0, 1.0, 3, None, np)
    assert work is same
    assert [k for k, _ in args] == [k for _, k in KERNELS["gb_improve_placement"][1]]
    with pytest.raises(ValueError, match="orders has shape"):
        cu.improve_args(pk, same, orders[:, :-1], 0, 1.0, 3, None, np)


def _tie_problem(seed: int):
    """A small, tight problem full of ties: few distinct costs (or durations 0/1 and speeds
    1/2), demands 1-2 against capacities 3-6, a label some tasks need; integer data for
    even seeds, halves for odd ones."""
    import gabalance as gb

    rng = np.random.default_rng(seed)
    M, N, K = 3 + seed % 3, 12, 1 + seed % 2
    cap = rng.integers(3, 7, (M, K))
    dem = rng.integers(1, 3, (N, K))
    if seed % 2:
        cap, dem = cap / 2, dem / 2
    kw = {}
    if seed % 3 != 2:
        kw["cost"] = rng.integers(0, 4, (N, M))
    else:
        kw["duration"] = rng.choice([0.0, 1.0], N)
        kw["speed"] = rng.choice([1.0, 2.0], M)
    labels = [["gpu"] if j % 2 == 0 else [] for j in range(M)]
    requires = [[["gpu"]] if rng.random() < 0.2 else [] for _ in range(N)]
    return gb.Problem(cap, dem, node_labels=labels, task_requires=requires, **kw)


@host
@pytest.mark.parametrize("seed", range(24))
def test_improve_kernel_ties(seed):
    """Tie-heavy, tightly packed problems (zero-gain swaps, equal scores, blocked shifts,
    chain moves): still the Numba kernel's moves."""
    problem = _tie_problem(seed)
    pk = pack(problem)
    rng = np.random.default_rng(100 + seed)
    P, N = 6, problem.n_tasks
    pop = rng.integers(0, problem.n_nodes, (P, N)).astype(np.int32)
    orders = np.argsort(rng.random((P, N)), axis=1)
    weights = rng.choice([0.0, 0.5, 1.0, 4.0], P)
    for code, sign in IMPROVE_SEARCHES:
        for w in (None, weights) if code == 0 else (None,):
            want, got = _improved_pair(pk, pop, orders, code, sign, 3, w)
            np.testing.assert_array_equal(got, want, err_msg=f"{code=} {sign=}")

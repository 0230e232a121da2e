"""The scalable placement baselines against the per-task oracles of ``naive.py``.

``gabalance.baselines`` places tasks with Numba kernels over classes of identical nodes and
segment trees (``gabalance._placement``); ``naive.naive_*`` are the original per-task numpy
rules. Every assignment and every key must be identical, ties and overloads included.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabalance as gb
from gabalance import _placement, generate
from gabalance import baselines as B
from gabalance.io import data_dir, read_openb, read_orlib_gap

import naive
from strategies import LABELS, problems, schedule_problems

FIXTURES = Path(__file__).parent / "fixtures"
SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: (fast baseline, oracle) by name
PAIRS = {
    "round_robin": (B.round_robin, naive.naive_round_robin),
    "least_connections": (B.least_connections, naive.naive_least_connections),
    "least_loaded": (lambda p: B.least_loaded(p, "max_utilization"), naive.naive_least_loaded),
    "first_fit_decreasing": (B.first_fit_decreasing, naive.naive_first_fit_decreasing),
    "best_fit_decreasing": (B.best_fit_decreasing, naive.naive_best_fit_decreasing),
}
NAMES = sorted(PAIRS)


def assert_same(problem: gb.Problem, name: str) -> None:
    fast, oracle = PAIRS[name]
    plan = fast(problem)
    x, keys = oracle(problem)
    assert plan.assignment.dtype == np.int32 and plan.keys.dtype == np.float64
    np.testing.assert_array_equal(plan.assignment, np.array(x, np.int32), err_msg=name)
    np.testing.assert_array_equal(plan.keys, np.array(keys, np.float64), err_msg=name)


GROUPINGS = ("exact", "labels", "nodes", "scan")


def assert_paths_agree(problem: gb.Problem) -> None:
    """Every grouping of the nodes (and the plain scan) gives the same assignment."""
    order = B.topological_order(problem)
    fit_order = np.argsort(-B._size(problem), kind="stable")
    for fn, o in ((_placement.least_loaded, order), (_placement.round_robin, order),
                  (_placement.least_connections, order), (_placement.first_fit, fit_order),
                  (_placement.best_fit, fit_order)):
        want = fn(problem, o)
        for how in GROUPINGS:
            np.testing.assert_array_equal(fn(problem, o, how), want,
                                          err_msg=f"{fn.__name__} {how}")


# --------------------------------------------------------------------------- strategies


@st.composite
def clustered_problems(draw: st.DrawFn, *, nice_floats: bool = True) -> gb.Problem:
    """Problems with many identical nodes: a few node types (capacity and labels), each
    repeated, in a shuffled node order; tasks drawn from a few shapes, often more than fit
    (overloads) and often tied. Now and then a runtime matrix with ``inf`` or per-node
    demands (each node is then its own class)."""
    K = draw(st.integers(1, 3), label="K")
    integer = draw(st.booleans(), label="integer")
    n_types = draw(st.integers(1, 3), label="types")

    def value(hi: int) -> int | float:
        if integer:
            return draw(st.integers(0, hi))
        if nice_floats:
            return draw(st.integers(0, 4 * hi)) / 4
        return draw(st.floats(0.0, float(hi), allow_nan=False, allow_subnormal=False))

    types = []
    for _ in range(n_types):
        cap = [0 if draw(st.integers(0, 6)) == 0 else value(10) for _ in range(K)]
        labels = sorted(draw(st.sets(st.sampled_from(LABELS[:2]), max_size=2)))
        types.append((cap, labels))
    counts = [draw(st.integers(1, 12)) for _ in range(n_types)]
    node_type = [t for t, c in enumerate(counts) for _ in range(c)]
    node_type = draw(st.permutations(node_type), label="node order")
    M = len(node_type)
    shapes = [[0 if draw(st.integers(0, 3)) == 0 else value(5) for _ in range(K)]
              for _ in range(draw(st.integers(1, 4)))]
    N = draw(st.integers(1, 60), label="N")
    demand, requires, homes = [], [], []
    for _ in range(N):
        home = draw(st.integers(0, n_types - 1))
        cap, labels = types[home]
        row = [min(a, b) for a, b in zip(draw(st.sampled_from(shapes)), cap)]
        demand.append(row)
        req = [[draw(st.sampled_from(labels))]] if labels and draw(st.booleans()) else []
        requires.append(req)
        homes.append(home)
    dtype = np.int64 if integer else np.float64
    capacity = np.array([types[t][0] for t in node_type], dtype).reshape(M, K)
    dem = np.array(demand, dtype).reshape(N, K)
    runtime = None
    variant = draw(st.sampled_from(["plain", "plain", "plain", "runtime", "per_node"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1), label="seed"))
    if variant == "runtime":  # inf now and then, never on the task's home type
        runtime = np.where(rng.random((N, M)) < 0.25, math.inf, 1.0)
        runtime[np.array(homes)[:, None] == np.array(node_type)[None, :]] = 1.0
    elif variant == "per_node":  # the shape, grown a little on some nodes, within capacity
        grown = dem[:, None, :] + 1 if integer else dem[:, None, :] * 1.5
        grow = rng.random((N, M, 1)) < 0.25
        dem = np.where(grow, np.minimum(grown, capacity[None]), dem[:, None, :])
    return gb.Problem(capacity, dem, runtime=runtime,
                      node_labels=[types[t][1] for t in node_type], task_requires=requires,
                      objective="max_utilization")


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(problem=problems(max_tasks=16))
def test_same_as_oracle_on_random_problems(name, problem):
    assert_same(problem, name)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(problem=problems(max_tasks=16, nice_floats=False))
def test_same_as_oracle_on_arbitrary_floats(name, problem):
    assert_same(problem, name)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(problem=clustered_problems())
def test_same_as_oracle_on_clustered_problems(name, problem):
    assert_same(problem, name)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(problem=clustered_problems(nice_floats=False))
def test_same_as_oracle_on_clustered_arbitrary_floats(name, problem):
    assert_same(problem, name)


@SETTINGS
@given(problem=clustered_problems(nice_floats=False))
def test_grouped_and_ungrouped_kernels_agree(problem):
    assert_paths_agree(problem)


# --------------------------------------------------------------------------- fixed cases


@pytest.mark.parametrize("name", NAMES)
def test_ties_go_to_the_lowest_index(name):
    # eight identical nodes, identical tasks: every rule ties everywhere
    p = gb.Problem(np.full((8, 2), 4), np.ones((20, 2), int), objective="max_utilization")
    assert_same(p, name)
    x = B.BASELINES[name](p).assignment
    assert x[0] == 0


def test_tie_rules_by_hand():
    # nodes 1 and 3 are identical, 0 and 2 are smaller; every task fits everywhere at first
    p = gb.Problem([[2], [4], [2], [4]], [[1]] * 6, objective="max_utilization")
    # least loaded: utilizations tie at 0, then n0, n2 reach .5 while n1, n3 are at .25
    np.testing.assert_array_equal(B.least_loaded(p).assignment, [0, 1, 2, 3, 1, 3])
    np.testing.assert_array_equal(B.first_fit_decreasing(p).assignment, [0, 0, 1, 1, 1, 1])
    # best fit: the least room left, lowest index among equals
    np.testing.assert_array_equal(B.best_fit_decreasing(p).assignment, [0, 0, 2, 2, 1, 1])
    for name in NAMES:
        assert_same(p, name)


@pytest.mark.parametrize("name", NAMES)
def test_tasks_allowed_on_few_nodes(name):
    # 30 nodes; labelled tasks may use only the two "gpu" nodes (8 and 21), big tasks only
    # the large node 17; the rest anywhere
    M = 30
    capacity = np.full((M, 2), 10)
    capacity[17] = [100, 100]
    labels = [["gpu"] if j in (8, 21) else [] for j in range(M)]
    rng = np.random.default_rng(0)
    demand, requires = [], []
    for i in range(120):
        kind = i % 3
        demand.append([50, 20] if kind == 2 else list(rng.integers(1, 6, 2)))
        requires.append([["gpu"]] if kind == 1 else [])
    p = gb.Problem(capacity, np.array(demand), node_labels=labels, task_requires=requires,
                   objective="max_utilization")
    assert_same(p, name)
    x = B.BASELINES[name](p).assignment
    assert set(x[1::3]) <= {8, 21} and set(x[2::3]) == {17}


@pytest.mark.parametrize("name", NAMES)
def test_overloaded_instance(name):
    # far more demand than capacity, two resources pulling different ways
    rng = np.random.default_rng(1)
    capacity = np.repeat([[8, 2], [4, 4], [2, 8]], 7, axis=0)[rng.permutation(21)]
    demand = rng.integers(0, 3, (300, 2))
    p = gb.Problem(capacity, demand, objective="max_utilization")
    assert_same(p, name)


@pytest.mark.parametrize("name", NAMES)
def test_overloaded_float_instance(name):
    rng = np.random.default_rng(2)
    capacity = np.repeat(rng.uniform(1, 10, (4, 3)), 9, axis=0)[rng.permutation(36)]
    demand = rng.uniform(0, 1, (400, 3)) * rng.integers(0, 2, (400, 3))
    p = gb.Problem(capacity, demand, objective="max_utilization")
    assert_same(p, name)
    assert_paths_agree(p)


@pytest.mark.parametrize("K", [8, 9, 13, 130])
def test_many_resources(K):
    """Slack and overload sum K terms in numpy's order (pairwise from 8 terms on)."""
    rng = np.random.default_rng(K)
    capacity = np.repeat(rng.uniform(1, 5, (2, K)), 5, axis=0)
    demand = rng.uniform(0, 1, (60, K))
    p = gb.Problem(capacity, demand, objective="max_utilization")
    for name in NAMES:
        assert_same(p, name)


def test_row_sum_is_numpys():
    rng = np.random.default_rng(3)
    for K in [*range(0, 140), 255, 256, 257, 1000, 1029]:
        a = rng.random(K) * rng.choice([1.0, 1e-8, 1e8, -1.0], K)
        assert _placement._row_sum(a, K) == a[None, :].sum(axis=1)[0], K


def test_fit_threshold_is_an_upper_bound():
    """Least-loaded prunes a subtree when a demand exceeds every node's threshold: no
    demand above the threshold may pass ``load + d <= cap``; usually it is the largest
    passing float."""
    rng = np.random.default_rng(4)
    pairs = [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0), (1.192092896e-07, 1.192092896e-07),
             (5.6, 1.3e-68), (1e-300, 1e-300), (3.0, 2.0), (0.1, 0.3), (1e16, 1e16 + 2)]
    for _ in range(2000):
        a, b = rng.uniform(0, 10, 2) * 10.0 ** rng.integers(-20, 20, 2)
        pairs.append((a, b if rng.random() < 0.8 else a))
    for load, cap in pairs:
        t = _placement._threshold(load, cap)
        d = t
        for _ in range(40):  # the next floats above t, then a few far above
            d = np.nextafter(d, np.inf)
            assert not load + d <= cap, (load, cap, t, d)
        for d in t + np.abs(t) * rng.uniform(0, 1e-3, 20) + 1e-320:
            assert d <= t or not load + d <= cap
        assert abs(t - (cap - load)) <= 1e-12 * (load + cap) + 1e-300  # and a tight one


def gap_problems() -> list[gb.Problem]:
    out = read_orlib_gap(FIXTURES / "gap_tiny.txt", sense="min")
    data = data_dir()
    if data is not None and (data / "gap_orlib" / "gapd.txt").exists():
        out += read_orlib_gap(data / "gap_orlib" / "gapd.txt")[:3]
        out += read_orlib_gap(data / "gap_orlib" / "gap12.txt")[:2]
    return out


@pytest.mark.parametrize("name", NAMES)
def test_gap_per_node_demand(name):
    """OR-Library GAP: demand (N, M, 1) per node (each node its own class)."""
    for p in gap_problems():
        assert p.per_node_demand
        assert_same(p, name)


@pytest.mark.parametrize("name", NAMES)
def test_openb(name):
    p = read_openb(FIXTURES / "openb_nodes_tiny.csv", FIXTURES / "openb_pods_tiny.csv")
    assert_same(p, name)


@pytest.mark.parametrize("dense_runtime", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_ai_cluster(name, dense_runtime):
    """A generated cluster: few node classes, labels, overload; with dependencies (their
    order) and with a runtime matrix (one class per node)."""
    p = generate.ai_cluster(40, 300, seed=3, dense_runtime=dense_runtime,
                            objective="max_utilization")
    assert_same(p, name)


def test_ai_cluster_without_dependencies_grouped():
    p = generate.ai_cluster(200, 800, seed=4, dependencies=False, dense_runtime=False,
                            objective="max_utilization")
    assert len(_placement.classes_of(p).width) < 20
    for name in NAMES:
        assert_same(p, name)
    assert_paths_agree(p)


def test_classes():
    p = gb.Problem([[4, 1], [2, 1], [4, 1], [4, 1]], [[1, 1], [1, 1]],
                   node_labels=[["a"], [], [], ["a", "b"]], task_requires=[[], ["a"]])

    def groups(how):
        cl = _placement.classes_of(p, how)
        for j in range(p.n_nodes):
            c = cl.cls_of[j]
            assert cl.nodes[cl.noff[c] + cl.pos_of[j]] == j
        assert np.all(cl.width >= np.diff(cl.noff)) and np.all(np.diff(cl.toff) == 2 * cl.width)
        return sorted(tuple(cl.nodes[cl.noff[c]:cl.noff[c + 1]].tolist())
                      for c in range(len(cl.width)))

    # may take "a" tasks: {0, 3}; capacities: {0, 2, 3} and {1}
    assert groups("auto") == groups("exact") == [(0, 3), (1,), (2,)]
    assert groups("labels") == [(0, 3), (1, 2)]
    assert groups("nodes") == [(0,), (1,), (2,), (3,)]
    with pytest.raises(ValueError, match="unknown grouping"):
        _placement.classes_of(p, "bogus")


def test_many_distinct_nodes_group_by_labels():
    """Past EXACT_CLASSES distinct capacities the nodes are grouped by labels only; each
    class's tree then holds nodes of different capacities."""
    rng = np.random.default_rng(5)
    M = _placement.EXACT_CLASSES + 30
    capacity = rng.uniform(1, 4, (M, 2))
    labels = [["gpu"] if j % 3 == 0 else [] for j in range(M)]
    demand = rng.uniform(0, 1.5, (400, 2))
    requires = [[["gpu"]] if i % 4 == 0 else [] for i in range(400)]
    p = gb.Problem(capacity, demand, node_labels=labels, task_requires=requires,
                   objective="max_utilization")
    assert len(_placement.classes_of(p).width) == 2
    for name in NAMES:
        assert_same(p, name)
    assert_paths_agree(p)


def test_large_instance_runs_quickly():
    """A cluster of 2,000 nodes and 20,000 tasks: the per-task cost must not be O(M)."""
    import time

    p = generate.ai_cluster(2000, 20_000, seed=1, dependencies=False, dense_runtime=False,
                            objective="max_utilization")
    small = generate.ai_cluster(20, 50, seed=1, dependencies=False, dense_runtime=False,
                                objective="max_utilization")
    for name in NAMES:
        B.BASELINES[name](small)  # compile (or load from the cache) first
        t = time.perf_counter()
        plan = B.BASELINES[name](p)
        assert time.perf_counter() - t < 5.0, name
        assert p.allowed[np.arange(p.n_tasks), plan.assignment].all()


# --------------------------------------------------------------------------- earliest finish


def assert_same_schedule_policies(problem: gb.Problem) -> None:
    np.testing.assert_array_equal(B.upward_rank(problem), naive.naive_upward_rank(problem))
    for plan, (x, keys) in ((B.heft(problem), naive.naive_heft(problem)),
                            (B.least_loaded(problem, "makespan"),
                             naive.naive_least_loaded_schedule(problem))):
        np.testing.assert_array_equal(plan.assignment, np.array(x, np.int32))
        np.testing.assert_array_equal(plan.keys, np.array(keys))
    order = B.topological_order(problem)
    x, finish = B.earliest_finish(problem, order)
    want_x, want_finish = naive.naive_earliest_finish(problem, order)
    np.testing.assert_array_equal(x, want_x)
    np.testing.assert_array_equal(finish, want_finish)


@SETTINGS
@given(problem=schedule_problems(max_tasks=16))
def test_earliest_finish_policies_as_oracle(problem):
    """HEFT and the response-time policy try nodes in increasing lower bound on the finish
    and stop early; the answer is that of trying every node."""
    assert_same_schedule_policies(problem)


@SETTINGS
@given(problem=schedule_problems(max_tasks=16, nice_floats=False))
def test_earliest_finish_policies_as_oracle_arbitrary_floats(problem):
    assert_same_schedule_policies(problem)


@pytest.mark.parametrize("dense_runtime", [False, True])
def test_earliest_finish_policies_on_ai_cluster(dense_runtime):
    assert_same_schedule_policies(generate.ai_cluster(12, 120, seed=2,
                                                      dense_runtime=dense_runtime))

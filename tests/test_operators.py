"""The GA's batched operators (gabalance/operators/variation.py) and the schedule search's
reversed problem and forward-backward improvement (gabalance/operators/search.py).

Every property is judged against an independent statement of what the operator promises:
plain-Python re-derivations (ranks, Hartmann's two-point crossover, feasibility-first
survivor selection), the eligibility oracle of tests/naive.py, or :func:`gabalance.validate`.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabalance as gb
from gabalance.backend import OBJECTIVE_CODES, get_backend
from gabalance.operators import (
    AllowedSampler,
    crossover_keys,
    crossover_uniform,
    mutate_keys,
    mutate_reassign,
    mutate_swap,
    row_hash,
    select_survivors,
    standardize_keys,
    tournament,
)
from gabalance.operators.search import Search, reverse_packed

import naive
from strategies import keys, placement_cases, population, schedule_problems

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
BACKENDS = ["numba", "numpy"]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


@st.composite
def key_matrices(draw: st.DrawFn, max_rows: int = 6, max_n: int = 9) -> np.ndarray:
    """(C, N) keys, tie-heavy or continuous (rows of :func:`strategies.keys`)."""
    C = draw(st.integers(1, max_rows))
    N = draw(st.integers(1, max_n))
    return draw(keys(C, N))


@st.composite
def rank_matrices(draw: st.DrawFn, max_rows: int = 6, max_n: int = 9) -> tuple[np.ndarray,
                                                                                   np.ndarray]:
    """Two (C, N) float matrices whose rows are permutations of 0..N-1 (standardized keys)."""
    C = draw(st.integers(1, max_rows))
    N = draw(st.integers(1, max_n))
    perm = st.permutations(range(N))
    a = np.array([draw(perm) for _ in range(C)], np.float64).reshape(C, N)
    b = np.array([draw(perm) for _ in range(C)], np.float64).reshape(C, N)
    return a, b


def _naive_ranks(row: list[float]) -> list[int]:
    """Rank of each task: tasks with a smaller key, plus tasks of lower index with an equal key."""
    return [sum(1 for j, k in enumerate(row) if k < row[i] or (k == row[i] and j < i))
            for i in range(len(row))]


def _list_of(ranks: np.ndarray) -> list[int]:
    """The activity list (tasks in list order) of one row of ranks."""
    out = [0] * len(ranks)
    for task, r in enumerate(ranks.tolist()):
        out[int(r)] = task
    return out


def _two_point(la: list[int], lb: list[int], q1: int, q2: int) -> list[int]:
    """Hartmann (1998): positions [0, q1) from a, the next q2 - q1 tasks of b's order not yet
    taken, then the rest in a's order."""
    child = la[:q1]
    taken = set(child)
    for t in lb:
        if len(child) == q2:
            break
        if t not in taken:
            child.append(t)
            taken.add(t)
    child += [t for t in la if t not in taken]
    return child


# --------------------------------------------------------------------------- tournament


@given(P=st.integers(1, 12), n=st.integers(0, 40), size=st.integers(1, 5), seed=st.integers(0, 99))
@SETTINGS
def test_tournament_indices_are_in_range(P, n, size, seed):
    rank = _rng(seed).permutation(P)
    win = tournament(np, _rng(seed + 1), rank, n, size)
    assert win.shape == (n,)
    assert win.dtype.kind == "i"
    assert ((win >= 0) & (win < P)).all()


@pytest.mark.parametrize("P", [1, 2, 7])
def test_tournament_much_larger_than_the_population_always_picks_the_best(P):
    """Draws are with replacement (``size`` uniform draws), so ``size = P`` may miss the best;
    with ``size = 60 P`` the chance that one tournament misses it is below e**-60."""
    rank = _rng(P).permutation(P)
    win = tournament(np, _rng(1), rank, 200, 60 * P)
    assert (rank[win] == 0).all()


def test_tournament_favours_good_ranks():
    """Winner of a binary tournament over P = 4: P(rank >= r) = ((P - r) / P)**2, so the worst
    wins 1/16 of the time (uniform picking: 1/4), the best 7/16."""
    P, n = 4, 8000
    rank = np.array([2, 0, 3, 1])
    win = tournament(np, _rng(3), rank, n, 2)
    counts = np.bincount(rank[win], minlength=P) / n
    np.testing.assert_allclose(counts, [7 / 16, 5 / 16, 3 / 16, 1 / 16], atol=0.025)
    # size 1 is uniform selection
    counts1 = np.bincount(tournament(np, _rng(4), rank, n, 1), minlength=P) / n
    np.testing.assert_allclose(counts1, 0.25, atol=0.025)


# --------------------------------------------------------------------------- crossover


@given(C=st.integers(1, 6), N=st.integers(1, 10), rate=st.sampled_from([0.0, 0.3, 1.0]),
       seed=st.integers(0, 99))
@SETTINGS
def test_crossover_uniform_takes_each_gene_from_a_parent(C, N, rate, seed):
    rng = _rng(seed)
    a = rng.integers(0, 5, (C, N)).astype(np.int32)
    b = rng.integers(5, 10, (C, N)).astype(np.int32)  # disjoint from a: origin is visible
    child = crossover_uniform(np, _rng(seed + 1), a, b, rate)
    assert child.shape == (C, N)
    assert ((child == a) | (child == b)).all()
    if rate == 0.0:
        np.testing.assert_array_equal(child, a)


def test_crossover_uniform_mixes_about_half_at_rate_one():
    a = np.zeros((200, 50), np.int32)
    b = np.ones((200, 50), np.int32)
    child = crossover_uniform(np, _rng(0), a, b, 1.0)
    assert 0.45 < child.mean() < 0.55
    # at rate 0.5 about half of the rows are copies of a
    child = crossover_uniform(np, _rng(1), a, b, 0.5)
    copies = (child == 0).all(axis=1).mean()
    assert 0.4 < copies < 0.6


# --------------------------------------------------------------------------- keys


@given(k=key_matrices())
@SETTINGS
def test_standardize_keys_gives_ranks_ties_by_index(k):
    r = standardize_keys(np, k)
    assert r.dtype == np.float64 and r.shape == k.shape
    for row_k, row_r in zip(k, r):
        assert sorted(row_r.tolist()) == list(range(len(row_k)))
        assert row_r.tolist() == _naive_ranks(row_k.tolist())
    np.testing.assert_array_equal(standardize_keys(np, r), r)  # idempotent


@given(case=st.data())
@SETTINGS
def test_standardized_keys_decode_to_the_same_schedule(case):
    problem = case.draw(schedule_problems(max_tasks=8, max_nodes=4))
    pop = case.draw(population(problem, max_p=3))
    k = case.draw(keys(pop.shape[0], problem.n_tasks))
    a = gb.evaluate(problem, pop, k, "weighted_completion", schedule=True, backend="numba")
    b = gb.evaluate(problem, pop, standardize_keys(np, k), "weighted_completion",
                    schedule=True, backend="numba")
    np.testing.assert_array_equal(a.objective, b.objective)
    np.testing.assert_array_equal(a.start, b.start)


@given(ab=rank_matrices(), rate=st.sampled_from([0.0, 0.5, 1.0]), seed=st.integers(0, 99))
@SETTINGS
def test_crossover_keys_is_hartmanns_two_point_crossover(ab, rate, seed):
    """Each child row is a permutation of 0..N-1; it equals parent a's row or the two-point
    crossover of the two activity lists for some cut points q1 <= q2 (checked over all)."""
    a, b = ab
    C, N = a.shape
    child = crossover_keys(np, _rng(seed), a, b, rate)
    assert child.shape == (C, N) and child.dtype == np.float64
    for i in range(C):
        assert sorted(child[i].tolist()) == list(range(N))
        if rate == 0.0:
            np.testing.assert_array_equal(child[i], a[i])
            continue
        la, lb, lc = _list_of(a[i]), _list_of(b[i]), _list_of(child[i])
        options = [_two_point(la, lb, q1, q2) for q1 in range(N + 1) for q2 in range(q1, N + 1)]
        assert lc in options, (la, lb, lc)


def test_crossover_keys_uses_both_parents():
    """With reversed parents and rate 1 children differ from both parents most of the time."""
    N, C = 10, 300
    a = np.tile(np.arange(N, dtype=np.float64), (C, 1))
    b = a[:, ::-1].copy()
    child = crossover_keys(np, _rng(5), a, b, 1.0)
    neither = ~(child == a).all(axis=1) & ~(child == b).all(axis=1)
    assert neither.mean() > 0.5
    # the child's list starts with a's first q1 tasks: task 0 is first unless q1 = 0
    first = np.argmin(child, axis=1)
    assert (first == 0).mean() > 0.8


@given(k=key_matrices(), seed=st.integers(0, 99))
@SETTINGS
def test_mutate_keys(k, seed):
    np.testing.assert_array_equal(mutate_keys(np, _rng(seed), k, 0.0), k)
    moved = mutate_keys(np, _rng(seed), k, 1.0)
    assert moved.shape == k.shape
    assert (np.abs(moved - k) <= 2.5).all()


# --------------------------------------------------------------------------- eligibility


def _allowed_table(problem: gb.Problem) -> np.ndarray:
    return np.array(naive.allowed_matrix(problem), bool).reshape(problem.n_tasks,
                                                                   problem.n_nodes)


@given(case=placement_cases(max_p=8), seed=st.integers(0, 99))
@SETTINGS
def test_allowed_sampler_allowed_matches_the_table(case, seed):
    problem, pop = case
    sampler = AllowedSampler(np, problem)
    table = _allowed_table(problem)
    rows = np.arange(problem.n_tasks)
    np.testing.assert_array_equal(sampler.allowed(pop), table[rows, pop])
    np.testing.assert_array_equal(sampler.allowed(pop), problem.allowed[rows, pop])
    drawn = sampler.draw(_rng(seed), (5, problem.n_tasks))
    assert drawn.shape == (5, problem.n_tasks)
    assert table[rows, drawn].all()
    assert sampler.allowed(drawn).all()


@given(case=placement_cases(max_nodes=4, max_tasks=5))
@SETTINGS
def test_allowed_sampler_reaches_every_allowed_node(case):
    problem, _ = case
    table = _allowed_table(problem)
    drawn = AllowedSampler(np, problem).draw(_rng(0), (400, problem.n_tasks))
    seen = np.zeros_like(table)
    for row in drawn:
        seen[np.arange(problem.n_tasks), row] = True
    np.testing.assert_array_equal(seen, table)  # nothing else, and everything (p miss < 1e-20)


def test_allowed_sampler_is_uniform():
    # task 0 may use nodes 0, 2, 3 (node 1 is too small); task 1 every node
    p = gb.Problem([[4], [1], [4], [4]], [[2], [1]])
    drawn = AllowedSampler(np, p).draw(_rng(0), (6000, 2))
    c0 = np.bincount(drawn[:, 0], minlength=4) / 6000
    np.testing.assert_allclose(c0, [1 / 3, 0, 1 / 3, 1 / 3], atol=0.03)
    c1 = np.bincount(drawn[:, 1], minlength=4) / 6000
    np.testing.assert_allclose(c1, 0.25, atol=0.03)


@given(case=placement_cases(max_p=6), seed=st.integers(0, 99))
@SETTINGS
def test_mutate_reassign(case, seed):
    problem, pop = case
    sampler = AllowedSampler(np, problem)
    np.testing.assert_array_equal(mutate_reassign(np, _rng(seed), pop, 0.0, sampler), pop)
    every = mutate_reassign(np, _rng(seed), pop, 1.0, sampler)
    assert sampler.allowed(every).all()
    some = mutate_reassign(np, _rng(seed), pop, 0.4, sampler)
    assert ((some == pop) | sampler.allowed(some)).all()


@given(C=st.integers(1, 8), N=st.integers(1, 10), rate=st.sampled_from([0.0, 0.5, 1.0]),
       seed=st.integers(0, 99))
@SETTINGS
def test_mutate_swap_keeps_the_nodes_of_each_row(C, N, rate, seed):
    pop = _rng(seed).integers(0, 6, (C, N)).astype(np.int32)
    before = pop.copy()
    out = mutate_swap(np, _rng(seed + 1), pop, rate)
    np.testing.assert_array_equal(pop, before)  # input untouched
    assert out.shape == pop.shape
    for r, o in zip(pop, out):
        assert Counter(r.tolist()) == Counter(o.tolist())
        assert (r != o).sum() in (0, 2)  # one exchange at most
    if rate == 0.0:
        np.testing.assert_array_equal(out, pop)


def test_mutate_swap_does_swap():
    pop = np.tile(np.arange(8, dtype=np.int32), (100, 1))
    out = mutate_swap(np, _rng(0), pop, 1.0)
    changed = (out != pop).any(axis=1).mean()
    assert changed > 0.75  # only a draw of the same task twice leaves a row as it was


# --------------------------------------------------------------------------- replacement


def test_row_hash_identifies_genomes_and_key_orders():
    w = (_rng(0).integers(1, 2**62, 8) | 1).astype(np.int64)
    pop = np.array([[0, 1, 2, 3], [0, 1, 2, 3], [3, 2, 1, 0], [0, 1, 3, 2]], np.int32)
    h = row_hash(np, pop, None, w)
    assert h[0] == h[1] and len(set(h.tolist())) == 3
    k = np.array([[0.1, 0.2, 0.3, 0.4], [1.0, 2.0, 3.0, 4.0],  # same order: same genome
                  [0.0, 0.0, 0.0, 0.0], [0.4, 0.3, 0.2, 0.1]])
    hk = row_hash(np, pop[[0, 0, 0, 0]], k, w)
    assert hk[0] == hk[1]  # same order
    assert hk[0] == hk[2]  # all ties: index order, again 0 1 2 3
    assert hk[0] != hk[3]


@st.composite
def survivor_cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, str]:
    P = draw(st.integers(1, 14))
    obj = np.array(draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 2.5, -1.0]),
                                 min_size=P, max_size=P)))
    viol = np.array(draw(st.lists(st.sampled_from([0.0, 0.0, 0.5, 1.0]),
                                  min_size=P, max_size=P)))
    hashes = np.array(draw(st.lists(st.integers(0, 5), min_size=P, max_size=P)), np.int64)
    return obj, viol, hashes, draw(st.integers(1, P)), draw(st.sampled_from(["min", "max"]))


@given(case=survivor_cases())
@SETTINGS
def test_select_survivors_distinct_first_then_feasibility_first(case):
    obj, viol, hashes, n, sense = case
    keep = select_survivors(np, obj, viol, hashes, n, sense)
    assert keep.shape == (n,)
    assert len(set(keep.tolist())) == n  # an individual is kept once

    def key(i: int) -> tuple[float, float, int]:
        signed = -obj[i] if sense == "max" else obj[i]
        return (viol[i], 0.0 if viol[i] > 0 else signed, i)

    first = {}
    for i, h in enumerate(hashes.tolist()):
        first.setdefault(h, i)
    distinct = sorted(first.values(), key=key)
    dupes = sorted((i for i in range(len(obj)) if i not in set(first.values())), key=key)
    assert keep.tolist() == (distinct + dupes)[:n]


def test_select_survivors_by_hand():
    obj = np.array([5.0, 1.0, 3.0, 0.5, 1.0, 2.0])
    viol = np.array([0.0, 0.0, 0.0, 2.0, 0.0, 0.0])
    hashes = np.array([10, 11, 12, 13, 11, 14])  # 4 repeats 1
    # feasible distinct by objective: 1 (1.0), 5 (2.0), 2 (3.0), 0 (5.0); then 3 (infeasible)
    np.testing.assert_array_equal(select_survivors(np, obj, viol, hashes, 6, "min"),
                                  [1, 5, 2, 0, 3, 4])
    np.testing.assert_array_equal(select_survivors(np, obj, viol, hashes, 3, "max"),
                                  [0, 2, 5])


# --------------------------------------------------------------------------- schedule search


@st.composite
def allowed_schedule_cases(draw: st.DrawFn, max_p: int = 3, dyadic: bool = False
                           ) -> tuple[gb.Problem, np.ndarray, np.ndarray]:
    """A schedule problem, a population using allowed nodes only, and keys.

    ``dyadic``: speeds 1.5 and 3 become 1 and 4, so every runtime, transfer and time sum is
    exact in binary floating point (then mirrored times are exact too)."""
    problem = draw(schedule_problems(max_tasks=9, max_nodes=4))
    if dyadic and problem.runtime is None:
        speed = problem.speed.copy()
        speed[speed == 1.5] = 1.0
        speed[speed == 3.0] = 4.0
        problem = problem.replace(speed=speed)
    table = _allowed_table(problem)
    P = draw(st.integers(1, max_p))
    rows = [[draw(st.sampled_from(np.flatnonzero(table[i]).tolist()))
             for i in range(problem.n_tasks)] for _ in range(P)]
    pop = np.array(rows, np.int32).reshape(P, problem.n_tasks)
    return problem, pop, draw(keys(P, problem.n_tasks))


@pytest.mark.parametrize("backend", BACKENDS)
@given(case=allowed_schedule_cases(dyadic=True))
@SETTINGS
def test_reversed_problem_read_backwards_is_a_valid_schedule(backend, case):
    """Decoding the reversed problem and mirroring time (start = T - finish') gives a schedule
    of the original problem (releases set to 0, as the reversed problem has none) that keeps
    every dependency with its transfer time and every capacity.

    Times are exact (dyadic data): with runtimes like 1/6, ``T - F'`` and ``T - S'`` round
    differently and mirrored neighbours would overlap by 1e-17 (a test artefact)."""
    problem, pop, k = case
    rev = reverse_packed(problem)
    assert reverse_packed(problem) is rev  # cached
    P, N = pop.shape
    rows = np.arange(P, dtype=np.int64)
    _, viol, _, fin = get_backend(backend).schedule(rev, pop, k, OBJECTIVE_CODES["makespan"],
                                                   rows)
    np.testing.assert_array_equal(viol, 0)
    no_release = problem.replace(release=np.zeros(N))
    for r in range(P):
        T = fin[r].max()
        start = T - fin[r]
        assert (start >= 0).all()
        check = gb.validate(no_release, pop[r], start)
        assert check.ok, str(check)
        assert naive.validate_schedule(no_release, pop[r], start, tol=1e-9) == []


def test_reversed_problem_by_hand():
    """A chain a -> b -> c, data 2 on a -> b, bandwidth 2 from n0 to n1 but 1 from n1 to n0:
    reversed, c starts first and a waits for b plus the transfer along the transposed link."""
    p = gb.Problem([[1], [1]], [[1], [1], [1]], duration=[1.0, 2.0, 3.0],
                   edges=[(0, 1), (1, 2)], data=[2.0, 0.0], bandwidth=[[1.0, 2.0], [1.0, 1.0]],
                   release=[0.0, 0.0, 5.0])
    x = np.array([[0, 1, 1]], np.int32)
    _, _, start, finish = get_backend("numpy").schedule(
        reverse_packed(p), x, np.zeros((1, 3)), OBJECTIVE_CODES["makespan"], np.zeros(1, np.int64))
    # reversed: c [0, 3) (its release 5 is dropped), b [3, 5), a after b plus the transfer
    # 2 / bw[n0 -> n1] = 1 (the original link, transposed): [6, 7)
    np.testing.assert_array_equal(start[0], [6.0, 3.0, 0.0])
    np.testing.assert_array_equal(finish[0], [7.0, 5.0, 3.0])


@pytest.mark.parametrize("objective", ["makespan", "weighted_completion"])
@given(case=allowed_schedule_cases(), seed=st.integers(0, 99))
@SETTINGS
def test_forward_backward_improvement_never_worsens_and_reports_its_keys(objective, case, seed):
    problem, pop, k = case
    search = Search(problem, objective, "min", "numba")
    plain = gb.evaluate(problem, pop, k, objective, backend="numba")
    x0, k0, o0, v0 = search.schedule(_rng(seed), pop.copy(), k.copy(), False)
    x1, k1, o1, v1 = search.schedule(_rng(seed), pop.copy(), k.copy(), True)
    np.testing.assert_array_equal(x0, pop)  # all genes allowed: no repair
    np.testing.assert_array_equal(x1, pop)
    np.testing.assert_array_equal(o0, plain.objective)  # standardizing keeps the decode
    assert (o1 <= o0).all()
    for kk, oo, vv in ((k0, o0, v0), (k1, o1, v1)):
        for row in kk:
            assert sorted(row.tolist()) == list(range(problem.n_tasks))
        ev = gb.evaluate(problem, pop, kk, objective, backend="numpy")
        np.testing.assert_array_equal(ev.objective, oo)
        np.testing.assert_array_equal(ev.violation, vv)
        np.testing.assert_array_equal(vv, 0)


@given(problem=schedule_problems(max_tasks=8, max_nodes=4), seed=st.integers(0, 99))
@SETTINGS
def test_schedule_search_repairs_the_assignment(problem, seed):
    pop = np.zeros((4, problem.n_tasks), np.int32)  # node 0 for all: often not allowed
    k = _rng(seed).random((4, problem.n_tasks))
    x, kk, obj, viol = Search(problem, "makespan", "min", "numba").schedule(
        _rng(seed), pop, k, True)
    table = _allowed_table(problem)
    assert table[np.arange(problem.n_tasks), x].all()
    keep = table[np.arange(problem.n_tasks), 0]
    assert (x[:, keep] == 0).all()  # allowed genes stay
    np.testing.assert_array_equal(viol, 0)
    ev = gb.evaluate(problem, x, kk, "makespan", backend="numpy")
    np.testing.assert_array_equal(ev.objective, obj)

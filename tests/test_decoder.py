"""Schedule decoder properties: a classic DAG-scheduling example by hand, j30 lower bounds."""

from __future__ import annotations

import numpy as np
import pytest

import gabalance as gb
from gabalance.io import data_dir, psplib_optima, read_psplib

BACKENDS = ["numpy", "numba"]

# Topcuoglu, Hariri & Wu (2002), "Performance-effective and low-complexity task scheduling
# for heterogeneous computing", IEEE TPDS 13(3), Fig. 2: 10 tasks on 3 processors.
W = [[14, 16, 9], [13, 19, 18], [11, 13, 19], [13, 8, 17], [12, 13, 10],
     [13, 16, 9], [7, 15, 11], [5, 11, 14], [18, 12, 20], [21, 7, 16]]
EDGES = [(1, 2, 18), (1, 3, 12), (1, 4, 9), (1, 5, 11), (1, 6, 14), (2, 8, 19), (2, 9, 16),
         (3, 7, 23), (4, 8, 27), (4, 9, 23), (5, 9, 13), (6, 8, 15), (7, 10, 17), (8, 10, 11),
         (9, 10, 13)]


def heft_example() -> gb.Problem:
    return gb.Problem(
        np.ones((3, 1), int), np.ones((10, 1), int), resources=["slots"], runtime=W,
        edges=[(a - 1, b - 1) for a, b, _ in EDGES], data=[c for *_, c in EDGES],
        bandwidth=1.0, task_names=[f"n{i}" for i in range(1, 11)],
        node_names=["P1", "P2", "P3"], objective="makespan")


@pytest.mark.parametrize("backend", BACKENDS)
def test_heft_paper_schedule(backend):
    """HEFT's processor choice and rank order, decoded, give the paper's schedule (makespan 80).

    Worked by hand (EFT with insertion, transfer = edge cost across processors):
    n1 P3 [0,9), n3 P3 [9,28), n4 P2 [18,26), n2 P1 [27,40), n5 P3 [28,38), n6 P2 [26,42),
    n9 P2 [56,68), n7 P3 [38,49), n8 P1 [57,62), n10 P2 [73,80).
    """
    p = heft_example()
    x = [2, 0, 2, 1, 2, 1, 2, 0, 1, 1]
    rank_order = [1, 3, 4, 2, 5, 6, 9, 7, 8, 10]  # decreasing upward rank
    keys = np.zeros(10)
    keys[[t - 1 for t in rank_order]] = np.arange(10) / 10
    ev = gb.evaluate(p, x, keys, backend=backend, schedule=True)
    np.testing.assert_array_equal(ev.start[0], [0, 27, 9, 18, 28, 26, 38, 57, 56, 73])
    np.testing.assert_array_equal(ev.finish[0], [9, 40, 28, 26, 38, 42, 49, 62, 68, 80])
    assert ev.objective[0] == 80 and ev.violation[0] == 0
    assert gb.validate(p, x, ev.start[0]).ok


@pytest.mark.parametrize("backend", BACKENDS)
def test_insertion_into_an_earlier_gap(backend):
    """A task fills a hole left on its node when it fits there (the decoder is insertion-based)."""
    p = gb.Problem([[1]], [[1], [1], [1]], resources=["slots"], duration=[2, 5, 1],
                   release=[0, 6, 0], objective="makespan")
    ev = gb.evaluate(p, [0, 0, 0], [0.0, 0.1, 0.2], backend=backend, schedule=True)
    np.testing.assert_array_equal(ev.start[0], [0, 6, 2])


def critical_path(problem: gb.Problem) -> float:
    finish = np.zeros(problem.n_tasks)
    preds = problem.predecessors
    for i in range(problem.n_tasks):  # PSPLIB numbers successors above their predecessors
        finish[i] = max((finish[q] for q in preds[i]), default=0.0) + problem.duration[i]
    return float(finish.max())


@pytest.mark.data
def test_j30_decoded_makespans_respect_the_critical_path():
    root = data_dir()
    if root is None:
        pytest.skip("benchmark data folder not found")
    folder = root / "psplib_j30" / "j30"
    optima = psplib_optima(root / "psplib_j30" / "optimum" / "optimum.csv")
    files = sorted(folder.glob("*.sm"))
    assert len(files) == 336
    rng = np.random.default_rng(0)
    for path in files:
        p = read_psplib(path)
        cp = critical_path(p)
        assert cp == p.info["mpm_time"]
        assert optima[p.name] >= cp
        keys = rng.random((16, p.n_tasks))
        ev = gb.evaluate(p, np.zeros((16, p.n_tasks), int), keys, backend="numba")
        assert np.all(ev.violation == 0)
        assert np.all(ev.objective >= cp), path.name
        # no decoded schedule beats the proven optimum either
        assert np.all(ev.objective >= optima[p.name]), path.name
        if path.name.endswith("_1.sm"):  # one per parameter set on the slow reference
            ref = gb.evaluate(p, np.zeros((2, p.n_tasks), int), keys[:2], backend="numpy")
            np.testing.assert_array_equal(ref.objective, ev.objective[:2])

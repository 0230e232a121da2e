"""The DAG section of the benchmark suite: gabalance reads anrg-saga's HEFT and CPoP schedules
with the same makespan, its own HEFT and CPOP with saga's conventions give saga's makespan,
the conversion's checks, and a tiny end-to-end run."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("saga")

import gabalance as gb
from bench.suite import dag
from gabalance.generate import random_dag

SMALL = [(0.1, 3, 0), (1.0, 4, 1), (10.0, 3, 2)]  # (ccr, processors, seed), v = 20


@pytest.mark.parametrize("ccr, procs, seed", SMALL)
@pytest.mark.parametrize("method", dag.SAGA_METHODS)
def test_same_schedule_same_makespan(ccr, procs, seed, method):
    p = random_dag(20, ccr=ccr, n_procs=procs, seed=seed, speeds=True)
    s = dag.saga_schedule(p, method)
    assert s["x"].shape == s["start"].shape == s["finish"].shape == (20,)
    assert s["x"].min() >= 0 and s["x"].max() < procs
    # saga's makespan is the last finish of a real task (the super sink adds nothing)
    assert s["makespan"] == pytest.approx(s["finish"].max(), rel=1e-12)
    ms = dag.gabalance_makespan_of(p, s)
    assert ms == pytest.approx(s["makespan"], rel=1e-9)
    check = dag.like_with_like(p, s)
    assert check["equal"] and check["valid"], check
    assert check["max_start_diff"] <= 1e-9 * s["makespan"]


def test_symmetric_bandwidth_matrix_and_single_source():
    # a diamond (one source, one sink: no super tasks) on 3 processors with (M, M) bandwidth
    bw = np.array([[math.inf, 2.0, 0.5], [2.0, math.inf, 1.0], [0.5, 1.0, math.inf]])
    p = gb.Problem(np.ones((3, 1), np.int64), np.ones((4, 1), np.int64), speed=[1.0, 2.0, 0.5],
                   duration=[3.0, 4.0, 5.0, 2.0], edges=[(0, 1), (0, 2), (1, 3), (2, 3)],
                   data=[4.0, 1.0, 2.0, 6.0], bandwidth=bw)
    network, graph = dag.to_saga(p)
    assert {n.name for n in network.nodes} == {"n0", "n1", "n2"}
    assert {t.name for t in graph.tasks} == {"t0", "t1", "t2", "t3"}
    assert network.get_edge("n2", "n0").speed == 0.5
    for method in dag.SAGA_METHODS:
        s = dag.saga_schedule(p, method)
        assert dag.gabalance_makespan_of(p, s) == pytest.approx(s["makespan"], rel=1e-9)


def test_to_saga_rejects_what_saga_cannot_represent():
    unrelated = random_dag(10, n_procs=3, seed=0)
    with pytest.raises(ValueError, match="runtime matrix"):
        dag.to_saga(unrelated)
    related = random_dag(10, n_procs=3, seed=0, speeds=True)
    with pytest.raises(ValueError, match="release times"):
        dag.to_saga(related.replace(release=np.arange(10.0)))
    with pytest.raises(ValueError, match="one task at a time"):
        dag.to_saga(related.replace(capacity=np.full((3, 1), 2, np.int64)))
    bw = np.array([[1.0, 2.0, 1.0], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    with pytest.raises(ValueError, match="not symmetric"):
        dag.to_saga(related.replace(bandwidth=bw))


def test_keys_follow_start_times():
    p = random_dag(20, ccr=1.0, n_procs=3, seed=4, speeds=True)
    s = dag.saga_schedule(p, "heft")
    keys = dag.saga_keys(p, s)
    assert np.all((keys >= 0) & (keys < 1)) and len(np.unique(keys)) == 20
    assert np.all(np.diff(s["start"][np.argsort(keys)]) >= 0)


def test_instances_cycle_processors():
    quick = dag.instances("quick")
    assert len(quick) == 6 and {(r["v"], r["ccr"]) for r in quick} == {
        (v, c) for v in (50, 100) for c in (0.1, 1.0, 10.0)}
    assert [r["procs"] for r in quick] == [4, 8, 16, 32, 4, 8]
    full = dag.instances("full")
    assert len(full) == 18 and len({r["id"] for r in full}) == 18
    with pytest.raises(ValueError, match="unknown suite"):
        dag.instances("huge")


def test_run_tiny_instance():
    spec = [{"id": "tiny", "v": 20, "ccr": 1.0, "procs": 3, "seed": 7}]
    (row,) = dag.run(spec, 0.3, seed=0)
    for key in ("ga", "heft", "cpop", "peft", "saga_heft", "saga_cpop"):
        assert math.isfinite(row[key]) and row[key] > 0
    assert row["ga_valid"] and row["heft_valid"] and row["cpop_valid"] and row["peft_valid"]
    # the GA's first population holds gabalance's heft plan, and the best never worsens
    assert "heft" in row["ga_seeded"]
    assert row["ga"] <= row["heft"] * (1 + 1e-12)
    # in 0.3 s there may be no generation after the first population (kernels loading)
    assert row["ga_nit"] >= 0 and row["ga_nfev"] > 0 and row["ga_history"]
    for m in dag.SAGA_METHODS:
        assert row[f"saga_{m}_check"]["equal"]
        ours = row[f"saga_{m}_ours"]
        assert ours["equal"] and ours["valid"], ours
    text = dag.table([row])
    assert "| 1 | 1 |" in text and "| HEFT | 1 | 1 |" in text and "| CPoP | 1 | 1 |" in text
    assert "| 1/1 | 1/1 |" in text  # gabalance's heft/cpop with saga's convention
    assert "gabalance cpop | gabalance peft" in text
    # the per-instance lines: the proven bound below every makespan, the GA never above
    # the best of gabalance's list schedulers (they seed its first population)
    assert 0 < row["bound"] <= min(row["ga"], row["heft"], row["cpop"], row["peft"],
                                   row["saga_heft"], row["saga_cpop"])
    assert row["ga"] <= min(row["heft"], row["cpop"], row["peft"]) * (1 + 1e-9)
    assert f"| tiny | {row['ga']:.1f} |" in text
    assert "The GA ends above the best of gabalance's heft, cpop and peft on 0 of 1" in text
    assert "| all | 1 |" in text
    # rows saved before cpop, peft and the convention check still make a table
    old = {k: v for k, v in row.items() if not k.startswith(("cpop", "peft", "bound"))
           and not k.endswith("_ours")}
    assert "n/a" in dag.table([old])
    assert f"{dag.instance_bound(spec[0]):.1f}" in dag.table([old])  # worked out again


@pytest.mark.parametrize("ccr, procs, seed", SMALL)
@pytest.mark.parametrize("method", dag.SAGA_METHODS)
def test_own_scheduler_with_saga_convention_matches_saga(ccr, procs, seed, method):
    """gabalance's heft/cpop with convention="saga": saga's makespan on the same instance."""
    p = random_dag(20, ccr=ccr, n_procs=procs, seed=seed, speeds=True)
    s = dag.saga_schedule(p, method)
    check = dag.convention_check(p, method, s)
    assert check["equal"] and check["valid"], check
    assert check["makespan"] == pytest.approx(s["makespan"], rel=1e-9)

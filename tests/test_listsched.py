"""The list schedulers HEFT, CPOP and PEFT: the published worked examples, the decoder
rebuilding each one's own schedule, validity on generated problems (cumulative nodes,
eligibility, release times, bandwidth matrices), and, where anrg-saga is installed, the same
makespan as saga's HEFT and CPoP under saga's conventions."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from test_decoder import heft_example

import gabalance as gb
from gabalance import baselines as B
from gabalance.generate import ai_cluster, random_dag

from strategies import schedule_problems

SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

#: name -> function building (order, assignment, finish) the way the baseline does
BUILDERS = {
    "heft": lambda p: B._heft(p, "paper"),
    "heft_saga": lambda p: B._heft(p, "saga"),
    "cpop": lambda p: B._cpop(p, "paper"),
    "cpop_saga": lambda p: B._cpop(p, "saga"),
    "peft": B._peft,
    "wspt": B._wspt,
}
PLANS = {
    "heft": B.heft,
    "heft_saga": lambda p: B.heft(p, convention="saga"),
    "cpop": B.cpop,
    "cpop_saga": lambda p: B.cpop(p, convention="saga"),
    "peft": B.peft,
    "wspt": B.wspt,
}


def _decode(problem, plan):
    ev = gb.evaluate(problem, plan.assignment, plan.keys, "makespan", schedule=True)
    return ev.objective[0], ev.start[0], ev.finish[0]


# --------------------------------------------------------------------------- Topcuoglu 2002


def test_cpop_reproduces_the_paper():
    """Topcuoglu, Hariri & Wu (2002), Fig. 2 graph: the critical path n1 n2 n9 n10 of
    priority 108 goes to P2 (runtimes 16 + 19 + 12 + 7 = 54, against 66 on P1 and 63 on P3),
    and CPOP's schedule has makespan 86 (HEFT's: 80)."""
    p = heft_example()
    g = B._Graph(p)
    priority = B.upward_rank(p) + B.downward_rank(p)
    assert B.downward_rank(p)[0] == 0
    np.testing.assert_allclose(priority[[0, 1, 8, 9]], 108)
    assert np.all(priority <= 108 + 1e-12)
    cp = B._critical_path(g, priority)
    assert cp == [0, 1, 8, 9] and B._critical_node(g, cp) == 1
    plan = B.cpop(p)
    assert np.all(plan.assignment[cp] == 1)
    makespan, start, _ = _decode(p, plan)
    assert makespan == 86
    assert gb.validate(p, plan.assignment, start).ok
    assert _decode(p, B.heft(p))[0] == 80


def test_saga_convention_ranks_by_hand():
    """On the paper's 3 processors with bandwidth 1, saga's mean transfer (3 links between
    processors, 3 self-links of transfer 0) is half the paper's: c̄ = data / 2."""
    p = heft_example()
    g = B._Graph(p)
    np.testing.assert_allclose(g.mean_transfer("saga"), p.data / 2)
    np.testing.assert_allclose(g.mean_transfer("paper"), p.data)
    # n10 is the exit: its rank is its mean runtime (21 + 7 + 16) / 3
    assert B.upward_rank(p, "saga")[9] == pytest.approx(44 / 3)
    assert B.upward_rank(p, "saga")[6] == pytest.approx(11 + 17 / 2 + 44 / 3)
    # saga's downward rank: the task's own runtime on a node of mean speed (here the
    # harmonic mean of its runtimes), one entry task so its rank is 0
    d = B.downward_rank(p, "saga")
    own = 1 / np.mean(1 / np.array(p.runtime[1], float))
    assert d[0] == 0 and d[1] == pytest.approx(18 / 2 + own)


# --------------------------------------------------------------------------- PEFT 2014

# Arabnejad & Barbosa (2014), the paper's 10-task sample graph on 3 processors: runtimes
# and edge costs as transcribed in the test data of mackncheesiest/peft, whose tests give
# the optimistic cost table below and the schedule of makespan 122 built here.
PEFT_W = [[22, 21, 36], [22, 18, 18], [32, 27, 43], [7, 10, 4], [29, 27, 35], [26, 17, 24],
          [14, 25, 30], [29, 23, 36], [15, 21, 8], [13, 16, 33]]
PEFT_EDGES = [(0, 1, 17), (0, 2, 31), (0, 3, 29), (0, 4, 13), (0, 5, 7), (1, 7, 3), (1, 8, 30),
              (2, 6, 16), (3, 7, 11), (3, 8, 7), (4, 8, 57), (5, 7, 5), (6, 9, 9), (7, 9, 42),
              (8, 9, 7)]
PEFT_OCT = [[64, 68, 86], [42, 39, 42], [27, 41, 43], [42, 39, 50], [28, 37, 28],
            [42, 39, 44], [13, 16, 22], [13, 16, 33], [13, 16, 20], [0, 0, 0]]


def peft_example() -> gb.Problem:
    return gb.Problem(np.ones((3, 1), int), np.ones((10, 1), int), resources=["slots"],
                      runtime=np.array(PEFT_W, float), edges=[(a, b) for a, b, _ in PEFT_EDGES],
                      data=[c for *_, c in PEFT_EDGES], bandwidth=1.0, objective="makespan")


def test_peft_reproduces_the_paper():
    p = peft_example()
    np.testing.assert_array_equal(B.optimistic_cost_table(p), PEFT_OCT)
    plan = B.peft(p)
    np.testing.assert_array_equal(plan.assignment, [0, 0, 0, 0, 2, 1, 0, 1, 2, 1])
    makespan, start, finish = _decode(p, plan)
    np.testing.assert_array_equal(start, [0, 29, 51, 22, 35, 29, 83, 54, 81, 106])
    np.testing.assert_array_equal(finish, [22, 51, 83, 29, 70, 46, 97, 77, 89, 122])
    assert makespan == 122 and gb.validate(p, plan.assignment, start).ok
    # rank_oct of the entry task: (64 + 68 + 86) / 3
    assert np.mean(PEFT_OCT[0]) == pytest.approx(72.667, abs=1e-3)


def test_peft_chooses_by_optimistic_finish():
    """A task finishing earliest on node 0 goes to node 1 when its successor (which only
    node 1 runs well) would then wait for a transfer: EFT + OCT is smaller there."""
    runtime = np.array([[1.0, 2.0], [100.0, 1.0]])
    p = gb.Problem(np.ones((2, 1), int), np.ones((2, 1), int), resources=["slots"],
                   runtime=runtime, edges=[(0, 1)], data=[10.0], bandwidth=1.0)
    np.testing.assert_array_equal(B.optimistic_cost_table(p), [[11, 1], [0, 0]])
    assert B.peft(p).assignment.tolist() == [1, 1]
    assert B.heft(p).assignment.tolist() == [0, 1]  # HEFT: earliest finish, then waits
    assert _decode(p, B.peft(p))[0] == 3 and _decode(p, B.heft(p))[0] == 12


# --------------------------------------------------------------------------- model extensions


def test_cpop_critical_path_and_eligibility():
    """A critical task that may not run on p_CP goes to its earliest-finish node; p_CP is
    the node that may run the most critical tasks."""
    # chain 0 -> 1 -> 2, plus a short side task 3; task 0 runs only on node 0, task 1 only
    # on node 1: node 0 may run 2 critical tasks in 2 s, node 1 also 2 but in 11 s
    runtime = np.array([[1.0, math.inf], [math.inf, 6.0], [1.0, 5.0], [1.0, 1.0]])
    p = gb.Problem(np.ones((2, 1), int), np.ones((4, 1), int), resources=["slots"],
                   runtime=runtime, edges=[(0, 1), (1, 2)], data=[0.0, 0.0])
    g = B._Graph(p)
    cp = B._critical_path(g, B.upward_rank(p) + B.downward_rank(p))
    assert cp == [0, 1, 2] and B._critical_node(g, cp) == 0
    plan = B.cpop(p)
    assert plan.assignment.tolist()[:3] == [0, 1, 0]
    assert gb.validate(p, plan.assignment, _decode(p, plan)[1]).ok


def test_release_times_and_cumulative_nodes():
    """Two-slot nodes run two tasks at once; release times delay the start."""
    p = gb.Problem([[2]], [[1], [1], [1]], resources=["slots"], duration=[4, 4, 4],
                   release=[0, 0, 1], objective="makespan")
    for name, fn in PLANS.items():
        makespan, start, _ = _decode(p, fn(p))
        np.testing.assert_array_equal(np.sort(start), [0, 0, 4], err_msg=name)
        assert makespan == 8, name


def test_convention_is_checked():
    p = heft_example()
    for fn in (B.heft, B.cpop):
        with pytest.raises(ValueError, match=f"^{fn.__name__}: convention must be one of "
                                             "'paper', 'saga', got 'links'$"):
            fn(p, convention="links")
    with pytest.raises(ValueError, match=r"^upward_rank: convention must be one of"):
        B.upward_rank(p, "pairs")
    with pytest.raises(ValueError, match=r"^downward_rank: convention must be one of"):
        B.downward_rank(p, None)  # type: ignore[arg-type]


def test_registered_and_solvable():
    p = heft_example()
    for name in ("cpop", "peft", "wspt"):
        assert name in B.BASELINES and name in gb.METHODS
        res = gb.solve(p, "makespan", method=name)
        assert res.success and res.fun == _decode(p, B.BASELINES[name](p))[0]
        assert gb.validate(p, res.x, res.start).ok


def test_wspt_is_smiths_rule_on_one_machine():
    """Independent tasks on one slot: the ratio order is optimal for the weighted sum of
    completion times (Smith 1956); checked against every order."""
    dur = [3.0, 1.0, 4.0, 2.0, 5.0]
    w = [1.0, 4.0, 2.0, 3.0, 1.0]
    p = gb.Problem([[1]], [[1]] * 5, resources=["slots"], duration=dur, weight=w,
                   objective="weighted_completion")
    plan = B.wspt(p)
    got = gb.evaluate(p, plan.assignment, plan.keys, "weighted_completion").objective[0]
    best = min(sum(wi * fi for wi, fi in zip([w[i] for i in order],
                                              itertools.accumulate(dur[i] for i in order)))
               for order in itertools.permutations(range(5)))
    assert got == best
    # the order is by decreasing weight / runtime: task 1 (4), 3 (1.5), 2 (0.5), 0, 4
    assert np.argsort(plan.keys).tolist() == [1, 3, 2, 0, 4]


def test_wspt_respects_dependencies_and_takes_the_fastest_runtime():
    # task 0 (light) must precede task 1 (heavy); task 2 has the best ratio on the fast node
    p = gb.Problem([[1], [1]], [[1]] * 3, resources=["slots"], duration=[2.0, 2.0, 2.0],
                   speed=[1.0, 2.0], weight=[1.0, 9.0, 5.0], edges=[(0, 1)],
                   objective="weighted_completion")
    plan = B.wspt(p)
    order = np.argsort(plan.keys).tolist()
    assert order.index(0) < order.index(1)
    assert order[0] == 2  # ready, ratio 5 / 1 beats task 0's 1 / 1
    ev = gb.evaluate(p, plan.assignment, plan.keys, "weighted_completion", schedule=True)
    assert gb.validate(p, plan.assignment, ev.start[0]).ok


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("name", sorted(BUILDERS))
@SETTINGS
@given(problem=schedule_problems())
def test_decoder_rebuilds_the_schedule(name, problem):
    """The plan's keys make the decoder rebuild the schedule the scheduler built, and that
    schedule is valid (allowed nodes, capacity over time, dependencies, release times)."""
    order, x, finish = BUILDERS[name](problem)
    assert sorted(order) == list(range(problem.n_tasks))
    plan = PLANS[name](problem)
    np.testing.assert_array_equal(plan.assignment, x)
    assert problem.allowed[np.arange(problem.n_tasks), x].all()
    _, start, decoded = _decode(problem, plan)
    np.testing.assert_array_equal(decoded, finish)
    assert gb.validate(problem, x, start).ok


@SETTINGS
@given(problem=schedule_problems())
def test_cpop_pins_its_critical_path(problem):
    g = B._Graph(problem)
    priority = B.upward_rank(problem) + B.downward_rank(problem)
    cp = B._critical_path(g, priority)
    # a path from an entry task to an exit task
    assert not g.pred[cp[0]] and not g.succ[cp[-1]]
    for a, b in itertools.pairwise(cp):
        assert b in [s for s, _ in g.succ[a]]
    node = B._critical_node(g, cp)
    x = B.cpop(problem).assignment
    for i in cp:
        if node in g.nodes[i]:
            assert x[i] == node


def test_generated_cluster_with_cumulative_nodes():
    """An AI cluster: multi-resource nodes running several tasks at once, label rules and
    a runtime matrix."""
    p = ai_cluster(12, 60, seed=3)
    for name, build in BUILDERS.items():
        _, x, finish = build(p)
        _, start, decoded = _decode(p, PLANS[name](p))
        np.testing.assert_array_equal(decoded, finish)
        assert gb.validate(p, x, start).ok, name


def test_large_problems_find_allowed_nodes_task_by_task(monkeypatch):
    """Above _DENSE_PAIRS task-node pairs the allowed nodes come from Problem.allowed_nodes
    task by task (no dense matrix): the same plans."""
    p = ai_cluster(10, 40, seed=5)
    dense = {name: fn(p) for name, fn in PLANS.items()}
    monkeypatch.setattr(B, "_DENSE_PAIRS", 0)
    for name, fn in PLANS.items():
        plan = fn(p)
        np.testing.assert_array_equal(plan.assignment, dense[name].assignment, err_msg=name)
        np.testing.assert_array_equal(plan.keys, dense[name].keys, err_msg=name)


def test_bandwidth_matrix_means():
    p = random_dag(12, n_procs=3, seed=1, speeds=True)
    bw = np.array([[math.inf, 1.0, 4.0], [1.0, math.inf, 2.0], [4.0, 2.0, math.inf]])
    q = p.replace(bandwidth=bw)
    g = B._Graph(q)
    # paper: data / mean bandwidth between distinct nodes; saga: mean time over 6 links
    np.testing.assert_allclose(g.mean_transfer("paper"), q.data / (7 / 3))
    np.testing.assert_allclose(g.mean_transfer("saga"), q.data * (1 + 1 / 4 + 1 / 2) / 6)
    # an infinite bandwidth between two distinct nodes makes the paper's mean infinite
    bw[0, 1] = bw[1, 0] = math.inf
    assert B._Graph(p.replace(bandwidth=bw)).mean_transfer("paper") == [0.0] * p.n_edges


# --------------------------------------------------------------------------- anrg-saga


@pytest.mark.parametrize("seed, ccr, procs", [(0, 0.1, 3), (1, 1.0, 4), (2, 10.0, 5),
                                              (3, 1.0, 8)])
def test_same_makespan_as_saga(seed, ccr, procs):
    """With ``convention="saga"`` gabalance's HEFT and CPOP give saga's makespans."""
    pytest.importorskip("saga")
    from bench.suite import dag

    p = random_dag(40, ccr=ccr, n_procs=procs, seed=seed, speeds=True)
    for name, fn in (("heft", B.heft), ("cpop", B.cpop)):
        ours = _decode(p, fn(p, convention="saga"))[0]
        theirs = dag.saga_schedule(p, name)["makespan"]
        assert ours == pytest.approx(theirs, rel=1e-9), name


def test_same_makespan_as_saga_single_source():
    """One entry task: saga adds no super source and CPoP pins the entry task."""
    pytest.importorskip("saga")
    from bench.suite import dag

    p = heft_example()
    q = gb.Problem(np.ones((3, 1), int), np.ones((10, 1), int), resources=["slots"],
                   duration=[14, 13, 11, 13, 12, 13, 7, 5, 18, 21], speed=[1.0, 1.5, 0.8],
                   edges=p.edges, data=p.data, bandwidth=2.0)
    for name, fn in (("heft", B.heft), ("cpop", B.cpop)):
        ours = _decode(q, fn(q, convention="saga"))[0]
        assert ours == pytest.approx(dag.saga_schedule(q, name)["makespan"], rel=1e-9), name

"""The discrete-event simulator: hand-computed metrics, invariants checked from the event log,
seeded reproducibility, trace readers."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

import gabalance as gb
from gabalance import simulate as sim
from gabalance.io import data_dir
from gabalance.online import node_type

FAST = {"max_generations": 2}


def tiny() -> sim.Trace:
    """Two 1-GPU nodes, A twice as fast as B; three 1-GPU jobs."""
    nodes = [gb.Node("A", {"gpu": 1}), gb.Node("B", {"gpu": 1})]
    jobs = [sim.Job("j1", 0.0, {"A": 10.0, "B": 20.0}, {"gpu": 1}),
            sim.Job("j2", 0.0, {"A": 10.0, "B": 20.0}, {"gpu": 1}),
            sim.Job("j3", 5.0, {"A": 4.0, "B": 8.0}, {"gpu": 1})]
    return sim.Trace("tiny", jobs, nodes)


def sweep(trace: sim.Trace, res: sim.SimResult) -> None:
    """Independent checks on the event log: each job starts and finishes once, after its
    arrival and its dependencies, and no node is ever over capacity."""
    jobs = {j.name: j for j in trace.jobs}
    caps = {n.name: dict(n.capacity) for n in trace.nodes}
    starts = Counter(name for _, kind, name, _ in res.log if kind == "start")
    finishes = Counter(name for _, kind, name, _ in res.log if kind == "finish")
    assert starts == finishes == Counter(list(jobs))
    start = {name: t for t, kind, name, _ in res.log if kind == "start"}
    finish = {name: t for t, kind, name, _ in res.log if kind == "finish"}
    for name, j in jobs.items():
        assert start[name] >= j.arrival
        for p in j.after:
            assert start[name] >= finish[p]
    # finishes before starts at the same instant; then a running sum per node and resource
    events = sorted(res.log, key=lambda e: (e[0], e[1] == "start"))
    used: dict[str, Counter] = {n: Counter() for n in caps}
    for _, kind, name, node in events:
        sign = 1 if kind == "start" else -1
        for r, v in jobs[name].demand.items():
            used[node][r] += sign * v
            assert used[node][r] <= caps[node].get(r, 0) + 1e-9, (name, node, r)
    assert all(abs(v) < 1e-9 for c in used.values() for v in c.values())


@pytest.mark.parametrize("policy, mean, assignment", [
    # round robin: j1 -> A, j2 -> B, j3 -> A (queued behind j1): JCT 10, 20, 9
    ("round_robin", 39 / 3, {"j1": "A", "j2": "B", "j3": "A"}),
    # least connections: j1 -> A, j2 -> B, j3 (A and B hold one job each) -> A
    ("least_connections", 39 / 3, {"j1": "A", "j2": "B", "j3": "A"}),
    # least loaded (earliest expected finish): j2 behind j1 on A ends at 20 = B's 20, the
    # tie goes to A; j3 would end at 19 + 5 = 24 on A, at 13 on B: JCT 10, 20, 8
    ("least_loaded", 38 / 3, {"j1": "A", "j2": "A", "j3": "B"}),
])
def test_metrics_by_hand(policy, mean, assignment):
    res = sim.simulate(tiny(), policy, sigma=0.0)
    assert res.mean_jct == pytest.approx(mean)
    assert res.assignment == assignment
    jct = sorted(res.jct.values())
    assert res.p95_jct == pytest.approx(jct[1] + 0.9 * (jct[2] - jct[1]))  # numpy "linear"
    assert res.makespan == pytest.approx(20.0)
    busy = 10 + 20 + 4 if policy != "least_loaded" else 10 + 10 + 8
    assert res.utilization == {"gpu": pytest.approx(busy / (2 * 20.0))}
    assert math.isnan(res.replan_median) and res.replans == 0
    sweep(tiny(), res)


def test_ga_on_the_tiny_trace_is_at_least_as_good_as_the_baselines():
    res = sim.simulate(tiny(), "ga", sigma=0.0, time_budget=30.0, balancer=FAST)
    assert res.mean_jct <= 38 / 3 + 1e-9
    assert res.replans >= 2 and res.replan_median > 0
    sweep(tiny(), res)


def test_invariants_on_a_generated_trace_with_dependencies_every_policy():
    trace = sim.generated_trace(8, 40, seed=3, dependencies=True)
    assert any(j.after for j in trace.jobs)
    for res in sim.compare(trace, sigma=0.3, seed=1, time_budget=30.0, balancer=FAST):
        sweep(trace, res)
        assert res.jobs == 40 and res.mean_jct > 0
        assert 0 < res.utilization["gpu"] <= 1


def test_seeded_simulation_is_reproducible_and_noise_is_common():
    trace = sim.generated_trace(6, 16, seed=5)
    a = sim.simulate(trace, "ga", sigma=0.5, seed=7, time_budget=30.0, balancer=FAST)
    b = sim.simulate(trace, "ga", sigma=0.5, seed=7, time_budget=30.0, balancer=FAST)
    assert a.assignment == b.assignment and a.jct == b.jct
    assert [e[:3] for e in a.log] == [e[:3] for e in b.log]
    c = sim.simulate(trace, "round_robin", sigma=0.5, seed=7)
    d = sim.simulate(trace, "round_robin", sigma=0.5, seed=8)
    assert c.jct != d.jct


def test_systematic_factor_is_shared_by_kind_and_node_type():
    trace = sim.generated_trace(6, 16, seed=5)
    jobs = {j.name: j for j in trace.jobs}
    res = sim.simulate(trace, "least_loaded", sigma=0.0, type_sigma=0.5, seed=2)
    sweep(trace, res)
    start = {n: t for t, k, n, _ in res.log if k == "start"}
    finish = {n: t for t, k, n, _ in res.log if k == "finish"}
    factor: dict[tuple[str, str], set[float]] = {}
    for n, node in res.assignment.items():
        est = jobs[n].runtime[node]
        if est > 0:
            key = (jobs[n].kind, node_type(gb.Node(node, {})))
            factor.setdefault(key, set()).add(round((finish[n] - start[n]) / est, 9))
    assert all(len(v) == 1 for v in factor.values())
    assert any(v != {1.0} for v in factor.values())


def test_table_and_errors():
    results = sim.compare(tiny(), ["round_robin", "least_loaded"], sigma=0.0)
    table = sim.format_table(results)
    assert table.splitlines()[0].split()[:2] == ["policy", "jobs"]
    assert "least_loaded" in table and table.rstrip().endswith("*")
    with pytest.raises(ValueError, match="unknown policy 'fifo'"):
        sim.simulate(tiny(), "fifo")
    assert sim.simulate(tiny(), "least-connections", sigma=0.0).policy == "least_connections"
    huge = sim.Trace("bad", [sim.Job("x", 0.0, {"A": 1.0}, {"gpu": 2})], tiny().nodes)
    with pytest.raises(ValueError, match="job 'x' fits no node"):
        sim.simulate(huge, "round_robin")
    summary = results[0].summary()
    assert summary["policy"] == "round_robin" and summary["replan_median"] is None


def test_trace_from_problem_keeps_arrivals_runtimes_and_dependencies():
    p = gb.generate.ai_cluster(8, 20, seed=2, objective="weighted_completion")
    t = sim.trace_from_problem(p)
    assert len(t.jobs) == 20 and len(t.nodes) == 8
    assert [j.arrival for j in t.jobs] == sorted(p.release.tolist())
    j = t.jobs[0]
    i = p.task_names.index(j.name)
    assert j.runtime == {n: p.runtime_of(i, k) for k, n in enumerate(p.node_names)
                         if np.isfinite(p.runtime_of(i, k))}
    assert sum(len(j.after) for j in t.jobs) == p.n_edges


@pytest.mark.data
def test_gavel_and_pollux_traces():
    data = data_dir()
    if data is None:
        pytest.skip("benchmark data folder not found")
    gavel = data / "gavel_throughputs" / "scheduler"
    t = sim.gavel_trace(gavel / "simulation_throughputs.json",
                        gavel / "traces" / "msr" / "seed=0" / "0e4a51.trace", jobs=25)
    assert len(t.jobs) == 25 and len(t.nodes) == 27
    assert {node_type(n) for n in t.nodes} == {"k80", "p100", "v100"}
    assert all(j.kind and " x" in j.kind for j in t.jobs)
    res = sim.simulate(t, "least_loaded")
    sweep(t, res)
    w = data / "pollux_osdi21_workloads" / "simulator" / "workloads" / "workload-6.csv"
    p = sim.pollux_trace(w, jobs=20)
    assert len(p.jobs) == 20 and all(j.demand["gpu"] <= 4 for j in p.jobs)
    assert all(j.runtime["k80-0"] == pytest.approx(3 * j.runtime["p100-0"]) for j in p.jobs)
    assert sim.load_trace(w, jobs=5).name == "workload-6"


def test_example_runs(capsys):
    from gabalance.examples import online_balancer

    assert online_balancer.main(["--jobs", "12"]) == 0
    out = capsys.readouterr().out
    assert "done:" in out and "least_loaded" in out and "learned runtime ratio" in out


def test_cli_simulate(capsys, tmp_path):
    from gabalance.cli import main

    out_json = tmp_path / "sim.json"
    assert main(["simulate", "generated:12", "--policy", "round-robin", "--policy",
                 "least-loaded", "--sigma", "0", "--out", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "round_robin" in out and "least_loaded" in out and "ga " not in out
    assert out_json.is_file()
    assert main(["simulate", "no-such-trace.trace"]) == 2
    assert "is not a file" in capsys.readouterr().err

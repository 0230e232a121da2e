"""The benchmark suite's own pieces: the LFT priority rule, the AI-cluster metrics, the
RESULTS.md writer and a smoke run of the suite command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import gabalance as gb
from bench import run as bench_run
from bench.suite import ai, gap, rcpsp
from gabalance.io import data_dir, read_psplib

import naive


def _chain_problem() -> gb.Problem:
    # 0 -> 1 -> 3, 0 -> 2 -> 3; durations 2, 3, 1, 4; one unit resource of capacity 1
    return gb.Problem([[1]], [[1], [1], [1], [1]], duration=[2, 3, 1, 4],
                      edges=[(0, 1), (0, 2), (1, 3), (2, 3)])


def test_latest_finish_backward_pass():
    p = _chain_problem()
    # horizon 10: LF3 = 10, LF1 = LF2 = 10 - 4 = 6, LF0 = min(6 - 3, 6 - 1) = 3
    np.testing.assert_array_equal(rcpsp.latest_finish(p), [3.0, 6.0, 6.0, 10.0])


def test_lft_schedule_is_the_serial_scheme_in_lft_order():
    p = _chain_problem()
    makespan, start = rcpsp.lft_schedule(p)
    # LFT order 0, 1 (tie with 2, lower index first), 2, 3 on one unit resource
    np.testing.assert_array_equal(start, [0.0, 2.0, 5.0, 6.0])
    assert makespan == 10.0
    # and the oracle decoder with the same order agrees
    lf = rcpsp.latest_finish(p)
    keys = np.argsort(np.lexsort((np.arange(4), lf))) / 4
    obj, _, s, _ = naive.schedule(p, [0, 0, 0, 0], keys, "makespan")
    assert obj == makespan and list(s) == list(start)


def _gpu_problem() -> gb.Problem:
    # two 4-GPU servers; jobs needing 3, 2, 2, 4 GPUs; job 3 only fits an empty server
    return gb.Problem([[4], [4]], [[3], [2], [2], [4]], duration=[10, 10, 10, 10],
                      release=[0, 0, 0, 0], resources=["gpu"])


def test_schedule_metrics_by_hand():
    p = _gpu_problem()
    x = np.array([0, 1, 1, 0])
    start = np.array([0.0, 0.0, 0.0, 10.0])
    finish = start + 10
    m = ai.schedule_metrics(p, x, start, finish)
    assert m["makespan"] == 20.0
    assert m["mean_completion"] == pytest.approx((10 + 10 + 10 + 20) / 4)
    # busy GPU time 3*10 + 2*10 + 2*10 + 4*10 = 110 of 8 GPUs x 20
    assert m["gpu_utilization"] == pytest.approx(100 * 110 / 160)
    # during [0, 10) job 3 waits; server 0 has 1 free GPU, too small for it: 1 GPU x 10 s
    # fragmented; server 1 is full; during [10, 20) nothing waits
    assert m["gpu_fragmentation"] == pytest.approx(100 * 10 / 160)


def test_placement_metrics_by_hand():
    p = gb.Problem([[4, 8], [4, 8], [2, 8]], [[3, 1], [2, 1], [2, 1]],
                   resources=["gpu", "mem"], objective="max_utilization")
    x = np.array([0, 1, 1])
    m = ai.placement_metrics(p, x)
    # free GPUs: node 0 has 1 (no task needs <= 1: fragmented), node 1 has 0, node 2 has 2
    # (a 2-GPU task fits: not fragmented); 1 of 10 GPUs
    assert m == {"nodes_used": 2, "gpu_fragmentation": pytest.approx(10.0),
                 "gpu_allocated": pytest.approx(70.0)}


def test_write_section_replaces_only_its_block(tmp_path: Path):
    f = tmp_path / "RESULTS.md"
    f.write_text("# Results\n\nearlier text\n")
    bench_run.write_section(f, "quick", "first")
    bench_run.write_section(f, "full", "other")
    bench_run.write_section(f, "quick", "second")
    text = f.read_text()
    assert "earlier text" in text and "other" in text and "second" in text
    assert "first" not in text and text.count("bench.run quick: start") == 1


def test_gap_percent_sense():
    assert gap.gap_percent(110, 100, "min") == pytest.approx(10.0)
    assert gap.gap_percent(90, 100, "max") == pytest.approx(10.0)
    assert gap.gap_percent(None, 100, "min") is None


@pytest.mark.data
@pytest.mark.skipif(data_dir() is None, reason="benchmark data not found")
def test_lft_on_j30_is_valid_and_not_below_the_optimum():
    d = data_dir()
    optima = gb.io.psplib_optima(d / "psplib_j30" / "optimum" / "optimum.csv")
    for stem in ("j301_1", "j3013_4", "j3048_7"):
        p = read_psplib(d / "psplib_j30" / "j30" / f"{stem}.sm")
        makespan, start = rcpsp.lft_schedule(p)
        assert makespan >= optima[stem]
        assert not naive.validate_schedule(p, [0] * p.n_tasks, list(start))


@pytest.mark.data
@pytest.mark.skipif(data_dir() is None, reason="benchmark data not found")
def test_suite_smoke_run(capsys: pytest.CaptureFixture[str]):
    """The suite command end to end at its smallest size, writing nothing."""
    assert bench_run.main(["--suite", "smoke", "--no-write", "--sections",
                           "gap,rcpsp,ai"]) == 0
    out = capsys.readouterr().out
    assert "### GAP" in out and "### RCPSP" in out and "### AI-cluster" in out


def _gap_row(instance: str, limit: float, gaps: dict[str, float | None]) -> dict:
    return {"instance": instance, "m": 2, "n": 4, "sense": "min", "best_known": 100.0,
            "proven": True, "time_limit": limit,
            "results": {k: {"gap": g, "evaluations": 10, "time": 1.0} for k, g in gaps.items()}}


def test_versus_exact_by_hand():
    section = {"skipped": {}, "rows": [
        _gap_row("d1", 10.0, {"ga": 1.0, "cpsat": 0.0}),
        _gap_row("d1", 60.0, {"ga": 0.5, "pso": 0.25, "cpsat": 0.75, "highs": 0.125}),
        _gap_row("d2", 60.0, {"ga": 2.0, "pso": None, "cpsat": None, "highs": 1.5})]}
    text = gap.versus_exact(section)
    assert text.startswith("At 60 s,")
    # best of GA and PSO minus each exact solver's gap; a solver without a value is left out
    assert "d1: cpsat -0.500, highs +0.125; d2: highs +0.500." in text


def test_report_from_saved_results_rewrites_only_its_section(tmp_path: Path):
    doc = {"suite": "smoke", "seed": 0, "command": "python -m bench.run --suite smoke",
           "machine": {"date": "d", "cpu": "c", "cores": 2, "numba_threads": 2,
                       "python": "3", "gabalance": "0"},
           "versions": {"numpy": "2"}, "wall": {"gap": 60.0},
           "sections": {"gap": {"skipped": {}, "rows": [
               _gap_row("a1", 1.0, {"ga": 0.0, "pso": 0.0, "deap": 3.0})]}}}
    saved = tmp_path / "suite_smoke.json"
    saved.write_text(json.dumps(doc))
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\nkept\n")
    assert bench_run.main(["--report-from", str(saved), "--results", str(results)]) == 0
    text = results.read_text()
    assert "kept" in text and "<!-- bench.run smoke: start -->" in text
    assert "| a1 | 2x4 | min | 100 | 0.000 | 0.000 | 3.000 |" in text
    assert "a: yes" in text


def _ai_section(bound: bool) -> dict:
    p = _gpu_problem()
    row = {"instance": "toy", "tasks": 4, "nodes": 2, "objective": "weighted_completion",
           "mode": "schedule", "results": {}}
    if bound:
        row.update(ai.instance_bound(p, "weighted_completion"))
    for k, m in enumerate(ai.METHODS):
        fun = 60.0 + 10 * k
        row["results"][m] = {"fun": fun, "violation": 0.0, "valid": True, "makespan": 20.0,
                             "mean_completion": 15.0, "gpu_utilization": 50.0,
                             "gpu_fragmentation": 1.0,
                             **({"gap": ai.bound_gap_percent(fun, row["bound"])}
                                if bound else {})}
    return {"rows": [row], "time_limit": 1.0}


def test_ai_tables_give_the_bound_and_each_gap():
    p = _gpu_problem()
    info = ai.instance_bound(p, "weighted_completion")
    b = gb.schedule_bound(p, "weighted_completion")
    assert info["bound"] == b.value and info["bound_binding"] == b.binding
    assert info["bound_parts"] == dict(b.parts)
    # the optimum: jobs 0, 1, 2 by 10 and job 3 (a whole server) by 20, 50 in all
    assert b.value <= 50.0
    text = ai.tables(_ai_section(True))
    assert "| bound | gap to bound % | valid |" in text
    assert f"Proven lower bound on the objective: {b.value:,.0f}" in text
    gap = 100 * (60.0 - b.value) / 60.0
    assert f"| {b.value:,.0f} | {gap:.2f} | True |" in text
    # a section saved before bounds existed renders as before
    old = ai.tables(_ai_section(False))
    assert "gap to bound" not in old and "| GPU fragmentation % | valid |" in old


def test_bound_gap_percent():
    assert ai.bound_gap_percent(110.0, 100.0) == pytest.approx(100 * 10 / 110)
    assert ai.bound_gap_percent(100.0, 100.0) == 0.0
    assert ai.bound_gap_percent(100.0, None) is None
    assert ai.bound_gap_percent(0.0, 0.0) == 0.0


def test_rcpsp_tables_report_bound_gaps():
    rows = [{"ga_dev": 0.0, "lft_dev": 2.0, "valid": True, "bound_dev": 10.0,
             "bound_lp_dev": 5.0, "bound_time": 0.001, "bound_lp_time": 0.2},
            {"ga_dev": 1.0, "lft_dev": 3.0, "valid": True, "bound_dev": 0.0,
             "bound_lp_dev": 0.0, "bound_time": 0.003, "bound_lp_time": 0.4}]
    text = rcpsp.tables({"rows": rows, "time_limit": 1.0, "every": 1})
    assert "| critical path and energy | 5.00 | 10.00 | 1/2 | 0.002 |" in text
    assert "| with the time-indexed LP (`lp=True`) | 2.50 | 5.00 | 1/2 | 0.300 |" in text
    old = rcpsp.tables({"rows": [{k: r[k] for k in ("ga_dev", "lft_dev", "valid")}
                                 for r in rows], "time_limit": 1.0, "every": 1})
    assert "lower bounds" not in old


def test_ai_tables_give_the_margins():
    """GA 60 is the lowest of the made-up values (60 + 10 k by method order), so it is
    below the best classic balancer and below the best list scheduler by their gaps."""
    text = ai.tables(_ai_section(True))
    vals = {m: 60.0 + 10 * k for k, m in enumerate(ai.METHODS)}
    classic = min(ai.BASELINES, key=vals.__getitem__)
    best = vals[classic]
    assert (f"below the best classic balancer ({classic}): GA "
            f"{100 * (best - 60.0) / best:.2f}%, PSO {100 * (best - 70.0) / best:.2f}%") in text


def test_keep_sections_takes_the_others_from_the_saved_run(tmp_path: Path):
    old = {"suite": "full", "command": "python -m bench.run --suite full",
           "machine": {"date": "old-date"}, "wall": {"gap": 60.0, "dag": 5.0},
           "sections": {"gap": {"rows": ["g"]}, "dag": {"rows": ["old"]}}}
    saved = tmp_path / "suite_full.json"
    saved.write_text(json.dumps(old))
    doc = {"sections": {"dag": {"rows": ["new"]}}, "wall": {"dag": 1.0}, "ran": ["dag"]}
    bench_run.keep_sections(doc, saved)
    assert list(doc["sections"]) == ["gap", "dag"]  # in the suite's section order
    assert doc["sections"]["dag"] == {"rows": ["new"]}
    assert doc["sections"]["gap"] == {"rows": ["g"]}
    assert doc["kept"] == {"gap": {"command": "python -m bench.run --suite full",
                                   "date": "old-date"}}

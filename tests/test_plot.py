"""Plots: convergence, Gantt chart and utilization draw what the result holds."""

from __future__ import annotations

import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import gabalance as gb  # noqa: E402
from gabalance import examples, plot  # noqa: E402
from gabalance.cli import main  # noqa: E402
from gabalance.generate import gap_like, random_dag  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scenario():
    return examples.load("scenario")


@pytest.fixture(scope="module")
def schedule(scenario):
    return gb.solve(scenario, max_generations=5, seed=0, backend="numpy")


@pytest.fixture(scope="module")
def dag():
    problem = random_dag(12, n_procs=3, seed=2)
    return problem, gb.solve(problem, "makespan", method="heft")


@pytest.fixture(scope="module")
def small_placement():
    """3 nodes, resources cpu and mem; node c has no mem; tasks 0..4 on nodes a, a, b, b, c."""
    problem = gb.Problem(capacity=[[4, 8], [4, 8], [2, 0]],
                         demand=[[1, 2], [2, 4], [3, 4], [2, 6], [1, 0]],
                         resources=["cpu", "mem"], node_names=["a", "b", "c"],
                         task_names=["s0", "s1", "s2", "s3", "s4"])
    x = np.array([0, 0, 1, 1, 2], np.int32)
    ev = gb.evaluate(problem, x, objective="max_utilization")
    res = gb.SolveResult(x=x, fun=float(ev.objective[0]), violation=float(ev.violation[0]),
                         objective="max_utilization", sense="min", mode="placement",
                         method="manual", start=None, finish=None, history=None,
                         assignment={t: problem.node_names[j] for t, j in
                                     zip(problem.task_names, x.tolist())})
    return problem, res


def _save(obj, path):
    fig = obj.figure if hasattr(obj, "figure") else obj
    fig.savefig(path)
    data = path.read_bytes()
    assert data.startswith(PNG) and len(data) > 1000
    return data


# ----------------------------------------------------------------------------- convergence

@pytest.mark.parametrize("method", ["ga", "pso"])
def test_convergence_line_is_the_history(scenario, method, tmp_path):
    res = gb.solve(scenario, method=method, max_generations=4, seed=1, backend="numpy")
    ax = res.plot_convergence()
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "best"]
    np.testing.assert_array_equal(line.get_xdata(), res.history["generation"])
    np.testing.assert_array_equal(line.get_ydata(), res.history["best"])
    assert ax.get_xlabel() == "generation"
    assert ax.get_ylabel() == "makespan (best so far)"
    assert not hasattr(ax, "violation_axes")  # always feasible: no violation axis
    _save(ax, tmp_path / "conv.png")

    ax = plot.convergence(res, x="time")
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "best"]
    np.testing.assert_array_equal(line.get_xdata(), res.history["time"])
    assert ax.get_xlabel() == "time (s)"


def test_convergence_shows_violation_while_infeasible(schedule, tmp_path):
    res = gb.SolveResult(schedule)
    n = len(res.history["best"])
    viol = [2.0, 1.0] + [0.0] * (n - 2)
    res.history = dict(schedule.history, violation=viol)
    ax = res.plot_convergence()
    (vline,) = [ln for ln in ax.violation_axes.get_lines() if ln.get_gid() == "violation"]
    np.testing.assert_array_equal(vline.get_ydata(), viol)
    # the first feasible generation is marked
    marks = [ln for ln in ax.get_lines() if ln.get_gid() != "best"]
    assert [ln.get_xdata()[0] for ln in marks] == [res.history["generation"][2]]
    _save(ax, tmp_path / "conv_viol.png")


def test_convergence_of_two_runs_on_one_axes(scenario):
    _, ax = plt.subplots()
    for method in ("ga", "pso"):
        res = gb.solve(scenario, method=method, max_generations=2, seed=0, backend="numpy")
        assert res.plot_convergence(ax, label=method) is ax
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ga", "pso"]


def test_convergence_needs_a_history(scenario):
    heft = gb.solve(scenario, method="heft")
    with pytest.raises(ValueError, match=r"the result has no history to plot \(method 'heft'; "
                                         r"only ga and pso record one per generation\)"):
        heft.plot_convergence()
    res = gb.solve(scenario, max_generations=1, seed=0, backend="numpy")
    with pytest.raises(ValueError, match="x must be 'generation' or 'time', got 'nfev'"):
        res.plot_convergence(x="nfev")


# ----------------------------------------------------------------------------- Gantt

def _bars(ax):
    return list(ax.containers[0].patches)


def _arrows(ax):
    return [p for p in ax.patches if p.get_gid() == "dependency"]


def test_gantt_draws_every_task_on_its_node(scenario, schedule, tmp_path):
    ax = schedule.plot_gantt(scenario)
    bars = _bars(ax)
    assert len(bars) == scenario.n_tasks
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == list(scenario.node_names)  # 5 nodes: every node is a row
    for i, bar in enumerate(bars):
        assert bar.get_gid() == f"task:{scenario.task_names[i]}"
        assert bar.get_x() == pytest.approx(schedule.start[i])
        assert bar.get_x() + bar.get_width() == pytest.approx(schedule.finish[i])
        row = labels.index(schedule.assignment[scenario.task_names[i]])
        assert abs(bar.get_y() + bar.get_height() / 2 - row) < 0.4
    assert len(_arrows(ax)) == scenario.n_edges == 4
    assert ax.get_xlabel() == "time (min)"  # the scenario's time unit
    _save(ax, tmp_path / "gantt.png")


def test_gantt_tasks_running_together_do_not_overlap(scenario, schedule):
    ax = schedule.plot_gantt(scenario)
    bars = _bars(ax)
    for a in range(len(bars)):
        for b in range(a + 1, len(bars)):
            p, q = bars[a], bars[b]
            same_time = p.get_x() < q.get_x() + q.get_width() and \
                q.get_x() < p.get_x() + p.get_width()
            same_y = p.get_y() < q.get_y() + q.get_height() and \
                q.get_y() < p.get_y() + p.get_height()
            assert not (same_time and same_y), (a, b)


def test_gantt_arrows_join_pred_finish_to_succ_start(dag, tmp_path):
    problem, res = dag
    ax = plot.gantt(res, problem, nodes="used")
    arrows = _arrows(ax)
    assert len(arrows) == problem.n_edges
    for arrow, (p, s) in zip(arrows, problem.edges.tolist()):
        (x0, _), (x1, _) = arrow._posA_posB
        assert (x0, x1) == (pytest.approx(res.finish[p]), pytest.approx(res.start[s]))
        assert res.finish[p] <= res.start[s] + 1e-9
    used = [problem.node_names[j] for j in np.unique(res.x)]
    assert [t.get_text() for t in ax.get_yticklabels()] == used
    assert len(_arrows(plot.gantt(res, problem, dependencies=False))) == 0
    _save(ax, tmp_path / "dag.png")


def test_gantt_errors(scenario, schedule, small_placement):
    problem, placement = small_placement
    with pytest.raises(ValueError, match=r"plot_gantt needs a schedule result \(start and "
                                         r"finish times\); this is a placement result "
                                         r"\(objective 'max_utilization'\): use "
                                         r"plot_utilization"):
        placement.plot_gantt(problem)
    other = random_dag(7, seed=0)
    with pytest.raises(ValueError, match="result has 5 tasks, the problem 7"):
        schedule.plot_gantt(other)
    with pytest.raises(ValueError, match="nodes must be 'auto', 'all' or 'used', got 'some'"):
        schedule.plot_gantt(scenario, nodes="some")
    with pytest.raises(TypeError, match=r"plot_gantt needs the result's gabalance\.Problem"):
        schedule.plot_gantt("scenario")


# ----------------------------------------------------------------------------- utilization

def test_utilization_bars_are_used_over_capacity(small_placement, tmp_path):
    problem, res = small_placement
    # by hand: a: cpu 3/4, mem 6/8; b: cpu 5/4 (overloaded), mem 10/8; c: cpu 1/2, mem 0/0
    expected = {"cpu": [75.0, 125.0, 50.0], "mem": [75.0, 125.0, 0.0]}
    np.testing.assert_allclose(plot.utilization_shares(res, problem) * 100,
                               np.array([expected["cpu"], expected["mem"]]).T)
    ax = res.plot_utilization(problem)
    assert len(ax.containers) == 2
    for k, r in enumerate(problem.resources):
        bars = ax.containers[k].patches
        np.testing.assert_allclose([b.get_height() for b in bars], expected[r])
        assert [b.get_hatch() == "//" for b in bars] == [False, True, False]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b", "c"]
    assert ax.get_title().endswith("1 of 3 nodes overloaded")
    assert ax.get_ylabel() == "used share of capacity (%)"
    _save(ax, tmp_path / "util.png")


def test_utilization_profile_for_many_nodes(tmp_path):
    problem = gap_like(50, 120, kind="a", seed=3)
    res = gb.solve(problem, "cost", method="round_robin")
    share = 100 * plot.utilization_shares(res, problem)[:, 0]
    ax = res.plot_utilization(problem)  # 50 nodes > BAR_NODES: a sorted profile
    assert not ax.containers
    (line,) = [ln for ln in ax.get_lines() if ln.get_gid() == "profile:resource"]
    np.testing.assert_allclose(line.get_ydata(), np.sort(share)[::-1])
    np.testing.assert_array_equal(line.get_xdata(), np.arange(1, 51))
    # load by hand, task by task
    load = np.zeros(problem.n_nodes)
    for i, j in enumerate(res.x.tolist()):
        load[j] += problem.demand[i, j, 0]
    np.testing.assert_allclose(share, 100 * load / problem.capacity[:, 0])
    over = [ln for ln in ax.get_lines() if ln.get_gid() == "overload:resource"]
    assert len(over) == int((share > 100).any())
    if over:
        assert len(over[0].get_xdata()) == int((share > 100).sum())
    _save(ax, tmp_path / "profile.png")


def test_utilization_errors(scenario, schedule, small_placement):
    with pytest.raises(ValueError, match=r"plot_utilization shows a placement \(all tasks "
                                         r"resident at once\); this is a schedule result "
                                         r"\(objective 'makespan'\): use plot_gantt"):
        schedule.plot_utilization(scenario)
    problem, res = small_placement
    with pytest.raises(ValueError, match="result has 5 tasks, the problem 40"):
        res.plot_utilization(gap_like(5, 40, seed=1))
    with pytest.raises(ValueError, match="kind must be 'auto', 'bars' or 'profile'"):
        res.plot_utilization(problem, kind="pie")
    empty = gb.SolveResult(res, x=None, status=6, message="too large")
    with pytest.raises(ValueError, match=r"the result holds no solution \(status 6: too "
                                         r"large\)"):
        empty.plot_utilization(problem)


# ----------------------------------------------------------------------------- summary, CLI

def test_summary_has_two_panels(scenario, schedule, tmp_path):
    fig = plot.summary(schedule, scenario, tmp_path / "s.png")
    assert (tmp_path / "s.png").read_bytes().startswith(PNG)
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "ga: best makespan per generation"
    assert titles[1].startswith("scenario: ga schedule")
    assert not plt.get_fignums()  # made without pyplot


def test_missing_matplotlib_says_how_to_install(monkeypatch, scenario, schedule, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "gabalance\[plot\]"'):
        schedule.plot_gantt(scenario)
    assert main(["solve", "scenario", "--generations", "1", "--plot", "x.png"]) == 2
    assert 'pip install "gabalance[plot]"' in capsys.readouterr().err


def test_cli_solve_plot_writes_png(tmp_path, capsys):
    out = tmp_path / "sched.png"
    assert main(["solve", "scenario", "--generations", "3", "--backend", "numpy",
                 "--plot", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert out.read_bytes().startswith(PNG) and out.stat().st_size > 5000

    problem = tmp_path / "gap.json"
    gap_like(5, 30, seed=0).to_json(problem)
    for method in ("ga", "best_fit_decreasing"):  # two panels; a baseline: utilization only
        out = tmp_path / f"{method}.png"
        assert main(["solve", str(problem), "--objective", "cost", "--method", method,
                     "--generations", "2", "--backend", "numpy", "--plot", str(out)]) in (0, 1)
        assert f"wrote {out}" in capsys.readouterr().out
        assert out.read_bytes().startswith(PNG) and out.stat().st_size > 5000

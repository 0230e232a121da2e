"""Plots of a :class:`~gabalance.SolveResult`: convergence, Gantt chart, node utilization.

matplotlib is an optional dependency (``pip install "gabalance[plot]"``); it is imported
only when a plot is drawn. Every function draws on the given ``ax`` (or a new figure's
axes), returns the axes and never calls ``plt.show()``.

>>> import gabalance as gb
>>> from gabalance import examples
>>> problem = examples.load("scenario")
>>> res = gb.solve(problem, max_generations=5, seed=0)
>>> ax = res.plot_gantt(problem)          # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from gabalance.problem import Problem

__all__ = ["convergence", "gantt", "summary", "utilization", "utilization_shares"]

#: nodes up to which the Gantt chart shows every node (above it: only the nodes used)
GANTT_ALL_NODES = 12
#: nodes up to which utilization is drawn as grouped bars (above it: a sorted profile)
BAR_NODES = 40

_INSTALL = 'plotting needs matplotlib: pip install "gabalance[plot]"'


def require_matplotlib() -> Any:
    """Import and return ``matplotlib``, or raise ``ImportError`` saying how to install it."""
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(_INSTALL) from exc
    return matplotlib


def _new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    require_matplotlib()
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _solution_iv(res: Any, problem: Any, what: str) -> np.ndarray:
    """``res.x`` after the cheap checks of :meth:`SolveResult.check` (ValueError)."""
    if not isinstance(problem, Problem):
        raise TypeError(f"{what} needs the result's gabalance.Problem, got "
                        f"{type(problem).__name__}")
    if res.get("x") is None:
        raise ValueError(f"the result holds no solution (status {res.get('status')}: "
                         f"{res.get('message')})")
    x = np.asarray(res.x)
    if x.shape != (problem.n_tasks,):
        raise ValueError(f"result has {x.shape[0] if x.ndim else x.size} tasks, the problem "
                         f"{problem.n_tasks}")
    if x.size and (x.min() < 0 or x.max() >= problem.n_nodes):
        raise ValueError(f"result uses node index {int(x.max())}, the problem has "
                         f"{problem.n_nodes} nodes")
    return x.astype(np.int64)


def _time_unit(problem: Problem) -> str:
    units = problem.info.get("units") if isinstance(problem.info, dict) else None
    unit = units.get("time") if isinstance(units, dict) else None
    return f"time ({unit})" if isinstance(unit, str) and unit else "time"


# ---------------------------------------------------------------------------------------------
# convergence


def convergence(res: Any, ax: Any = None, *, x: str = "generation", label: str | None = None,
                violation: bool | None = None) -> Any:
    """Best objective so far against generation or time, from ``res.history``.

    Parameters
    ----------
    res : SolveResult
        A ``ga`` or ``pso`` result (baselines and ``milp`` keep no history).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure). Several results drawn on one axes compare
        runs; the line is labelled ``label`` (default: the method).
    x : {"generation", "time"}
        The horizontal axis: generations, or seconds since the start of the solve.
    label : str, optional
        Legend label of the objective line.
    violation : bool, optional
        Also draw the constraint violation of the best so far on a twin axis (dashed). By
        default only when it is ever above 0, i.e. while the search has no feasible solution.

    Returns
    -------
    matplotlib.axes.Axes
        The axes of the objective line (the violation line, if any, is on
        ``ax.violation_axes``, a twin axes sharing x).

    Raises
    ------
    ValueError
        When the result has no history, or ``x`` is neither "generation" nor "time".
    """
    hist = res.get("history")
    if not hist or not hist.get("best"):
        raise ValueError(f"the result has no history to plot (method {res.get('method')!r}; "
                         "only ga and pso record one per generation)")
    if x not in ("generation", "time"):
        raise ValueError(f"x must be 'generation' or 'time', got {x!r}")
    ax = _new_axes(ax, (7.0, 4.0))
    xs = np.asarray(hist[x], np.float64)
    best = np.asarray(hist["best"], np.float64)
    viol = np.asarray(hist.get("violation") or np.zeros_like(best), np.float64)
    name = label if label is not None else str(res.get("method", "search"))
    (line,) = ax.plot(xs, best, drawstyle="steps-post", label=name)
    line.set_gid("best")
    ax.set_xlabel("generation" if x == "generation" else "time (s)")
    ax.set_ylabel(f"{res.get('objective', 'objective')} (best so far)")
    ax.grid(True, alpha=0.3)
    if violation is None:
        violation = bool((viol > 0).any())
    if violation:
        twin = getattr(ax, "violation_axes", None)
        if twin is None:
            twin = ax.twinx()
            twin.set_ylabel("violation of the best (0 = feasible)")
            ax.violation_axes = twin
        (vline,) = twin.plot(xs, viol, drawstyle="steps-post", linestyle="--",
                             color=line.get_color(), alpha=0.7, label=f"{name} violation")
        vline.set_gid("violation")
        feasible = np.flatnonzero(viol == 0)
        if feasible.size:
            ax.axvline(xs[feasible[0]], color=line.get_color(), linestyle=":", alpha=0.6)
    if label is not None or len(ax.get_lines()) > 1:
        ax.legend(loc="best")
    return ax


# ---------------------------------------------------------------------------------------------
# Gantt chart


def _lanes(start: np.ndarray, finish: np.ndarray, tasks: np.ndarray) -> dict[int, int]:
    """Greedy interval colouring: tasks running at the same time get different lanes."""
    order = sorted(tasks.tolist(), key=lambda i: (start[i], finish[i], i))
    ends: list[float] = []
    lane: dict[int, int] = {}
    for i in order:
        for k, end in enumerate(ends):
            if end <= start[i]:
                lane[i], ends[k] = k, finish[i]
                break
        else:
            lane[i] = len(ends)
            ends.append(finish[i])
    return lane


def _kinds(names: tuple[str, ...]) -> list[str] | None:
    """Task kinds from names like ``train-12`` (2 to 10 kinds), else None."""
    kinds = [re.sub(r"[-_.:]?\d+$", "", n) or n for n in names]
    distinct = set(kinds)
    return kinds if 2 <= len(distinct) <= 10 else None


def gantt(res: Any, problem: Problem, ax: Any = None, *, nodes: str = "auto",
          dependencies: bool = True, labels: bool = True) -> Any:
    """Gantt chart of a schedule: one row per node, one bar per task.

    Tasks that run at the same time on one node (a node runs several tasks while its
    capacity allows) are stacked in lanes inside the node's row. Bars span ``start`` to
    ``finish`` and carry the task name when it fits; arrows go from each predecessor's
    finish to its successor's start (a gap between them is a data transfer or a wait).
    Bars are coloured by task kind when the task names have 2-10 kinds (``data-3``,
    ``train-7`` ...), else by task.

    Parameters
    ----------
    res : SolveResult
        A schedule-mode result (``res.start`` and ``res.finish`` set).
    problem : Problem
        The problem it solves.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure sized to the rows).
    nodes : {"auto", "all", "used"}
        Rows: every node, only the nodes running a task, or "auto" (every node up to
        :data:`GANTT_ALL_NODES` nodes, else the used ones).
    dependencies : bool
        Draw the dependency arrows.
    labels : bool
        Write task names inside the bars that are wide enough.

    Returns
    -------
    matplotlib.axes.Axes
        The bars are ``ax.containers[0]`` in task order (tasks with an infinite finish
        time, possible only in infeasible schedules, are left out), and the arrows are
        the patches with gid ``"dependency"``.

    Raises
    ------
    ValueError
        For a placement result, a result without a solution, or one whose task count does
        not match ``problem``.
    """
    if res.get("start") is None or res.get("finish") is None:
        raise ValueError(f"plot_gantt needs a schedule result (start and finish times); this "
                         f"is a {res.get('mode', 'placement')} result (objective "
                         f"{res.get('objective')!r}): use plot_utilization")
    x = _solution_iv(res, problem, "plot_gantt")
    if nodes not in ("auto", "all", "used"):
        raise ValueError(f"nodes must be 'auto', 'all' or 'used', got {nodes!r}")
    start = np.asarray(res.start, np.float64)
    finish = np.asarray(res.finish, np.float64)
    if start.shape != x.shape or finish.shape != x.shape:
        raise ValueError(f"start/finish have shapes {start.shape}/{finish.shape}, the result "
                         f"{x.shape[0]} tasks")
    shown = np.isfinite(start) & np.isfinite(finish)
    M = problem.n_nodes
    if nodes == "all" or (nodes == "auto" and M <= GANTT_ALL_NODES):
        rows = np.arange(M)
    else:
        rows = np.unique(x[shown])
    row_of = {int(j): r for r, j in enumerate(rows.tolist())}
    lane: dict[int, int] = {}
    n_lanes: dict[int, int] = {}
    for j in rows.tolist():
        on = np.flatnonzero((x == j) & shown)
        lanes = _lanes(start, finish, on)
        lane.update(lanes)
        n_lanes[j] = max(lanes.values(), default=0) + 1

    height = 2.0 + 0.35 * sum(max(1, min(n, 3)) for n in n_lanes.values())
    ax = _new_axes(ax, (9.0, min(max(height, 2.5), 30.0)))
    matplotlib = require_matplotlib()
    tasks = np.flatnonzero(shown)
    kinds = _kinds(problem.task_names)
    cmap = matplotlib.colormaps["tab10" if kinds else "tab20"]
    if kinds:
        kind_ids = {k: n for n, k in enumerate(dict.fromkeys(kinds))}
        colors = [cmap(kind_ids[kinds[i]] % 10) for i in tasks.tolist()]
    else:
        colors = [cmap(i % 20) for i in tasks.tolist()]

    def y_of(i: int) -> tuple[float, float]:
        j = int(x[i])
        h = 0.8 / n_lanes[j]
        return row_of[j] - 0.4 + (lane[i] + 0.5) * h, h

    ys = [y_of(i) for i in tasks.tolist()]
    bars = ax.barh([y for y, _ in ys], finish[tasks] - start[tasks], left=start[tasks],
                   height=[h * 0.9 for _, h in ys], color=colors, edgecolor="black",
                   linewidth=0.5)
    bars.set_label("_tasks")
    for patch, i in zip(bars.patches, tasks.tolist()):
        patch.set_gid(f"task:{problem.task_names[i]}")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([problem.node_names[j] for j in rows.tolist()])
    ax.set_ylim(len(rows) - 0.5, -0.5)  # first node on top
    end = float(finish[tasks].max()) if tasks.size else 1.0
    ax.set_xlim(min(0.0, float(start[tasks].min()) if tasks.size else 0.0),
                end * 1.02 if end > 0 else 1.0)
    ax.set_xlabel(_time_unit(problem))
    ax.set_ylabel("node")
    ax.grid(True, axis="x", alpha=0.3)
    fun = res.get("fun")
    title = f"{problem.name}: {res.get('method', '')} schedule"
    if fun is not None:
        title += f", {res.get('objective')} {fun:.6g}"
    ax.set_title(title)
    if kinds:
        from matplotlib.patches import Patch

        ax.legend(handles=[Patch(color=cmap(n % 10), label=k) for k, n in kind_ids.items()],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")

    if labels and tasks.size:
        _bar_labels(ax, problem, tasks, ys, start, finish)
    if dependencies:
        _dependency_arrows(ax, problem, shown, x, row_of, y_of, start, finish)
    return ax


def _bar_labels(ax: Any, problem: Problem, tasks: np.ndarray, ys: list[tuple[float, float]],
                start: np.ndarray, finish: np.ndarray) -> None:
    """Task names inside the bars wide and tall enough for them (7-point text)."""
    fig = ax.figure
    px = ax.transData.transform(np.c_[start[tasks], np.zeros(tasks.size)])[:, 0]
    px_end = ax.transData.transform(np.c_[finish[tasks], np.zeros(tasks.size)])[:, 0]
    dpi = fig.dpi
    size = 7.0
    for (y, h), i, a, b in zip(ys, tasks.tolist(), px, px_end):
        name = problem.task_names[i]
        lane_px = abs(ax.transData.transform((0, h))[1] - ax.transData.transform((0, 0))[1])
        if (b - a) >= 0.62 * size * len(name) * dpi / 72 + 4 \
                and lane_px >= 1.1 * size * dpi / 72:
            ax.text((start[i] + finish[i]) / 2, y, name, ha="center", va="center",
                    fontsize=size, clip_on=True, gid="task-label")


def _dependency_arrows(ax: Any, problem: Problem, shown: np.ndarray, x: np.ndarray,
                       row_of: dict[int, int], y_of: Any, start: np.ndarray,
                       finish: np.ndarray) -> None:
    """An arrow from each shown predecessor's finish to its successor's start (gid
    ``"dependency"``); thinner and straighter above 50 dependencies."""
    from matplotlib.patches import FancyArrowPatch

    many = problem.n_edges > 50
    for p, s in problem.edges.tolist():
        if not (shown[p] and shown[s]) or int(x[p]) not in row_of \
                or int(x[s]) not in row_of:
            continue
        arrow = FancyArrowPatch((finish[p], y_of(p)[0]), (start[s], y_of(s)[0]),
                                arrowstyle="-|>", mutation_scale=5 if many else 8,
                                color="0.25", linewidth=0.4 if many else 0.7,
                                alpha=0.35 if many else 0.8, shrinkA=0, shrinkB=0,
                                connectionstyle=f"arc3,rad={0 if many else 0.15}",
                                zorder=3)
        arrow.set_gid("dependency")
        ax.add_patch(arrow)


# ---------------------------------------------------------------------------------------------
# utilization


def utilization_shares(res: Any, problem: Problem) -> np.ndarray:
    """Used share of capacity per node and resource, shape (M, K), float64.

    ``L[j, k] / C[j, k]`` with ``L`` the summed demand of the tasks on node ``j`` (all tasks
    resident at once, as in placement mode); 0 where ``C = L = 0`` and ``inf`` where a node
    without a resource is given demand for it. ``res`` may also be an assignment array.
    """
    if isinstance(res, dict):
        x = _solution_iv(res, problem, "utilization")
    else:
        x = _solution_iv({"x": np.asarray(res)}, problem, "utilization")
    M, K = problem.n_nodes, problem.n_resources
    demand = problem.demand
    d = demand[np.arange(problem.n_tasks), x] if demand.ndim == 3 else demand
    load = np.zeros((M, K), np.float64)
    np.add.at(load, x, d.astype(np.float64))
    cap = problem.capacity.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cap > 0, load / np.where(cap > 0, cap, 1.0),
                         np.where(load > 0, np.inf, 0.0))
    return share


def utilization(res: Any, problem: Problem, ax: Any = None, *, kind: str = "auto") -> Any:
    """Used share of each node's capacity, per resource, in percent (placement results).

    Parameters
    ----------
    res : SolveResult
        A placement-mode result (all tasks resident at once).
    problem : Problem
        The problem it solves.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on (default: a new figure).
    kind : {"auto", "bars", "profile"}
        ``"bars"``: one group of bars per node (a bar per resource), in node order.
        ``"profile"``: per resource, the nodes sorted from most to least used, one line each
        (readable for thousands of nodes). ``"auto"``: bars up to :data:`BAR_NODES` nodes.

    Returns
    -------
    matplotlib.axes.Axes
        With bars, ``ax.containers[k]`` holds resource ``k``'s bars in node order; with a
        profile, the line with gid ``"profile:<resource>"``. Heights are
        ``100 * utilization_shares(res, problem)``; overloads (above 100%) are red and
        hatched (bars) or marked with red dots (profile), the 100% line is dashed, and the
        title counts the overloaded nodes. A node lacking a resource it is given demand for
        (share ``inf``) is drawn at the top of the axes.

    Raises
    ------
    ValueError
        For a schedule result, a result without a solution, or one whose task count does
        not match ``problem``.
    """
    if res.get("mode") == "schedule" or res.get("start") is not None:
        raise ValueError(f"plot_utilization shows a placement (all tasks resident at once); "
                         f"this is a schedule result (objective {res.get('objective')!r}): "
                         "use plot_gantt")
    if kind not in ("auto", "bars", "profile"):
        raise ValueError(f"kind must be 'auto', 'bars' or 'profile', got {kind!r}")
    share = 100.0 * utilization_shares(res, problem)
    M, K = share.shape
    if kind == "auto":
        kind = "bars" if M <= BAR_NODES else "profile"
    ax = _new_axes(ax, (max(6.0, min(0.3 * M * max(K, 1) + 2.0, 14.0)) if kind == "bars"
                        else 8.0, 4.0))
    matplotlib = require_matplotlib()
    cmap = matplotlib.colormaps["tab10"]
    finite = share[np.isfinite(share)]
    top = max(110.0, float(finite.max()) * 1.08 if finite.size else 110.0)
    over = share > 100.0 * (1 + 1e-9)
    if kind == "bars":
        width = 0.8 / max(K, 1)
        pos = np.arange(M)
        for k, r in enumerate(problem.resources):
            heights = np.where(np.isfinite(share[:, k]), share[:, k], top)
            bars = ax.bar(pos - 0.4 + (k + 0.5) * width, heights, width=width * 0.95,
                          color=cmap(k % 10), label=f"_{r}")
            for j in np.flatnonzero(over[:, k]).tolist():
                bars.patches[j].set_edgecolor("red")
                bars.patches[j].set_hatch("//")
                bars.patches[j].set_facecolor("mistyrose")
        ax.set_xticks(pos)
        ax.set_xticklabels(problem.node_names, rotation=90 if M > 8 else 0,
                           fontsize="small" if M > 8 else None)
        ax.set_xlabel("node")
        ax.set_xlim(-0.6, M - 0.4)
    else:
        rank = np.arange(1, M + 1)
        for k, r in enumerate(problem.resources):
            order = np.argsort(-np.where(np.isfinite(share[:, k]), share[:, k], np.inf),
                               kind="stable")
            ys = np.minimum(share[order, k], top)
            (line,) = ax.plot(rank, ys, drawstyle="steps-mid", color=cmap(k % 10),
                              label=f"_{r}")
            line.set_gid(f"profile:{r}")
            hot = over[order, k]
            if hot.any():
                ax.plot(rank[hot], ys[hot], "o", color="red", markersize=2,
                        gid=f"overload:{r}")
        ax.set_xlabel("nodes, sorted by use of each resource")
        ax.set_xlim(0.5, M + 0.5)
    ax.axhline(100.0, color="red", linestyle="--", linewidth=1)
    ax.set_ylim(0.0, top)
    ax.set_ylabel("used share of capacity (%)")
    ax.grid(True, axis="y", alpha=0.3)
    n_over = int(over.any(axis=1).sum())
    title = f"{problem.name}: {res.get('method', '')} placement"
    if res.get("fun") is not None:
        title += f", {res.get('objective')} {res.get('fun'):.6g}"
    ax.set_title(title + (f"\n{n_over} of {M} nodes overloaded" if n_over else ""))
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(color=cmap(k % 10), label=r)
                          for k, r in enumerate(problem.resources)]
    handles.append(Line2D([], [], color="red", linestyle="--", label="capacity"))
    if n_over:
        handles.append(Patch(facecolor="mistyrose", edgecolor="red", hatch="//",
                             label="overloaded") if kind == "bars" else
                       Line2D([], [], color="red", marker="o", linestyle="", markersize=3,
                              label="overloaded"))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    return ax


# ---------------------------------------------------------------------------------------------
# the CLI's figure


def summary(res: Any, problem: Problem, path: str | Path | None = None, *,
            dpi: int = 120) -> Any:
    """A figure with the convergence (ga/pso) above the Gantt chart (schedules) or the
    utilization (placements), as ``gabalance solve --plot`` writes it.

    Parameters
    ----------
    res : SolveResult
    problem : Problem
        The problem it solves.
    path : str or Path, optional
        Also save the figure there (format from the extension, e.g. ``.png``).
    dpi : int
        Resolution of the saved file.

    Returns
    -------
    matplotlib.figure.Figure
        Made without pyplot (no window, nothing kept by pyplot).

    Raises
    ------
    ValueError
        When there is nothing to draw (no history and no solution).
    """
    require_matplotlib()
    from matplotlib.figure import Figure

    panels: list[str] = []
    if res.get("history"):
        panels.append("convergence")
    if res.get("x") is not None:
        panels.append("gantt" if res.get("start") is not None else "utilization")
    if not panels:
        raise ValueError("nothing to plot: the result has neither a history nor a solution")
    rows = 3.5 * len(panels) + (min(0.3 * problem.n_nodes, 8.0) if "gantt" in panels else 0)
    fig = Figure(figsize=(10.0, max(rows, 4.0)), layout="constrained")
    ratios = [1.0 if p == "convergence" else 2.0 for p in panels]
    axes = fig.subplots(len(panels), 1, squeeze=False,
                        gridspec_kw={"height_ratios": ratios})[:, 0]
    for ax, panel in zip(axes, panels):
        if panel == "convergence":
            convergence(res, ax)
            ax.set_title(f"{res.get('method')}: best {res.get('objective')} per generation")
        elif panel == "gantt":
            gantt(res, problem, ax)
        else:
            utilization(res, problem, ax)
    if path is not None:
        fig.savefig(path, dpi=dpi, metadata={"Software": None} if str(path).endswith(".png")
                    else None)
    return fig

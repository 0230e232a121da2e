"""Draw the figures of docs/guide.md into docs/figures/ (needs matplotlib).

    python docs/make_figures.py            # writes docs/figures/*.png

Every run uses fixed seeds and generation limits (no time limits), so the figures show the
same plans on every machine.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

import gabalance as gb
from gabalance import examples
from gabalance.generate import ai_cluster, gap_like

OUT = Path(__file__).resolve().parent / "figures"
DPI = 110
META = {"Software": None}  # no version string in the files: reruns give the same bytes


def _save(fig, name: str) -> None:
    path = OUT / name
    fig.savefig(path, dpi=DPI, metadata=META)
    plt.close(fig)
    print(f"wrote {path.relative_to(OUT.parent.parent)}")


def model() -> None:
    """The scenario as a picture: task DAG, demands, nodes with capacities, a GA plan."""
    problem = examples.load("scenario")
    res = gb.solve(problem, max_generations=50, seed=0, backend="numpy")
    fig, ax = plt.subplots(figsize=(9.0, 4.8))
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 6)
    ax.axis("off")
    res_names = problem.resources
    task_xy = {0: (2.2, 3.6), 1: (0.8, 4.8), 2: (2.2, 1.0), 3: (0.8, 2.2), 4: (3.6, 2.6)}
    for i, (x, y) in task_xy.items():
        d = ", ".join(f"{r} {v}" for r, v in zip(res_names, problem.demand[i].tolist()))
        ax.add_patch(FancyBboxPatch((x - 0.55, y - 0.32), 1.1, 0.64,
                                    boxstyle="round,pad=0.04", fc="#dbe9f6", ec="#1f77b4"))
        ax.text(x, y + 0.1, problem.task_names[i], ha="center", va="center",
                fontweight="bold", fontsize=10)
        ax.text(x, y - 0.16, d, ha="center", va="center", fontsize=7)
    for (p, s), data in zip(problem.edges.tolist(), problem.data.tolist()):
        (x0, y0), (x1, y1) = task_xy[p], task_xy[s]
        ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=12,
                                     shrinkA=22, shrinkB=22, color="0.3"))
        ax.text((x0 + x1) / 2 + 0.08, (y0 + y1) / 2 + 0.12, f"{data:g} GB", fontsize=7,
                color="0.3")
    ax.text(2.2, 5.7, "tasks: demand while running,\ndependencies carry data",
            ha="center", va="top", fontsize=9)
    node_y = {j: 5.0 - 1.0 * j for j in range(problem.n_nodes)}
    for j, y in node_y.items():
        cap = ", ".join(f"{r} {v}" for r, v in zip(res_names, problem.capacity[j].tolist()))
        used = j in set(res.x.tolist())
        ax.add_patch(FancyBboxPatch((7.2, y - 0.35), 2.4, 0.7, boxstyle="round,pad=0.04",
                                    fc="#fde2c8" if used else "#f2f2f2", ec="#ff7f0e"))
        ax.text(8.4, y + 0.12, problem.node_names[j], ha="center", va="center",
                fontweight="bold", fontsize=10)
        ax.text(8.4, y - 0.17, "capacity " + cap, ha="center", va="center", fontsize=7)
    ax.text(8.4, 5.8, "nodes: capacity per resource", ha="center", va="top", fontsize=9)
    for i, j in enumerate(res.x.tolist()):
        x, y = task_xy[i]
        ax.add_patch(FancyArrowPatch((x, y), (7.2, node_y[j]), arrowstyle="-|>",
                                     mutation_scale=10, shrinkA=24, shrinkB=4,
                                     linestyle="--", color="#2ca02c", alpha=0.8))
    ax.text(5.6, 0.25, f"dashed: a plan x (task -> node), here the GA's; with start times "
                       f"it is a schedule (makespan {res.fun:g} min)",
            ha="center", fontsize=8, color="#2ca02c")
    _save(fig, "model.png")


def gantt() -> None:
    problem = examples.load("scenario")
    res = gb.solve(problem, max_generations=50, seed=0, backend="numpy")
    fig, ax = plt.subplots(figsize=(8.0, 3.6), layout="constrained")
    res.plot_gantt(problem, ax)
    _save(fig, "gantt.png")


def utilization() -> None:
    problem = ai_cluster(16, 20, dependencies=False, objective="max_utilization", seed=0)
    plans = [gb.solve(problem, method="round_robin"),
             gb.solve(problem, max_generations=20, seed=0, backend="numpy")]
    fig, axes = plt.subplots(2, 1, figsize=(9.0, 7.0), layout="constrained")
    for res, ax in zip(plans, axes):
        res.plot_utilization(problem, ax)
    _save(fig, "utilization.png")


def convergence() -> None:
    problem = gap_like(10, 100, kind="d", seed=0)
    fig, ax = plt.subplots(figsize=(7.0, 3.8), layout="constrained")
    for method in ("ga", "pso"):
        res = gb.solve(problem, "cost", method=method, max_generations=60, seed=0,
                       backend="numba")  # the numpy reference makes the same moves, slowly
        res.plot_convergence(ax, label=method)
    ax.set_title(f"{problem.name}: best cost per generation")
    _save(fig, "convergence.png")


def main() -> int:
    OUT.mkdir(exist_ok=True)
    model()
    gantt()
    utilization()
    convergence()
    return 0


if __name__ == "__main__":
    sys.exit(main())

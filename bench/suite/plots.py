"""PNG figures of a suite run (matplotlib, Agg backend): convergence curves, evaluation speed,
gap distributions, DAG makespans per CCR and AI-cluster convergence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

COLORS = {"ga": "C0", "pso": "C1", "cpsat": "C2", "highs": "C3", "deap": "C4"}


def _step(ax: Any, history: list, label: str, color: str, end: float,
          transform: Any = None) -> None:
    if not history:
        return
    t = [h[0] for h in history] + [end]
    v = [h[1] for h in history] + [history[-1][1]]
    if transform is not None:
        v = [transform(x) for x in v]
    ax.step(t, v, where="post", label=label, color=color)


#: file stem -> title of every figure :func:`draw` can make (in drawing order)
TITLES = {"gap_convergence": "GAP convergence", "gap_distribution": "GAP gap distribution",
          "gap_speed": "GAP evaluations per second", "dag_ccr": "DAG makespan per CCR",
          "ai_convergence": "AI-cluster convergence"}


def draw(doc: dict[str, Any], folder: Path, suite: str) -> dict[str, str]:
    """Draw every figure the document has data for; returns {title: path}."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    out: dict[str, str] = {}
    s = doc["sections"]

    def save(fig: Any, name: str) -> None:
        title = TITLES[name]
        path = folder / f"{suite}_{name}.png"
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        out[title] = str(path)

    if "gap" in s and s["gap"]["rows"]:
        rows = s["gap"]["rows"]
        longest = max(r["time_limit"] for r in rows)
        picks = [r for r in rows if r["time_limit"] == longest][:2]
        fig, axes = plt.subplots(1, len(picks), figsize=(6 * len(picks), 4), squeeze=False)
        for ax, r in zip(axes[0], picks):
            best, sense = r["best_known"], r["sense"]
            for name, res in r["results"].items():
                hist = res.get("history") or []
                _step(ax, hist, name, COLORS.get(name, "k"), r["time_limit"],
                      lambda v, b=best, se=sense: 100 * ((v - b) if se == "min" else (b - v)) / b)
            ax.set(title=f"{r['instance']} ({r['time_limit']:g} s)", xlabel="seconds",
                   ylabel="gap to best known, %", yscale="symlog")
            ax.legend()
        save(fig, "gap_convergence")

        main_t = min(r["time_limit"] for r in rows)
        main = [r for r in rows if r["time_limit"] == main_t]
        solvers = [k for k in ("ga", "pso", "cpsat", "highs", "deap")
                   if any(k in r["results"] for r in main)]
        fig, ax = plt.subplots(figsize=(7, 4))
        data = [[r["results"][k]["gap"] for r in main
                 if k in r["results"] and r["results"][k]["gap"] is not None] for k in solvers]
        ax.boxplot(data)
        ax.set_xticks(range(1, len(solvers) + 1), solvers)
        ax.set(ylabel="gap to best known, %", yscale="symlog",
               title=f"GAP, {len(main)} instances, {main_t:g} s each")
        save(fig, "gap_distribution")

        speed = {k: np.median([r["results"][k]["evaluations"] / r["results"][k]["time"]
                               for r in main if k in r["results"]
                               and r["results"][k].get("evaluations")])
                 for k in ("ga", "pso", "deap") if any(k in r["results"] for r in main)}
        if speed:
            fig, ax = plt.subplots(figsize=(6, 4))
            ax.bar(list(speed), list(speed.values()),
                   color=[COLORS[k] for k in speed])
            ax.set(yscale="log", ylabel="full evaluations per second (median)",
                   title="Search speed on GAP")
            for i, val in enumerate(speed.values()):
                ax.text(i, val, f"{val:,.0f}", ha="center", va="bottom")
            save(fig, "gap_speed")

    if "dag" in s and s["dag"]["rows"]:
        rows = s["dag"]["rows"]
        ccrs = sorted({r["ccr"] for r in rows})
        methods = [("ga", "GA"), ("heft", "gabalance heft"), ("cpop", "gabalance cpop"),
                   ("peft", "gabalance peft"), ("saga_heft", "saga HEFT"),
                   ("saga_cpop", "saga CPoP")]
        methods = [(k, lab) for k, lab in methods if all(r.get(k) is not None for r in rows)]
        fig, ax = plt.subplots(figsize=(7, 4))
        width = 0.8 / max(1, len(methods))
        for i, (k, lab) in enumerate(methods):
            vals = []
            for c in ccrs:
                sel = [r for r in rows if r["ccr"] == c]
                ref = [min(r.get(k) or np.inf for k in
                           ("saga_heft", "saga_cpop", "heft", "cpop", "peft")) for r in sel]
                vals.append(np.mean([r[k] / b for r, b in zip(sel, ref)]))
            ax.bar(np.arange(len(ccrs)) + i * width, vals, width, label=lab)
        ax.set_xticks(np.arange(len(ccrs)) + 0.4 - width / 2, [f"CCR {c:g}" for c in ccrs])
        ax.set(ylabel="makespan / best list scheduler", title="Random DAGs")
        ax.axhline(1.0, color="k", lw=0.5)
        ax.legend()
        save(fig, "dag_ccr")

    if "ai" in s and s["ai"]["rows"]:
        rows = s["ai"]["rows"]
        fig, axes = plt.subplots(1, len(rows), figsize=(4.5 * len(rows), 3.8), squeeze=False)
        for ax, r in zip(axes[0], rows):
            res = r["results"]
            for k in ("ga", "pso"):
                _step(ax, res[k]["history"], k, COLORS[k], s["ai"]["time_limit"])
            for j, k in enumerate(m for m in res if m not in ("ga", "pso")):
                if res[k]["violation"] == 0:
                    ax.axhline(res[k]["fun"], ls="--", color=f"C{j + 5}", label=k, lw=1)
            ax.set(title=r["instance"], xlabel="seconds", ylabel=r["objective"])
            ax.legend(fontsize=7)
        save(fig, "ai_convergence")
    return out

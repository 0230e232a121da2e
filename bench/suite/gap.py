"""GAP section of the suite: gabalance's GA and PSO against CP-SAT, HiGHS and a DEAP GA.

Every solver gets the same wall time on the same instance; the value found is recomputed with
:func:`gabalance.evaluate` from the solver's assignment and compared with the best known value
of ``gap_yagiura/DERIVED_gap_reference_values.csv`` (optima where proven). The instances cover
every set in the data folder: OR-Library gap1-gap12 (type C, small; both senses exist, the
OR-Library's own maximisation is used), and Yagiura's types A, B, C (incl. the large ones)
and D (minimisation; these include OR-Library gapa-gapd).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

import gabalance as gb
from gabalance.io import read_orlib_gap_one, read_yagiura_gap

from . import peers

REF = Path("gap_yagiura", "DERIVED_gap_reference_values.csv")
YAGIURA = Path("gap_yagiura", "AssignmentProblems.jl", "data")

# One instance of every set and size class per suite; "all" below takes every instance.
SUITES: dict[str, dict[str, Any]] = {
    "smoke": {"instances": ["gap1-1", "a05100"], "times": [0.5], "long": [], "long_time": 0},
    "quick": {"instances": ["gap12-1", "a10100", "b10100", "c10100", "d10100"],
              "times": [2.0], "long": [], "long_time": 0},
    "full": {"instances": ["gap4-1", "gap8-1", "gap12-1", "a05100", "a20200", "b05100",
                           "b20200", "c05100", "c20200", "c40400", "d05100", "d10200",
                           "d20100", "d20200"],
             "times": [10.0], "long": ["d20100", "d20200"], "long_time": 60.0},
}
GABALANCE = ("ga", "pso")
PEERS = ("cpsat", "highs", "deap")
SOLVERS = (*GABALANCE, *PEERS)
LONG_SOLVERS = ("ga", "pso", "cpsat", "highs")


def all_instances(data: Path) -> list[str]:
    """Every GAP instance of the data folder, as suite names (``gapK-I`` or a Yagiura stem)."""
    names = [f"gap{k}-{i}" for k in range(1, 13) for i in range(1, 6)]
    # the zips named like c0515_1 are gap1-gap12 again; the others are types A-D
    names += sorted(p.stem for p in (data / YAGIURA).glob("*.zip") if "_" not in p.stem)
    return names


def reference_table(data: Path) -> tuple[dict[tuple[str, str], dict[str, str]],
                                         dict[tuple[str, int], str]]:
    """Reference rows by (instance, sense) and Yagiura names of OR-Library (file, index)."""
    ref: dict[tuple[str, str], dict[str, str]] = {}
    orlib: dict[tuple[str, int], str] = {}
    with open(data / REF, newline="") as fh:
        for row in csv.DictReader(fh):
            ref[(row["instance"], row["sense"])] = row
            if row["orlib_file"] and row["orlib_problem_index_1based"]:
                orlib[(row["orlib_file"].removesuffix(".txt"),
                       int(row["orlib_problem_index_1based"]))] = row["instance"]
    return ref, orlib


def load(name: str, data: Path) -> tuple[gb.Problem, str, float, bool]:
    """(problem, sense, best known value, proven optimal) of a suite instance name."""
    ref, orlib = reference_table(data)
    if name.startswith("gap"):
        stem, index = name.split("-")
        sense = "max"
        p = read_orlib_gap_one(data / "gap_orlib" / f"{stem}.txt", int(index), sense)
        key = (orlib[(stem, int(index))], sense)
    else:
        sense = "min"
        p = read_yagiura_gap(data / YAGIURA / f"{name}.zip", sense)
        key = (name, sense)
    row = ref[key]
    return p, sense, float(row["best_known_value"]), row["proven_optimal"] == "yes"


def gap_percent(value: float | None, best: float, sense: str) -> float | None:
    """Relative distance to the best known value in percent (positive = worse)."""
    if value is None:
        return None
    return 100.0 * ((value - best) if sense == "min" else (best - value)) / abs(best)


def _gabalance(problem: gb.Problem, method: str, limit: float, seed: int) -> dict[str, Any]:
    res = gb.solve(problem, "cost", method=method, time_limit=limit, seed=seed,
                   backend="numba")
    feasible = res.violation == 0 and gb.validate(problem, res.x).ok
    h = res.history
    history = [(float(t), float(v)) for t, v, viol in zip(h["time"], h["best"], h["violation"])
               if viol == 0]
    return {"value": float(res.fun) if feasible else None, "feasible": bool(feasible),
            "bound": None, "status": res.message, "time": float(res.time),
            "compile": float(res.compile_time), "time_limit": float(limit),
            "evaluations": int(res.nfev), "history": _improvements(history),
            "generations": int(res.nit)}


def _improvements(history: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Keep the points where the best value changed (the curve keeps its shape)."""
    out: list[tuple[float, float]] = []
    for t, v in history:
        if not out or v != out[-1][1]:
            out.append((t, v))
    return out


def solver(name: str) -> Callable[..., dict[str, Any]]:
    if name in GABALANCE:
        return lambda p, limit, seed=0: _gabalance(p, name, limit, seed)
    fn = peers.SOLVERS[name]
    return lambda p, limit, seed=0: fn(p, limit, seed=seed)


def run(suite: str, data: Path, *, seed: int = 0, instances: list[str] | None = None,
        available: dict[str, str | None] | None = None,
        log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the GAP section; returns ``{"rows": [...], "long_rows": [...], "skipped": {...}}``."""
    cfg = SUITES[suite]
    names = instances if instances is not None else cfg["instances"]
    available = peers.available() if available is None else available
    skipped = {k: v for k, v in available.items() if v is not None}
    runs = [(n, t, SOLVERS) for t in cfg["times"] for n in names]
    runs += [(n, cfg["long_time"], LONG_SOLVERS) for n in cfg["long"]]
    rows = []
    for name, limit, solvers in runs:
        p, sense, best, proven = load(name, data)
        row: dict[str, Any] = {"instance": name, "m": p.n_nodes, "n": p.n_tasks,
                               "sense": sense, "best_known": best, "proven": proven,
                               "time_limit": limit, "results": {}}
        for s in solvers:
            if s in skipped:
                continue
            t0 = time.perf_counter()
            out = solver(s)(p, limit, seed=seed)
            out["wall"] = time.perf_counter() - t0
            out.pop("x", None)
            out["gap"] = gap_percent(out["value"], best, sense)
            row["results"][s] = out
            g = out["gap"]
            log(f"  gap {name} {limit:g}s {s}: {out['value']} "
                f"({'infeasible' if g is None else f'{g:.3f}%'})")
        rows.append(row)
    return {"rows": rows, "skipped": skipped}


def evaluations_per_second(out: dict[str, Any]) -> float | None:
    ev = out.get("evaluations")
    return ev / out["time"] if ev and out.get("time") else None


def _fmt(v: float | None, digits: int = 2) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def tables(section: dict[str, Any]) -> str:
    """Markdown: per time limit, gap to the best known value per instance and solver, and
    evaluations per second of the searches."""
    out = []
    if section["skipped"]:
        out.append("Not run: " + "; ".join(f"{k} ({v})" for k, v in section["skipped"].items())
                   + ".\n")
    for limit in sorted({r["time_limit"] for r in section["rows"]}):
        rows = [r for r in section["rows"] if r["time_limit"] == limit]
        solvers = [s for s in SOLVERS if any(s in r["results"] for r in rows)]
        out.append(f"#### {limit:g} s per solver: gap to the best known value, % (— = no "
                   "feasible solution)\n")
        out.append("| instance | m x n | sense | best known | " + " | ".join(solvers) + " |")
        out.append("|---|---|---|---:|" + "---:|" * len(solvers))
        for r in rows:
            cells = [_fmt(r["results"][s]["gap"], 3) if s in r["results"] else "" for s in solvers]
            best = r["best_known"]
            out.append(f"| {r['instance']} | {r['m']}x{r['n']} | {r['sense']} | "
                       f"{best:g}{'' if r['proven'] else ' (bound open)'} | "
                       + " | ".join(cells) + " |")
        means = []
        for s in solvers:
            gaps = [r["results"][s]["gap"] for r in rows if s in r["results"]]
            means.append("—" if any(g is None for g in gaps) or not gaps
                         else f"**{np.mean(gaps):.3f}**")
        out.append("| **mean** | | | | " + " | ".join(means) + " |")
        out.append("")
        search = [s for s in solvers if s in ("ga", "pso", "deap")]
        speeds = {s: np.median([evaluations_per_second(r["results"][s]) for r in rows
                                if s in r["results"]]) for s in search}
        out.append("Full evaluations per second (median over the instances above): "
                   + ", ".join(f"{s} {v:,.0f}" for s, v in speeds.items()) + ".\n")
    return "\n".join(out)


def versus_exact(section: dict[str, Any]) -> str:
    """One sentence per instance run at the long time limit: how far gabalance (best of GA
    and PSO) is from CP-SAT and HiGHS, in percentage points of gap (negative = ahead)."""
    rows = [r for r in section["rows"] if r["time_limit"] == max(
        x["time_limit"] for x in section["rows"])]
    parts = []
    for r in rows:
        res = r["results"]
        ours = [res[k]["gap"] for k in GABALANCE if k in res and res[k]["gap"] is not None]
        if not ours:
            continue
        peers_ = [(k, res[k]["gap"]) for k in ("cpsat", "highs")
                  if k in res and res[k]["gap"] is not None]
        if not peers_:
            continue
        diff = ", ".join(f"{k} {min(ours) - g:+.3f}" for k, g in peers_)
        parts.append(f"{r['instance']}: {diff}")
    if not parts:
        return ""
    return (f"At {rows[0]['time_limit']:g} s, gabalance's best gap (GA or PSO) minus each exact "
            "solver's gap, in percentage points (positive = gabalance behind): "
            + "; ".join(parts) + ".\n")


def deap_wins(section: dict[str, Any]) -> dict[str, bool]:
    """Per GAP type (orlib gap1-12, a, b, c, d): does gabalance (best of GA and PSO) beat or
    equal DEAP on every instance, and strictly on at least one?"""
    out: dict[str, list[tuple[float, float]]] = {}
    for r in section["rows"]:
        res = r["results"]
        if "deap" not in res:
            continue
        kind = "gap1-12" if r["instance"].startswith("gap") else r["instance"][0]
        ours = min(g for g in (res.get("ga", {}).get("gap"), res.get("pso", {}).get("gap"))
                   if g is not None)
        theirs = res["deap"]["gap"]
        out.setdefault(kind, []).append((ours, np.inf if theirs is None else theirs))
    return {k: all(a <= b for a, b in v) and any(a < b for a, b in v) for k, v in out.items()}

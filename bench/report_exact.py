"""Markdown tables from ``bench/results/exact_*.json`` (written by ``bench/exact_check.py``).

    python bench/report_exact.py
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(HERE.parent))
from report_quality import by_file  # noqa: E402


def _head(doc: dict) -> str:
    m = doc["machine"]
    return (f"Command: `{doc['command']}`; {m['date']}, {m['cpu']}, {m['cores']} cores, "
            f"SciPy {m['scipy']} (HiGHS), numba {m['numba']}, numpy {m['numpy']}, "
            f"Python {m['python']}; {doc['wall']:.0f} s in all.")


def small(doc: dict) -> str:
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in doc["rows"]:
        groups[(r["mode"], r["objective"], r["sense"])].append(r)
    lines = [_head(doc), "", "| mode | objective | instances | GA at the MILP optimum | "
             "worst GA gap % | mean GA gap % | slowest MILP s |",
             "|---|---|---:|---:|---:|---:|---:|"]

    def row(label: str, obj: str, rows: list[dict]) -> str:
        return (f"| {label} | {obj} | {len(rows)} | {sum(r['reached'] for r in rows)} | "
                f"{max(r['gap'] for r in rows):.3f} | "
                f"{statistics.fmean(r['gap'] for r in rows):.4f} | "
                f"{max(r['milp_time'] for r in rows):.2f} |")

    for (mode, obj, sense), rows in groups.items():
        lines.append(row(mode, f"{obj} ({sense})", rows))
    for mode in ("placement", "schedule"):
        rows = [r for r in doc["rows"] if r["mode"] == mode]
        lines.append(row(f"**{mode}**", "all", rows))
    lines += ["", f"Every MILP and GA solution valid (gabalance.validate): "
              f"{doc['summary']['all_valid']}."]
    return "\n".join(lines)


def orlib(doc: dict) -> str:
    lines = [_head(doc), "", "| file | sense | problems | optimum reproduced | proven optimal | "
             "slowest s |", "|---|---|---:|---:|---:|---:|"]
    for (f, sense), rows in by_file(doc):
        lines.append(f"| {f} | {sense} | {len(rows)} | {sum(r['equal'] for r in rows)} | "
                     f"{sum(r['status'] == 0 for r in rows)} | "
                     f"{max(r['time'] for r in rows):.2f} |")
    s = doc["summary"]
    lines += ["", f"{s['equal']}/{s['problems']} optima reproduced, {s['proven']} proven "
              f"optimal, slowest {s['max_time']:.2f} s; every solution valid: "
              f"{s['all_valid']}."]
    return "\n".join(lines)


def j30(doc: dict) -> str:
    rows = doc["rows"]
    s = doc["summary"]
    by_status: dict[int, int] = defaultdict(int)
    for r in rows:
        by_status[r["status"]] += 1
    gaps = [100.0 * (r["found"] - r["bound"]) / r["found"] for r in rows if r["status"] != 0]
    lines = [_head(doc), "",
             "| instances | proven optimal (0) | limit, MILP solution (1) | limit, heuristic "
             "solution (5) | at the known optimum | every bound <= optimum | worst gap to "
             "bound % | median s |", "|---:|---:|---:|---:|---:|---|---:|---:|",
             f"| {len(rows)} | {by_status[0]} | {by_status[1]} | {by_status[5]} | "
             f"{s['at_optimum']} | {s['bounds_valid']} | {max(gaps, default=0.0):.1f} | "
             f"{statistics.median(r['time'] for r in rows):.2f} |"]
    open_rows = [r for r in rows if r["status"] != 0]
    if open_rows:
        lines += ["", "Not proven optimal: " + ", ".join(
            f"{r['instance']} ({r['bound']:g} <= {r['optimum']} <= {r['found']:g})"
            for r in open_rows) + "."]
    return "\n".join(lines)


def main() -> int:
    for name, fn in (("small", small), ("orlib", orlib), ("j30", j30)):
        path = HERE / f"exact_{name}.json"
        if path.exists():
            print(f"### exact_{name}\n")
            print(fn(json.loads(path.read_text())))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

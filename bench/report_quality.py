"""Markdown tables from the quality benchmarks' JSON files (``bench/results/quality_*.json``).

    python bench/report_quality.py            # every quality_*.json found
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent / "results"


def _head(doc: dict) -> str:
    m = doc["machine"]
    method = doc.get("method", "ga")
    return (f"Command: `{doc['command']}` ({method}, {doc['time_limit']:g} s per problem, seed "
            f"{doc['seed']}, backend {doc['backend']}); {m['date']}, {m['cpu']}, {m['cores']} "
            f"cores, numba {m['numba']} with {m['numba_threads']} threads, numpy {m['numpy']}, "
            f"Python {m['python']}.")


def by_file(doc: dict) -> list[tuple[tuple[str, str], list[dict]]]:
    """OR-Library rows grouped by (file, sense), in file order (gap1, gap2, ..., gap12)."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in doc["rows"]:
        groups[(r["file_problem"].split("-")[0], r["sense"])].append(r)
    return sorted(groups.items(), key=lambda kv: (int(kv[0][0][3:]), kv[0][1]))


def orlib(doc: dict) -> str:
    lines = [_head(doc), "", "| file | sense | problems | optimum reached | worst gap % | "
             "slowest time to best s |", "|---|---|---:|---:|---:|---:|"]
    for (f, sense), rows in by_file(doc):
        lines.append(f"| {f} | {sense} | {len(rows)} | {sum(r['gap'] <= 1e-9 for r in rows)} | "
                     f"{max(r['gap'] for r in rows):.2f} | "
                     f"{max(r['time_to_best'] for r in rows):.2f} |")
    return "\n".join([*lines, "", _summary(doc)])


def instances(doc: dict) -> str:
    lines = [_head(doc), "", "| instance | best known | proven optimal | found | gap % | "
             "time to best s | generations |", "|---|---:|---|---:|---:|---:|---:|"]
    for r in doc["rows"]:
        lines.append(f"| {r['instance']} | {r['reference']} | {'yes' if r['proven'] else 'no'} | "
                     f"{r['found']:g} | {r['gap']:.2f} | {r['time_to_best']:.2f} | "
                     f"{r['generations']} |")
    return "\n".join([*lines, "", _summary(doc)])


def _summary(doc: dict) -> str:
    s = doc["summary"]
    return (f"{s['reached_reference']}/{s['problems']} reach the reference value; mean gap "
            f"{s['mean_gap']:.3f}%, worst {s['worst_gap']:.3f}%; every solution passes "
            f"validate(): {s['all_valid']}.")


def rcpsp(doc: dict) -> str:
    s = doc["summary"]
    rows = doc["rows"]
    ttb = sorted(r["time_to_best"] for r in rows)
    lines = [_head(doc), "", "| instances | optimal | mean deviation % | worst % | "
             "median time to best s | slowest time to best s | mean schedules decoded |",
             "|---:|---:|---:|---:|---:|---:|---:|",
             f"| {s['instances']} | {s['optimal']} ({100 * s['optimal_share']:.1f}%) | "
             f"{s['mean_deviation']:.3f} | {s['max_deviation']:.2f} | {ttb[len(ttb) // 2]:.3f} | "
             f"{ttb[-1]:.2f} | {s['mean_nfev']:.0f} |", "",
             "Not solved to optimality: " + ", ".join(
                 f"{r['instance']} ({r['found']:g} vs {r['optimum']})"
                 for r in rows if r["deviation"] > 1e-9) + ".",
             f"Every schedule passes validate(): {s['all_valid']}."]
    return "\n".join(lines)


def main() -> int:
    for path in sorted(HERE.glob("quality_*.json")):
        doc = json.loads(path.read_text())
        print(f"### {path.name}\n")
        if path.name.startswith("quality_rcpsp"):
            print(rcpsp(doc))
        elif path.name.startswith("quality_gap_orlib"):
            print(orlib(doc))
        else:
            print(instances(doc))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

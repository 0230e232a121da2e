"""Turn the pytest-benchmark JSON of ``bench/bench_evaluate.py`` into markdown tables.

Usage::

    pytest bench/bench_evaluate.py --benchmark-only --benchmark-json=bench/results.json
    python bench/report.py bench/results.json > report.md
    python bench/report.py run1.json run2.json run3.json   # several runs of the suite

For every case: the median wall time of one whole-population evaluation per contender, its
interquartile range and number of rounds, the throughput (evaluations/s in placement mode,
schedules/s in schedule mode, i.e. P / median), and how many times faster ``numba`` (all
threads) and ``numba-1thread`` are than each contender (ratio of medians). Then the project's
targets (numba placement on c801600 at P = 1024: at least 100x the DEAP-style evaluation and
at least 5x the NumPy backend), marked met or not met. Given several JSON files (repeated
runs of the suite), the tables show the first run and a last table lists every run's
speedups of numba and their median, to show the run-to-run spread on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

ORDER = ("numba", "numba-1thread", "numpy", "deap", "deap-ndarray")
LABEL = {
    "numba": "gabalance numba",
    "numba-1thread": "gabalance numba, 1 thread",
    "numpy": "gabalance numpy",
    "deap": "DEAP-style (pure Python)",
    "deap-ndarray": "DEAP-style, instance in NumPy arrays",
}
#: (mode, case, contender) -> minimum speedup of numba over it
TARGETS = {
    ("placement", "c801600", "deap"): 100.0,
    ("placement", "c801600", "numpy"): 5.0,
}


def fmt_time(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.3f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def fmt_rate(rate: float) -> str:
    return f"{rate:,.0f}" if rate >= 100 else f"{rate:,.1f}"


def fmt_ratio(r: float) -> str:
    return f"{r:,.1f}x" if r < 100 else f"{r:,.0f}x"


def load(path: Path) -> tuple[dict, dict, list[dict]]:
    """(run metadata, versions recorded by bench/conftest.py, one row per benchmark)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    meta = {"datetime": doc.get("datetime"), "machine": doc.get("machine_info", {}),
            "commit": doc.get("commit_info", {}), "version": doc.get("version")}
    env = doc.get("gabalance_bench", {})
    rows = []
    for b in doc["benchmarks"]:
        info = b.get("extra_info", {})
        if "mode" not in info:
            continue
        rows.append({**info, "median": b["stats"]["median"], "iqr": b["stats"]["iqr"],
                     "rounds": b["stats"]["rounds"], "name": b["name"]})
    return meta, env, rows


def speedups_of(rows: list[dict], fast: str = "numba") -> dict[tuple[str, str, str], float]:
    """(mode, case, contender) -> median of contender / median of ``fast``."""
    base = {(r["mode"], r["case"]): r["median"] for r in rows if r["contender"] == fast}
    return {(r["mode"], r["case"], r["contender"]): r["median"] / base[r["mode"], r["case"]]
            for r in rows if r["contender"] != fast and (r["mode"], r["case"]) in base}


def render_runs(runs: list[tuple[str, list[dict]]]) -> str:
    """Speedups of numba (all threads) in every run, and their median."""
    per_run = [speedups_of(rows) for _, rows in runs]
    keys = sorted({k for sp in per_run for k in sp},
                  key=lambda k: (k[0], k[1], ORDER.index(k[2]) if k[2] in ORDER else 99))
    out = ["### Speedup of numba (all threads) in each run (ratio of medians)", ""]
    out.append("| case | versus | " + " | ".join(f"run {i + 1}" for i in range(len(runs)))
               + " | median |")
    out.append("|---|---|" + "--:|" * (len(runs) + 1))
    for key in keys:
        vals = [sp.get(key) for sp in per_run]
        got = [v for v in vals if v is not None]
        need = TARGETS.get(key)
        target = f" (target ≥ {need:g}x)" if need else ""
        out.append(f"| {key[0]} {key[1]} | {LABEL.get(key[2], key[2])}{target} | "
                   + " | ".join(fmt_ratio(v) if v is not None else "–" for v in vals)
                   + f" | {fmt_ratio(statistics.median(got)) if got else '–'} |")
    out.append("")
    out.append("Runs: " + "; ".join(f"{i + 1}: {when}" for i, (when, _) in enumerate(runs))
               + ".")
    out.append("")
    return "\n".join(out)


def render(meta: dict, env: dict, rows: list[dict]) -> str:
    out: list[str] = []
    cpu = meta["machine"].get("cpu", {})
    commit = meta["commit"]
    out.append(f"Benchmark run {meta['datetime']} (pytest-benchmark {meta['version']}); "
               f"commit {str(commit.get('id', '?'))[:12]}"
               f"{' (uncommitted changes)' if commit.get('dirty') else ''}.")
    if env:
        ram = env.get("ram_bytes")
        ram_text = f"{ram / 1024**3:.1f} GiB RAM" if ram else "RAM unknown"
        out.append(f"CPU {cpu.get('brand_raw', '?')}, {env.get('cpus_usable', '?')} usable "
                   f"CPUs, {ram_text}; {env.get('platform', '?')}; Python "
                   f"{env.get('python')}, numpy {env.get('numpy')}, numba {env.get('numba')} "
                   f"({env.get('numba_threads')} threads, threading layer "
                   f"{env.get('numba_threading_layer')}), deap {env.get('deap')}.")
    out.append("")

    cases: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for r in rows:
        cases[r["mode"], r["case"]][r["contender"]] = r
    for mode in ("placement", "schedule"):
        keys = [k for k in cases if k[0] == mode]
        if not keys:
            continue
        unit = "evaluations/s" if mode == "placement" else "schedules/s"
        title = ("Placement, objective `cost`" if mode == "placement"
                 else "Schedule decoding, objective `makespan`")
        out.append(f"### {title}")
        out.append("")
        out.append(f"| case | contender | median | IQR | rounds | {unit} | numba faster by "
                   "| numba 1-thread faster by |")
        out.append("|---|---|--:|--:|--:|--:|--:|--:|")
        for key in keys:
            by = cases[key]
            any_row = next(iter(by.values()))
            case = f"{key[1]} (N={any_row['N']}, M={any_row['M']}, P={any_row['P']})"
            fast = by.get("numba")
            fast1 = by.get("numba-1thread")
            for contender in [c for c in ORDER if c in by] + [c for c in by if c not in ORDER]:
                r = by[contender]
                ratio = ratio1 = "–"
                if fast and contender != "numba":
                    ratio = fmt_ratio(r["median"] / fast["median"])
                if fast1 and contender not in ("numba", "numba-1thread"):
                    ratio1 = fmt_ratio(r["median"] / fast1["median"])
                out.append(f"| {case} | {LABEL.get(contender, contender)} | "
                           f"{fmt_time(r['median'])} | {fmt_time(r['iqr'])} | {r['rounds']} | "
                           f"{fmt_rate(r['P'] / r['median'])} | {ratio} | {ratio1} |")
                case = ""
        out.append("")

    return "\n".join(out)


def render_targets(runs: list[list[dict]]) -> str:
    """The project's targets against the median speedup over all runs given."""
    per_run = [speedups_of(rows) for rows in runs]
    n = len(runs)
    what = "the run" if n == 1 else f"the median of {n} runs"
    out = [f"### Targets (speedup of numba, all threads; ratio of medians, {what})", ""]
    out.append("| case | versus | target | measured | |")
    out.append("|---|---|--:|--:|---|")
    for (mode, case, contender), need in TARGETS.items():
        got = [sp[mode, case, contender] for sp in per_run if (mode, case, contender) in sp]
        if not got:
            out.append(f"| {mode} {case} | {LABEL[contender]} | ≥ {need:g}x | not run | |")
            continue
        value = statistics.median(got)
        verdict = "met" if value >= need else "**not met**"
        spread = f" (runs: {min(got):.1f}x–{max(got):.1f}x)" if n > 1 else ""
        out.append(f"| {mode} {case} | {LABEL[contender]} | ≥ {need:g}x | "
                   f"{fmt_ratio(value)}{spread} | {verdict} |")
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("json", nargs="+", type=Path, help="pytest-benchmark --benchmark-json file")
    args = ap.parse_args(argv)
    loaded = [load(path) for path in args.json]
    if not any(rows for _, _, rows in loaded):
        print("no gabalance benchmarks in the input", file=sys.stderr)
        return 1
    meta, env, rows = loaded[0]
    print(render(meta, env, rows))
    if len(loaded) > 1:
        print(render_runs([(m["datetime"], r) for m, _, r in loaded]))
    print(render_targets([r for _, _, r in loaded]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

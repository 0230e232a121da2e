"""The benchmark suite in one command: gabalance against its peers on the benchmark data.

    python -m bench.run --suite quick            # about 2 minutes on 2 cores
    python -m bench.run --suite full             # about 30 minutes on 2 cores
    python -m bench.run --suite smoke --no-write # seconds: checks that every section runs
    python -m bench.run --suite full --sections gap --gap-instances all   # every GAP file

Sections (``--sections``, default all):

* ``gap``   GA and PSO against OR-Tools CP-SAT, HiGHS and a DEAP GA at equal wall time on
  every GAP set (:mod:`bench.suite.gap`, :mod:`bench.suite.peers`);
* ``rcpsp`` PSPLIB j30 against the optimum, the GA beside the LFT priority rule
  (:mod:`bench.suite.rcpsp`);
* ``dag``   random DAGs on heterogeneous processors, the GA against gabalance's heft and
  anrg-saga's HEFT and CPoP, with a same-schedule same-makespan check
  (:mod:`bench.suite.dag`);
* ``ai``    Gavel, Philly, the bundled AI cluster and Alibaba openb, GA and PSO against the
  classic balancers (:mod:`bench.suite.ai`).

Peers that are not installed are skipped and named in the report (``pip install
-e .[bench]`` installs them). Results go to ``bench/results/suite_<suite>.json``, the tables
into ``bench/RESULTS.md`` between the markers of the suite, and PNG plots to
``bench/figures/<suite>_*.png``. ``--data`` defaults to ``gabalance.io.data_dir()``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import re
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from bench._common import default_data, machine, save, warm_up
from bench.suite import ai, dag, gap, rcpsp

HERE = Path(__file__).resolve().parent
SECTIONS = ("gap", "rcpsp", "dag", "ai")
SUITES = ("smoke", "quick", "full")
DAG_TIME = {"smoke": 0.3, "quick": 2.0, "full": 10.0}
PACKAGES = ("numpy", "scipy", "numba", "ortools", "deap", "anrg-saga", "matplotlib")


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def run(suite: str, data: Path, sections: list[str], *, seed: int = 0,
        gap_instances: list[str] | None = None) -> dict[str, Any]:
    """Run the chosen sections; returns the whole result document."""
    warm_up("numba")
    doc: dict[str, Any] = {"suite": suite, "seed": seed, "machine": machine(),
                           "versions": versions(), "sections": {}, "wall": {},
                           "ran": list(sections)}
    for name in sections:
        t0 = time.perf_counter()
        print(f"== {name}", flush=True)
        if name == "gap":
            result = gap.run(suite, data, seed=seed, instances=gap_instances)
        elif name == "rcpsp":
            result = rcpsp.run(suite, data, seed=seed)
        elif name == "dag":
            reason = dag_unavailable()
            rows = dag.run(dag.instances(suite), DAG_TIME[suite], seed, True)
            result = {"rows": rows, "time_limit": DAG_TIME[suite], "skipped": reason}
        else:
            result = ai.run(suite, data, seed=seed)
        doc["sections"][name] = result
        doc["wall"][name] = time.perf_counter() - t0
    return doc


def dag_unavailable() -> str | None:
    try:
        import saga  # noqa: F401
    except ImportError:
        return "anrg-saga not installed"
    return None


def report(doc: dict[str, Any], figures: dict[str, str]) -> str:
    """The Markdown section of RESULTS.md for one suite run."""
    m = doc["machine"]
    v = ", ".join(f"{k} {val}" for k, val in doc["versions"].items() if val)
    lines = [f"Command: `{doc['command']}`; {m['date']}; {m['cpu']}, {m['cores']} cores, "
             f"numba threads {m['numba_threads']}; Python {m['python']}, gabalance "
             f"{m['gabalance']}; {v}. Wall time per section: "
             + ", ".join(f"{k} {s / 60:.1f} min" for k, s in doc["wall"].items()) + ".\n"]
    for name, origin in doc.get("kept", {}).items():
        lines.append(f"Section `{name}` is kept from an earlier run: `{origin['command']}`; "
                     f"{origin['date']}.\n")
    s = doc["sections"]
    if "gap" in s:
        lines += ["### GAP: gabalance against CP-SAT, HiGHS and DEAP at equal wall time\n",
                  f"CP-SAT with num_workers = {m['cores']} (the cores); HiGHS through "
                  "scipy.optimize.milp on gabalance's exact GAP model; the DEAP GA as "
                  "DEAP's documentation teaches it (bench/suite/peers.py). Every value is "
                  "recomputed by gabalance.evaluate from the solver's assignment.\n",
                  gap.tables(s["gap"])]
        if len({r["time_limit"] for r in s["gap"]["rows"]}) > 1:
            lines.append(gap.versus_exact(s["gap"]))
        wins = gap.deap_wins(s["gap"])
        if wins:
            lines.append("gabalance (best of GA and PSO) at least as good as the DEAP GA on "
                         "every instance and strictly better on one or more, per GAP type: "
                         + ", ".join(f"{k}: {'yes' if w else 'NO'}" for k, w in wins.items())
                         + ".\n")
    if "rcpsp" in s:
        lines += ["### RCPSP: PSPLIB j30\n", rcpsp.tables(s["rcpsp"])]
    if "dag" in s:
        lines += ["### DAG scheduling on heterogeneous processors (random DAGs)\n"]
        if s["dag"]["skipped"]:
            lines.append(f"saga peers not run: {s['dag']['skipped']}.\n")
        lines += [f"The GA gets {s['dag']['time_limit']:g} s per instance.\n",
                  dag.table(s["dag"]["rows"])]
    if "ai" in s:
        lines += ["### AI-cluster workloads\n", ai.tables(s["ai"])]
    limits = time_limits(doc)
    if limits:
        lines += ["### Time limits kept\n", limits]
    if figures:
        lines.append("Figures: " + ", ".join(f"[{k}]({v})" for k, v in figures.items()) + ".\n")
    return "\n".join(lines)


def limit_runs(doc: dict[str, Any]) -> list[tuple[str, str, float, float, float]]:
    """Every GA/PSO solve of a suite run with a time limit: (section, instance/method, limit,
    wall seconds, compile seconds); runs saved before compile times were recorded are left
    out."""
    s = doc["sections"]
    out: list[tuple[str, str, float, float, float]] = []
    for r in s.get("gap", {}).get("rows", []):
        for m, res in r["results"].items():
            if m in ("ga", "pso") and "compile" in res:
                out.append(("gap", f"{r['instance']} {m}", r["time_limit"], res["time"],
                            res["compile"]))
    for r in s.get("rcpsp", {}).get("rows", []):
        if "ga_compile" in r:
            out.append(("rcpsp", r["instance"], s["rcpsp"]["time_limit"], r["ga_time"],
                        r["ga_compile"]))
    for r in s.get("dag", {}).get("rows", []):
        if "ga_compile" in r:
            out.append(("dag", str(r.get("id", "")), r["ga_limit"], r["ga_time"],
                        r["ga_compile"]))
    for r in s.get("ai", {}).get("rows", []):
        for m, res in r["results"].items():
            if m in ("ga", "pso") and "compile" in res:
                out.append(("ai", f"{r['instance']} {m}", s["ai"]["time_limit"], res["time"],
                            res["compile"]))
    return out


def time_limits(doc: dict[str, Any]) -> str:
    """Per section: solves, how many kept search time (wall - compile) <= limit + max(5 %,
    0.5 s), the largest overrun, and the compile time seen."""
    runs = limit_runs(doc)
    if not runs:
        return ""
    lines = ["Search time = wall time of the solve minus `SolveResult.compile_time`; kept = "
             "search time <= limit + max(5 % of it, 0.5 s).\n",
             "| section | solves | kept | largest search time / limit | compile s (max) |",
             "|---|---:|---:|---:|---:|"]
    for sec in ("gap", "rcpsp", "dag", "ai"):
        rs = [r for r in runs if r[0] == sec]
        if not rs:
            continue
        kept = sum(1 for _, _, lim, wall, comp in rs
                   if wall - comp <= lim + max(0.05 * lim, 0.5))
        worst = max((wall - comp) / lim for _, _, lim, wall, comp in rs)
        lines.append(f"| {sec} | {len(rs)} | {kept} | {worst:.3f} | "
                     f"{max(r[4] for r in rs):.2f} |")
    return "\n".join(lines) + "\n"


def keep_sections(doc: dict[str, Any], saved: Path) -> None:
    """Add to ``doc`` the sections of the saved run ``saved`` that ``doc`` did not run, each
    marked in ``doc["kept"]`` with that run's command and date."""
    import json

    old = json.loads(saved.read_text())
    kept = dict(old.get("kept", {}))
    for name, section in old.get("sections", {}).items():
        if name in doc["sections"]:
            continue
        doc["sections"][name] = section
        doc["wall"][name] = old.get("wall", {}).get(name, 0.0)
        kept.setdefault(name, {"command": old.get("command", "?"),
                               "date": old.get("machine", {}).get("date", "?")})
    order = {name: k for k, name in enumerate(SECTIONS)}
    doc["sections"] = dict(sorted(doc["sections"].items(), key=lambda kv: order[kv[0]]))
    doc["kept"] = {k: v for k, v in kept.items() if k not in doc.get("ran", [])}


def write_section(path: Path, suite: str, body: str) -> None:
    """Replace (or append) the text between this suite's markers in RESULTS.md."""
    start, end = f"<!-- bench.run {suite}: start -->", f"<!-- bench.run {suite}: end -->"
    block = f"{start}\n## Benchmark suite: `{suite}`\n\n{body}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else \
        text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)


def rewrite(path: Path, results: Path) -> int:
    """Re-render the RESULTS.md section of a saved suite run (after a change of the report
    text only; the figures named are those the run drew)."""
    import json

    from bench.suite import plots

    doc = json.loads(path.read_text())
    figures = {}
    for key, title in plots.TITLES.items():
        png = HERE / "figures" / f"{doc['suite']}_{key}.png"
        if png.exists():
            figures[title] = str(png.relative_to(HERE))
    text = report(doc, figures)
    print(text)
    write_section(results, doc["suite"], text)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--suite", choices=SUITES, default="quick")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help="comma-separated subset of " + ", ".join(SECTIONS))
    ap.add_argument("--data", type=Path, default=None, help="benchmark data folder")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gap-instances", default=None,
                    help="'all' or comma-separated GAP instance names (e.g. gap12-1,d20200)")
    ap.add_argument("--no-write", action="store_true",
                    help="print the report only: no JSON, no RESULTS.md, no figures")
    ap.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    ap.add_argument("--report-from", type=Path, default=None, metavar="JSON",
                    help="run nothing: rewrite the suite's RESULTS.md section from a results "
                         "file this command wrote (bench/results/suite_<suite>.json)")
    ap.add_argument("--keep-others", action="store_true",
                    help="keep the sections not run now from the suite's last results file "
                         "(each is reported with the command and date of the run that made "
                         "it)")
    args = ap.parse_args(argv)
    if args.report_from is not None:
        return rewrite(args.report_from, args.results)
    sections = [s for s in args.sections.split(",") if s]
    bad = sorted(set(sections) - set(SECTIONS))
    if bad:
        ap.error(f"unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
    data = args.data or default_data()
    if not data.is_dir():
        ap.error(f"benchmark data folder {data} not found; pass --data")
    names = None
    if args.gap_instances:
        names = gap.all_instances(data) if args.gap_instances == "all" else \
            args.gap_instances.split(",")
    t0 = time.perf_counter()
    doc = run(args.suite, data, sections, seed=args.seed, gap_instances=names)
    doc["command"] = "python -m bench.run " + shlex.join(
        argv if argv is not None else sys.argv[1:])
    saved = HERE / "results" / f"suite_{args.suite}.json"
    if args.keep_others and saved.exists():
        keep_sections(doc, saved)
    doc["total_wall"] = time.perf_counter() - t0
    figures: dict[str, str] = {}
    if not args.no_write:
        from bench.suite import plots

        figures = plots.draw(doc, HERE / "figures", args.suite)
        save(HERE / "results" / f"suite_{args.suite}.json", doc)
    text = report(doc, {k: str(Path(v).relative_to(HERE)) for k, v in figures.items()})
    print(text)
    if not args.no_write:
        write_section(args.results, args.suite, text)
    print(f"total {doc['total_wall'] / 60:.1f} min", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

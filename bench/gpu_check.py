"""GPU check: the gpu tests, then evaluation and GA throughput of cupy against numba.

    python bench/gpu_check.py [--data DIR] [--out results.json] [--quick]

One command for a machine with an NVIDIA GPU (it runs on a CPU-only machine too, skipping
the GPU rows, which is how it is smoke-tested). Each step is reported even when one before
it failed; the exit status is 1 when any failed. Steps:

1. ``python -P -m pytest -m gpu tests/test_gpu.py tests/test_kernels.py
   tests/test_search_cuda.py`` in a child process (parity of every kernel with the
   NumPy/Numba references; the GA on the device), ended after ``--test-timeout`` seconds.
2. Placement evaluation of the 20 x 200 GAP instance d20200 (``gap_yagiura``; the generator's
   ``gap_like(20, 200, "d")`` without the data) at P = 65536: full evaluations per second,
   median of 5 calls after a warm-up, cupy with the population already on the device, numba
   on all CPU cores.
3. The GA with population 4096 on the same instance for G generations (``--generations``,
   default 20) on each backend with the same seed: generations per second and the final
   cost, to compare quality at equal generations.
4. With ``--equal-time S``: ``backend="auto"`` against numba at S seconds per solve (seeds
   ``--seeds``, default 0 1 2) on d20200, c801600 and the bundled ai_cluster.

Prints a Markdown table with the device, and writes the figures as JSON (``--out``).
Targets: >= 1.5e9 evaluations/s and >= 50x numba on all cores in step 2; >= 100
generations/s in step 3 with the cost equal to the CPU backend's at equal generations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import gabalance as gb
from gabalance.backend import OBJECTIVE_CODES, gpu_status, pack

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import default_data, machine  # noqa: E402


def _instance(data: Path) -> tuple[str, gb.Problem]:
    path = data / "gap_yagiura" / "AssignmentProblems.jl" / "data" / "d20200.zip"
    if path.exists():
        return "d20200", gb.io.read_yagiura_gap(path, "min")
    from gabalance.generate import gap_like

    return "gap_like(20, 200, 'd', seed=0)", gap_like(20, 200, kind="d", seed=0)


def run_tests(quick: bool, timeout_s: float) -> dict:
    """The gpu-marked tests in a child process: ``python -P`` so that the installed package
    (with ``gabalance.kernels``) is imported, not the source tree; each test ends after 120 s
    (pytest-timeout, thread method) and the whole step after ``timeout_s``."""
    tests = HERE.parent / "tests"
    cmd = [sys.executable, "-P", "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider",
           str(tests / "test_gpu.py"), str(tests / "test_kernels.py"),
           str(tests / "test_search_cuda.py")]
    if quick:
        cmd += ["-x"]
    t0 = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=HERE.parent,
                              timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return {"returncode": None, "summary": f"killed after {timeout_s:g} s",
                "seconds": time.perf_counter() - t0, "tail": out.splitlines()[-20:]}
    lines = (done.stdout + done.stderr).strip().splitlines()
    summary = next((ln for ln in reversed(lines) if " passed" in ln or " failed" in ln
                    or " error" in ln or "no tests ran" in ln), lines[-1] if lines else "")
    return {"returncode": done.returncode, "summary": summary.strip("= "),
            "seconds": time.perf_counter() - t0, "tail": lines[-20:]}


def step(doc: dict, name: str, fn, *args) -> None:
    """Run one step into ``doc[name]``; a failure is recorded there and the next step runs."""
    t0 = time.perf_counter()
    try:
        doc[name] = fn(*args)
    except Exception as e:  # every step is reported, whatever happens
        doc[name] = {"error": f"{type(e).__name__}: {e}"}
    print(f"step {name}: {time.perf_counter() - t0:.1f} s"
          + (f" - FAILED {doc[name]['error']}" if "error" in doc[name] else ""), flush=True)


def _time(fn, reps: int) -> float:
    fn()  # warm-up (compilation, transfers of the problem)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _evaluator(name: str, pk: object, pop: np.ndarray, code: int):
    """A no-argument call that evaluates ``pop`` once on backend ``name`` and waits for it."""
    if name == "cupy":
        import cupy

        from gabalance.backend import _cupy as cu

        dpop = cupy.asarray(pop)  # the population already on the device

        def call() -> None:
            cu.placement(pk, dpop, code)
            cupy.cuda.Device().synchronize()

        return call
    from gabalance.backend import _numba as nb

    return lambda: nb.placement(pk, pop, code)


def evaluation(problem: gb.Problem, P: int, backends: list[str]) -> dict:
    pk = pack(problem)
    rng = np.random.default_rng(0)
    pop = rng.integers(0, problem.n_nodes, (P, problem.n_tasks)).astype(np.int32)
    code = OBJECTIVE_CODES["cost"]
    out = {}
    for name in backends:
        call = _evaluator(name, pk, pop, code)
        t = _time(call, 5)
        out[name] = {"seconds": t, "evals_per_s": P / t}
    return out


def ga(problem: gb.Problem, population: int, generations: int, backends: list[str]) -> dict:
    out = {}
    params = gb.GAParams(population=population)
    for name in backends:
        gb.solve(problem, "cost", backend=name, max_generations=1, seed=0,
                 params=gb.GAParams(population=64))  # compile / warm up
        res = gb.solve(problem, "cost", backend=name, max_generations=generations, seed=0,
                       params=params)
        per_gen = res.history["time"][-1] - res.history["time"][0]
        out[name] = {"generations": res.nit, "seconds": per_gen,
                     "generations_per_s": res.nit / per_gen if per_gen > 0 else float("inf"),
                     "cost": res.fun, "valid": bool(gb.validate(problem, res.x).ok)}
    return out


def equal_time(data: Path, seconds: float, seeds: list[int], backends: list[str]) -> dict:
    """Step 4 (``--equal-time S``): ``backend="auto"`` (the device when there is one) against
    numba with default parameters, ``S`` seconds per solve, on d20200, c801600 and the
    bundled ai_cluster, each seed: the final value, whether it is valid and the generations.
    """
    from gabalance import examples

    gap_dir = data / "gap_yagiura" / "AssignmentProblems.jl" / "data"
    problems: list[tuple[str, gb.Problem, str]] = []
    for stem in ("d20200", "c801600"):
        if (gap_dir / f"{stem}.zip").exists():
            problems.append((stem, gb.io.read_yagiura_gap(gap_dir / f"{stem}.zip", "min"),
                             "cost"))
    ai = examples.load("ai_cluster")
    problems.append(("ai_cluster", ai, ai.objective or "makespan"))
    rows = []
    for name, problem, objective in problems:
        for seed in seeds:
            row: dict = {"instance": name, "seed": seed}
            for backend in ("auto", "numba") if "cupy" in backends else ("numba",):
                res = gb.solve(problem, objective, time_limit=seconds, seed=seed,
                               backend=backend)
                row[backend] = {"fun": float(res.fun), "violation": float(res.violation),
                                "valid": bool(gb.validate(problem, res.x, res.start).ok),
                                "generations": int(res.nit), "backend": res.backend,
                                "compile": float(res.compile_time)}
            rows.append(row)
            print(f"equal time {name} seed {seed}: "
                  + ", ".join(f"{b} {r['fun']:.6g} ({r['generations']} gen)"
                              for b, r in row.items() if isinstance(r, dict)), flush=True)
    return {"seconds": seconds, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--population", type=int, default=65536, help="step 2 (default 65536)")
    ap.add_argument("--ga-population", type=int, default=4096, help="step 3 (default 4096)")
    ap.add_argument("--generations", type=int, default=20, help="step 3 (default 20)")
    ap.add_argument("--quick", action="store_true", help="stop the tests at the first failure")
    ap.add_argument("--equal-time", type=float, default=None, metavar="S",
                    help="step 4: auto against numba, S seconds per solve, seeds --seeds")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--test-timeout", type=float, default=240.0,
                    help="seconds the gpu tests may take in all (default 240)")
    args = ap.parse_args(argv)
    ok, why = gpu_status()
    backends = ["cupy", "numba"] if ok else ["numba"]
    doc: dict = {"machine": machine(), "gpu": why, "cpu_count": os.cpu_count()}
    if ok:
        from gabalance.backend._cupy import device_info

        doc["device"] = device_info()
    name, problem = _instance(args.data or default_data())
    doc["instance"] = name
    if ok:
        step(doc, "tests", run_tests, args.quick, args.test_timeout)
    else:
        doc["tests"] = {"summary": "skipped: " + why}
    step(doc, "evaluation", evaluation, problem, args.population, backends)
    step(doc, "ga", ga, problem, args.ga_population, args.generations, backends)
    if args.equal_time:
        step(doc, "equal_time", equal_time, args.data or default_data(), args.equal_time,
             args.seeds, backends)

    dev = doc.get("device", {}).get("name", "no GPU")
    print(f"\n# gpu_check: {dev}; CPU {doc['machine']['cpu']} ({doc['cpu_count']} cores); "
          f"instance {name}\n")
    t = doc["tests"]
    print(f"gpu tests: {t['summary']}"
          + (f" ({t['seconds']:.0f} s)" if "seconds" in t else "") + "\n")
    if t.get("returncode"):
        print("\n".join(t.get("tail", [])) + "\n")
    print("| step | backend | figure | value |\n|---|---|---|---:|")
    for b, r in doc["evaluation"].items():
        if b == "error":
            print(f"| evaluation, P = {args.population} | - | error | {r} |")
            continue
        print(f"| evaluation, P = {args.population} | {b} | evaluations/s | "
              f"{r['evals_per_s']:.3e} |")
    for b, r in doc["ga"].items():
        if b == "error":
            print(f"| GA, population {args.ga_population} | - | error | {r} |")
            continue
        print(f"| GA, population {args.ga_population}, {r['generations']} generations | {b} | "
              f"generations/s | {r['generations_per_s']:.1f} |")
        print(f"| GA, population {args.ga_population}, {r['generations']} generations | {b} | "
              f"final cost (valid: {r['valid']}) | {r['cost']:g} |")
    e, g = doc["evaluation"], doc["ga"]
    if ok and "cupy" in e and "numba" in e and "cupy" in g and "numba" in g:
        ev = e["cupy"]["evals_per_s"] / e["numba"]["evals_per_s"]
        gr = g["cupy"]["generations_per_s"] / g["numba"]["generations_per_s"]
        print(f"\ncupy / numba: evaluation {ev:.1f}x, GA {gr:.1f}x")
    eq = doc.get("equal_time", {})
    if "rows" in eq:
        print(f"\n| equal time ({eq['seconds']:g} s) | seed | auto | numba |\n|---|---:|---:|---:|")
        for r in eq["rows"]:
            cells = [f"{r[b]['fun']:.6g}{'' if r[b]['valid'] else ' (invalid)'}"
                     if b in r else "-" for b in ("auto", "numba")]
            print(f"| {r['instance']} | {r['seed']} | {cells[0]} | {cells[1]} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
    failed = any("error" in doc.get(k, {}) for k in ("evaluation", "ga", "equal_time")) \
        or (ok and doc["tests"].get("returncode", 0) != 0)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

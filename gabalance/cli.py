"""Command line: ``gabalance solve | check | check-result | demo | info | show | simulate | tune``.

Exit codes: 0 success; 1 no feasible solution (``solve``), a result that does not check out
(``check-result``), a GA objective beyond the MILP's proven bound or no feasible GA solution
(``check``), or validate() and the solver disagreeing (``demo``); 2 bad input (a
missing or malformed file, an unknown objective or method, invalid parameters), reported on
one line of stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

FORMATS = ("json", "orlib-gap", "yagiura-gap", "psplib")
BACKEND_CHOICES = ("auto", "numba", "numpy", "cupy")


def _load(name_or_path: str):
    from gabalance import Problem, examples  # type: ignore[attr-defined]

    if name_or_path in examples.names():
        return examples.load(name_or_path)
    return Problem.from_json(name_or_path)


def _summary(problem) -> str:
    lines = [repr(problem)]
    cap = problem.capacity.sum(axis=0)
    lines.append("  total capacity: " + ", ".join(
        f"{r}={v:g}" for r, v in zip(problem.resources, cap.tolist())))
    return "\n".join(lines)


def _read(fmt: str, path: str, sense: str | None, index: int | None = None):
    """A problem from ``path`` in format ``fmt`` (json also takes a bundled example name)."""
    from gabalance import io

    if index is not None and fmt != "orlib-gap":
        raise ValueError("--index picks a problem in a multi-problem OR-Library file; it "
                         "needs --format orlib-gap")
    if fmt == "json":
        return _load(path)
    if fmt == "orlib-gap":
        path, hash_, k = path.partition("#")
        if hash_ and index is not None:
            raise ValueError("give the problem's position either as FILE#K or as --index K, "
                             "not both")
        if k and not k.isdigit():
            raise ValueError(f"in FILE#K, K picks the problem in the file and must be a whole "
                             f"number, got {k!r}")
        if index is None:
            index = int(k or 1)
        if index < 1:
            raise ValueError(f"--index is 1-based, got {index}")
        return io.read_orlib_gap_one(path, index, sense=sense)
    if fmt == "yagiura-gap":
        return io.read_yagiura_gap(path, sense=sense or "min")
    return io.read_psplib(path)


def _read_params(path: str | None, method: str = "ga") -> Any:
    from gabalance import GAParams, MILPParams, PSOParams

    if path is None:
        return None
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    try:
        values = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON: {exc}") from None
    cls: type[GAParams] | type[PSOParams] | type[MILPParams] = (
        MILPParams if method == "milp" else PSOParams if method == "pso" else GAParams)
    if not isinstance(values, dict):
        raise ValueError(f"{path}: parameters must be a JSON object of {cls.__name__} fields "
                         f"(e.g. {{\"population\": 50}}), got {type(values).__name__}")
    try:
        return cls.from_dict(values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path}: {exc}") from None


def _feasibility(problem, res) -> tuple[bool, Any]:
    """What :func:`gabalance.validate` says about a result: (feasible, Validation)."""
    import gabalance as gb

    check = gb.validate(problem, res.x, res.get("start"))
    return check.ok, check


def _last_tasks(problem, res, count: int = 5) -> list[str]:
    return _finishing(res, problem.task_names, [problem.node_names[j] for j in res.x], count)


def _finishing(res, task_names: Sequence[str], nodes: Sequence[Any],
               count: int = 5) -> list[str]:
    """Makespan and the last ``count`` tasks to finish (``nodes[i]``: task i's node name)."""
    start, finish = res.get("start"), res.get("finish")
    if start is None or finish is None:
        return []
    lines = [f"makespan:    {float(np.max(finish)):.6g}" if len(finish) else "makespan:    0",
             f"last {min(count, len(finish))} tasks to finish:"]
    for i in np.argsort(finish, kind="stable")[-count:]:
        lines.append(f"  {task_names[i]:>12} on {nodes[i]:<12} "
                     f"start {start[i]:10.4g}  finish {finish[i]:10.4g}")
    return lines


def _solve(problem, **kwargs):
    """``gabalance.solve`` with wrong-type arguments reported like any other bad input."""
    import gabalance as gb

    try:
        return gb.solve(problem, **kwargs)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def _status_line(res) -> str:
    from gabalance.result import STATUS

    label = STATUS.get(res.status, "").split(":")[0]
    return f"status:      {res.status} ({label}): {res.message}"


def _outcome(res, feasible: bool, checked_by: str) -> list[str]:
    """What ``solve`` prints of a result (and ``show`` of a saved one), from the method line
    to the status line; ``checked_by`` says where ``feasible`` comes from."""
    lines = [f"method:      {res.method} (backend {res.backend}, seed {res.seed})"]
    if res.x is None:
        return [*lines, _status_line(res)]
    lines += [f"objective:   {res.objective} ({res.sense}) = {res.fun:.10g}",
              f"feasible:    {'yes' if feasible else 'no'} ({checked_by}), "
              f"violation {res.violation:.6g}"]
    if res.method == "milp":
        lines += [f"bound:       {res.bound:.10g} (proven), gap {_pct(res.gap)}; "
                  f"{res.nit} branch-and-bound nodes",
                  "model:       " + ", ".join(f"{k} {v}" for k, v in res.model.items())]
    else:
        lines.append(f"generations: {res.nit}, evaluations: {res.nfev}")
        if res.get("bound") is not None:
            kind = "LP relaxation" if res.mode == "placement" else "schedule lower bound"
            gap = f", gap {_pct(res.gap)}" if res.get("gap") is not None else ""
            lines.append(f"bound:       {res.bound:.10g} ({kind}, proven){gap}")
    compile_s = res.get("compile_time")
    if compile_s:
        lines.append(f"time:        {res.time:.3f} s ({res.time - compile_s:.3f} s search, "
                     f"{compile_s:.3f} s compiling kernels, not counted in the time limit)")
    else:
        lines.append(f"time:        {res.time:.3f} s")
    return [*lines, _status_line(res)]


def _broken(check) -> str:
    problems = str(check).splitlines()
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return "broken constraints: " + "; ".join(problems[:3]) + more


def _write_outputs(args: argparse.Namespace, problem, res) -> None:
    """``--out`` and ``--plot`` of ``solve``."""
    if args.out:
        res.save(args.out)
        print(f"wrote {args.out}")
    _write_plot(args.plot, problem, res)


def cmd_solve(args: argparse.Namespace) -> int:
    problem = _read(args.format, args.file, args.sense, args.index)
    if args.objective is None and problem.objective is None:
        raise ValueError(f"problem {problem.name!r} sets no objective; pass --objective")
    if args.plot:
        _plot_ready()  # before a long solve
    _output_ready(args.out, "--out")  # a typo must not cost the result of a long solve
    _output_ready(args.plot, "--plot")
    params = _read_params(args.params, args.method)
    res = _solve(problem, objective=args.objective, sense=args.sense, method=args.method,
                 backend=args.backend, time_limit=args.time_limit,
                 max_generations=args.generations, max_evaluations=args.max_evaluations,
                 seed=args.seed, params=params,
                 progress=args.progress)
    print(_summary(problem))
    if res.x is None:
        print("\n".join(_outcome(res, False, "")))
        _write_outputs(args, problem, res)
        return 1
    feasible, check = _feasibility(problem, res)
    print("\n".join(_outcome(res, feasible, "gabalance.validate")))
    for line in _last_tasks(problem, res):
        print(line)
    if not feasible:
        print(_broken(check))
    _write_outputs(args, problem, res)
    if feasible != (res.violation == 0):
        print("gabalance: error: validate() and the solver disagree on feasibility",
              file=sys.stderr)
        return 1
    if res.status == 4 and res.message == "interrupted":
        return INTERRUPTED  # the best plan was printed and written; the shell sees Ctrl-C
    return 0 if feasible else 1


#: exit status after Ctrl-C (128 + SIGINT, what shells expect)
INTERRUPTED = 130


def _output_ready(path: str | None, flag: str) -> None:
    """A file ``path`` can be written: its folder exists and it is not itself a folder.
    Checked before a solve starts, with a one-line error (exit 2) naming the flag."""
    if not path:
        return
    p = Path(path)
    if p.is_dir():
        raise ValueError(f"{flag} {path}: is a directory, expected a file name")
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise ValueError(f"{flag} {path}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK):
        raise ValueError(f"{flag} {path}: folder {str(folder)!r} is not writable")


def _plot_ready() -> None:
    """matplotlib imports, else a one-line error (exit 2) saying how to install it."""
    from gabalance.plot import require_matplotlib

    try:
        require_matplotlib()
    except ImportError as exc:
        raise ValueError(f"--plot: {exc}") from None


def _write_plot(path: str | None, problem, res) -> None:
    """``--plot``: convergence above the Gantt chart or the utilization, as an image."""
    if not path:
        return
    from gabalance.plot import summary

    if res.get("history") or res.get("x") is not None:
        summary(res, problem, path)
        print(f"wrote {path}")
    else:
        print(f"no plot: {res.method} keeps no history and found no solution")


def _pct(gap: float) -> str:
    return "n/a" if gap != gap else f"{100.0 * gap:.4g}%"


def cmd_check(args: argparse.Namespace) -> int:
    from gabalance.result import STATUS

    problem = _read(args.format, args.file, args.sense, args.index)
    objective = args.objective or problem.objective
    if objective is None:
        raise ValueError(f"problem {problem.name!r} sets no objective; pass --objective")
    print(_summary(problem))
    ga = _solve(problem, objective=objective, sense=args.sense, method="ga",
                backend=args.backend, time_limit=args.time_limit, seed=args.seed)
    ex = _solve(problem, objective=objective, sense=args.sense, method="milp",
                time_limit=args.time_limit, initial=ga if ga.violation == 0 else None)
    sense = ga.sense
    print(f"objective: {objective} ({sense}); GA seed {args.seed}; time limit "
          f"{args.time_limit:g} s each\n")
    print(f"{'method':<6} {objective:>18} {'status':<32} {'time s':>8}")
    for res in (ga, ex):
        label = STATUS.get(res.status, "").split(":")[0]
        fun = "-" if res.x is None else f"{res.fun:.10g}"
        if res.x is not None and res.violation > 0:
            fun += " (infeasible)"
        print(f"{res.method:<6} {fun:>18} {f'{res.status} ({label})':<32} {res.time:>8.2f}")
    bound = ex.bound
    print(f"\nMILP bound: {bound:.10g}" + (" (= the optimum)" if ex.status == 0 else
                                         " (proven; the optimum lies between it and the best "
                                         "solution)") if bound == bound else
          "\nMILP bound: none (" + ex.message + ")")
    if ex.status == 6 and bound == bound:  # HiGHS never ran: say why
        print(f"MILP: {ex.message}")
    if ga.violation > 0:
        print("GA: no feasible solution")
        return 1
    if bound == bound:
        diff = ga.fun - bound if sense == "min" else bound - ga.fun
        gap = 0.0 if diff == 0 else diff / max(abs(ga.fun), 1e-12)
        print(f"GA gap to the bound: {_pct(gap)}"
              + (" (the GA found an optimum)" if ex.status == 0 and diff <= 1e-9 * max(
                  1.0, abs(bound)) else ""))
        if diff < -1e-6 * max(1.0, abs(bound)):
            print("gabalance: error: the GA's objective is beyond the MILP's proven bound",
                  file=sys.stderr)
            return 1
    return 0


def cmd_check_result(args: argparse.Namespace) -> int:
    from gabalance import SolveResult

    problem = _read(args.format, args.file, args.sense, args.index)
    res = SolveResult.load(args.result)  # unreadable or not a result file: bad input, exit 2
    try:
        res.check(problem)  # what SolveResult.load(path, problem) runs
    except (ValueError, KeyError, AttributeError, IndexError, TypeError) as exc:
        msg = " ".join(str(exc).split())
        print(f"invalid: {args.result} does not check out against {problem.name!r}: {msg}",
              file=sys.stderr)
        return 1
    feasible, check = _feasibility(problem, res)
    what = (f"{res.get('method', '?')} result, {res['objective']} = {res.fun:.10g} "
            f"(re-evaluated and re-validated against {problem.name!r})")
    if not feasible:
        problems = str(check).splitlines()
        print(f"infeasible: {what}; violation {res.violation:.6g}: " + "; ".join(problems[:3]))
        return 1
    print(f"valid: {what}")
    return 0


def _versus(ga, bb, sense: str) -> str:
    """``demo``: how the GA compares with the best baseline ``bb``."""
    if ga.violation == 0 and bb.violation == 0 and bb.fun == ga.fun:
        return f"GA vs the best baseline ({bb.method}, {bb.fun:.8g}): the same value"
    if ga.violation == 0 and bb.violation == 0 and bb.fun != 0:
        gain = (bb.fun - ga.fun) if sense == "min" else (ga.fun - bb.fun)
        pct = 100.0 * gain / abs(bb.fun)
        word = "better" if gain >= 0 else "worse"
        return f"GA vs the best baseline ({bb.method}, {bb.fun:.8g}): {abs(pct):.2f}% {word}"
    if ga.violation == 0 and bb.violation > 0:
        return "GA vs the best baseline: only the GA found a feasible plan"
    return (f"GA vs the best baseline ({bb.method}): "
            + ("no feasible GA plan" if ga.violation > 0 else "no percentage (objective 0)"))


def cmd_demo(args: argparse.Namespace) -> int:
    import gabalance as gb
    from gabalance.backend import resolve_backend
    from gabalance.solve import BASELINE_METHODS, SCHEDULE_ONLY_METHODS

    problem = _load(args.instance)
    objective = args.objective or problem.objective or "makespan"
    schedule = gb.mode_of(objective) == "schedule"  # an unknown objective is reported here
    print(_summary(problem))
    print(f"\nobjective: {objective} ({'schedule' if schedule else 'placement'} mode); "
          "feasible = gabalance.validate finds no broken constraint")
    print(f"GA: seed {args.seed}, time limit {args.time_limit:g} s, backend "
          f"{resolve_backend(args.backend)}; "
          "the baselines each build one plan\n", flush=True)
    rows = []
    ga = _solve(problem, objective=objective, method="ga", backend=args.backend,
                time_limit=args.time_limit, seed=args.seed, progress=sys.stderr.isatty())
    rows.append(ga)
    for method in BASELINE_METHODS:
        if method in SCHEDULE_ONLY_METHODS and not schedule:
            continue  # list schedulers order tasks in time; they have no placement meaning
        rows.append(_solve(problem, objective=objective, method=method, backend=args.backend,
                           seed=args.seed))
    consistent = True
    feasible = []
    print(f"{'method':<22} {objective:>20} {'violation':>10} {'feasible':>9} {'time s':>8}")
    for res in rows:
        ok, _ = _feasibility(problem, res)
        consistent &= ok == (res.violation == 0)
        feasible.append(ok)
        print(f"{res.method:<22} {res.fun:>20.8g} {res.violation:>10.4g} "
              f"{'yes' if ok else 'no':>9} {res.time:>8.2f}")
    sense = ga.sense
    order = gb.rank_order([r.fun for r in rows], [r.violation for r in rows], sense)
    best = rows[int(order[0])]
    base = [r for r in rows if r.method != "ga"]
    bb = base[int(gb.rank_order([r.fun for r in base], [r.violation for r in base],
                                sense)[0])]
    tied = [r.method for r in rows if r.violation == best.violation and r.fun == best.fun]
    who = best.method if len(tied) == 1 else "a tie of " + ", ".join(tied)
    print(f"\nbest: {who} ({objective} {best.fun:.8g}); the GA ran {ga.nit} "
          f"generations, {ga.nfev} evaluations")
    print(_versus(ga, bb, sense))
    x = best.x
    counts = np.bincount(x, minlength=problem.n_nodes)
    busiest = np.argsort(-counts, kind="stable")[:5]
    print("busiest nodes: " + ", ".join(
        f"{problem.node_names[j]} ({counts[j]} tasks)" for j in busiest))
    for line in _last_tasks(problem, best):
        print(line)
    if not consistent:
        print("gabalance: error: validate() and the solver disagree on feasibility",
              file=sys.stderr)
    return 0 if consistent else 1


def cmd_info(args: argparse.Namespace) -> int:
    import numba
    import scipy

    import gabalance as gb
    from gabalance.backend import BACKENDS, get_backend, gpu_status, resolve_backend
    from gabalance.solve import BASELINE_METHODS, DEFAULT_GENERATIONS, SEARCH_METHODS

    print(f"gabalance {gb.__version__}")
    print(f"python    {platform.python_version()} ({platform.machine()}, {os.cpu_count()} cpus)")
    print(f"numpy     {np.__version__}\nscipy     {scipy.__version__}")
    print(f"numba     {numba.__version__} ({numba.get_num_threads()} threads)")
    print(f"backends  {', '.join(BACKENDS)}; auto -> {resolve_backend('auto')}")
    ok, why = gpu_status()
    if ok:
        d = get_backend("cupy").device_info()
        print(f"gpu       {d['name']} (compute capability {d['compute_capability']}, "
              f"{d['memory_gib']} GiB); CUDA runtime {d['cuda_runtime']}, driver "
              f"{d['cuda_driver']}; CuPy {d['cupy']}")
    else:
        print(f"gpu       none: {why}")
    print(f"methods   search: {', '.join(SEARCH_METHODS)}; exact: milp; baselines: "
          f"{', '.join(BASELINE_METHODS)}")
    placement = gb.PLACEMENT_OBJECTIVES + gb.DEVICE_OBJECTIVES
    print(f"objectives placement: {', '.join(placement)}; schedule: "
          f"{', '.join(gb.SCHEDULE_OBJECTIVES)}")
    defaults = ", ".join(f"{k}={v}" for k, v in gb.GAParams().to_dict().items())
    print(f"GA        defaults: {defaults}")
    pso = ", ".join(f"{k}={v}" for k, v in gb.PSOParams().to_dict().items())
    print(f"PSO       defaults: {pso}")
    print(f"          without --time-limit or --generations: {DEFAULT_GENERATIONS} generations "
          "(iterations)")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from gabalance import SolveResult

    if args.problem:  # FILE is a result (--format and the rest are the problem's)
        return _show_result(args, SolveResult.load(args.file))
    res = _saved_result(args.file, args.format)
    if res is not None:
        return _show_result(args, res)
    problem = _read(args.format, args.file, args.sense, args.index)
    print(_summary(problem))
    if args.out:
        problem.to_json(args.out)
        print(f"wrote {args.out}")
    return 0


def _saved_result(path: str, fmt: str):
    """The SolveResult saved in ``path`` (by ``solve --out``), or None: a problem file."""
    from gabalance import SolveResult

    if fmt != "json" or not Path(path).is_file():
        return None
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (ValueError, RecursionError):  # not JSON (or too deep): the problem reader says so
        return None
    if not isinstance(doc, dict) or doc.get("format") != "gabalance-result":
        return None
    return SolveResult.load(path)


def _show_result(args: argparse.Namespace, res) -> int:
    """``show RESULT.json [--problem FILE]``: a saved result, summarised; with its problem
    re-validated against it, and each node's load."""
    if args.out:
        raise ValueError(f"--out converts a problem file to JSON; {args.file} is a saved result")
    problem = None
    if args.problem:
        problem = _read(args.format, args.problem, args.sense, args.index)
        try:
            if res.get("x") is not None:  # (a result without a solution has nothing to check)
                res.check(problem)
        except (ValueError, KeyError, AttributeError, IndexError, TypeError) as exc:
            raise ValueError(f"{args.file} does not check out against {problem.name!r}: "
                             f"{exc}") from None
    try:
        feasible = res.get("x") is not None and res.violation == 0
        how = "gabalance.validate" if problem is not None else \
            "as saved; --problem re-validates"
        lines = _outcome(res, feasible, how)
    except (AttributeError, KeyError) as exc:
        raise ValueError(f"{args.file}: an incomplete result file, no {exc}") from None
    print(f"result:      {args.file}")
    if problem is not None:
        print(_summary(problem))
    print("\n".join(lines))
    if res.x is None:
        return 0
    assignment = res.get("assignment") or {}
    lines = _usage(assignment, problem)
    lines += _finishing(res, list(assignment), [str(n) for n in assignment.values()])
    if problem is not None:
        lines += _node_loads(problem, res)
    print("\n".join(lines))
    return 0


def _usage(assignment: dict, problem) -> list[str]:
    """How many tasks run on how many nodes (and how many wait, ``gpu_allocation``)."""
    placed = [n for n in assignment.values() if n is not None]
    nodes = len(set(placed))
    of = f" of {problem.n_nodes}" if problem is not None else ""
    waiting = len(assignment) - len(placed)
    wait = f", {waiting} waiting" if waiting else ""
    counts: dict[str, int] = {}
    for n in placed:
        counts[n] = counts.get(n, 0) + 1
    busiest = sorted(counts.items(), key=lambda kv: -kv[1])[:5]
    plural = "s" if nodes != 1 or of else ""
    return [f"tasks:       {len(placed)} on {nodes}{of} node{plural}{wait}",
            "busiest:     " + ", ".join(f"{n} ({c} tasks)" for n, c in busiest)]


def _node_loads(problem, res) -> list[str]:
    """Each used node's tasks and load against its capacity per resource, overloads
    marked: the summed demand of its tasks (placements), or their peak demand at one time
    and the share of the makespan the node is busy (schedules)."""
    x = np.asarray(res.x, np.int64)
    on = np.flatnonzero(x >= 0)
    demand = problem.demand
    d = np.asarray(demand[on, x[on]] if demand.ndim == 3 else demand[on], np.float64)
    cap = np.asarray(problem.capacity, np.float64)
    start, finish = res.get("start"), res.get("finish")
    span = float(np.max(finish)) if finish is not None and len(finish) else 0.0
    lines = [f"load per node (nodes with tasks; {'peak' if start is not None else 'summed'} "
             "demand / capacity):"]
    for j in np.unique(x[on]):
        mine = x[on] == j
        if start is None or finish is None:
            load, busy = d[mine].sum(axis=0), ""
        else:
            s, f = np.asarray(start)[on][mine], np.asarray(finish)[on][mine]
            load, active = _peak(s, f, d[mine])
            busy = f", busy {100.0 * active / span:.3g}% of the makespan" if span > 0 else ""
        parts = ", ".join(f"{r} {load[k]:g}/{cap[j, k]:g} ({_share(load[k], cap[j, k])})"
                          for k, r in enumerate(problem.resources))
        over = "  OVER CAPACITY" if (load > cap[j] + 1e-9 * np.abs(cap[j])).any() else ""
        lines.append(f"  {problem.node_names[j]:<12} {int(mine.sum()):>5} tasks{busy}: "
                     f"{parts}{over}")
    return lines


def _peak(start: np.ndarray, finish: np.ndarray, demand: np.ndarray) -> tuple[np.ndarray, float]:
    """The most demand per resource of tasks running at one time (a task ending at t frees
    its share for one starting at t), and how long at least one of them runs."""
    times = np.concatenate([finish, start])
    steps = np.concatenate([-demand, demand])
    order = np.lexsort((np.r_[np.zeros(len(finish)), np.ones(len(start))], times))
    peak = np.maximum(np.cumsum(steps[order], axis=0).max(axis=0), 0.0)
    active, end = 0.0, -np.inf
    for a, b in sorted(zip(start.tolist(), finish.tolist())):
        active += max(0.0, b - max(a, end))
        end = max(end, b)
    return peak, active


def _share(load: float, cap: float) -> str:
    if cap > 0:
        return f"{100.0 * load / cap:.3g}%"
    return "over" if load > 0 else "-"


def cmd_simulate(args: argparse.Namespace) -> int:
    from gabalance import simulate as sim

    trace = sim.load_trace(args.trace, jobs=args.jobs, throughputs=args.throughputs)
    policies = list(dict.fromkeys(p.replace("-", "_") for p in (args.policy or sim.POLICIES)))
    print(f"{trace!r}: noise sigma {args.sigma:g}, seed {args.seed}, GA re-plan budget "
          f"{args.time_budget:g} s\n", flush=True)
    results = [sim.simulate(trace, p, sigma=args.sigma, seed=args.seed,
                            time_budget=args.time_budget) for p in policies]
    print(sim.format_table(results))
    if args.out:
        sim.save_results(args.out, results, trace=trace.name, sigma=args.sigma, seed=args.seed,
                         time_budget=args.time_budget)
        print(f"wrote {args.out}")
    return 0


def _read_best_known(path: str) -> dict[str, float]:
    """``--best-known``: a CSV with columns ``problem,value`` (the problem's name)."""
    import csv

    out: dict[str, float] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"problem", "value"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: --best-known needs a CSV with columns problem,value")
        for row in reader:
            try:
                out[row["problem"].strip()] = float(row["value"])
            except (TypeError, ValueError):
                raise ValueError(f"{path} line {reader.line_num}: value {row['value']!r} of "
                                 f"problem {row['problem']!r} is not a number") from None
    return out


def cmd_tune(args: argparse.Namespace) -> int:
    from gabalance.tuning import tune

    problems = [_read(args.format, f, args.sense) for f in args.files]
    known = None
    if args.best_known:
        table = _read_best_known(args.best_known)
        known = [table.get(p.name) for p in problems]
    try:
        res = tune(problems, args.method, time_limit=args.time_limit, n_trials=args.trials,
                   seed=args.seed, storage=args.storage, study_name=args.study_name,
                   best_known=known, repeats=args.repeats, objective=args.objective,
                   backend=args.backend, timeout=args.timeout, progress=not args.quiet)
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    print(res.report())
    if args.out:
        res.save_params(args.out)
        print(f"wrote {args.out} (gabalance solve --method {args.method} --params {args.out})")
    if args.report:
        res.save(args.report)
        print(f"wrote {args.report}")
    return 0


def _add_input(p: argparse.ArgumentParser, sense_help: str) -> None:
    p.add_argument("--format", default="json", choices=FORMATS,
                   help="file format (default json; json also takes a bundled example name)")
    p.add_argument("--index", type=int, default=None, metavar="K",
                   help="orlib-gap: solve problem K (1-based) of the file (or FILE#K)")
    p.add_argument("--sense", default=None, choices=["min", "max"], help=sense_help)


def _version() -> str:
    from gabalance import __version__

    return f"gabalance {__version__}"


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose help and usage are plain text: the reST markup that help
    text takes from docstrings (double backticks, roles such as :func:) is dropped."""

    def format_help(self) -> str:
        return _plain(super().format_help())

    def format_usage(self) -> str:
        return _plain(super().format_usage())


def _plain(text: str) -> str:
    return re.sub(r":[a-z]+(?::[a-z]+)*:`~?", "`", text).replace("`", "")


def _add_solve_parser(sub) -> None:
    solve = sub.add_parser("solve", help="solve a problem with the GA or a baseline")
    solve.add_argument("file", help="a problem file, or a bundled example (scenario, "
                                    "ai_cluster)")
    solve.add_argument("--method", default="ga",
                       help="ga (default), pso, milp (exact, small instances) or a baseline: "
                            "round_robin, least_connections, least_loaded, "
                            "first_fit_decreasing, best_fit_decreasing, heft, cpop, peft, wspt "
                            "(schedule objectives), random")
    solve.add_argument("--objective", default=None,
                       help="default: the problem's own objective")
    _add_input(solve, "objective sense (only cost may be maximised; for GAP files also the "
                      "sense the file is read with)")
    solve.add_argument("--time-limit", type=float, default=None, metavar="S",
                       help="wall-clock seconds for the whole solve")
    solve.add_argument("--generations", type=int, default=None, metavar="N",
                       help="generation limit (with no limit given: 300 generations)")
    solve.add_argument("--max-evaluations", type=int, default=None, metavar="N",
                       help="evaluation budget of ga/pso (nfev; a machine-independent limit, "
                            "as tune gives each trial)")
    solve.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    solve.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    solve.add_argument("--params", default=None, metavar="PARAMS.json",
                       help="a JSON object of GAParams fields (PSOParams for pso, "
                            "MILPParams for milp)")
    solve.add_argument("--out", default=None, metavar="RESULT.json",
                       help="save the result as JSON (check it with check-result)")
    solve.add_argument("--progress", action="store_true",
                       help="show generation, time and best value on stderr")
    solve.add_argument("--plot", default=None, metavar="OUT.png",
                       help="draw the convergence (ga, pso) and the Gantt chart (schedules) or "
                            "node utilization (placements) into an image (needs matplotlib: "
                            'pip install "gabalance[plot]")')
    solve.set_defaults(func=cmd_solve)


def _add_check_parser(sub) -> None:
    exact = sub.add_parser("check", help="GA and the exact MILP on one instance: both "
                                         "objectives, the proven bound, the GA's gap to it")
    exact.add_argument("file", help="a problem file, or a bundled example (scenario)")
    exact.add_argument("--objective", default=None,
                       help="default: the problem's own objective")
    _add_input(exact, "objective sense (only cost may be maximised)")
    exact.add_argument("--time-limit", type=float, default=60.0, metavar="S",
                       help="wall-clock seconds for the GA and again for the MILP (default 60)")
    exact.add_argument("--seed", type=int, default=0, help="GA seed (default 0)")
    exact.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    exact.set_defaults(func=cmd_check)


def _add_check_result_parser(sub) -> None:
    check = sub.add_parser("check-result",
                           help="reload a saved result and re-validate it against its problem")
    check.add_argument("result", help="a result JSON written by solve --out")
    check.add_argument("file", help="the problem it solves (file or bundled example name)")
    _add_input(check, "sense for GAP files (default: the file's own)")
    check.set_defaults(func=cmd_check_result)


def _add_demo_parser(sub) -> None:
    demo = sub.add_parser("demo", help="GA and every baseline on a bundled instance, one table")
    demo.add_argument("--instance", default="ai_cluster",
                      help="bundled name (ai_cluster, scenario) or a problem JSON file")
    demo.add_argument("--objective", default=None,
                      help="default: the instance's own objective")
    demo.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    demo.add_argument("--time-limit", type=float, default=20.0, metavar="S",
                      help="GA wall-clock seconds (default 20)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=cmd_demo)


def _add_info_parser(sub) -> None:
    info = sub.add_parser("info", help="versions, threads, backends, methods, GA defaults")
    info.set_defaults(func=cmd_info)


def _add_show_parser(sub) -> None:
    show = sub.add_parser("show", help="summarise a problem file (load, validate) or a saved "
                                       "result (method, objective, feasibility, status, bound, "
                                       "time, tasks per node)")
    show.add_argument("file", help="a problem file (for orlib-gap FILE#K picks problem K) or "
                                   "a result JSON written by solve --out")
    show.add_argument("--problem", default=None, metavar="PROBLEM",
                      help="with a result: its problem (file or bundled example name, read "
                           "with --format, --index, --sense); re-validates the result and "
                           "adds each node's load")
    _add_input(show, "objective sense for GAP files (default: the file's own)")
    show.add_argument("--out", default=None, metavar="P.json",
                      help="also write the problem as JSON here")
    show.set_defaults(func=cmd_show)


def _add_simulate_parser(sub) -> None:
    simul = sub.add_parser("simulate", help="replay a job trace under online policies (the "
                                            "GA balancer and classic balancers), one table")
    simul.add_argument("trace", help="a Gavel .trace file, a Pollux workload .csv, a problem "
                                     "JSON or bundled example (release = arrival), or "
                                     "generated[:N]")
    simul.add_argument("--policy", action="append", default=None,
                       choices=["ga", "round-robin", "least-connections", "least-loaded",
                                "round_robin", "least_connections", "least_loaded"],
                       help="repeat for several (default: all four)")
    simul.add_argument("--jobs", type=int, default=None, metavar="N",
                       help="only the first N jobs")
    simul.add_argument("--sigma", type=float, default=0.25,
                       help="log-normal sigma of actual / estimated runtime (default 0.25)")
    simul.add_argument("--time-budget", type=float, default=0.05, metavar="S",
                       help="seconds per GA re-plan (default 0.05)")
    simul.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    simul.add_argument("--throughputs", default=None, metavar="JSON",
                       help="Gavel throughputs for a .trace (default: found above the trace "
                            "or in the data folder)")
    simul.add_argument("--out", default=None, metavar="RESULTS.json",
                       help="also write the figures as JSON")
    simul.set_defaults(func=cmd_simulate)


def _add_tune_parser(sub) -> None:
    tun = sub.add_parser("tune", help="search GA or PSO parameters on a set of problems "
                                      "(Optuna TPE; needs gabalance[tune])")
    tun.add_argument("files", nargs="+", metavar="FILE",
                     help="problem files (or bundled example names); names must be unique")
    tun.add_argument("--method", default="ga", choices=["ga", "pso"])
    tun.add_argument("--trials", type=int, default=20, metavar="N",
                     help="trials (default 20; the first is the current defaults)")
    tun.add_argument("--time-limit", type=float, default=1.0, metavar="S",
                     help="seconds per problem that each trial's evaluation budget is "
                          "calibrated on (default 1)")
    tun.add_argument("--seed", type=int, default=0, help="sampler and solve seed (default 0)")
    tun.add_argument("--repeats", type=int, default=1, metavar="R",
                     help="seeds per problem (default 1)")
    tun.add_argument("--best-known", default=None, metavar="CSV",
                     help="reference values, CSV with columns problem,value (default: the "
                          "best value found in the study)")
    tun.add_argument("--objective", default=None,
                     help="objective for every problem (default: each problem's own)")
    tun.add_argument("--sense", default=None, choices=["min", "max"],
                     help="GAP formats: the sense of the cost")
    tun.add_argument("--format", default="json", choices=FORMATS,
                     help="file format of every FILE (default json)")
    tun.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    tun.add_argument("--storage", default=None, metavar="URL",
                     help="Optuna storage (e.g. sqlite:///study.db): keep the study and "
                          "continue it on a later run")
    tun.add_argument("--study-name", default=None)
    tun.add_argument("--timeout", type=float, default=None, metavar="S",
                     help="start no new trial after S seconds")
    tun.add_argument("--out", default=None, metavar="PARAMS.json",
                     help="write the best parameters (read by solve --params)")
    tun.add_argument("--report", default=None, metavar="STUDY.json",
                     help="write the whole study report (budgets, seeds, references, trials)")
    tun.add_argument("--quiet", action="store_true", help="no progress line")
    tun.set_defaults(func=cmd_tune)


#: one function per subcommand that adds its parser (and sets ``func``, what runs it)
SUBCOMMANDS = (_add_solve_parser, _add_check_parser, _add_check_result_parser,
               _add_demo_parser, _add_info_parser, _add_show_parser, _add_simulate_parser,
               _add_tune_parser)


def build_parser() -> argparse.ArgumentParser:
    """The ``gabalance`` parser, a subparser per subcommand."""
    parser = _Parser(prog="gabalance", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True)
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("gabalance: interrupted", file=sys.stderr)
        return INTERRUPTED
    except (ValueError, OSError) as exc:
        msg = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"gabalance: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

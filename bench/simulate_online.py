"""Online balancing on a Philly-derived Gavel trace: the GA Balancer against round robin,
least connections and least loaded, in the discrete-event simulator.

    python bench/simulate_online.py [--data DIR] [--trace 0e4a51] [--jobs 500]
                                    [--policy ga --policy least_loaded ...]
                                    [--time-budget 0.05] [--sigma 0.25] [--seed 0]
                                    [--ablation]

The trace is ``gavel_throughputs/scheduler/traces/msr/seed=0/<trace>.trace`` (a Microsoft
Philly virtual cluster's jobs as Gavel generated them: arrival times, GPU counts, Gavel job
types), its first ``--jobs`` jobs that fit one 4-GPU server, on 36 K80 + 36 P100 + 36 V100
GPUs (27 servers of 4), runtimes from Gavel's measured throughputs
(``simulation_throughputs.json``), actual runtime = estimate x log-normal noise
(``--sigma``). ``--ablation`` adds two Balancer variants: ``ga_gen0`` (warm start and first
population only) and ``replan_least_loaded`` (the greedy re-planned at every event, no
search). Prints the table and writes ``bench/results/simulate_online.json``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gabalance import simulate as sim

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import default_data, machine, warm_up

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=None,
                    help="benchmark data folder (default gabalance.io.data_dir())")
    ap.add_argument("--trace", default="0e4a51", help="Philly VC id of the msr trace")
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--policy", action="append", default=None,
                    help="repeat for several (default: ga and the three classic balancers)")
    ap.add_argument("--time-budget", type=float, default=0.05, help="seconds per re-plan")
    ap.add_argument("--sigma", type=float, default=0.25)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--ablation", action="store_true",
                    help="also run the Balancer with max_generations=0 (its warm start and first "
                         "population only, no GA generations) and with method least_loaded "
                         "(re-planned greedy, no search)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "simulate_online.json")
    args = ap.parse_args(argv)
    data = args.data or default_data()
    gavel = data / "gavel_throughputs" / "scheduler"
    trace = sim.gavel_trace(gavel / "simulation_throughputs.json",
                            gavel / "traces" / "msr" / "seed=0" / f"{args.trace}.trace",
                            jobs=args.jobs)
    policies = [p.replace("-", "_") for p in (args.policy or sim.POLICIES)]
    warm_up("numba")
    gpus = sum(n.capacity["gpu"] for n in trace.nodes)
    print(f"{trace!r} ({gpus} GPUs), sigma {args.sigma:g}, seed {args.seed}, "
          f"re-plan budget {args.time_budget:g} s; dropped: {trace.info['dropped_oversize']} "
          f"jobs larger than a server, {trace.info['dropped_no_throughput']} without a "
          "measured throughput\n", flush=True)
    t0 = time.perf_counter()
    results = []
    for p in policies:
        results.append(sim.simulate(trace, p, sigma=args.sigma, seed=args.seed,
                                    time_budget=args.time_budget))
        print(f"  {p}: mean JCT {results[-1].mean_jct / 3600:.2f} h "
              f"({results[-1].wall:.0f} s)", flush=True)
    if args.ablation:
        for label, opts in (("ga_gen0", {"max_generations": 0}),
                            ("replan_least_loaded", {"method": "least_loaded"})):
            r = sim.simulate(trace, "ga", sigma=args.sigma, seed=args.seed,
                             time_budget=args.time_budget, balancer=opts)
            r.policy = label
            results.append(r)
            print(f"  {label}: mean JCT {r.mean_jct / 3600:.2f} h ({r.wall:.0f} s)", flush=True)
    print()
    print(sim.format_table(results))
    ga = [r for r in results if r.policy == "ga"]
    others = [r for r in results if r.policy in sim.POLICIES and r.policy != "ga"]
    if ga and others:
        best = min(others, key=lambda r: r.mean_jct)
        gain = 100.0 * (best.mean_jct - ga[0].mean_jct) / best.mean_jct
        print(f"\nga vs the best classic balancer ({best.policy}): mean JCT "
              f"{abs(gain):.1f}% {'lower' if gain > 0 else 'higher'}")
    sim.save_results(args.out, results, trace=trace.name, jobs=len(trace.jobs), gpus=gpus,
                     sigma=args.sigma, seed=args.seed, time_budget=args.time_budget,
                     total_seconds=time.perf_counter() - t0, machine=machine(),
                     dropped=trace.info)
    print(f"wrote {args.out.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

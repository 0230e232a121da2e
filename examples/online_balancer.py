"""Online balancing in a few lines: the Balancer driven by hand, then a simulated comparison.

Run from the repository root::

    python examples/online_balancer.py            # 60 generated jobs, a few seconds
    python examples/online_balancer.py --jobs 200

First a hand-driven loop: three tasks arrive on a two-node cluster, the balancer dispatches,
one task finishes slower than estimated and the learned runtime ratio moves. Then the same
kind of loop is simulated on a generated AI-cluster trace under the GA balancer and the
classic online balancers (see docs/online.md).
"""

from __future__ import annotations

import argparse

import gabalance as gb
from gabalance import simulate
from gabalance.online import Balancer


def by_hand() -> None:
    nodes = [gb.Node("k80-0", {"gpu": 4}), gb.Node("v100-0", {"gpu": 4})]
    b = Balancer(nodes, time_budget=0.05, seed=0)
    for name, gpus in (("resnet-a", 4), ("resnet-b", 4), ("lm-c", 2)):
        b.submit(gb.Task(name, demand={"gpu": gpus}, runtime={"k80": 300.0, "v100": 60.0}),
                 now=0.0, kind=name.split("-")[0])
    print("t=0    start", b.dispatch(0.0), " queued", b.queued)
    node = b.running.get("resnet-a")
    if node is not None:
        b.finished("resnet-a", now=90.0)  # 90 s where 60 or 300 s were expected
        ratio = b.runtime_ratio("resnet", node.split("-")[0])
        print(f"t=90   resnet-a done on {node}; learned runtime ratio (resnet, "
              f"{node.split('-')[0]}) = {ratio:.2f}")
    t = 90.0
    while b.queued or b.running:
        t += 30.0
        for name in list(b.running):
            if t - b._tasks[name].started >= b._tasks[name].expected:
                b.finished(name, now=t)
        started = b.dispatch(t)
        if started:
            print(f"t={t:<5g} start", started)
    print("done:", b.done)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=60)
    ap.add_argument("--time-budget", type=float, default=0.05)
    args = ap.parse_args(argv)
    by_hand()
    trace = simulate.generated_trace(8, args.jobs, seed=1)
    print(f"\n{trace!r}, runtimes noisy (sigma 0.25):")
    results = simulate.compare(trace, sigma=0.25, seed=0, time_budget=args.time_budget)
    print(simulate.format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

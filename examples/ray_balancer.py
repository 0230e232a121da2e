"""A small DAG on a local Ray cluster, placed and ordered by the online Balancer.

Starts Ray on this machine: ``--nodes N`` raylets (default 3: ``head``, ``w1``, ``w2``, one CPU
each; ``ray.cluster_utils.Cluster``), or with ``--nodes 1`` a plain ``ray.init`` whose node
is named ``local``. Each node is named by its custom resource ``gb_node_<name>``
(docs/online.md, "Running on Ray"). Runs a pipeline — ``prep``, three ``train-<i>`` tasks
on its result (``train-2`` may only run on the node labelled ``gb_node_w1``), ``eval`` on
theirs — prints where and when each task ran, and shuts Ray down.

    python examples/ray_balancer.py [--nodes N]

Needs Ray: ``pip install gabalance[ray]``.
"""

from __future__ import annotations

import argparse
import sys
import time


def prep(n: int) -> list[int]:
    time.sleep(0.1)
    return list(range(n))


def train(data: list[int], seed: int) -> float:
    time.sleep(0.2 + 0.05 * seed)
    return sum(data) / (1 + seed)


def evaluate(*scores: float) -> float:
    return max(scores)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3, help="raylets to start (default 3)")
    args = parser.parse_args(argv)
    try:
        import ray
    except ImportError:
        print("this example needs Ray: pip install gabalance[ray]", file=sys.stderr)
        return 1
    from gabalance.online.ray_executor import RayExecutor, ResultOf

    cluster = None
    mb = 2**20
    if args.nodes <= 1:
        ray.init(num_cpus=1, resources={"gb_node_local": 1}, object_store_memory=100 * mb,
                 include_dashboard=False, log_to_driver=False)
    else:
        from ray.cluster_utils import Cluster

        cluster = Cluster(initialize_head=True, head_node_args={
            "num_cpus": 1, "resources": {"gb_node_head": 1}, "object_store_memory": 100 * mb,
            "include_dashboard": False})
        for k in range(1, args.nodes):
            cluster.add_node(num_cpus=1, resources={f"gb_node_w{k}": 1},
                             object_store_memory=100 * mb)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, log_to_driver=False)
    try:
        ex = RayExecutor(time_budget=0.05, seed=0)
        print("Ray nodes:", ", ".join(f"{n} ({rid[:8]})" for n, rid in ex.node_ids.items()))
        ex.submit(prep, 100, name="prep", duration=0.1)
        for seed in range(3):
            only_w1 = ["gb_node_w1"] if seed == 2 and "w1" in ex.node_ids else []
            ex.submit(train, ResultOf("prep"), seed, name=f"train-{seed}", duration=0.3,
                      requires=only_w1, kind="train")
        ex.submit(evaluate, *(ResultOf(f"train-{s}") for s in range(3)), name="eval",
                  duration=0.05)
        res = ex.run(timeout=120)
        for name, rec in res.tasks.items():
            assert rec.start is not None and rec.finish is not None
            print(f"{name:8s} ran on {rec.node:6s} {rec.start:6.2f}-{rec.finish:5.2f} s  "
                  f"attempts {rec.n_attempts}  result {rec.result!r:.40}")
        print(f"best score {res.results['eval']:g}; {res.replans} re-plans, "
              f"run {res.wall:.2f} s")
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

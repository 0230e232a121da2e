"""Regenerate examples/ai_cluster.json from Gavel's measured throughputs.

    python examples/make_ai_cluster.py [--data DATA_DIR] [--out PATH]

``DATA_DIR`` is the folder of third-party benchmark data holding
``gavel_throughputs/scheduler/simulation_throughputs.json`` (default:
``gabalance.io.data_dir()``, else ``../shared/data`` relative to the repository root). Only
the derived instance is written; the Gavel data themselves are not copied.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gabalance.generate import ai_cluster
from gabalance.io import data_dir, gavel_throughput_table

HERE = Path(__file__).resolve().parent
GAVEL_FILE = Path("gavel_throughputs", "scheduler", "simulation_throughputs.json")
SEED = 2026
COMMAND = "python examples/make_ai_cluster.py"
#: mean (weighted) job completion time: what users of a shared AI cluster wait for. The
#: makespan of this instance is pinned by its longest pipeline (HEFT is within 0.01% of the
#: critical-path bound), so it would not tell the methods apart.
OBJECTIVE = "weighted_completion"


def default_data() -> Path:
    found = data_dir()
    return found if found is not None else HERE.parent.parent / "shared" / "data"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None,
                    help="benchmark data folder (default: gabalance.io.data_dir(), else "
                         "../shared/data relative to the repository root)")
    ap.add_argument("--out", type=Path, default=HERE / "ai_cluster.json",
                    help="output file (default: ai_cluster.json beside this script)")
    args = ap.parse_args(argv)
    src = (args.data if args.data is not None else default_data()) / GAVEL_FILE
    if not src.is_file():
        ap.error(f"{src} not found; pass --data")
    table = gavel_throughput_table(src)
    p = ai_cluster(64, 500, seed=SEED, throughputs=table, objective=OBJECTIVE)
    info = dict(p.info)
    info.update({
        "description": (
            "Generated (not measured) heterogeneous AI cluster: 64 nodes (CPU, K80, P100 and "
            "V100 GPU nodes), 500 data / training / inference tasks in pipelines. GPU task "
            "runtimes = steps / isolated throughput of a Gavel job type on the node's GPU model."
        ),
        "generated_by": f"{COMMAND} (gabalance.generate.ai_cluster(64, 500, seed={SEED}, "
                        "throughputs=gabalance.io.gavel_throughput_table(...), "
                        f"objective={OBJECTIVE!r}))",
        "source_data": (
            "Gavel simulation_throughputs.json (stanford-futuredata/gavel @ c4fa400, "
            "Narayanan et al., Heterogeneity-Aware Cluster Scheduling Policies for Deep "
            "Learning Workloads, OSDI 2020; MIT licence); only derived runtimes are stored"
        ),
    })
    p = p.replace(info=info, name="ai_cluster")
    p.to_json(args.out, indent=None)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e3:.0f} kB): {p}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""GPU-sharing clusters on Alibaba's openb trace: the FGD artifact's protocol, its policies,
gabalance's packing GA against the LP ceiling, and online placement.

For each pod list and seed, the arrival sequence of :func:`gabalance.gpushare.arrivals`
(pods cloned until the arrived GPU request reaches 130% of the cluster's 6212 GPUs) is
placed by every policy, one pod at a time; the allocation curve (allocated share of the
cluster's GPU against the arrived share) and its value at 100% arrival are compared with the
means the artifact published (``fgd_artifact/allocation_by_arrival.csv``). Offline, the pods
arrived by 100% are placed at once by ``gb.solve(method="ga")`` (tasks may wait) within
``--time`` seconds, beside the LP upper bound of :func:`gabalance.gpushare.allocation_bound`.

Run::

    python bench/gpushare.py                       # 10 seeds, both lists, 60 s offline
    python bench/gpushare.py --seeds 42-43 --time 10 --lists default

Prints the tables (markdown) and writes ``bench/results/gpushare.json`` and the curves to
``bench/figures/gpushare_<list>.png`` (with matplotlib).
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import gabalance as gb
from bench._common import default_data, machine, save
from gabalance import gpushare
from gabalance.io import read_openb

OPENB = "alibaba_gpu_v2023_openb"
#: the artifact's policy names (sc_policy column) -> gabalance's
ARTIFACT = {"01-Random": "random", "02-DotProd": "dotprod", "03-GpuClustering": "gpu_clustering",
            "04-GpuPacking": "gpu_packing", "05-BestFit": "best_fit", "06-FGD": "fgd"}
POLICIES = list(ARTIFACT.values())
#: gabalance's own online policies (methods of gb.solve; fgd_pack is the Balancer's default)
ONLINE = ["fgd_fit", "fgd_pack"]
HERE = Path(__file__).resolve().parent


def seeds_arg(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def artifact_means(data: Path) -> dict[tuple[str, str], np.ndarray]:
    """(list, policy) -> mean curve over the artifact's seeds (131 points, percent)."""
    rows: dict[tuple[str, str], list[np.ndarray]] = {}
    path = data / OPENB / "fgd_artifact" / "allocation_by_arrival.csv"
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["workload"].removeprefix("openb_pod_list_"), ARTIFACT[row["sc_policy"]])
            rows.setdefault(key, []).append(np.array([float(row[str(p)]) for p in range(131)]))
    return {k: np.mean(v, axis=0) for k, v in rows.items()}


def run_list(name: str, data: Path, seeds: list[int], time_s: float, nodes: str,
             log: Any) -> dict[str, Any]:
    csvs = data / OPENB / "csv"
    full = read_openb(csvs / f"openb_node_list_{nodes}.csv",
                      csvs / f"openb_pod_list_{name}.csv")
    typical = gpushare.typical_tasks(full)
    out: dict[str, Any] = {"curves": {p: [] for p in [*POLICIES, *ONLINE]}, "offline": []}
    for seed in seeds:
        arr = gpushare.arrivals(full, seed)
        for policy in [*POLICIES, *ONLINE]:
            t0 = time.perf_counter()
            run = gpushare.run_policy(arr.problem, policy, seed=seed, typical=typical)
            curve = run.curve(range(131))
            out["curves"][policy].append(curve.tolist())
            log(f"  {name} seed {seed} {policy:<15} {curve[100]:6.2f} % at 100% arrived "
                f"({time.perf_counter() - t0:.1f} s)")
        if time_s > 0:
            out["offline"].append(offline(arr, seed, time_s, typical, log, name))
    return out


def offline(arr: gpushare.Arrivals, seed: int, time_s: float, typical: gpushare.Typical,
            log: Any, name: str) -> dict[str, Any]:
    """The pods arrived by 100%, placed at once by the GA (tasks may wait), with the LP bound
    and FGD on the same set for reference."""
    sub = arr.upto(1.0)
    res = gb.solve(sub, method="ga", time_limit=time_s, seed=seed)
    check = gb.validate(sub, res.x, devices=res.devices)
    t0 = time.perf_counter()
    bound = gpushare.allocation_bound(sub)
    bound_s = time.perf_counter() - t0
    fgd = gpushare.run_policy(sub, "fgd", seed=seed, typical=typical)
    row = {"seed": seed, "tasks": sub.n_tasks, "ga": 100 * res.fun, "valid": check.ok,
           "time": res.time, "compile": res.compile_time, "generations": res.nit,
           "seeded": res.seeded, "fgd_same_set": 100 * fgd.allocation,
           "bound": 100 * bound["bound"], "bound_resources": 100 * bound["resources"],
           "bound_devices": 100 * bound["devices"] if "devices" in bound else None,
           "arrived": 100 * bound["arrived"], "bound_seconds": bound_s}
    log(f"  {name} seed {seed} offline GA {row['ga']:.2f} % (valid {check.ok}, "
        f"{res.nit} generations, {res.time:.1f} s), FGD on the set {row['fgd_same_set']:.2f}, "
        f"bound {row['bound']:.2f}")
    return row


def tables(results: dict[str, Any], means: dict[tuple[str, str], np.ndarray],
           seeds: list[int], time_s: float) -> str:
    lines = [f"Seeds {seeds[0]}..{seeds[-1]} ({len(seeds)}); allocation = allocated share of "
             "the cluster's GPU (%) when the arrived GPU request reaches 100% of capacity; "
             "mean over the seeds (min..max).", ""]
    lines.append("| list | policy | gabalance | artifact | difference |")
    lines.append("|---|---|---:|---:|---:|")
    for name, res in results.items():
        for policy in [*POLICIES, *ONLINE]:
            at = np.array(res["curves"][policy])[:, 100]
            ref = means.get((name, policy))
            art = f"{ref[100]:.2f}" if ref is not None else "-"
            diff = f"{at.mean() - ref[100]:+.2f}" if ref is not None else "-"
            lines.append(f"| {name} | {policy} | {at.mean():.2f} ({at.min():.2f}..{at.max():.2f})"
                         f" | {art} | {diff} |")
    if any(res["offline"] for res in results.values()):
        lines += ["", f"Offline: the pods arrived by 100%, placed at once (tasks may wait), "
                  f"{time_s:g} s per set; FGD on the same set; the LP upper bound (min of the "
                  "resource LP and the device-configuration LP).", "",
                  "| list | GA | FGD (same set) | LP bound | GA / bound | valid plans | "
                  "generations (median) |", "|---|---:|---:|---:|---:|---:|---:|"]
        for name, res in results.items():
            off = res["offline"]
            if not off:
                continue
            ga = np.array([r["ga"] for r in off])
            fgd = np.array([r["fgd_same_set"] for r in off])
            bound = np.array([r["bound"] for r in off])
            lines.append(f"| {name} | {ga.mean():.2f} ({ga.min():.2f}..{ga.max():.2f}) | "
                         f"{fgd.mean():.2f} | {bound.mean():.2f} | "
                         f"{100 * (ga / bound).mean():.2f} % | "
                         f"{sum(r['valid'] for r in off)}/{len(off)} | "
                         f"{int(np.median([r['generations'] for r in off]))} |")
    return "\n".join(lines)


def plot(results: dict[str, Any], means: dict[tuple[str, str], np.ndarray], out: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plots)")
        return
    for name, res in results.items():
        fig, ax = plt.subplots(figsize=(7, 4.5))
        x = np.arange(131)
        for i, policy in enumerate([*POLICIES, *ONLINE]):
            curve = np.nanmean(np.array(res["curves"][policy], dtype=float), axis=0)
            line, = ax.plot(x, curve, lw=1.4, label=f"{policy} (gabalance)", color=f"C{i}")
            ref = means.get((name, policy))
            if ref is not None:
                ax.plot(x, ref, lw=1, ls="--", color=line.get_color())
        ax.plot(x, x, color="grey", lw=0.6, label="arrived")
        ax.set_xlim(60, 130)
        ax.set_ylim(55, 100)
        ax.set_xlabel("arrived GPU request (% of capacity)")
        ax.set_ylabel("allocated GPU (% of capacity)")
        ax.set_title(f"openb_pod_list_{name}: solid gabalance, dashed the FGD artifact")
        ax.legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        path = out / f"gpushare_{name}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=default_data(),
                    help="benchmark data folder (holding alibaba_gpu_v2023_openb/)")
    ap.add_argument("--lists", default="default,gpushare100",
                    help="pod lists, comma-separated (openb_pod_list_<name>.csv)")
    ap.add_argument("--nodes", default="all_node",
                    help="node list openb_node_list_<name>.csv (the artifact's: all_node)")
    ap.add_argument("--seeds", type=seeds_arg, default=seeds_arg("42-51"),
                    help="seeds, e.g. 42-51 or 42,45")
    ap.add_argument("--time", type=float, default=60.0,
                    help="offline GA seconds per arrival set (0: skip the offline part)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "gpushare.json")
    ap.add_argument("--figures", type=Path, default=HERE / "figures")
    args = ap.parse_args(argv)
    if not (args.data / OPENB).is_dir():
        ap.error(f"no {OPENB}/ under --data {args.data}")
    means = artifact_means(args.data)
    results = {}
    for name in args.lists.split(","):
        results[name] = run_list(name, args.data, args.seeds, args.time, args.nodes,
                                 lambda s: print(s, flush=True))
    text = tables(results, means, args.seeds, args.time)
    print()
    print(text)
    save(args.out, {"machine": machine(), "seeds": args.seeds, "time": args.time,
                    "nodes": args.nodes, "results": results, "table": text})
    args.figures.mkdir(parents=True, exist_ok=True)
    plot(results, means, args.figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

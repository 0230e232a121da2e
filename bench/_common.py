"""Shared pieces of the quality benchmarks: machine description, warm-up, time to best."""

from __future__ import annotations

import datetime
import json
import os
import platform
from pathlib import Path
from typing import Any

import numba
import numpy as np
import scipy

import gabalance as gb
from gabalance.io import data_dir


def default_data() -> Path:
    found = data_dir()
    return found if found is not None else Path(__file__).resolve().parents[2] / "shared" / "data"


def machine() -> dict[str, Any]:
    """What ran the benchmark: CPU, cores, numba threads, versions, date."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu, "cores": os.cpu_count(), "numba_threads": numba.get_num_threads(),
        "python": platform.python_version(), "numpy": np.__version__,
        "scipy": scipy.__version__, "numba": numba.__version__,
        "gabalance": gb.__version__,
    }


def warm_up(backend: str) -> None:
    """Compile (or load from numba's cache) every kernel the GA uses, outside the timings."""
    from gabalance import examples
    from gabalance.generate import gap_like

    gb.solve(gap_like(3, 12, seed=0), "cost", max_generations=2, seed=0, backend=backend)
    gb.solve(gap_like(3, 12, seed=0), "cost", sense="max", max_generations=2, seed=0,
             backend=backend)
    gb.solve(examples.load("scenario"), "makespan", max_generations=2, seed=0, backend=backend)


def time_to_best(res: gb.SolveResult) -> float:
    """Seconds from the start of the solve until the final best value was first reached."""
    h = res.history
    for t, v, viol in zip(h["time"], h["best"], h["violation"]):
        if viol == 0 and v == res.fun:
            return float(t)
    return float(res.time)


def save(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=1) + "\n")


def add_method_args(ap: Any) -> None:
    """``--method ga|pso``, ``--params JSON`` (fields of GAParams / PSOParams) and ``--every K``
    (every K-th instance only), shared by the quality scripts."""
    ap.add_argument("--method", default="ga", choices=["ga", "pso"])
    ap.add_argument("--params", default=None, metavar="JSON",
                    help='parameter fields as JSON, e.g. \'{"variant": "keys"}\'')
    ap.add_argument("--every", type=int, default=1, metavar="K",
                    help="only every K-th instance (a quick subset)")


def method_kwargs(args: Any) -> dict[str, Any]:
    """Keyword arguments of ``gb.solve`` for the chosen method and parameters."""
    params = json.loads(args.params) if args.params else None
    return {"method": args.method, "params": params}


def result_name(stem: str, args: Any) -> str:
    """``stem`` for the GA with defaults on every instance, else a suffixed file name."""
    tag = "" if args.method == "ga" else f"_{args.method}"
    if args.params:
        tag += "_" + "_".join(f"{k}-{v}" for k, v in sorted(json.loads(args.params).items()))
    if args.every > 1:
        tag += f"_every{args.every}"
    return f"{stem}{tag}.json"

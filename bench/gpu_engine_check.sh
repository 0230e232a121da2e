#!/usr/bin/env bash
# GPU checks of the cost-search engine on a machine with CuPy and a CUDA device: the
# gpu-marked parity tests of the CUDA twin and one GA solve per backend on a GAP instance.
# Usage: bash bench/gpu_engine_check.sh OUTDIR [DATA]
set -uo pipefail
out="${1:-/tmp/gb-gpu}"
data="${2:-../shared/data}"
mkdir -p "$out"
python3 -m pip install -q --no-deps --no-build-isolation --no-index --target /tmp/site . \
    || exit 1
export PYTHONPATH=/tmp/site PYTHONUNBUFFERED=1
python3 -P -m pytest -q -p no:cacheprovider tests/test_search_cuda.py -m gpu 2>&1 \
    | tee "$out/gpu_tests.txt"
python3 -P - "$data" <<'PY' 2>&1 | tee "$out/gpu_solve.txt"
import sys, time
from pathlib import Path
import numpy as np
import gabalance as gb
from gabalance.generate import gap_like
data = Path(sys.argv[1])
probs = [("gap_like 20x400", gap_like(20, 400, seed=1))]
for backend in ("cupy", "numba"):
    for name, p in probs:
        t = time.perf_counter()
        r = gb.solve(p, "cost", time_limit=8, seed=0, backend=backend)
        w = time.perf_counter() - t
        ok = gb.validate(p, r.x).ok
        print(f"{backend:6s} {name}: fun {r.fun:.6g} valid {ok} gens {r.nit} wall {w:.2f} "
              f"compile {r.compile_time:.2f} bound {r.bound} | {r.message}", flush=True)
PY

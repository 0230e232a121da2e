"""The CuPy backend: the CUDA kernels of ``kernels/`` on an NVIDIA GPU.

Every kernel is the GPU twin of a Numba kernel of the same shape (``_numba.py``,
``_numba_search.py``): each individual's sums in the same order (one thread per individual,
reading through shared-memory tiles in evaluation; one warp per individual in the
improvement and the cost search, docs/gpu.md), so the two backends agree exactly on integer
data and to the last bit on float data (the sources are compiled with ``--fmad=false``).
The sources are compiled once per process and data-type variant with NVRTC
(``cupy.RawModule``; CuPy also caches the binaries on disk). The problem's arrays go to the
device once and stay there (cached on the packed problem); populations may be given as
NumPy or CuPy arrays, and results come back where the population came from.

The functions that build each kernel's arguments take the array module as a parameter, so
the tests run them with NumPy against the kernels compiled for the host
(``tests/cuda_host.py``): what the GPU receives is checked on machines without one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from gabalance.backend import Packed, score_matrix, transposed
from gabalance.backend._launch import (
    BLOCK,
    KERNELS,
    WARP,
    grid_1d,
    options,
    pack_args,
    placement_launch,
    variant,
)

__all__ = ["device_info", "improve_args", "improve_placement", "placement", "placement_args",
           "problem_arrays",
           "schedule", "schedule_args", "search_cost"]

#: a runner launches one kernel: (name, number of threads, [(kind, value)], int_data,
#: int_cost), and as keywords ``block`` (threads per block), ``shared`` (dynamic shared
#: bytes) and ``cooperative`` (the threads of a block work together: the host harness runs
#: them at once)
Runner = Callable[..., None]

_MODULES: dict[tuple[str, bool, bool], Any] = {}

#: array module name -> (the last CostRecord searched, its arrays in that module): the record
#: goes to the device once, not every generation
_RECORDS: dict[str, tuple[Any, dict[str, Any]]] = {}


def _cupy() -> Any:
    import cupy

    return cupy


def device_info() -> dict[str, Any]:
    """Name, compute capability and memory of the current device, and the CUDA versions."""
    cp = _cupy()
    dev = cp.cuda.Device()
    props = cp.cuda.runtime.getDeviceProperties(dev.id)
    name = props["name"]
    return {
        "name": name.decode() if isinstance(name, bytes) else str(name),
        "compute_capability": dev.compute_capability,
        "memory_gib": round(props["totalGlobalMem"] / 2**30, 1),
        "cuda_runtime": cp.cuda.runtime.runtimeGetVersion(),
        "cuda_driver": cp.cuda.runtime.driverGetVersion(),
        "cupy": cp.__version__,
    }


def kernels_dir() -> Path:
    """Folder of the CUDA sources: the installed ``gabalance.kernels`` package, else (running
    from a source tree without installing) ``kernels/`` beside the ``gabalance`` package."""
    import importlib

    try:
        return Path(importlib.import_module("gabalance.kernels").HERE)
    except ImportError:
        return Path(__file__).resolve().parents[2] / "kernels"


#: seconds spent compiling CUDA kernels (NVRTC) in this process; gabalance._clock.Clock
#: keeps them out of a solve's time limit, as it does numba's compilation
COMPILE_SECONDS = 0.0
_FUNCTIONS: dict[tuple[str, bool, bool, str], Any] = {}


def _module(source: str, int_data: bool, int_cost: bool) -> Any:
    """The compiled module of one kernel source and variant (compiled once per process)."""
    key = (source, int_data, int_cost)
    if key not in _MODULES:
        where = kernels_dir()
        cp = _cupy()
        opts = (*options(int_data, int_cost), f"-I{where}")
        code = (where / source).read_text(encoding="utf-8")
        _MODULES[key] = cp.RawModule(code=code, options=opts)
    return _MODULES[key]


def _device_runner(name: str, threads: int, args: list[tuple[str, Any]], int_data: bool,
                   int_cost: bool, block: int = BLOCK, shared: int = 0,
                   cooperative: bool = False) -> None:
    """Launch kernel ``name`` on the current device: ``threads`` threads in blocks of
    ``block``, with ``shared`` bytes of dynamic shared memory per block."""
    if threads == 0:
        return
    source, _ = KERNELS[name]
    key = (source, int_data, int_cost, name)
    fn = _FUNCTIONS.get(key)
    if fn is None:  # NVRTC compiles here, once per kernel and variant: timed apart
        global COMPILE_SECONDS
        t0 = time.perf_counter()
        fn = _FUNCTIONS[key] = _module(source, int_data, int_cost).get_function(name)
        COMPILE_SECONDS += time.perf_counter() - t0
    conv = {"ptr": lambda v: v, "i32": np.int32, "f64": np.float64}
    grid, block = grid_1d(threads, block)
    fn((grid,), (block,), tuple(conv[kind](v) for kind, v in args), shared_mem=shared)


def problem_arrays(pk: Packed, xp: Any) -> dict[str, Any]:
    """The packed problem's arrays as the kernels take them, in module ``xp`` (cached on the
    packed problem per module)."""
    def arr(a: Any, dtype: Any = None) -> Any:
        return xp.ascontiguousarray(xp.asarray(a, dtype=dtype))

    def build() -> dict[str, Any]:
        cost = pk.cost if pk.has_cost else np.zeros((1, 1))
        return dict(
            capacity=arr(pk.capacity), demand=arr(pk.demand3), scale=arr(pk.scale, np.float64),
            runtime=arr(pk.runtime, np.float64), duration=arr(pk.duration, np.float64),
            speed=arr(pk.speed, np.float64), cost=arr(cost),
            allowed=arr(pk.allowed, np.uint8), group_ok=arr(pk.group_ok, np.uint8),
            task_group=arr(pk.task_group, np.int32), weight=arr(pk.weight, np.float64),
            release=arr(pk.release, np.float64), pred_ptr=arr(pk.pred_ptr, np.int64),
            pred_src=arr(pk.pred_src, np.int64), pred_data=arr(pk.pred_data, np.float64),
            succ_ptr=arr(pk.succ_ptr, np.int64), succ_dst=arr(pk.succ_dst, np.int64),
            bw=arr(pk.bw, np.float64))

    return pk.memo(("device", xp.__name__), build)


def like(ref: Any, a: Any) -> Any:
    """``a`` on the host when ``ref`` (the caller's population) is a NumPy array, else as is:
    host arrays in, host arrays out; device arrays stay on the device."""
    if isinstance(ref, np.ndarray) and not isinstance(a, np.ndarray):
        return a.get()
    return a


def _variant(pk: Packed) -> tuple[bool, bool]:
    return variant(pk.capacity.dtype, pk.cost.dtype if pk.has_cost else np.float64)


def _shape(pk: Packed) -> dict[str, int]:
    N, Md, K = pk.demand3.shape
    return dict(N=N, M=pk.capacity.shape[0], K=K, Md=Md)


def placement_args(pk: Packed, pop: Any, code: int, xp: Any
                   ) -> tuple[list[tuple[str, Any]], Any, Any, tuple[int, int]]:
    """Arguments of ``gb_placement``, its two outputs (objective, violation) and its launch
    (threads per block, dynamic shared bytes)."""
    a = problem_arrays(pk, xp)
    pop = xp.ascontiguousarray(xp.asarray(pop, dtype=np.int32))
    P = pop.shape[0]
    s = _shape(pk)
    M, K = s["M"], s["K"]
    block, shared, in_shared = placement_launch(P, M, K, code, a["capacity"].dtype.itemsize)
    out_obj, out_viol = xp.empty(P), xp.empty(P)
    scratch = 1 if in_shared else P  # loads and used flags in global memory otherwise
    values = dict(
        pop=pop, P=P, **s, capacity=a["capacity"], demand=a["demand"], scale=a["scale"],
        has_runtime=int(pk.has_runtime), runtime=a["runtime"], duration=a["duration"],
        speed=a["speed"], has_cost=int(pk.has_cost), cost=a["cost"], elig_mode=pk.elig_mode,
        allowed=a["allowed"], group_ok=a["group_ok"], task_group=a["task_group"], code=code,
        in_shared=int(in_shared), load=xp.empty(scratch * M * K, a["capacity"].dtype),
        used=xp.empty(scratch * M if code == 2 else 1, np.uint8), out_obj=out_obj,
        out_viol=out_viol)
    return pack_args("gb_placement", values), out_obj, out_viol, (block, shared)


def placement(pk: Packed, pop: Any, code: int, runner: Runner | None = None,
              xp: Any = None) -> tuple[Any, Any]:
    """Placement objective and violation of every individual (see ``_numba.placement``)."""
    xp = xp if xp is not None else _cupy()
    args, obj, viol, (block, shared) = placement_args(pk, pop, code, xp)
    (runner or _device_runner)("gb_placement", int(obj.shape[0]), args, *_variant(pk),
                               block=block, shared=shared)
    return like(pop, obj), like(pop, viol)


def schedule_args(pk: Packed, pop: Any, keys: Any, code: int, rows: Any, xp: Any
                  ) -> tuple[list[tuple[str, Any]], Any, Any, Any, Any]:
    """Arguments of ``gb_schedule`` and its four outputs: objective and violation (P,),
    start and finish (len(rows), N) of the individuals in ``rows``."""
    a = problem_arrays(pk, xp)
    pop = xp.ascontiguousarray(xp.asarray(pop, dtype=np.int32))
    keys = xp.ascontiguousarray(xp.asarray(keys, dtype=np.float64))
    P = pop.shape[0]
    s = _shape(pk)
    N, M, K = s["N"], s["M"], s["K"]
    rows = xp.asarray(rows, dtype=np.int64).reshape(-1)
    R = int(rows.shape[0])
    row_of = xp.full(P, -1, dtype=np.int32)
    row_of[rows] = xp.arange(R, dtype=np.int32)
    pool = 2 * N + M  # profile slots per individual: 2 count[j] + 1 for node j
    out_obj, out_viol = xp.empty(P), xp.empty(P)
    out_start, out_finish = xp.zeros((R, N)), xp.zeros((R, N))
    values = dict(
        pop=pop, keys=keys, P=P, **s, capacity=a["capacity"], demand=a["demand"],
        has_runtime=int(pk.has_runtime), runtime=a["runtime"], duration=a["duration"],
        speed=a["speed"], group_ok=a["group_ok"], task_group=a["task_group"],
        weight=a["weight"], release=a["release"], pred_ptr=a["pred_ptr"],
        pred_src=a["pred_src"], pred_data=a["pred_data"], succ_ptr=a["succ_ptr"],
        succ_dst=a["succ_dst"], bw_matrix=int(pk.bw_matrix), bw=a["bw"], code=code,
        row_of=row_of, times=xp.empty((P, pool)),
        usage=xp.empty((P, pool * K), a["capacity"].dtype), heap_key=xp.empty((P, N)),
        heap_idx=xp.empty((P, N), np.int32), waiting=xp.empty((P, N), np.int32),
        nodes=xp.empty((P, 3 * M), np.int32), start=xp.empty((P, N)),
        finish=xp.empty((P, N)), out_obj=out_obj, out_viol=out_viol, out_start=out_start,
        out_finish=out_finish)
    return pack_args("gb_schedule", values), out_obj, out_viol, out_start, out_finish


def schedule(pk: Packed, pop: Any, keys: Any, code: int, rows: Any,
             runner: Runner | None = None, xp: Any = None) -> tuple[Any, Any, Any, Any]:
    """Decode every individual: objective, violation, and start/finish (len(rows), N) for the
    individuals in ``rows`` (see ``_numba.schedule``)."""
    xp = xp if xp is not None else _cupy()
    args, obj, viol, start, finish = schedule_args(pk, pop, keys, code, rows, xp)
    (runner or _device_runner)("gb_schedule", int(obj.shape[0]), args, *_variant(pk))
    return like(pop, obj), like(pop, viol), like(pop, start), like(pop, finish)


def search_arrays(pk: Packed, sign: float, xp: Any) -> dict[str, Any]:
    """The search kernel's extra arrays in module ``xp``: ``score`` (N, M) and ``score_t``
    (M, N) float64 (``score_matrix``; (1, 1) without cost or runtime) and ``demand_t``, the
    node-major demands (``transposed``); cached on the packed problem per module and sign."""
    def arr(a: Any) -> Any:
        return xp.ascontiguousarray(xp.asarray(a))

    return pk.memo(("device_search", xp.__name__, float(sign)),
                   lambda: dict(score=arr(score_matrix(pk, sign)),
                                score_t=arr(transposed(pk, "score", sign)),
                                demand_t=arr(transposed(pk, "demand3"))))


def improve_args(pk: Packed, pop: Any, orders: Any, code: int, sign: float, passes: int,
                 weights: Any, xp: Any) -> tuple[list[tuple[str, Any]], Any]:
    """Arguments of ``gb_improve_placement`` and the (P, N) int32 population it rewrites:
    ``pop`` itself when it is a C-ordered int32 array of ``xp``, else a converted copy."""
    a = problem_arrays(pk, xp)
    sa = search_arrays(pk, sign, xp)
    work = xp.ascontiguousarray(xp.asarray(pop, dtype=np.int32))
    P = int(work.shape[0])
    s = _shape(pk)
    N, M, K = s["N"], s["M"], s["K"]
    orders = xp.ascontiguousarray(xp.asarray(orders, dtype=np.int64))
    if orders.shape != work.shape:
        raise ValueError(f"orders has shape {orders.shape}, the population {work.shape}")
    weights = (xp.zeros(P) if weights is None
               else xp.ascontiguousarray(xp.asarray(weights, dtype=np.float64)))
    dt = a["capacity"].dtype

    def scratch(width: int, dtype: Any, needed: bool) -> Any:
        """One row per individual where the objective uses it, else a (1, 1) stand-in."""
        return xp.empty((P, width) if needed else (1, 1), dtype)

    values = dict(
        pop=work, orders=orders, P=P, **s, capacity=a["capacity"], demand=a["demand"],
        demand_t=sa["demand_t"], scale=a["scale"], has_runtime=int(pk.has_runtime),
        runtime=a["runtime"], duration=a["duration"], speed=a["speed"],
        has_score=int(pk.has_cost or pk.has_runtime), score=sa["score"],
        score_t=sa["score_t"], elig_mode=pk.elig_mode, allowed=a["allowed"],
        group_ok=a["group_ok"], task_group=a["task_group"], code=int(code),
        sign=float(sign), passes=int(passes), weights=weights,
        load=xp.empty((P, M * K), dt), saved_load=scratch(M * K, dt, code == 2),
        saved=scratch(N, np.int32, code == 2), count=scratch(M, np.int64, code == 2),
        sorted=scratch(M, np.int32, code == 2), cur=scratch(N, np.float64, code == 0),
        alt_node=scratch(N, np.int32, code == 0), alt_sc=scratch(N, np.float64, code == 0),
        alt_delta=scratch(N, np.float64, code == 0))
    return pack_args("gb_improve_placement", values), work


def improve_placement(pk: Packed, pop: Any, orders: Any, code: int, sign: float, passes: int,
                      weights: Any = None, runner: Runner | None = None, xp: Any = None
                      ) -> None:
    """Repair and locally improve every placement in ``pop`` (P, N), in place (see
    ``_numba.improve_placement``): ``orders`` (P, N) the visiting orders, ``sign`` 1.0
    minimises and -1.0 maximises cost, ``weights`` (P,) the oscillation phase's penalty
    weights (cost objective; None or 0 skips it)."""
    xp = xp if xp is not None else _cupy()
    args, work = improve_args(pk, pop, orders, code, sign, passes, weights, xp)
    # one warp per individual (kernels/improve.cu)
    (runner or _device_runner)("gb_improve_placement", int(work.shape[0]) * WARP, args,
                               *_variant(pk), cooperative=True)
    if work is not pop:
        pop[...] = like(pop, work)


def search_cost(rec: Any, pop: Any, orders: Any, w0: Any, unit: float, rounds: int,
                passes: int, wide: int = 8, deep: int = 4, runner: Runner | None = None,
                xp: Any = None) -> Any:
    """Improve every individual of ``pop`` (P, N) in place by the incremental cost search;
    returns the moves made (P,) int64 (see ``_numba_search.search_cost``: the same moves).

    ``rec`` is the :class:`gabalance.backend._numba_search.CostRecord` (host or ``xp``
    arrays; its arrays in ``xp`` are kept for the next call with the same record); the data
    variant follows ``rec.capacity``'s dtype. Host arrays in, host arrays out."""
    xp = xp if xp is not None else _cupy()
    cached = _RECORDS.get(xp.__name__)
    if cached is None or cached[0] is not rec:
        def arr(a: Any, dtype: Any = None) -> Any:
            return xp.ascontiguousarray(xp.asarray(a, dtype=dtype))

        data = np.int64 if np.dtype(rec.capacity.dtype).kind in "iub" else np.float64
        cached = (rec, dict(capacity=arr(rec.capacity, data), demand=arr(rec.demand3, data),
                            scale=arr(rec.scale, np.float64), score=arr(rec.score, np.float64),
                            cand=arr(rec.cand, np.int64), allowed=arr(rec.allowed, np.uint8)))
        _RECORDS[xp.__name__] = cached
    a = cached[1]
    work = xp.ascontiguousarray(xp.asarray(pop, dtype=np.int32))
    P, N = (int(n) for n in work.shape)
    M, K = (int(n) for n in a["capacity"].shape)
    Md, L = int(a["demand"].shape[1]), int(a["cand"].shape[1])
    orders = xp.ascontiguousarray(xp.asarray(orders, dtype=np.int64))
    if orders.shape != work.shape:
        raise ValueError(f"orders has shape {orders.shape}, the population {work.shape}")
    w0 = xp.ascontiguousarray(xp.asarray(w0, dtype=np.float64).reshape(-1))
    if w0.shape != (P,):
        raise ValueError(f"w0 has shape {w0.shape}, expected ({P},)")
    moves = xp.zeros(P, np.int64)
    values = dict(
        pop=work, orders=orders, P=P, N=N, M=M, K=K, Md=Md, L=L, capacity=a["capacity"],
        demand=a["demand"], scale=a["scale"], score=a["score"], cand=a["cand"],
        allowed=a["allowed"], w0=w0, unit=float(unit), rounds=int(rounds),
        passes=int(passes), wide=min(int(wide), L), deep=min(int(deep), L), moves=moves,
        load=xp.empty((P, M * K), a["capacity"].dtype), over=xp.empty((P, M)),
        w=xp.empty((P, M)), head=xp.empty((P, M), np.int32), nxt=xp.empty((P, N), np.int32),
        prv=xp.empty((P, N), np.int32), dirty=xp.empty((P, N), np.uint8),
        best=xp.empty((P, N), np.int32))
    int_data, _ = variant(a["capacity"].dtype)
    # one warp per individual (kernels/search.cu)
    (runner or _device_runner)("gb_search_cost", P * WARP, pack_args("gb_search_cost", values),
                               int_data, False, cooperative=True)
    if work is not pop:
        pop[...] = like(pop, work)
    return like(pop, moves)

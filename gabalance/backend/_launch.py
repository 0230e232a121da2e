"""What the CUDA kernels expect: argument lists, compile options and launch shapes.

Shared by the cupy backend (``_cupy.py``) and the tests' host harness
(``tests/cuda_host.py``), so both call every kernel in ``kernels/`` the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["BLOCK", "KERNELS", "SHARED_LIMIT", "WARP", "grid_1d", "options", "pack_args",
           "placement_launch", "variant"]

#: threads per block of the one-thread-per-individual kernels
BLOCK = 128
#: threads of a warp (the cooperative kernels give each individual one warp)
WARP = 32

#: kernel name -> (source file, [(argument, kind)]); kinds: "ptr" (a device array),
#: "i32" (int), "f64" (double)
KERNELS: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "gb_placement": ("placement.cu", [
        ("pop", "ptr"), ("P", "i32"), ("N", "i32"), ("M", "i32"), ("K", "i32"),
        ("Md", "i32"), ("capacity", "ptr"), ("demand", "ptr"), ("scale", "ptr"),
        ("has_runtime", "i32"), ("runtime", "ptr"), ("duration", "ptr"), ("speed", "ptr"),
        ("has_cost", "i32"), ("cost", "ptr"), ("elig_mode", "i32"), ("allowed", "ptr"),
        ("group_ok", "ptr"), ("task_group", "ptr"), ("code", "i32"), ("in_shared", "i32"),
        ("load", "ptr"), ("used", "ptr"), ("out_obj", "ptr"), ("out_viol", "ptr")]),
    "gb_improve_placement": ("improve.cu", [
        ("pop", "ptr"), ("orders", "ptr"), ("P", "i32"), ("N", "i32"), ("M", "i32"),
        ("K", "i32"), ("Md", "i32"), ("capacity", "ptr"), ("demand", "ptr"),
        ("demand_t", "ptr"), ("scale", "ptr"), ("has_runtime", "i32"), ("runtime", "ptr"),
        ("duration", "ptr"), ("speed", "ptr"), ("has_score", "i32"), ("score", "ptr"),
        ("score_t", "ptr"), ("elig_mode", "i32"), ("allowed", "ptr"), ("group_ok", "ptr"),
        ("task_group", "ptr"), ("code", "i32"), ("sign", "f64"), ("passes", "i32"),
        ("weights", "ptr"), ("load", "ptr"), ("saved_load", "ptr"), ("saved", "ptr"),
        ("count", "ptr"), ("sorted", "ptr"), ("cur", "ptr"), ("alt_node", "ptr"),
        ("alt_sc", "ptr"), ("alt_delta", "ptr")]),
    "gb_schedule": ("schedule.cu", [
        ("pop", "ptr"), ("keys", "ptr"), ("P", "i32"), ("N", "i32"), ("M", "i32"),
        ("K", "i32"), ("Md", "i32"), ("capacity", "ptr"), ("demand", "ptr"),
        ("has_runtime", "i32"), ("runtime", "ptr"), ("duration", "ptr"), ("speed", "ptr"),
        ("group_ok", "ptr"), ("task_group", "ptr"), ("weight", "ptr"), ("release", "ptr"),
        ("pred_ptr", "ptr"), ("pred_src", "ptr"), ("pred_data", "ptr"), ("succ_ptr", "ptr"),
        ("succ_dst", "ptr"), ("bw_matrix", "i32"), ("bw", "ptr"), ("code", "i32"),
        ("row_of", "ptr"), ("times", "ptr"), ("usage", "ptr"), ("heap_key", "ptr"),
        ("heap_idx", "ptr"), ("waiting", "ptr"), ("nodes", "ptr"), ("start", "ptr"),
        ("finish", "ptr"), ("out_obj", "ptr"), ("out_viol", "ptr"), ("out_start", "ptr"),
        ("out_finish", "ptr")]),
    "gb_search_cost": ("search.cu", [
        ("pop", "ptr"), ("orders", "ptr"), ("P", "i32"), ("N", "i32"), ("M", "i32"),
        ("K", "i32"), ("Md", "i32"), ("L", "i32"), ("capacity", "ptr"), ("demand", "ptr"),
        ("scale", "ptr"), ("score", "ptr"), ("cand", "ptr"), ("allowed", "ptr"), ("w0", "ptr"),
        ("unit", "f64"), ("rounds", "i32"), ("passes", "i32"), ("wide", "i32"), ("deep", "i32"),
        ("moves", "ptr"), ("load", "ptr"), ("over", "ptr"), ("w", "ptr"), ("head", "ptr"),
        ("nxt", "ptr"), ("prv", "ptr"), ("dirty", "ptr"), ("best", "ptr")]),
}


def variant(data_dtype: Any, cost_dtype: Any = np.float64) -> tuple[bool, bool]:
    """(integer data, integer cost): which compiled variant a problem needs."""
    return np.dtype(data_dtype).kind in "iu", np.dtype(cost_dtype).kind in "iu"


def options(int_data: bool, int_cost: bool) -> tuple[str, ...]:
    """Compiler options for one variant (NVRTC and nvcc spell them alike)."""
    opts = ["--fmad=false", "-std=c++17"]
    if int_data:
        opts.append("-DGB_DATA_INT")
    if int_cost:
        opts.append("-DGB_COST_INT")
    return tuple(opts)


def grid_1d(n: int, block: int = BLOCK) -> tuple[int, int]:
    """(blocks, threads per block) covering ``n`` threads, one per individual; at least one
    block so that an empty population still launches validly."""
    if n < 0:
        raise ValueError(f"cannot launch {n} threads")
    if block < 1 or block > 1024:
        raise ValueError(f"threads per block must be in 1..1024, got {block}")
    return max(1, -(-n // block)), block


#: dynamic shared memory a launch may ask for without opting in (bytes, every CUDA device)
SHARED_LIMIT = 48 * 1024
#: tasks per shared-memory tile of the population in ``gb_placement`` (GB_TILE there)
PLACEMENT_TILE = 32


def placement_launch(P: int, M: int, K: int, code: int, data_itemsize: int
                     ) -> tuple[int, int, bool]:
    """Launch shape of ``gb_placement``: (threads per block, dynamic shared bytes, whether
    each thread's loads (and used flags for ``nodes_used``, code 2) are in shared memory).

    The block is the largest of 128, 64 and 32 threads whose tile and loads fit in
    :data:`SHARED_LIMIT`, but no wider than the population needs (rounded up to a warp);
    when none fits, the loads go to global memory and the block keeps 128 threads.
    """
    def tile(b: int) -> int:
        return (b * (PLACEMENT_TILE + 1) + 1) // 2 * 2 * 4

    def need(b: int) -> int:
        return tile(b) + M * K * b * data_itemsize + (M * b if code == 2 else 0)

    cap = max(32, -(-max(P, 1) // 32) * 32)
    for b in (128, 64, 32):
        b = min(b, cap)
        if need(b) <= SHARED_LIMIT:
            return b, need(b), True
    b = min(BLOCK, cap)
    return b, tile(b), False


def pack_args(name: str, values: dict[str, Any]) -> list[tuple[str, Any]]:
    """The kernel's arguments in order, as (kind, value), from a dict of named values."""
    _, spec = KERNELS[name]
    missing = [a for a, _ in spec if a not in values]
    if missing:
        raise KeyError(f"{name}: missing argument(s) {', '.join(missing)}")
    return [(kind, values[arg]) for arg, kind in spec]

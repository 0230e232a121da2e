"""Eligibility helpers shared by validation and the kernels' callers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

if TYPE_CHECKING:
    from gabalance.problem import Problem


@numba.njit(cache=True, nogil=True)
def _first_unfit(capacity, demand3, runtime, has_runtime, group_ok, task_group, gpus, need):
    n = demand3.shape[0]
    m, k_res = capacity.shape
    per_node = demand3.shape[1] > 1
    for i in range(n):
        g = task_group[i]
        found = False
        for j in range(m):
            if not group_ok[g, j]:
                continue
            if has_runtime and not np.isfinite(runtime[i, j]):
                continue
            if need[i] > gpus[j]:
                continue
            jj = j if per_node else 0
            fits = True
            for k in range(k_res):
                if demand3[i, jj, k] > capacity[j, k]:
                    fits = False
                    break
            if fits:
                found = True
                break
        if not found:
            return i
    return -1


def demand3(problem: Problem) -> np.ndarray:
    """``demand`` as a 3-D array (N, 1, K) or (N, M, K) (a view, no copy)."""
    d = problem.demand
    return d if d.ndim == 3 else d[:, None, :]


def first_unfit_task(problem: Problem) -> int:
    """Index of the first task no node can take (labels, runtime, empty-node fit), or -1."""
    group_ok, task_group = problem.label_ok()
    runtime = problem.runtime
    has_runtime = runtime is not None
    if not has_runtime:
        runtime = np.zeros((1, 1))
    # one argument type per role (C-contiguous, read-only, one dtype), so the kernel compiles
    # once per data variant (int64 or float64 capacity)
    data = np.int64 if problem.capacity.dtype.kind in "iub" else np.float64
    args = []
    for a, dtype in ((problem.capacity, data), (demand3(problem), data), (runtime, np.float64),
                     (group_ok, np.bool_), (task_group, np.int32)):
        a = np.ascontiguousarray(a, dtype)
        if a.flags.writeable:
            a = a.view()
            a.setflags(write=False)
        args.append(a)
    capacity, demand, runtime, group_ok, task_group = args
    return int(_first_unfit(capacity, demand, runtime, bool(has_runtime), group_ok, task_group,
                            problem.gpus, problem.devices_needed))

"""Backends: the one place where an evaluation engine is chosen.

Kernels take raw arrays and scalars; :func:`pack` unpacks a :class:`~gabalance.Problem`
into those arrays once (cached on the problem). Each backend module exposes

``placement(packed, population, objective_code) -> (objective (P,), violation (P,))``
``schedule(packed, population, keys, objective_code, rows)``
``-> (objective, violation, start, finish)``

with ``rows`` the individuals whose start/finish times are wanted.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from gabalance._fit import demand3
from gabalance.problem import Problem

__all__ = ["BACKENDS", "OBJECTIVE_CODES", "Packed", "get_backend", "gpu_status", "pack",
           "resolve_backend", "score_matrix", "transposed"]

log = logging.getLogger("gabalance")
T = TypeVar("T")

#: backends that exist in this version ("auto" picks cupy when a CUDA device answers, else
#: numba; numpy is the readable reference)
BACKENDS = ("numba", "numpy", "cupy")

#: integer codes the kernels use for each objective
OBJECTIVE_CODES = {
    "cost": 0, "max_utilization": 1, "nodes_used": 2, "imbalance": 3,
    "makespan": 0, "weighted_completion": 1,
}


@dataclass(frozen=True)
class Packed:
    """A problem as the kernels see it (no names, no Python objects).

    Every array is C-contiguous and read-only (the (1, 1) placeholders too), with the dtype
    given below for its role, and the flags are Python ``bool``: numba compiles a kernel once
    per argument type (dtype, layout and writability are part of it), so each kernel compiles
    once per data variant (int64 or float64 ``capacity``). :func:`pack` builds them so.

    Attributes
    ----------
    capacity : (M, K) int64 or float64
    demand3 : (N, 1, K) or (N, M, K), same dtype as capacity
    scale : (K,) float64, ``max_j capacity[j, k]``
    has_runtime : bool; runtime : (N, M) float64, or (1, 1) zeros when absent
    duration : (N,) float64; speed : (M,) float64
    has_cost : bool; cost : (N, M) int64/float64, or (1, 1) float64 zeros when absent
    group_ok : (G, M) bool; task_group : (N,) int32
    elig_mode : int
        0 when every task may run on every node, 1 when ``allowed`` holds the dense (N, M)
        eligibility table, 2 when kernels must work eligibility out from the fields above.
    allowed : (N, M) bool, or (1, 1) when ``elig_mode != 1``
    weight, release : (N,) float64
    pred_ptr : (N + 1,) int64; pred_src : (E,) int64; pred_data : (E,) float64
        Predecessors of task i are ``pred_src[pred_ptr[i]:pred_ptr[i + 1]]``.
    succ_ptr : (N + 1,) int64; succ_dst : (E,) int64
    bw_matrix : bool; bw : (M, M) float64, or (1, 1) holding the scalar bandwidth
    """

    capacity: np.ndarray
    demand3: np.ndarray
    scale: np.ndarray
    has_runtime: bool
    runtime: np.ndarray
    duration: np.ndarray
    speed: np.ndarray
    has_cost: bool
    cost: np.ndarray
    group_ok: np.ndarray
    task_group: np.ndarray
    elig_mode: int
    allowed: np.ndarray
    weight: np.ndarray
    release: np.ndarray
    pred_ptr: np.ndarray
    pred_src: np.ndarray
    pred_data: np.ndarray
    succ_ptr: np.ndarray
    succ_dst: np.ndarray
    bw_matrix: bool
    bw: np.ndarray
    #: values derived from the arrays (see :meth:`memo`); ``dataclasses.replace`` starts anew
    memos: dict[Any, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def memo(self, key: Any, build: Callable[[], T]) -> T:
        """``build()`` on the first call with ``key``, the same object afterwards."""
        try:
            return self.memos[key]
        except KeyError:
            value = self.memos[key] = build()
            return value


def _csr(keys: np.ndarray, values: list[np.ndarray], n: int) -> tuple[np.ndarray, ...]:
    order = np.argsort(keys, kind="stable")
    ptr = np.searchsorted(keys[order], np.arange(n + 1)).astype(np.int64)
    return (ptr, *(np.ascontiguousarray(v[order]) for v in values))


#: largest N * M for which kernels get a dense eligibility table (one byte per pair)
DENSE_ALLOWED_LIMIT = 1 << 25


def _eligibility(problem: Problem) -> tuple[int, np.ndarray]:
    """(elig_mode, table) for :class:`Packed`; exact, and O(N K + G M) unless a table is built."""
    group_ok, task_group = problem.label_ok()
    everywhere = bool(group_ok[np.unique(task_group)].all())
    if everywhere and problem.runtime is not None:
        everywhere = bool(np.isfinite(problem.runtime).all())
    if everywhere:
        if problem.per_node_demand:
            everywhere = bool((problem.demand <= problem.capacity[None]).all())
        elif problem.n_resources:
            everywhere = bool((problem.demand.max(axis=0) <= problem.capacity.min(axis=0)).all())
    if everywhere and problem.has_devices:
        everywhere = bool(problem.devices_needed.max() <= problem.gpus.min())
    if everywhere:
        return 0, np.ones((1, 1), bool)
    if problem.n_tasks * problem.n_nodes <= DENSE_ALLOWED_LIMIT:
        return 1, problem.allowed
    return 2, np.ones((1, 1), bool)


def pack(problem: Problem) -> Packed:
    """Kernel-ready arrays of ``problem`` (built once, cached on the problem).

    Every array is C-contiguous and read-only, with one dtype per role (see :class:`Packed`;
    the (1, 1) placeholders too) and the flags are Python ``bool``: numba compiles a kernel
    once per argument type, and dtype, layout and writability are all part of that type.
    """
    return problem.memo("packed", lambda: _pack(problem))


def _pack(problem: Problem) -> Packed:
    def frozen(a: np.ndarray, dtype: type) -> np.ndarray:
        a = np.ascontiguousarray(a, dtype)
        if a.flags.writeable:
            a = a.view()  # never changes the flags of an array someone else holds
            a.setflags(write=False)
        return a

    n, cap = problem.n_tasks, problem.capacity
    data = np.int64 if cap.dtype.kind in "iub" else np.float64
    scale = cap.max(axis=0).astype(np.float64) if cap.shape[1] else np.zeros(0)
    group_ok, task_group = problem.label_ok()
    e = problem.edges
    pred_ptr, pred_src, pred_data = _csr(e[:, 1], [e[:, 0], problem.data], n)
    succ_ptr, succ_dst = _csr(e[:, 0], [e[:, 1]], n)
    bw = np.asarray(problem.bandwidth, dtype=np.float64)
    elig_mode, allowed = _eligibility(problem)
    cost = problem.cost
    packed = Packed(
        capacity=frozen(cap, data),
        demand3=frozen(demand3(problem), data),
        scale=frozen(scale, np.float64),
        has_runtime=problem.runtime is not None,
        runtime=frozen(problem.runtime if problem.runtime is not None else np.zeros((1, 1)),
                       np.float64),
        duration=frozen(problem.duration, np.float64),
        speed=frozen(problem.speed, np.float64),
        has_cost=cost is not None,
        cost=frozen(np.zeros((1, 1)), np.float64) if cost is None else
        frozen(cost, np.int64 if cost.dtype.kind in "iub" else np.float64),
        group_ok=frozen(group_ok, np.bool_),
        task_group=frozen(task_group, np.int32),
        elig_mode=int(elig_mode),
        allowed=frozen(allowed, np.bool_),
        weight=frozen(problem.weight, np.float64),
        release=frozen(problem.release, np.float64),
        pred_ptr=frozen(pred_ptr, np.int64), pred_src=frozen(pred_src, np.int64),
        pred_data=frozen(pred_data, np.float64),
        succ_ptr=frozen(succ_ptr, np.int64), succ_dst=frozen(succ_dst, np.int64),
        bw_matrix=bool(bw.ndim == 2),
        bw=frozen(bw if bw.ndim == 2 else bw.reshape(1, 1), np.float64),
    )
    return packed


def score_matrix(pk: Packed, sign: float) -> np.ndarray:
    """``sign * cost`` as (N, M) float64 (``sign * runtime`` without a cost), cached on the
    packed problem; (1, 1) zeros when neither is given (kernels then use duration / speed).
    C-contiguous and read-only, like every array of :class:`Packed`."""
    sign = float(sign)

    def build() -> np.ndarray:
        if pk.has_cost:
            score = sign * pk.cost.astype(np.float64)
        elif pk.has_runtime:
            score = sign * pk.runtime
        else:
            score = np.zeros((1, 1))
        score = np.ascontiguousarray(score, np.float64)
        score.setflags(write=False)
        return score

    return pk.memo(("score", sign), build)


def transposed(pk: Packed, name: str, sign: float = 1.0) -> np.ndarray:
    """Node-major copy of ``demand3`` ((M, N, K); as is for per-task demands) or of the
    score matrix ((M, N)), for kernels that scan all tasks against one node (cached;
    C-contiguous and read-only, like every array of :class:`Packed`)."""
    def build() -> np.ndarray:
        if name == "demand3":
            d = pk.demand3
            t = np.ascontiguousarray(d.transpose(1, 0, 2)) if d.shape[1] > 1 else d
        else:
            t = np.ascontiguousarray(score_matrix(pk, sign).T)
        if t.flags.writeable:
            t = t.view()
            t.setflags(write=False)
        return t

    return pk.memo(("transposed", name, float(sign)), build)


_GPU: tuple[bool, str] | None = None


def gpu_status(refresh: bool = False) -> tuple[bool, str]:
    """(usable, reason): whether CuPy imports and a CUDA device answers (checked once)."""
    global _GPU
    if _GPU is None or refresh:
        try:
            import cupy
        except Exception as exc:  # ImportError, or a broken CUDA install
            _GPU = (False, f"CuPy is not importable ({type(exc).__name__}: {exc})")
        else:
            try:
                count = int(cupy.cuda.runtime.getDeviceCount())
            except Exception as exc:  # no driver, no device
                _GPU = (False, f"no CUDA device answers ({type(exc).__name__}: {exc})")
            else:
                _GPU = (True, f"{count} CUDA device(s)") if count > 0 else (
                    False, "no CUDA device answers (0 devices)")
    return _GPU


def resolve_backend(name: str | None = "auto") -> str:
    """The backend that ``name`` means here.

    ``"auto"`` is the ``GABALANCE_BACKEND`` environment variable when set, else ``cupy`` when
    CuPy imports and a CUDA device answers, else ``numba`` (the choice is logged at INFO
    level). Asking for ``cupy`` where it cannot run is an error that says why.
    """
    if name is None or name == "auto":
        env = os.environ.get("GABALANCE_BACKEND", "").strip().lower()
        if env and env != "auto":
            if env not in BACKENDS:
                raise ValueError(f"GABALANCE_BACKEND={env!r} is not a backend "
                                 f"(available: {', '.join(BACKENDS)})")
            return resolve_backend(env)
        ok, why = gpu_status()
        chosen = "cupy" if ok else "numba"
        log.info("backend 'auto' chose %r (%s)", chosen, why)
        return chosen
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r} (available: {', '.join(BACKENDS)}, auto)")
    if name == "cupy":
        ok, why = gpu_status()
        if not ok:
            raise ValueError(f"backend 'cupy' cannot run here: {why}; use backend='numba' "
                               "(or 'auto', which falls back to it)")
    return name


def get_backend(name: str | None = "auto") -> ModuleType:
    """The module implementing backend ``name`` (see :func:`resolve_backend`)."""
    import importlib

    return importlib.import_module(f"gabalance.backend._{resolve_backend(name)}")

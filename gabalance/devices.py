"""GPU devices: which devices of its node each task uses, and what that costs.

A node carries ``problem.gpus[j]`` devices of :data:`~gabalance.problem.DEVICE_MILLI` = 1000
milli-GPU each. A task with ``0 < gpu_milli < 1000`` takes a share of **one** device; a task
with ``gpu_milli = 1000 k`` takes **k whole devices** of its node; a task may also wait
(node index ``-1``) where ``problem.may_wait`` allows. A solution is a node index per task
plus a device mask per task (``int64``: bit ``d`` set = device ``d`` of its node).

The evaluation kernels (``gabalance/backend``: NumPy reference, Numba, CUDA twin) check a
population of such solutions; when no masks are given they pack the devices themselves with
the canonical rule :func:`pack_order` describes, so that a node assignment alone can be
evaluated (the rule is the one-node best-fit-decreasing packing, Johnson 1974).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gabalance.problem import DEVICE_MILLI, Problem

__all__ = ["DeviceRecord", "device_loads", "device_record", "mask_devices", "pack_order"]


@dataclass(frozen=True)
class DeviceRecord:
    """Kernel-ready arrays of the device model (one dtype per role, C-contiguous, read-only).

    Attributes
    ----------
    capacity : (M, K) int64 or float64
    demand : (N, K), same dtype as capacity
    scale : (K,) float64, ``max_j capacity[j, k]`` (0 leaves that resource out of the sum)
    gpus : (M,) int64, devices per node
    gpu : (N,) int64, milli-GPU request
    need : (N,) int64, devices a task takes (0, 1 for a share, k for k whole devices)
    may_wait : (N,) bool
    weight : (N,) float64
    group_ok : (G, M) bool, task_group : (N,) int32, label eligibility
    order : (N,) int64, the canonical packing order (:func:`pack_order`)
    total_gpu : float, ``1000 * sum(gpus)`` (1 when the cluster has no GPU)
    width : int, most devices on one node (at least 1)
    """

    capacity: np.ndarray
    demand: np.ndarray
    scale: np.ndarray
    gpus: np.ndarray
    gpu: np.ndarray
    need: np.ndarray
    may_wait: np.ndarray
    weight: np.ndarray
    group_ok: np.ndarray
    task_group: np.ndarray
    order: np.ndarray
    total_gpu: float
    width: int


def pack_order(problem: Problem) -> np.ndarray:
    """The canonical device-packing order, shape (N,) int64.

    Tasks that take whole devices first (more devices first), then shares by size (largest
    first), then tasks without GPU; ties by task index. Packing each node's tasks in this
    order (whole devices: the lowest-index free devices; a share: the device it fits most
    tightly, ties to the lowest index) is best-fit decreasing per node.
    """
    g = problem.gpu_milli
    whole = g >= DEVICE_MILLI
    # primary key: class (0 whole, 1 share, 2 none); secondary: size descending
    cls = np.where(whole, 0, np.where(g > 0, 1, 2))
    return np.lexsort((np.arange(problem.n_tasks), -g, cls)).astype(np.int64)


def device_record(problem: Problem) -> DeviceRecord:
    """The :class:`DeviceRecord` of ``problem`` (built once, kept by ``problem.memo``)."""
    return problem.memo("devices", lambda: _device_record(problem))


def _device_record(problem: Problem) -> DeviceRecord:
    def frozen(a: Any, dtype: Any) -> np.ndarray:
        a = np.ascontiguousarray(a, dtype)
        if a.flags.writeable:
            a = a.view()
            a.setflags(write=False)
        return a

    if problem.per_node_demand:
        from gabalance.problem import ProblemError

        raise ProblemError("GPU devices and waiting tasks need one demand per task (N, K), "
                           "not per node")
    cap = problem.capacity
    data = np.int64 if cap.dtype.kind in "iub" else np.float64
    group_ok, task_group = problem.label_ok()
    scale = cap.max(axis=0).astype(np.float64) if cap.shape[1] else np.zeros(0)
    total = float(DEVICE_MILLI * int(problem.gpus.sum()))
    rec = DeviceRecord(
        capacity=frozen(cap, data), demand=frozen(problem.demand, data),
        scale=frozen(scale, np.float64), gpus=frozen(problem.gpus, np.int64),
        gpu=frozen(problem.gpu_milli, np.int64), need=frozen(problem.devices_needed, np.int64),
        may_wait=frozen(problem.may_wait, np.bool_), weight=frozen(problem.weight, np.float64),
        group_ok=frozen(group_ok, np.bool_), task_group=frozen(task_group, np.int32),
        order=frozen(pack_order(problem), np.int64), total_gpu=total if total > 0 else 1.0,
        width=max(1, int(problem.gpus.max(initial=0))),
    )
    return rec


def mask_devices(mask: int) -> list[int]:
    """The device indices in one mask, ascending (``0b101`` -> ``[0, 2]``)."""
    mask = int(mask)
    return [d for d in range(mask.bit_length()) if mask >> d & 1]


def device_loads(problem: Problem, x: Any, masks: Any) -> np.ndarray:
    """Milli-GPU committed on every device, shape (M, width) int64.

    ``x`` (N,) node per task (-1 waiting), ``masks`` (N,) int64 device masks. A share adds
    its ``gpu_milli`` to its device, a whole-device task 1000 to each of its devices; bits
    beyond a node's devices are ignored here (:func:`gabalance.validate` reports them).
    """
    rec = device_record(problem)
    x = np.asarray(x, dtype=np.int64)
    masks = np.asarray(masks, dtype=np.int64)
    load = np.zeros((problem.n_nodes, rec.width), np.int64)
    for t in np.flatnonzero((x >= 0) & (rec.gpu > 0)):
        j = int(x[t])
        amount = int(rec.gpu[t]) if rec.need[t] == 1 and rec.gpu[t] < DEVICE_MILLI \
            else DEVICE_MILLI
        for d in mask_devices(int(masks[t])):
            if d < rec.gpus[j]:
                load[j, d] += amount
    return load

"""Node monitoring for the Ray executor: CPU, memory and GPU use of a node.

:func:`local_snapshot` reads this machine with ``psutil`` (CPU %, memory) and NVML
(``pynvml``: per-GPU utilisation and memory) when they import; a missing library leaves its
fields ``None`` (or the GPU list empty). :func:`cluster_snapshot` takes one on every node of a
Ray cluster with a zero-CPU task pinned to it. Nothing here imports Ray or psutil at import
time.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["cluster_snapshot", "gpu_snapshot", "local_snapshot"]

_GIB = float(2**30)


def gpu_snapshot() -> list[dict[str, Any]]:
    """Utilisation and memory of every GPU NVML sees.

    Returns
    -------
    list of dict
        Per GPU: ``index``, ``name``, ``util_percent``, ``mem_used_gb``, ``mem_total_gb``
        (GiB). Empty when ``pynvml`` is not installed or NVML finds no driver.
    """
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except Exception:  # no driver, no device
        return []
    out: list[dict[str, Any]] = []
    try:
        for i in range(int(pynvml.nvmlDeviceGetCount())):
            handle = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(handle)
            util = pynvml.nvmlDeviceGetUtilizationRates(handle)
            mem = pynvml.nvmlDeviceGetMemoryInfo(handle)
            out.append({
                "index": i,
                "name": name.decode() if isinstance(name, bytes) else str(name),
                "util_percent": float(util.gpu),
                "mem_used_gb": float(mem.used) / _GIB,
                "mem_total_gb": float(mem.total) / _GIB,
            })
    finally:
        pynvml.nvmlShutdown()
    return out


def local_snapshot(interval: float = 0.1) -> dict[str, Any]:
    """CPU, memory and GPU use of this machine now.

    Parameters
    ----------
    interval : float, default 0.1
        Seconds over which psutil measures the CPU use.

    Returns
    -------
    dict
        ``time`` (Unix seconds), ``host``, ``pid``, ``cpu_count``, ``cpu_percent``,
        ``mem_total_gb``, ``mem_used_gb``, ``mem_percent`` (None without psutil) and
        ``gpus`` (see :func:`gpu_snapshot`).
    """
    snap: dict[str, Any] = {
        "time": time.time(), "host": socket.gethostname(), "pid": os.getpid(),
        "cpu_count": os.cpu_count(), "cpu_percent": None, "mem_total_gb": None,
        "mem_used_gb": None, "mem_percent": None,
    }
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        snap["cpu_percent"] = float(psutil.cpu_percent(interval=interval))
        mem = psutil.virtual_memory()
        snap["mem_total_gb"] = float(mem.total) / _GIB
        snap["mem_used_gb"] = float(mem.total - mem.available) / _GIB
        snap["mem_percent"] = float(mem.percent)
    snap["gpus"] = gpu_snapshot()
    return snap


def cluster_snapshot(node_ids: Mapping[str, str], timeout: float = 10.0
                     ) -> dict[str, dict[str, Any]]:
    """A :func:`local_snapshot` of each Ray node, by a zero-CPU task pinned to it.

    Parameters
    ----------
    node_ids : mapping of str to str
        Node name -> Ray NodeID (``RayExecutor.node_ids``).
    timeout : float, default 10.0
        Seconds to wait for all nodes.

    Returns
    -------
    dict of str to dict
        Node name -> snapshot, or ``{"error": message}`` for a node that did not answer.
    """
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    remote = ray.remote(num_cpus=0, max_retries=0)(local_snapshot)
    refs = {name: remote.options(scheduling_strategy=NodeAffinitySchedulingStrategy(
        node_id=rid, soft=False)).remote() for name, rid in node_ids.items()}
    if refs:
        ray.wait(list(refs.values()), num_returns=len(refs), timeout=timeout)
    out: dict[str, dict[str, Any]] = {}
    for name, ref in refs.items():
        try:
            out[name] = ray.get(ref, timeout=0)
        except Exception as exc:  # timeout, node gone
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
            try:
                ray.cancel(ref, force=True)
            except Exception:  # best effort: the node may be gone
                pass
    return out

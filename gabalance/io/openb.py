"""Alibaba cluster-trace-gpu-v2023 ("openb") reader: heterogeneous GPU nodes + task requests."""

from __future__ import annotations

import csv
from collections import Counter
from typing import Any

import numpy as np

from gabalance.io._common import FormatError, PathLike, base, display, located, stem, to_int
from gabalance.problem import Problem

__all__ = ["read_openb"]

RESOURCES = ("cpu_milli", "memory_mib", "gpu_milli")
#: resources of the per-device reading (GPU is modelled by devices, not as an amount)
DEVICE_RESOURCES = ("cpu_milli", "memory_mib")
_REFERENCE = ("Q. Weng, L. Yang, Y. Yu, W. Wang, X. Tang, G. Yang, L. Zhang, \"Beware of "
              "Fragmentation: Scheduling GPU-Sharing Workloads with Fragmentation Gradient "
              "Descent\", USENIX ATC 2023")
_RELAXATION = ("aggregate GPU relaxation: a node offers 1000*gpu gpu_milli in one pool; a "
               "fractional share is not pinned to one physical GPU, so per-device packing and "
               "GPU fragmentation are not modelled")


def _table(path: PathLike, need: tuple[str, ...], optional: tuple[str, ...] = ()
           ) -> tuple[dict[str, list[str]], str]:
    """Read a CSV with a header into columns (lists of stripped strings)."""
    where = display(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise FormatError(f"{where}: empty file (no header line)") from None
        missing = [c for c in need if c not in header]
        if missing:
            raise FormatError(f"{where} line 1: missing column(s) {', '.join(missing)} "
                              f"(header: {','.join(header)})")
        rows = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                raise FormatError(f"{where} line {reader.line_num}: {len(row)} fields, the "
                                  f"header has {len(header)}")
            rows.append((reader.line_num, row))
    if not rows:
        raise FormatError(f"{where}: no data rows")
    cols = {c: [r[header.index(c)].strip() for _, r in rows]
            for c in (*need, *optional) if c in header}
    cols["__line__"] = [str(n) for n, _ in rows]
    return cols, where


def _int_column(cols: dict[str, list[str]], name: str, where: str) -> np.ndarray:
    values = cols[name]
    try:
        out = np.array(values, dtype=np.int64)
    except (ValueError, OverflowError):
        out = None
    if out is None or (out < 0).any():
        for k, v in enumerate(values):
            iv = to_int(v)
            if iv is None or iv < 0 or iv >= 2**63:
                raise FormatError(f"{where} line {cols['__line__'][k]}: {name} {v!r} is not a "
                                  "non-negative integer")
    assert out is not None  # every value passed the check above
    return out


def read_openb(node_csv: PathLike, pod_csv: PathLike, *, pooled: bool = False,
               may_wait: bool = True) -> Problem:
    """Read an openb node list and task (pod) list as one placement problem.

    By default the GPUs are **devices** (the model of the source paper): a node carries
    ``gpu`` devices of 1000 milli-GPU, a task with ``num_gpu == 1`` takes a share
    (``gpu_milli``) of one device, a task with ``num_gpu = k > 1`` takes k whole devices;
    every task may wait (the cluster is saturated at full arrival), and the objective is
    ``gpu_allocation``. ``pooled=True`` gives the **aggregate GPU relaxation** instead (see
    Notes).

    Parameters
    ----------
    node_csv : str or os.PathLike
        Node list CSV with header ``sn,cpu_milli,memory_mib,gpu,model`` (e.g.
        ``openb_node_list_all_node.csv``): CPU in milli-cores, memory in MiB, GPU count,
        GPU model (empty = CPU-only node).
    pod_csv : str or os.PathLike
        Task list CSV with at least ``name,cpu_milli,memory_mib,num_gpu,gpu_milli`` and
        optionally ``gpu_spec`` (allowed GPU models separated by ``|``, empty = any), e.g.
        ``openb_pod_list_default.csv``. Other columns (qos, times, ...) are ignored.
    pooled : bool, default False
        Read the aggregate relaxation (one pool of ``1000 * gpu`` milli-GPU per node, every
        task placed, ``objective="max_utilization"``) in place of the device model.
    may_wait : bool, default True
        Device model: whether tasks may stay unplaced.

    Returns
    -------
    Problem
        Device model: ``K = 2`` resources ``("cpu_milli", "memory_mib")``, ``gpus`` (M,) per
        node, ``gpu_milli`` (N,) per task (``1000 * num_gpu`` when ``num_gpu != 1``),
        ``may_wait``, ``objective="gpu_allocation"``. ``pooled=True``:
        placement problem named after the pod file stem, ``objective="max_utilization"``.
        ``M`` nodes named by ``sn``, ``N`` tasks named by ``name``, ``K = 3`` resources
        ``("cpu_milli", "memory_mib", "gpu_milli")``; ``capacity`` (M, 3) int64 with
        ``gpu_milli = 1000 * gpu``; ``demand`` (N, 3) int64 with ``gpu_milli = 1000 * num_gpu``
        when ``num_gpu != 1`` and the ``gpu_milli`` column (a share of one GPU in 1/1000)
        when ``num_gpu == 1``. Node labels: ``{"gpu_model=<model>"}``, or ``{"cpu_only"}``
        when the model is empty. A ``gpu_spec`` ``"A|B"`` becomes one requirement with the
        alternatives ``{"gpu_model=A", "gpu_model=B"}``. ``info`` records the source, the
        files, counts of GPU models and multi-GPU tasks, and the relaxation below.

    Raises
    ------
    FormatError
        Missing columns, a row with the wrong field count, a non-integer or negative amount;
        names the file and the line.
    ProblemError
        Duplicate node or task names, or a task that fits no node.

    Notes
    -----
    This is an **aggregate relaxation** of the GPU-sharing cluster: a node's GPUs form one
    pool of ``1000 * gpu`` milli-GPUs. A fractional task (``gpu_milli < 1000``) is not pinned
    to one physical GPU, and a multi-GPU task is not required to take whole devices, so
    per-device packing and the GPU fragmentation studied by the source paper are not
    modelled; a placement feasible here may not be feasible device by device.

    References
    ----------
    Q. Weng, L. Yang, Y. Yu, W. Wang, X. Tang, G. Yang, L. Zhang, "Beware of Fragmentation:
    Scheduling GPU-Sharing Workloads with Fragmentation Gradient Descent", USENIX ATC 2023.
    Data: alibaba/clusterdata, cluster-trace-gpu-v2023.
    """
    nodes, nwhere = _table(node_csv, ("sn", "cpu_milli", "memory_mib", "gpu", "model"))
    pods, pwhere = _table(pod_csv, ("name", "cpu_milli", "memory_mib", "num_gpu", "gpu_milli"),
                          ("gpu_spec",))

    n_gpu = _int_column(nodes, "gpu", nwhere)
    capacity = np.stack([_int_column(nodes, "cpu_milli", nwhere),
                         _int_column(nodes, "memory_mib", nwhere), 1000 * n_gpu], axis=1)
    models = nodes["model"]
    labels = [frozenset([f"gpu_model={m}"]) if m else frozenset(["cpu_only"]) for m in models]

    num_gpu = _int_column(pods, "num_gpu", pwhere)
    share = _int_column(pods, "gpu_milli", pwhere)
    gpu_milli = np.where(num_gpu == 1, share, 1000 * num_gpu)
    demand = np.stack([_int_column(pods, "cpu_milli", pwhere),
                       _int_column(pods, "memory_mib", pwhere), gpu_milli], axis=1)
    specs = pods.get("gpu_spec", [""] * len(num_gpu))
    cache: dict[str, tuple[frozenset[str], ...]] = {"": ()}
    requires = []
    for k, spec in enumerate(specs):
        req = cache.get(spec)
        if req is None:
            alts = [s.strip() for s in spec.split("|") if s.strip()]
            if not alts:
                raise FormatError(f"{pwhere} line {pods['__line__'][k]}: gpu_spec {spec!r} "
                                  "names no GPU model")
            req = cache[spec] = (frozenset(f"gpu_model={a}" for a in alts),)
        requires.append(req)

    info: dict[str, Any] = {
        "source": "Alibaba cluster-trace-gpu-v2023 (openb)", "format": "openb-csv",
        "node_file": base(node_csv), "pod_file": base(pod_csv), "reference": _REFERENCE,
        "gpu_model": "pooled relaxation" if pooled else "devices",
        "gpu_models": dict(sorted(Counter(m or "cpu_only" for m in models).items())),
        "total_gpus": int(n_gpu.sum()),
        "tasks_by_num_gpu": {str(k): int(v) for k, v in zip(*np.unique(num_gpu,
                                                                         return_counts=True))},
        "tasks_with_gpu_spec": int(sum(1 for s in specs if s)),
    }
    if pooled:
        info["relaxation"] = _RELAXATION
    with located(f"{nwhere} + {pwhere}"):
        if pooled:
            return Problem(
                capacity, demand, resources=RESOURCES, node_names=nodes["sn"],
                task_names=pods["name"], node_labels=labels, task_requires=requires,
                objective="max_utilization", name=stem(pod_csv), info=info,
            )
        return Problem(
            capacity[:, :2], demand[:, :2], resources=DEVICE_RESOURCES,
            node_names=nodes["sn"], task_names=pods["name"], node_labels=labels,
            task_requires=requires, gpus=n_gpu, gpu_milli=gpu_milli, may_wait=may_wait,
            objective="gpu_allocation", name=stem(pod_csv), info=info,
        )

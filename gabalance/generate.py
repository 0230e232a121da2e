"""Seeded generators of synthetic problems.

Every generator takes ``seed`` (an int, or a :class:`numpy.random.Generator` that it draws
from) and returns a valid :class:`~gabalance.Problem`: every task fits some node. The same
integer seed gives an identical problem (``==``).

* :func:`ai_cluster` -- a heterogeneous CPU/GPU cluster with training, inference and
  data-preprocessing tasks, optionally driven by Gavel's measured throughputs;
* :func:`random_dag` -- the random task graphs of Topcuoglu, Hariri & Wu (2002, HEFT);
* :func:`gap_like` -- generalised-assignment instances of types A-D (Chu & Beasley 1997).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from gabalance.problem import Problem

__all__ = ["CPU_NODE_TYPES", "GPU_NODE_TYPES", "ai_cluster", "gap_like", "random_dag"]

SeedLike = int | np.integer | np.random.Generator

#: CPU node types: name -> (cores, memory GB, CPU speed, probability)
CPU_NODE_TYPES: dict[str, tuple[int, int, float, float]] = {
    "cpu16": (16, 64, 1.0, 0.6),
    "cpu64": (64, 256, 1.25, 0.4),
}
#: GPU node types: name -> (GPU model, GPUs, cores, memory GB, host CPU speed, probability).
#: Every type offers at least 4 cores and 48 GB per GPU, so a GPU task (at most 4 cores and
#: 48 GB per GPU) fits every GPU node with enough GPUs.
GPU_NODE_TYPES: dict[str, tuple[str, int, int, int, float, float]] = {
    "k80x8": ("k80", 8, 32, 488, 0.8, 0.25),
    "p100x4": ("p100", 4, 32, 256, 1.0, 0.30),
    "v100x4": ("v100", 4, 32, 244, 1.2, 0.25),
    "v100x8": ("v100", 8, 64, 488, 1.2, 0.20),
}
GPU_MODELS = ("k80", "p100", "v100")
#: built-in GPU speed factors (K80 = 1), roughly the medians of Gavel's isolated throughputs
GPU_SPEED = {"k80": 1.0, "p100": 3.0, "v100": 5.0}

_DATA, _TRAIN, _INFER = 0, 1, 2
_KIND_NAMES = ("data", "train", "infer")
_SCALE_FACTORS = (1, 2, 4, 8)
_SCALE_PROBS = (0.55, 0.20, 0.15, 0.10)


def _rng(seed: SeedLike) -> tuple[np.random.Generator, int | None]:
    """The generator to draw from and the integer seed to record (None for a Generator)."""
    if isinstance(seed, np.random.Generator):
        return seed, None
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.default_rng(int(seed)), int(seed)
    raise TypeError(f"seed must be an int or a numpy Generator, got {type(seed).__name__}")


def _log_uniform(rng: np.random.Generator, lo: float, hi: float, size: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(lo), math.log(hi), size))


def _names(prefix: str | list[str], count: int) -> list[str]:
    width = len(str(max(count - 1, 0)))
    if isinstance(prefix, str):
        return [f"{prefix}{i:0{width}d}" for i in range(count)]
    return [f"{p}-{i:0{width}d}" for i, p in enumerate(prefix)]


# --------------------------------------------------------------------------- AI cluster


def _throughput_entries(
    throughputs: Mapping[Any, Mapping[str, float]],
) -> dict[int, list[tuple[str, np.ndarray]]]:
    """Usable Gavel entries grouped by scale factor: [(job type, (3,) steps/s)], sorted."""
    by_sf: dict[int, list[tuple[str, np.ndarray]]] = {}
    for key in sorted(throughputs, key=lambda k: (str(k[0]), int(k[1]))):
        job, sf = str(key[0]), int(key[1])
        row = throughputs[key]
        try:
            thr = np.array([float(row[g]) for g in GPU_MODELS])
        except (KeyError, TypeError, ValueError):
            continue
        if np.all(np.isfinite(thr)) and np.all(thr > 0):
            by_sf.setdefault(sf, []).append((job, thr))
    return by_sf


def ai_cluster(
    n_nodes: int = 64,
    n_tasks: int = 500,
    *,
    seed: SeedLike = 0,
    gpu_fraction: float = 0.5,
    dependencies: bool = True,
    throughputs: Mapping[Any, Mapping[str, float]] | None = None,
    dense_runtime: bool = True,
    objective: str = "makespan",
    fill: float | None = None,
) -> Problem:
    """A heterogeneous AI cluster: CPU and K80/P100/V100 GPU nodes, and a mixed workload.

    Nodes are drawn from :data:`CPU_NODE_TYPES` (16 or 64 cores) and :data:`GPU_NODE_TYPES`
    (8 x K80, 4 x P100, 4 or 8 x V100, with 32-64 cores and 244-488 GB). Resources are
    ``("cpu", "gpu", "mem_gb")`` (int64). CPU nodes carry the label ``"cpu"``, GPU nodes
    ``"gpu"`` and ``"gpu=<model>"``; node names are ``<type>-<index>``.

    Tasks are named ``<kind>-<index>`` with three kinds:

    * ``data`` (preprocessing): 1-16 cores, 4-64 GB, no GPU, no label requirement (it
      fits every node); 2 min - 1 h of CPU time on a speed-1 node.
    * ``train``: 1, 2, 4 or 8 GPUs (probabilities 0.55/0.2/0.15/0.1, capped by the largest
      GPU node -- most jobs use one GPU, as in the Philly trace of Jeon et al., 2019),
      1-4 cores and 8-48 GB per GPU; requires ``"gpu"``, and one in ten also pins a GPU
      model (``"gpu=v100"`` ...); 10 min - 4 h on a V100. Weight 1, or 2 for one in five.
    * ``infer``: 1 GPU (2 for one in ten), 1-4 cores and 4-32 GB per GPU; requires
      ``"gpu"``; 30 s - 10 min on a V100; weight 4 (latency-sensitive).

    Times are log-uniform in the ranges given. With ``dependencies`` the tasks form short
    pipelines ``data* -> train -> infer*`` (0-3 data tasks fanning into one training task,
    0-2 inference tasks after it), plus fan-in across pipelines: one training task in ten
    also reads an earlier pipeline's data task (a shared data set) and one inference task
    in ten also uses an earlier pipeline's model (an ensemble). Edges carry data sets of
    1-50 GB (into training) or models of 0.1-5 GB (into inference), over a scalar
    bandwidth of 1.25 GB/s (10 GbE). All tasks of a pipeline share one release time;
    without dependencies the kinds are drawn independently (0.3/0.4/0.3) and so are the
    release times. Releases are uniform over a window of half the estimated load
    (total GPU-seconds at V100 speed per GPU, or total core-seconds per core, whichever is
    larger). Units: seconds, GB, GB/s.

    Runtimes. With ``throughputs`` (requires ``dense_runtime``) every GPU task draws a Gavel
    job type with its GPU count as scale factor (inference tasks too, as a forward-pass
    stand-in), its step count is its V100 time times the V100 throughput, and its runtime
    on a GPU node is ``steps / throughput[model]`` -- heterogeneous and not monotone
    (Narayanan et al., 2020). Without ``throughputs`` the built-in :data:`GPU_SPEED`
    factors are used, times a per task and GPU model log-normal affinity (sigma 0.25) when
    ``dense_runtime``. Data tasks run at the CPU speed of the node. GPU tasks get ``inf``
    on CPU nodes. ``duration`` is always the runtime on a speed-1 node (a K80 node for
    GPU tasks).

    With ``dense_runtime=False`` no (N, M) matrix is built: runtime = ``duration / speed``
    with ``speed`` the GPU factor of a GPU node (so a data task on a GPU node also runs at
    that factor -- an approximation) and the CPU speed of a CPU node. This keeps very
    large instances small: ``ai_cluster(10_000, 100_000, dependencies=False,
    dense_runtime=False, objective="max_utilization")`` builds in about a second and
    holds no array larger than (N, 3).

    Parameters
    ----------
    n_nodes, n_tasks : int
        M nodes and N tasks (both >= 1).
    seed : int or numpy.random.Generator
    gpu_fraction : float in [0, 1]
        Share of GPU nodes (rounded; at least one GPU node when > 0). Without GPU nodes
        every task is a data task.
    dependencies : bool
        Build the pipeline DAG (otherwise no edges).
    throughputs : dict, optional
        ``{(job_type, scale_factor): {"k80": steps/s, "p100": ..., "v100": ...}}`` as
        returned by ``gabalance.io.gavel_throughput_table``; entries lacking a positive
        throughput on one of the three models are skipped.
    dense_runtime : bool
        Build the (N, M) ``runtime`` matrix.
    objective : str
        The problem's default objective.
    fill : float in (0, 1], optional
        Shrink the workload so that a plan exists: resources are counted in thousandths
        (milli-cores, milli-GPUs, MB rather than GB: capacities times 1000, so GPU tasks may
        share a device's pooled capacity), and each resource's demands are scaled by one
        factor (rounded down, at least one unit) so that the tasks confined to any label class
        -- all tasks on all nodes, the ``"gpu"`` tasks on the GPU nodes, the tasks pinned
        to a model on that model's nodes -- ask for at most ``fill`` of its capacity.
        Resources that already fit are only converted. Many small tasks per node (100,000
        tasks on 10,000 nodes) cannot fit otherwise: the drawn sizes would ask for about
        4x the cluster's GPUs. ``info["units"]`` records the units.

    Returns
    -------
    Problem
        capacity (M, 3) int64, demand (N, 3) int64, speed (M,), duration (N,), runtime
        (N, M) or None, weight (N,), release (N,), edges (E, 2), data (E,), scalar
        bandwidth. ``info`` records the generator, its arguments and the units, and with
        ``throughputs`` the Gavel job type of each GPU task (``info["job_types"]``).

    References
    ----------
    D. Narayanan, K. Santhanam, F. Kazhamiaka, A. Phanishayee, M. Zaharia,
    "Heterogeneity-Aware Cluster Scheduling Policies for Deep Learning Workloads",
    OSDI 2020 (Gavel).
    M. Jeon, S. Venkataraman, A. Phanishayee, J. Qian, W. Xiao, F. Yang, "Analysis of
    Large-Scale Multi-Tenant GPU Clusters for DNN Training Workloads", USENIX ATC 2019.
    """
    rng, seed_int = _rng(seed)
    _check_ai_cluster_args(n_nodes, n_tasks, gpu_fraction, fill, throughputs, dense_runtime)
    return _build_ai_cluster(
        rng, seed_int, int(n_nodes), int(n_tasks), gpu_fraction=gpu_fraction,
        dependencies=dependencies, throughputs=throughputs, dense_runtime=dense_runtime,
        objective=objective, fill=fill,
    )


def _check_ai_cluster_args(
    n_nodes: int,
    n_tasks: int,
    gpu_fraction: float,
    fill: float | None,
    throughputs: Mapping[Any, Mapping[str, float]] | None,
    dense_runtime: bool,
) -> None:
    """Raise ValueError on invalid :func:`ai_cluster` arguments."""
    if int(n_nodes) < 1 or int(n_tasks) < 1:
        raise ValueError("n_nodes and n_tasks must be >= 1")
    if not 0.0 <= gpu_fraction <= 1.0:
        raise ValueError(f"gpu_fraction must be in [0, 1], got {gpu_fraction!r}")
    if fill is not None and (isinstance(fill, bool) or not isinstance(fill, (int, float))
                             or not 0.0 < float(fill) <= 1.0):
        raise ValueError(f"fill must be a number in (0, 1], got {fill!r}")
    if throughputs is not None and not dense_runtime:
        raise ValueError("throughputs give a per-GPU-model runtime, which needs dense_runtime")


def _build_ai_cluster(
    rng: np.random.Generator,
    seed_int: int | None,
    M: int,
    N: int,
    *,
    gpu_fraction: float,
    dependencies: bool,
    throughputs: Mapping[Any, Mapping[str, float]] | None,
    dense_runtime: bool,
    objective: str,
    fill: float | None,
) -> Problem:
    """The body of :func:`ai_cluster`, its arguments checked: draw nodes, then tasks."""
    nodes = _build_nodes(rng, M, gpu_fraction)
    n_gpu = int(np.count_nonzero(nodes.model >= 0))
    g_max = int(nodes.model_max.max())
    by_sf = _throughput_entries(throughputs) if throughputs is not None else None
    train_sfs = [s for s in _SCALE_FACTORS if s <= g_max and (by_sf is None or s in by_sf)]
    if by_sf is not None and n_gpu and not train_sfs:
        raise ValueError("throughputs has no usable entry with a GPU count the nodes offer")

    kind, group_release, edges, data = _build_task_graph(rng, N, dependencies, n_gpu)
    gpu, cpu, demand = _build_demands(rng, kind, n_gpu, train_sfs, g_max, by_sf)
    requires = _build_requirements(rng, kind, gpu, nodes.model_max)
    capacity = nodes.capacity
    units = {"cpu": "cores", "gpu": "GPUs", "mem_gb": "GB"}
    if fill is not None:
        capacity, demand = _fitted(capacity, demand, nodes.labels, requires, float(fill))
        units = {"cpu": "1/1000 core", "gpu": "1/1000 GPU", "mem_gb": "MB"}

    # ---- times (seconds)
    is_train = kind == _TRAIN
    t_v100 = np.where(is_train, _log_uniform(rng, 600.0, 14400.0, N),
                      _log_uniform(rng, 30.0, 600.0, N))  # GPU tasks, on a V100
    t_cpu = _log_uniform(rng, 120.0, 3600.0, N)  # data tasks, on a speed-1 node
    duration, runtime, job_names = _build_durations(rng, nodes, kind, gpu, t_v100, t_cpu, by_sf,
                                                    dense_runtime)
    weight, release = _build_weights_releases(rng, kind, gpu, cpu, t_v100, t_cpu, capacity,
                                              group_release)

    task_names = [f"{_KIND_NAMES[k]}-{i:0{len(str(N - 1))}d}" for i, k in enumerate(kind)]
    extra: dict[str, Any] = {}
    if throughputs is not None:
        extra["job_types"] = {task_names[int(i)]: v for i, v in job_names.items()}
    info: dict[str, Any] = {
        "generator": "gabalance.generate.ai_cluster",
        "seed": seed_int,
        "params": {"n_nodes": M, "n_tasks": N, "gpu_fraction": gpu_fraction,
                   "dependencies": bool(dependencies), "dense_runtime": bool(dense_runtime),
                   "throughputs": throughputs is not None, "fill": fill},
        "units": {"time": "s", "data": "GB", "bandwidth": "GB/s", **units},
        "kinds": {name: int(np.sum(kind == k)) for k, name in enumerate(_KIND_NAMES)},
        **extra,
    }
    return Problem(
        capacity, demand, resources=("cpu", "gpu", "mem_gb"), speed=nodes.speed,
        duration=duration, runtime=runtime, weight=weight, release=release, edges=edges,
        data=data, bandwidth=1.25, task_names=task_names,
        node_names=_names(nodes.node_type, M), node_labels=nodes.labels,
        task_requires=requires, objective=objective,
        name=f"ai_cluster-{M}x{N}" + ("" if seed_int is None else f"-seed{seed_int}"),
        info=info,
    )


class _Nodes(NamedTuple):
    """The drawn nodes of :func:`ai_cluster`."""

    node_type: list[str]
    capacity: np.ndarray  # (M, 3) int64: cores, GPUs, GB
    speed: np.ndarray  # GPU factor on GPU nodes, CPU speed on CPU nodes
    cpu_speed: np.ndarray
    model: np.ndarray  # index into GPU_MODELS, -1 for CPU nodes
    labels: list[tuple[str, ...]]
    model_max: np.ndarray  # largest GPU count per model present (0 = model absent)


def _build_nodes(rng: np.random.Generator, M: int, gpu_fraction: float) -> _Nodes:
    """Draw the CPU and GPU node types of :func:`ai_cluster` (CPU nodes first)."""
    n_gpu = min(M, int(np.rint(gpu_fraction * M)))
    if gpu_fraction > 0 and n_gpu == 0:
        n_gpu = 1
    n_cpu = M - n_gpu
    cpu_types, gpu_types = list(CPU_NODE_TYPES), list(GPU_NODE_TYPES)
    cpu_draw = rng.choice(len(cpu_types), n_cpu, p=[CPU_NODE_TYPES[t][3] for t in cpu_types])
    gpu_draw = rng.choice(len(gpu_types), n_gpu, p=[GPU_NODE_TYPES[t][5] for t in gpu_types])
    node_type = [cpu_types[t] for t in cpu_draw] + [gpu_types[t] for t in gpu_draw]
    capacity = np.zeros((M, 3), np.int64)
    speed = np.ones(M)
    cpu_speed = np.ones(M)
    node_model = np.full(M, -1, np.int64)
    node_labels: list[tuple[str, ...]] = []
    for j, t in enumerate(node_type):
        if t in CPU_NODE_TYPES:
            cores, mem, cs, _ = CPU_NODE_TYPES[t]
            capacity[j] = (cores, 0, mem)
            speed[j] = cpu_speed[j] = cs
            node_labels.append(("cpu",))
        else:
            model, gpus, cores, mem, cs, _ = GPU_NODE_TYPES[t]
            capacity[j] = (cores, gpus, mem)
            speed[j], cpu_speed[j] = GPU_SPEED[model], cs
            node_model[j] = GPU_MODELS.index(model)
            node_labels.append(("gpu", f"gpu={model}"))
    model_max = np.zeros(len(GPU_MODELS), np.int64)
    for node in np.flatnonzero(node_model >= 0):
        model_max[node_model[node]] = max(model_max[node_model[node]], capacity[node, 1])
    return _Nodes(node_type, capacity, speed, cpu_speed, node_model, node_labels, model_max)


def _build_task_graph(rng: np.random.Generator, N: int, dependencies: bool,
                      n_gpu: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Task kinds, release groups, and the edges (E, 2) with their data (E,), sorted."""
    edge_parts: list[np.ndarray] = []
    data_parts: list[np.ndarray] = []
    if dependencies:
        kind, group_release = _build_pipelines(rng, N, edge_parts, data_parts)
    else:
        kind = rng.choice(3, N, p=[0.3, 0.4, 0.3])
        group_release = np.arange(N)
    if n_gpu == 0:
        kind = np.full(N, _DATA)
    edges = np.concatenate(edge_parts).astype(np.int64) if edge_parts else np.zeros((0, 2),
                                                                                   np.int64)
    data = np.concatenate(data_parts) if data_parts else np.zeros(0)
    order = np.lexsort((edges[:, 0], edges[:, 1])) if len(edges) else np.zeros(0, np.int64)
    return kind, group_release, edges[order], data[order]


def _build_pipelines(rng: np.random.Generator, N: int, edge_parts: list[np.ndarray],
                     data_parts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Pipelines ``data* -> train -> infer*`` plus fan-in edges; returns (kind, pipeline)."""
    n_data = rng.choice(4, N, p=[0.15, 0.45, 0.25, 0.15])
    n_inf = rng.choice(3, N, p=[0.3, 0.5, 0.2])
    size = n_data + 1 + n_inf
    ends = np.cumsum(size)
    P = int(np.searchsorted(ends, N)) + 1  # pipelines used (the last may be cut short)
    start = ends[:P] - size[:P]
    pid = np.repeat(np.arange(P), size[:P])[:N]
    pos = np.arange(N) - start[pid]
    kind = np.where(pos < n_data[pid], _DATA, np.where(pos == n_data[pid], _TRAIN, _INFER))
    train_of = start + n_data[:P]  # training task of each pipeline (may be >= N)
    ds_size = np.round(_log_uniform(rng, 1.0, 50.0, N), 2)
    model_size = np.round(_log_uniform(rng, 0.1, 5.0, N), 2)
    # data -> train within a pipeline
    d = np.flatnonzero((kind == _DATA) & (train_of[pid] < N))
    edge_parts.append(np.stack([d, train_of[pid[d]]], axis=1))
    data_parts.append(ds_size[d])
    # train -> infer within a pipeline
    f = np.flatnonzero(kind == _INFER)
    edge_parts.append(np.stack([train_of[pid[f]], f], axis=1))
    data_parts.append(model_size[train_of[pid[f]]])
    # fan-in across pipelines: shared data sets and ensembles
    u_pick, u_share = rng.random(N), rng.random(N)
    for src_kind, dst_kind, sizes in ((_DATA, _TRAIN, ds_size), (_TRAIN, _INFER, model_size)):
        src = np.flatnonzero(kind == src_kind)
        dst = np.flatnonzero((kind == dst_kind) & (u_share < 0.1))
        count = np.searchsorted(src, start[pid[dst]])  # sources in earlier pipelines
        dst, count = dst[count > 0], count[count > 0]
        s = src[(u_pick[dst] * count).astype(np.int64)]
        edge_parts.append(np.stack([s, dst], axis=1))
        data_parts.append(sizes[s])
    return kind, pid


def _build_demands(rng: np.random.Generator, kind: np.ndarray, n_gpu: int, train_sfs: list[int],
                   g_max: int, by_sf: dict[int, list[tuple[str, np.ndarray]]] | None,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GPUs (N,), cores (N,) and the demand (N, 3) int64 of every task."""
    N = len(kind)
    is_train, is_infer, is_data = kind == _TRAIN, kind == _INFER, kind == _DATA
    gpu: np.ndarray = np.zeros(N, np.int64)
    if n_gpu:
        probs = np.array([_SCALE_PROBS[_SCALE_FACTORS.index(s)] for s in train_sfs])
        gpu_train = np.asarray(train_sfs)[rng.choice(len(train_sfs), N, p=probs / probs.sum())]
        infer_sfs = [s for s in (1, 2) if s <= g_max and (by_sf is None or s in by_sf)]
        infer_sfs = infer_sfs or train_sfs[:1]
        two = (rng.random(N) < 0.1) & (len(infer_sfs) > 1)
        gpu_infer = np.where(two, infer_sfs[-1], infer_sfs[0])
        gpu = np.where(is_train, gpu_train, np.where(is_infer, gpu_infer, 0))
    per_gpu_cpu = rng.integers(1, 5, N)
    cpu = np.where(is_data, rng.integers(1, 17, N), gpu * per_gpu_cpu)
    data_mem = rng.integers(4, 65, N)  # draw order matters: the bundled instance depends on it
    gpu_mem = np.where(is_train, gpu * rng.integers(8, 49, N), gpu * rng.integers(4, 33, N))
    mem_gb = np.where(is_data, data_mem, gpu_mem)
    return gpu, cpu, np.stack([cpu, gpu, mem_gb], axis=1).astype(np.int64)


def _build_requirements(rng: np.random.Generator, kind: np.ndarray, gpu: np.ndarray,
                        model_max: np.ndarray) -> list[tuple[str, ...]]:
    """Label requirements: every GPU task needs "gpu"; some training tasks pin a model."""
    N = len(kind)
    is_train, is_data = kind == _TRAIN, kind == _DATA
    requires: list[tuple[str, ...]] = [()] * N
    pin_u, pin_pick = rng.random(N), rng.random(N)
    for i in np.flatnonzero(~is_data):
        requires[i] = ("gpu",)
        if is_train[i] and pin_u[i] < 0.1:
            models = np.flatnonzero(model_max >= gpu[i])
            requires[i] = ("gpu", f"gpu={GPU_MODELS[models[int(pin_pick[i] * len(models))]]}")
    return requires


def _build_durations(rng: np.random.Generator, nodes: _Nodes, kind: np.ndarray, gpu: np.ndarray,
                     t_v100: np.ndarray, t_cpu: np.ndarray,
                     by_sf: dict[int, list[tuple[str, np.ndarray]]] | None, dense_runtime: bool,
                     ) -> tuple[np.ndarray, np.ndarray | None, dict[str, str]]:
    """Durations on a speed-1 node, the (N, M) runtime (or None) and the Gavel job types."""
    is_data = kind == _DATA
    gpu_tasks = np.flatnonzero(~is_data)
    thr: np.ndarray | None = None
    steps: np.ndarray | None = None
    job_names: dict[str, str] = {}
    if by_sf is not None:
        thr, job_names = _build_gavel_jobs(rng, gpu, gpu_tasks, by_sf)
        steps = t_v100 * thr[:, GPU_MODELS.index("v100")]
        duration = np.where(is_data, t_cpu, steps / thr[:, GPU_MODELS.index("k80")])
    else:
        duration = np.where(is_data, t_cpu, t_v100 * GPU_SPEED["v100"])
    duration = np.round(duration, 1)
    runtime = None
    if dense_runtime:
        runtime = _build_runtime(rng, nodes, duration, is_data, gpu_tasks, thr, steps)
    return duration, runtime, job_names


def _build_gavel_jobs(rng: np.random.Generator, gpu: np.ndarray, gpu_tasks: np.ndarray,
                      by_sf: dict[int, list[tuple[str, np.ndarray]]],
                      ) -> tuple[np.ndarray, dict[str, str]]:
    """A Gavel job type per GPU task: throughputs (N, 3) and names by task index (str)."""
    thr = np.ones((len(gpu), len(GPU_MODELS)))
    job_names: dict[str, str] = {}
    pick = rng.random(len(gpu))
    for i in gpu_tasks:
        entries = by_sf[int(gpu[i])]
        job, thr[i] = entries[int(pick[i] * len(entries))]
        job_names[str(i)] = f"{job} x{int(gpu[i])}"
    return thr, job_names


def _build_runtime(rng: np.random.Generator, nodes: _Nodes, duration: np.ndarray,
                   is_data: np.ndarray, gpu_tasks: np.ndarray, thr: np.ndarray | None,
                   steps: np.ndarray | None) -> np.ndarray:
    """The dense (N, M) runtime: CPU speed for data tasks, per-GPU-model for GPU tasks."""
    N, M = len(duration), len(nodes.speed)
    runtime = np.full((N, M), np.inf)
    d = np.flatnonzero(is_data)
    runtime[d] = duration[d, None] / nodes.cpu_speed[None, :]
    gpu_nodes = np.flatnonzero(nodes.model >= 0)
    if len(gpu_nodes) and len(gpu_tasks):
        models = nodes.model[gpu_nodes]
        if thr is not None and steps is not None:
            per_model = steps[gpu_tasks, None] / thr[gpu_tasks]
        else:
            aff = np.exp(rng.normal(0.0, 0.25, (N, len(GPU_MODELS))))[gpu_tasks]
            factor = np.array([GPU_SPEED[g] for g in GPU_MODELS])
            per_model = duration[gpu_tasks, None] / factor[None, :] * aff
        runtime[np.ix_(gpu_tasks, gpu_nodes)] = per_model[:, models]
    return np.round(runtime, 1)


def _build_weights_releases(rng: np.random.Generator, kind: np.ndarray, gpu: np.ndarray,
                            cpu: np.ndarray, t_v100: np.ndarray, t_cpu: np.ndarray,
                            capacity: np.ndarray, group_release: np.ndarray,
                            ) -> tuple[np.ndarray, np.ndarray]:
    """Weights (N,) and release times (N,), uniform over half the estimated load."""
    N = len(kind)
    is_train, is_infer, is_data = kind == _TRAIN, kind == _INFER, kind == _DATA
    weight = np.where(is_infer, 4.0, np.where(is_train & (rng.random(N) < 0.2), 2.0, 1.0))
    gpu_work = float(np.sum(t_v100[~is_data] * gpu[~is_data]))
    cpu_work = float(np.sum(t_cpu[is_data] * cpu[is_data]))
    load = max(gpu_work / max(int(capacity[:, 1].sum()), 1),
               cpu_work / max(int(capacity[:, 0].sum()), 1))
    release = np.round(rng.uniform(0.0, 0.5 * load, N))[group_release]
    return weight, release


def _fitted(capacity: np.ndarray, demand: np.ndarray, node_labels: Sequence[Sequence[str]],
            requires: Sequence[Sequence[str]], fill: float) -> tuple[np.ndarray, np.ndarray]:
    """``ai_cluster(fill=...)``: capacities and demands in thousandths, each resource's
    demands scaled by the largest factor <= 1 that keeps every label class within ``fill``.

    A class is a requirement set; its tasks are those whose requirements include it (they can
    only run on its nodes), its capacity that of the nodes carrying all its labels. With the
    nested labels of :func:`ai_cluster` (none, ``gpu``, ``gpu`` + model) this is the
    capacity condition of every group of tasks that shares its nodes."""
    cap = capacity.astype(np.float64) * 1000.0
    dem = demand.astype(np.float64) * 1000.0
    req_sets = [frozenset(r) for r in requires]
    factor = np.ones(cap.shape[1])
    for cls in set(req_sets):
        nodes = np.array([cls <= set(lab) for lab in node_labels])
        tasks = np.array([cls <= r for r in req_sets])
        total = dem[tasks].sum(axis=0)
        room = fill * cap[nodes].sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = np.where(total > room, room / np.where(total > 0, total, 1.0), 1.0)
        factor = np.minimum(factor, f)
    scaled = np.floor(dem * factor[None, :])
    scaled = np.where(dem > 0, np.maximum(scaled, 1.0), 0.0)
    return cap.astype(np.int64), scaled.astype(np.int64)


# --------------------------------------------------------------------------- HEFT random DAGs


def random_dag(
    v: int = 100,
    *,
    alpha: float = 1.0,
    out_degree: int = 3,
    ccr: float = 1.0,
    beta: float = 0.5,
    n_procs: int = 4,
    w_dag: float = 50.0,
    seed: SeedLike = 0,
    speeds: bool = False,
) -> Problem:
    """A random task graph on heterogeneous processors, after Topcuoglu, Hariri & Wu (2002).

    Level widths are integers uniform on ``[1, 2 w - 1]`` with ``w = round(alpha sqrt(v))``
    (mean ``alpha sqrt(v)``), drawn until ``v`` tasks are placed (the last level is cut to
    fit), so the height is about ``sqrt(v) / alpha``. Each level is at most
    ``out_degree`` times as wide as the one before it, so that every task of level
    ``l >= 1`` gets a parent in level ``l - 1`` (parents are dealt out round-robin) without
    any task exceeding ``out_degree`` successors. Each task not in the last level then
    draws a target out-degree uniform on ``1..out_degree`` and, if it has fewer successors,
    gets more, uniformly among the tasks of all later levels. Hence: edges only go to later
    levels, every out-degree is at most ``out_degree``, a task's level equals the length
    (in edges) of the longest path reaching it, the entry tasks are exactly level 0 and the
    exit tasks exactly the last level, and every task is reachable from an entry task.
    No pseudo entry/exit task is added (HEFT's zero-cost pseudo tasks can be added by the
    caller when a single entry or exit is wanted). Tasks are numbered level by level.

    Costs: ``w_i ~ U[0, 2 w_dag]`` and ``runtime[i, j] ~ U[w_i (1 - beta/2), w_i (1 +
    beta/2)]`` (unrelated processors: each task and processor draws its own factor). With
    ``speeds=True`` the processors are *related* instead, the model of list schedulers such
    as anrg-saga's: ``duration[i] = w_i``, processor ``j`` has ``speed[j] = 1 / f_j`` with
    ``f_j ~ U[1 - beta/2, 1 + beta/2]``, and ``runtime(i, j) = duration[i] / speed[j]``
    (so ``w_i f_j`` up to rounding: the same range as above, with one factor per
    processor shared by all tasks); no runtime matrix is built. Edge communication costs
    are ``U[0, 2]`` draws scaled so that the mean edge cost divided by the mean runtime
    (over all task-processor pairs) is exactly ``ccr``; they are stored as ``data`` with
    ``bandwidth = 1`` (and are free on the same processor, as in HEFT). Both models draw
    the graph and ``w`` from the same random stream, so one seed gives the same graph and
    the same ``w`` either way.

    Parameters
    ----------
    v : int
        Number of tasks N (>= 1).
    alpha : float
        Shape parameter (> 0): small values give long, thin graphs.
    out_degree : int
        Maximum out-degree (>= 1).
    ccr : float
        Communication-to-computation ratio (>= 0).
    beta : float
        Range percentage of computation costs on processors, in [0, 2] (``[0, 2)`` with
        ``speeds``, where ``beta = 2`` would allow a zero runtime factor).
    n_procs : int
        Number of processors M (>= 1).
    w_dag : float
        Average computation cost (> 0).
    seed : int or numpy.random.Generator
    speeds : bool, default False
        Related processors: ``duration`` (N,) and ``speed`` (M,) instead of an unrelated
        ``runtime`` (N, M) matrix (see above). The default keeps the unrelated model.

    Returns
    -------
    Problem
        M processors with resource ``("slots",)`` and capacity 1, each task demanding one
        slot (int64; one task at a time per processor); runtime (N, M), or with ``speeds``
        no runtime but duration (N,) and speed (M,); edges (E, 2) with ``data`` (E,) =
        communication cost; bandwidth 1.0; objective ``"makespan"``.
        ``info["levels"]`` lists each task's level; ``info["params"]`` the arguments
        (``"speeds": true`` only when set, so default problems are unchanged).

    References
    ----------
    H. Topcuoglu, S. Hariri, M.-Y. Wu, "Performance-Effective and Low-Complexity Task
    Scheduling for Heterogeneous Computing", IEEE Trans. Parallel Distrib. Syst. 13(3),
    260-274, 2002.
    """
    rng, seed_int = _rng(seed)
    v, out_degree, n_procs = int(v), int(out_degree), int(n_procs)
    _check_random_dag_args(v, out_degree, n_procs, alpha, w_dag, ccr, beta, speeds)
    widths = _build_level_widths(rng, v, alpha, out_degree)
    bounds = np.concatenate([[0], np.cumsum(widths)])
    level = np.repeat(np.arange(len(widths)), widths)
    edges = _build_dag_edges(rng, v, out_degree, bounds, level)
    runtime, speed, duration, mean_comp = _build_dag_costs(rng, v, n_procs, w_dag, beta, speeds)
    u = rng.uniform(0.0, 2.0, len(edges))
    data = u * (ccr * mean_comp / u.mean()) if len(u) and u.mean() > 0 else np.zeros(len(u))
    params: dict[str, Any] = {"v": v, "alpha": alpha, "out_degree": out_degree, "ccr": ccr,
                              "beta": beta, "n_procs": n_procs, "w_dag": w_dag}
    if speeds:
        params["speeds"] = True
    return Problem(
        np.ones((n_procs, 1), np.int64), np.ones((v, 1), np.int64), resources=("slots",),
        speed=speed, duration=duration, runtime=runtime, edges=edges, data=data,
        bandwidth=1.0, node_names=[f"p{j}" for j in range(n_procs)], objective="makespan",
        name=f"random_dag-v{v}" + ("" if seed_int is None else f"-seed{seed_int}"),
        info={"generator": "gabalance.generate.random_dag", "seed": seed_int,
              "params": params, "levels": level.tolist()},
    )


def _check_random_dag_args(v: int, out_degree: int, n_procs: int, alpha: float, w_dag: float,
                           ccr: float, beta: float, speeds: bool) -> None:
    """Raise ValueError on invalid :func:`random_dag` arguments."""
    if v < 1 or n_procs < 1 or out_degree < 1:
        raise ValueError("v, n_procs and out_degree must be >= 1")
    if not alpha > 0 or not w_dag > 0 or not ccr >= 0 or not 0 <= beta <= 2:
        raise ValueError("need alpha > 0, w_dag > 0, ccr >= 0 and 0 <= beta <= 2")
    if speeds and not beta < 2:
        raise ValueError("with speeds=True beta must be < 2 (a processor's runtime factor "
                         "1/speed is drawn from [1 - beta/2, 1 + beta/2] and must stay > 0)")


def _build_level_widths(rng: np.random.Generator, v: int, alpha: float,
                        out_degree: int) -> list[int]:
    """Level widths uniform on [1, 2 w - 1], each at most ``out_degree`` times the last."""
    w_mean = max(1, int(np.rint(alpha * math.sqrt(v))))
    widths: list[int] = []
    total = 0
    while total < v:
        width = int(rng.integers(1, 2 * w_mean))
        if widths:
            width = min(width, out_degree * widths[-1])
        width = min(width, v - total)
        widths.append(width)
        total += width
    return widths


def _build_dag_edges(rng: np.random.Generator, v: int, out_degree: int, bounds: np.ndarray,
                     level: np.ndarray) -> np.ndarray:
    """Edges (E, 2) int64: a parent in the level above, then extra later successors."""
    n_levels = len(bounds) - 1
    succ: list[list[int]] = [[] for _ in range(v)]
    for lv in range(1, n_levels):
        parents = np.arange(bounds[lv - 1], bounds[lv])
        children = rng.permutation(np.arange(bounds[lv], bounds[lv + 1]))
        for k, c in enumerate(children):
            succ[int(parents[k % len(parents)])].append(int(c))
    target = rng.integers(1, out_degree + 1, v)
    for i in range(int(bounds[-2]) if n_levels > 1 else 0):
        lo = int(bounds[level[i] + 1])
        have = set(succ[i])
        need = int(target[i]) - len(have)
        free = v - lo - len(have)
        if need <= 0:
            continue
        if free <= need:
            succ[i].extend(c for c in range(lo, v) if c not in have)
            continue
        while need:
            c = int(rng.integers(lo, v))
            if c not in have:
                have.add(c)
                succ[i].append(c)
                need -= 1
    return np.array([(i, c) for i in range(v) for c in sorted(succ[i])],
                    np.int64).reshape(-1, 2)


def _build_dag_costs(rng: np.random.Generator, v: int, n_procs: int, w_dag: float, beta: float,
                     speeds: bool) -> tuple[np.ndarray | None, np.ndarray | None,
                                            np.ndarray | None, float]:
    """(runtime, speed, duration, mean computation cost): unrelated or related processors."""
    w = rng.uniform(0.0, 2.0 * w_dag, v)
    runtime: np.ndarray | None = None
    speed: np.ndarray | None = None
    duration: np.ndarray | None = None
    if speeds:  # related processors: one runtime factor per processor
        duration = w
        speed = 1.0 / rng.uniform(1 - beta / 2, 1 + beta / 2, n_procs)
        mean_comp = float((duration[:, None] / speed[None, :]).mean())
    else:
        runtime = rng.uniform(w[:, None] * (1 - beta / 2), w[:, None] * (1 + beta / 2),
                              (v, n_procs))
        mean_comp = float(runtime.mean())
    return runtime, speed, duration, mean_comp


# --------------------------------------------------------------------------- GAP


def gap_like(m: int = 20, n: int = 200, *, kind: str = "d", seed: SeedLike = 0) -> Problem:
    """A generalised assignment instance of type A, B, C or D (Chu & Beasley, 1997).

    With agents ``i`` (nodes) and jobs ``j`` (tasks), resource use ``r_ij``, cost ``c_ij``
    and capacities ``b_i`` are integers drawn as

    * A: ``r ~ U[5, 25]``, ``c ~ U[10, 50]``, ``b_i = 0.6 (n/m) 15 + 0.4 max_i sum_{j in
      J_i} r_ij`` where ``J_i`` are the jobs whose cheapest agent is ``i``;
    * B: as A, with 70% of A's capacity;
    * C: ``r ~ U[5, 25]``, ``c ~ U[10, 50]``, ``b_i = 0.8 sum_j r_ij / m``;
    * D: ``r ~ U[1, 100]``, ``c = 111 - r + e`` with ``e ~ U[-10, 10]``,
      ``b_i = 0.8 sum_j r_ij / m``

    (capacities truncated to integers). Types A-C follow Martello & Toth's rules; D is the
    correlated type. An instance in which some job fits no agent (possible only for very
    few jobs per agent) is drawn again.

    Parameters
    ----------
    m : int
        Number of agents M (>= 1).
    n : int
        Number of jobs N (>= 1).
    kind : {"a", "b", "c", "d"}
        Generation type (case-insensitive).
    seed : int or numpy.random.Generator

    Returns
    -------
    Problem
        capacity (M, 1) int64, per-node demand (N, M, 1) int64 (``demand[j, i, 0] =
        r_ij``), cost (N, M) int64, objective ``"cost"``, sense ``"min"``.

    References
    ----------
    P. C. Chu, J. E. Beasley, "A genetic algorithm for the generalised assignment problem",
    Computers & Operations Research 24(1), 17-23, 1997.
    S. Martello, P. Toth, "Knapsack Problems: Algorithms and Computer Implementations",
    Wiley, 1990 (chapter 7).
    """
    rng, seed_int = _rng(seed)
    kind_l = str(kind).lower()
    if kind_l not in ("a", "b", "c", "d"):
        raise ValueError(f"kind must be one of 'a', 'b', 'c', 'd', got {kind!r}")
    m, n = int(m), int(n)
    if m < 1 or n < 1:
        raise ValueError("m and n must be >= 1")
    for _ in range(1000):
        if kind_l == "d":
            r = rng.integers(1, 101, (m, n))
            c = 111 - r + rng.integers(-10, 11, (m, n))
        else:
            r = rng.integers(5, 26, (m, n))
            c = rng.integers(10, 51, (m, n))
        if kind_l in ("a", "b"):
            best = np.argmin(c, axis=0)
            loads = np.bincount(best, weights=r[best, np.arange(n)], minlength=m)
            cap = 0.6 * (n / m) * 15 + 0.4 * loads.max()
            if kind_l == "b":
                cap *= 0.7
            b = np.full(m, math.floor(cap), np.int64)
        else:
            b = np.floor(0.8 * r.sum(axis=1) / m).astype(np.int64)
        if np.all(np.any(r <= b[:, None], axis=0)):
            break
    else:
        raise ValueError(f"could not draw a feasible type {kind_l.upper()} instance with "
                         f"m={m}, n={n} (too few jobs per agent)")
    return Problem(
        b[:, None], r.T[:, :, None].astype(np.int64), resources=("resource",),
        cost=c.T.astype(np.int64), objective="cost", sense="min",
        name=f"gap_{kind_l}-{m}x{n}" + ("" if seed_int is None else f"-seed{seed_int}"),
        info={"generator": "gabalance.generate.gap_like", "seed": seed_int,
              "params": {"m": m, "n": n, "kind": kind_l}},
    )

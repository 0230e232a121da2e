"""GPU-sharing clusters: the arrival protocol of the FGD paper, its scheduling policies,
the fragmentation measure and an upper bound on the GPU a cluster can allocate.

The problems are :class:`~gabalance.Problem` objects with GPU devices (``gpus``,
``gpu_milli``; e.g. :func:`gabalance.io.read_openb`). Tasks arrive one at a time and a
*policy* places each on the current per-device state, or the task fails and waits for good
(the protocol of Weng et al., "Beware of Fragmentation: Scheduling GPU-Sharing Workloads
with Fragmentation Gradient Descent", USENIX ATC 2023, and its artifact):

* :func:`arrivals` -- the arrival sequence of one seed: tasks sorted by name, shuffled, then
  uniformly drawn clones appended until the GPU request reaches ``ratio`` x capacity;
* :func:`run_policy` -- one policy over an arrival sequence: the placement (node and device
  mask per arrival) and the allocated GPU after every arrival;
* :func:`allocation_curve` -- the artifact's curve: allocated GPU share against arrived GPU
  request, both in percent of the cluster's GPU;
* :func:`typical_tasks` and :func:`fragmentation` -- FGD's target workload and measure;
* :func:`allocation_bound` -- the LP relaxation (HiGHS) of "allocate as much GPU as possible".

Policies (:data:`POLICIES`): ``random``, ``dotprod``, ``gpu_clustering``, ``gpu_packing``,
``best_fit`` and ``fgd`` follow the artifact's scores (integer scores, a uniformly random
node among the best); ``fgd_exact`` is this package's variant of FGD that minimises the
fragmentation increase itself and breaks ties by the tighter fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gabalance import _gpushare as K
from gabalance.problem import DEVICE_MILLI, Problem, ProblemError

__all__ = ["POLICIES", "Arrivals", "PolicyRun", "Typical", "allocation_bound",
           "allocation_curve", "arrivals", "fragmentation", "run_policy", "typical_from_kinds",
           "typical_tasks"]

POLICIES = {"random": K.RANDOM, "dotprod": K.DOTPROD, "gpu_clustering": K.GPU_CLUSTERING,
            "gpu_packing": K.GPU_PACKING, "best_fit": K.BEST_FIT, "fgd": K.FGD,
            "fgd_exact": K.FGD_EXACT, "fgd_fit": K.FGD_FIT, "fgd_pack": K.FGD_PACK}


def _device_problem(problem: Any, what: str = "problem") -> Problem:
    if not isinstance(problem, Problem):
        raise TypeError(f"{what} must be a gabalance.Problem, got {type(problem).__name__}")
    if not problem.gpus.any():
        raise ProblemError(f"{what} {problem.name!r} has no GPU devices (Problem gpus); "
                           "read openb with read_openb(...) (not pooled=True)")
    if problem.per_node_demand:
        raise ProblemError("GPU-sharing policies need one demand per task (N, K)")
    return problem


def _cpu_column(problem: Problem) -> int:
    """The resource the policies read as CPU: the first whose name starts with "cpu" (-1:
    none, CPU then plays no part in the scores)."""
    for k, r in enumerate(problem.resources):
        if r.lower().startswith("cpu"):
            return k
    return -1


@dataclass(frozen=True)
class Typical:
    """FGD's target workload: the most common task kinds and their probabilities.

    Attributes
    ----------
    cpu : (T,) CPU request (the problem's CPU resource, 0 without one)
    milli : (T,) int64 milli-GPU per device (a share, 1000 for whole devices, 0 no GPU)
    num : (T,) int64 devices (1 for a share, k whole, 0 no GPU)
    group : (T,) int32 label requirement set (``Problem.label_ok``)
    p : (T,) float64 probabilities (sum 1)
    """

    cpu: np.ndarray
    milli: np.ndarray
    num: np.ndarray
    group: np.ndarray
    p: np.ndarray


def typical_tasks(problem: Problem, coverage: float = 0.95) -> Typical:
    """FGD's typical tasks: kinds (CPU, milli-GPU per device, devices, GPU-model
    requirement; memory is left out) counted over the problem's tasks, the most common
    first (ties: the larger kind first), taken until they cover ``coverage`` of the tasks,
    with their counts renormalised to probabilities (Weng et al. 2023, Sec. 4.2 and the
    artifact's ``GetTypicalPods``).

    Parameters
    ----------
    problem : Problem
        The original task list (the artifact builds the workload before any clone).
    coverage : float in (0, 1]
    """
    col = _cpu_column(problem)
    cpu = problem.demand[:, col] if col >= 0 else np.zeros(problem.n_tasks)
    return typical_from_kinds(cpu, problem.gpu_milli, problem.label_ok()[1],
                              problem.demand.dtype, coverage)


def typical_from_kinds(cpu: Any, gpu_milli: Any, group: Any, dtype: Any,
                       coverage: float = 0.95) -> Typical:
    """:func:`typical_tasks` from the tasks' CPU requests (N,), milli-GPU (N,) and label
    requirement sets (N,) (``Problem.label_ok()[1]``); ``cpu`` is returned as ``dtype``."""
    if not 0 < coverage <= 1:
        raise ValueError(f"coverage must lie in (0, 1], got {coverage!r}")
    g = np.asarray(gpu_milli, np.int64)
    milli = np.where(g >= DEVICE_MILLI, DEVICE_MILLI, g)
    num = np.where(g >= DEVICE_MILLI, g // DEVICE_MILLI, (g > 0).astype(np.int64))
    keys = np.stack([np.asarray(cpu, np.float64), milli, num, np.asarray(group)], axis=1)
    kinds, counts = np.unique(keys, axis=0, return_counts=True)
    # most common first; ties: larger CPU, then milli, then devices, then requirement
    order = np.lexsort((-kinds[:, 3], -kinds[:, 2], -kinds[:, 1], -kinds[:, 0], -counts))
    kinds, counts = kinds[order], counts[order]
    take = int(np.searchsorted(np.cumsum(counts), coverage * counts.sum() - 1e-9)) + 1
    kinds, counts = kinds[:take], counts[:take]
    return Typical(cpu=kinds[:, 0].astype(dtype), milli=kinds[:, 1].astype(np.int64),
                   num=kinds[:, 2].astype(np.int64), group=kinds[:, 3].astype(np.int32),
                   p=counts / counts.sum())


@dataclass(frozen=True)
class Arrivals:
    """An arrival sequence (:func:`arrivals`).

    Attributes
    ----------
    problem : Problem
        One task per arrival, in arrival order (clones named ``<task>-clone-<i>``).
    source : (A,) int64
        The original task of each arrival.
    seed : int
    ratio : float
    """

    problem: Problem
    source: np.ndarray
    seed: int
    ratio: float

    @property
    def arrived(self) -> np.ndarray:
        """(A,) int64: GPU request (milli-GPU) arrived up to and including each arrival."""
        return np.cumsum(self.problem.gpu_milli)

    def upto(self, share: float) -> Problem:
        """The tasks that arrived while the arrived GPU request stays within ``share`` of
        the cluster's GPU (an offline instance of the protocol)."""
        cap = DEVICE_MILLI * int(self.problem.gpus.sum())
        n = int(np.searchsorted(self.arrived, share * cap, side="right"))
        if n == 0:
            raise ProblemError(f"no task arrives within {share:g} of the GPU capacity")
        return subset(self.problem, np.arange(n), name=f"{self.problem.name}-{share:g}")


def subset(problem: Problem, tasks: np.ndarray, name: str | None = None,
           task_names: list[str] | None = None) -> Problem:
    """The problem restricted to (or repeating) ``tasks`` (indices, in the given order)."""
    tasks = np.asarray(tasks, dtype=np.int64)
    req = problem.task_requires
    return Problem(
        problem.capacity, problem.demand[tasks], resources=problem.resources,
        weight=problem.weight[tasks], node_names=problem.node_names,
        task_names=task_names if task_names is not None else
        [problem.task_names[i] for i in tasks],
        node_labels=problem.node_labels, task_requires=[req[i] for i in tasks],
        gpus=problem.gpus, gpu_milli=problem.gpu_milli[tasks],
        may_wait=problem.may_wait[tasks], objective=problem.objective,
        sense=problem.sense, name=problem.name if name is None else name, info=problem.info)


def arrivals(problem: Problem, seed: int, ratio: float = 1.3) -> Arrivals:
    """The arrival sequence of the FGD artifact's protocol for one seed.

    Tasks sorted by name are shuffled; then, while the total GPU request is below
    ``ratio`` x capacity, a uniformly drawn task (of the name-sorted list, CPU-only ones
    included) is cloned and appended, stopping at the first draw whose milli-GPU per device
    would pass that target (the artifact's ``TunePodsByNodeTotalResource``); above the
    target, uniformly drawn tasks are removed until it is met.

    Parameters
    ----------
    problem : Problem
        The task list (e.g. ``openb_pod_list_default``) on its cluster, with GPU devices.
    seed : int
        Seeds a ``numpy.random.Generator`` (the artifact's seeds are 42..51; the draws differ
        from its Go generator, the protocol is the same).
    ratio : float, default 1.3

    Returns
    -------
    Arrivals
    """
    problem = _device_problem(problem)
    if not ratio > 0:
        raise ValueError(f"ratio must be > 0, got {ratio!r}")
    rng = np.random.default_rng(seed)
    n = problem.n_tasks
    by_name = np.array(sorted(range(n), key=lambda i: problem.task_names[i]), dtype=np.int64)
    seq = list(by_name[rng.permutation(n)])
    g = problem.gpu_milli
    per = np.where(g >= DEVICE_MILLI, DEVICE_MILLI, g)
    target = ratio * DEVICE_MILLI * int(problem.gpus.sum())
    total = int(g.sum())
    clones: list[int] = []
    if total < target:
        while True:
            i = int(by_name[rng.integers(n)])
            if total + per[i] > target:
                break
            total += int(g[i])
            clones.append(i)
    while total > target and seq:
        i = seq.pop(int(rng.integers(len(seq))))
        total -= int(g[i])
    source = np.array(seq + clones, dtype=np.int64)
    names = [problem.task_names[i] for i in seq]
    names += [f"{problem.task_names[i]}-clone-{c}" for c, i in enumerate(clones)]
    info = dict(problem.info, arrivals={"seed": int(seed), "ratio": float(ratio),
                                        "clones": len(clones)})
    sub = subset(problem, source, name=f"{problem.name}-seed{seed}", task_names=names)
    return Arrivals(sub.replace(info=info), source, int(seed), float(ratio))


@dataclass(frozen=True)
class PolicyRun:
    """One policy over an arrival sequence (:func:`run_policy`).

    Attributes
    ----------
    policy : str
    x : (N,) int64 node of each task (-1: it failed and waits)
    devices : (N,) int64 device masks
    used : (N,) int64 allocated milli-GPU after each arrival
    arrived : (N,) int64 arrived GPU request (milli-GPU) after each arrival
    total_gpu : int, the cluster's milli-GPU
    """

    policy: str
    x: np.ndarray
    devices: np.ndarray
    used: np.ndarray
    arrived: np.ndarray
    total_gpu: int
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def allocation(self) -> float:
        """Allocated share of the cluster's GPU at the end."""
        return float(self.used[-1]) / self.total_gpu

    def curve(self, points: Any = range(131)) -> np.ndarray:
        """:func:`allocation_curve` of this run."""
        return allocation_curve(self.used, self.arrived, self.total_gpu, points)


def _kernel_args(problem: Problem, typical: Typical) -> dict[str, Any]:
    group_ok, task_group = problem.label_ok()
    col = _cpu_column(problem)
    data = np.int64 if problem.capacity.dtype.kind in "iub" else np.float64
    width = max(1, int(problem.gpus.max()))
    cap_cpu = float(problem.capacity[:, col].max()) if col >= 0 else 1.0
    return dict(
        free=np.array(problem.capacity, dtype=data),
        left=np.full((problem.n_nodes, width), DEVICE_MILLI, np.int64),
        gpus=np.ascontiguousarray(problem.gpus, np.int64),
        tags=np.zeros((problem.n_nodes, width + 1), np.int64),
        group_ok=np.ascontiguousarray(group_ok), task_group=np.ascontiguousarray(task_group),
        cpu_col=col, demand=np.ascontiguousarray(problem.demand, dtype=data),
        gpu=np.ascontiguousarray(problem.gpu_milli, np.int64),
        need=np.ascontiguousarray(problem.devices_needed, np.int64),
        t_cpu=np.ascontiguousarray(typical.cpu, dtype=data), t_milli=typical.milli,
        t_num=typical.num, t_p=typical.p,
        t_ok=np.ascontiguousarray(group_ok[typical.group]),
        sc=np.array([max(cap_cpu, 1.0), float(DEVICE_MILLI * width)]))


def run_policy(problem: Problem, policy: str, *, order: Any = None, seed: int = 0,
               typical: Typical | None = None, ties: str = "first") -> PolicyRun:
    """Place the tasks one at a time with a policy, each on the current per-device state.

    Parameters
    ----------
    problem : Problem
        With GPU devices; tasks arrive in index order (e.g. ``arrivals(...).problem``)
        unless ``order`` is given.
    policy : str
        One of :data:`POLICIES`.
    order : array_like of int, optional
        Arrival order (a permutation of the tasks, or a subset).
    seed : int
        Seeds the random choices (ties, the Random policy).
    typical : Typical, optional
        FGD's target workload (default: :func:`typical_tasks` of ``problem``; the protocol
        builds it from the original task list).

    Returns
    -------
    PolicyRun
    """
    problem = _device_problem(problem)
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r} (choose from {', '.join(POLICIES)})")
    n = problem.n_tasks
    order = np.arange(n, dtype=np.int64) if order is None else \
        np.ascontiguousarray(order, dtype=np.int64)
    if order.ndim != 1 or (order.size and (order.min() < 0 or order.max() >= n)):
        raise ValueError(f"order must list task indices in 0..{n - 1}")
    typical = typical if typical is not None else typical_tasks(problem)
    a = _kernel_args(problem, typical)
    x = np.full(n, -1, np.int64)
    masks = np.zeros(n, np.int64)
    used = np.zeros(order.size, np.int64)
    node_order = np.random.default_rng(seed).permutation(problem.n_nodes).astype(np.int64)
    K.simulate(POLICIES[policy], int(seed) % 2**32, order, a["free"], a["left"], a["gpus"],
               a["tags"], a["group_ok"], a["task_group"], a["cpu_col"], a["demand"], a["gpu"],
               a["need"], a["t_cpu"], a["t_milli"], a["t_num"], a["t_p"], a["t_ok"], a["sc"],
               node_order, ties == "first", x, masks, used)
    arrived = np.cumsum(problem.gpu_milli[order])
    return PolicyRun(policy, x, masks, used, arrived, DEVICE_MILLI * int(problem.gpus.sum()))


def allocation_curve(used: Any, arrived: Any, total_gpu: int, points: Any = range(131)
                     ) -> np.ndarray:
    """The artifact's allocation curve: for each point X (percent of the cluster's GPU), the
    mean allocated share (percent, each event rounded to 2 decimals) over the arrivals whose
    arrived GPU request rounds to X percent (half to even); where none does, over those within
    X +- 1; NaN where none is.

    Parameters
    ----------
    used, arrived : (A,) milli-GPU after each arrival
    total_gpu : int, the cluster's milli-GPU
    points : iterable of int
    """
    used = np.asarray(used, dtype=np.float64)
    arrived = np.asarray(arrived, dtype=np.float64)
    arrive = np.round(arrived / total_gpu * 100.0)
    alloc = np.round(used / total_gpu * 100.0, 2)
    out = []
    for x in points:
        rows = arrive == x
        if not rows.any():
            rows = np.abs(arrive - x) <= 1
        out.append(float(np.round(alloc[rows].mean(), 2)) if rows.any() else np.nan)
    return np.array(out)


def fragmentation(problem: Problem, x: Any, devices: Any, typical: Typical | None = None
                  ) -> float:
    """FGD's fragmentation of a placement: the expected milli-GPU that a typical task could
    not use, summed over the nodes (Weng et al. 2023, Sec. 4.2).

    Parameters
    ----------
    problem : Problem
    x : (N,) int, node per task (-1 waiting)
    devices : (N,) int64 device masks
    typical : Typical, optional (default :func:`typical_tasks` of ``problem``)
    """
    problem = _device_problem(problem)
    typical = typical if typical is not None else typical_tasks(problem)
    a = _kernel_args(problem, typical)
    x = np.asarray(x, dtype=np.int64)
    devices = np.asarray(devices, dtype=np.int64)
    K.build_state(x, devices, a["free"], a["left"], a["tags"], a["demand"], a["gpu"], a["need"])
    col = a["cpu_col"]
    total = 0.0
    for j in range(problem.n_nodes):
        cpu_left = a["free"][j, col] if col >= 0 else 0
        total += K.frag_of(a["left"], a["gpus"], cpu_left, j, a["t_cpu"], a["t_milli"],
                         a["t_num"], a["t_p"], a["t_ok"])
    return total


@dataclass(frozen=True)
class _Kinds:
    """Identical tasks and identical nodes merged (for the LP)."""

    task_kind: np.ndarray  # (N,) kind of each task
    t_count: np.ndarray  # (T,)
    dem: np.ndarray  # (T, R) float64
    gpu: np.ndarray  # (T,) int64
    need: np.ndarray  # (T,) int64
    weight: np.ndarray  # (T,)
    node_kind: np.ndarray  # (M,) kind of each node
    n_count: np.ndarray  # (C,)
    cap: np.ndarray  # (C, R) float64
    ngpu: np.ndarray  # (C,) int64
    ok: np.ndarray  # (T, C) bool: the kind may run there and asks for GPU


def _kinds(problem: Problem) -> _Kinds:
    group_ok, task_group = problem.label_ok()
    tk = np.column_stack([problem.demand.astype(np.float64), problem.gpu_milli,
                          task_group, problem.weight])
    kinds, t_of, t_count = np.unique(tk, axis=0, return_inverse=True, return_counts=True)
    label_id = {lab: i for i, lab in enumerate(sorted(set(problem.node_labels), key=sorted))}
    node_key = np.column_stack([problem.capacity.astype(np.float64), problem.gpus,
                                [label_id[lab] for lab in problem.node_labels]])
    nkinds, n_first, n_of, n_count = np.unique(node_key, axis=0, return_index=True,
                                               return_inverse=True, return_counts=True)
    R = problem.n_resources
    dem, gpu = kinds[:, :R], kinds[:, R].astype(np.int64)
    grp = kinds[:, R + 1].astype(np.int64)
    cap, ngpu = nkinds[:, :R], nkinds[:, R].astype(np.int64)
    need = np.where(gpu >= DEVICE_MILLI, gpu // DEVICE_MILLI, (gpu > 0).astype(np.int64))
    ok = group_ok[grp][:, n_first] & (need[:, None] <= ngpu[None, :])
    ok &= np.all(dem[:, None, :] <= cap[None, :, :], axis=2)
    ok &= gpu[:, None] > 0  # tasks without GPU add nothing: left out
    return _Kinds(t_of.ravel().astype(np.int64), t_count, dem, gpu, need, kinds[:, R + 2],
                  n_of.ravel().astype(np.int64), n_count, cap, ngpu, ok)


def _pooled_lp(problem: Problem, kinds: _Kinds) -> tuple[float, np.ndarray]:
    """The LP over (task kind, node kind) pairs: (bound, y (T, C) tasks per pair)."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    pairs = np.argwhere(kinds.ok)
    T, C = kinds.ok.shape
    y = np.zeros((T, C))
    if pairs.size == 0:
        return 0.0, y
    tt, cc = pairs[:, 0], pairs[:, 1]
    V = len(pairs)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    rhs: list[np.ndarray] = []

    def add(row_of: np.ndarray, coef: np.ndarray, bound: np.ndarray) -> None:
        base = len(rhs)
        keep = coef != 0
        rows.append(base + row_of[keep])
        cols.append(np.arange(V)[keep])
        vals.append(coef[keep])
        rhs.extend(bound.tolist())

    gpu, need, n = kinds.gpu, kinds.need, kinds.n_count
    add(tt, np.ones(V), kinds.t_count.astype(np.float64))
    for k in range(kinds.dem.shape[1]):
        add(cc, kinds.dem[tt, k], kinds.cap[:, k] * n)
    add(cc, gpu[tt].astype(np.float64), (DEVICE_MILLI * kinds.ngpu * n).astype(np.float64))
    # devices taken whole, or by a share above half a device, hold nothing else
    add(cc, (need[tt] * ((gpu[tt] >= DEVICE_MILLI) | (2 * gpu[tt] > DEVICE_MILLI))
             ).astype(np.float64), (kinds.ngpu * n).astype(np.float64))
    A = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                      shape=(len(rhs), V))
    res = linprog(-(kinds.weight[tt] * gpu[tt]), A_ub=A, b_ub=np.array(rhs), bounds=(0, None),
                  method="highs")
    if res.status != 0:
        raise RuntimeError(f"the allocation LP failed: {res.message}")
    y[tt, cc] = res.x
    return float(-res.fun), y


def _pattern_lp(problem: Problem, limit: int = 200_000) -> float | None:
    """Device packing bound: the configuration LP (Gilmore and Gomory 1961) over the shares
    that fit one device together, with whole-device tasks, on all the cluster's devices,
    without CPU, memory, labels or node boundaries. None when there are more than
    ``limit`` configurations."""
    import scipy.sparse as sp
    from scipy.optimize import linprog

    g, w = problem.gpu_milli, problem.weight
    total_dev = int(problem.gpus.sum())
    share = (g > 0) & (g < DEVICE_MILLI)
    whole = g >= DEVICE_MILLI
    # items: (size, weight) kinds of shares; whole tasks as their own columns
    kinds, count = np.unique(np.column_stack([g[share], w[share]]), axis=0,
                             return_counts=True)
    kinds, count = kinds[::-1], count[::-1]  # largest first
    sizes = kinds[:, 0].astype(np.int64)
    patterns: list[list[tuple[int, int]]] = []

    def rec(i: int, room: int, cur: list[tuple[int, int]]) -> bool:
        if len(patterns) > limit:
            return False
        if i == len(sizes):
            if cur:
                patterns.append(list(cur))
            return True
        top = min(room // int(sizes[i]), int(count[i]))
        for k in range(top, -1, -1):
            if k:
                cur.append((i, k))
            ok = rec(i + 1, room - k * int(sizes[i]), cur)
            if k:
                cur.pop()
            if not ok:
                return False
        return True

    if not rec(0, DEVICE_MILLI, []):
        return None
    wk, wcount = np.unique(np.column_stack([g[whole] // DEVICE_MILLI, w[whole]]), axis=0,
                           return_counts=True)
    P, Wn, S = len(patterns), len(wk), len(sizes)
    rows, cols, vals = [], [], []
    for c, pat in enumerate(patterns):
        for i, k in pat:
            rows.append(i)
            cols.append(c)
            vals.append(k)
    for c in range(Wn):
        rows.append(S + c)
        cols.append(P + c)
        vals.append(1)
    A = sp.csr_matrix((vals, (rows, cols)), shape=(S + Wn, P + Wn))
    devices = np.concatenate([np.ones(P), wk[:, 0]]) if Wn else np.ones(P)
    A = sp.vstack([A, sp.csr_matrix(devices[None, :])])
    value = [sum(kinds[i, 0] * kinds[i, 1] * k for i, k in pat) for pat in patterns]
    value += [DEVICE_MILLI * wk[c, 0] * wk[c, 1] for c in range(Wn)]
    b = np.concatenate([count, wcount, [total_dev]])
    res = linprog(-np.array(value, dtype=np.float64), A_ub=A, b_ub=b, bounds=(0, None),
                  method="highs")
    if res.status != 0:
        raise RuntimeError(f"the device packing LP failed: {res.message}")
    return float(-res.fun)


def allocation_bound(problem: Problem) -> dict[str, float]:
    """Upper bounds on the share of the cluster's GPU that any valid placement allocates
    (weighted by task weight), from two LP relaxations solved by HiGHS.

    * ``resources``: identical tasks and identical nodes merged; ``y[t, c]`` tasks of kind
      t on nodes of kind c, at most the kind's count, within the kind's summed resources
      and milli-GPU, and within its devices for tasks that hold a device alone (whole
      devices, shares above half a device); only where the task is allowed.
    * ``devices``: the configuration LP of the device packing (which shares fit one device
      together, Gilmore and Gomory 1961) over all the cluster's devices, without CPU,
      memory, labels or node boundaries (absent when there are too many configurations).

    Each relaxes the problem, so each bounds every valid placement; ``bound`` is the
    smaller.

    Returns
    -------
    dict with ``bound``, ``resources`` and, when computed, ``devices`` (shares of the
    cluster's milli-GPU) and ``arrived`` (the weighted GPU all tasks ask for).
    """
    problem = _device_problem(problem)
    total = float(DEVICE_MILLI * int(problem.gpus.sum()))
    pooled, _ = _pooled_lp(problem, _kinds(problem))
    out = {"resources": pooled / total,
           "arrived": float((problem.weight * problem.gpu_milli).sum()) / total}
    dev = _pattern_lp(problem)
    if dev is not None:
        out["devices"] = dev / total
    out["bound"] = min(v for k, v in out.items())
    return out


def _kinds_of_tasks(problem: Problem) -> np.ndarray:
    """(N,) int64: tasks with the same demand, GPU request, requirements and weight share a
    kind."""
    key = np.column_stack([problem.demand.astype(np.float64), problem.gpu_milli,
                           problem.label_ok()[1], problem.weight])
    return np.unique(key, axis=0, return_inverse=True)[1].ravel().astype(np.int64)


def lp_plan(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """A plan that follows the resource LP of :func:`allocation_bound`: each task kind
    gets ``floor(y[t, c])`` places on node kind c; tasks in the canonical packing order
    (whole devices, then shares, largest first; CPU descending within) go to the node of
    such a kind whose resources stay most evenly used. The remaining tasks wait.

    Returns
    -------
    x : (N,) int64 (-1 waiting); devices : (N,) int64 masks
    """
    problem = _device_problem(problem)
    kinds = _kinds(problem)
    _, y = _pooled_lp(problem, kinds)
    quota = np.floor(y + 1e-6).astype(np.int64)
    a = _kernel_args(problem, typical_tasks(problem))
    ptr = np.concatenate([[0], np.cumsum(kinds.n_count)]).astype(np.int64)
    nodes = np.argsort(kinds.node_kind, kind="stable").astype(np.int64)
    col = _cpu_column(problem)
    cpu = problem.demand[:, col] if col >= 0 else np.zeros(problem.n_tasks)
    g = problem.gpu_milli
    order = np.lexsort((np.arange(problem.n_tasks), -cpu, -g,
                        np.where(g >= DEVICE_MILLI, 0, 1))).astype(np.int64)
    x = np.full(problem.n_tasks, -1, np.int64)
    masks = np.zeros(problem.n_tasks, np.int64)
    K.quota_pack(order, kinds.task_kind, quota, ptr, nodes, a["free"], a["left"], a["gpus"],
                 a["tags"], np.ascontiguousarray(problem.capacity, a["free"].dtype),
                 a["group_ok"], a["task_group"], a["demand"], a["gpu"], a["need"], x, masks)
    return x, masks


def improve(problem: Problem, x: Any, devices: Any, *, time_limit: float | None = None,
            passes: int = 3) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Raise the allocated GPU of a valid plan by placing waiting tasks (largest weighted
    GPU request first): directly, after repacking one node's devices, or by ejecting a
    task that asks for less (placed elsewhere when it fits, else it waits). Every move keeps
    the plan valid per device and raises the allocation; a local search in the spirit of
    ejection chains (Glover 1996) on the device packing.

    Parameters
    ----------
    problem : Problem
        With GPU devices.
    x : (N,) int, node per task (-1 waiting); devices : (N,) int64 device masks
        A valid plan (e.g. of :func:`run_policy`).
    time_limit : float, optional
        Seconds; checked between chunks of tasks.
    passes : int
        Stop after this many passes over the waiting tasks without a placement.

    Returns
    -------
    x, devices : (N,) int64, the improved plan
    info : dict, ``placed`` (tasks placed) and ``passes`` (passes run)
    """
    import time

    from gabalance import _gpushare_search as S

    problem = _device_problem(problem)
    t0 = time.perf_counter()
    a = _kernel_args(problem, typical_tasks(problem))
    x = np.array(x, dtype=np.int64)
    masks = np.array(devices, dtype=np.int64)
    K.build_state(x, masks, a["free"], a["left"], a["tags"], a["demand"], a["gpu"], a["need"])
    head, nxt, prv = S.build_lists(x, problem.n_nodes)
    value = problem.weight * problem.gpu_milli
    order = np.lexsort((np.arange(problem.n_tasks), -value)).astype(np.int64)
    kinds = _kinds_of_tasks(problem)
    failed_at = np.full(int(kinds.max(initial=0)) + 1, -1, np.int64)
    version = np.zeros(1, np.int64)
    placed = runs = idle = 0
    while idle < passes:
        waiting = order[x[order] < 0]
        if waiting.size == 0:
            break
        gained = 0
        for lo in range(0, waiting.size, 64):
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                return x, masks, {"placed": placed, "passes": runs, "stopped": "time"}
            gained += S.improve(x, masks, a["free"], a["left"], head, nxt, prv, a["demand"],
                                a["gpu"], a["need"], a["gpus"], a["group_ok"],
                                a["task_group"], np.ascontiguousarray(problem.weight),
                                float(a["sc"][0]), a["cpu_col"], waiting[lo:lo + 64], kinds,
                                failed_at, version)
        placed += gained
        runs += 1
        idle = 0 if gained else idle + 1
    return x, masks, {"placed": placed, "passes": runs, "stopped": "converged"}

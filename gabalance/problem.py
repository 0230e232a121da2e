"""The problem model: nodes, tasks, dependencies and their one validation function.

A :class:`Problem` is immutable and holds numpy arrays (``N`` tasks, ``M`` nodes,
``K`` resources). See ``docs/model.md`` for the full semantics of both modes
(placement and schedule) and ``docs/json-schema.md`` for the file format.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "DEVICE_MILLI",
    "DEVICE_OBJECTIVES",
    "MAX_OBJECTIVES",
    "OBJECTIVES",
    "PLACEMENT_OBJECTIVES",
    "SCHEDULE_OBJECTIVES",
    "Dependency",
    "Node",
    "Problem",
    "ProblemError",
    "Task",
    "check_sense",
    "default_sense",
    "mode_of",
]

PLACEMENT_OBJECTIVES = ("cost", "max_utilization", "nodes_used", "imbalance")
SCHEDULE_OBJECTIVES = ("makespan", "weighted_completion")
#: placement objectives of problems with GPU devices or tasks that may wait
DEVICE_OBJECTIVES = ("gpu_allocation",)
OBJECTIVES = PLACEMENT_OBJECTIVES + DEVICE_OBJECTIVES + SCHEDULE_OBJECTIVES
#: objectives that may be maximised (``sense="max"``); all others are minimised
MAX_OBJECTIVES = ("cost", "gpu_allocation")
#: objectives that are always maximised
ALWAYS_MAX = ("gpu_allocation",)
#: capacity of one GPU device in milli-GPU (a task's ``gpu_milli`` below it is a share of one
#: device; a multiple of it asks for that many whole devices)
DEVICE_MILLI = 1000
#: most GPU devices one node may carry (device sets are 64-bit masks)
MAX_DEVICES = 62

SCHEMA_FORMAT = "gabalance-problem"
SCHEMA_VERSION = 1


class ProblemError(ValueError):
    """An input problem is malformed; the message names the offending task, node or field."""


def default_sense(objective: str, problem_sense: str = "min") -> str:
    """The sense an objective is optimised in when none is given: ``"max"`` for
    ``gpu_allocation``, the problem's sense for ``cost``, else ``"min"``."""
    if objective in ALWAYS_MAX:
        return "max"
    return problem_sense if objective in MAX_OBJECTIVES else "min"


def check_sense(objective: str, sense: Any) -> None:
    """Raise :class:`ProblemError` when ``sense`` is not allowed for ``objective``."""
    if sense not in ("min", "max"):
        raise ProblemError(f"sense must be 'min' or 'max', got {sense!r}")
    if sense == "max" and objective not in MAX_OBJECTIVES:
        raise ProblemError(f"objective {objective!r} can only be minimised (sense='max' applies "
                           f"to {', '.join(MAX_OBJECTIVES)})")
    if sense == "min" and objective in ALWAYS_MAX:
        raise ProblemError(f"objective {objective!r} can only be maximised")


def mode_of(objective: str) -> str:
    """Return ``"placement"`` or ``"schedule"`` for an objective name."""
    if objective in PLACEMENT_OBJECTIVES or objective in DEVICE_OBJECTIVES:
        return "placement"
    if objective in SCHEDULE_OBJECTIVES:
        return "schedule"
    raise ProblemError(f"unknown objective {objective!r} (choose from {', '.join(OBJECTIVES)})")


# --------------------------------------------------------------------------- plain-Python input


@dataclasses.dataclass(frozen=True)
class Node:
    """A node for :meth:`Problem.from_dicts` (a dict with the same keys works too)."""

    name: str
    capacity: Mapping[str, float] | Sequence[float]
    speed: float = 1.0
    labels: Sequence[str] = ()
    gpus: int = 0


@dataclasses.dataclass(frozen=True)
class Task:
    """A task for :meth:`Problem.from_dicts` (a dict with the same keys works too).

    ``demand`` maps resource -> amount (or lists the amounts in resource order);
    ``demand_by_node`` maps node -> such a demand instead, when it depends on the node.
    ``runtime`` and ``cost`` map node -> value; a node missing from ``runtime`` (or given
    ``None``) cannot run the task. ``requires`` lists label requirements: a string must be
    among the node's labels, a list of strings needs any one of them.
    """

    name: str
    demand: Mapping[str, float] | Sequence[float] | None = None
    demand_by_node: Mapping[str, Any] | None = None
    duration: float = 1.0
    runtime: Mapping[str, float | None] | None = None
    cost: Mapping[str, float] | None = None
    weight: float = 1.0
    release: float = 0.0
    requires: Sequence[str | Sequence[str]] = ()
    after: Sequence[str] = ()
    gpu_milli: int = 0
    may_wait: bool = False


@dataclasses.dataclass(frozen=True)
class Dependency:
    """``succ`` may start only after ``pred`` has finished and its ``data`` has arrived."""

    pred: str
    succ: str
    data: float = 0.0


_NODE_FIELDS = ("name", "capacity", "speed", "labels", "gpus")
_TASK_FIELDS = tuple(f.name for f in dataclasses.fields(Task))
_DEP_FIELDS = ("pred", "succ", "data")
_TOP_FIELDS = (
    "format", "version", "name", "objective", "sense", "resources", "nodes", "tasks",
    "dependencies", "bandwidth", "info",
)


def _sequence(value: Any, what: str) -> list:
    """A list from a list/tuple (or other non-string iterable); a clear error otherwise."""
    if isinstance(value, (str, bytes, Mapping)) or value is None:
        raise ProblemError(f"{what} must be a list, got {type(value).__name__}")
    try:
        return list(value)
    except TypeError:
        raise ProblemError(f"{what} must be a list, got {type(value).__name__}") from None


def _name(value: Any, what: str) -> str:
    if value is None or isinstance(value, (bool, list, dict, tuple, set)) or value == "":
        raise ProblemError(f"{what} needs a non-empty name, got {value!r}")
    return str(value)


def _as_record(obj: Any, fields: Sequence[str], what: str) -> dict:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if not isinstance(obj, Mapping):
        raise ProblemError(f"{what} must be a mapping or a dataclass, got {type(obj).__name__}")
    unknown = [k for k in obj if k not in fields]
    if unknown:
        raise ProblemError(
            f"unknown field {unknown[0]!r} in {what} (allowed: {', '.join(fields)})"
        )
    return dict(obj)


def _number(value: Any, what: str, *, null_is_inf: bool = False) -> Any:
    if value is None and null_is_inf:
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ProblemError(f"{what} must be a number, got {value!r}")
    return value


# --------------------------------------------------------------------------- the Problem


def _freeze(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


def _numeric(value: Any, name: str, *, integer_ok: bool = True) -> np.ndarray:
    try:
        a = np.asarray(value)
    except Exception as exc:  # ragged lists etc.
        raise ProblemError(f"{name} is not a rectangular numeric array ({exc})") from None
    if a.dtype == object:
        try:
            a = a.astype(np.float64)
        except (TypeError, ValueError):
            raise ProblemError(f"{name} must be numeric") from None
    if a.dtype.kind == "b" or a.dtype.kind not in "iuf":
        raise ProblemError(f"{name} must be numeric, got dtype {a.dtype}")
    if a.dtype.kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
        raise ProblemError(f"{name} holds integers beyond the int64 range; pass floats")
    if a.dtype.kind in "iu" and integer_ok:
        return a.astype(np.int64)
    return a.astype(np.float64)


class Problem:
    """An immutable task-to-node problem (DESIGN §1).

    Parameters
    ----------
    capacity : array_like, shape (M, K)
        What each node offers of each resource; ``>= 0``.
    demand : array_like, shape (N, K) or (N, M, K)
        What each task needs while it runs, per task or per task and node; ``>= 0``.
    resources : sequence of str, optional
        The K resource names (default ``r0, r1, ...``).
    speed : array_like, shape (M,), optional
        Relative node throughput, ``> 0`` (default 1).
    duration : array_like, shape (N,), optional
        Runtime on a speed-1 node, ``>= 0`` (default 1).
    runtime : array_like, shape (N, M), optional
        Overrides ``duration / speed``; ``inf`` means the task cannot run on that node.
    cost : array_like, shape (N, M), optional
        Assignment cost for the ``cost`` objective (default: the runtime).
    weight : array_like, shape (N,), optional
        Priority, ``> 0`` (default 1).
    release : array_like, shape (N,), optional
        Earliest start, ``>= 0`` (default 0).
    edges : array_like, shape (E, 2), optional
        Dependencies ``(pred, succ)`` as task indices; must form a DAG.
    data : array_like, shape (E,), optional
        Data each dependency moves (default 0).
    bandwidth : float or array_like, shape (M, M), optional
        Transfer time is ``data / bandwidth[from, to]`` between different nodes
        (default ``inf``: free transfers).
    task_names, node_names : sequence of str, optional
        Unique names (default ``t0, t1, ...`` and ``n0, n1, ...``).
    node_labels : sequence of iterables of str, optional
        Labels each node carries.
    task_requires : sequence of sequences, optional
        Per task, label requirements: a string must be among the node's labels; a
        collection of strings needs any one of them.
    gpus : array_like of int, shape (M,), optional
        GPU devices on each node (default 0), each of ``DEVICE_MILLI`` = 1000 milli-GPU; at
        most 62 per node.
    gpu_milli : array_like of int, shape (N,), optional
        GPU request of each task in milli-GPU (default 0): 1..999 is a share that must fit
        inside one device; a multiple of 1000 asks for that many whole devices of its node.
        Which devices a task gets is part of the solution (a device mask, see
        docs/model.md "GPU devices").
    may_wait : bool or array_like of bool, shape (N,), optional
        Tasks that may stay unplaced (node index -1) when the cluster is full (default
        False: every task must be placed).
    objective : str, optional
        The default objective for ``evaluate``/``solve``.
    sense : {"min", "max"}, optional
        Direction of the ``cost`` objective (``gpu_allocation`` is always maximised, the
        others always minimised).
    name : str, optional
    info : dict, optional
        Free-form JSON-serialisable metadata (source file, reference values ...).

    Integer inputs stay int64 (``capacity`` and ``demand`` share one dtype), so integer
    data are evaluated exactly. All arrays are read-only.
    """

    resources: tuple[str, ...]
    capacity: np.ndarray
    demand: np.ndarray
    speed: np.ndarray
    duration: np.ndarray
    runtime: np.ndarray | None
    cost: np.ndarray | None
    weight: np.ndarray
    release: np.ndarray
    edges: np.ndarray
    data: np.ndarray
    bandwidth: Any  # np.float64 scalar or (M, M) ndarray
    task_names: tuple[str, ...]
    node_names: tuple[str, ...]
    node_labels: tuple[frozenset[str], ...]
    task_requires: tuple[tuple[frozenset[str], ...], ...]
    gpus: np.ndarray
    gpu_milli: np.ndarray
    may_wait: np.ndarray
    objective: str | None
    sense: str
    name: str
    info: dict[str, Any]
    _group_ok: np.ndarray
    _task_group: np.ndarray
    _cache_allowed: np.ndarray | None

    def __init__(
        self,
        capacity: Any,
        demand: Any,
        *,
        resources: Sequence[str] | None = None,
        speed: Any = None,
        duration: Any = None,
        runtime: Any = None,
        cost: Any = None,
        weight: Any = None,
        release: Any = None,
        edges: Any = None,
        data: Any = None,
        bandwidth: Any = math.inf,
        task_names: Sequence[str] | None = None,
        node_names: Sequence[str] | None = None,
        node_labels: Sequence[Iterable[str]] | None = None,
        task_requires: Sequence[Sequence[str | Iterable[str]]] | None = None,
        gpus: Any = None,
        gpu_milli: Any = None,
        may_wait: Any = False,
        objective: str | None = None,
        sense: str = "min",
        name: str = "",
        info: Mapping[str, Any] | None = None,
    ) -> None:
        _problem_iv(self, locals())
        object.__setattr__(self, "_frozen", True)

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_frozen", False) and not name.startswith("_cache"):
            raise AttributeError(f"Problem is immutable; use replace() to change {name!r}")
        object.__setattr__(self, name, value)

    # ------------------------------------------------------------------ shape

    @property
    def n_tasks(self) -> int:
        return int(self.demand.shape[0])

    @property
    def n_nodes(self) -> int:
        return int(self.capacity.shape[0])

    @property
    def n_resources(self) -> int:
        return int(self.capacity.shape[1])

    @property
    def n_edges(self) -> int:
        return int(self.edges.shape[0])

    @property
    def has_devices(self) -> bool:
        """True when some node carries GPU devices or some task asks for GPU."""
        return bool(self.gpus.any() or self.gpu_milli.any())

    @property
    def devices_needed(self) -> np.ndarray:
        """(N,) int64: devices each task takes (0 none, 1 for a share, k for k whole ones)."""
        g = self.gpu_milli
        return np.where(g >= DEVICE_MILLI, g // DEVICE_MILLI, (g > 0).astype(np.int64))

    @property
    def waiting_allowed(self) -> bool:
        """True when some task may stay unplaced."""
        return bool(self.may_wait.any())

    @property
    def per_node_demand(self) -> bool:
        """True when ``demand`` has shape (N, M, K)."""
        return self.demand.ndim == 3

    @property
    def mode(self) -> str | None:
        """``"placement"`` or ``"schedule"`` for the default objective (None without one)."""
        return None if self.objective is None else mode_of(self.objective)

    def __repr__(self) -> str:
        label = f"{self.name!r}, " if self.name else ""
        return (
            f"Problem({label}{self.n_tasks} tasks, {self.n_nodes} nodes, "
            f"resources={list(self.resources)}, {self.n_edges} dependencies, "
            f"objective={self.objective!r})"
        )

    # ------------------------------------------------------------------ derived quantities

    def task_demand(self, task: int, node: int) -> np.ndarray:
        """Demand (K,) of one task on one node."""
        return self.demand[task, node] if self.per_node_demand else self.demand[task]

    def runtime_of(self, task: int, node: int) -> float:
        """Runtime of one task on one node (``inf`` where it cannot run)."""
        if self.runtime is not None:
            return float(self.runtime[task, node])
        return float(self.duration[task]) / float(self.speed[node])

    def label_ok(self) -> tuple[np.ndarray, np.ndarray]:
        """Label eligibility in compact form.

        Returns
        -------
        group_ok : ndarray, shape (G, M), bool
            Row g says which nodes satisfy requirement set g; row 0 is "no requirement".
        task_group : ndarray, shape (N,), int32
            The requirement set of each task.
        """
        return self._group_ok, self._task_group

    def allowed_nodes(self, task: int) -> np.ndarray:
        """Indices of the nodes where ``task`` may run (labels, finite runtime, fits empty)."""
        ok = self._group_ok[self._task_group[task]].copy()
        ok &= self.gpus >= self.devices_needed[task]
        if self.runtime is not None:
            ok &= np.isfinite(self.runtime[task])
        d = self.demand[task] if self.per_node_demand else self.demand[task][None, :]
        ok &= np.all(d <= self.capacity, axis=1)
        return np.flatnonzero(ok)

    @property
    def allowed(self) -> np.ndarray:
        """Dense eligibility matrix, shape (N, M) bool (built on first use; O(N M) memory)."""
        if self._cache_allowed is None:
            ok = self._group_ok[self._task_group]
            if self.has_devices:
                ok = ok & (self.devices_needed[:, None] <= self.gpus[None, :])
            if self.runtime is not None:
                ok = ok & np.isfinite(self.runtime)
            if self.per_node_demand:
                ok = ok & np.all(self.demand <= self.capacity[None], axis=2)
            else:
                for k in range(self.n_resources):
                    ok = ok & (self.demand[:, k, None] <= self.capacity[None, :, k])
            self._cache_allowed = _freeze(ok)
        return self._cache_allowed

    @property
    def predecessors(self) -> list[np.ndarray]:
        """Per task, the indices of its direct predecessors."""
        order = np.argsort(self.edges[:, 1], kind="stable")
        ptr = np.searchsorted(self.edges[order, 1], np.arange(self.n_tasks + 1))
        return [self.edges[order[ptr[i]:ptr[i + 1]], 0] for i in range(self.n_tasks)]

    # ------------------------------------------------------------------ equality

    _ARRAYS = ("capacity", "demand", "speed", "duration", "runtime", "cost", "weight",
               "release", "edges", "data", "bandwidth", "gpus", "gpu_milli", "may_wait")
    _SCALARS = ("resources", "task_names", "node_names", "node_labels", "task_requires",
                "objective", "sense", "name", "info")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Problem):
            return NotImplemented
        for f in self._ARRAYS:
            a, b = getattr(self, f), getattr(other, f)
            if (a is None) != (b is None):
                return False
            if a is not None and (a.shape != b.shape or not np.array_equal(a, b)):
                return False
        return all(getattr(self, f) == getattr(other, f) for f in self._SCALARS)

    __hash__ = None  # type: ignore[assignment]

    def replace(self, **changes: Any) -> Problem:
        """A copy with some constructor arguments changed (validated again)."""
        args = {f: getattr(self, f) for f in self._ARRAYS + self._SCALARS}
        args.update(changes)
        cap, dem = args.pop("capacity"), args.pop("demand")
        return Problem(cap, dem, **args)

    # ------------------------------------------------------------------ plain Python

    @classmethod
    def from_dicts(
        cls,
        nodes: Sequence[Mapping[str, Any] | Node],
        tasks: Sequence[Mapping[str, Any] | Task],
        dependencies: Sequence[Mapping[str, Any] | Dependency | Sequence[Any]] = (),
        *,
        resources: Sequence[str] | None = None,
        bandwidth: Any = math.inf,
        objective: str | None = None,
        sense: str = "min",
        name: str = "",
        info: Mapping[str, Any] | None = None,
    ) -> Problem:
        """Build a problem from lists of dicts (or :class:`Node`/:class:`Task` objects).

        ``resources`` defaults to the capacity keys of the first node (sorted order of
        appearance). Dependencies are dicts or ``(pred, succ[, data])`` tuples of task names;
        a task's ``after`` list adds dependencies with no data.
        """
        node_recs = [_as_record(n, _NODE_FIELDS, f"node {i}")
                     for i, n in enumerate(_sequence(nodes, "nodes"))]
        task_recs = [_as_record(t, _TASK_FIELDS, f"task {i}")
                     for i, t in enumerate(_sequence(tasks, "tasks"))]
        dependencies = _sequence(dependencies, "dependencies")
        for i, r in enumerate(node_recs):
            if "name" not in r or "capacity" not in r:
                raise ProblemError(f"node {i} needs a 'name' and a 'capacity'")
        for i, r in enumerate(task_recs):
            if "name" not in r:
                raise ProblemError(f"task {i} needs a 'name'")
        node_names = [_name(r["name"], f"node {i}") for i, r in enumerate(node_recs)]
        task_names = [_name(r["name"], f"task {i}") for i, r in enumerate(task_recs)]
        for i, r in enumerate(node_recs):
            r["name"] = node_names[i]
        for i, r in enumerate(task_recs):
            r["name"] = task_names[i]
        _check_unique(node_names, "node")
        _check_unique(task_names, "task")
        node_index = {n: j for j, n in enumerate(node_names)}
        task_index = {t: i for i, t in enumerate(task_names)}

        if resources is None:
            first = node_recs[0]["capacity"] if node_recs else {}
            if isinstance(first, (list, tuple)):
                raise ProblemError("resources must be given when capacities are lists")
            if not isinstance(first, Mapping):
                raise ProblemError(f"capacity of node {node_names[0]!r} must be a mapping "
                                   f"resource -> amount, got {first!r}")
            resources = list(first)
        resources = [str(r) for r in _sequence(resources, "resources")]
        _check_unique(resources, "resource")
        M, N, K = len(node_recs), len(task_recs), len(resources)

        def vector(value: Any, what: str) -> list[float]:
            if isinstance(value, Mapping):
                unknown = [k for k in value if k not in resources]
                if unknown:
                    raise ProblemError(
                        f"{what} names unknown resource {unknown[0]!r} "
                        f"(resources: {', '.join(resources)})"
                    )
                return [_number(value.get(r, 0), f"{what} for {r!r}") for r in resources]
            vals = _sequence(value, f"{what} (a mapping resource -> amount, or a list)")
            if len(vals) != K:
                raise ProblemError(f"{what} has {len(vals)} values, expected {K} ({resources})")
            return [_number(v, f"{what}") for v in vals]

        def per_node(value: Mapping[str, Any], what: str, default: Any) -> list[Any]:
            if not isinstance(value, Mapping):
                raise ProblemError(f"{what} must map node names to values")
            unknown = [k for k in value if k not in node_index]
            if unknown:
                raise ProblemError(f"{what} names unknown node {unknown[0]!r}")
            return [value.get(n, default) for n in node_names]

        capacity = [vector(r["capacity"], f"capacity of node {r['name']!r}") for r in node_recs]
        speed = [_number(r.get("speed", 1.0), f"speed of node {r['name']!r}") for r in node_recs]
        labels = [_labels(r.get("labels", ()), f"labels of node {r['name']!r}") for r in node_recs]
        gpus = [_number(r.get("gpus", 0), f"gpus of node {r['name']!r}") for r in node_recs]

        by_node = [r.get("demand_by_node") is not None for r in task_recs]
        if any(by_node) and not all(by_node):
            i = by_node.index(not by_node[0])
            raise ProblemError(
                f"task {task_names[i]!r}: either every task gives 'demand_by_node' or none does"
            )
        demand: list[Any] = []
        for r in task_recs:
            what = f"demand of task {r['name']!r}"
            if any(by_node):
                if r.get("demand") is not None:
                    raise ProblemError(f"task {r['name']!r} gives both 'demand' and "
                                       "'demand_by_node'")
                rows = per_node(r["demand_by_node"], f"demand_by_node of task {r['name']!r}", None)
                missing = [node_names[j] for j, v in enumerate(rows) if v is None]
                if missing:
                    raise ProblemError(f"demand_by_node of task {r['name']!r} lacks node "
                                       f"{missing[0]!r}")
                demand.append([vector(v, f"{what} on node {node_names[j]!r}")
                               for j, v in enumerate(rows)])
            else:
                d = r.get("demand")
                demand.append(vector({} if d is None else d, what))

        duration = [_number(r.get("duration", 1.0), f"duration of task {r['name']!r}")
                    for r in task_recs]
        runtime = None
        if any(r.get("runtime") is not None for r in task_recs):
            runtime = []
            for i, r in enumerate(task_recs):
                if r.get("runtime") is None:
                    # an invalid speed is reported by the validation below
                    runtime.append([float(duration[i]) / float(s) if float(s) > 0 else math.inf
                                    for s in speed])
                else:
                    what = f"runtime of task {r['name']!r}"
                    runtime.append([_number(v, f"{what} on node {node_names[j]!r}",
                                            null_is_inf=True)
                                    for j, v in enumerate(per_node(r["runtime"], what, None))])
        cost = None
        if any(r.get("cost") is not None for r in task_recs):
            missing = [r["name"] for r in task_recs if r.get("cost") is None]
            if missing:
                raise ProblemError(f"task {missing[0]!r} has no 'cost' while others do")
            cost = []
            for r in task_recs:
                what = f"cost of task {r['name']!r}"
                vals = per_node(r["cost"], what, None)
                miss = [node_names[j] for j, v in enumerate(vals) if v is None]
                if miss:
                    raise ProblemError(f"{what} lacks node {miss[0]!r}")
                cost.append([_number(v, f"{what} on node {node_names[j]!r}")
                             for j, v in enumerate(vals)])

        weight = [_number(r.get("weight", 1.0), f"weight of task {r['name']!r}")
                  for r in task_recs]
        release = [_number(r.get("release", 0.0), f"release of task {r['name']!r}")
                   for r in task_recs]
        requires = [_requirements(r.get("requires", ()), f"requires of task {r['name']!r}")
                    for r in task_recs]
        gpu_milli = [_number(r.get("gpu_milli", 0), f"gpu_milli of task {r['name']!r}")
                     for r in task_recs]
        may_wait = []
        for r in task_recs:
            w = r.get("may_wait", False)
            if not isinstance(w, (bool, np.bool_)):
                raise ProblemError(f"may_wait of task {r['name']!r} must be true or false, "
                                   f"got {w!r}")
            may_wait.append(bool(w))

        edges: list[tuple[int, int]] = []
        data: list[float] = []

        def task_ref(t: Any, what: str) -> int:
            key = t if isinstance(t, str) else str(t)
            if key not in task_index:
                raise ProblemError(f"{what} names unknown task {t!r}")
            return task_index[key]

        for r in task_recs:
            after = r.get("after") or ()
            for p in [after] if isinstance(after, str) else _sequence(
                    after, f"'after' of task {r['name']!r}"):
                edges.append((task_ref(p, f"'after' of task {r['name']!r}"), task_index[r["name"]]))
                data.append(0.0)
        for e, dep in enumerate(dependencies):
            if isinstance(dep, (list, tuple)):
                if len(dep) not in (2, 3):
                    raise ProblemError(f"dependency {e} must be (pred, succ) or (pred, succ, data)")
                rec = dict(zip(_DEP_FIELDS, dep))
            else:
                rec = _as_record(dep, _DEP_FIELDS, f"dependency {e}")
            if "pred" not in rec or "succ" not in rec:
                raise ProblemError(f"dependency {e} needs 'pred' and 'succ'")
            edges.append((task_ref(rec["pred"], f"dependency {e}"),
                          task_ref(rec["succ"], f"dependency {e}")))
            data.append(_number(rec.get("data", 0.0), f"data of dependency {e}"))

        if info is not None and not isinstance(info, Mapping):
            raise ProblemError(f"info must be a mapping (a JSON object), got {type(info).__name__}")
        return cls(
            np.array(capacity).reshape(M, K),
            np.array(demand).reshape((N, M, K) if any(by_node) else (N, K)),
            resources=resources, speed=speed, duration=duration, runtime=runtime, cost=cost,
            weight=weight, release=release,
            edges=np.array(edges, dtype=np.int64).reshape(-1, 2), data=data,
            bandwidth=_bandwidth_in(bandwidth, node_index),
            task_names=task_names, node_names=node_names, node_labels=labels,
            task_requires=requires, gpus=gpus, gpu_milli=gpu_milli, may_wait=may_wait,
            objective=objective, sense=sense, name=name, info=info,
        )

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON-ready form (see docs/json-schema.md)."""
        res = list(self.resources)

        def num(v: Any) -> Any:
            v = v.item() if isinstance(v, np.generic) else v
            return None if isinstance(v, float) and math.isinf(v) else v

        def vec(row: np.ndarray) -> dict[str, Any]:
            return {r: num(row[k]) for k, r in enumerate(res)}

        nodes = []
        for j, n in enumerate(self.node_names):
            rec: dict[str, Any] = {"name": n, "capacity": vec(self.capacity[j])}
            if self.speed[j] != 1:
                rec["speed"] = num(self.speed[j])
            if self.node_labels[j]:
                rec["labels"] = sorted(self.node_labels[j])
            if self.gpus[j]:
                rec["gpus"] = int(self.gpus[j])
            nodes.append(rec)
        tasks = []
        for i, t in enumerate(self.task_names):
            rec = {"name": t}
            if self.per_node_demand:
                rec["demand_by_node"] = {n: vec(self.demand[i, j])
                                         for j, n in enumerate(self.node_names)}
            else:
                rec["demand"] = vec(self.demand[i])
            if self.duration[i] != 1:
                rec["duration"] = num(self.duration[i])
            if self.runtime is not None:
                rec["runtime"] = {n: num(self.runtime[i, j])
                                  for j, n in enumerate(self.node_names)
                                  if np.isfinite(self.runtime[i, j])}
            if self.cost is not None:
                rec["cost"] = {n: num(self.cost[i, j]) for j, n in enumerate(self.node_names)}
            if self.weight[i] != 1:
                rec["weight"] = num(self.weight[i])
            if self.release[i] != 0:
                rec["release"] = num(self.release[i])
            if self.task_requires[i]:
                rec["requires"] = [sorted(g)[0] if len(g) == 1 else sorted(g)
                                   for g in self.task_requires[i]]
            if self.gpu_milli[i]:
                rec["gpu_milli"] = int(self.gpu_milli[i])
            if self.may_wait[i]:
                rec["may_wait"] = True
            tasks.append(rec)
        deps = [{"pred": self.task_names[int(p)], "succ": self.task_names[int(s)],
                 **({"data": num(d)} if d != 0 else {})}
                for (p, s), d in zip(self.edges, self.data)]
        out: dict[str, Any] = {"format": SCHEMA_FORMAT, "version": SCHEMA_VERSION}
        if self.name:
            out["name"] = self.name
        if self.objective is not None:
            out["objective"] = self.objective
        if self.sense != "min":
            out["sense"] = self.sense
        out["resources"] = res
        out["nodes"] = nodes
        out["tasks"] = tasks
        if deps:
            out["dependencies"] = deps
        if np.ndim(self.bandwidth) == 0:
            if np.isfinite(self.bandwidth):
                out["bandwidth"] = num(self.bandwidth)
        else:
            out["bandwidth"] = [[num(v) for v in row] for row in self.bandwidth]
        if self.info:
            out["info"] = self.info
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Problem:
        """Inverse of :meth:`to_dict`; rejects unknown fields and other versions."""
        if not isinstance(doc, Mapping):
            raise ProblemError("a problem document must be a JSON object")
        unknown = [k for k in doc if k not in _TOP_FIELDS]
        if unknown:
            raise ProblemError(
                f"unknown field {unknown[0]!r} in problem document "
                f"(allowed: {', '.join(_TOP_FIELDS)})"
            )
        if doc.get("format") != SCHEMA_FORMAT:
            raise ProblemError(f"not a gabalance problem document (format must be "
                               f"{SCHEMA_FORMAT!r}, got {doc.get('format')!r})")
        if doc.get("version") != SCHEMA_VERSION:
            raise ProblemError(f"unsupported problem document version {doc.get('version')!r} "
                               f"(this gabalance reads version {SCHEMA_VERSION})")
        for key in ("resources", "nodes", "tasks"):
            if key not in doc:
                raise ProblemError(f"problem document lacks the required field {key!r}")
        return cls.from_dicts(
            doc["nodes"], doc["tasks"], doc.get("dependencies", ()),
            resources=doc["resources"], bandwidth=doc.get("bandwidth"),
            objective=doc.get("objective"), sense=doc.get("sense", "min"),
            name=doc.get("name", ""), info=doc.get("info"),
        )

    def to_json(self, path: str | os.PathLike[str] | None = None, *, indent: int | None = 1) -> str:
        """Serialise to JSON text; also write it to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        return text

    @classmethod
    def from_json(cls, source: str | os.PathLike[str]) -> Problem:
        """Read a problem from a JSON file path, or from JSON text (a string starting with "{")."""
        if isinstance(source, str) and source.lstrip()[:1] in ("{", "["):
            text = source
        else:
            with open(source, encoding="utf-8") as fh:
                text = fh.read()
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProblemError(f"invalid JSON: {exc}") from None
        except RecursionError:
            raise ProblemError("invalid problem JSON: nested too deeply (a problem file is a "
                               "few levels deep: nodes, tasks, dependencies)") from None
        try:
            return cls.from_dict(doc)
        except RecursionError:
            raise ProblemError("invalid problem JSON: a field is nested too deeply") from None


# --------------------------------------------------------------------------- helpers


def _check_unique(names: Sequence[str], what: str) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ProblemError(f"duplicate {what} name {n!r}")
        seen.add(n)


def _labels(value: Any, what: str) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset([value])
    if isinstance(value, Mapping):
        raise ProblemError(f"{what} must be a list of strings")
    try:
        labels = frozenset(value)
    except TypeError:
        raise ProblemError(f"{what} must be a list of strings") from None
    if not all(isinstance(x, str) for x in labels):
        raise ProblemError(f"{what} must be a list of strings")
    return labels


def _requirements(value: Any, what: str) -> tuple[frozenset[str], ...]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, Mapping):
        raise ProblemError(f"{what} must be a list of labels or lists of labels")
    out = []
    try:
        items = list(value)
    except TypeError:
        raise ProblemError(f"{what} must be a list of labels or lists of labels") from None
    for item in items:
        group = _labels(item, what)
        if not group:
            raise ProblemError(f"{what} holds an empty list of alternatives")
        out.append(group)
    return tuple(dict.fromkeys(out))


def _bandwidth_in(value: Any, node_index: Mapping[str, int]) -> Any:
    if value is None:
        return math.inf
    if isinstance(value, (list, tuple)) or (isinstance(value, np.ndarray) and value.ndim):
        M = len(node_index)
        rows = _sequence(value, "bandwidth")
        if len(rows) != M or any(not isinstance(r, (list, tuple, np.ndarray)) or len(r) != M
                                 for r in rows):
            raise ProblemError(f"bandwidth must be a number or an {M} x {M} list of lists "
                               "(null = infinite)")
        return np.array([[_number(v, f"bandwidth[{a}][{b}]", null_is_inf=True)
                          for b, v in enumerate(row)] for a, row in enumerate(rows)],
                        dtype=np.float64)
    return _number(value, "bandwidth", null_is_inf=True)


def _problem_iv(p: Problem, a: dict[str, Any]) -> None:
    """The one validation function: checks and normalises constructor arguments into ``p``."""
    capacity = _numeric(a["capacity"], "capacity")
    demand = _numeric(a["demand"], "demand")
    if capacity.ndim != 2:
        raise ProblemError(f"capacity must have shape (M, K), got shape {capacity.shape}")
    M, K = capacity.shape
    if demand.ndim not in (2, 3):
        raise ProblemError(f"demand must have shape (N, K) or (N, M, K), got shape {demand.shape}")
    N = demand.shape[0]
    if M == 0:
        raise ProblemError("the problem has no nodes")
    if N == 0:
        raise ProblemError("the problem has no tasks")
    if demand.shape[-1] != K or (demand.ndim == 3 and demand.shape[1] != M):
        want = f"({N}, {K}) or ({N}, {M}, {K})"
        raise ProblemError(f"demand has shape {demand.shape}, expected {want} to match "
                           f"capacity {capacity.shape}")
    if capacity.dtype != demand.dtype:  # one dtype for both, so loads compare exactly
        capacity, demand = capacity.astype(np.float64), demand.astype(np.float64)

    def names(value: Any, prefix: str, count: int, what: str) -> tuple[str, ...]:
        if value is None:
            return tuple(f"{prefix}{i}" for i in range(count))
        return tuple(map(str, _sequence(value, what)))

    resources = names(a["resources"], "r", K, "resources")
    if len(resources) != K:
        raise ProblemError(f"resources has {len(resources)} names but capacity has {K} columns")
    _check_unique(resources, "resource")
    node_names = names(a["node_names"], "n", M, "node_names")
    task_names = names(a["task_names"], "t", N, "task_names")
    if len(node_names) != M:
        raise ProblemError(f"node_names has {len(node_names)} names but there are {M} nodes")
    if len(task_names) != N:
        raise ProblemError(f"task_names has {len(task_names)} names but there are {N} tasks")
    _check_unique(node_names, "node")
    _check_unique(task_names, "task")

    def vector(value: Any, name: str, length: int, default: float, owner: str) -> np.ndarray:
        v = np.full(length, default) if value is None else _numeric(value, name)
        if v.shape != (length,):
            raise ProblemError(f"{name} must have shape ({length},) (one per {owner}), "
                               f"got shape {v.shape}")
        return v

    speed = vector(a["speed"], "speed", M, 1.0, "node").astype(np.float64)
    duration = vector(a["duration"], "duration", N, 1.0, "task").astype(np.float64)
    weight = vector(a["weight"], "weight", N, 1.0, "task").astype(np.float64)
    release = vector(a["release"], "release", N, 0.0, "task").astype(np.float64)

    def matrix(value: Any, name: str) -> np.ndarray | None:
        if value is None:
            return None
        m = _numeric(value, name)
        if m.shape != (N, M):
            raise ProblemError(f"{name} must have shape ({N}, {M}) (tasks x nodes), "
                               f"got shape {m.shape}")
        return m

    runtime = matrix(a["runtime"], "runtime")
    runtime = None if runtime is None else runtime.astype(np.float64)
    cost = matrix(a["cost"], "cost")

    edges = np.zeros((0, 2), np.int64) if a["edges"] is None else _numeric(a["edges"], "edges")
    if edges.shape == (0,):
        edges = np.zeros((0, 2), np.int64)
    if edges.ndim != 2 or edges.shape[1] != 2:
        raise ProblemError(f"edges must have shape (E, 2), got shape {edges.shape}")
    if edges.dtype != np.int64:
        if not np.all(np.isfinite(edges)) or np.any(edges != np.round(edges)):
            raise ProblemError("edges must hold integer task indices")
        if edges.size and (edges.min() < 0 or edges.max() >= N):
            e, c = (int(v) for v in np.argwhere((edges < 0) | (edges >= N))[0])
            raise ProblemError(f"dependency {e} refers to task index {edges[e, c]:g}, but there "
                               f"are {N} tasks")
        edges = edges.astype(np.int64)
    E = edges.shape[0]
    data = vector(a["data"], "data", E, 0.0, "edge").astype(np.float64)

    def where(arr: np.ndarray, bad: np.ndarray) -> tuple[int, ...]:
        return tuple(int(v) for v in np.argwhere(bad)[0])

    def check(arr: np.ndarray, name: str, *, allow_inf: bool = False, positive: bool = False,
              label: Any) -> None:
        if arr.dtype.kind == "f":
            bad = np.isnan(arr)
            if bad.any():
                raise ProblemError(f"{label(where(arr, bad))} is NaN")
            if not allow_inf:
                bad = np.isinf(arr)
                if bad.any():
                    raise ProblemError(f"{label(where(arr, bad))} is infinite")
        bad = arr <= 0 if positive else arr < 0
        if bad.any():
            idx = where(arr, bad)
            rule = "must be > 0" if positive else "is negative"
            raise ProblemError(f"{label(idx)} {rule} ({arr[idx].item()!r})")

    check(capacity, "capacity",
          label=lambda ix: f"capacity of node {node_names[ix[0]]!r} for {resources[ix[1]]!r}")
    if demand.ndim == 2:
        check(demand, "demand",
              label=lambda ix: f"demand of task {task_names[ix[0]]!r} for {resources[ix[1]]!r}")
    else:
        check(demand, "demand", label=lambda ix: (
            f"demand of task {task_names[ix[0]]!r} on node {node_names[ix[1]]!r} "
            f"for {resources[ix[2]]!r}"))
    check(speed, "speed", positive=True, label=lambda ix: f"speed of node {node_names[ix[0]]!r}")
    check(duration, "duration", label=lambda ix: f"duration of task {task_names[ix[0]]!r}")
    check(weight, "weight", positive=True, label=lambda ix: f"weight of task {task_names[ix[0]]!r}")
    check(release, "release", label=lambda ix: f"release of task {task_names[ix[0]]!r}")
    if runtime is not None:
        check(runtime, "runtime", allow_inf=True, label=lambda ix: (
            f"runtime of task {task_names[ix[0]]!r} on node {node_names[ix[1]]!r}"))
    if cost is not None:
        check(cost, "cost", label=lambda ix: (
            f"cost of task {task_names[ix[0]]!r} on node {node_names[ix[1]]!r}"))
    check(data, "data", label=lambda ix: f"data of dependency {ix[0]}")

    # integer data are summed exactly in int64: refuse magnitudes whose sums could overflow
    big = float(2**62)
    if capacity.dtype == np.int64:
        per_task = demand.max(axis=1) if demand.ndim == 3 else demand
        totals = per_task.astype(np.float64).sum(axis=0)
        for k in range(K):
            if totals[k] >= big or float(capacity[:, k].max(initial=0)) >= big:
                raise ProblemError(f"integer demand or capacity for {resources[k]!r} is too large"
                                   " to sum exactly in int64 (over 2**62); pass floats")
    if cost is not None and cost.dtype == np.int64 and float(cost.max()) * N >= big:
        raise ProblemError("integer costs are too large to sum exactly in int64 (over 2**62 in "
                           "total); pass floats")
    if runtime is None:  # runtime is duration / speed: it must stay finite
        with np.errstate(over="ignore"):
            worst = duration.max() / speed.min()
        if not np.isfinite(worst):
            i, j = int(duration.argmax()), int(speed.argmin())
            raise ProblemError(f"runtime of task {task_names[i]!r} on node {node_names[j]!r} "
                               "overflows (duration / speed is infinite)")

    bandwidth = a["bandwidth"]
    bandwidth = np.float64(math.inf) if bandwidth is None else _numeric(bandwidth, "bandwidth")
    bandwidth = bandwidth.astype(np.float64)
    if bandwidth.ndim == 0:
        check(bandwidth.reshape(1), "bandwidth", allow_inf=True, positive=True,
              label=lambda ix: "bandwidth")
        bandwidth = np.float64(bandwidth)
    else:
        if bandwidth.shape != (M, M):
            raise ProblemError(f"bandwidth must be a number or have shape ({M}, {M}), "
                               f"got shape {bandwidth.shape}")
        off = ~np.eye(M, dtype=bool)
        check(np.where(off, bandwidth, 1.0), "bandwidth", allow_inf=True, positive=True,
              label=lambda ix: f"bandwidth from node {node_names[ix[0]]!r} to "
                               f"{node_names[ix[1]]!r}")
        bandwidth = np.where(off, bandwidth, math.inf)

    # dependencies: indices in range, no self loops, no cycles
    if E:
        bad = (edges < 0) | (edges >= N)
        if bad.any():
            e, c = where(edges, bad)
            raise ProblemError(f"dependency {e} refers to task index {edges[e, c]}, but there "
                               f"are {N} tasks")
        _check_acyclic(edges, N, task_names)

    # labels
    raw_labels = [frozenset()] * M if a["node_labels"] is None else \
        _sequence(a["node_labels"], "node_labels")
    if len(raw_labels) != M:
        raise ProblemError(f"node_labels has {len(raw_labels)} entries but there are {M} nodes")
    node_labels = tuple(_labels(x, f"labels of node {node_names[j]!r}")
                        for j, x in enumerate(raw_labels))
    raw_requires = [()] * N if a["task_requires"] is None else \
        _sequence(a["task_requires"], "task_requires")
    if len(raw_requires) != N:
        raise ProblemError(f"task_requires has {len(raw_requires)} entries but there are "
                           f"{N} tasks")
    task_requires = tuple(_requirements(x, f"requires of task {task_names[i]!r}")
                          for i, x in enumerate(raw_requires))
    groups: dict[tuple[frozenset[str], ...], int] = {(): 0}
    task_group = np.zeros(N, np.int32)
    for i, req in enumerate(task_requires):
        key = tuple(sorted(req, key=sorted))
        task_group[i] = groups.setdefault(key, len(groups))
    group_ok = np.ones((len(groups), M), bool)
    for key, g in groups.items():
        for alternatives in key:
            group_ok[g] &= np.array([bool(alternatives & lab) for lab in node_labels])

    gpus, gpu_milli, may_wait = _devices_iv(a, M, N, node_names, task_names)
    objective = a["objective"]
    if objective is not None:
        mode_of(objective)
    sense = a["sense"]
    if sense not in ("min", "max"):
        raise ProblemError(f"sense must be 'min' or 'max', got {sense!r}")
    if sense == "max" and objective is not None and objective not in MAX_OBJECTIVES:
        raise ProblemError(f"objective {objective!r} can only be minimised (sense='max' applies "
                           f"to {', '.join(MAX_OBJECTIVES)})")
    if objective in ALWAYS_MAX:
        sense = "max"
    info = a["info"]
    if info is not None and not isinstance(info, Mapping):
        raise ProblemError(f"info must be a mapping (a JSON object), got {type(info).__name__}")
    try:  # kept in its JSON form (string keys, lists), so it round-trips exactly
        info = json.loads(json.dumps({} if info is None else dict(info), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"info must be JSON-serialisable ({exc})") from None

    for field, value in (
        ("capacity", capacity), ("demand", demand), ("speed", speed), ("duration", duration),
        ("runtime", runtime), ("cost", cost), ("weight", weight), ("release", release),
        ("edges", edges), ("data", data), ("gpus", gpus), ("gpu_milli", gpu_milli),
        ("may_wait", may_wait),
    ):
        object.__setattr__(p, field, None if value is None else _freeze(value))
    p.bandwidth = bandwidth if np.ndim(bandwidth) == 0 else _freeze(bandwidth)
    p.resources, p.node_names, p.task_names = resources, node_names, task_names
    p.node_labels, p.task_requires = node_labels, task_requires
    p.objective, p.sense, p.name, p.info = objective, sense, str(a["name"] or ""), info
    p._group_ok, p._task_group = _freeze(group_ok), _freeze(task_group)
    p._cache_allowed = None

    # every task must fit some node (labels, finite runtime, demand within an empty node)
    from gabalance._fit import first_unfit_task

    i = first_unfit_task(p)
    if i >= 0:
        least = demand[i].min(axis=0) if demand.ndim == 3 else demand[i]
        need = ", ".join(f"{res}={amount}" for res, amount in zip(resources, least.tolist()))
        labels = ""
        if task_requires[i]:
            labels = " and labels " + " & ".join("|".join(sorted(alt)) for alt in task_requires[i])
        if gpu_milli[i]:
            need += f", gpu_milli={int(gpu_milli[i])}"
        raise ProblemError(f"task {task_names[i]!r} fits no node (it needs {need}{labels})")


def _devices_iv(a: dict[str, Any], M: int, N: int, node_names: Sequence[str],
                task_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check ``gpus``, ``gpu_milli`` and ``may_wait`` (the GPU-device model)."""
    out = []
    for field, value, n, names, owner in (("gpus", a["gpus"], M, node_names, "node"),
                                          ("gpu_milli", a["gpu_milli"], N, task_names, "task")):
        v = np.zeros(n, np.int64) if value is None else _numeric(value, field)
        if v.shape != (n,):
            raise ProblemError(f"{field} must have shape ({n},) (one per {owner}), "
                               f"got shape {v.shape}")
        if v.dtype.kind == "f":
            bad = ~np.isfinite(v) | (v != np.round(v))
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ProblemError(f"{field} of {owner} {names[i]!r} must be an integer, "
                                   f"got {v[i]!r}")
            v = v.astype(np.int64)
        if (v < 0).any():
            i = int(np.flatnonzero(v < 0)[0])
            raise ProblemError(f"{field} of {owner} {names[i]!r} is negative ({int(v[i])})")
        out.append(v)
    gpus, gpu_milli = out
    if (gpus > MAX_DEVICES).any():
        j = int(np.flatnonzero(gpus > MAX_DEVICES)[0])
        raise ProblemError(f"gpus of node {node_names[j]!r} is {int(gpus[j])}; at most "
                           f"{MAX_DEVICES} devices per node are supported")
    bad = (gpu_milli > DEVICE_MILLI) & (gpu_milli % DEVICE_MILLI != 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ProblemError(f"gpu_milli of task {task_names[i]!r} is {int(gpu_milli[i])}: a "
                           f"request above {DEVICE_MILLI} must be a whole number of devices "
                           f"(a multiple of {DEVICE_MILLI})")
    wait = a["may_wait"]
    if isinstance(wait, (bool, np.bool_)) or wait is None:
        may_wait = np.full(N, bool(wait))
    else:
        may_wait = np.asarray(wait)
        if may_wait.shape != (N,) or may_wait.dtype.kind != "b":
            raise ProblemError(f"may_wait must be a bool or a bool array of shape ({N},), got "
                               f"dtype {may_wait.dtype} shape {may_wait.shape}")
    return gpus, gpu_milli, may_wait.astype(bool)


def _check_acyclic(edges: np.ndarray, n: int, names: Sequence[str]) -> None:
    """Raise naming the tasks on a cycle, if the dependency graph has one."""
    succ: list[list[int]] = [[] for _ in range(n)]
    for p, s in edges.tolist():
        succ[p].append(s)
    state = np.zeros(n, np.int8)  # 0 new, 1 on stack, 2 done
    parent = np.full(n, -1, np.int64)
    for root in range(n):
        if state[root]:
            continue
        stack = [(root, 0)]
        state[root] = 1
        while stack:
            v, k = stack[-1]
            if k < len(succ[v]):
                stack[-1] = (v, k + 1)
                w = succ[v][k]
                if state[w] == 0:
                    state[w], parent[w] = 1, v
                    stack.append((w, 0))
                elif state[w] == 1:
                    cycle = [w]
                    u = v
                    while u != w:
                        cycle.append(u)
                        u = int(parent[u])
                    cycle.reverse()
                    path = " -> ".join(names[t] for t in [w, *cycle[:-1], w]) if len(cycle) > 1 \
                        else f"{names[w]} -> {names[w]}"
                    raise ProblemError(f"dependency cycle: {path}")
            else:
                state[v] = 2
                stack.pop()

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

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


T = TypeVar("T")


class ProblemError(ValueError):
    """An input problem is malformed; the message names the offending task, node or field.

    Examples
    --------
    >>> import gabalance as gb
    >>> gb.Problem(capacity=[[4]], demand=[[-1]])
    Traceback (most recent call last):
    ...
    gabalance.problem.ProblemError: demand of task 't0' for 'r0' is negative (-1)
    """


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
    """Return ``"placement"`` or ``"schedule"`` for an objective name.

    Examples
    --------
    >>> import gabalance as gb
    >>> gb.mode_of("cost"), gb.mode_of("makespan")
    ('placement', 'schedule')
    """
    if objective in PLACEMENT_OBJECTIVES or objective in DEVICE_OBJECTIVES:
        return "placement"
    if objective in SCHEDULE_OBJECTIVES:
        return "schedule"
    raise ProblemError(f"unknown objective {objective!r} (choose from {', '.join(OBJECTIVES)})")


# --------------------------------------------------------------------------- plain-Python input


@dataclasses.dataclass(frozen=True)
class Node:
    """A node for :meth:`Problem.from_dicts` (a dict with the same keys works too).

    Examples
    --------
    >>> import gabalance as gb
    >>> nodes = [gb.Node("n1", {"cpu": 2}), gb.Node("n2", {"cpu": 4, "gpu": 1}, speed=2.0)]
    >>> tasks = [gb.Task("a", demand={"cpu": 1}), gb.Task("b", demand={"gpu": 1}, after=["a"])]
    >>> gb.Problem.from_dicts(nodes=nodes, tasks=tasks, objective="makespan")
    Problem(2 tasks, 2 nodes, resources=['cpu', 'gpu'], 1 dependencies, objective='makespan')
    """

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

    Examples
    --------
    >>> import gabalance as gb
    >>> gb.Task("train", demand={"cpu": 2, "gpu": 1}, runtime={"gpu-1": 30.0}, weight=3.0)
    ... # doctest: +ELLIPSIS
    Task(name='train', demand={'cpu': 2, 'gpu': 1}, demand_by_node=None, duration=1.0, ...)
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
    """``succ`` may start only after ``pred`` has finished and its ``data`` has arrived.

    Examples
    --------
    >>> import gabalance as gb
    >>> p = gb.Problem.from_dicts(
    ...     nodes=[gb.Node("n1", {"cpu": 2}), gb.Node("n2", {"cpu": 2})],
    ...     tasks=[gb.Task("a", demand={"cpu": 1}), gb.Task("b", demand={"cpu": 1})],
    ...     dependencies=[gb.Dependency("a", "b", data=4.0)], bandwidth=2.0,
    ...     objective="makespan")
    >>> p.edges.tolist(), p.data.tolist()    # 4 units at bandwidth 2: 2 time units
    ([[0, 1]], [4.0])
    """

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

    Examples
    --------
    Arrays: two nodes (resources cpu and gpu), two tasks, one dependency.

    >>> import gabalance as gb
    >>> p = gb.Problem(capacity=[[4, 0], [8, 2]], demand=[[2, 0], [2, 1]],
    ...                duration=[3, 8], speed=[1, 2], edges=[(0, 1)], objective="makespan")
    >>> p
    Problem(2 tasks, 2 nodes, resources=['r0', 'r1'], 1 dependencies, objective='makespan')
    >>> p.allowed                          # the second task needs the GPU node
    array([[ True,  True],
           [False,  True]])

    The same from named records (:meth:`from_dicts`; :meth:`from_json` reads files):

    >>> q = gb.Problem.from_dicts(
    ...     nodes=[{"name": "cpu-1", "capacity": {"cpu": 4}},
    ...            {"name": "gpu-1", "capacity": {"cpu": 8, "gpu": 2}, "speed": 2.0}],
    ...     tasks=[{"name": "prep", "demand": {"cpu": 2}, "duration": 3},
    ...            {"name": "train", "demand": {"cpu": 2, "gpu": 1}, "duration": 8,
    ...             "after": ["prep"]}],
    ...     objective="makespan")
    >>> q.resources, q.capacity.tolist()
    (('cpu', 'gpu'), [[4, 0], [8, 2]])
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
    _cache: dict[str, Any]  # see memo()

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
        self.__dict__.update(_problem_iv(locals()), _cache={})
        _check_fit(self)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Problem is immutable; use replace() to change {name!r}")

    def memo(self, key: str, build: Callable[[], T]) -> T:
        """A value derived from this problem: ``build()`` on the first call with ``key``, the
        same object afterwards.

        The values live beside the problem's fields but are not part of it: equality,
        pickles and JSON ignore them. :attr:`allowed`, the kernels' packed arrays
        (:func:`gabalance.backend.pack`) and the device record are kept this way.

        Examples
        --------
        >>> import gabalance as gb
        >>> p = gb.Problem(capacity=[[4]], demand=[[1], [2]])
        >>> p.memo("total", lambda: int(p.demand.sum()))
        3
        >>> p.memo("total", lambda: 0)          # built once
        3
        >>> p == gb.Problem(capacity=[[4]], demand=[[1], [2]])
        True
        """
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = build()
            return value

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_cache"]  # derived values: built again on use
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _cache={})

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
        return self.memo("allowed", self._build_allowed)

    def _build_allowed(self) -> np.ndarray:
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
        return _freeze(ok)

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

        ``resources`` defaults to the capacity keys of all nodes (in order of first
        appearance). Dependencies are dicts or ``(pred, succ[, data])`` tuples of task names;
        a task's ``after`` list adds dependencies with no data.
        """
        node_recs, task_recs, dependencies = _plain_records(nodes, tasks, dependencies)
        index = _PlainIndex.of(node_recs, task_recs, resources)
        node_columns = _node_columns(node_recs, index)
        task_columns = _task_columns(task_recs, index, node_columns["speed"])
        edges, data = _dependency_columns(task_recs, dependencies, index.tasks)
        if info is not None and not isinstance(info, Mapping):
            raise ProblemError(f"info must be a mapping (a JSON object), got {type(info).__name__}")
        return cls(
            **node_columns, **task_columns, resources=index.resources,
            edges=np.array(edges, dtype=np.int64).reshape(-1, 2), data=data,
            bandwidth=_bandwidth_in(bandwidth, index.nodes),
            task_names=list(index.tasks), node_names=list(index.nodes),
            objective=objective, sense=sense, name=name, info=info,
        )

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        """The versioned JSON-ready form (see docs/json-schema.md)."""
        deps = [{"pred": self.task_names[int(p)], "succ": self.task_names[int(s)],
                 **({"data": _json_number(d)} if d != 0 else {})}
                for (p, s), d in zip(self.edges, self.data)]
        out: dict[str, Any] = {"format": SCHEMA_FORMAT, "version": SCHEMA_VERSION}
        if self.name:
            out["name"] = self.name
        if self.objective is not None:
            out["objective"] = self.objective
        if self.sense != "min":
            out["sense"] = self.sense
        out["resources"] = list(self.resources)
        out["nodes"] = [_node_record(self, j) for j in range(self.n_nodes)]
        out["tasks"] = [_task_record(self, i) for i in range(self.n_tasks)]
        if deps:
            out["dependencies"] = deps
        if np.ndim(self.bandwidth) == 0:
            if np.isfinite(self.bandwidth):
                out["bandwidth"] = _json_number(self.bandwidth)
        else:
            out["bandwidth"] = [[_json_number(v) for v in row] for row in self.bandwidth]
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


# --------------------------------------------------------------------------- plain-Python records


def _plain_records(nodes: Any, tasks: Any, dependencies: Any) -> tuple[list[dict], list[dict],
                                                                         list]:
    """Node and task records as dicts with checked, unique names; the dependency list."""
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
    for recs, what in ((node_recs, "node"), (task_recs, "task")):
        for i, r in enumerate(recs):
            r["name"] = _name(r["name"], f"{what} {i}")
    for recs, what in ((node_recs, "node"), (task_recs, "task")):
        _check_unique([r["name"] for r in recs], what)
    return node_recs, task_recs, dependencies


@dataclasses.dataclass(frozen=True)
class _PlainIndex:
    """Positions of the resources, nodes and tasks of a plain-Python problem, by name."""

    resources: list[str]
    nodes: dict[str, int]
    tasks: dict[str, int]

    @classmethod
    def of(cls, node_recs: list[dict], task_recs: list[dict], resources: Any) -> _PlainIndex:
        """``resources`` default to the capacity keys of all nodes given as mappings, in
        order of appearance (the first node's capacity decides whether that is possible)."""
        if resources is None:
            first = node_recs[0]["capacity"] if node_recs else {}
            if isinstance(first, (list, tuple)):
                raise ProblemError("resources must be given when capacities are lists")
            if not isinstance(first, Mapping):
                raise ProblemError(f"capacity of node {node_recs[0]['name']!r} must be a "
                                   f"mapping resource -> amount, got {first!r}")
            seen: dict[str, None] = {}
            for rec in node_recs:  # lists and bad values: checked with the node
                if isinstance(rec["capacity"], Mapping):
                    seen.update(dict.fromkeys(str(r) for r in rec["capacity"]))
            resources = list(seen)
        resources = [str(r) for r in _sequence(resources, "resources")]
        _check_unique(resources, "resource")
        return cls(resources, {r["name"]: j for j, r in enumerate(node_recs)},
                   {r["name"]: i for i, r in enumerate(task_recs)})

    def amounts(self, value: Any, what: str) -> list[Any]:
        """One amount per resource, from a mapping resource -> amount or a list."""
        if isinstance(value, Mapping):
            unknown = [k for k in value if k not in self.resources]
            if unknown:
                raise ProblemError(
                    f"{what} names unknown resource {unknown[0]!r} "
                    f"(resources: {', '.join(self.resources)})"
                )
            return [_number(value.get(r, 0), f"{what} for {r!r}") for r in self.resources]
        vals = _sequence(value, f"{what} (a mapping resource -> amount, or a list)")
        if len(vals) != len(self.resources):
            raise ProblemError(f"{what} has {len(vals)} values, expected {len(self.resources)} "
                               f"({self.resources})")
        return [_number(v, what) for v in vals]

    def per_node(self, value: Any, what: str) -> list[Any]:
        """One value per node (None where missing), from a mapping node name -> value."""
        if not isinstance(value, Mapping):
            raise ProblemError(f"{what} must map node names to values")
        unknown = [k for k in value if k not in self.nodes]
        if unknown:
            raise ProblemError(f"{what} names unknown node {unknown[0]!r}")
        return [value.get(n) for n in self.nodes]


def _table(rows: list[Any], shape: tuple[int, ...]) -> Any:
    """Nested lists as they are (Problem converts them and keeps their integers exact), or an
    empty array of ``shape`` when there are no values."""
    return rows if math.prod(shape) else np.array(rows).reshape(shape)


def _node_columns(node_recs: list[dict], index: _PlainIndex) -> dict[str, Any]:
    """The per-node constructor arguments: capacity, speed, node_labels and gpus."""
    def what(field: str, r: dict) -> str:
        return f"{field} of node {r['name']!r}"

    capacity = [index.amounts(r["capacity"], what("capacity", r)) for r in node_recs]
    return dict(
        capacity=_table(capacity, (len(node_recs), len(index.resources))),
        speed=[_number(r.get("speed", 1.0), what("speed", r)) for r in node_recs],
        node_labels=[_labels(r.get("labels", ()), what("labels", r)) for r in node_recs],
        gpus=[_number(r.get("gpus", 0), what("gpus", r)) for r in node_recs],
    )


def _task_columns(task_recs: list[dict], index: _PlainIndex, speed: list[Any]
                  ) -> dict[str, Any]:
    """The per-task constructor arguments: demand, duration, runtime, cost, weight, release,
    task_requires, gpu_milli and may_wait."""
    def column(field: str, default: Any) -> list[Any]:
        return [_number(r.get(field, default), f"{field} of task {r['name']!r}")
                for r in task_recs]

    demand = _task_demand(task_recs, index)
    duration = column("duration", 1.0)
    runtime = _task_runtime(task_recs, index, duration, speed)
    cost = _task_cost(task_recs, index)
    weight, release = column("weight", 1.0), column("release", 0.0)
    requires = [_requirements(r.get("requires", ()), f"requires of task {r['name']!r}")
                for r in task_recs]
    gpu_milli = column("gpu_milli", 0)
    may_wait = []
    for r in task_recs:
        w = r.get("may_wait", False)
        if not isinstance(w, (bool, np.bool_)):
            raise ProblemError(f"may_wait of task {r['name']!r} must be true or false, "
                               f"got {w!r}")
        may_wait.append(bool(w))
    return dict(demand=demand, duration=duration, runtime=runtime, cost=cost, weight=weight,
                release=release, task_requires=requires, gpu_milli=gpu_milli,
                may_wait=may_wait)


def _task_demand(task_recs: list[dict], index: _PlainIndex) -> Any:
    """Demand (N, K), or (N, M, K) when the tasks give ``demand_by_node``."""
    by_node = [r.get("demand_by_node") is not None for r in task_recs]
    if any(by_node) and not all(by_node):
        i = by_node.index(not by_node[0])
        raise ProblemError(f"task {task_recs[i]['name']!r}: either every task gives "
                           "'demand_by_node' or none does")
    node_names = list(index.nodes)
    demand: list[Any] = []
    for r in task_recs:
        what = f"demand of task {r['name']!r}"
        if not any(by_node):
            d = r.get("demand")
            demand.append(index.amounts({} if d is None else d, what))
            continue
        if r.get("demand") is not None:
            raise ProblemError(f"task {r['name']!r} gives both 'demand' and 'demand_by_node'")
        rows = index.per_node(r["demand_by_node"], f"demand_by_node of task {r['name']!r}")
        missing = [node_names[j] for j, v in enumerate(rows) if v is None]
        if missing:
            raise ProblemError(f"demand_by_node of task {r['name']!r} lacks node "
                               f"{missing[0]!r}")
        demand.append([index.amounts(v, f"{what} on node {node_names[j]!r}")
                       for j, v in enumerate(rows)])
    N, M, K = len(task_recs), len(node_names), len(index.resources)
    return _table(demand, (N, M, K) if any(by_node) else (N, K))


def _task_runtime(task_recs: list[dict], index: _PlainIndex, duration: list[Any],
                  speed: list[Any]) -> list[list[Any]] | None:
    """Runtime (N, M) when some task gives one (the others get duration / speed), else None.
    A node missing from a task's runtime (or given None) cannot run it."""
    if all(r.get("runtime") is None for r in task_recs):
        return None
    node_names = list(index.nodes)
    runtime = []
    for i, r in enumerate(task_recs):
        if r.get("runtime") is None:
            runtime.append([_ratio(duration[i], s) for s in speed])
        else:
            what = f"runtime of task {r['name']!r}"
            runtime.append([_number(v, f"{what} on node {node_names[j]!r}", null_is_inf=True)
                            for j, v in enumerate(index.per_node(r["runtime"], what))])
    return runtime


def _ratio(duration: Any, speed: Any) -> float:
    """``duration / speed``; inf where that is no number (Problem reports a bad speed or an
    integer beyond int64)."""
    try:
        return float(duration) / float(speed) if float(speed) > 0 else math.inf
    except OverflowError:
        return math.inf


def _task_cost(task_recs: list[dict], index: _PlainIndex) -> list[list[Any]] | None:
    """Cost (N, M) when the tasks give one (then all must, for every node), else None."""
    if all(r.get("cost") is None for r in task_recs):
        return None
    missing = [r["name"] for r in task_recs if r.get("cost") is None]
    if missing:
        raise ProblemError(f"task {missing[0]!r} has no 'cost' while others do")
    node_names = list(index.nodes)
    cost = []
    for r in task_recs:
        what = f"cost of task {r['name']!r}"
        vals = index.per_node(r["cost"], what)
        miss = [node_names[j] for j, v in enumerate(vals) if v is None]
        if miss:
            raise ProblemError(f"{what} lacks node {miss[0]!r}")
        cost.append([_number(v, f"{what} on node {node_names[j]!r}")
                     for j, v in enumerate(vals)])
    return cost


def _dependency_columns(task_recs: list[dict], dependencies: list, task_index: dict[str, int]
                        ) -> tuple[list[tuple[int, int]], list[Any]]:
    """Edges (pred, succ) and their data: the tasks' ``after`` lists, then ``dependencies``."""
    def task_ref(t: Any, what: str) -> int:
        key = t if isinstance(t, str) else str(t)
        if key not in task_index:
            raise ProblemError(f"{what} names unknown task {t!r}")
        return task_index[key]

    edges: list[tuple[int, int]] = []
    data: list[Any] = []
    for r in task_recs:
        after = r.get("after") or ()
        what = f"'after' of task {r['name']!r}"
        for p in [after] if isinstance(after, str) else _sequence(after, what):
            edges.append((task_ref(p, what), task_index[r["name"]]))
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
    return edges, data


# --------------------------------------------------------------------------- JSON records


def _json_number(v: Any) -> Any:
    """A JSON number: numpy scalars as Python ones, ``inf`` as null."""
    v = v.item() if isinstance(v, np.generic) else v
    return None if isinstance(v, float) and math.isinf(v) else v


def _json_amounts(p: Problem, row: np.ndarray) -> dict[str, Any]:
    """A (K,) row as a mapping resource -> amount."""
    return {r: _json_number(row[k]) for k, r in enumerate(p.resources)}


def _node_record(p: Problem, j: int) -> dict[str, Any]:
    """Node ``j``; fields at their default are left out."""
    rec: dict[str, Any] = {"name": p.node_names[j], "capacity": _json_amounts(p, p.capacity[j])}
    if p.speed[j] != 1:
        rec["speed"] = _json_number(p.speed[j])
    if p.node_labels[j]:
        rec["labels"] = sorted(p.node_labels[j])
    if p.gpus[j]:
        rec["gpus"] = int(p.gpus[j])
    return rec


def _task_record(p: Problem, i: int) -> dict[str, Any]:
    """Task ``i``; fields at their default are left out (``runtime`` lists finite values)."""
    rec: dict[str, Any] = {"name": p.task_names[i]}
    if p.per_node_demand:
        rec["demand_by_node"] = {n: _json_amounts(p, p.demand[i, j])
                                 for j, n in enumerate(p.node_names)}
    else:
        rec["demand"] = _json_amounts(p, p.demand[i])
    if p.duration[i] != 1:
        rec["duration"] = _json_number(p.duration[i])
    if p.runtime is not None:
        rec["runtime"] = {n: _json_number(p.runtime[i, j]) for j, n in enumerate(p.node_names)
                          if np.isfinite(p.runtime[i, j])}
    if p.cost is not None:
        rec["cost"] = {n: _json_number(p.cost[i, j]) for j, n in enumerate(p.node_names)}
    if p.weight[i] != 1:
        rec["weight"] = _json_number(p.weight[i])
    if p.release[i] != 0:
        rec["release"] = _json_number(p.release[i])
    if p.task_requires[i]:
        rec["requires"] = [sorted(g)[0] if len(g) == 1 else sorted(g) for g in p.task_requires[i]]
    if p.gpu_milli[i]:
        rec["gpu_milli"] = int(p.gpu_milli[i])
    if p.may_wait[i]:
        rec["may_wait"] = True
    return rec


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
        # nested lists: Problem converts them and keeps their integers exact
        return [[_number(v, f"bandwidth[{a}][{b}]", null_is_inf=True)
                 for b, v in enumerate(row)] for a, row in enumerate(rows)]
    return _number(value, "bandwidth", null_is_inf=True)


# --------------------------------------------------------------------------- validation

#: a float this large (or larger) may stand for an integer that int64 cannot hold
_WIDE = 2.0**63
_INT64 = np.iinfo(np.int64)
_FLOAT_MAX = float(np.finfo(np.float64).max)
#: integer sums (loads, costs) must stay below this to be exact in int64
_SUM_LIMIT = float(2**62)

#: names entry ``ix`` of an array in an error message: "capacity of node 'n0' for 'cpu'"
_Label = Callable[[tuple[int, ...]], str]


def _numeric(value: Any, name: str, *, integer_ok: bool = True) -> np.ndarray:
    """``value`` as an int64 or float64 array. Integers int64 cannot hold come back as floats
    (numpy's own conversion); the field's checks refuse them by name (:func:`_refuse_wide_ints`)."""
    try:
        a = np.asarray(value)
    except Exception as exc:  # ragged lists etc.
        raise ProblemError(f"{name} is not a rectangular numeric array ({exc})") from None
    if a.dtype == object:
        a = _object_floats(a, name)
    if a.dtype.kind == "b" or a.dtype.kind not in "iuf":
        raise ProblemError(f"{name} must be numeric, got dtype {a.dtype}")
    wide = a.dtype.kind == "u" and a.size and a.max() > _INT64.max
    if a.dtype.kind in "iu" and integer_ok and not wide:
        return a.astype(np.int64)
    return a.astype(np.float64)


def _object_floats(a: np.ndarray, name: str) -> np.ndarray:
    """An object array (Python numbers numpy could not type) as float64."""
    try:
        try:
            return a.astype(np.float64)
        except OverflowError:  # integers beyond even float64: clipped here, refused by name
            return np.clip(a, -_FLOAT_MAX, _FLOAT_MAX).astype(np.float64)
    except (TypeError, ValueError):
        raise ProblemError(f"{name} must be numeric") from None


def _refuse_wide_ints(raw: Any, arr: np.ndarray, label: _Label, advice: str = "; pass floats"
                      ) -> None:
    """Refuse an integer of ``raw`` (an input as given) that int64 cannot hold.

    numpy turns such integers into floats and so loses their exact value; only a float ``arr``
    (``raw`` converted, same size) with a finite entry of magnitude 2**63 or more can hide one,
    so ``raw`` is looked at only then, and only at those entries.
    """
    if raw is None or arr.dtype.kind != "f" or (
            isinstance(raw, np.ndarray) and raw.dtype.kind in "bifc"):
        return
    suspects = np.argwhere(np.isfinite(arr) & (np.abs(arr) >= _WIDE))
    if not len(suspects):
        return
    exact = np.asarray(raw, dtype=object).reshape(arr.shape)
    for ix in map(tuple, suspects.tolist()):
        v = exact[ix]
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            continue
        v = int(v)
        shown = str(v) if abs(v) < 2**100 else f"a {abs(v).bit_length()}-bit integer"
        if v > _INT64.max:
            raise ProblemError(f"integer {label(ix)} is too large for int64 ({shown}, over "
                               f"2**63 - 1){advice}")
        if v < _INT64.min:
            raise ProblemError(f"integer {label(ix)} is too small for int64 ({shown}, under "
                               f"-2**63){advice}")


def _check_values(arr: np.ndarray, label: _Label, *, raw: Any = None, allow_inf: bool = False,
                  positive: bool = False) -> None:
    """Refuse, naming the first such entry: integers of ``raw`` beyond int64, NaN, infinite
    values (unless ``allow_inf``) and negative ones (with ``positive``: also zero)."""
    _refuse_wide_ints(raw, arr, label)
    if arr.dtype.kind == "f":
        bad = np.isnan(arr)
        if bad.any():
            raise ProblemError(f"{label(_first(bad))} is NaN")
        if not allow_inf:
            bad = np.isinf(arr)
            if bad.any():
                raise ProblemError(f"{label(_first(bad))} is infinite")
    bad = arr <= 0 if positive else arr < 0
    if bad.any():
        ix = _first(bad)
        rule = "must be > 0" if positive else "is negative"
        raise ProblemError(f"{label(ix)} {rule} ({arr[ix].item()!r})")


def _first(bad: np.ndarray) -> tuple[int, ...]:
    """Index of the first True entry."""
    return tuple(int(v) for v in np.argwhere(bad)[0])


def _each(what: str, owner: str, names: Sequence[str]) -> _Label:
    """Label of the entries of a per-node or per-task field: "speed of node 'n0'"."""
    return lambda ix: f"{what} of {owner} {names[ix[0]]!r}"


class _Names(NamedTuple):
    """The validated names of a problem's resources, nodes and tasks."""

    resources: tuple[str, ...]
    nodes: tuple[str, ...]
    tasks: tuple[str, ...]

    def on_node(self, what: str) -> _Label:
        """Label of a (tasks x nodes) field: "runtime of task 'a' on node 'n0'"."""
        return lambda ix: f"{what} of task {self.tasks[ix[0]]!r} on node {self.nodes[ix[1]]!r}"


def _problem_iv(a: dict[str, Any]) -> dict[str, Any]:
    """The one validation function: checks and normalises the constructor arguments ``a`` into
    the attributes of a Problem (one checker per group of fields, in this order)."""
    capacity, demand = _capacity_demand(a)
    nm = _names(a, capacity.shape, demand.shape[0])
    _check_capacity_demand(a, capacity, demand, nm)
    speed, duration, runtime = _speed_duration_runtime(a, nm)
    cost, weight, release = _cost_weight_release(a, nm)
    edges, data, bandwidth = _edges_data_bandwidth(a, nm)
    node_labels, task_requires, group_ok, task_group = _labels_requires(a, nm)
    gpus, gpu_milli, may_wait = _devices_iv(a, nm.nodes, nm.tasks)
    objective, sense = _objective_sense(a["objective"], a["sense"])
    arrays = dict(capacity=capacity, demand=demand, speed=speed, duration=duration,
                  runtime=runtime, cost=cost, weight=weight, release=release, edges=edges,
                  data=data, gpus=gpus, gpu_milli=gpu_milli, may_wait=may_wait)
    return {
        **{f: None if v is None else _freeze(v) for f, v in arrays.items()},
        "bandwidth": bandwidth if np.ndim(bandwidth) == 0 else _freeze(bandwidth),
        "resources": nm.resources, "node_names": nm.nodes, "task_names": nm.tasks,
        "node_labels": node_labels, "task_requires": task_requires,
        "objective": objective, "sense": sense, "name": str(a["name"] or ""),
        "info": _info(a["info"]),
        "_group_ok": _freeze(group_ok), "_task_group": _freeze(task_group),
    }


def _capacity_demand(a: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``capacity`` (M, K) and ``demand`` (N, K) or (N, M, K), in one dtype; shapes only."""
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
    return capacity, demand


def _names(a: dict[str, Any], capacity_shape: tuple[int, ...], N: int) -> _Names:
    """``resources``, ``node_names`` and ``task_names``: given or ``r0, n0, t0 ...``; unique."""
    M, K = capacity_shape

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
    return _Names(resources, node_names, task_names)


def _check_capacity_demand(a: dict[str, Any], capacity: np.ndarray, demand: np.ndarray,
                           nm: _Names) -> None:
    """Values: finite, ``>= 0``, and integer sums that stay exact in int64."""
    _check_values(capacity, raw=a["capacity"], label=lambda ix: (
        f"capacity of node {nm.nodes[ix[0]]!r} for {nm.resources[ix[1]]!r}"))
    if demand.ndim == 2:
        _check_values(demand, raw=a["demand"], label=lambda ix: (
            f"demand of task {nm.tasks[ix[0]]!r} for {nm.resources[ix[1]]!r}"))
    else:
        _check_values(demand, raw=a["demand"], label=lambda ix: (
            f"demand of task {nm.tasks[ix[0]]!r} on node {nm.nodes[ix[1]]!r} "
            f"for {nm.resources[ix[2]]!r}"))
    # integer data are summed exactly in int64: refuse magnitudes whose sums could overflow
    if capacity.dtype == np.int64:
        per_task = demand.max(axis=1) if demand.ndim == 3 else demand
        totals = per_task.astype(np.float64).sum(axis=0)
        for k, res in enumerate(nm.resources):
            if totals[k] >= _SUM_LIMIT or float(capacity[:, k].max(initial=0)) >= _SUM_LIMIT:
                raise ProblemError(f"integer demand or capacity for {res!r} is too large"
                                   " to sum exactly in int64 (over 2**62); pass floats")


def _vector(value: Any, name: str, length: int, default: float, owner: str) -> np.ndarray:
    """A per-node or per-task field of shape (length,), ``default`` where not given."""
    v = np.full(length, default) if value is None else _numeric(value, name)
    if v.shape != (length,):
        raise ProblemError(f"{name} must have shape ({length},) (one per {owner}), "
                           f"got shape {v.shape}")
    return v


def _matrix(value: Any, name: str, nm: _Names) -> np.ndarray | None:
    """A (tasks x nodes) field, or None when not given."""
    if value is None:
        return None
    m = _numeric(value, name)
    if m.shape != (len(nm.tasks), len(nm.nodes)):
        raise ProblemError(f"{name} must have shape ({len(nm.tasks)}, {len(nm.nodes)}) "
                           f"(tasks x nodes), got shape {m.shape}")
    return m


def _speed_duration_runtime(a: dict[str, Any], nm: _Names
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """``speed`` (M,) > 0, ``duration`` (N,) >= 0 and ``runtime`` (N, M) >= 0 or None; without
    a runtime, duration / speed must stay finite."""
    speed = _vector(a["speed"], "speed", len(nm.nodes), 1.0, "node").astype(np.float64)
    duration = _vector(a["duration"], "duration", len(nm.tasks), 1.0, "task").astype(np.float64)
    runtime = _matrix(a["runtime"], "runtime", nm)
    runtime = None if runtime is None else runtime.astype(np.float64)
    _check_values(speed, _each("speed", "node", nm.nodes), raw=a["speed"], positive=True)
    _check_values(duration, _each("duration", "task", nm.tasks), raw=a["duration"])
    if runtime is not None:
        _check_values(runtime, nm.on_node("runtime"), raw=a["runtime"], allow_inf=True)
    else:  # runtime is duration / speed: it must stay finite
        with np.errstate(over="ignore"):
            worst = duration.max() / speed.min()
        if not np.isfinite(worst):
            i, j = int(duration.argmax()), int(speed.argmin())
            raise ProblemError(f"runtime of task {nm.tasks[i]!r} on node {nm.nodes[j]!r} "
                               "overflows (duration / speed is infinite)")
    return speed, duration, runtime


def _cost_weight_release(a: dict[str, Any], nm: _Names
                         ) -> tuple[np.ndarray | None, np.ndarray, np.ndarray]:
    """``cost`` (N, M) >= 0 or None (integer costs must sum exactly), ``weight`` (N,) > 0 and
    ``release`` (N,) >= 0."""
    N = len(nm.tasks)
    weight = _vector(a["weight"], "weight", N, 1.0, "task").astype(np.float64)
    release = _vector(a["release"], "release", N, 0.0, "task").astype(np.float64)
    cost = _matrix(a["cost"], "cost", nm)
    _check_values(weight, _each("weight", "task", nm.tasks), raw=a["weight"], positive=True)
    _check_values(release, _each("release", "task", nm.tasks), raw=a["release"])
    if cost is not None:
        _check_values(cost, nm.on_node("cost"), raw=a["cost"])
        if cost.dtype == np.int64 and float(cost.max()) * N >= _SUM_LIMIT:
            raise ProblemError("integer costs are too large to sum exactly in int64 (over 2**62 "
                               "in total); pass floats")
    return cost, weight, release


def _edges_data_bandwidth(a: dict[str, Any], nm: _Names
                          ) -> tuple[np.ndarray, np.ndarray, Any]:
    """``edges`` (E, 2) of task indices forming a DAG, ``data`` (E,) >= 0 and ``bandwidth``."""
    N = len(nm.tasks)
    edges = _edges(a["edges"], N)
    data = _vector(a["data"], "data", edges.shape[0], 0.0, "edge").astype(np.float64)
    _check_values(data, lambda ix: f"data of dependency {ix[0]}", raw=a["data"])
    bandwidth = _bandwidth(a["bandwidth"], nm.nodes)
    if edges.shape[0]:  # indices in range, no self loops, no cycles
        bad = (edges < 0) | (edges >= N)
        if bad.any():
            e, c = _first(bad)
            raise ProblemError(f"dependency {e} refers to task index {edges[e, c]}, but there "
                               f"are {N} tasks")
        _check_acyclic(edges, N, nm.tasks)
    return edges, data, bandwidth


def _edges(value: Any, N: int) -> np.ndarray:
    """``edges`` as an int64 (E, 2) array; float input must hold whole indices in range."""
    edges = np.zeros((0, 2), np.int64) if value is None else _numeric(value, "edges")
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
    return edges


def _bandwidth(value: Any, node_names: Sequence[str]) -> Any:
    """``bandwidth`` as a float64 scalar > 0, or an (M, M) array > 0 with ``inf`` on the
    diagonal (no transfer within a node)."""
    M = len(node_names)
    bandwidth = np.float64(math.inf) if value is None else _numeric(value, "bandwidth")
    bandwidth = bandwidth.astype(np.float64)
    if bandwidth.ndim == 0:
        _check_values(bandwidth.reshape(1), lambda ix: "bandwidth", raw=value, allow_inf=True,
                      positive=True)
        return np.float64(bandwidth)
    if bandwidth.shape != (M, M):
        raise ProblemError(f"bandwidth must be a number or have shape ({M}, {M}), "
                           f"got shape {bandwidth.shape}")
    off = ~np.eye(M, dtype=bool)
    _check_values(np.where(off, bandwidth, 1.0), raw=value, allow_inf=True, positive=True,
                  label=lambda ix: f"bandwidth from node {node_names[ix[0]]!r} to "
                                   f"{node_names[ix[1]]!r}")
    return np.where(off, bandwidth, math.inf)


def _labels_requires(a: dict[str, Any], nm: _Names) -> tuple[
        tuple[frozenset[str], ...], tuple[tuple[frozenset[str], ...], ...], np.ndarray,
        np.ndarray]:
    """``node_labels`` and ``task_requires``, and the compact eligibility they give:
    ``group_ok`` (G, M) per requirement set and ``task_group`` (N,) (see Problem.label_ok)."""
    M, N = len(nm.nodes), len(nm.tasks)
    raw_labels = [frozenset()] * M if a["node_labels"] is None else \
        _sequence(a["node_labels"], "node_labels")
    if len(raw_labels) != M:
        raise ProblemError(f"node_labels has {len(raw_labels)} entries but there are {M} nodes")
    node_labels = tuple(_labels(x, f"labels of node {nm.nodes[j]!r}")
                        for j, x in enumerate(raw_labels))
    raw_requires = [()] * N if a["task_requires"] is None else \
        _sequence(a["task_requires"], "task_requires")
    if len(raw_requires) != N:
        raise ProblemError(f"task_requires has {len(raw_requires)} entries but there are "
                           f"{N} tasks")
    task_requires = tuple(_requirements(x, f"requires of task {nm.tasks[i]!r}")
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
    return node_labels, task_requires, group_ok, task_group


def _objective_sense(objective: Any, sense: Any) -> tuple[str | None, str]:
    """The default objective (or None) and the sense (``gpu_allocation`` is always "max")."""
    if objective is not None:
        mode_of(objective)
    if sense not in ("min", "max"):
        raise ProblemError(f"sense must be 'min' or 'max', got {sense!r}")
    if sense == "max" and objective is not None and objective not in MAX_OBJECTIVES:
        raise ProblemError(f"objective {objective!r} can only be minimised (sense='max' applies "
                           f"to {', '.join(MAX_OBJECTIVES)})")
    if objective in ALWAYS_MAX:
        sense = "max"
    return objective, sense


def _info(info: Any) -> dict[str, Any]:
    """``info`` in its JSON form (string keys, lists), so it round-trips exactly."""
    if info is not None and not isinstance(info, Mapping):
        raise ProblemError(f"info must be a mapping (a JSON object), got {type(info).__name__}")
    try:
        return json.loads(json.dumps({} if info is None else dict(info), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ProblemError(f"info must be JSON-serialisable ({exc})") from None


def _check_fit(p: Problem) -> None:
    """Every task must fit some node (labels, finite runtime, demand within an empty node)."""
    from gabalance._fit import first_unfit_task

    i = first_unfit_task(p)
    if i < 0:
        return
    least = p.demand[i].min(axis=0) if p.per_node_demand else p.demand[i]
    need = ", ".join(f"{res}={amount}" for res, amount in zip(p.resources, least.tolist()))
    labels = ""
    if p.task_requires[i]:
        labels = " and labels " + " & ".join("|".join(sorted(alt)) for alt in p.task_requires[i])
    if p.gpu_milli[i]:
        need += f", gpu_milli={int(p.gpu_milli[i])}"
    raise ProblemError(f"task {p.task_names[i]!r} fits no node (it needs {need}{labels})")


def _devices_iv(a: dict[str, Any], node_names: Sequence[str], task_names: Sequence[str]
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check ``gpus``, ``gpu_milli`` and ``may_wait`` (the GPU-device model)."""
    M, N = len(node_names), len(task_names)
    out = []
    for field, value, n, names, owner in (("gpus", a["gpus"], M, node_names, "node"),
                                          ("gpu_milli", a["gpu_milli"], N, task_names, "task")):
        v = np.zeros(n, np.int64) if value is None else _numeric(value, field)
        if v.shape != (n,):
            raise ProblemError(f"{field} must have shape ({n},) (one per {owner}), "
                               f"got shape {v.shape}")
        _refuse_wide_ints(value, v, _each(field, owner, names), advice="")
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

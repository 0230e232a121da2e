"""Run the online :class:`~gabalance.online.Balancer`'s decisions on a Ray cluster.

:class:`RayExecutor` reads the alive nodes of a running Ray cluster (``ray.nodes()``), builds
a :class:`~gabalance.online.Balancer` over them, takes Python functions as tasks
(:meth:`RayExecutor.submit`) and runs them (:meth:`RayExecutor.run`): it calls
``Balancer.dispatch``, launches each dispatched ``(task, node)`` pinned to that Ray node
(``NodeAffinitySchedulingStrategy(soft=False)``) with the task's demand as Ray resources,
reports completions back with their measured runtime, and turns a lost node into
``Balancer.remove_node`` so the lost tasks are re-planned and run elsewhere.

Ray is optional (``pip install gabalance[ray]``): it is imported only when an executor is
created, never by ``import gabalance``.

Node rule (see ``docs/online.md``):

* **name** — a node offering a custom resource ``gb_node_<name>`` is called ``<name>``
  (``ray start --resources='{"gb_node_gpu-3": 1}'`` names it ``gpu-3``, of node type ``gpu``);
  any other node is called by the first 12 hex digits of its Ray NodeID;
* **capacity** — ``cpu`` (Ray ``CPU``), ``gpu`` (``GPU``), ``mem_gb`` (Ray ``memory`` in
  GiB) and every other custom resource under its Ray name, except ``object_store_memory``,
  the Ray-internal ``node:...`` markers and the ``gb_node_`` marker;
* **labels** (for ``requires``) — the names of the node's custom resources (the
  ``gb_node_`` marker included) and ``key=value`` for each Ray node label whose key does not
  start with ``ray.io/``; a label ``type=<t>`` sets the node type.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gabalance.online.balancer import Balancer, BalancerError
from gabalance.problem import Node, Task

__all__ = [
    "NODE_PREFIX",
    "Attempt",
    "RayExecutor",
    "RayExecutorError",
    "RayRunResult",
    "ResultOf",
    "TaskFailedError",
    "TaskRecord",
    "node_from_ray",
]

#: a custom resource ``gb_node_<name>`` on a Ray node names that node ``<name>``
NODE_PREFIX = "gb_node_"
_GIB = float(2**30)
_STANDARD = {"CPU": "cpu", "GPU": "gpu", "memory": "mem_gb"}
_TO_RAY = {"cpu": "num_cpus", "gpu": "num_gpus", "mem_gb": "memory"}
_IGNORED = ("object_store_memory",)


class RayExecutorError(RuntimeError):
    """Ray is missing, the cluster cannot run the work, or a run timed out; the message
    names the task or node."""


class TaskFailedError(RayExecutorError):
    """A task raised (or its worker crashed) more often than the executor retries.

    Attributes
    ----------
    task : str
        The task's name.
    attempts : int
        How many times it was launched.
    """

    def __init__(self, message: str, task: str, attempts: int) -> None:
        super().__init__(message)
        self.task = task
        self.attempts = attempts


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayExecutorError("the Ray executor needs Ray: pip install gabalance[ray] "
                               f"({exc})") from exc
    return ray


@dataclasses.dataclass(frozen=True)
class ResultOf:
    """Placeholder argument: the result of task ``name``.

    ``executor.submit(train, ResultOf("prep"), name="train")`` calls ``train`` with the value
    ``prep`` returned; ``prep`` becomes a dependency of ``train``. Only top-level positional
    and keyword arguments are replaced.
    """

    name: str


@dataclasses.dataclass
class Attempt:
    """One launch of a task.

    Attributes
    ----------
    node : str
        The node it was dispatched to.
    dispatched : float
        Executor clock (seconds since the executor was created) at launch.
    start, finish : float or None
        Executor clock when the function started and returned, measured inside the task
        (None when it did not complete).
    status : {"running", "done", "failed", "lost"}
        ``lost``: its node died or left; ``failed``: the function raised or its worker died.
    error : str or None
        Why it failed or was lost.
    ray_node_id : str or None
        The Ray NodeID it reported running on (None when it did not complete).
    """

    node: str
    dispatched: float
    start: float | None = None
    finish: float | None = None
    status: str = "running"
    error: str | None = None
    ray_node_id: str | None = None


@dataclasses.dataclass
class TaskRecord:
    """What happened to one task.

    Attributes
    ----------
    name, kind : str
        The task and its learning kind.
    status : {"queued", "running", "done", "failed"}
        ``failed``: it exhausted its retries (``run`` raised :class:`TaskFailedError`).
    attempts : list of Attempt
        Every launch, in order.
    node : str or None
        The node it completed on.
    start, finish : float or None
        Executor clock of its successful attempt.
    result : object
        The function's return value (None until done).
    """

    name: str
    kind: str
    status: str = "queued"
    attempts: list[Attempt] = dataclasses.field(default_factory=list)
    node: str | None = None
    start: float | None = None
    finish: float | None = None
    result: Any = None

    @property
    def n_attempts(self) -> int:
        """Number of launches."""
        return len(self.attempts)


@dataclasses.dataclass
class RayRunResult:
    """What :meth:`RayExecutor.run` returns.

    Attributes
    ----------
    tasks : dict of str to TaskRecord
        Every task submitted to the executor, in submission order.
    wall : float
        Seconds the run took.
    nodes_lost : list of (float, str, str)
        ``(time, node, reason)`` for every node removed from the balancer (so far).
    nodes_added : list of (float, str)
        ``(time, node)`` for every node that joined after the executor started.
    replans : int
        Re-plans the balancer has run (so far).
    """

    tasks: dict[str, TaskRecord]
    wall: float
    nodes_lost: list[tuple[float, str, str]]
    nodes_added: list[tuple[float, str]]
    replans: int

    @property
    def results(self) -> dict[str, Any]:
        """Task -> return value of the completed tasks."""
        return {t: r.result for t, r in self.tasks.items() if r.status == "done"}

    @property
    def assignment(self) -> dict[str, str | None]:
        """Task -> the node it completed on (None if it did not)."""
        return {t: r.node for t, r in self.tasks.items()}


@dataclasses.dataclass
class _Spec:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    options: dict[str, Any]


def _custom_resources(resources: Mapping[str, float]) -> list[str]:
    return sorted(str(r) for r in resources
                  if r not in _STANDARD and r not in _IGNORED and not str(r).startswith("node:"))


def node_from_ray(info: Mapping[str, Any], *, speed: float = 1.0) -> Node:
    """The :class:`gabalance.Node` of one entry of ``ray.nodes()`` (module docstring's rule).

    Parameters
    ----------
    info : mapping
        An entry of ``ray.nodes()`` (keys ``NodeID``, ``Resources``, optionally ``Labels``).
    speed : float, default 1.0
        The node's relative speed.

    Returns
    -------
    gabalance.Node

    Raises
    ------
    RayExecutorError
        If the node declares more than one ``gb_node_`` name.
    """
    node_id = str(info.get("NodeID", ""))
    resources: Mapping[str, float] = info.get("Resources") or {}
    markers = sorted(r for r in resources
                     if str(r).startswith(NODE_PREFIX) and len(r) > len(NODE_PREFIX))
    if len(markers) > 1:
        raise RayExecutorError(f"Ray node {node_id[:12]} declares several node names "
                               f"({', '.join(markers)}); give it one {NODE_PREFIX}<name> "
                               "resource")
    name = markers[0][len(NODE_PREFIX):] if markers else node_id[:12]
    if not name:
        raise RayExecutorError(f"a Ray node has neither a {NODE_PREFIX}<name> resource nor a "
                               f"NodeID: {dict(info)!r}")
    capacity: dict[str, float] = {}
    for ray_name, ours in _STANDARD.items():
        if ray_name in resources:
            value = float(resources[ray_name])
            capacity[ours] = value / _GIB if ours == "mem_gb" else value
    capacity.setdefault("cpu", 0.0)
    labels = _custom_resources(resources)
    for r in labels:
        if not r.startswith(NODE_PREFIX):
            capacity[r] = float(resources[r])
    for key, value in sorted((info.get("Labels") or {}).items()):
        if not str(key).startswith("ray.io/"):
            labels.append(f"{key}={value}")
    return Node(name, capacity, speed=speed, labels=tuple(labels))


def _check_ray_amount(task: str, resource: str, value: float) -> None:
    if resource == "mem_gb":
        return
    if value > 1 and abs(value - round(value)) > 1e-9:
        raise BalancerError(f"task {task!r}: Ray needs whole amounts above 1, got "
                            f"{resource}={value:g}")


def _invoke(fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]
            ) -> tuple[Any, str, float, float]:
    """Runs on the Ray worker: the result, the worker's NodeID, wall start and finish."""
    import ray

    node = ray.get_runtime_context().get_node_id()
    start = time.time()
    value = fn(*args, **kwargs)
    return value, node, start, time.time()


_REMOTE: dict[str, Any] = {}


def _remote_invoke(ray: Any) -> Any:
    remote = _REMOTE.get("invoke")
    if remote is None:
        remote = _REMOTE["invoke"] = ray.remote(max_retries=0, retry_exceptions=False)(_invoke)
    return remote


def _error_classes(ray: Any, *names: str) -> tuple[type[BaseException], ...]:
    return tuple(c for c in (getattr(ray.exceptions, n, None) for n in names)
                 if isinstance(c, type))


class RayExecutor:
    """Run functions as tasks on a Ray cluster, placed and ordered by a :class:`Balancer`.

    Parameters
    ----------
    address : str, optional
        Passed to ``ray.init`` when Ray is not initialised yet (``"auto"``: the running
        local cluster; None: Ray's default, which starts a local instance when none runs).
        When the executor initialised Ray, :meth:`close` shuts it down.
    speeds : mapping of str to float, optional
        Node name (or node type) -> relative speed (default 1).
    track_nodes : bool, default True
        Add Ray nodes that join while running to the balancer.
    poll : float, default 0.05
        Seconds per ``ray.wait``.
    node_check : float, default 1.0
        Seconds between two looks at ``ray.nodes()`` for nodes that left or joined.
    node_wait : float, default 30.0
        Seconds ``run`` waits, with nothing running, for a node that fits the queued tasks
        before it raises.
    max_retries : int, default 3
        Re-runs of a task whose worker crashed while its node lived (tasks of a lost node
        are always re-run and do not count).
    retry_exceptions : int, default 0
        Re-runs of a task whose function raised.
    init_kwargs : mapping, optional
        More ``ray.init`` arguments, when the executor initialises Ray.
    **balancer_options
        Passed to :class:`Balancer` (``objective``, ``time_budget``, ``method``, ``seed``…).

    Attributes
    ----------
    balancer : Balancer
        The balancer deciding placement and order (its clock is :meth:`now`).
    node_ids : dict of str to str
        Node name -> Ray NodeID of the nodes up in the balancer.
    records : dict of str to TaskRecord
        Every submitted task's record.

    Raises
    ------
    RayExecutorError
        Ray is not installed (``pip install gabalance[ray]``), or no Ray node is alive.
    """

    def __init__(self, *, address: str | None = None, speeds: Mapping[str, float] | None = None,
                 track_nodes: bool = True, poll: float = 0.05, node_check: float = 1.0,
                 node_wait: float = 30.0, max_retries: int = 3, retry_exceptions: int = 0,
                 init_kwargs: Mapping[str, Any] | None = None, **balancer_options: Any) -> None:
        ray = _import_ray()
        for what, v in (("poll", poll), ("node_check", node_check), ("node_wait", node_wait)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v <= 0:
                raise RayExecutorError(f"{what} must be a positive number of seconds, got {v!r}")
        for what, n in (("max_retries", max_retries), ("retry_exceptions", retry_exceptions)):
            if isinstance(n, bool) or not isinstance(n, int) or n < 0:
                raise RayExecutorError(f"{what} must be an int >= 0, got {n!r}")
        self._owns_ray = False
        if not ray.is_initialized():
            ray.init(address=address, **dict(init_kwargs or {}))
            self._owns_ray = True
        self._ray = ray
        self.speeds = dict(speeds or {})
        self.track_nodes = bool(track_nodes)
        self.poll = float(poll)
        self.node_check = float(node_check)
        self.node_wait = float(node_wait)
        self.max_retries = max_retries
        self.retry_exceptions = retry_exceptions
        self._epoch = time.time()
        self.node_ids: dict[str, str] = {}
        self._lost_ids: set[str] = set()
        self.records: dict[str, TaskRecord] = {}
        self._specs: dict[str, _Spec] = {}
        self._inflight: dict[Any, tuple[str, str, Attempt]] = {}
        self._ref_of: dict[str, Any] = {}
        self._crashes: dict[str, int] = {}
        self._raised: dict[str, int] = {}
        self.nodes_lost: list[tuple[float, str, str]] = []
        self.nodes_added: list[tuple[float, str]] = []
        self._last_check = -math.inf
        nodes = self._alive_nodes()
        if not nodes:
            raise RayExecutorError("no alive Ray node (ray.nodes() lists none alive)")
        for node, rid in nodes:
            self.node_ids[node.name] = rid
        self.balancer = Balancer([n for n, _ in nodes], **balancer_options)
        self._last_check = self.now()

    # ------------------------------------------------------------------ helpers
    def now(self) -> float:
        """The executor's clock: wall seconds since it was created."""
        return time.time() - self._epoch

    def _speed(self, node: Node) -> float:
        from gabalance.online.balancer import node_type

        v = self.speeds.get(node.name, self.speeds.get(node_type(node), 1.0))
        return float(v)

    def _alive_nodes(self) -> list[tuple[Node, str]]:
        """(Node, NodeID) of every alive Ray node not lost before, by name; a node name
        claimed twice raises."""
        out: list[tuple[Node, str]] = []
        seen: dict[str, str] = {}
        for info in self._ray.nodes():
            if not info.get("Alive", info.get("alive", False)):
                continue
            rid = str(info["NodeID"])
            if rid in self._lost_ids:
                continue
            node = node_from_ray(info)
            node = dataclasses.replace(node, speed=self._speed(node))
            if node.name in seen:
                raise RayExecutorError(f"two alive Ray nodes are named {node.name!r} "
                                       f"({seen[node.name][:12]} and {rid[:12]}); give each "
                                       f"its own {NODE_PREFIX}<name> resource")
            seen[node.name] = rid
            out.append((node, rid))
        return sorted(out, key=lambda pair: pair[0].name)

    def _describe_nodes(self) -> str:
        parts = []
        for name in self.balancer.nodes:
            cap = self.balancer.capacity[name]
            parts.append(f"{name} (" + ", ".join(f"{r}={v:g}" for r, v in cap.items()) + ")")
        return "; ".join(parts) or "none"

    # ------------------------------------------------------------------ tasks
    def submit(self, fn: Callable[..., Any], *args: Any, name: str | None = None,
               after: Sequence[str] = (), demand: Mapping[str, float] | None = None,
               duration: float = 1.0, runtime: Mapping[str, float | None] | None = None,
               requires: Sequence[str | Sequence[str]] = (), weight: float = 1.0,
               release: float = 0.0, kind: str | None = None,
               kwargs: Mapping[str, Any] | None = None) -> str:
        """Register ``fn(*args, **kwargs)`` as a task of the balancer.

        Parameters
        ----------
        fn : callable
            A plain function (or a ``@ray.remote`` function, whose Python function is used).
            It runs on a Ray worker, so it and its arguments must pickle.
        *args
            Positional arguments; a :class:`ResultOf` is replaced by that task's result.
        name : str, optional
            Unique task name; default ``"<fn name>-<k>"``.
        after : sequence of str
            Tasks (submitted before) that must finish first; :class:`ResultOf` arguments are
            added.
        demand : mapping, optional
            Resources held while running: ``cpu``, ``gpu``, ``mem_gb`` (GiB) or custom Ray
            resources; default ``{"cpu": 1}`` (Ray's default). Passed to Ray as
            ``num_cpus``, ``num_gpus``, ``memory`` and ``resources``.
        duration : float, default 1.0
            Estimated seconds on a speed-1 node.
        runtime : mapping, optional
            Node name or node type -> estimated seconds (others cannot run it).
        requires : sequence
            Label requirements (a string: must be a label of the node; a list: any of them).
        weight, release : float
            Priority, and earliest start on the executor's clock.
        kind : str, optional
            Runtime-learning group; default the function's qualified name.
        kwargs : mapping, optional
            Keyword arguments of ``fn``; :class:`ResultOf` values are replaced too.

        Returns
        -------
        str
            The task's name.

        Raises
        ------
        BalancerError
            A bad task (duplicate name, unknown dependency, it fits no node: the message
            names the task and lists the nodes).
        """
        fn = getattr(fn, "_function", fn)  # a ray RemoteFunction wraps the Python function
        if not callable(fn):
            raise BalancerError(f"submit: fn must be callable, got {type(fn).__name__}")
        if name is None:
            name = f"{getattr(fn, '__name__', 'task')}-{len(self.records)}"
        if not isinstance(name, str) or not name:
            raise BalancerError(f"a task needs a non-empty name, got {name!r}")
        if name in self.records:
            raise BalancerError(f"task {name!r} was already submitted")
        kwargs = dict(kwargs or {})
        deps = [after] if isinstance(after, str) else list(after)
        for value in (*args, *kwargs.values()):
            if isinstance(value, ResultOf):
                if value.name not in self.records:
                    raise BalancerError(f"task {name!r} takes the result of unknown task "
                                        f"{value.name!r}")
                if value.name not in deps:
                    deps.append(value.name)
        for what, v in (("duration", duration), ("release", release)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                    or v < 0:
                raise BalancerError(f"task {name!r}: {what} must be a finite number >= 0, got "
                                    f"{v!r}")
        demand = {"cpu": 1.0} if demand is None else dict(demand)
        for r, v in demand.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                _check_ray_amount(name, str(r), float(v))
        task = Task(name, demand=demand, duration=duration, runtime=runtime, weight=weight,
                    release=release, requires=requires, after=tuple(deps))
        kind = str(kind) if kind is not None else getattr(fn, "__qualname__", name)
        try:
            self.balancer.submit(task, now=self.now(), kind=kind)
        except BalancerError as exc:
            if "fits no node" in str(exc):
                raise BalancerError(f"{exc}; alive Ray nodes: {self._describe_nodes()}"
                                    ) from None
            raise
        options: dict[str, Any] = {"num_cpus": 0.0}
        custom: dict[str, float] = {}
        for r, v in demand.items():
            if r == "mem_gb":
                if v > 0:
                    options["memory"] = math.ceil(float(v) * _GIB)
            elif r in _TO_RAY:
                options[_TO_RAY[r]] = float(v)
            elif v > 0:
                custom[r] = float(v)
        if custom:
            options["resources"] = custom
        self._specs[name] = _Spec(fn, tuple(args), kwargs, options)
        self.records[name] = TaskRecord(name, kind)
        return name

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, ResultOf):
            return self.records[value.name].result
        return value

    def _launch(self, task: str, node: str) -> None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        spec = self._specs[task]
        strategy = NodeAffinitySchedulingStrategy(node_id=self.node_ids[node], soft=False)
        args = [self._resolve(a) for a in spec.args]
        kwargs = {k: self._resolve(v) for k, v in spec.kwargs.items()}
        ref = _remote_invoke(self._ray).options(
            scheduling_strategy=strategy, name=task, **spec.options).remote(spec.fn, args,
                                                                            kwargs)
        attempt = Attempt(node=node, dispatched=self.now())
        rec = self.records[task]
        rec.attempts.append(attempt)
        rec.status = "running"
        self._inflight[ref] = (task, node, attempt)
        self._ref_of[task] = ref

    # ------------------------------------------------------------------ events
    def _complete(self, ref: Any, value: tuple[Any, str, float, float]) -> None:
        task, node, attempt = self._inflight.pop(ref)
        self._ref_of.pop(task, None)
        result, rid, t0, t1 = value
        attempt.status, attempt.ray_node_id = "done", rid
        attempt.start, attempt.finish = t0 - self._epoch, t1 - self._epoch
        rec = self.records[task]
        rec.status, rec.node, rec.result = "done", node, result
        rec.start, rec.finish = attempt.start, attempt.finish
        self.balancer.finished(task, now=self.now(), runtime=max(0.0, t1 - t0))

    def _node_alive(self, node: str) -> bool:
        rid = self.node_ids.get(node)
        if rid is None:
            return False
        return any(str(i.get("NodeID")) == rid and i.get("Alive", i.get("alive", False))
                   for i in self._ray.nodes())

    def _classify(self, exc: BaseException, node: str) -> str:
        """How an attempt failed: ``node`` (its node is gone), ``crash`` (worker or system
        failure, node alive), ``raised`` (the function raised) or ``cancelled``."""
        ray = self._ray
        task_error = _error_classes(ray, "RayTaskError")
        if task_error and isinstance(exc, task_error):
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ray.exceptions.RayError) and not isinstance(cause, task_error):
                # a system error inside the function (e.g. a ray.get of its own sub-task):
                # it may concern another node, so ask Ray whether ours is alive
                return "crash" if self._node_alive(node) else "node"
            return "raised"
        if isinstance(exc, _error_classes(ray, "TaskCancelledError")):
            return "cancelled"
        if isinstance(exc, _error_classes(ray, "NodeDiedError")):
            return "node"
        if isinstance(exc, ray.exceptions.RayError):
            # TaskUnschedulableError (hard affinity to a node that is gone), WorkerCrashedError,
            # OutOfMemoryError, ObjectLostError, ActorDiedError, RaySystemError...: ask Ray
            return "crash" if self._node_alive(node) else "node"
        return "raised"

    def _fail(self, ref: Any, exc: BaseException) -> None:
        task, node, attempt = self._inflight[ref]
        how = self._classify(exc, node)
        if how == "node":
            self._node_lost(node, f"{type(exc).__name__} while running {task!r}")
            if ref not in self._inflight:
                return
            how = "crash"  # its node was already gone from the balancer: re-queue the task
        self._inflight.pop(ref)
        self._ref_of.pop(task, None)
        attempt.status, attempt.error = "failed", f"{type(exc).__name__}: {exc}"
        rec = self.records[task]
        rec.status = "queued"
        if self.balancer.running.get(task) == node:
            self.balancer.failed(task, now=self.now())
        if how == "cancelled":
            return
        counter, limit = ((self._crashes, self.max_retries) if how == "crash"
                          else (self._raised, self.retry_exceptions))
        counter[task] = counter.get(task, 0) + 1
        if counter[task] > limit:
            rec.status = "failed"
            what = "its worker crashed" if how == "crash" else "it raised"
            raise TaskFailedError(f"task {task!r} failed on node {node!r}: {what} "
                                  f"{counter[task]} time(s), attempt {rec.n_attempts} "
                                  f"({type(exc).__name__}: {exc})", task, rec.n_attempts
                                  ) from exc

    def _node_lost(self, node: str, reason: str) -> None:
        """Remove a node from the balancer; its running tasks go back to the queue (tasks
        whose result is already back are completed first)."""
        if node not in self.balancer.nodes:
            return
        ray = self._ray
        mine = [r for r, (_, n, _) in self._inflight.items() if n == node]
        if mine:
            ready, _ = ray.wait(mine, num_returns=len(mine), timeout=0)
            for ref in ready:
                try:
                    value = ray.get(ref)
                except Exception:  # lost with its node
                    continue
                self._complete(ref, value)
        rid = self.node_ids.pop(node)
        self._lost_ids.add(rid)
        now = self.now()
        for task in self.balancer.remove_node(node, now=now):
            ref = self._ref_of.pop(task)
            _, _, attempt = self._inflight.pop(ref)
            attempt.status, attempt.error = "lost", f"node {node!r} lost: {reason}"
            self.records[task].status = "queued"
            try:
                ray.cancel(ref, force=True)
            except Exception:  # best effort: the node is gone
                pass
        self.nodes_lost.append((now, node, reason))

    def refresh_nodes(self) -> None:
        """Look at ``ray.nodes()``: nodes no longer alive are removed from the balancer
        (their running tasks re-queued); with ``track_nodes``, new alive nodes are added."""
        infos = self._ray.nodes()
        alive = {str(i["NodeID"]): i for i in infos if i.get("Alive", i.get("alive", False))}
        for name, rid in list(self.node_ids.items()):
            if rid not in alive:
                self._node_lost(name, "not alive in ray.nodes()")
        if self.track_nodes:
            known = set(self.node_ids.values())
            for rid, info in alive.items():
                if rid in known or rid in self._lost_ids:
                    continue
                node = node_from_ray(info)
                if node.name in self.node_ids:
                    continue  # the name is still held by a node not yet seen gone
                node = dataclasses.replace(node, speed=self._speed(node))
                now = self.now()
                self.balancer.add_node(node, now=now)
                self.node_ids[node.name] = rid
                self.nodes_added.append((now, node.name))
        self._last_check = self.now()

    # ------------------------------------------------------------------ the loop
    def result(self, wall: float = 0.0) -> RayRunResult:
        """The records so far as a :class:`RayRunResult`."""
        return RayRunResult(tasks=dict(self.records), wall=wall,
                            nodes_lost=list(self.nodes_lost), nodes_added=list(self.nodes_added),
                            replans=len(self.balancer.replan_latency))

    def run(self, timeout: float | None = None,
            callback: Callable[[RayExecutor], Any] | None = None) -> RayRunResult:
        """Run every submitted task to completion.

        Each round: look at ``ray.nodes()`` every ``node_check`` seconds, ``dispatch`` and
        launch, call ``callback(self)``, then ``ray.wait`` up to ``poll`` seconds and report
        completions and failures to the balancer.

        Parameters
        ----------
        timeout : float, optional
            Wall seconds before it raises; the executor keeps its state (tasks in flight go
            on), so a later ``run`` continues.
        callback : callable, optional
            Called with the executor once per round (progress, tests, stopping by raising).

        Returns
        -------
        RayRunResult

        Raises
        ------
        TaskFailedError
            A task failed more often than ``max_retries`` / ``retry_exceptions`` allow.
        RayExecutorError
            The timeout passed, or for ``node_wait`` seconds nothing ran and no alive node
            fit the queued tasks (the message names them).
        """
        ray = self._ray
        t_start = time.monotonic()
        deadline = None if timeout is None else t_start + float(timeout)
        stuck_since: float | None = None
        while any(r.status != "done" for r in self.records.values()):
            if self.now() - self._last_check >= self.node_check:
                self.refresh_nodes()
            for task, node in self.balancer.dispatch(self.now()):
                self._launch(task, node)
            if callback is not None:
                callback(self)
            if deadline is not None and time.monotonic() > deadline:
                left = [t for t, r in self.records.items() if r.status != "done"]
                raise RayExecutorError(f"run: timed out after {timeout:g} s with {len(left)} "
                                       f"task(s) unfinished: {', '.join(left[:10])}"
                                       + (" ..." if len(left) > 10 else ""))
            wait = self.poll
            nxt = self.balancer.next_start(self.now())
            if nxt is not None:
                wait = min(wait, max(0.0, nxt - self.now()))
            if not self._inflight:
                if nxt is None:
                    stuck_since = time.monotonic() if stuck_since is None else stuck_since
                    if time.monotonic() - stuck_since > self.node_wait:
                        left = [t for t, r in self.records.items() if r.status != "done"]
                        raise RayExecutorError(
                            f"run: nothing ran for {self.node_wait:g} s: no alive Ray node "
                            f"fits the queued task(s) {', '.join(left[:10])} (alive nodes: "
                            f"{self._describe_nodes()})")
                time.sleep(wait)
                continue
            stuck_since = None
            refs = list(self._inflight)
            ready, rest = ray.wait(refs, num_returns=1, timeout=wait)
            if ready and rest:
                more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
                ready += more
            for ref in ready:
                if ref not in self._inflight:
                    continue  # handled with its lost node
                try:
                    value = ray.get(ref)
                except Exception as exc:  # classified in _fail
                    self._fail(ref, exc)
                    continue
                self._complete(ref, value)
        return self.result(time.monotonic() - t_start)

    # ------------------------------------------------------------------ monitoring
    def snapshot(self, timeout: float = 10.0) -> dict[str, dict[str, Any]]:
        """A :func:`gabalance.online.monitor.local_snapshot` of every up node (CPU %, memory,
        GPUs through NVML when present), taken by a zero-CPU task pinned to it.

        Parameters
        ----------
        timeout : float, default 10.0
            Seconds to wait; a node that does not answer gets ``{"error": ...}``.

        Returns
        -------
        dict of str to dict
            Node name -> snapshot.
        """
        from gabalance.online.monitor import cluster_snapshot

        return cluster_snapshot(self.node_ids, timeout=timeout)

    def close(self) -> None:
        """Cancel tasks in flight; shut Ray down if this executor initialised it."""
        for ref in list(self._inflight):
            try:
                self._ray.cancel(ref, force=True)
            except Exception:  # best effort
                pass
        self._inflight.clear()
        self._ref_of.clear()
        if self._owns_ray and self._ray.is_initialized():
            self._ray.shutdown()
        self._owns_ray = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

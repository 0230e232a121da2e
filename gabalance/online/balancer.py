"""Online balancing: keep the cluster state, take events, re-plan with a warm start, dispatch.

The :class:`Balancer` is the loop ``monitor -> re-plan -> dispatch -> learn`` of
``docs/online.md``. Events (a task submitted, finished or failed; a node added or removed)
change the state and mark the plan stale; :meth:`Balancer.dispatch` re-plans when the plan
is stale and returns the queued tasks whose planned start has come. A re-plan builds a
schedule :class:`~gabalance.Problem` from the state and runs :func:`gabalance.solve`
(the GA by default) for at most ``time_budget`` seconds, warm-started from the previous plan.

Model choices (see ``docs/online.md`` for the reasons):

* **Running tasks are never moved.** They enter each re-plan as tasks pinned to their node
  (allowed there only) for their remaining expected runtime, so they hold their capacity
  from the re-plan instant until their expected finish; a running task comes back to the
  queue only through :meth:`Balancer.failed` or :meth:`Balancer.remove_node`.
* **Stability penalty.** A queued task that already had a planned node is charged
  ``migration_cost`` seconds of extra runtime on every other node in the next re-plan, so
  the plan moves it only when that gains more than the penalty.
* **Learning.** Per (task kind, node type) the balancer keeps the exponentially weighted
  mean (``smoothing``) of the ratio measured runtime / submitted estimate, starting at 1;
  a task's expected runtime on a node is its submitted estimate times that ratio.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from gabalance.baselines import earliest_finish
from gabalance.evaluate import evaluate, rank_order
from gabalance.problem import DEVICE_OBJECTIVES, SCHEDULE_OBJECTIVES, Node, Problem, Task
from gabalance.result import SolveResult
from gabalance.solve import EXACT_METHODS, METHODS, SEARCH_METHODS, solve

__all__ = ["Balancer", "BalancerError", "node_type"]

#: a running task past its expected runtime is assumed to need this fraction of it more
OVERRUN_FRACTION = 0.1
#: weight of a pinned (running) task in the re-plan, relative to the queued tasks' total
PIN_WEIGHT = 10.0
_TOL = 1e-9


class BalancerError(ValueError):
    """A bad event or argument; the message names the task or node."""


def type_of_name(name: str) -> str:
    """``"k80-3"`` -> ``"k80"``: the name up to a last ``-`` or ``_`` followed by digits only."""
    for sep in ("-", "_"):
        head, found, tail = name.rpartition(sep)
        if found and head and tail.isdigit():
            return head
    return name


def node_type(node: Node | Mapping[str, Any]) -> str:
    """The type of a node, the unit of runtime learning.

    A label ``"type=<t>"`` names it ``<t>``; otherwise it is the node's name without a
    trailing ``-<digits>`` or ``_<digits>`` (``"k80-3"`` -> ``"k80"``,
    ``"v100x4-07"`` -> ``"v100x4"``; ``"node12"`` is its own type).
    """
    name = node["name"] if isinstance(node, Mapping) else node.name
    labels = node.get("labels", ()) if isinstance(node, Mapping) else node.labels
    for label in sorted([labels] if isinstance(labels, str) else labels):
        if label.startswith("type=") and len(label) > 5:
            return label[5:]
    return type_of_name(str(name))


@dataclasses.dataclass
class _Rec:
    task: Task
    kind: str
    index: int                       # submission order (a topological order)
    demand: dict[str, float]
    requires: tuple[frozenset[str], ...]
    status: str = "queued"           # queued | running | done
    node: str | None = None
    started: float = 0.0
    expected: float = 0.0            # expected runtime on its node when it started


def _as_node(node: Any) -> Node:
    if isinstance(node, Mapping):
        try:
            node = Node(**node)
        except TypeError as exc:
            raise BalancerError(f"bad node {dict(node)!r}: {exc}") from None
    if not isinstance(node, Node):
        raise BalancerError(f"a node must be a gabalance.Node (or a dict of its fields), got "
                            f"{type(node).__name__}")
    if not isinstance(node.name, str) or not node.name:
        raise BalancerError(f"a node needs a non-empty name, got {node.name!r}")
    if not isinstance(node.capacity, Mapping):
        raise BalancerError(f"capacity of node {node.name!r} must be a mapping resource -> "
                            f"amount, got {node.capacity!r}")
    for r, v in node.capacity.items():
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(v) or v < 0:
            raise BalancerError(f"capacity of node {node.name!r} for {r!r} must be a finite "
                                f"number >= 0, got {v!r}")
    if isinstance(node.speed, bool) or not isinstance(node.speed, (int, float)) \
            or not math.isfinite(node.speed) or node.speed <= 0:
        raise BalancerError(f"speed of node {node.name!r} must be > 0, got {node.speed!r}")
    return node


def _as_task(task: Any) -> Task:
    if isinstance(task, Mapping):
        fields: dict[str, Any] = dict(task)
        try:
            task = Task(**fields)
        except TypeError as exc:
            raise BalancerError(f"bad task {fields!r}: {exc}") from None
    if not isinstance(task, Task):
        raise BalancerError(f"submit takes a gabalance.Task, got {type(task).__name__}")
    if not isinstance(task.name, str) or not task.name:
        raise BalancerError(f"a task needs a non-empty name, got {task.name!r}")
    return task


class Balancer:
    """Online task-to-node balancer: events in, dispatch decisions out.

    Parameters
    ----------
    nodes : sequence of gabalance.Node
        The initial cluster; capacities are mappings resource -> amount.
    objective : {"weighted_completion", "makespan", "gpu_allocation"}
        What each re-plan minimises over the queued and running tasks. "gpu_allocation"
        is the GPU-sharing mode (docs/gpushare.md): nodes carry ``gpus`` devices, tasks
        ask ``gpu_milli``; :meth:`dispatch` places every waiting task with ``policy`` on
        the current per-device state, in submission order, and a task that fits nowhere
        keeps waiting; running tasks are never moved. ``time_budget``, ``method``,
        ``params``, ``migration_cost``, ``smoothing`` and ``max_generations`` are not used
        there.
    policy : str, default "fgd_pack"
        GPU-sharing mode: one of :data:`gabalance.gpushare.POLICIES`; "fgd_pack" is FGD
        whose ties go first to nodes already holding GPU work (docs/gpushare.md).
    workload : sequence of gabalance.Task, optional
        GPU-sharing mode: the target workload that FGD-type policies score against (its
        typical tasks); default: the tasks submitted so far.
    time_budget : float, default 0.2
        Wall-clock seconds per re-plan (``time_limit`` of :func:`gabalance.solve`).
    method : str, default "ga"
        Any :data:`gabalance.METHODS`; search methods are warm-started from the last plan.
    params : GAParams, PSOParams, dict, optional
        Search parameters; default for "ga" ``GAParams(population=32, critical=0)``: the
        critical-path search costs more than it gives within a re-plan budget of a few
        hundredths of a second (on the Gavel trace of ``python bench/simulate_online.py`` at
        0.05 s per re-plan the mean JCT was 95.95 h with it and 93.83 h without;
        bench/RESULTS.md, "Online balancing").
    migration_cost : float, default 1.0
        Seconds of extra runtime charged to a queued task on nodes other than the one the
        previous plan gave it (the stability penalty).
    smoothing : float in (0, 1], default 0.3
        Weight of a new observation in the runtime learning.
    seed : int or None, default 0
        Re-plan ``k`` uses seed ``seed + k``.
    max_generations : int, optional
        Also stop each re-plan after this many generations (with a large ``time_budget``
        this makes a run reproducible).

    Attributes
    ----------
    replan_latency : list of float
        Wall seconds of every re-plan that ran a solve.
    """

    failures: dict[str, int]
    replan_latency: list[float]

    def __init__(self, nodes: Sequence[Node], *, objective: str = "weighted_completion",
                 time_budget: float = 0.2, method: str = "ga", params: Any = None,
                 migration_cost: float = 1.0, smoothing: float = 0.3, seed: int | None = 0,
                 max_generations: int | None = None, policy: str = "fgd_pack",
                 workload: Sequence[Task] | None = None) -> None:
        self._dev: Any = None
        if objective in DEVICE_OBJECTIVES:
            from gabalance.online._devices import DeviceEngine

            self.objective, self.seed = objective, seed
            self._now = 0.0
            self.failures = {}
            self.replan_latency = []
            self._dev = DeviceEngine([_as_node(n) for n in nodes], policy, seed,
                                     None if workload is None else
                                     [_as_task(t) for t in workload], BalancerError)
            return
        if objective not in SCHEDULE_OBJECTIVES:
            raise BalancerError(f"objective must be a schedule objective "
                                f"({', '.join(SCHEDULE_OBJECTIVES)}) or "
                                f"{', '.join(DEVICE_OBJECTIVES)}, got {objective!r}")
        if method not in METHODS:
            raise BalancerError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
        if isinstance(time_budget, bool) or not isinstance(time_budget, (int, float)) \
                or not math.isfinite(time_budget) or time_budget <= 0:
            raise BalancerError(f"time_budget must be a positive number of seconds, got "
                                f"{time_budget!r}")
        if isinstance(migration_cost, bool) or not isinstance(migration_cost, (int, float)) \
                or not math.isfinite(migration_cost) or migration_cost < 0:
            raise BalancerError(f"migration_cost must be a number >= 0, got {migration_cost!r}")
        if isinstance(smoothing, bool) or not isinstance(smoothing, (int, float)) \
                or not 0 < smoothing <= 1:
            raise BalancerError(f"smoothing must be in (0, 1], got {smoothing!r}")
        if params is None and method == "ga":
            params = {"population": 32, "critical": 0}
        self.objective = objective
        self.time_budget = float(time_budget)
        self.method = method
        self.params = params
        self.migration_cost = float(migration_cost)
        self.smoothing = float(smoothing)
        self.seed = seed
        self.max_generations = max_generations
        self._nodes: dict[str, Node] = {}
        self._types: dict[str, str] = {}          # every node ever seen -> its type
        self._resources: list[str] = []
        self._used: dict[str, dict[str, float]] = {}
        self._cap: dict[str, dict[str, float]] = {}
        self._tasks: dict[str, _Rec] = {}
        self._running: dict[str, str] = {}
        self._done: dict[str, str] = {}
        self._ratio: dict[tuple[str, str], float] = {}
        self._base_cache: dict[tuple[str, str], float] = {}
        self._plan: dict[str, tuple[str, float, int]] = {}   # queued task -> node, start, rank
        self._last_node: dict[str, str] = {}                 # queued task -> last planned node
        self._last_order: dict[str, int] = {}                # queued task -> last plan rank
        self._dirty = True
        self._now = 0.0
        self._replans = 0
        self.failures = {}
        self.replan_latency = []
        for node in nodes:
            self._add(_as_node(node))

    # ------------------------------------------------------------------ views
    @property
    def running(self) -> dict[str, str]:
        """Task -> node of every running task (a copy)."""
        return self._dev.running if self._dev is not None else dict(self._running)

    @property
    def queued(self) -> list[str]:
        """Queued tasks in submission order."""
        if self._dev is not None:
            return self._dev.queued
        return [n for n, r in self._tasks.items() if r.status == "queued"]

    @property
    def done(self) -> dict[str, str]:
        """Task -> the node it finished on (a copy)."""
        return self._dev.done if self._dev is not None else dict(self._done)

    @property
    def nodes(self) -> list[str]:
        """Names of the nodes that are up."""
        return self._dev.nodes if self._dev is not None else list(self._nodes)

    @property
    def devices(self) -> dict[str, list[int]]:
        """GPU-sharing mode: running task -> the devices of its node it holds."""
        self._device_mode("devices")
        return self._dev.devices

    @property
    def allocation(self) -> float:
        """GPU-sharing mode: share of the cluster's GPU (milli-GPU of the nodes that are up)
        that running tasks hold."""
        self._device_mode("allocation")
        return float(self._dev.allocation)

    def _device_mode(self, what: str) -> None:
        if self._dev is None:
            raise BalancerError(f"{what} is only kept with objective 'gpu_allocation'")

    @property
    def capacity(self) -> dict[str, dict[str, float]]:
        """Node -> resource -> capacity of every node that is up (a copy)."""
        if self._dev is not None:
            return self._dev.capacity
        return {n: dict(c) for n, c in self._cap.items()}

    @property
    def plan(self) -> dict[str, tuple[str, float]]:
        """Queued task -> (planned node, planned start on the caller's clock) of the last plan
        (GPU-sharing mode: empty, a waiting task is placed when it fits)."""
        if self._dev is not None:
            return {}
        return {t: (n, s) for t, (n, s, _) in self._plan.items()
                if self._tasks[t].status == "queued"}

    def runtime_ratio(self, kind: str, node_type: str) -> float:
        """The learned ratio measured / estimated runtime for (kind, node type); 1 unseen."""
        return self._ratio.get((kind, node_type), 1.0)

    def expected_runtime(self, task: str, node: str) -> float:
        """Expected runtime of a submitted task on a node (``inf``: it cannot run there)."""
        rec = self._rec(task, "expected_runtime")
        if node not in self._nodes:
            raise BalancerError(f"expected_runtime: unknown node {node!r}")
        return self._estimate(rec, node)

    def next_start(self, now: float) -> float | None:
        """The earliest planned start after ``now`` (when a caller should call
        :meth:`dispatch` again if no event comes first), or None."""
        if self._dev is not None:
            return None
        later = [s for t, (_, s, _) in self._plan.items()
                 if s > now and self._tasks[t].status == "queued"]
        return min(later) if later else None

    # ------------------------------------------------------------------ events
    def submit(self, task: Task, *, now: float, kind: str | None = None) -> None:
        """A task arrives. ``task.after`` names its dependencies (submitted before, possibly
        finished); ``task.runtime`` maps node names or node types to seconds (a missing
        node: it cannot run there), else ``task.duration / node.speed``; ``task.release`` is
        an earliest start on the caller's clock. ``kind`` (default ``task.name``) groups
        tasks for runtime learning."""
        self._clock(now)
        task = _as_task(task)
        name = task.name
        if self._dev is not None:
            self._dev.submit(task)
            return
        if name in self._tasks:
            raise BalancerError(f"task {name!r} was already submitted")
        if task.demand_by_node is not None:
            raise BalancerError(f"task {name!r}: demand_by_node is not supported online; give "
                                "one demand mapping")
        demand: dict[str, float] = {}
        if task.demand is not None:
            if not isinstance(task.demand, Mapping):
                raise BalancerError(f"demand of task {name!r} must be a mapping resource -> "
                                    f"amount, got {task.demand!r}")
            for r, v in task.demand.items():
                if isinstance(v, bool) or not isinstance(v, (int, float, np.integer,
                                                             np.floating)) \
                        or not math.isfinite(v) or v < 0:
                    raise BalancerError(f"demand of task {name!r} for {r!r} must be a finite "
                                        f"number >= 0, got {v!r}")
                demand[str(r)] = float(v)
        after = [task.after] if isinstance(task.after, str) else list(task.after)
        for p in after:
            if p == name:
                raise BalancerError(f"task {name!r} depends on itself")
            if p not in self._tasks:
                raise BalancerError(f"task {name!r} depends on unknown task {p!r}")
        for field in ("duration", "release"):
            v = getattr(task, field)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or v < 0:
                raise BalancerError(f"{field} of task {name!r} must be a finite number >= 0, "
                                    f"got {v!r}")
        if not isinstance(task.weight, (int, float)) or not task.weight > 0:
            raise BalancerError(f"weight of task {name!r} must be > 0, got {task.weight!r}")
        requires = []
        for group in [task.requires] if isinstance(task.requires, str) else task.requires:
            requires.append(frozenset([group] if isinstance(group, str) else group))
        rec = _Rec(task=dataclasses.replace(task, after=tuple(dict.fromkeys(after))),
                   kind=name if kind is None else str(kind), index=len(self._tasks),
                   demand=demand, requires=tuple(requires))
        if not any(self._fits(rec, n) for n in self._nodes):
            need = ", ".join(f"{r}={v:g}" for r, v in demand.items()) or "nothing"
            labels = ""
            if requires:
                labels = " and labels " + " & ".join("|".join(sorted(g)) for g in requires)
            raise BalancerError(f"task {name!r} fits no node (it needs {need}{labels}, with a "
                                "finite runtime)")
        self._tasks[name] = rec
        self._dirty = True

    def finished(self, name: str, *, now: float, runtime: float | None = None) -> None:
        """A running task completed; ``runtime`` (default: ``now`` minus its start) updates
        the runtime ratio of (its kind, its node's type)."""
        now = self._clock(now)
        if self._dev is not None:
            self._dev.finished(name)
            return
        rec = self._running_rec(name, "finished")
        node = rec.node
        assert node is not None
        measured = now - rec.started if runtime is None else runtime
        if isinstance(measured, bool) \
                or not isinstance(measured, (int, float, np.integer, np.floating)) \
                or not math.isfinite(measured) or measured < 0:
            raise BalancerError(f"finished: runtime of task {name!r} must be a finite number "
                                f">= 0, got {runtime!r}")
        base = self._base(rec, node)
        if 0 < base < math.inf:
            key = (rec.kind, self._types[node])
            old = self._ratio.get(key, 1.0)
            self._ratio[key] = (1.0 - self.smoothing) * old + self.smoothing * measured / base
        self._release(rec)
        rec.status = "done"
        self._done[name] = node
        self._dirty = True

    def failed(self, name: str, *, now: float) -> None:
        """A running task failed (its node is fine): it goes back to the queue."""
        self._clock(now)
        if self._dev is not None:
            self._dev.failed(name)
            self.failures[name] = self.failures.get(name, 0) + 1
            return
        rec = self._running_rec(name, "failed")
        self._release(rec)
        rec.status, rec.node = "queued", None
        self.failures[name] = self.failures.get(name, 0) + 1
        self._dirty = True

    def add_node(self, node: Node, *, now: float) -> None:
        """A node joins (or comes back)."""
        self._clock(now)
        node = _as_node(node)
        if self._dev is not None:
            self._dev.add_node(node)
            return
        if node.name in self._nodes:
            raise BalancerError(f"add_node: node {node.name!r} is already up")
        self._add(node)
        self._dirty = True

    def remove_node(self, name: str, *, now: float) -> list[str]:
        """A node leaves or fails: its running tasks go back to the queue (returned, in the
        order they started)."""
        self._clock(now)
        if self._dev is not None:
            return list(self._dev.remove_node(name))
        if name not in self._nodes:
            raise BalancerError(f"remove_node: unknown node {name!r} (up: "
                                f"{', '.join(self._nodes) or 'none'})")
        back = sorted((t for t, n in self._running.items() if n == name),
                      key=lambda t: (self._tasks[t].started, self._tasks[t].index))
        for t in back:
            rec = self._tasks[t]
            self._release(rec)
            rec.status, rec.node = "queued", None
        del self._nodes[name], self._used[name], self._cap[name]
        for key in [k for k in self._base_cache if k[1] == name]:
            del self._base_cache[key]
        self._dirty = True
        return back

    # ------------------------------------------------------------------ planning
    def replan(self, now: float) -> None:
        """Re-plan now: solve the problem of the queued and running tasks (see the module
        docstring) within ``time_budget``, warm-started from the last plan."""
        now = self._clock(now)
        if self._dev is not None:
            return  # GPU-sharing mode: dispatch places the waiting tasks
        self._dirty = False
        t_start = time.perf_counter()
        nodes = list(self._nodes)
        queued = self._plannable()
        self._plan = {}
        if not queued or not nodes:
            return
        running = sorted(self._running, key=lambda t: (self._tasks[t].started,
                                                       self._tasks[t].index))
        jx = {n: j for j, n in enumerate(nodes)}
        names = running + queued
        R, N, M = len(running), len(running) + len(queued), len(nodes)
        idx = {t: i for i, t in enumerate(names)}
        res = list(self._resources)
        capacity = np.array([[float(self._cap[n].get(r, 0.0)) for r in res]
                             for n in nodes]).reshape(M, len(res))
        demand = np.array([[self._tasks[t].demand.get(r, 0.0) for r in res] for t in names]
                          ).reshape(N, len(res))
        runtime = np.full((N, M), np.inf)
        release = np.zeros(N)
        weight = np.ones(N)
        remaining: dict[str, float] = {}
        for i, t in enumerate(running):
            rec = self._tasks[t]
            rem = max(rec.expected - (now - rec.started), OVERRUN_FRACTION * rec.expected)
            remaining[t] = runtime[i, jx[self._running[t]]] = rem
        edges = []
        for i, t in enumerate(queued, R):
            rec = self._tasks[t]
            for j, n in enumerate(nodes):
                if self._fits(rec, n):
                    runtime[i, j] = self._estimate(rec, n)
            last = self._last_node.get(t)
            if last in jx and self.migration_cost > 0:
                other = np.arange(M) != jx[last]
                runtime[i, other] += self.migration_cost
            weight[i] = float(rec.task.weight)
            rel = max(0.0, float(rec.task.release) - now)
            for p in rec.task.after:
                if p in remaining:
                    rel = max(rel, remaining[p])
                elif p in idx:
                    edges.append((idx[p], i))
            release[i] = rel
        weight[:R] = PIN_WEIGHT * weight[R:].sum() + 1.0
        problem = Problem(capacity, demand, resources=res, runtime=runtime, weight=weight,
                          release=release, edges=np.array(edges, np.int64).reshape(-1, 2),
                          task_names=names, node_names=nodes, objective=self.objective,
                          name="replan")
        # warm start: running tasks on their node, queued ones where the last plan put them
        # (else on their fastest node); order: running, then the last plan's order, then new
        x0 = np.empty(N, np.int32)
        for i, t in enumerate(names):
            last = self._last_node.get(t) if i >= R else self._running[t]
            x0[i] = jx[last] if last in jx and np.isfinite(runtime[i, jx[last]]) \
                else int(np.argmin(runtime[i]))
        rank = self._last_order
        order = sorted(range(R, N), key=lambda i: (rank.get(names[i], N), i))
        keys0 = np.empty(N)
        keys0[:R] = np.arange(R)
        keys0[order] = R + np.arange(N - R)
        x0, keys0 = self._better_start(problem, R, x0, keys0)
        seed = None if self.seed is None else self.seed + self._replans
        self._replans += 1
        kwargs: dict[str, Any] = {}
        if self.method in SEARCH_METHODS + EXACT_METHODS:
            kwargs["initial"] = SolveResult(x=x0, priority=keys0)
        if self.method in SEARCH_METHODS:
            kwargs.update(params=self.params, max_generations=self.max_generations)
        out = solve(problem, self.objective, method=self.method, time_limit=self.time_budget,
                    seed=seed, **kwargs)
        x, keys = out.x, out.get("priority")
        if x is None or out.violation > 0:
            x, keys = x0, keys0
        keys = np.array(keys0 if keys is None else keys, np.float64)
        keys[:R] = keys.min() - 1.0 - (R - np.arange(R))  # running tasks go first, in place
        ev = evaluate(problem, x, keys, self.objective, schedule=True)
        assert ev.start is not None
        start = ev.start[0]
        queued_idx = sorted(range(R, N), key=lambda i: (start[i], keys[i], i))
        self._last_order = {}
        for k, i in enumerate(queued_idx):
            t = names[i]
            self._plan[t] = (nodes[int(x[i])], now + float(start[i]), k)
            self._last_node[t] = nodes[int(x[i])]
            self._last_order[t] = k
        self.replan_latency.append(time.perf_counter() - t_start)

    def dispatch(self, now: float) -> list[tuple[str, str]]:
        """(task, node) pairs to start now, marked running.

        Re-plans first if an event came since the last plan. A queued task starts when its
        planned start has come, its dependencies have all finished, its release time has
        passed and its planned node is up with room for it now; in planned start order.
        Tasks planned to start later are not started early (no backfilling against the plan).
        """
        now = self._clock(now)
        if self._dev is not None:
            t0 = time.perf_counter()
            placed: list[tuple[str, str]] = list(self._dev.dispatch(now))
            self.replan_latency.append(time.perf_counter() - t0)
            return placed
        if self._dirty:
            self.replan(now)
        tol = _TOL * max(1.0, abs(now))
        out: list[tuple[str, str]] = []
        for t in sorted(self._plan, key=lambda t: (self._plan[t][1], self._plan[t][2])):
            node, start, _ = self._plan[t]
            if start > now + tol:
                break
            rec = self._tasks[t]
            if rec.status != "queued" or node not in self._nodes \
                    or rec.task.release > now + tol \
                    or any(self._tasks[p].status != "done" for p in rec.task.after) \
                    or not self._room(rec, node):
                continue
            rec.status, rec.node, rec.started = "running", node, now
            rec.expected = self._estimate(rec, node)
            used = self._used[node]
            for r, v in rec.demand.items():
                used[r] = used.get(r, 0.0) + v
            self._running[t] = node
            self._last_node.pop(t, None)
            out.append((t, node))
        for t, _ in out:
            del self._plan[t]
        return out

    # ------------------------------------------------------------------ internals
    def _clock(self, now: float) -> float:
        if isinstance(now, bool) or not isinstance(now, (int, float, np.integer, np.floating)) \
                or not math.isfinite(now):
            raise BalancerError(f"now must be a finite number of seconds, got {now!r}")
        self._now = max(self._now, float(now))  # a clock going back is held at its last value
        return self._now

    def _rec(self, name: str, what: str) -> _Rec:
        rec = self._tasks.get(name)
        if rec is None:
            raise BalancerError(f"{what}: unknown task {name!r}")
        return rec

    def _running_rec(self, name: str, what: str) -> _Rec:
        rec = self._rec(name, what)
        if rec.status != "running":
            raise BalancerError(f"{what}: task {name!r} is not running (it is {rec.status})")
        return rec

    def _add(self, node: Node) -> None:
        if node.name in self._nodes:
            raise BalancerError(f"duplicate node name {node.name!r}")
        self._nodes[node.name] = node
        self._types[node.name] = node_type(node)
        self._used[node.name] = {}
        assert isinstance(node.capacity, Mapping)  # checked by _as_node
        self._cap[node.name] = {str(r): float(v) for r, v in node.capacity.items()}
        for r in node.capacity:
            if r not in self._resources:
                self._resources.append(str(r))

    def _release(self, rec: _Rec) -> None:
        node = rec.node
        assert node is not None
        self._running.pop(rec.task.name, None)
        used = self._used.get(node)
        if used is not None:
            for r, v in rec.demand.items():
                used[r] = used.get(r, 0.0) - v

    def _base(self, rec: _Rec, node: str) -> float:
        """The submitted runtime estimate of a task on a node (``inf``: cannot run there)."""
        key = (rec.task.name, node)
        value = self._base_cache.get(key)
        if value is None:
            value = self._base_uncached(rec.task, node)
            self._base_cache[key] = value
        return value

    def _base_uncached(self, task: Task, node: str) -> float:
        rt = task.runtime
        if rt is None:
            return float(task.duration) / float(self._nodes[node].speed)
        kind = self._types[node]
        if node in rt:
            v = rt[node]
        elif kind in rt:
            v = rt[kind]
        else:
            same = [k for k in rt if self._types.get(k, type_of_name(k)) == kind]
            v = rt[same[0]] if same else None
        if v is None or not math.isfinite(float(v)):
            return math.inf
        if float(v) < 0:
            raise BalancerError(f"runtime of task {task.name!r} on node {node!r} is negative")
        return float(v)

    def _estimate(self, rec: _Rec, node: str) -> float:
        return self._base(rec, node) * self._ratio.get((rec.kind, self._types[node]), 1.0)

    def _fits(self, rec: _Rec, node: str) -> bool:
        """Whether the task may run on the (empty) node: labels, finite runtime, capacity."""
        n = self._nodes[node]
        labels = {n.labels} if isinstance(n.labels, str) else set(n.labels)
        if any(not (group & labels) for group in rec.requires):
            return False
        cap = self._cap[node]
        if any(v > float(cap.get(r, 0.0)) + _TOL for r, v in rec.demand.items()):
            return False
        return math.isfinite(self._base(rec, node))

    def _room(self, rec: _Rec, node: str) -> bool:
        cap, used = self._cap[node], self._used[node]
        return all(used.get(r, 0.0) + v <= float(cap.get(r, 0.0)) + _TOL
                   for r, v in rec.demand.items())

    def _better_start(self, problem: Problem, R: int, x0: np.ndarray, keys0: np.ndarray
                      ) -> tuple[np.ndarray, np.ndarray]:
        """The better of the warm start and a WSPT plan: queued tasks by decreasing weight
        over shortest runtime (in dependency order), each on the node where it would finish
        earliest (running tasks first, on their node)."""
        N = problem.n_tasks
        runtime = problem.runtime
        assert runtime is not None
        fastest = np.where(np.isfinite(runtime), runtime, np.inf).min(axis=1)
        ratio = problem.weight / np.maximum(fastest, 1e-12)
        succ: list[list[int]] = [[] for _ in range(N)]
        waiting = np.zeros(N, np.int64)
        for p, q in problem.edges.tolist():
            succ[p].append(q)
            waiting[q] += 1
        ready = [(-float(ratio[i]), i) for i in range(R, N) if waiting[i] == 0]
        heapq.heapify(ready)
        order = list(range(R))
        while ready:
            _, i = heapq.heappop(ready)
            order.append(i)
            for q in succ[i]:
                waiting[q] -= 1
                if waiting[q] == 0:
                    heapq.heappush(ready, (-float(ratio[q]), q))
        xw = earliest_finish(problem, order)[0]
        kw = np.empty(N)
        kw[order] = np.arange(N, dtype=np.float64)
        ev = evaluate(problem, np.stack([x0, xw]), np.stack([keys0, kw]), self.objective)
        best = int(rank_order(ev.objective, ev.violation, "min")[0])
        return (x0, keys0) if best == 0 else (xw.astype(np.int32), kw)

    def _plannable(self) -> list[str]:
        """Queued tasks that fit an up node and whose queued dependencies are plannable, in
        submission order (dependencies are submitted first, so this is a topological order)."""
        out: list[str] = []
        ok: set[str] = set()
        for t, rec in self._tasks.items():
            if rec.status != "queued":
                continue
            if all(self._tasks[p].status != "queued" or p in ok for p in rec.task.after) \
                    and any(self._fits(rec, n) for n in self._nodes):
                ok.add(t)
                out.append(t)
        return out

"""The :class:`~gabalance.online.Balancer` on GPU-sharing clusters (objective
``gpu_allocation``): per-device state, a policy of :mod:`gabalance.gpushare` per task, and
tasks that wait until they fit.

A submitted task is queued; :meth:`DeviceEngine.dispatch` re-plans every waiting task, in
submission order, on the current per-device state with the policy (a task that fits nowhere
keeps waiting), and never moves a running task. FGD-type policies score against a target
workload: the typical tasks of ``workload`` when given, else of the tasks submitted so far
(recounted whenever their number has doubled).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from gabalance import _gpushare as K
from gabalance.gpushare import POLICIES, Typical, typical_from_kinds
from gabalance.problem import DEVICE_MILLI, Node, Task


@dataclass
class _Rec:
    task: Task
    index: int
    demand: dict[str, float]
    group: int
    status: str = "queued"          # queued | running | done
    node: str | None = None
    mask: int = 0
    started: float = 0.0
    tried: int = -1                 # the release count when it last found no room


class DeviceEngine:
    """Per-device bookkeeping and placement of the device-mode Balancer."""

    def __init__(self, nodes: Sequence[Node], policy: str, seed: int | None,
                 workload: Sequence[Task] | None, error: type[ValueError]) -> None:
        if policy not in POLICIES:
            raise error(f"unknown policy {policy!r} (choose from {', '.join(POLICIES)})")
        self.error = error
        self.policy = policy
        self.seed = 0 if seed is None else int(seed)
        self._nodes: dict[str, Node] = {}
        self._resources: list[str] = []
        self._groups: list[tuple[frozenset[str], ...]] = [()]
        self._tasks: dict[str, _Rec] = {}
        self._running: dict[str, str] = {}
        self._done: dict[str, str] = {}
        self._typical: Typical | None = None
        self._typical_at = 0
        self._dispatches = 0
        self._releases = 0
        for node in nodes:
            self._add(node)
        self._workload = None
        if workload is not None:
            recs = [self._make_rec(t, i) for i, t in enumerate(workload)]
            self._workload = recs
            self._typical = self._typical_of(recs)
        self._state_ok = False

    # ------------------------------------------------------------------ views
    @property
    def running(self) -> dict[str, str]:
        return dict(self._running)

    @property
    def queued(self) -> list[str]:
        return [n for n, r in self._tasks.items() if r.status == "queued"]

    @property
    def done(self) -> dict[str, str]:
        return dict(self._done)

    @property
    def nodes(self) -> list[str]:
        return list(self._nodes)

    @property
    def capacity(self) -> dict[str, dict[str, float]]:
        return {n: {str(r): float(v) for r, v in _cap(node).items()}
                for n, node in self._nodes.items()}

    @property
    def devices(self) -> dict[str, list[int]]:
        return {t: [d for d in range(64) if self._tasks[t].mask >> d & 1] for t in self._running}

    @property
    def allocation(self) -> float:
        total = DEVICE_MILLI * sum(int(n.gpus) for n in self._nodes.values())
        held = sum(self._tasks[t].task.gpu_milli for t in self._running)
        return held / total if total else 0.0

    # ------------------------------------------------------------------ events
    def submit(self, task: Task) -> None:
        if task.name in self._tasks:
            raise self.error(f"task {task.name!r} was already submitted")
        rec = self._make_rec(task, len(self._tasks))
        if not any(self._fits_empty(rec, n) for n in self._nodes.values()):
            need = ", ".join(f"{r}={v:g}" for r, v in rec.demand.items()) or "no resources"
            raise self.error(f"task {task.name!r} fits no node (it needs {need} and "
                             f"{task.gpu_milli} milli-GPU{self._labels(rec)})")
        self._tasks[task.name] = rec

    def finished(self, name: str) -> str:
        rec = self._running_rec(name, "finished")
        node = rec.node
        assert node is not None
        self._release(rec)
        rec.status = "done"
        self._done[name] = node
        return node

    def failed(self, name: str) -> None:
        rec = self._running_rec(name, "failed")
        self._release(rec)

    def add_node(self, node: Node) -> None:
        if node.name in self._nodes:
            raise self.error(f"add_node: node {node.name!r} is already up")
        self._add(node)

    def remove_node(self, name: str) -> list[str]:
        if name not in self._nodes:
            raise self.error(f"remove_node: unknown node {name!r} (up: "
                             f"{', '.join(self._nodes) or 'none'})")
        back = sorted((t for t, n in self._running.items() if n == name),
                      key=lambda t: (self._tasks[t].started, self._tasks[t].index))
        for t in back:
            self._release(self._tasks[t])
        del self._nodes[name]
        self._state_ok = False
        return back

    def dispatch(self, now: float) -> list[tuple[str, str]]:
        """Place the waiting tasks, in submission order, with the policy."""
        waiting = [r for r in self._tasks.values() if r.status == "queued"]
        if not waiting or not self._nodes:
            return []
        if not self._state_ok:
            self._build_state()
        typical = self._current_typical()
        t_cpu = np.ascontiguousarray(typical.cpu, np.float64)
        t_ok = np.ascontiguousarray(self._group_ok[typical.group])
        out = []
        names = list(self._nodes)
        if self._dispatches == 0:  # numba's stream, for the ties and the Random policy
            K.seed_stream(self.seed % 2**32)
        self._dispatches += 1
        for rec in waiting:
            # the state only fills between releases: a task that found no room since the
            # last release finds none now
            if rec.tried == self._releases:
                continue
            rec.tried = self._releases
            demand = self._row(rec)
            g, need = int(rec.task.gpu_milli), _need(rec.task.gpu_milli)
            j, mask = K.place_one(POLICIES[self.policy], self._free, self._left,
                                  self._gpus, self._tags, self._group_ok, self._cpu_col,
                                  demand, g, need, rec.group, t_cpu, typical.milli,
                                  typical.num, typical.p, t_ok, self._sc, self._order,
                                  True, self._scratch)
            if j < 0:
                continue
            K.commit(self._free, self._left, self._tags, j, mask, demand, g, need)
            rec.status, rec.node, rec.mask, rec.started = "running", names[j], int(mask), now
            self._running[rec.task.name] = names[j]
            out.append((rec.task.name, names[j]))
        return out

    # ------------------------------------------------------------------ internals
    def _make_rec(self, task: Task, index: int) -> _Rec:
        name = task.name
        g = task.gpu_milli
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or g < 0 \
                or (g > DEVICE_MILLI and g % DEVICE_MILLI):
            raise self.error(f"gpu_milli of task {name!r} must be an integer in 0..1000 or a "
                             f"multiple of 1000, got {g!r}")
        demand: dict[str, float] = {}
        if task.demand is not None:
            if not isinstance(task.demand, Mapping):
                raise self.error(f"demand of task {name!r} must be a mapping resource -> "
                                 f"amount, got {task.demand!r}")
            for r, v in task.demand.items():
                if isinstance(v, bool) or not isinstance(v, (int, float, np.integer,
                                                             np.floating)) \
                        or not math.isfinite(v) or v < 0:
                    raise self.error(f"demand of task {name!r} for {r!r} must be a finite "
                                     f"number >= 0, got {v!r}")
                demand[str(r)] = float(v)
        groups = []
        for group in [task.requires] if isinstance(task.requires, str) else task.requires:
            groups.append(frozenset([group] if isinstance(group, str) else group))
        key = tuple(sorted(groups, key=sorted))
        if key not in self._groups:
            self._groups.append(key)
            self._state_ok = False
        return _Rec(task, index, demand, self._groups.index(key))

    def _labels(self, rec: _Rec) -> str:
        groups = self._groups[rec.group]
        if not groups:
            return ""
        return " and labels " + " & ".join("|".join(sorted(g)) for g in groups)

    def _fits_empty(self, rec: _Rec, node: Node) -> bool:
        if _need(rec.task.gpu_milli) > int(node.gpus):
            return False
        if any(v > float(_cap(node).get(r, 0.0)) for r, v in rec.demand.items()):
            return False
        labels = set(node.labels)
        return all(labels & g for g in self._groups[rec.group])

    def _add(self, node: Node) -> None:
        if node.name in self._nodes:
            raise self.error(f"duplicate node name {node.name!r}")
        self._releases += 1
        if isinstance(node.gpus, bool) or not isinstance(node.gpus, (int, np.integer)) \
                or not 0 <= node.gpus <= 62:
            raise self.error(f"gpus of node {node.name!r} must be an integer in 0..62, got "
                             f"{node.gpus!r}")
        self._nodes[node.name] = node
        for r in _cap(node):
            if str(r) not in self._resources:
                self._resources.append(str(r))
        self._state_ok = False

    def _row(self, rec: _Rec) -> np.ndarray:
        return np.array([rec.demand.get(r, 0.0) for r in self._resources], np.float64)

    def _build_state(self) -> None:
        """Arrays of the current nodes, with every running task committed."""
        nodes = list(self._nodes.values())
        M, R = len(nodes), len(self._resources)
        width = max(1, max(int(n.gpus) for n in nodes))
        cap = np.array([[float(_cap(n).get(r, 0.0)) for r in self._resources] for n in nodes],
                       np.float64).reshape(M, R)
        self._free = cap.copy()
        self._left = np.full((M, width), DEVICE_MILLI, np.int64)
        self._gpus = np.array([int(n.gpus) for n in nodes], np.int64)
        self._tags = np.zeros((M, width + 1), np.int64)
        self._group_ok = np.array([[all(set(n.labels) & g for g in groups) for n in nodes]
                                   for groups in self._groups], bool).reshape(-1, M)
        self._cpu_col = next((k for k, r in enumerate(self._resources)
                              if r.lower().startswith("cpu")), -1)
        cap_cpu = float(cap[:, self._cpu_col].max()) if self._cpu_col >= 0 and M else 1.0
        self._sc = np.array([max(cap_cpu, 1.0), float(DEVICE_MILLI * width)])
        self._order = np.random.default_rng(self.seed).permutation(M).astype(np.int64)
        self._scratch = np.empty(M, np.int64)
        index = {n.name: j for j, n in enumerate(nodes)}
        for t, node in self._running.items():
            rec = self._tasks[t]
            K.commit(self._free, self._left, self._tags, index[node], rec.mask, self._row(rec),
                     int(rec.task.gpu_milli), _need(rec.task.gpu_milli))
        self._state_ok = True

    def _current_typical(self) -> Typical:
        if self._workload is not None:
            assert self._typical is not None
            return self._typical
        n = len(self._tasks)
        if self._typical is None or n >= 2 * self._typical_at:
            self._typical = self._typical_of(list(self._tasks.values()))
            self._typical_at = n
        return self._typical

    def _typical_of(self, recs: list[_Rec]) -> Typical:
        col = next((r for r in self._resources if r.lower().startswith("cpu")), None)
        cpu = np.array([rec.demand.get(col, 0.0) if col else 0.0 for rec in recs])
        g = np.array([rec.task.gpu_milli for rec in recs], np.int64)
        group = np.array([rec.group for rec in recs], np.int64)
        return typical_from_kinds(cpu, g, group, np.dtype(np.float64))

    def _running_rec(self, name: str, what: str) -> _Rec:
        rec = self._tasks.get(name)
        if rec is None:
            raise self.error(f"{what}: unknown task {name!r}")
        if rec.status != "running":
            raise self.error(f"{what}: task {name!r} is not running (it is {rec.status})")
        return rec

    def _release(self, rec: _Rec) -> None:
        """Give a running task's resources and devices back; it is queued again."""
        node = rec.node
        assert node is not None
        del self._running[rec.task.name]
        self._releases += 1
        if self._state_ok and node in self._nodes:
            j = list(self._nodes).index(node)
            g = int(rec.task.gpu_milli)
            self._free[j] += self._row(rec)
            for d in range(self._left.shape[1]):
                if rec.mask >> d & 1:
                    self._left[j, d] += g if g < DEVICE_MILLI else DEVICE_MILLI
            if g:
                self._tags[j, 0 if g < DEVICE_MILLI else _need(g)] -= 1
        rec.status, rec.node, rec.mask, rec.tried = "queued", None, 0, -1


def _cap(node: Node) -> Mapping[str, float]:
    assert isinstance(node.capacity, Mapping)  # checked by the Balancer
    return node.capacity


def _need(g: int) -> int:
    return 0 if g == 0 else (1 if g < DEVICE_MILLI else g // DEVICE_MILLI)


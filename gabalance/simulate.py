"""A discrete-event simulator that replays a job trace on a cluster under an online policy.

Jobs arrive at their trace times with runtime *estimates* per node; each job's actual runtime
is its estimate times a log-normal noise factor (median 1, ``sigma``; one draw per job, the
same under every policy), times, with ``type_sigma > 0``, a systematic factor per (job kind,
node type) that the :class:`~gabalance.online.Balancer` can learn. Policies:

``ga``
    The :class:`gabalance.online.Balancer`: re-plans (GA, ``time_budget`` seconds) on every
    batch of events, dispatches queued jobs when their planned start comes.
``round_robin``, ``least_connections``, ``least_loaded``
    Classic load balancers, deciding **at arrival**: each job is routed to one node, whose
    FIFO queue it joins (round robin: the next node in turn that can run it; least
    connections: the node with the fewest jobs running or queued; least loaded: the node
    where the job would finish earliest given the expected remaining work of the jobs
    running and queued there -- the response-time rule of
    :func:`gabalance.baselines.least_loaded`). A node starts its queued jobs in order; a job
    whose dependencies are unfinished is skipped, the first ready job that does not fit
    blocks the ones behind it (no backfilling).

All events at one instant are handled together, then the policy dispatches once. Capacity is
checked by the simulator at every start (a policy that overloads a node is a bug and raises).
Transfer times of dependency data are not simulated.
"""

from __future__ import annotations

import dataclasses
import heapq
import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gabalance.online.balancer import Balancer, node_type, type_of_name
from gabalance.problem import Node, Problem, Task
from gabalance.profile import NodeProfile

__all__ = [
    "POLICIES",
    "Job",
    "SimResult",
    "Trace",
    "compare",
    "format_table",
    "gavel_trace",
    "generated_trace",
    "load_trace",
    "pollux_trace",
    "simulate",
    "trace_from_problem",
]

POLICIES = ("ga", "round_robin", "least_connections", "least_loaded")
_TOL = 1e-9


@dataclasses.dataclass(frozen=True)
class Job:
    """One job of a trace.

    ``runtime`` maps node names or node types to the *estimated* seconds (a node missing:
    the job cannot run there); ``demand`` maps resources to amounts; ``kind`` groups jobs
    for runtime learning (default the name); ``after`` names jobs that must finish first.
    """

    name: str
    arrival: float
    runtime: Mapping[str, float]
    demand: Mapping[str, float] = dataclasses.field(default_factory=dict)
    kind: str | None = None
    weight: float = 1.0
    after: tuple[str, ...] = ()
    requires: tuple[Any, ...] = ()


@dataclasses.dataclass
class Trace:
    """Jobs (sorted by arrival) and the cluster they run on."""

    name: str
    jobs: list[Job]
    nodes: list[Node]
    info: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Trace({self.name!r}, {len(self.jobs)} jobs, {len(self.nodes)} nodes)"


@dataclasses.dataclass
class SimResult:
    """What one simulation measured.

    ``jct`` is finish - arrival per job; ``mean_jct`` / ``p95_jct`` its mean and 95th
    percentile (linear interpolation); ``makespan`` last finish - first arrival;
    ``utilization`` per resource, the used resource-seconds over capacity x makespan;
    ``replan_median`` / ``replan_p95`` the median and 95th percentile of the re-plan wall
    times (seconds; NaN for policies that do not re-plan); ``log`` holds
    ``(time, "start" | "finish", job, node)`` in event order.
    """

    policy: str
    trace: str
    jobs: int
    mean_jct: float
    p95_jct: float
    makespan: float
    utilization: dict[str, float]
    replans: int
    replan_median: float
    replan_p95: float
    wall: float
    jct: dict[str, float]
    assignment: dict[str, str]
    log: list[tuple[float, str, str, str]]
    seed: int | None = None
    sigma: float = 0.0

    def summary(self) -> dict[str, Any]:
        """The scalar figures as a JSON-ready dict."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in dataclasses.asdict(self).items()
                if k not in ("jct", "assignment", "log")}


def format_table(results: Sequence[SimResult]) -> str:
    """One line per policy: mean and p95 JCT, makespan (hours when the figures are large),
    utilization of the first resource, re-plan latency in ms, wall time."""
    if not results:
        return ""
    big = max(r.makespan for r in results) > 36000
    unit, scale = ("h", 3600.0) if big else ("s", 1.0)
    util0 = results[0].utilization
    res0 = "gpu" if "gpu" in util0 else next(iter(util0), "")
    head = (f"{'policy':<20} {'jobs':>5} {'mean JCT ' + unit:>12} {'p95 JCT ' + unit:>12} "
            f"{'makespan ' + unit:>12} {'util ' + res0:>9} {'replan p50 ms':>14} "
            f"{'p95 ms':>8} {'wall s':>8}")
    lines = [head, "-" * len(head)]
    best = min(r.mean_jct for r in results)
    for r in results:
        u = r.utilization.get(res0, math.nan)

        def ms(v: float) -> str:
            return "-" if math.isnan(v) else f"{1000 * v:.1f}"

        mark = " *" if r.mean_jct == best and len(results) > 1 else ""
        lines.append(f"{r.policy:<20} {r.jobs:>5} {r.mean_jct / scale:>12.4g} "
                     f"{r.p95_jct / scale:>12.4g} {r.makespan / scale:>12.4g} {u:>9.3f} "
                     f"{ms(r.replan_median):>14} {ms(r.replan_p95):>8} {r.wall:>8.1f}{mark}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- traces


def trace_from_problem(problem: Problem, *, limit: int | None = None) -> Trace:
    """A trace from a schedule problem: ``release`` is the arrival time, the runtime matrix
    the estimates, dependencies the ``after`` lists (their data are ignored), the nodes the
    cluster. A job's kind is ``info["job_types"][i]`` (with the GPU count appended when the
    problem has a ``gpu`` resource) when the problem records it, else the task name without
    a trailing ``-<digits>``."""
    if problem.per_node_demand:
        raise ValueError(f"problem {problem.name!r} has per-node demands, which the "
                         "simulator does not take")
    res = problem.resources
    nodes = [Node(name=n, capacity={r: _num(problem.capacity[j, k]) for k, r in enumerate(res)},
                  speed=float(problem.speed[j]), labels=tuple(sorted(problem.node_labels[j])))
             for j, n in enumerate(problem.node_names)]
    kinds = problem.info.get("job_types")
    gpu = res.index("gpu") if "gpu" in res else None
    preds = problem.predecessors
    order = np.argsort(problem.release, kind="stable")
    if limit is not None:
        keep = set(order[:limit].tolist())
        order = order[:limit]
    jobs = []
    for i in order.tolist():
        name = problem.task_names[i]
        kind = type_of_name(name)
        if isinstance(kinds, list) and i < len(kinds) and kinds[i]:
            kind = str(kinds[i])
            if gpu is not None:
                kind += f" x{_num(problem.demand[i, gpu])}"
        after = tuple(problem.task_names[int(p)] for p in preds[i]
                      if limit is None or int(p) in keep)
        runtime = {n: float(problem.runtime_of(i, j)) for j, n in enumerate(problem.node_names)
                   if math.isfinite(problem.runtime_of(i, j))}
        jobs.append(Job(name=name, arrival=float(problem.release[i]), runtime=runtime,
                        demand={r: _num(problem.demand[i, k]) for k, r in enumerate(res)
                                if problem.demand[i, k] > 0},
                        kind=kind, weight=float(problem.weight[i]), after=after,
                        requires=tuple(sorted(g) for g in problem.task_requires[i])))
    return Trace(problem.name, jobs, nodes, {"source": problem.info.get("source", ""),
                                             "problem": problem.name})


def _num(v: Any) -> float | int:
    v = v.item() if isinstance(v, np.generic) else v
    return int(v) if float(v).is_integer() else float(v)


def gavel_trace(throughputs: str | os.PathLike[str], trace: str | os.PathLike[str], *,
                jobs: int | None = None, cluster: Mapping[str, int] | None = None,
                gpus_per_node: int = 4) -> Trace:
    """A Gavel job trace (``physical_cluster`` or the Philly-derived ``msr`` traces, which
    carry arrival times) on servers of ``gpus_per_node`` GPUs (default 36 K80, 36 P100,
    36 V100), read by :func:`gabalance.io.read_gavel`. Jobs needing more GPUs than a server
    holds, or without a measured throughput, are dropped; ``jobs`` keeps the first ones."""
    from gabalance.io import read_gavel

    p = read_gavel(throughputs, trace, cluster=cluster, gpus_per_node=gpus_per_node,
                   oversize="drop", limit=jobs)
    out = trace_from_problem(p)
    out.info.update({k: p.info[k] for k in ("dropped_oversize", "dropped_no_throughput",
                                            "trace_file", "throughputs_file")})
    return out


def pollux_trace(workload: str | os.PathLike[str], *, jobs: int | None = None,
                 cluster: Mapping[str, int] | None = None, gpus_per_node: int = 4) -> Trace:
    """A Pollux workload (:func:`gabalance.io.read_pollux`) as a trace."""
    from gabalance.io import read_pollux

    p = read_pollux(workload, cluster=cluster, gpus_per_node=gpus_per_node, limit=jobs)
    out = trace_from_problem(p)
    out.info["capped"] = p.info["capped"]
    return out


def generated_trace(n_nodes: int = 16, n_jobs: int = 100, *, seed: int = 0,
                    dependencies: bool = False, **kwargs: Any) -> Trace:
    """A trace from :func:`gabalance.generate.ai_cluster` (release times are arrivals)."""
    from gabalance.generate import ai_cluster

    p = ai_cluster(n_nodes, n_jobs, seed=seed, dependencies=dependencies,
                   objective="weighted_completion", **kwargs)
    return trace_from_problem(p)


def load_trace(source: str | os.PathLike[str], *, data: str | os.PathLike[str] | None = None,
               jobs: int | None = None, throughputs: str | os.PathLike[str] | None = None
               ) -> Trace:
    """A trace from a file: a Gavel ``.trace`` (its throughputs file is ``throughputs``, else
    ``simulation_throughputs.json`` in a folder above the trace or under ``data``), a Pollux
    workload ``.csv``, a problem JSON file or bundled example name (``release`` = arrival),
    or ``generated[:N]`` (an ``ai_cluster`` of 16 nodes and N jobs, default 100)."""
    from gabalance import examples  # type: ignore[attr-defined]
    from gabalance.io import data_dir

    text = os.fspath(source)
    if text.startswith("generated"):
        _, _, n = text.partition(":")
        if n and not n.isdigit():
            raise ValueError(f"generated:N needs a whole number of jobs, got {n!r}")
        return generated_trace(n_jobs=int(n or 100) if jobs is None else jobs)
    if text in examples.names():
        return trace_from_problem(examples.load(text), limit=jobs)
    path = Path(text)
    if not path.is_file():
        raise ValueError(f"trace {text!r} is not a file, a bundled example "
                         f"({', '.join(examples.names())}) or generated[:N]")
    if path.suffix == ".trace":
        if throughputs is None:
            where = [*path.resolve().parents]
            found = data_dir(data)
            if found is not None:
                where.append(found / "gavel_throughputs" / "scheduler")
            for folder in where:
                if (folder / "simulation_throughputs.json").is_file():
                    throughputs = folder / "simulation_throughputs.json"
                    break
            else:
                raise ValueError(f"no simulation_throughputs.json found above {text!r}; pass "
                                 "the Gavel throughputs file")
        return gavel_trace(throughputs, path, jobs=jobs)
    if path.suffix == ".csv":
        return pollux_trace(path, jobs=jobs)
    return trace_from_problem(Problem.from_json(path), limit=jobs)


# --------------------------------------------------------------------------- policies


def _requires_ok(job: Job, labels: Iterable[str]) -> bool:
    labels = set(labels)
    return all((({g} if isinstance(g, str) else set(g)) & labels) for g in job.requires)


class _Cluster:
    """Node state shared by the simulator's policies: estimates, eligibility, free room."""

    def __init__(self, nodes: Sequence[Node]) -> None:
        self.nodes = list(nodes)
        self.names = [n.name for n in self.nodes]
        self.types = [node_type(n) for n in self.nodes]
        self.index = {n: j for j, n in enumerate(self.names)}
        self.used: list[dict[str, float]] = [{} for _ in self.nodes]
        self.caps: list[dict[str, float]] = []
        for n in self.nodes:
            if not isinstance(n.capacity, Mapping):
                raise ValueError(f"capacity of node {n.name!r} must be a mapping resource -> "
                                 "amount")
            self.caps.append({str(r): float(v) for r, v in n.capacity.items()})

    def estimate(self, job: Job, j: int) -> float:
        rt = job.runtime
        v = rt.get(self.names[j], rt.get(self.types[j]))
        return math.inf if v is None else float(v)

    def eligible(self, job: Job, j: int) -> bool:
        n = self.nodes[j]
        return (math.isfinite(self.estimate(job, j)) and _requires_ok(job, n.labels)
                and all(v <= self.caps[j].get(r, 0.0) + _TOL for r, v in job.demand.items()))

    def room(self, job: Job, j: int) -> bool:
        cap, used = self.caps[j], self.used[j]
        return all(used.get(r, 0.0) + v <= float(cap.get(r, 0)) + _TOL
                   for r, v in job.demand.items())

    def occupy(self, job: Job, j: int, sign: float) -> None:
        used = self.used[j]
        for r, v in job.demand.items():
            used[r] = used.get(r, 0.0) + sign * v


class _Policy:
    replan_latency: list[float]

    def submit(self, job: Job, now: float) -> None:
        raise NotImplementedError  # pragma: no cover

    def finished(self, job: Job, node: str, now: float, runtime: float) -> None:
        raise NotImplementedError  # pragma: no cover

    def dispatch(self, now: float) -> list[tuple[str, str]]:
        raise NotImplementedError  # pragma: no cover

    def wakeup(self, now: float) -> float | None:
        return None


class _BalancerPolicy(_Policy):
    def __init__(self, nodes: Sequence[Node], options: dict[str, Any]) -> None:
        self.balancer = Balancer(nodes, **options)
        self.replan_latency = self.balancer.replan_latency

    def submit(self, job: Job, now: float) -> None:
        self.balancer.submit(Task(name=job.name, demand=dict(job.demand),
                                  runtime=dict(job.runtime), weight=job.weight,
                                  requires=job.requires, after=job.after),
                             now=now, kind=job.kind)

    def finished(self, job: Job, node: str, now: float, runtime: float) -> None:
        self.balancer.finished(job.name, now=now, runtime=runtime)

    def dispatch(self, now: float) -> list[tuple[str, str]]:
        return self.balancer.dispatch(now)

    def wakeup(self, now: float) -> float | None:
        return self.balancer.next_start(now)


class _QueuePolicy(_Policy):
    """Route at arrival to one node's FIFO queue (round robin, least connections or least
    loaded = earliest expected finish)."""

    def __init__(self, nodes: Sequence[Node], rule: str, jobs: Mapping[str, Job]) -> None:
        self.c = _Cluster(nodes)
        self.rule = rule
        self.jobs = jobs
        self.queue: list[list[str]] = [[] for _ in nodes]
        self.running: list[dict[str, tuple[float, float]]] = [{} for _ in nodes]  # start, exp
        self.done: set[str] = set()
        self.next = 0
        self.replan_latency = []

    def submit(self, job: Job, now: float) -> None:
        c = self.c
        ok = [j for j in range(len(c.nodes)) if c.eligible(job, j)]
        if not ok:
            raise ValueError(f"job {job.name!r} fits no node")
        if self.rule == "round_robin":
            M = len(c.nodes)
            j = min(ok, key=lambda j: (j - self.next) % M)
            self.next = (j + 1) % M
        elif self.rule == "least_connections":
            j = min(ok, key=lambda j: (len(self.queue[j]) + len(self.running[j]), j))
        else:
            j = min(ok, key=lambda j: (self._finish_if_added(job, j, now), j))
        self.queue[j].append(job.name)

    def _finish_if_added(self, job: Job, j: int, now: float) -> float:
        """Expected finish of ``job`` appended to node j's FIFO queue (estimates only)."""
        c = self.c
        res = list(dict.fromkeys([*c.caps[j], *job.demand]))
        cap = [c.caps[j].get(r, 0.0) for r in res]
        prof = NodeProfile(len(res))
        for name, (start, exp) in self.running[j].items():
            rem = max(exp - (now - start), 0.1 * exp)
            if rem > 0:
                prof.occupy(0.0, rem, [float(self.jobs[name].demand.get(r, 0)) for r in res])
        last = 0.0
        for name in [*self.queue[j], job.name]:
            q = self.jobs[name]
            p = c.estimate(q, j)
            need = [float(q.demand.get(r, 0)) for r in res]
            last = prof.earliest_start(last, p, need, cap) if p > 0 else last
            if p > 0:
                prof.occupy(last, last + p, need)
        return last + c.estimate(job, j)

    def finished(self, job: Job, node: str, now: float, runtime: float) -> None:
        j = self.c.index[node]
        del self.running[j][job.name]
        self.c.occupy(job, j, -1.0)
        self.done.add(job.name)

    def dispatch(self, now: float) -> list[tuple[str, str]]:
        out = []
        c = self.c
        for j, queue in enumerate(self.queue):
            started = []
            for name in queue:
                job = self.jobs[name]
                if any(p not in self.done for p in job.after):
                    continue
                if not c.room(job, j):
                    break
                c.occupy(job, j, 1.0)
                self.running[j][name] = (now, c.estimate(job, j))
                started.append(name)
                out.append((name, c.names[j]))
            if started:
                gone = set(started)
                self.queue[j] = [n for n in queue if n not in gone]
        return out


# --------------------------------------------------------------------------- the simulator


def simulate(trace: Trace, policy: str = "ga", *, sigma: float = 0.25, seed: int | None = 0,
             time_budget: float = 0.05, type_sigma: float = 0.0,
             balancer: Mapping[str, Any] | None = None) -> SimResult:
    """Replay ``trace`` under ``policy`` (one of :data:`POLICIES`; ``-`` may replace ``_``).

    Parameters
    ----------
    trace : Trace
    policy : str
    sigma : float, default 0.25
        Log-normal sigma of the per-job noise: actual = estimate x exp(N(0, sigma)).
    seed : int or None, default 0
        Seeds the noise (common to all policies) and the balancer.
    time_budget : float, default 0.05
        Seconds per re-plan of the ``ga`` policy.
    type_sigma : float, default 0
        Log-normal sigma of a systematic factor per (job kind, node type).
    balancer : dict, optional
        More keyword arguments of :class:`~gabalance.online.Balancer` (``method``,
        ``params``, ``max_generations``, ``migration_cost``, ``smoothing``, ...).

    Returns
    -------
    SimResult
    """
    policy = policy.replace("-", "_")
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r} (choose from {', '.join(POLICIES)})")
    if not math.isfinite(sigma) or sigma < 0 or not math.isfinite(type_sigma) or type_sigma < 0:
        raise ValueError("sigma and type_sigma must be finite and >= 0")
    jobs = {j.name: j for j in trace.jobs}
    if len(jobs) != len(trace.jobs):
        raise ValueError(f"trace {trace.name!r} has duplicate job names")
    c = _Cluster(trace.nodes)
    rng = np.random.default_rng(seed)
    noise = dict(zip(jobs, np.exp(rng.normal(0.0, sigma, len(jobs))).tolist()))
    kinds = sorted({j.kind or j.name for j in trace.jobs})
    types = sorted(set(c.types))
    bias_draw = np.exp(rng.normal(0.0, type_sigma, (len(kinds), len(types))))
    bias = {(k, t): float(bias_draw[a, b]) for a, k in enumerate(kinds)
            for b, t in enumerate(types)}
    pol: _Policy
    if policy == "ga":
        opts = {"time_budget": time_budget, "seed": seed, **(balancer or {})}
        pol = _BalancerPolicy(trace.nodes, opts)
    else:
        pol = _QueuePolicy(trace.nodes, policy, jobs)

    t_wall = time.perf_counter()
    events: list[tuple[float, int, int, str]] = []  # time, order (finish first), seq, job
    seq = 0
    for jb in trace.jobs:
        if not math.isfinite(jb.arrival) or jb.arrival < 0:
            raise ValueError(f"job {jb.name!r} has arrival {jb.arrival!r}")
        events.append((jb.arrival, 1, seq, jb.name))
        seq += 1
    heapq.heapify(events)
    ticks: set[float] = set()
    where: dict[str, int] = {}
    start: dict[str, float] = {}
    finish: dict[str, float] = {}
    actual: dict[str, float] = {}
    log: list[tuple[float, str, str, str]] = []
    while events:
        now = events[0][0]
        while events and events[0][0] == now:
            _, what, _, name = heapq.heappop(events)
            if what == 0:  # finish
                k = where[name]
                c.occupy(jobs[name], k, -1.0)
                finish[name] = now
                log.append((now, "finish", name, c.names[k]))
                pol.finished(jobs[name], c.names[k], now, actual[name])
            elif what == 1:
                pol.submit(jobs[name], now)
            # what == 2: a wake-up tick, nothing to do but dispatch
        ticks.discard(now)
        for name, node in pol.dispatch(now):
            job, k = jobs[name], c.index[node]
            if name in start:
                raise RuntimeError(f"policy {policy!r} started job {name!r} twice")
            if any(p not in finish for p in job.after):
                raise RuntimeError(f"policy {policy!r} started job {name!r} before its "
                                   "dependencies finished")
            if not c.eligible(job, k) or not c.room(job, k):
                raise RuntimeError(f"policy {policy!r} started job {name!r} on node {node!r}, "
                                   "which has no room for it")
            c.occupy(job, k, 1.0)
            where[name], start[name] = k, now
            kind = job.kind or job.name
            actual[name] = c.estimate(job, k) * noise[name] * bias[(kind, c.types[k])]
            log.append((now, "start", name, node))
            heapq.heappush(events, (now + actual[name], 0, seq, name))
            seq += 1
        wake = pol.wakeup(now)
        if wake is not None and wake > now and wake not in ticks:
            ticks.add(wake)
            heapq.heappush(events, (wake, 2, seq, ""))
            seq += 1
    missing = [n for n in jobs if n not in finish]
    if missing:
        raise RuntimeError(f"simulation of {trace.name!r} under {policy!r} stalled: "
                           f"{len(missing)} jobs never finished (first: {missing[0]!r})")
    return _result(trace, policy, c, pol, jobs, finish, actual, where, log,
                   wall=time.perf_counter() - t_wall, seed=seed, sigma=sigma)


def _result(trace: Trace, policy: str, c: _Cluster, pol: _Policy, jobs: dict[str, Job],
            finish: dict[str, float], actual: dict[str, float], where: dict[str, int],
            log: list[tuple[float, str, str, str]], *, wall: float, seed: int | None,
            sigma: float) -> SimResult:
    """The replay's figures: job completion times, makespan, utilization per resource
    (busy resource-time over capacity-time) and the policy's re-planning latencies."""
    jct = {n: finish[n] - jobs[n].arrival for n in jobs}
    values = np.array(list(jct.values()))
    t0 = min(j.arrival for j in trace.jobs)
    makespan = max(finish.values()) - t0
    util = {}
    for r in dict.fromkeys(r for cap in c.caps for r in cap):
        total = sum(cap.get(r, 0.0) for cap in c.caps)
        used = sum(float(jobs[n].demand.get(r, 0)) * actual[n] for n in jobs)
        util[r] = used / (total * makespan) if total > 0 and makespan > 0 else math.nan
    lat = np.array(pol.replan_latency)
    return SimResult(
        policy=policy, trace=trace.name, jobs=len(jobs), mean_jct=float(values.mean()),
        p95_jct=float(np.percentile(values, 95)), makespan=float(makespan), utilization=util,
        replans=len(lat), replan_median=float(np.median(lat)) if len(lat) else math.nan,
        replan_p95=float(np.percentile(lat, 95)) if len(lat) else math.nan, wall=wall,
        jct=jct, assignment={n: c.names[where[n]] for n in jobs}, log=log, seed=seed,
        sigma=sigma)


def compare(trace: Trace, policies: Sequence[str] = POLICIES, **kwargs: Any
            ) -> list[SimResult]:
    """:func:`simulate` under each policy (same noise), in the order given."""
    return [simulate(trace, p, **kwargs) for p in policies]


def save_results(path: str | os.PathLike[str], results: Sequence[SimResult],
                 **meta: Any) -> None:
    """Write the results' summaries (and ``meta``) as JSON."""
    doc = {**meta, "results": [r.summary() for r in results]}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(doc, indent=1) + "\n")

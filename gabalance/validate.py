"""An independent solution checker: every broken constraint, by name.

It shares no code with the backends: loads and time profiles are rebuilt here from the
problem's public fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gabalance.arrays import to_host
from gabalance.problem import SCHEDULE_OBJECTIVES, Problem, ProblemError

__all__ = ["Validation", "validate"]

_RTOL = 1e-9


@dataclass
class Validation:
    """Result of :func:`validate`.

    Attributes
    ----------
    problems : list of str
        One message per broken constraint (empty when the solution is valid).
    finish : ndarray, shape (N,), float64, or None
        Finish times implied by the start times (schedule checks only).

    Examples
    --------
    >>> import numpy as np
    >>> import gabalance as gb
    >>> problem = gb.Problem(capacity=[[4]], demand=[[3], [2]])   # 2 tasks, 1 node of 4
    >>> v = gb.validate(problem, np.array([0, 0]))
    >>> v.ok, v.problems
    (False, ["node 'n0' over capacity in 'r0': load 5 > 4"])
    """

    problems: list[str] = field(default_factory=list)
    finish: np.ndarray | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def __bool__(self) -> bool:
        return self.ok

    def raise_if_invalid(self) -> None:
        """Raise ``ValueError`` listing every problem, if there is one."""
        if self.problems:
            raise ValueError("invalid solution:\n  " + "\n  ".join(self.problems))

    def __str__(self) -> str:
        return "valid" if self.ok else "\n".join(self.problems)


def _validate_iv(problem: Any, assignment: Any, start: Any, devices: Any = None
                 ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a gabalance.Problem, got {type(problem).__name__}")
    N, M = problem.n_tasks, problem.n_nodes
    x = to_host(assignment)  # a device array (CuPy) is checked on the host
    if x.shape != (N,):
        raise ProblemError(f"assignment must have shape ({N},), got shape {x.shape}")
    if x.dtype.kind not in "iu":
        raise ProblemError(f"assignment must hold integer node indices, got dtype {x.dtype}")
    shared = problem.has_devices or problem.waiting_allowed
    bad = np.flatnonzero((x < (-1 if shared else 0)) | (x >= M))
    if bad.size:
        i = int(bad[0])
        raise ProblemError(f"assignment[{i}] = {x[i]} (task {problem.task_names[i]!r}) is not a "
                           f"node index; the problem has {M} nodes"
                           + (" (-1: the task waits)" if shared else ""))
    if start is None and problem.objective in SCHEDULE_OBJECTIVES:
        raise ProblemError(f"problem {problem.name!r} is a schedule (objective "
                           f"{problem.objective!r}): pass its start times, e.g. "
                           "validate(problem, res.x, res.start); without them every task "
                           "would be checked as running at once")
    masks = None
    if devices is not None:
        if not problem.has_devices:
            raise ProblemError("devices are only used when the problem has GPU devices")
        masks = to_host(devices)
        if masks.shape != (N,) or masks.dtype.kind not in "iu":
            raise ProblemError(f"devices must hold one integer device mask per task, shape "
                               f"({N},), got dtype {masks.dtype} shape {masks.shape}")
        masks = masks.astype(np.int64)
    elif problem.gpu_milli[x >= 0].any():
        raise ProblemError("the problem has GPU devices: pass devices= (one device mask per "
                           "task, e.g. res.devices) to check them")
    if shared and start is not None:
        raise ProblemError("GPU devices and waiting tasks are checked as a placement; start "
                           "times are not used")
    s = None
    if start is not None:
        s = to_host(start).astype(np.float64)
        if s.shape != (N,):
            raise ProblemError(f"start must have shape ({N},), got shape {s.shape}")
        if np.isnan(s).any():
            raise ProblemError(f"start of task {problem.task_names[int(np.isnan(s).argmax())]!r}"
                               " is NaN")
    return x.astype(np.int64), s, masks


def _fmt(v: Any) -> str:
    v = float(v)
    return str(int(v)) if v.is_integer() else repr(v)


def _over(use: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Where ``use`` exceeds ``cap``: exactly for integers, beyond a relative 1e-9 for floats
    (float loads depend on the order they were added in)."""
    if use.dtype.kind == "f":
        return use > cap + _RTOL * np.maximum(1.0, np.abs(cap))
    return use > cap


def validate(problem: Problem, assignment: Any, start: Any = None, devices: Any = None
             ) -> Validation:
    """Check a solution against every constraint and name each one it breaks.

    Independent of the evaluation kernels: plain loops over tasks, nodes and time, so it
    can judge what any method returns.

    Parameters
    ----------
    problem : Problem
    assignment : array_like, shape (N,), int
        Node of each task (NumPy or CuPy; a CuPy array is copied to the host).
    start : array_like, shape (N,), float, optional
        Start times. Without them the solution is a placement: the summed demand on each
        node must fit its capacity. With them it is a schedule: release times, dependencies
        (finish + transfer time), and capacity at every instant are checked. Required when
        the problem's own objective is a schedule objective (a ``ProblemError`` says so):
        its tasks do not all run at once, so a placement check would report overloads
        that no schedule has.
    devices : array_like, shape (N,), int, optional
        Problems with GPU devices (required there when a placed task asks for GPU): the
        device mask of every task (bit d = device d of its node). Each device must hold at
        most 1000 milli-GPU; a share names one device, a task of k whole devices k of them.
        A task may wait (node -1) where ``problem.may_wait`` allows.

    Returns
    -------
    Validation
        ``ok`` and the list ``problems``.

    Examples
    --------
    >>> import numpy as np
    >>> import gabalance as gb
    >>> from gabalance import examples
    >>> problem = examples.load("scenario")
    >>> res = gb.solve(problem, max_generations=20, seed=0)
    >>> print(gb.validate(problem, res.x, res.start))
    valid
    >>> report = gb.validate(problem, np.zeros(5, np.int32), res.start)   # all on cpu-1
    >>> report.ok
    False
    >>> print(report.problems[0])
    task 'T1' on node 'cpu-1': the task cannot run there (infinite runtime)
    """
    x, s, masks = _validate_iv(problem, assignment, start, devices)
    out = Validation()
    names, nodes, res = problem.task_names, problem.node_names, problem.resources
    N = problem.n_tasks
    for w in np.flatnonzero((x < 0) & ~problem.may_wait):
        out.problems.append(f"task {names[w]!r} waits (is not placed) but may not")

    # eligibility, reason by reason
    group_ok, task_group = problem.label_ok()
    allowed_here = [True] * N
    for i in range(N):
        j = int(x[i])
        if j < 0:
            continue
        where = f"task {names[i]!r} on node {nodes[j]!r}"
        before = len(out.problems)
        if not group_ok[task_group[i], j]:
            need = [g for g in problem.task_requires[i] if not g & problem.node_labels[j]]
            out.problems.append(f"{where}: node lacks required label "
                                f"{'|'.join(sorted(need[0]))!r}")
        if not np.isfinite(problem.runtime_of(i, j)):
            out.problems.append(f"{where}: the task cannot run there (infinite runtime)")
        d = problem.task_demand(i, j)
        for k in np.flatnonzero(d > problem.capacity[j]):
            out.problems.append(f"{where}: demand {_fmt(d[k])} of {res[k]!r} exceeds the node's "
                                f"capacity {_fmt(problem.capacity[j, k])}")
        allowed_here[i] = len(out.problems) == before

    if s is None:
        load = np.zeros(problem.capacity.shape, dtype=problem.capacity.dtype)
        for i in map(int, np.flatnonzero(x >= 0)):
            load[x[i]] += problem.task_demand(i, int(x[i]))
        for j, k in np.argwhere(_over(load, problem.capacity)):
            out.problems.append(f"node {nodes[j]!r} over capacity in {res[k]!r}: load "
                                f"{_fmt(load[j, k])} > {_fmt(problem.capacity[j, k])}")
        if masks is not None:
            _check_devices(problem, x, masks, out)
        return out

    runtime = np.array([problem.runtime_of(i, int(x[i])) for i in range(N)])
    finish = s + runtime
    out.finish = finish
    for early in np.flatnonzero(s < problem.release - _RTOL * np.maximum(1, problem.release)):
        out.problems.append(f"task {names[early]!r} starts at {_fmt(s[early])} before its "
                            f"release time {_fmt(problem.release[early])}")
    bw = problem.bandwidth
    for e, (p, q) in enumerate(problem.edges.tolist()):
        transfer = 0.0
        if x[p] != x[q] and problem.data[e] != 0:
            link = bw if np.ndim(bw) == 0 else bw[x[p], x[q]]
            transfer = problem.data[e] / link
        ready = finish[p] + transfer
        if not np.isfinite(ready):
            continue  # the predecessor cannot run on its node: reported above
        if s[q] < ready - _RTOL * max(1.0, abs(ready)):
            extra = f" plus transfer {_fmt(transfer)}" if transfer else ""
            out.problems.append(f"task {names[q]!r} starts at {_fmt(s[q])} before its "
                                f"predecessor {names[p]!r} finishes at {_fmt(finish[p])}{extra}")

    # capacity at every instant: usage only rises at start times, so check each start;
    # tasks that may not run on their node occupy nothing (they are reported above)
    for j in range(problem.n_nodes):
        on = [int(i) for i in np.flatnonzero(x == j) if runtime[i] > 0 and allowed_here[i]]
        for t in sorted({float(s[i]) for i in on}):
            active = [i for i in on if s[i] <= t < finish[i]]
            use = np.zeros(problem.n_resources, problem.capacity.dtype)
            for i in active:
                use = use + problem.task_demand(i, j)
            for k in np.flatnonzero(_over(use, problem.capacity[j])):
                who = ", ".join(names[i] for i in active)
                out.problems.append(
                    f"node {nodes[j]!r} over capacity in {res[k]!r} at time {_fmt(t)}: "
                    f"{_fmt(use[k])} > {_fmt(problem.capacity[j, k])} (tasks {who})")
    return out


def _check_devices(problem: Problem, x: np.ndarray, masks: np.ndarray, out: Validation) -> None:
    """Every placed GPU task names as many devices of its node as it takes, and no device
    holds more than 1000 milli-GPU."""
    names, nodes = problem.task_names, problem.node_names
    on: dict[tuple[int, int], list[int]] = {}
    for i in np.flatnonzero(x >= 0):
        j, g, m = int(x[i]), int(problem.gpu_milli[i]), int(masks[i])
        where = f"task {names[i]!r} on node {nodes[j]!r}"
        if g == 0:
            if m:
                out.problems.append(f"{where}: asks for no GPU but names devices "
                                    f"{_devices(m)}")
            continue
        take = g // 1000 if g >= 1000 else 1
        have = int(problem.gpus[j])
        if take > have:
            out.problems.append(f"{where}: takes {take} GPU device(s), the node has {have}")
            continue
        listed = _devices(m)
        beyond = [d for d in listed if d >= have]
        if m < 0 or beyond:
            out.problems.append(f"{where}: names device {beyond[0] if beyond else 63}, the "
                                f"node has {have} devices (0..{have - 1})")
            continue
        if len(listed) != take:
            kind = "a share of one device" if g < 1000 else f"{take} whole device(s)"
            out.problems.append(f"{where}: names {len(listed)} device(s) {listed}, the task "
                                f"takes {kind}")
            continue
        for d in listed:
            on.setdefault((j, d), []).append(int(i))
    for (j, d), tasks in sorted(on.items()):
        used = sum(int(problem.gpu_milli[i]) if problem.gpu_milli[i] < 1000 else 1000
                   for i in tasks)
        if used > 1000:
            who = ", ".join(names[i] for i in tasks)
            out.problems.append(f"node {nodes[j]!r} GPU device {d} over-committed: {used} "
                                f"milli-GPU > 1000 (tasks {who})")


def _devices(mask: int) -> list[int]:
    return [d for d in range(64) if mask >> d & 1]

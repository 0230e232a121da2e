"""``SolveResult``: what :func:`gabalance.solve` returns, a ``scipy.optimize.OptimizeResult``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import OptimizeResult

from gabalance.problem import Problem

__all__ = ["STATUS", "SUCCESS_STATUSES", "SolveResult", "successful"]

#: meaning of ``SolveResult.status`` (0-2 as in ``scipy.optimize.milp``)
STATUS = {
    0: "optimal: proven optimal (exact methods, or the GA on the cost objective when its "
       "exact move proves it)",
    1: "limit reached: the time, generation or evaluation limit ended the search",
    2: "infeasible: no feasible solution was found (proven infeasible for exact methods)",
    3: "completed: a constructive method (baseline) ran to the end",
    4: "stopped: interrupted (Ctrl-C) or stopped by the callback; the best so far is returned",
    5: "no exact solution: the time limit came before HiGHS found a solution, or its solution "
       "overloads a node within HiGHS's tolerance (x is the best heuristic solution when there "
       "is one, else None)",
    6: "too large: the exact model would exceed its size limits (MILPParams); nothing solved",
}

#: statuses at which ``success`` is True when the solution is feasible. Unlike
#: ``scipy.optimize.milp``, whose ``success`` means "proven optimal" (status 0 only), and
#: ``scipy.optimize.minimize``, whose ``success`` is False when an iteration limit stops it, a
#: metaheuristic always ends on a limit: here ``success`` means "a feasible solution, and the
#: run ended as it was asked to" (optimal, a limit, a baseline done, or stopped by the user
#: or the callback). Test ``status == 0`` for what ``milp.success`` means.
SUCCESS_STATUSES = frozenset({0, 1, 3, 4})


def successful(status: int, violation: float) -> bool:
    """``SolveResult.success``: a feasible solution (``violation == 0``) at one of
    :data:`SUCCESS_STATUSES`."""
    return bool(violation == 0 and status in SUCCESS_STATUSES)


_FORMAT = "gabalance-result"
_ARRAYS = ("x", "priority", "start", "finish", "devices")


class SolveResult(OptimizeResult):
    """Result of :func:`gabalance.solve` (a dict with attribute access, like SciPy's).

    Attributes
    ----------
    x : ndarray, shape (N,), int32
        Node index of every task in the best solution found (-1: the task waits, objective
        ``gpu_allocation`` only).
    devices : ndarray, shape (N,), int64
        Objective ``gpu_allocation``: the GPU devices of its node each task holds, as a bit
        mask (bit d = device d; 0 for a task that asks for no GPU or waits).
    fun : float
        Its objective value, in the objective's own units and sense.
    violation : float
        Its constraint violation (0 = feasible; see docs/model.md).
    success : bool
        True when a feasible solution was found and the run ended as asked (status 0, 1, 3
        or 4: :data:`SUCCESS_STATUSES`). Not SciPy ``milp``'s meaning (proven optimal):
        test ``status == 0`` for that.
    status : int
        See :data:`STATUS`.
    message : str
    nit : int
        Generations (iterations) completed.
    nfev : int
        Full evaluations (schedule decodes) made.
    assignment : dict
        Task name -> node name (None for a task that waits).
    priority : ndarray, shape (N,), float64, or None
        Schedule mode: the priority keys that decode to ``start``/``finish`` (pass them as
        ``keys`` to :func:`gabalance.evaluate`; named so because ``res.keys`` is the dict
        method).
    start, finish : ndarray, shape (N,), float64, or None
        Schedule mode: start and finish time of every task.
    history : dict of lists
        ``generation``, ``time`` (seconds since the start), ``best`` (objective of the best so
        far), ``violation`` and ``nfev``, one entry per generation (entry 0 = first population).
    objective, sense, mode, method, backend : str
    seed : int or None
    time : float
        Wall time of the whole solve, seconds (kernel compilation included).
    compile_time : float
        Search methods: seconds of ``time`` spent compiling kernels (or loading them from
        numba's on-disk cache), which ``time_limit`` does not count; ``history["time"]`` is
        search time, without it.
    params : dict or None
        The algorithm's parameters.
    bound, gap : float
        A proven bound on the optimum (lower for "min", upper for "max") and the relative
        gap ``|fun - bound| / |fun|`` of ``fun`` to it (0: ``fun`` is proven optimal; nan
        when ``fun`` is infeasible or not finite, or no bound is known). Schedule objectives
        (``makespan``, ``weighted_completion``), every method: the lower bound of
        :func:`gabalance.schedule_bound` (critical path with unavoidable transfers, energy
        and Smith's-rule bounds on the pooled capacity; computed in milliseconds, inside
        ``time_limit``); for "milp" the larger of it and HiGHS's dual bound (nan when
        neither is known). Placement: "milp" gives HiGHS's bound; "ga" and "pso" the LP
        relaxation's value on the ``cost`` objective when it was solved, ``fun`` once
        proven optimal, else None (gap nan); the baselines give neither field.
    model : dict
        Exact method only: ``variables``, ``constraints``, ``nonzeros`` of the MILP, and in
        schedule mode ``time_unit`` (time steps per input time unit) and ``horizon``.

    Examples
    --------
    >>> import os, tempfile
    >>> import gabalance as gb
    >>> from gabalance import examples
    >>> problem = examples.load("scenario")
    >>> res = gb.solve(problem, max_generations=20, seed=0)
    >>> res.fun, res.status, res.success, res.nit
    (110.0, 1, True, 20)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "result.json")
    ...     res.save(path)
    ...     again = gb.SolveResult.load(path, problem)   # re-evaluated, re-validated
    >>> again.fun, again.assignment == res.assignment
    (110.0, True)
    """

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        out: dict[str, Any] = {"format": _FORMAT, "version": 1}
        for k, v in self.items():
            if isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, np.generic):
                v = v.item()
            out[k] = v
        return out

    def save(self, path: str | Path) -> None:
        """Write the result as JSON (reload with :meth:`load`)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n")

    @classmethod
    def load(cls, path: str | Path, problem: Problem | None = None) -> SolveResult:
        """Read a result written by :meth:`save`.

        With ``problem``, the solution is checked against it: task and node names must match,
        :func:`gabalance.validate` must agree with the stored violation, and evaluating the
        stored genome must reproduce ``fun`` (else ``ValueError`` says what differs).
        """
        doc = json.loads(Path(path).read_text())
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a gabalance result file")
        doc.pop("format")
        doc.pop("version", None)
        res = cls(doc)
        for k in _ARRAYS:
            if res.get(k) is not None:
                kind = {"x": np.int32, "devices": np.int64}.get(k, np.float64)
                res[k] = np.asarray(res[k], kind)
        if problem is not None:
            res.check(problem)
        return res

    def check(self, problem: Problem) -> None:
        """Re-validate this result against ``problem`` (see :meth:`load`); raises ValueError."""
        from gabalance.evaluate import evaluate
        from gabalance.validate import validate

        if self.get("x") is None:
            raise ValueError(f"the result holds no solution (status {self.get('status')}: "
                             f"{self.get('message')})")
        x = np.asarray(self.x)
        if x.shape != (problem.n_tasks,):
            raise ValueError(f"result has {x.shape[0]} tasks, the problem {problem.n_tasks}")
        names = self.get("assignment") or {}
        for i, task in enumerate(problem.task_names):
            node = names.get(task)
            said = problem.node_names[int(x[i])] if x[i] >= 0 else None
            if node != said:
                raise ValueError(f"task {task!r}: result says node {node!r}, its x says "
                                 f"{said!r}")
        schedule = self.get("mode") == "schedule"
        devices = self.get("devices")
        ev = evaluate(problem, x, self.get("priority") if schedule else None,
                      objective=self["objective"], sense=self.get("sense"), backend="numpy",
                      schedule=True if schedule else None, devices=devices)
        if not np.isclose(ev.objective[0], self.fun, rtol=1e-9, atol=0):
            raise ValueError(f"stored objective {self.fun} but the solution evaluates to "
                             f"{ev.objective[0]}")
        start = ev.start[0] if ev.start is not None else None
        check = validate(problem, x, start, devices=devices)
        if check.ok != (self.violation == 0):
            raise ValueError(f"stored violation {self.violation} but validate() says: {check}")

    def plot_convergence(self, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the best objective so far against generation (or time) from ``history``.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        **kwargs
            ``x`` ("generation" or "time"), ``label``, ``violation``; see
            :func:`gabalance.plot.convergence`.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ValueError
            When the result has no history (baselines, milp).
        ImportError
            Without matplotlib (``pip install "gabalance[plot]"``).
        """
        from gabalance import plot

        return plot.convergence(self, ax, **kwargs)

    def plot_gantt(self, problem: Problem, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the schedule as a Gantt chart: a row per node, a bar per task, dependency
        arrows.

        Parameters
        ----------
        problem : Problem
            The problem this result solves.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        **kwargs
            ``nodes``, ``dependencies``, ``labels``; see :func:`gabalance.plot.gantt`.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ValueError
            For a placement result or a problem with another number of tasks.
        ImportError
            Without matplotlib (``pip install "gabalance[plot]"``).
        """
        from gabalance import plot

        return plot.gantt(self, problem, ax, **kwargs)

    def plot_utilization(self, problem: Problem, ax: Any = None, **kwargs: Any) -> Any:
        """Plot the used share of every node's capacity per resource, overloads marked.

        Parameters
        ----------
        problem : Problem
            The problem this result solves.
        ax : matplotlib.axes.Axes, optional
            Axes to draw on (default: a new figure).
        **kwargs
            ``kind`` ("auto", "bars", "profile"); see :func:`gabalance.plot.utilization`.

        Returns
        -------
        matplotlib.axes.Axes

        Raises
        ------
        ValueError
            For a schedule result or a problem with another number of tasks.
        ImportError
            Without matplotlib (``pip install "gabalance[plot]"``).
        """
        from gabalance import plot

        return plot.utilization(self, problem, ax, **kwargs)

    def __repr__(self) -> str:
        keys = ("fun", "violation", "success", "status", "message", "nit", "nfev", "method",
                "backend", "time")
        body = "\n".join(f"{k:>10}: {self[k]!r}" for k in keys if k in self)
        return f"SolveResult(\n{body}\n)"

    __str__ = __repr__

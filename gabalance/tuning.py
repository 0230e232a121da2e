"""Parameter tuning for the GA and the particle swarm with Optuna (optional extra ``tune``).

:func:`tune` searches :class:`gabalance.GAParams` or :class:`gabalance.PSOParams` on a set
of problems with Optuna's TPE sampler (Bergstra et al., "Algorithms for hyper-parameter
optimization", NeurIPS 2011) and its median pruner. The score of a parameter set is the
mean normalized gap over the problems,

    gap_i = (f_i - ref_i) / |ref_i|        (minimisation; mirrored for maximisation)

where ``f_i`` is the objective the search reaches on problem ``i`` and ``ref_i`` the best
known value when one is given, else the best value any trial of the study found. An
infeasible result scores :data:`INFEASIBLE_GAP`.

**Equal effort, reproducibly.** Every trial gets the same budget per problem: the number of
evaluations (``SolveResult.nfev``) that the starting parameters make in ``time_limit``
seconds on this machine, measured once before the study (a calibration run). Trials then
stop on that evaluation budget (``solve(max_evaluations=...)``), not on the clock, so a
trial's score depends only on its parameters, the problems and the seeds: the saved
parameters fed back to :func:`gabalance.solve` with :attr:`TuneResult.budgets` and
:attr:`TuneResult.seeds` give the same values, and :meth:`TuneResult.rescore` checks it.

The starting parameters (``base``, default the package defaults) are the study's first
trial, so the best trial is never worse than them on the tuning problems.

Examples
--------
Tune on two small GAP instances (budgets of 0.05 s each, three trials), then solve one of
them with the parameters found, at its budget and seed:

>>> import gabalance as gb
>>> from gabalance.generate import gap_like
>>> problems = [gap_like(5, 20, seed=s) for s in range(2)]
>>> res = gb.tune(problems, "ga", time_limit=0.05, n_trials=3, seed=0)
>>> res.n_trials, type(res.best_params).__name__, res.seeds
(3, 'GAParams', [[0], [1]])
>>> res.score <= res.base_score          # the starting parameters are the first trial
True
>>> again = gb.solve(problems[0], params=res.best_params, max_evaluations=res.budgets[0],
...                  seed=res.seeds[0][0])
>>> again.status                         # the evaluation budget ended it
1
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gabalance.algorithms.ga import GAParams
from gabalance.algorithms.pso import PSOParams
from gabalance.problem import Problem, default_sense, mode_of
from gabalance.progress import ProgressBar, note
from gabalance.solve import SEARCH_METHODS, solve

__all__ = ["INFEASIBLE_GAP", "TuneError", "TuneResult", "load_params", "score", "tune"]

#: the gap an infeasible result counts as (100 %)
INFEASIBLE_GAP = 1.0
_FORMAT = "gabalance-tune/1"

logger = logging.getLogger(__name__)


class TuneError(ValueError):
    """Bad input to :func:`tune`; the message names the problem or argument."""


# --------------------------------------------------------------------------- search space
def _ranges(method: str) -> dict[str, tuple]:
    """name -> ("int"|"float"|"log-int"|"log-float", low, high) or ("cat", choices)."""
    if method == "ga":
        return {
            "population": ("log-int", 16, 256),
            "tournament": ("int", 2, 6),
            "crossover": ("float", 0.5, 1.0),
            "mutation": ("cat-auto", 0.001, 0.2),    # None ("auto": 2/N) or a log-float
            "swap": ("float", 0.0, 0.8),
            "key_mutation": ("float", 0.0, 0.2),
            "critical": ("int", 0, 60),
            "local_search": ("int", 0, 6),
            "oscillation": ("float", 0.0, 3.0),
            "stagnation": ("cat", (0, 20, 50, 100)),
        }
    return {
        "swarm": ("log-int", 16, 256),
        "topology": ("cat", ("global", "ring")),
        "keep": ("float", 0.0, 0.6),
        "personal": ("float", 0.0, 0.6),
        "social": ("float", 0.0, 0.6),
        "inertia": ("float", 0.3, 0.9),
        "cognitive": ("float", 0.5, 2.5),
        "social_weight": ("float", 0.5, 2.5),
        "key_velocity": ("log-float", 0.02, 0.5),
        "critical": ("int", 0, 60),
        "local_search": ("int", 0, 6),
        "oscillation": ("float", 0.0, 3.0),
        "stagnation": ("cat", (0, 10, 30, 100)),
    }


def _relevant(method: str, modes: set[str], objectives: set[str]) -> list[str]:
    """The parameters that can change a result on these problems (the others keep ``base``)."""
    names = list(_ranges(method))
    drop: set[str] = set()
    if "placement" not in modes:
        drop |= {"local_search", "oscillation"}
    if "cost" not in objectives:
        drop.add("oscillation")
    if "schedule" not in modes:
        drop |= {"key_mutation", "inertia", "cognitive", "social_weight", "key_velocity",
                 "critical"}
    return [n for n in names if n not in drop]


def _widen(spec: tuple, value: Any) -> tuple:
    """A range that holds the base value (so the base can be the first trial)."""
    if spec[0] in ("int", "log-int", "float", "log-float", "cat-auto") and value is not None:
        return (spec[0], min(spec[1], value), max(spec[2], value))
    if spec[0] == "cat" and value not in spec[1]:
        return ("cat", (*spec[1], value))
    return spec


def _suggest(trial: Any, method: str, names: list[str], base: Any) -> Any:
    """A parameter set from ``trial`` (Optuna), starting from ``base`` for the other names."""
    spaces = _ranges(method)
    values: dict[str, Any] = {}
    for name in names:
        spec = _widen(spaces[name], getattr(base, name))
        kind = spec[0]
        if kind == "int":
            values[name] = trial.suggest_int(name, spec[1], spec[2])
        elif kind == "log-int":
            values[name] = trial.suggest_int(name, spec[1], spec[2], log=True)
        elif kind == "float":
            values[name] = trial.suggest_float(name, spec[1], spec[2])
        elif kind == "log-float":
            values[name] = trial.suggest_float(name, spec[1], spec[2], log=True)
        elif kind == "cat":
            values[name] = trial.suggest_categorical(name, list(spec[1]))
        else:  # cat-auto: None or a log-scale float
            if trial.suggest_categorical(f"{name}_rule", ["auto", "fixed"]) == "auto":
                values[name] = None
            else:
                values[name] = trial.suggest_float(name, spec[1], spec[2], log=True)
    if method == "pso":
        total = sum(values.get(k, getattr(base, k)) for k in ("keep", "personal", "social"))
        if total > 1.0:  # the three probabilities must sum to at most 1
            for k in ("keep", "personal", "social"):
                if k in values:
                    values[k] = values[k] / total
    return dataclasses.replace(base, **values)


def _enqueue_values(method: str, names: list[str], base: Any) -> dict[str, Any]:
    """Optuna's parameter names and values for the base parameters (the first trial)."""
    out: dict[str, Any] = {}
    for name in names:
        v = getattr(base, name)
        if _ranges(method)[name][0] == "cat-auto":
            out[f"{name}_rule"] = "auto" if v is None else "fixed"
            if v is not None:
                out[name] = v
        else:
            out[name] = v
    return out


# --------------------------------------------------------------------------- scoring
def _gap(fun: float, violation: float, ref: float | None, sense: str) -> float:
    if violation > 0 or not math.isfinite(fun):
        return INFEASIBLE_GAP
    if ref is None or not math.isfinite(ref):
        return 0.0
    diff = fun - ref if sense == "min" else ref - fun
    return diff / max(abs(ref), 1e-12)


def _objective_of(problem: Problem, objective: str | None) -> tuple[str, str]:
    obj = objective or problem.objective
    if obj is None:
        raise TuneError(f"problem {problem.name!r} sets no objective; pass objective=...")
    sense = default_sense(obj, problem.sense)
    return obj, sense


def _run(problem: Problem, objective: str, method: str, params: Any, budget: int, seed: int,
         backend: str) -> tuple[float, float, float]:
    """(objective value, violation, wall seconds) of one budgeted solve."""
    res = solve(problem, objective, method=method, params=params, max_evaluations=int(budget),
                seed=int(seed), backend=backend)
    return float(res.fun), float(res.violation), float(res.time)


def score(problems: Sequence[Problem], params: GAParams | PSOParams | Mapping[str, Any], *,
          method: str = "ga", budgets: Sequence[int], seeds: Sequence[Sequence[int]],
          reference: Sequence[float | None], objective: str | None = None,
          backend: str = "auto") -> dict[str, Any]:
    """Score one parameter set the way :func:`tune` does.

    Parameters
    ----------
    problems : sequence of Problem
    params : GAParams, PSOParams or dict of their fields
    method : {"ga", "pso"}
    budgets : sequence of int
        Evaluations per problem (``TuneResult.budgets``).
    seeds : sequence of sequences of int
        Seeds per problem (``TuneResult.seeds``); the gap of a problem is the mean over them.
    reference : sequence of float or None
        The reference value per problem (``TuneResult.reference``).

    Returns
    -------
    dict
        ``score`` (mean gap), ``gaps`` (per problem), ``values`` (objective per problem and
        seed), ``violations``, ``time`` (wall seconds in all).
    """
    cls = GAParams if method == "ga" else PSOParams
    p = params if isinstance(params, cls) else cls.from_dict(dict(params))  # type: ignore[arg-type]
    gaps, values, violations, spent = [], [], [], 0.0
    for i, prob in enumerate(problems):
        obj, sense = _objective_of(prob, objective)
        vals, viols = [], []
        for s in seeds[i]:
            fun, viol, t = _run(prob, obj, method, p, budgets[i], s, backend)
            vals.append(fun)
            viols.append(viol)
            spent += t
        gaps.append(float(np.mean([_gap(f, v, reference[i], sense)
                                   for f, v in zip(vals, viols)])))
        values.append(vals)
        violations.append(viols)
    return {"score": float(np.mean(gaps)), "gaps": gaps, "values": values,
            "violations": violations, "time": spent}


# --------------------------------------------------------------------------- result
@dataclasses.dataclass
class TuneResult:
    """What :func:`tune` found.

    Attributes
    ----------
    method : str
    params : dict
        The best parameter set (fields of GAParams / PSOParams); feed it to
        ``solve(params=...)`` or save it with :meth:`save_params`.
    score : float
        Its mean normalized gap over the problems (lower is better).
    base_params, base_score
        The starting parameters (the first trial) and their score.
    gaps, base_gaps : list of float
        Per-problem gaps of the best and of the starting parameters.
    problems : list of str
        Problem names, in order.
    objectives, senses : list of str
    budgets : list of int
        Evaluations per problem given to every trial.
    seeds : list of list of int
        Seeds per problem.
    reference : list of float or None
        Reference value per problem; ``reference_source`` says "best known" or "study best".
    time_limit : float
        The seconds the budgets were calibrated on.
    trials : list of dict
        Every trial: ``number``, ``state`` ("complete", "pruned", "failed"), ``params``,
        ``score`` (final references; None unless complete), ``time``.
    best_trial : int
        Number of the best trial.
    n_trials, seed, elapsed, message

    Examples
    --------
    >>> import os, tempfile
    >>> import gabalance as gb
    >>> from gabalance.generate import gap_like
    >>> res = gb.tune([gap_like(5, 20, seed=0)], "ga", time_limit=0.05, n_trials=2, seed=0)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     res.save(os.path.join(tmp, "study.json"))
    ...     back = gb.TuneResult.load(os.path.join(tmp, "study.json"))
    >>> back.params == res.params, back.budgets == res.budgets
    (True, True)
    """

    method: str
    params: dict[str, Any]
    score: float
    base_params: dict[str, Any]
    base_score: float
    gaps: list[float]
    base_gaps: list[float]
    problems: list[str]
    objectives: list[str]
    senses: list[str]
    budgets: list[int]
    seeds: list[list[int]]
    reference: list[float | None]
    reference_source: list[str]
    time_limit: float
    trials: list[dict[str, Any]]
    best_trial: int
    n_trials: int
    seed: int
    elapsed: float
    message: str = ""

    @property
    def best_params(self) -> GAParams | PSOParams:
        """The best parameters as a GAParams or PSOParams."""
        cls = GAParams if self.method == "ga" else PSOParams
        return cls.from_dict(self.params)  # type: ignore[return-value]

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return {"format": _FORMAT, **dataclasses.asdict(self)}

    def save(self, path: str | Path) -> None:
        """The whole report as JSON (:meth:`load` reads it back)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TuneResult:
        """Read a report written by :meth:`save`."""
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.pop("format", None) != _FORMAT:
            raise TuneError(f"{path}: not a gabalance tuning report ({_FORMAT})")
        return cls(**data)

    def save_params(self, path: str | Path) -> None:
        """The best parameters alone, as the JSON object ``gabalance solve --params`` reads."""
        Path(path).write_text(json.dumps(self.params, indent=1) + "\n", encoding="utf-8")

    def rescore(self, problems: Sequence[Problem], params: Any = None,
                backend: str = "auto") -> dict[str, Any]:
        """Run ``params`` (default: the best) again on ``problems`` with this study's budgets,
        seeds and references: :func:`score`'s dict, whose ``score`` equals :attr:`score`
        for the best parameters on the same backend."""
        names = [p.name for p in problems]
        if names != self.problems:
            raise TuneError(f"rescore needs the study's problems in order {self.problems}, got "
                            f"{names}")
        return score(problems, self.params if params is None else params, method=self.method,
                     budgets=self.budgets, seeds=self.seeds, reference=self.reference,
                     objective=None if len(set(self.objectives)) > 1 else self.objectives[0],
                     backend=backend)

    def report(self) -> str:
        """A plain-text summary: scores, per-problem gaps, changed parameters, trials."""
        lines = [f"gabalance tune ({self.method}): {len(self.problems)} problems, "
                 f"{self.n_trials} trials, budgets calibrated on {self.time_limit:g} s, "
                 f"seed {self.seed}, {self.elapsed:.0f} s",
                 f"best trial {self.best_trial}: mean gap {100 * self.score:.4f}% "
                 f"(starting parameters {100 * self.base_score:.4f}%)", ""]
        w = max(8, *(len(n) for n in self.problems))
        lines.append(f"{'problem':<{w}}  {'evals':>9}  {'reference':>14}  {'source':<10}  "
                     f"{'base gap':>9}  {'tuned gap':>9}")
        for i, name in enumerate(self.problems):
            ref = self.reference[i]
            lines.append(f"{name:<{w}}  {self.budgets[i]:>9}  "
                         f"{'-' if ref is None else f'{ref:.8g}':>14}  "
                         f"{self.reference_source[i]:<10}  {100 * self.base_gaps[i]:>8.4f}%  "
                         f"{100 * self.gaps[i]:>8.4f}%")
        changed = {k: v for k, v in self.params.items() if self.base_params.get(k) != v}
        lines.append("")
        lines.append("changed parameters: " + (", ".join(
            f"{k} {self.base_params.get(k)!r} -> {_fmt(v)}" for k, v in changed.items())
            or "none (the starting parameters were best)"))
        states = [t["state"] for t in self.trials]
        lines.append(f"trials: {states.count('complete')} complete, {states.count('pruned')} "
                     f"pruned, {states.count('failed')} failed" +
                     (f"; {self.message}" if self.message else ""))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"TuneResult(method={self.method!r}, score={self.score:.6g}, "
                f"base_score={self.base_score:.6g}, best_trial={self.best_trial}, "
                f"n_trials={self.n_trials})")


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else repr(v)


def load_params(path: str | Path, method: str = "ga") -> GAParams | PSOParams:
    """Parameters saved by :meth:`TuneResult.save_params` (or a tuning report's best)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(data, dict) and data.get("format") == _FORMAT:
        method, data = data["method"], data["params"]
    if not isinstance(data, dict):
        raise TuneError(f"{path}: parameters must be a JSON object, got {type(data).__name__}")
    cls = GAParams if method == "ga" else PSOParams
    try:
        return cls.from_dict(data)  # type: ignore[return-value]
    except (TypeError, ValueError) as exc:
        raise TuneError(f"{path}: {exc}") from None


# --------------------------------------------------------------------------- tune
def _tune_iv(problems: Any, method: Any, time_limit: Any, n_trials: Any, seed: Any,
             best_known: Any, repeats: Any, base: Any, budgets: Any,
             objective: Any) -> tuple[list[Problem], list[float | None], Any]:
    if isinstance(problems, Problem):
        problems = [problems]
    problems = list(problems)
    if not problems:
        raise TuneError("tune needs at least one problem")
    for k, p in enumerate(problems):
        if not isinstance(p, Problem):
            raise TuneError(f"problems[{k}] must be a gabalance.Problem, got "
                            f"{type(p).__name__}")
        _objective_of(p, objective)
    names = [p.name for p in problems]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise TuneError(f"problem names must be unique (they key the study), repeated: "
                        f"{', '.join(map(str, dup))}")
    if method not in SEARCH_METHODS:
        raise TuneError(f"method must be one of {', '.join(SEARCH_METHODS)}, got {method!r}")
    if budgets is None:
        if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) \
                or not math.isfinite(time_limit) or time_limit <= 0:
            raise TuneError(f"time_limit must be a positive number of seconds, got "
                            f"{time_limit!r}")
    else:
        budgets = list(budgets)
        if len(budgets) != len(problems) or any(
                isinstance(b, bool) or not isinstance(b, (int, np.integer)) or b < 1
                for b in budgets):
            raise TuneError(f"budgets must be {len(problems)} positive integers (evaluations "
                            f"per problem), got {budgets!r}")
    for name, v, low in (("n_trials", n_trials, 1), ("repeats", repeats, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
            raise TuneError(f"{name} must be an integer >= {low}, got {v!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise TuneError(f"seed must be a non-negative integer, got {seed!r}")
    cls = GAParams if method == "ga" else PSOParams
    if base is None:
        base = cls()
    elif isinstance(base, Mapping):
        base = cls.from_dict(dict(base))
    elif not isinstance(base, cls):
        raise TuneError(f"base must be {cls.__name__} or a dict for method {method!r}, got "
                        f"{type(base).__name__}")
    refs: list[float | None] = [None] * len(problems)
    if best_known is not None:
        if isinstance(best_known, Mapping):
            unknown = sorted(set(map(str, best_known)) - set(names))
            if unknown:
                raise TuneError(f"best_known names unknown problem(s): {', '.join(unknown)}")
            refs = [best_known.get(n) for n in names]
        else:
            refs = list(best_known)
            if len(refs) != len(problems):
                raise TuneError(f"best_known must give one value (or None) per problem "
                                f"({len(problems)}), got {len(refs)}")
        for n, r in zip(names, refs):
            if r is not None and (isinstance(r, bool) or not isinstance(r, (int, float))
                                  or not math.isfinite(r)):
                raise TuneError(f"best_known value of problem {n!r} must be a finite number "
                                f"or None, got {r!r}")
        refs = [None if r is None else float(r) for r in refs]
    return problems, refs, base


def tune(problems: Sequence[Problem] | Problem, method: str = "ga", *,
         time_limit: float = 1.0, n_trials: int = 20, seed: int = 0,
         storage: str | None = None, study_name: str | None = None,
         best_known: Sequence[float | None] | Mapping[str, float] | None = None,
         repeats: int = 1, base: GAParams | PSOParams | Mapping[str, Any] | None = None,
         budgets: Sequence[int] | None = None, objective: str | None = None,
         backend: str = "auto", timeout: float | None = None, progress: bool = False,
         callback: Callable[[dict[str, Any]], Any] | None = None) -> TuneResult:
    """Search GA or PSO parameters that do best on ``problems`` at equal effort.

    Parameters
    ----------
    problems : sequence of Problem
        The tuning set (names must be unique); each is solved with its own objective.
    method : {"ga", "pso"}
    time_limit : float, default 1.0
        Seconds per problem the evaluation budgets are calibrated on: each problem's budget
        is the evaluations ``base`` makes in this time (one calibration solve per problem).
    n_trials : int, default 20
        Trials in this call (the first is ``base`` in a new study).
    seed : int, default 0
        Seeds the TPE sampler and the solves: problem ``i``, repeat ``r`` uses seed
        ``seed + 1000 * r + i``.
    storage : str, optional
        An Optuna storage URL (``"sqlite:///study.db"``): the study is kept there and a
        later call with the same ``study_name`` continues it (the budgets are reused).
    study_name : str, optional
        Default ``"gabalance-<method>"``.
    best_known : sequence or mapping name -> value, optional
        Reference values; problems without one use the best value found in the study.
    repeats : int, default 1
        Seeds per problem; a problem's gap is the mean over them.
    base : GAParams, PSOParams or dict, optional
        The starting parameters (default: the package defaults); parameters that cannot
        matter on these problems (placement-only or schedule-only ones) stay at ``base``.
    budgets : sequence of int, optional
        Evaluations per problem, instead of calibrating them (a fully reproducible study).
    timeout : float, optional
        Stop starting new trials after this many seconds.
    progress : bool, default False
        A progress bar on stderr (:mod:`gabalance.progress`): trials done, the running
        trial's gap, the best score so far and the pruned trials; with a ``timeout`` it fills
        with the seconds spent.
    callback : callable, optional
        Called after each trial with a dict (``number``, ``state``, ``score``, ``best``).

    Returns
    -------
    TuneResult
        Ctrl-C stops the study and returns what the finished trials found.

    Notes
    -----
    TPE: Bergstra, Bardenet, Bengio & Kégl, NeurIPS 2011. Pruning: Optuna's median rule
    (a trial stops when its running mean gap after ``k`` problems is worse than the median
    of earlier trials at ``k``); Akiba et al., "Optuna", KDD 2019.

    Examples
    --------
    >>> import gabalance as gb
    >>> from gabalance.generate import gap_like
    >>> res = gb.tune([gap_like(5, 20, seed=0)], "pso", time_limit=0.05, n_trials=2, seed=1)
    >>> res.method, res.n_trials, sorted(res.best_params.to_dict()) == sorted(
    ...     gb.PSOParams().to_dict())
    ('pso', 2, True)
    """
    optuna = _import_optuna()
    t0 = time.perf_counter()
    probs, known, base_p = _tune_iv(problems, method, time_limit, n_trials, seed, best_known,
                                    repeats, base, budgets, objective)
    study = _Study(optuna, probs, method, objective, known, base_p, seed, repeats, backend,
                   progress)
    study.open(storage, study_name, budgets, time_limit)
    message = study.run(n_trials, timeout, callback)
    return study.result(time_limit, time.perf_counter() - t0, message)


def _import_optuna() -> Any:
    """The optuna module, or an ImportError that says how to install it."""
    try:
        import optuna
    except ImportError:
        raise ImportError('gabalance.tune needs Optuna: pip install "gabalance[tune]"') \
            from None
    return optuna


class _Study:
    """One tuning study: the problems with their objectives, budgets, seeds and reference
    values, the Optuna study whose trials score parameter sets on them, and the progress bar.

    Optuna's values use fixed anchors (the best known value, else the first feasible value
    the study saw, normally the base trial's), so TPE and the pruner compare like with like;
    the final scores (:meth:`result`) use the study's best values.
    """

    def __init__(self, optuna: Any, problems: list[Problem], method: str,
                 objective: str | None, known: list[float | None], base: Any, seed: int,
                 repeats: int, backend: str, progress: bool) -> None:
        self.optuna, self.problems, self.method, self.known = optuna, problems, method, known
        self.base, self.seed, self.backend, self.progress = base, int(seed), backend, progress
        self.names = [p.name for p in problems]
        self.objs = [_objective_of(p, objective) for p in problems]
        self.seeds = [[int(seed) + 1000 * r + i for r in range(repeats)]
                      for i in range(len(problems))]
        self.space = _relevant(method, {mode_of(o) for o, _ in self.objs},
                               {o for o, _ in self.objs})
        self.budgets: list[int] = []
        self.best_seen: list[float | None] = [None] * len(problems)  # best feasible value
        self.anchor: list[float | None] = [None] * len(problems)
        self.study: Any = None
        self.callback: Callable[[dict[str, Any]], Any] | None = None
        self.bar = ProgressBar(self.label, enabled=False, unit="trials")
        self.done = self.pruned = 0
        self.best: float | None = None

    @property
    def label(self) -> str:
        return f"tune {self.method}"

    # ------------------------------------------------------------------ setting up
    def open(self, storage: str | None, study_name: str | None, budgets: Sequence[int] | None,
             time_limit: float) -> None:
        """Create the Optuna study (or continue the one in ``storage``), fix the budgets
        (the study's, the given ones or calibrated) and queue ``base`` as the first trial."""
        optuna = self.optuna
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.study = study = optuna.create_study(
            storage=storage, study_name=study_name or f"gabalance-{self.method}",
            load_if_exists=storage is not None, direction="minimize",
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1))
        attrs = study.user_attrs
        if attrs.get("problems") not in (None, self.names):
            raise TuneError(f"study {study.study_name!r} in {storage} tuned other problems "
                            f"({attrs['problems']}); use another study_name")
        if "budgets" in attrs:
            budgets = attrs["budgets"]
        self.budgets = [int(b) for b in (budgets if budgets is not None
                                         else self._calibrate(time_limit))]
        study.set_user_attr("problems", self.names)
        study.set_user_attr("budgets", self.budgets)
        if not study.trials:
            study.enqueue_trial(_enqueue_values(self.method, self.space, self.base))
        for tr in study.trials:
            for i, (vi, wi) in enumerate(zip(tr.user_attrs.get("values", []),
                                             tr.user_attrs.get("violations", []))):
                _update_best(self.best_seen, i, vi, wi, self.objs[i][1])
        self.anchor = list(attrs.get("anchor") or self.anchor)

    def _calibrate(self, time_limit: float) -> list[int]:
        """Per problem, the evaluations ``base`` makes in ``time_limit`` seconds."""
        budgets = []
        for i, p in enumerate(self.problems):
            note(self.label, f"calibrating {p.name} ({time_limit:g} s)", self.progress)
            res = solve(p, self.objs[i][0], method=self.method, params=self.base,
                        time_limit=time_limit, seed=self.seeds[i][0], backend=self.backend)
            budgets.append(int(max(1, res.nfev)))
            logger.debug("calibrated %r: %d evaluations in %.3g s", p.name, budgets[-1],
                         res.time)
        return budgets

    # ------------------------------------------------------------------ running
    def run(self, n_trials: int, timeout: float | None,
            callback: Callable[[dict[str, Any]], Any] | None) -> str:
        """Run ``n_trials`` trials (fewer when ``timeout`` passes or on Ctrl-C: the message
        then says "interrupted")."""
        self.callback = callback
        self.bar = ProgressBar(self.label, enabled=self.progress, unit="trials",
                               total=n_trials, time_limit=timeout)
        message = ""
        try:
            self.study.optimize(self.objective, n_trials=n_trials, timeout=timeout,
                                callbacks=[self.after], catch=())
        except KeyboardInterrupt:
            message = "interrupted"
        self.bar.close(self.done, self._fields())
        return message

    def objective(self, trial: Any) -> float:
        """Optuna's objective: the trial's parameters solved on every problem and seed; the
        running mean gap (against the anchors) is reported after each problem for pruning."""
        params = _suggest(trial, self.method, self.space, self.base)
        trial.set_user_attr("params", params.to_dict())
        vals: list[list[float]] = []
        viols: list[list[float]] = []
        spent = 0.0
        for i, p in enumerate(self.problems):
            vi, wi = [], []
            for s in self.seeds[i]:
                fun, viol, t = _run(p, self.objs[i][0], self.method, params, self.budgets[i], s,
                                    self.backend)
                vi.append(fun)
                wi.append(viol)
                spent += t
            vals.append(vi)
            viols.append(wi)
            trial.set_user_attr("values", vals)
            trial.set_user_attr("violations", viols)
            trial.set_user_attr("time", spent)
            self._saw(i, vi, wi)
            running = self._running_gap(vals, viols)
            where = None if i + 1 == len(self.problems) else f"{i + 1}/{len(self.problems)}"
            self.bar.update(self.done, self._fields(running, where))
            trial.report(running, i)
            if i + 1 < len(self.problems) and trial.should_prune():
                raise self.optuna.TrialPruned()
        return running

    def _saw(self, i: int, vals: list[float], viols: list[float]) -> None:
        """Fold problem ``i``'s values into the best seen; the first feasible one anchors."""
        _update_best(self.best_seen, i, vals, viols, self.objs[i][1])
        if self.anchor[i] is None and self.best_seen[i] is not None:
            self.anchor[i] = self.best_seen[i]
            self.study.set_user_attr("anchor", self.anchor)

    def _running_gap(self, vals: list[list[float]], viols: list[list[float]]) -> float:
        """Mean gap of the problems solved so far against the anchors."""
        ref = [k if k is not None else a for k, a in zip(self.known, self.anchor)]
        return float(np.mean([_gap(f, v, ref[k], self.objs[k][1])
                              for k in range(len(vals)) for f, v in zip(vals[k], viols[k])]))

    def after(self, study: Any, frozen: Any) -> None:
        """Optuna's callback after each trial: count it, tell the bar and ``callback``."""
        info = {"number": frozen.number, "state": frozen.state.name.lower(),
                "score": frozen.value, "best": self._current_best(study)}
        self.done += 1
        self.pruned += info["state"] == "pruned"
        if info["best"] is not None:
            self.best = info["best"]
        logger.debug("trial %d %s: score %s, best %s", info["number"], info["state"],
                     info["score"], info["best"])
        self.bar.update(self.done, self._fields(), force=True)
        if self.callback is not None:
            self.callback(info)

    def _current_best(self, study: Any) -> float | None:
        """The best complete trial's score against the best values seen so far."""
        scores = [_trial_score(t.user_attrs, self._reference(), self.objs) for t in study.trials
                  if t.state.name == "COMPLETE"]
        return min(scores) if scores else None

    def _reference(self) -> list[float | None]:
        """Per problem the best known value, else the best value the study found."""
        return [k if k is not None else b for k, b in zip(self.known, self.best_seen)]

    def _fields(self, running: float | None = None, where: str | None = None) -> str:
        """The bar's fields: the running trial's gap (and how far it got), the best score
        so far and the count of pruned trials."""
        best = "-" if self.best is None else f"{100 * self.best:.4f}%"
        trial = "" if running is None else (
            f"trial {self.done + 1}{'' if where is None else f' ({where})'} gap "
            f"{100 * running:.4f}%, ")
        return f"{trial}best {best}, pruned {self.pruned}"

    # ------------------------------------------------------------------ result
    def result(self, time_limit: float, elapsed: float, message: str) -> TuneResult:
        """Re-score every complete trial against the final references and pick the best."""
        ref = self._reference()
        source = ["best known" if k is not None else "study best" for k in self.known]
        trials, best, base_trial = [], None, None
        base_dict = self.base.to_dict()
        for tr in self.study.trials:
            state = {"COMPLETE": "complete", "PRUNED": "pruned"}.get(tr.state.name, "failed")
            entry: dict[str, Any] = {"number": tr.number, "state": state,
                                     "params": tr.user_attrs.get("params"), "score": None,
                                     "gaps": None, "time": tr.user_attrs.get("time")}
            if state == "complete":
                gaps = _trial_gaps(tr.user_attrs, ref, self.objs)
                entry["gaps"], entry["score"] = gaps, float(np.mean(gaps))
                if best is None or entry["score"] < best["score"]:
                    best = entry
                if base_trial is None and entry["params"] == base_dict:
                    base_trial = entry
            trials.append(entry)
        if best is None:
            raise TuneError("no trial completed" + (f" ({message})" if message else ""))
        if base_trial is None:  # a resumed study whose base trial is gone: score it now
            base_trial = {"gaps": [float("nan")] * len(self.problems), "score": float("nan")}
        return TuneResult(
            method=self.method, params=best["params"], score=best["score"],
            base_params=base_dict, base_score=base_trial["score"], gaps=best["gaps"],
            base_gaps=base_trial["gaps"], problems=list(self.names),
            objectives=[o for o, _ in self.objs], senses=[s for _, s in self.objs],
            budgets=self.budgets, seeds=self.seeds, reference=ref, reference_source=source,
            time_limit=float(time_limit), trials=trials, best_trial=best["number"],
            n_trials=len(trials), seed=self.seed, elapsed=elapsed, message=message)


def _update_best(best: list[float | None], i: int, vals: Sequence[float],
                 viols: Sequence[float], sense: str) -> None:
    """Fold problem ``i``'s feasible values into ``best``."""
    for f, v in zip(vals, viols):
        if v > 0 or not math.isfinite(f):
            continue
        b = best[i]
        if b is None or (f < b if sense == "min" else f > b):
            best[i] = f


def _trial_gaps(attrs: Mapping[str, Any], ref: Sequence[float | None],
                objs: Sequence[tuple[str, str]]) -> list[float]:
    """Per-problem mean gap of a complete trial against ``ref``."""
    return [float(np.mean([_gap(f, v, ref[i], objs[i][1])
                           for f, v in zip(attrs["values"][i], attrs["violations"][i])]))
            for i in range(len(objs))]


def _trial_score(attrs: Mapping[str, Any], ref: Sequence[float | None],
                 objs: Sequence[tuple[str, str]]) -> float:
    return float(np.mean(_trial_gaps(attrs, ref, objs)))

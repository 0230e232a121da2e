"""gabalance: which node runs which AI task, and when, on heterogeneous clusters."""

# the modules the guide names, reachable as attributes after ``import gabalance as gb``
from gabalance import baselines, generate, io, simulate
from gabalance.algorithms import GA, PSO, GAParams, PSOParams
from gabalance.bounds import Bound, schedule_bound
from gabalance.evaluate import Evaluation, best_index, evaluate, rank_order
from gabalance.exact import MILPParams
from gabalance.problem import (
    DEVICE_OBJECTIVES,
    OBJECTIVES,
    PLACEMENT_OBJECTIVES,
    SCHEDULE_OBJECTIVES,
    Dependency,
    Node,
    Problem,
    ProblemError,
    Task,
    mode_of,
)
from gabalance.result import SolveResult
from gabalance.solve import METHODS, solve
from gabalance.tuning import TuneResult, tune
from gabalance.validate import Validation, validate

__version__ = "0.1.0"

__all__ = [
    "DEVICE_OBJECTIVES",
    "GA",
    "METHODS",
    "OBJECTIVES",
    "PLACEMENT_OBJECTIVES",
    "PSO",
    "SCHEDULE_OBJECTIVES",
    "Bound",
    "Dependency",
    "Evaluation",
    "GAParams",
    "MILPParams",
    "Node",
    "PSOParams",
    "Problem",
    "ProblemError",
    "SolveResult",
    "Task",
    "TuneResult",
    "Validation",
    "__version__",
    "baselines",
    "best_index",
    "evaluate",
    "generate",
    "io",
    "mode_of",
    "rank_order",
    "schedule_bound",
    "simulate",
    "solve",
    "tune",
    "validate",
]

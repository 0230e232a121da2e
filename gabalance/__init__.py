"""gabalance: which node runs which AI task, and when, on heterogeneous clusters."""

from gabalance.evaluate import Evaluation, best_index, evaluate, rank_order
from gabalance.problem import (
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
from gabalance.validate import Validation, validate

__version__ = "0.1.0"

__all__ = [
    "OBJECTIVES",
    "PLACEMENT_OBJECTIVES",
    "SCHEDULE_OBJECTIVES",
    "Dependency",
    "Evaluation",
    "Node",
    "Problem",
    "ProblemError",
    "Task",
    "Validation",
    "__version__",
    "best_index",
    "evaluate",
    "mode_of",
    "rank_order",
    "validate",
]

"""Online balancing: a :class:`Balancer` that takes cluster events, re-plans with a warm
start and dispatches tasks, and a :class:`RayExecutor` that runs it on a Ray cluster (Ray
itself is imported only when an executor is made; see ``docs/online.md``)."""

from gabalance.online.balancer import Balancer, BalancerError, node_type
from gabalance.online.ray_executor import (
    RayExecutor,
    RayExecutorError,
    RayRunResult,
    ResultOf,
    TaskFailedError,
)

__all__ = ["Balancer", "BalancerError", "RayExecutor", "RayExecutorError", "RayRunResult",
           "ResultOf", "TaskFailedError", "node_type"]

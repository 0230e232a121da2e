"""Online balancing: a :class:`Balancer` that takes cluster events, re-plans with a warm
start and dispatches tasks (see ``docs/online.md``)."""

from gabalance.online.balancer import Balancer, BalancerError, node_type

__all__ = ["Balancer", "BalancerError", "node_type"]

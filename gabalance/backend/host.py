"""Search engines that run on the host whatever the evaluation backend: the numba kernels of
the cost and bottleneck searches (placement) and of the critical-path search (schedules).

:class:`gabalance.operators.search.Search` builds their records and calls them; each engine
has a slow reference in ``tests/naive.py`` it is checked against.
"""

from __future__ import annotations

from gabalance.backend._numba_balance import UtilRecord, search_utilization
from gabalance.backend._numba_critical import critical_search, heads
from gabalance.backend._numba_search import CostRecord, search_cost

__all__ = ["CostRecord", "UtilRecord", "critical_search", "heads", "search_cost",
           "search_utilization"]

"""Variation and replacement operators, written once against ``xp`` (numpy or cupy).

Every function takes the array module ``xp`` and a random generator with ``random(shape)`` and
``integers(low, high, shape)`` (``numpy.random.Generator`` or ``cupy.random.Generator``), works
on whole populations at once and never loops over individuals in Python.
"""

from gabalance.operators.variation import (
    AllowedSampler,
    crossover_keys,
    crossover_uniform,
    mutate_keys,
    mutate_reassign,
    mutate_swap,
    row_hash,
    select_survivors,
    standardize_keys,
    tournament,
)

__all__ = [
    "AllowedSampler",
    "crossover_keys",
    "crossover_uniform",
    "mutate_keys",
    "mutate_reassign",
    "mutate_swap",
    "row_hash",
    "select_survivors",
    "standardize_keys",
    "tournament",
]

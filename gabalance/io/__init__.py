"""Readers for public benchmark instances (GAP, PSPLIB, Alibaba openb, Gavel, Pollux).

Every reader returns :class:`gabalance.Problem` objects built from numpy arrays, with
``name``, ``objective``, ``sense`` and an ``info`` dict naming the source. Malformed input
raises :class:`FormatError` (a :class:`gabalance.ProblemError`) naming the file and the line.
The data themselves are third-party and are not shipped; :func:`data_dir` finds them.
"""

from gabalance.io._common import DATA_ENV, FormatError, data_dir
from gabalance.io.gap import (
    gap_reference_values,
    read_orlib_gap,
    read_orlib_gap_one,
    read_yagiura_gap,
)
from gabalance.io.gavel import DEFAULT_CLUSTER, gavel_throughput_table, read_gavel
from gabalance.io.openb import read_openb
from gabalance.io.pollux import read_pollux
from gabalance.io.psplib import psplib_optima, read_psplib

__all__ = [
    "DATA_ENV",
    "DEFAULT_CLUSTER",
    "FormatError",
    "data_dir",
    "gap_reference_values",
    "gavel_throughput_table",
    "psplib_optima",
    "read_gavel",
    "read_openb",
    "read_orlib_gap",
    "read_orlib_gap_one",
    "read_pollux",
    "read_psplib",
    "read_yagiura_gap",
]

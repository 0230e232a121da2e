"""Generalised Assignment Problem (GAP) readers: OR-Library files and single-instance files.

The GAP assigns each of ``n`` jobs to one of ``m`` agents; job ``j`` uses ``r[i][j]`` of
agent ``i``'s single resource (capacity ``b[i]``) and costs (or earns) ``c[i][j]``. In
gabalance terms agents are nodes with one resource ``"capacity"``, jobs are tasks with a
per-node demand, and the objective is ``"cost"``.
"""

from __future__ import annotations

import csv
import re
from typing import Any

import numpy as np

from gabalance.io._common import (
    FormatError,
    PathLike,
    Tokens,
    base,
    display,
    located,
    read_text,
    stem,
)
from gabalance.problem import Problem, ProblemError

__all__ = ["gap_reference_values", "read_orlib_gap", "read_orlib_gap_one", "read_yagiura_gap"]

_ORLIB_SOURCE = "OR-Library GAP (J.E. Beasley)"
_SMALL_REF = ("I.H. Osman, OR Spektrum 17 (1995) 211-225; D. Cattrysse, M. Salomon, "
              "L.N. Van Wassenhove, EJOR 72 (1994) 167-174")
_LARGE_REF = "P.C. Chu, J.E. Beasley, Computers & Operations Research 24 (1997) 17-23"
_YAGIURA_REF = ("M. Yagiura, T. Ibaraki, F. Glover, EJOR 169 (2006) 548-569; "
                "P.C. Chu, J.E. Beasley (1997) for types A-D")


def _orlib_sense(path: PathLike, sense: str | None) -> str:
    if sense is not None:
        if sense not in ("min", "max"):
            raise ProblemError(f"sense must be 'min' or 'max', got {sense!r}")
        return sense
    name = stem(path).lower()
    m = re.fullmatch(r"gap(\d+)", name)
    if m and 1 <= int(m.group(1)) <= 12:
        return "max"
    if re.fullmatch(r"gap[a-d]", name):
        return "min"
    raise ProblemError(
        f"{display(path)}: cannot infer the objective sense from the file name {name!r} "
        "(known: gap1..gap12 = max, gapa..gapd = min); pass sense='min' or sense='max'"
    )


def _reference(name: str) -> str:
    name = name.lower()
    if re.fullmatch(r"gap(\d+)", name):
        return _SMALL_REF
    if re.fullmatch(r"gap[a-d]", name):
        return _LARGE_REF
    return ""


def _one(tok: Tokens, label: str) -> tuple[int, int, np.ndarray, np.ndarray, np.ndarray]:
    """Parse ``m n``, costs, resource uses and capacities of one problem."""
    m = tok.int(f"agent count m of {label}")
    n = tok.int(f"job count n of {label}")
    if m <= 0 or n <= 0:
        raise FormatError(f"{tok.at(tok.pos - 1)}: {label} has m={m} agents and n={n} jobs; "
                          "both must be positive")
    c = tok.ints(m * n, f"costs c[i][j] of {label} (m*n = {m}*{n})").reshape(m, n)
    r = tok.ints(m * n, f"resource uses r[i][j] of {label} (m*n = {m}*{n})").reshape(m, n)
    b = tok.ints(m, f"capacities b[i] of {label} (m = {m})")
    return m, n, c, r, b


def _problem(m: int, n: int, c: np.ndarray, r: np.ndarray, b: np.ndarray, *, name: str,
             sense: str, where: str, info: dict[str, Any]) -> Problem:
    with located(f"{where} ({name})"):
        return Problem(
            b.reshape(m, 1),
            r.T.reshape(n, m, 1),
            resources=("capacity",),
            cost=c.T,
            task_names=[f"job{j + 1}" for j in range(n)],
            node_names=[f"agent{i + 1}" for i in range(m)],
            objective="cost",
            sense=sense,
            name=name,
            info={**info, "agents": m, "jobs": n},
        )


def read_orlib_gap(path: PathLike, sense: str | None = None) -> list[Problem]:
    """Read every problem of an OR-Library GAP file (gap1 ... gap12, gapa ... gapd).

    Parameters
    ----------
    path : str or os.PathLike
        A text file: ``P``, then ``P`` times ``m n``, the ``m*n`` costs ``c[i][j]`` (agent-major:
        row ``i`` = agent), the ``m*n`` resource uses ``r[i][j]`` and the ``m`` capacities
        ``b[i]``; whitespace-separated integers, line breaks not significant.
    sense : {"min", "max"}, optional
        Direction of the ``cost`` objective. When omitted it is inferred from the file name:
        ``gap1`` ... ``gap12`` -> ``"max"`` (OR-Library publishes their optima as maximisation
        problems, ``c`` = profit), ``gapa`` ... ``gapd`` -> ``"min"``; any other name raises.

    Returns
    -------
    list of Problem
        One per problem in the file, in file order, named ``"<stem>-<k>"`` (``k`` 1-based,
        e.g. ``"gap1-1"``). Each has ``N = n`` tasks (``job1`` ...), ``M = m`` nodes
        (``agent1`` ...), ``K = 1`` resource ``"capacity"``: ``capacity`` (M, 1) int64 = ``b``,
        ``demand`` (N, M, 1) int64 with ``demand[j, i, 0] = r[i][j]``, ``cost`` (N, M) int64
        with ``cost[j, i] = c[i][j]`` (transposed to tasks x nodes), ``objective="cost"``.
        All quantities are unitless integers.

    Raises
    ------
    FormatError
        A truncated file, a non-integer token, a non-positive size or tokens left after the
        last problem; the message names the file and the line.
    ProblemError
        ``sense`` cannot be inferred, or the data violate the model (e.g. a job that fits no
        agent).

    References
    ----------
    J.E. Beasley, OR-Library, http://people.brunel.ac.uk/~mastjjb/jeb/orlib/gapinfo.html.
    gap1-gap12: I.H. Osman, "Heuristics for the generalised assignment problem: simulated
    annealing and tabu search approaches", OR Spektrum 17 (1995) 211-225; D. Cattrysse,
    M. Salomon, L.N. Van Wassenhove, "A set partitioning heuristic for the generalized
    assignment problem", EJOR 72 (1994) 167-174. gapa-gapd: P.C. Chu, J.E. Beasley, "A genetic
    algorithm for the generalised assignment problem", Computers & Operations Research 24
    (1997) 17-23.
    """
    sense = _orlib_sense(path, sense)
    text, where = read_text(path)
    tok = Tokens(text, where)
    file_stem = stem(path)
    count = tok.int("problem count P")
    if count <= 0:
        raise FormatError(f"{tok.at(0)}: problem count P must be positive, got {count}")
    out = []
    for k in range(1, count + 1):
        m, n, c, r, b = _one(tok, f"problem {k} of {count}")
        info = {"source": _ORLIB_SOURCE, "format": "orlib-gap", "file": base(path),
                "problem_index": k, "problems_in_file": count, "reference": _reference(file_stem)}
        out.append(_problem(m, n, c, r, b, name=f"{file_stem}-{k}", sense=sense, where=where,
                            info=info))
    tok.finish(f"the last of the {count} problems")
    return out


def read_orlib_gap_one(path: PathLike, index: int, sense: str | None = None) -> Problem:
    """Read problem ``index`` (1-based) of an OR-Library GAP file.

    Parameters
    ----------
    path : str or os.PathLike
        As for :func:`read_orlib_gap`.
    index : int
        1-based position of the problem in the file (``"gap1-3"`` is ``index=3``).
    sense : {"min", "max"}, optional
        As for :func:`read_orlib_gap`.

    Returns
    -------
    Problem
        The same problem :func:`read_orlib_gap` returns at position ``index - 1`` (the whole
        file is validated).

    References
    ----------
    See :func:`read_orlib_gap`.
    """
    problems = read_orlib_gap(path, sense)
    if not 1 <= index <= len(problems):
        raise ProblemError(f"{display(path)} holds {len(problems)} problems; index {index} is "
                           f"out of range (1..{len(problems)})")
    return problems[index - 1]


def read_yagiura_gap(path: PathLike, sense: str = "min") -> Problem:
    """Read a single-instance GAP file (Yagiura's collection; types A-E and renamed gap1-12).

    Parameters
    ----------
    path : str or os.PathLike
        A text file, or a ``.zip`` holding exactly one text file, in the OR-Library format
        without the leading problem count: ``m n``, ``m*n`` costs ``c[i][j]`` (row ``i`` =
        agent), ``m*n`` resource uses ``r[i][j]``, ``m`` capacities ``b[i]``.
    sense : {"min", "max"}, default "min"
        Direction of the ``cost`` objective (types A-E are usually minimised).

    Returns
    -------
    Problem
        Named after the file stem (``"d20200"`` for ``d20200.zip``); arrays as in
        :func:`read_orlib_gap`: ``capacity`` (M, 1), ``demand`` (N, M, 1), ``cost`` (N, M),
        all int64 and unitless, ``objective="cost"``.

    Raises
    ------
    FormatError
        Truncated file, non-integer token, extra trailing tokens, or a zip that does not hold
        exactly one file; the message names the file and the line.

    References
    ----------
    M. Yagiura, T. Ibaraki, F. Glover, "A path relinking approach with ejection chains for the
    generalized assignment problem", EJOR 169 (2006) 548-569 (types A-E collection);
    P.C. Chu, J.E. Beasley, Computers & Operations Research 24 (1997) 17-23 (types A-D).
    The small ``cMMNN_k`` files are OR-Library gap1-gap12 (see :func:`read_orlib_gap`).
    """
    if sense not in ("min", "max"):
        raise ProblemError(f"sense must be 'min' or 'max', got {sense!r}")
    text, where = read_text(path)
    tok = Tokens(text, where)
    name = stem(path)
    m, n, c, r, b = _one(tok, f"instance {name}")
    tok.finish(f"instance {name}")
    info = {"source": "GAP instance collection of M. Yagiura (types A-E)",
            "format": "yagiura-gap", "file": base(path), "reference": _YAGIURA_REF}
    return _problem(m, n, c, r, b, name=name, sense=sense, where=where, info=info)


def _number(text: str, where: str) -> int | float | None:
    text = text.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise FormatError(f"{where}: {text!r} is not a number") from None


def gap_reference_values(path: PathLike) -> dict[tuple[str, str], dict[str, Any]]:
    """Read best known values and bounds of GAP instances (``DERIVED_gap_reference_values.csv``).

    Parameters
    ----------
    path : str or os.PathLike
        A CSV file with at least the columns ``instance``, ``sense`` (``min``/``max``),
        ``best_known_value``, ``best_bound`` and ``proven_optimal`` (``yes``/``no``).

    Returns
    -------
    dict
        ``{(instance, sense): {"best_known_value": v, "best_bound": b, "proven_optimal": bool}}``
        where ``instance`` is the Yagiura-collection name (e.g. ``"c0515_1"``, ``"d20200"``),
        ``v`` is the best known feasible objective value and ``b`` the best bound (a lower
        bound for ``min``, an upper bound for ``max``); ints when the file holds integers,
        ``None`` when blank. ``proven_optimal`` is true when the value equals the bound.

    References
    ----------
    Merged from the reference tables of fontanf/generalizedassignmentsolver (``data.csv``)
    and rafaelmartinelli/AssignmentProblems.jl (``bounds.txt``); values go back to
    Chu & Beasley (1997) and Yagiura, Ibaraki & Glover (2006).
    """
    where = display(path)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = ("instance", "sense", "best_known_value", "best_bound", "proven_optimal")
        missing = [c for c in need if c not in (reader.fieldnames or ())]
        if missing:
            raise FormatError(f"{where}: missing column(s) {', '.join(missing)}")
        out: dict[tuple[str, str], dict[str, Any]] = {}
        for row in reader:
            at = f"{where} line {reader.line_num}"
            sense = row["sense"].strip().lower()
            if sense not in ("min", "max"):
                raise FormatError(f"{at}: sense must be 'min' or 'max', got {row['sense']!r}")
            proven = row["proven_optimal"].strip().lower()
            if proven not in ("yes", "no", "true", "false", "1", "0"):
                raise FormatError(f"{at}: proven_optimal must be yes/no, got "
                                  f"{row['proven_optimal']!r}")
            out[(row["instance"].strip(), sense)] = {
                "best_known_value": _number(row["best_known_value"], at),
                "best_bound": _number(row["best_bound"], at),
                "proven_optimal": proven in ("yes", "true", "1"),
            }
    return out

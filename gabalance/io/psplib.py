"""PSPLIB single-mode RCPSP reader (``.sm`` files such as j30, j60, j90, j120)."""

from __future__ import annotations

import csv
import re
from typing import Any

import numpy as np

from gabalance.io._common import (
    FormatError,
    PathLike,
    base,
    display,
    located,
    read_text,
    stem,
    to_int,
)
from gabalance.problem import Problem

__all__ = ["psplib_optima", "read_psplib"]

_REFERENCE = ("R. Kolisch, A. Sprecher, \"PSPLIB - A project scheduling problem library\", "
              "EJOR 96 (1996) 205-216")
_SECTIONS = {
    "PROJECT INFORMATION": ("project", 1),
    "PRECEDENCE RELATIONS": ("precedence", 1),
    "REQUESTS/DURATIONS": ("requests", 2),
    "RESOURCEAVAILABILITIES": ("availability", 1),
}
#: parsed header lines: {key: (value, line number)}; section rows: {section: [(line, text)]}
_Header = dict[str, tuple[str, int]]
_Blocks = dict[str, list[tuple[int, str]]]


def _ints(line: str, lineno: int, where: str, what: str) -> list[int]:
    out = []
    for tok in line.split():
        v = to_int(tok)
        if v is None:
            raise FormatError(f"{where} line {lineno}: token {tok!r} in {what} is not an integer")
        out.append(v)
    return out


def read_psplib(path: PathLike) -> Problem:
    """Read a PSPLIB single-mode RCPSP instance (``.sm``) as a one-node schedule problem.

    Parameters
    ----------
    path : str or os.PathLike
        A PSPLIB ``.sm`` file (plain text or a one-file ``.zip``): header (``projects``,
        ``jobs (incl. supersource/sink )``, ``horizon``, resource counts), then the blocks
        PROJECT INFORMATION, PRECEDENCE RELATIONS, REQUESTS/DURATIONS and
        RESOURCEAVAILABILITIES separated by lines of ``*``. Only renewable resources and one
        mode per job are supported (no ``.mm`` files).

    Returns
    -------
    Problem
        Named after the file stem (``"j301_1"``). One node ``"resource-pool"`` with
        ``capacity`` (1, K) int64 = the resource availabilities per time unit, resources named
        as in the file without spaces (``"R1"`` ... ``"R4"``); ``N`` = all jobs including the
        dummy source and sink (32 for j30), tasks named ``"1"`` ... ``"N"`` after the job
        numbers; ``demand`` (N, K) int64 = per-period requests; ``duration`` (N,) in periods
        (0 for the dummies); ``edges`` (E, 2) from the successor lists (0-based task
        indices); ``objective="makespan"``. ``info`` holds ``mpm_time`` (the critical-path
        length stated in PROJECT INFORMATION, a lower bound on the makespan), ``horizon``,
        ``release_date``, ``due_date``, ``tardiness_cost`` and the source.

    Raises
    ------
    FormatError
        Missing or truncated sections, non-integer tokens, wrong job numbering, unsupported
        content (several modes, non-renewable resources); names the file and the line.

    Notes
    -----
    One node whose capacity is the availability vector turns gabalance's serial schedule
    generation scheme into exactly the RCPSP's (see ``docs/model.md``).

    References
    ----------
    R. Kolisch, A. Sprecher, "PSPLIB - A project scheduling problem library", European
    Journal of Operational Research 96 (1996) 205-216.
    """
    text, where = read_text(path)
    header, blocks = _split_sections(text.splitlines(), where)
    n_jobs, horizon, n_res = _check_header(header, blocks, where)

    # PROJECT INFORMATION: pronr #jobs rel.date duedate tardcost MPM-Time
    (lineno, line), = _section_rows(blocks, where, "project", 1, "PROJECT INFORMATION")
    proj = _ints(line, lineno, where, "PROJECT INFORMATION")
    if len(proj) != 6:
        raise FormatError(f"{where} line {lineno}: PROJECT INFORMATION needs 6 integers (pronr "
                          f"#jobs rel.date duedate tardcost MPM-Time), found {len(proj)}")
    _, _, rel_date, due_date, tard_cost, mpm_time = proj

    edges = _parse_precedence(blocks, where, n_jobs)
    duration, demand = _parse_requests(blocks, where, n_jobs, n_res)
    cap, names = _parse_availability(blocks, where, n_res)

    info: dict[str, Any] = {
        "source": "PSPLIB (Kolisch & Sprecher 1996)", "format": "psplib-sm",
        "file": base(path), "reference": _REFERENCE, "jobs": n_jobs, "horizon": horizon,
        "mpm_time": mpm_time, "release_date": rel_date, "due_date": due_date,
        "tardiness_cost": tard_cost,
    }
    with located(where):
        return Problem(
            np.array([cap], np.int64), demand, resources=names, duration=duration,
            edges=np.array(edges, np.int64).reshape(-1, 2),
            task_names=[str(k) for k in range(1, n_jobs + 1)], node_names=["resource-pool"],
            objective="makespan", name=stem(path), info=info,
        )


def _split_sections(lines: list[str], where: str) -> tuple[_Header, _Blocks]:
    """Header ``{key: (value, line)}`` and the ``(line, text)`` rows of every section."""
    header: _Header = {}
    blocks: _Blocks = {}
    current: str | None = None
    skip = 0
    for lineno, raw in enumerate(lines, 1):
        line = raw.strip()
        if line.startswith("*"):
            current = None
            continue
        title = next((t for t in _SECTIONS if line.upper().startswith(t)), None)
        if title is not None:
            current, skip = _SECTIONS[title]
            if current in blocks:
                raise FormatError(f"{where} line {lineno}: section {title} appears twice")
            blocks[current] = []
            continue
        if not line:
            continue
        if current is None:
            if ":" in line:
                key, _, value = line.partition(":")
                header[" ".join(key.lower().split())] = (value.strip(), lineno)
            continue
        if skip:
            skip -= 1
            if current == "availability":
                blocks["availability_names"] = [(lineno, line)]
            continue
        blocks[current].append((lineno, line))
    return header, blocks


def _head(header: _Header, where: str, prefix: str, what: str) -> tuple[int, int]:
    """The integer of the first header line starting with ``prefix``, and its line number."""
    for key, (value, lineno) in header.items():
        if key.startswith(prefix):
            first = value.split()[0] if value.split() else ""
            v = to_int(first)
            if v is None:
                raise FormatError(f"{where} line {lineno}: {what} {value!r} is not an integer")
            return v, lineno
    raise FormatError(f"{where}: header line {what!r} not found")


def _check_header(header: _Header, blocks: _Blocks, where: str) -> tuple[int, int, int]:
    """(jobs, horizon, renewable resources) from the header; checks what is unsupported."""
    n_jobs, _ = _head(header, where, "jobs", "jobs (incl. supersource/sink )")
    horizon, _ = _head(header, where, "horizon", "horizon")
    n_res, res_line = _head(header, where, "- renewable", "- renewable")
    for prefix in ("- nonrenewable", "- doubly constrained"):
        if any(k.startswith(prefix) for k in header):
            v, lineno = _head(header, where, prefix, prefix)
            if v:
                raise FormatError(f"{where} line {lineno}: {v} {prefix[2:]} resource(s); only "
                                  "renewable resources are supported")
    if any(k.startswith("projects") for k in header):
        v, lineno = _head(header, where, "projects", "projects")
        if v != 1:
            raise FormatError(f"{where} line {lineno}: {v} projects; only 1 is supported")
    if n_jobs <= 0:
        raise FormatError(f"{where}: the file declares {n_jobs} jobs")
    if n_res <= 0:
        raise FormatError(f"{where} line {res_line}: the file declares {n_res} renewable "
                          "resources")
    for sec in ("project", "precedence", "requests", "availability"):
        if sec not in blocks:
            title = next(t for t, (s, _) in _SECTIONS.items() if s == sec)
            raise FormatError(f"{where}: section {title} not found")
    return n_jobs, horizon, n_res


def _section_rows(blocks: _Blocks, where: str, sec: str, count: int,
                  what: str) -> list[tuple[int, str]]:
    """The ``count`` rows of section ``sec``; FormatError when there are fewer or more."""
    got = blocks[sec]
    if len(got) < count:
        last = got[-1][0] if got else "?"
        raise FormatError(f"{where}: {what} has {len(got)} line(s) (last at line {last}), "
                          f"expected {count}")
    if len(got) > count:
        lineno, line = got[count]
        raise FormatError(f"{where} line {lineno}: unexpected extra line in {what}: "
                          f"{line!r} (expected {count} lines)")
    return got


def _parse_precedence(blocks: _Blocks, where: str, n_jobs: int) -> list[tuple[int, int]]:
    """PRECEDENCE RELATIONS (jobnr #modes #successors successors...) as 0-based edges."""
    edges: list[tuple[int, int]] = []
    rows = _section_rows(blocks, where, "precedence", n_jobs, "PRECEDENCE RELATIONS")
    for k, (lineno, line) in enumerate(rows, 1):
        vals = _ints(line, lineno, where, "PRECEDENCE RELATIONS")
        if len(vals) < 3:
            raise FormatError(f"{where} line {lineno}: expected 'jobnr #modes #successors "
                              f"successors...', found {len(vals)} token(s)")
        job, modes, n_succ = vals[:3]
        if job != k:
            raise FormatError(f"{where} line {lineno}: expected job {k}, found job {job}")
        if modes != 1:
            raise FormatError(f"{where} line {lineno}: job {job} has {modes} modes; only "
                              "single-mode (.sm) instances are supported")
        succ = vals[3:]
        if len(succ) != n_succ:
            raise FormatError(f"{where} line {lineno}: job {job} declares {n_succ} successors "
                              f"but lists {len(succ)}")
        for s in succ:
            if not 1 <= s <= n_jobs:
                raise FormatError(f"{where} line {lineno}: successor {s} of job {job} is not "
                                  f"a job number (1..{n_jobs})")
            edges.append((job - 1, s - 1))
    return edges


def _parse_requests(blocks: _Blocks, where: str, n_jobs: int,
                    n_res: int) -> tuple[np.ndarray, np.ndarray]:
    """REQUESTS/DURATIONS (jobnr mode duration R1..RK) as duration (N,) and demand (N, K)."""
    duration = np.zeros(n_jobs)
    demand = np.zeros((n_jobs, n_res), np.int64)
    rows = _section_rows(blocks, where, "requests", n_jobs, "REQUESTS/DURATIONS")
    for k, (lineno, line) in enumerate(rows, 1):
        vals = _ints(line, lineno, where, "REQUESTS/DURATIONS")
        if len(vals) != 3 + n_res:
            raise FormatError(f"{where} line {lineno}: expected {3 + n_res} integers (jobnr mode "
                              f"duration and {n_res} requests), found {len(vals)}")
        if vals[0] != k:
            raise FormatError(f"{where} line {lineno}: expected job {k}, found job {vals[0]}")
        if vals[1] != 1:
            raise FormatError(f"{where} line {lineno}: job {k} mode {vals[1]}; only "
                              "single-mode (.sm) instances are supported")
        duration[k - 1] = vals[2]
        demand[k - 1] = vals[3:]
    return duration, demand


def _parse_availability(blocks: _Blocks, where: str, n_res: int) -> tuple[list[int], list[str]]:
    """RESOURCEAVAILABILITIES (a names line, then K capacities): capacities and names."""
    (lineno, line), = _section_rows(blocks, where, "availability", 1, "RESOURCEAVAILABILITIES")
    cap = _ints(line, lineno, where, "RESOURCEAVAILABILITIES")
    if len(cap) != n_res:
        raise FormatError(f"{where} line {lineno}: expected {n_res} resource availabilities, "
                          f"found {len(cap)}")
    names = [f"{a}{b}" for a, b in re.findall(r"([A-Za-z]+)\s*(\d+)",
                                              blocks.get("availability_names", [(0, "")])[0][1])]
    if len(names) != n_res or len(set(names)) != n_res:
        names = [f"R{k + 1}" for k in range(n_res)]
    return cap, names


def psplib_optima(path: PathLike) -> dict[str, int]:
    """Read a table of optimal (or best known) PSPLIB makespans.

    Parameters
    ----------
    path : str or os.PathLike
        CSV with header ``problem,optimum`` and rows such as ``j301_1.sm,43``.

    Returns
    -------
    dict of str to int
        Makespan (periods) by instance name without the extension (``"j301_1"``), the same
        as the ``name`` of the problem :func:`read_psplib` returns.

    References
    ----------
    R. Kolisch, A. Sprecher, EJOR 96 (1996) 205-216 (PSPLIB); the j30 optima are those
    published on the PSPLIB site.
    """
    where = display(path)
    out: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("problem", "optimum") if c not in (reader.fieldnames or ())]
        if missing:
            raise FormatError(f"{where}: missing column(s) {', '.join(missing)}")
        for row in reader:
            value = to_int((row["optimum"] or "").strip())
            if value is None:
                raise FormatError(f"{where} line {reader.line_num}: optimum "
                                  f"{row['optimum']!r} is not an integer")
            name = (row["problem"] or "").strip()
            out[name[:-3] if name.lower().endswith(".sm") else name] = value
    return out

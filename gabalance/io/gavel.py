"""Gavel (OSDI 2020) reader: measured DL-job throughputs on K80/P100/V100 and job traces."""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from gabalance.io._common import (
    FormatError,
    PathLike,
    base,
    display,
    located,
    read_text,
    servers,
    stem,
    to_int,
)
from gabalance.problem import Problem, ProblemError

__all__ = ["DEFAULT_CLUSTER", "gavel_throughput_table", "read_gavel"]

#: GPUs per worker type when ``cluster`` is not given (Gavel's simulations use 36:36:36 too)
DEFAULT_CLUSTER = {"k80": 36, "p100": 36, "v100": 36}
_REFERENCE = ("D. Narayanan, K. Santhanam, F. Kazhamiaka, A. Phanishayee, M. Zaharia, "
              "\"Heterogeneity-Aware Cluster Scheduling Policies for Deep Learning Workloads\", "
              "OSDI 2020")
_FIELDS_10 = ("job_type", "command", "working_directory", "num_steps_arg", "needs_data_dir",
              "total_steps", "scale_factor", "priority_weight", "SLO", "arrival_time")
_FIELDS_7 = ("job_type", "command", "num_steps_arg", "needs_data_dir", "total_steps",
             "arrival_time", "scale_factor")


def _all_throughputs(path: PathLike) -> dict[str, dict[tuple[str, int], float]]:
    """``{worker_type: {(job_type, scale_factor): steps_per_s}}`` for every worker type."""
    text, where = read_text(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{where}: invalid JSON ({exc})") from None
    if not isinstance(doc, Mapping):
        raise FormatError(f"{where}: expected an object {{worker_type: {{job: ...}}}}")
    out: dict[str, dict[tuple[str, int], float]] = {}
    for worker, jobs in doc.items():
        if not isinstance(jobs, Mapping):
            raise FormatError(f"{where}: worker type {worker!r} does not map jobs to throughputs")
        table: dict[tuple[str, int], float] = {}
        for key, entry in jobs.items():
            try:
                parsed = ast.literal_eval(key)
            except (ValueError, SyntaxError):
                parsed = None
            if not (isinstance(parsed, tuple) and len(parsed) == 2 and isinstance(parsed[0], str)
                    and isinstance(parsed[1], int) and not isinstance(parsed[1], bool)):
                raise FormatError(f"{where}: worker type {worker!r}: key {key!r} is not a "
                                  "\"('<job type>', <scale factor>)\" tuple")
            alone = entry.get("null") if isinstance(entry, Mapping) else None
            if isinstance(alone, bool) or not isinstance(alone, (int, float)) or \
                    not math.isfinite(alone) or alone < 0:
                raise FormatError(f"{where}: worker type {worker!r}, job {key}: the isolated "
                                  f"throughput 'null' must be a number >= 0, got {alone!r}")
            table[parsed] = float(alone)
        out[str(worker)] = table
    return out


def gavel_throughput_table(throughputs_json: PathLike) -> dict[tuple[str, int], dict[str, float]]:
    """Isolated throughputs of a Gavel throughput file, by job configuration.

    Parameters
    ----------
    throughputs_json : str or os.PathLike
        Gavel's ``simulation_throughputs.json`` or ``physical_cluster_throughputs.json``:
        ``{worker_type: {"('<job type>', <scale_factor>)": {"null": T_alone, ...}}}``.

    Returns
    -------
    dict
        ``{(job_type, scale_factor): {worker_type: steps_per_second}}`` with the throughput of
        the job running alone (the ``"null"`` entry; co-location pairs are ignored), for the
        consolidated worker types only (``k80``, ``p100``, ``v100``; keys ending in
        ``_unconsolidated`` are left out, as Gavel's scheduler does). ``scale_factor`` is the
        number of GPUs; a value of 0 means not measured / cannot run. Runtime in seconds is
        ``total_steps / steps_per_second``.

    Raises
    ------
    FormatError
        Invalid JSON, a key that is not a ``(job type, scale factor)`` tuple, or a missing or
        negative isolated throughput.

    References
    ----------
    D. Narayanan, K. Santhanam, F. Kazhamiaka, A. Phanishayee, M. Zaharia,
    "Heterogeneity-Aware Cluster Scheduling Policies for Deep Learning Workloads", OSDI 2020
    (stanford-futuredata/gavel).
    """
    out: dict[tuple[str, int], dict[str, float]] = {}
    for worker, table in _all_throughputs(throughputs_json).items():
        if worker.endswith("_unconsolidated"):
            continue
        for key, value in table.items():
            out.setdefault(key, {})[worker] = value
    return out


def _parse_float(tok: str, at: str, name: str) -> float:
    try:
        v = float(tok)
    except ValueError:
        raise FormatError(f"{at}: {name} {tok!r} is not a number") from None
    if not math.isfinite(v):
        raise FormatError(f"{at}: {name} {tok!r} is not finite")
    return v


def _parse_int(tok: str, at: str, name: str) -> int:
    v = to_int(tok.strip())
    if v is None:
        raise FormatError(f"{at}: {name} {tok!r} is not an integer")
    return v


def read_gavel(
    throughputs_json: PathLike,
    trace: PathLike,
    cluster: Mapping[str, int] | None = None,
    gpus_per_node: int = 4,
    oversize: str = "error",
    limit: int | None = None,
) -> Problem:
    """Read a Gavel job trace on a heterogeneous GPU cluster as a schedule problem.

    Parameters
    ----------
    throughputs_json : str or os.PathLike
        Gavel throughput file (see :func:`gavel_throughput_table`); steps per second.
    trace : str or os.PathLike
        Tab-separated trace, one job per line, in either of Gavel's formats:
        10 fields ``job_type, command, working_directory, num_steps_arg, needs_data_dir,
        total_steps, scale_factor, priority_weight, SLO, arrival_time`` (physical_cluster
        traces) or 7 fields ``job_type, command, num_steps_arg, needs_data_dir, total_steps,
        arrival_time, scale_factor`` (msr traces). All lines must use the same format.
    cluster : mapping of str to int, optional
        GPUs per worker type, e.g. ``{"k80": 36, "p100": 36, "v100": 36}`` (the default).
        Worker types must appear in the throughput file (``*_unconsolidated`` ones may be
        named explicitly); each count must be a multiple of ``gpus_per_node``.
    gpus_per_node : int, default 4
        GPUs per server; each worker type's GPUs are split into servers of this size.
    oversize : {"error", "drop"}, default "error"
        What to do with a job no server can run: its ``scale_factor`` exceeds
        ``gpus_per_node``, or no worker type of the cluster has a positive measured
        throughput for its ``(job_type, scale_factor)``. ``"error"`` raises naming the trace
        line; ``"drop"`` skips it and counts it in ``info["dropped_oversize"]`` /
        ``info["dropped_no_throughput"]``.
    limit : int, optional
        Keep only the first ``limit`` jobs (counted after dropping).

    Returns
    -------
    Problem
        Schedule problem named after the trace stem, ``objective="weighted_completion"``.
        Nodes are servers named ``"<worker type>-<k>"`` (``k`` from 0), with one resource
        ``"gpu"``: ``capacity`` (M, 1) int64 = ``gpus_per_node``, labels ``{"gpu=<type>"}``.
        Tasks are jobs named ``"job<i>"`` (``i`` = 0-based position in the trace):
        ``demand`` (N, 1) int64 = ``scale_factor`` GPUs; ``runtime`` (N, M) in seconds =
        ``total_steps / throughput[worker type][(job_type, scale_factor)]["null"]`` (``inf``
        when the entry is missing or 0); ``release`` (N,) = ``arrival_time`` in seconds;
        ``weight`` (N,) = ``priority_weight`` (10-field traces) else 1; ``duration`` (N,) =
        the smallest finite runtime (informational). ``info`` holds the source, the cluster,
        the drop counts and, per task, ``job_types`` and ``trace_lines``.

    Raises
    ------
    FormatError
        Wrong field count, non-numeric fields, a non-positive scale factor or weight,
        a negative arrival time; names the trace file and line. Also an oversize job
        when ``oversize="error"``.
    ProblemError
        Bad ``cluster`` / ``gpus_per_node`` / ``oversize`` / ``limit`` arguments.

    Notes
    -----
    A job runs on one server (its GPUs are consolidated, which is what the consolidated
    throughputs measure); space sharing (co-location) and Gavel's time-sliced rounds are not
    modelled: a job occupies its GPUs from start to finish.

    References
    ----------
    D. Narayanan, K. Santhanam, F. Kazhamiaka, A. Phanishayee, M. Zaharia,
    "Heterogeneity-Aware Cluster Scheduling Policies for Deep Learning Workloads", OSDI 2020
    (stanford-futuredata/gavel).
    """
    gpus_per_node = _check_gavel_args(gpus_per_node, oversize, limit)
    cluster = dict(DEFAULT_CLUSTER if cluster is None else cluster)
    throughputs = _all_throughputs(throughputs_json)

    workers = list(cluster)
    for worker in workers:
        if worker not in throughputs:
            raise ProblemError(f"cluster names worker type {worker!r}, which "
                               f"{display(throughputs_json)} does not have (it has "
                               f"{', '.join(throughputs)})")
    expanded = servers(cluster, gpus_per_node)
    node_names = [n for n, _ in expanded]
    node_type = [workers.index(w) for _, w in expanded]

    where, n_fields, jobs_read, dropped, kept = _read_gavel_trace(
        trace, throughputs, workers, gpus_per_node, oversize, limit)
    names, job_types, lines, scale, rows, release, weight = ([*c] for c in zip(*kept))
    runtime = np.stack(rows)[:, np.array(node_type, np.int64)]
    duration = np.min(np.stack(rows), axis=1)
    info: dict[str, Any] = {
        "source": "Gavel (Narayanan et al., OSDI 2020)",
        "format": f"gavel-trace-{n_fields}", "throughputs_file": base(throughputs_json),
        "trace_file": base(trace), "reference": _REFERENCE,
        "cluster": {w: int(c) for w, c in cluster.items()}, "gpus_per_node": gpus_per_node,
        "time_unit": "s", "jobs_read": jobs_read,
        "dropped_oversize": dropped["oversize"], "dropped_no_throughput": dropped["no_throughput"],
        "limit": limit, "job_types": job_types, "trace_lines": lines,
    }
    with located(where):
        return Problem(
            np.full((len(node_names), 1), gpus_per_node, np.int64),
            np.array(scale, np.int64).reshape(-1, 1),
            resources=("gpu",), runtime=runtime, duration=duration,
            weight=np.array(weight), release=np.array(release),
            node_names=node_names, task_names=names,
            node_labels=[frozenset([f"gpu={workers[t]}"]) for t in node_type],
            objective="weighted_completion", name=stem(trace), info=info,
        )


def _check_gavel_args(gpus_per_node: int, oversize: str, limit: int | None) -> int:
    """Raise ProblemError on invalid :func:`read_gavel` arguments; ``gpus_per_node`` as int."""
    if oversize not in ("error", "drop"):
        raise ProblemError(f"oversize must be 'error' or 'drop', got {oversize!r}")
    if isinstance(gpus_per_node, bool) or not isinstance(gpus_per_node, (int, np.integer)) \
            or gpus_per_node <= 0:
        raise ProblemError(f"gpus_per_node must be a positive integer, got {gpus_per_node!r}")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer))
                              or limit <= 0):
        raise ProblemError(f"limit must be a positive integer or None, got {limit!r}")
    return int(gpus_per_node)


def _read_gavel_trace(
    trace: PathLike,
    throughputs: Mapping[str, Mapping[tuple[str, int], float]],
    workers: list[str],
    gpus_per_node: int,
    oversize: str,
    limit: int | None,
) -> tuple[str, int | None, int, dict[str, int], list[tuple[Any, ...]]]:
    """(where, field count, jobs read, drop counts, kept jobs) of a trace, checked."""
    # a kept job: (name, job type, line, scale factor, runtime per worker type, arrival, weight)
    text, where = read_text(trace)
    n_fields = None
    jobs_read = 0
    dropped = {"oversize": 0, "no_throughput": 0}
    kept: list[tuple[Any, ...]] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        if limit is not None and len(kept) >= limit:
            break
        at = f"{where} line {lineno}"
        n_fields, job_type, steps, sf, arrival, prio = _parse_trace_line(raw, at, n_fields)
        job_index = jobs_read
        jobs_read += 1
        if sf > gpus_per_node:
            if oversize == "error":
                raise FormatError(f"{at}: job {job_index} ({job_type}) needs scale_factor={sf} "
                                  f"GPUs but a server has gpus_per_node={gpus_per_node}; pass "
                                  "oversize='drop' to skip such jobs or raise gpus_per_node")
            dropped["oversize"] += 1
            continue
        key = (job_type, sf)
        thr = np.array([throughputs[w].get(key, 0.0) for w in workers])
        with np.errstate(divide="ignore"):
            rt = np.where(thr > 0, steps / np.where(thr > 0, thr, 1.0), np.inf)
        if not np.isfinite(rt).any():
            if oversize == "error":
                raise FormatError(f"{at}: job {job_index} ({job_type}, scale_factor={sf}) has "
                                  "no positive measured throughput on any worker type of the "
                                  f"cluster ({', '.join(workers)}); pass oversize='drop' to "
                                  "skip such jobs")
            dropped["no_throughput"] += 1
            continue
        kept.append((f"job{job_index}", job_type, lineno, sf, rt, arrival, prio))
    if not kept:
        raise FormatError(f"{where}: no jobs to schedule ({jobs_read} read, "
                          f"{dropped['oversize']} oversize and {dropped['no_throughput']} "
                          "without throughput dropped)")
    return where, n_fields, jobs_read, dropped, kept


def _parse_trace_line(raw: str, at: str,
                      n_fields: int | None) -> tuple[int, str, int, int, float, float]:
    """One trace line as (field count, job type, total steps, scale factor, arrival, weight)."""
    fields = raw.rstrip("\r\n").split("\t")
    if len(fields) not in (7, 10):
        raise FormatError(f"{at}: {len(fields)} tab-separated fields; a Gavel trace line "
                          "has 10 (job_type, command, working_directory, num_steps_arg, "
                          "needs_data_dir, total_steps, scale_factor, priority_weight, SLO, "
                          "arrival_time) or 7 (job_type, command, num_steps_arg, "
                          "needs_data_dir, total_steps, arrival_time, scale_factor)")
    if n_fields is not None and len(fields) != n_fields:
        raise FormatError(f"{at}: {len(fields)} fields, but earlier lines have {n_fields}")
    n_fields = len(fields)
    rec = dict(zip(_FIELDS_10 if n_fields == 10 else _FIELDS_7, fields))
    job_type = rec["job_type"].strip()
    steps = _parse_int(rec["total_steps"], at, "total_steps")
    sf = _parse_int(rec["scale_factor"], at, "scale_factor")
    arrival = _parse_float(rec["arrival_time"], at, "arrival_time")
    prio = _parse_float(rec["priority_weight"], at, "priority_weight") \
        if n_fields == 10 else 1.0
    if steps < 0:
        raise FormatError(f"{at}: total_steps {steps} is negative")
    if sf <= 0:
        raise FormatError(f"{at}: scale_factor {sf} must be >= 1")
    if arrival < 0:
        raise FormatError(f"{at}: arrival_time {arrival} is negative")
    if prio <= 0:
        raise FormatError(f"{at}: priority_weight {prio} must be > 0")
    return n_fields, job_type, steps, sf, arrival, prio

"""Pollux (OSDI 2021) workloads: job arrivals with runtimes from Pollux's measured traces."""

from __future__ import annotations

import csv
import io as _io
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from gabalance.io._common import (
    FormatError,
    PathLike,
    base,
    display,
    read_text,
    servers,
    stem,
)
from gabalance.problem import Problem, ProblemError

__all__ = ["POLLUX_APPLICATIONS", "read_pollux"]

#: the six applications of the Pollux workloads
POLLUX_APPLICATIONS = ("bert", "cifar10", "deepspeech2", "imagenet", "ncf", "yolov3")
#: relative GPU speeds used to carry Pollux's testbed times to K80 / P100 / V100 servers
#: (gabalance.generate.GPU_SPEED); the testbed's GPUs (NVIDIA T4) count as P100s
_SPEED = {"k80": 1.0, "p100": 3.0, "v100": 5.0}
_TESTBED = "p100"
_REFERENCE = ("A. Qiao, S. K. Choe, S. J. Subramanya, W. Neiswanger, Q. Ho, H. Zhang, G. R. "
              "Ganger, E. P. Xing, \"Pollux: Co-adaptive Cluster Scheduling for "
              "Goodput-Optimized Deep Learning\", OSDI 2021")


def _rows(path: Path) -> list[dict[str, str]]:
    text, _ = read_text(path)
    reader = csv.DictReader(_io.StringIO(text))
    return [dict(r) for r in reader]


class _App:
    """Measured iterations to the target (per total batch size) and step times of one app."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.iterations: dict[int, int] = {}
        for f in sorted(folder.glob("validation-*.csv")):
            rows = _rows(f)
            if not rows:
                raise FormatError(f"{display(f)}: no rows")
            try:
                self.iterations[int(f.stem.split("-", 1)[1])] = int(float(rows[-1]["iteration"]))
            except (KeyError, ValueError):
                raise FormatError(f"{display(f)}: expected columns progress,iteration,...") \
                    from None
        if not self.iterations:
            raise FormatError(f"{display(folder)}: no validation-<batch size>.csv files")
        self.steps: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        place = folder / "placements.csv"
        by_gpus: dict[int, list[tuple[float, float]]] = {}
        for k, r in enumerate(_rows(place), 2):
            try:
                p, bsz, t = r["placement"], float(r["local_bsz"]), float(r["step_time"])
            except (KeyError, ValueError):
                raise FormatError(f"{display(place)} line {k}: expected placement,local_bsz,"
                                  "step_time,sync_time") from None
            if len(p) == 1 and p.isdigit():  # all GPUs on one node
                by_gpus.setdefault(int(p), []).append((bsz, t))
        for g, pts in by_gpus.items():
            pts.sort()
            self.steps[g] = (np.array([b for b, _ in pts]), np.array([t for _, t in pts]))

    def runtime(self, batch: int, gpus: int) -> float:
        """Seconds to train to the target with total batch ``batch`` on ``gpus`` GPUs of one
        node: iterations x step time (gradient accumulation above the largest measured
        per-GPU batch)."""
        sizes = sorted(self.iterations)
        b = min(sizes, key=lambda s: abs(math.log(s / batch)))
        if gpus not in self.steps:
            raise FormatError(f"{display(self.folder)}: no single-node placement with {gpus} "
                              "GPUs in placements.csv")
        bsz, t = self.steps[gpus]
        local = batch / gpus
        acc = max(1, math.ceil(local / bsz[-1] - 1e-9))
        step = acc * float(np.interp(local / acc, bsz, t))
        return self.iterations[b] * step


def read_pollux(
    workload_csv: PathLike,
    traces: PathLike | None = None,
    cluster: Mapping[str, int] | None = None,
    gpus_per_node: int = 4,
    limit: int | None = None,
) -> Problem:
    """Read a Pollux workload as a schedule problem on a K80/P100/V100 cluster.

    Parameters
    ----------
    workload_csv : str or os.PathLike
        ``workloads*/workload-<k>.csv`` of the Pollux simulator: ``name,time,application,
        num_replicas,batch_size`` (submission time in seconds).
    traces : str or os.PathLike, optional
        The simulator's ``traces`` folder with ``<application>/placements.csv`` and
        ``validation-<batch size>.csv`` (default: ``traces`` beside the workload's folder).
    cluster : mapping, optional
        GPUs per type among ``k80``, ``p100``, ``v100`` (default 36 each).
    gpus_per_node : int, default 4
        GPUs per server.
    limit : int, optional
        Keep the first ``limit`` jobs.

    Returns
    -------
    Problem
        Nodes ``"<type>-<k>"`` with one resource ``gpu`` and label ``gpu=<type>``; tasks named
        after the workload's jobs, ``release`` = submission time, ``weight`` 1, ``demand`` =
        ``min(num_replicas, gpus_per_node)`` GPUs (a job runs on one server; Pollux's jobs
        are elastic, ``num_replicas`` is their initial size). Runtime on the testbed: the
        iterations the application needed to reach its target at the job's batch size (the
        last row of ``validation-<batch size>.csv``, nearest measured batch size) times the
        measured step time of that many GPUs on one node at per-GPU batch
        ``batch_size / GPUs`` (interpolated; gradient accumulation beyond the largest
        measured per-GPU batch). On a K80 / P100 / V100 server it is that time x 3 / speed
        with speeds 1 / 3 / 5 (the testbed's T4 GPUs counted as P100s; the relative speeds
        of ``gabalance.generate.GPU_SPEED``). ``info["job_types"]`` holds the application
        of each job, ``info["capped"]`` how many asked for more than one server.

    Raises
    ------
    FormatError
        Missing columns, unknown application, unreadable trace files (naming file and line).
    """
    if isinstance(gpus_per_node, bool) or not isinstance(gpus_per_node, (int, np.integer)) \
            or not 1 <= gpus_per_node <= 9:
        raise ProblemError(f"gpus_per_node must be an integer from 1 to 9 (the measured "
                           f"single-node placements), got {gpus_per_node!r}")
    workload = Path(os.fspath(workload_csv))
    folder = Path(os.fspath(traces)) if traces is not None else workload.parent.parent / "traces"
    cluster = dict(cluster if cluster is not None else {"k80": 36, "p100": 36, "v100": 36})
    for w in cluster:
        if w not in _SPEED:
            raise ProblemError(f"cluster names GPU type {w!r}; choose from {', '.join(_SPEED)}")
    expanded = servers(cluster, gpus_per_node)
    node_names = [n for n, _ in expanded]
    node_type = [w for _, w in expanded]
    text, where = read_text(workload)
    apps: dict[str, _App] = {}
    names: list[str] = []
    kinds: list[str] = []
    release: list[float] = []
    gpus: list[int] = []
    testbed: list[float] = []
    capped = 0
    rows = list(csv.DictReader(_io.StringIO(text)))
    for line, r in enumerate(rows, 2):
        if limit is not None and len(names) >= limit:
            break
        at = f"{where} line {line}"
        try:
            name, t, app = r["name"], float(r["time"]), r["application"].strip()
            replicas, batch = int(r["num_replicas"]), int(r["batch_size"])
        except (KeyError, ValueError, TypeError, AttributeError):
            raise FormatError(f"{at}: expected name,time,application,num_replicas,batch_size"
                              ) from None
        if app not in POLLUX_APPLICATIONS:
            raise FormatError(f"{at}: unknown application {app!r} (Pollux has "
                              f"{', '.join(POLLUX_APPLICATIONS)})")
        if t < 0 or replicas < 1 or batch < 1 or not math.isfinite(t):
            raise FormatError(f"{at}: time must be >= 0, num_replicas and batch_size >= 1")
        if app not in apps:
            if not (folder / app).is_dir():
                raise FormatError(f"{at}: no measurements for {app!r} under {display(folder)} "
                                  "(pass traces=...)")
            apps[app] = _App(folder / app)
        g = min(replicas, gpus_per_node)
        capped += replicas > g
        names.append(name)
        kinds.append(app)
        release.append(t)
        gpus.append(g)
        testbed.append(apps[app].runtime(batch, g))
    if not names:
        raise FormatError(f"{where}: no jobs")
    speed = np.array([_SPEED[_TESTBED] / _SPEED[w] for w in node_type])
    runtime = np.array(testbed)[:, None] * speed[None, :]
    info: dict[str, Any] = {
        "source": "Pollux (Qiao et al., OSDI 2021)", "reference": _REFERENCE,
        "format": "pollux-workload", "workload_file": base(workload), "time_unit": "s",
        "cluster": cluster, "gpus_per_node": int(gpus_per_node), "capped": int(capped),
        "speeds": dict(_SPEED), "testbed_as": _TESTBED, "job_types": kinds,
    }
    return Problem(
        np.full((len(node_names), 1), gpus_per_node, np.int64),
        np.array(gpus, np.int64).reshape(-1, 1), resources=("gpu",), runtime=runtime,
        duration=runtime.min(axis=1), release=np.array(release), task_names=names,
        node_names=node_names, node_labels=[frozenset([f"gpu={w}"]) for w in node_type],
        objective="weighted_completion", name=stem(workload), info=info,
    )

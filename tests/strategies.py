"""Hypothesis strategies for random, valid :class:`gabalance.Problem` instances.

Every generated problem is valid by construction: each task gets a *home* node that carries
one label of each of its requirement groups, has a finite runtime for it and enough capacity
for its demand there (the rest of the data is random, so many other pairs are not allowed).

Float data (capacities, demands) are multiples of 1/4 by default, so sums of them are exact
in any order and the backends can be compared with the oracles bit for bit on loads; pass
``nice_floats=False`` for arbitrary floats.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import Phase, settings
from hypothesis import strategies as st

from gabalance.problem import Problem

import naive

#: hypothesis settings of the tests that run on a CUDA device: a fixed set of examples and no
#: shrinking (a failure on the device is reported as found, not searched for minutes)
GPU_SETTINGS = settings(max_examples=40, deadline=None, derandomize=True,
                        phases=(Phase.explicit, Phase.reuse, Phase.generate))

__all__ = [
    "LABELS",
    "keys",
    "placement_cases",
    "placement_problems",
    "population",
    "problems",
    "schedule_cases",
    "schedule_problems",
]

LABELS = ("gpu", "a100", "h100", "fast")

_QUARTERS = st.integers(0, 32).map(lambda q: q / 4)  # 0, 0.25, ... 8.0


def _float_value(draw: st.DrawFn, nice: bool, hi: float) -> float:
    if nice:
        return draw(st.integers(0, int(hi * 4))) / 4
    return draw(st.floats(0.0, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False))


@st.composite
def problems(
    draw: st.DrawFn,
    *,
    schedule: bool = False,
    max_nodes: int = 8,
    max_tasks: int = 12,
    max_resources: int = 3,
    nice_floats: bool = True,
) -> Problem:
    """A random valid problem; ``schedule=True`` adds DAG edges, releases and weights often."""
    M = draw(st.integers(1, max_nodes), label="M")
    N = draw(st.integers(1, max_tasks), label="N")
    K = draw(st.integers(1, max_resources), label="K")
    integer = draw(st.integers(0, 2), label="integer") > 0  # integer data 2 times in 3
    per_node = draw(st.integers(0, 3), label="per_node") == 0

    def value(hi: int) -> int | float:
        if integer:
            return draw(st.integers(0, hi))
        return _float_value(draw, nice_floats, float(hi))

    # capacities: sometimes zero in a resource (U = 0 or inf, scale 0)
    zero_cap = st.integers(0, 7)
    capacity = [[0 if draw(zero_cap) == 0 else value(12) for _ in range(K)] for _ in range(M)]

    def demand_row() -> list[int | float]:
        return [0 if draw(st.integers(0, 4)) == 0 else value(6) for _ in range(K)]

    if per_node:
        demand = [[demand_row() for _ in range(M)] for _ in range(N)]
    else:
        demand = [demand_row() for _ in range(N)]

    # labels and requirements (any-of groups)
    node_labels = [set(draw(st.sets(st.sampled_from(LABELS), max_size=3))) for _ in range(M)]
    group = st.frozensets(st.sampled_from(LABELS), min_size=1, max_size=2)
    requires = [draw(st.lists(group, max_size=2)) if draw(st.integers(0, 2)) == 0 else []
                for _ in range(N)]

    # runtimes: a matrix with some inf, or duration / speed
    durations = st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0]) | _QUARTERS
    use_runtime = draw(st.booleans(), label="use_runtime")
    runtime = duration = speed = None
    if use_runtime:
        runtime = [[math.inf if draw(st.integers(0, 4)) == 0 else draw(durations)
                    for _ in range(M)] for _ in range(N)]
    else:
        duration = [draw(durations) for _ in range(N)]
        speed = [draw(st.sampled_from([0.5, 1.0, 1.0, 2.0, 1.5, 3.0])) for _ in range(M)]

    # make each task fit its home node
    home = [draw(st.integers(0, M - 1)) for _ in range(N)]
    for i, h in enumerate(home):
        for g in requires[i]:
            if not (g & node_labels[h]):
                node_labels[h].add(draw(st.sampled_from(sorted(g))))
        if runtime is not None and math.isinf(runtime[i][h]):
            runtime[i][h] = draw(durations)
        row = demand[i][h] if per_node else demand[i]
        for k in range(K):
            if row[k] > capacity[h][k]:
                row[k] = capacity[h][k]

    cost = None
    cost_kind = draw(st.sampled_from(["none", "none", "int", "float"]), label="cost")
    if cost_kind == "int":
        cost = [[draw(st.integers(0, 20)) for _ in range(M)] for _ in range(N)]
    elif cost_kind == "float":
        cost = [[draw(_QUARTERS) for _ in range(M)] for _ in range(N)]

    edges: list[tuple[int, int]] = []
    data: list[float] = []
    release = weight = None
    bandwidth: float | list[list[float]] = math.inf
    if schedule:  # placement objectives refuse dependencies
        pairs = [(a, b) for b in range(N) for a in range(b)]
        if pairs:
            least = 1 if schedule and draw(st.booleans()) else 0
            edges = draw(st.lists(st.sampled_from(pairs), unique=True, min_size=least,
                                  max_size=min(len(pairs), 2 * N)), label="edges")
        data = [draw(st.sampled_from([0.0, 0.0, 1.0, 2.0, 0.5, 3.0])) for _ in edges]
        bw_kind = draw(st.sampled_from(["inf", "scalar", "matrix"]), label="bandwidth")
        if bw_kind == "scalar":
            bandwidth = draw(st.sampled_from([0.5, 1.0, 2.0, 4.0]))
        elif bw_kind == "matrix":
            bw = st.sampled_from([math.inf, 0.5, 1.0, 2.0, 4.0])
            bandwidth = [[draw(bw) for _ in range(M)] for _ in range(M)]
    if schedule or draw(st.booleans()):
        if draw(st.booleans()):
            release = [draw(st.sampled_from([0.0, 0.0, 1.0, 2.5])) for _ in range(N)]
        if draw(st.booleans()):
            weight = [draw(st.sampled_from([0.5, 1.0, 2.0, 3.0])) for _ in range(N)]

    cap_arr = np.array(capacity, dtype=np.int64 if integer else np.float64).reshape(M, K)
    dem_shape = (N, M, K) if per_node else (N, K)
    dem_arr = np.array(demand, dtype=np.int64 if integer else np.float64).reshape(dem_shape)
    return Problem(
        cap_arr,
        dem_arr,
        speed=speed,
        duration=duration,
        runtime=None if runtime is None else np.array(runtime, dtype=np.float64),
        cost=None if cost is None else np.array(cost),
        weight=weight,
        release=release,
        edges=np.array(edges, dtype=np.int64).reshape(-1, 2),
        data=np.array(data, dtype=np.float64),
        bandwidth=bandwidth,
        node_labels=[sorted(s) for s in node_labels],
        task_requires=[[sorted(g) for g in req] for req in requires],
    )


def placement_problems(**kwargs: object) -> st.SearchStrategy[Problem]:
    """Random valid problems for placement mode (no dependencies: placement objectives refuse
    them)."""
    return problems(schedule=False, **kwargs)


def schedule_problems(**kwargs: object) -> st.SearchStrategy[Problem]:
    """Random valid problems for schedule mode (DAG edges, data, bandwidth, releases, weights)."""
    return problems(schedule=True, **kwargs)


def _allowed_nodes(problem: Problem) -> list[list[int]]:
    return [[j for j in range(problem.n_nodes) if naive.allowed(problem, i, j)]
            for i in range(problem.n_tasks)]


@st.composite
def population(draw: st.DrawFn, problem: Problem, max_p: int = 6,
               min_p: int = 1) -> np.ndarray:
    """A (P, N) int32 population mixing random rows (often not allowed), rows using only
    allowed nodes, and rows crowding all tasks onto one or two nodes (overloads)."""
    N, M = problem.n_tasks, problem.n_nodes
    P = draw(st.integers(min_p, max_p), label="P")
    ok = _allowed_nodes(problem)
    rows = []
    for _ in range(P):
        kind = draw(st.sampled_from(["random", "allowed", "allowed", "crowd"]))
        if kind == "random":
            row = [draw(st.integers(0, M - 1)) for _ in range(N)]
        elif kind == "allowed":
            row = [draw(st.sampled_from(ok[i])) for i in range(N)]
        else:
            few = draw(st.lists(st.integers(0, M - 1), min_size=1, max_size=2))
            row = [draw(st.sampled_from(few)) for _ in range(N)]
        rows.append(row)
    return np.array(rows, dtype=np.int32).reshape(P, N)


@st.composite
def keys(draw: st.DrawFn, n_rows: int, n_tasks: int) -> np.ndarray:
    """(n_rows, n_tasks) float64 priority keys: tie-heavy ({0, 0.25, 0.5}) or continuous."""
    out = []
    for _ in range(n_rows):
        if draw(st.booleans()):
            row = [draw(st.sampled_from([0.0, 0.25, 0.5])) for _ in range(n_tasks)]
        else:
            row = [draw(st.floats(0.0, 1.0, exclude_max=True)) for _ in range(n_tasks)]
        out.append(row)
    return np.array(out, dtype=np.float64).reshape(n_rows, n_tasks)


@st.composite
def placement_cases(draw: st.DrawFn, max_p: int = 6, **kwargs: object
                    ) -> tuple[Problem, np.ndarray]:
    """``(problem, population (P, N) int32)`` for placement mode."""
    problem = draw(placement_problems(**kwargs))
    return problem, draw(population(problem, max_p))


@st.composite
def schedule_cases(draw: st.DrawFn, max_p: int = 6, **kwargs: object
                   ) -> tuple[Problem, np.ndarray, np.ndarray]:
    """``(problem, population (P, N) int32, keys (P, N) float64)`` for schedule mode."""
    problem = draw(schedule_problems(**kwargs))
    pop = draw(population(problem, max_p))
    return problem, pop, draw(keys(pop.shape[0], problem.n_tasks))


@st.composite
def device_problems(draw: st.DrawFn, max_n: int = 8, max_m: int = 4,
                    max_gpus: int = 4) -> Problem:
    """Random problems of the GPU-device model: nodes with 0..max_gpus devices, tasks asking
    nothing, a share of one device (1..999 milli-GPU) or k whole devices, one integer
    resource, labels now and then, waiting allowed per task."""
    N = draw(st.integers(1, max_n), label="N")
    M = draw(st.integers(1, max_m), label="M")
    gpus = [draw(st.integers(0, max_gpus)) for _ in range(M)]
    gpus[0] = max(gpus[0], 1)  # the model needs one device somewhere
    most = max(gpus)
    kinds = []
    for _ in range(N):
        kind = draw(st.sampled_from(["none", "share", "share", "whole"]))
        if kind == "share" or (kind == "whole" and most == 0):
            kinds.append(draw(st.sampled_from([100, 250, 300, 460, 500, 700, 999])))
        elif kind == "whole":
            kinds.append(1000 * draw(st.integers(1, most)))
        else:
            kinds.append(0)
    cap = [[draw(st.integers(1, 16))] for _ in range(M)]
    dem = [[draw(st.integers(0, 8))] for _ in range(N)]
    labels = [["a"] if draw(st.booleans()) else [] for _ in range(M)]
    requires = [[["a"]] if draw(st.integers(0, 5)) == 0 else [] for _ in range(N)]
    may_wait = [draw(st.booleans()) for _ in range(N)]
    weight = [draw(st.sampled_from([1.0, 1.0, 2.0, 0.5])) for _ in range(N)]
    # every task must fit some node on its own (Problem refuses it otherwise)
    for i in range(N):
        if not any(dem[i][0] <= cap[j][0] and kinds[i] // 1000 <= gpus[j]
                   and (kinds[i] == 0 or gpus[j] > 0)
                   and (not requires[i] or "a" in labels[j]) for j in range(M)):
            requires[i], dem[i], kinds[i] = [], [0], 0
    if not any(kinds):  # and one task asking for GPU (node 0 holds it)
        requires[0], dem[0], kinds[0] = [], [0], 500
    return Problem(np.array(cap, np.int64), np.array(dem, np.int64), gpus=gpus,
                   gpu_milli=kinds, may_wait=may_wait, weight=weight, node_labels=labels,
                   task_requires=requires, objective="gpu_allocation")


@st.composite
def device_solutions(draw: st.DrawFn, problem: Problem, max_p: int = 5
                     ) -> tuple[np.ndarray, np.ndarray]:
    """A (P, N) int32 population (waiting -1 now and then) and (P, N) int64 device masks
    (random bits below the node's count, sometimes beyond it or of the wrong size)."""
    N, M = problem.n_tasks, problem.n_nodes
    P = draw(st.integers(1, max_p), label="P")
    pop = np.array([[draw(st.integers(-1, M - 1)) for _ in range(N)] for _ in range(P)],
                   np.int32).reshape(P, N)
    masks = np.zeros((P, N), np.int64)
    for p in range(P):
        for i in range(N):
            j = int(pop[p, i])
            width = int(problem.gpus[j]) if j >= 0 else 0
            top = (1 << (width + draw(st.integers(0, 1)))) - 1
            masks[p, i] = draw(st.integers(0, max(top, 0)))
    return pop, masks

"""Tests of the seeded generators (gabalance.generate) and the shipped examples."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import numpy as np
import pytest

import gabalance as gb
from gabalance import Problem
from gabalance.generate import GPU_MODELS, ai_cluster, gap_like, random_dag

ROOT = Path(__file__).resolve().parent.parent
GAVEL = Path("gavel_throughputs", "scheduler", "simulation_throughputs.json")


def _data_dir() -> Path | None:
    try:
        from gabalance.io import data_dir
    except ImportError:
        d = ROOT.parent / "shared" / "data"
        return d if d.is_dir() else None
    return data_dir()


def _gavel_table() -> dict:
    d = _data_dir()
    if d is None or not (d / GAVEL).is_file():
        pytest.skip("Gavel data not available")
    try:
        from gabalance.io import gavel_throughput_table
    except ImportError:
        raw = json.loads((d / GAVEL).read_text())
        table: dict = {}
        for worker in GPU_MODELS:
            for key, row in raw[worker].items():
                job, sf = ast.literal_eval(key)
                table.setdefault((job, int(sf)), {})[worker] = float(row["null"])
        return table
    return gavel_throughput_table(d / GAVEL)


@pytest.fixture(scope="module")
def gavel_table() -> dict:
    return _gavel_table()


def _longest_path_levels(n: int, edges: np.ndarray) -> np.ndarray:
    """Longest path (in edges) from any entry task, assuming edges go from low to high index."""
    depth = np.zeros(n, np.int64)
    for p, s in sorted(map(tuple, edges.tolist()), key=lambda e: e[1]):
        depth[s] = max(depth[s], depth[p] + 1)
    return depth


# --------------------------------------------------------------------------- determinism


GENERATORS = [
    lambda s: ai_cluster(12, 60, seed=s),
    lambda s: ai_cluster(12, 60, seed=s, dependencies=False, dense_runtime=False),
    lambda s: random_dag(60, seed=s),
    lambda s: random_dag(60, seed=s, speeds=True),
    lambda s: gap_like(5, 30, kind="a", seed=s),
    lambda s: gap_like(5, 30, kind="d", seed=s),
]


@pytest.mark.parametrize("gen", GENERATORS)
def test_same_seed_same_problem_different_seed_different(gen):
    a, b, c = gen(7), gen(7), gen(8)
    assert a == b
    assert a != c
    assert gen(np.random.default_rng(3)) == gen(np.random.default_rng(3))
    # a JSON round trip keeps everything
    assert Problem.from_json(a.to_json()) == a


def test_bad_seed():
    with pytest.raises(TypeError):
        random_dag(10, seed=1.5)


# --------------------------------------------------------------------------- ai_cluster


@pytest.mark.parametrize("kw", [
    {},
    {"gpu_fraction": 0.0},
    {"gpu_fraction": 1.0},
    {"n_nodes": 1, "n_tasks": 7},
    {"n_nodes": 3, "n_tasks": 40, "seed": 5},
    {"dependencies": False},
    {"dense_runtime": False, "objective": "max_utilization"},
])
def test_ai_cluster_valid(kw):
    args = {"n_nodes": 20, "n_tasks": 150, **kw}
    p = ai_cluster(**args)  # the constructor rejects a task that fits no node
    assert (p.n_nodes, p.n_tasks) == (args["n_nodes"], args["n_tasks"])
    assert p.resources == ("cpu", "gpu", "mem_gb")
    assert p.capacity.dtype == np.int64 and p.demand.dtype == np.int64
    assert p.allowed.any(axis=1).all()
    assert (p.runtime is None) == (not args.get("dense_runtime", True))
    if not args.get("dependencies", True):
        assert p.n_edges == 0
    is_gpu_node = np.array(["gpu" in lab for lab in p.node_labels])
    for i, name in enumerate(p.task_names):
        kind = name.split("-")[0]
        assert kind in ("data", "train", "infer")
        if kind == "data":
            assert p.demand[i, 1] == 0 and p.task_requires[i] == ()
        else:
            assert p.demand[i, 1] >= 1
            assert frozenset({"gpu"}) in p.task_requires[i]
            assert not p.allowed[i, ~is_gpu_node].any()
    if args.get("gpu_fraction") == 0.0:
        assert not is_gpu_node.any() and all(n.startswith("data") for n in p.task_names)


def test_ai_cluster_structure():
    p = ai_cluster(32, 400, seed=1)
    kinds = np.array([n.split("-")[0] for n in p.task_names])
    # every kind occurs; inference has the highest weight
    assert set(kinds) == {"data", "train", "infer"}
    assert p.weight[kinds == "infer"].min() > p.weight[kinds != "infer"].max()
    # pipelines: data -> train -> infer, with some fan-in
    pk, sk = kinds[p.edges[:, 0]], kinds[p.edges[:, 1]]
    assert set(zip(pk.tolist(), sk.tolist())) == {("data", "train"), ("train", "infer")}
    assert np.all(p.edges[:, 0] < p.edges[:, 1])
    assert np.bincount(p.edges[:, 1], minlength=p.n_tasks).max() >= 2
    assert np.all(p.data > 0) and math.isfinite(p.bandwidth)
    assert p.release.max() > 0 and np.all(p.release >= 0)
    # tasks of one pipeline share a release time (cross-pipeline fan-in edges need not)
    assert np.mean(p.release[p.edges[:, 0]] == p.release[p.edges[:, 1]]) > 0.7
    # heterogeneous node types and GPU models
    assert {"cpu", "gpu"} <= set().union(*p.node_labels)
    models = {lab for labs in p.node_labels for lab in labs if lab.startswith("gpu=")}
    assert len(models) >= 2
    # a GPU task is faster on a V100 node than on a K80 node with the built-in factors
    # (up to the affinity noise), on average
    gpu_tasks = kinds != "data"
    k80 = [j for j, labs in enumerate(p.node_labels) if "gpu=k80" in labs]
    v100 = [j for j, labs in enumerate(p.node_labels) if "gpu=v100" in labs]
    if k80 and v100:
        assert np.mean(p.runtime[gpu_tasks, k80[0]]) > np.mean(p.runtime[gpu_tasks, v100[0]])


def test_ai_cluster_sparse_matches_speed_model():
    p = ai_cluster(16, 100, seed=3, dense_runtime=False)
    assert p.runtime is None
    assert p.runtime_of(0, 0) == pytest.approx(p.duration[0] / p.speed[0])


def test_ai_cluster_large_sparse_is_lean():
    p = ai_cluster(2000, 20_000, seed=0, dependencies=False, dense_runtime=False,
                   objective="max_utilization")
    assert p.runtime is None and p.n_edges == 0
    assert p.demand.nbytes + p.capacity.nbytes < 1_000_000


@pytest.mark.parametrize("fill", [0.8, 0.3])
def test_ai_cluster_fill_fits_every_label_class(fill):
    # 10 tasks per node ask for several times the GPUs; fill shrinks them into the cluster
    kw = dict(seed=2, dependencies=False, dense_runtime=False)
    raw = ai_cluster(60, 600, **kw)
    p = ai_cluster(60, 600, fill=fill, **kw)
    assert np.any(raw.demand.sum(0) > raw.capacity.sum(0))
    np.testing.assert_array_equal(p.capacity, raw.capacity * 1000)
    assert (p.demand > 0).sum() == (raw.demand > 0).sum()  # no demand vanishes
    assert np.all(p.demand <= raw.demand * 1000)
    gpu_nodes = np.array(["gpu" in lab for lab in p.node_labels])
    gpu_tasks = np.array(["gpu" in {x for r in req for x in r} for req in p.task_requires])
    classes = [(np.ones(p.n_nodes, bool), np.ones(p.n_tasks, bool)), (gpu_nodes, gpu_tasks)]
    for model in ("k80", "p100", "v100"):
        label = f"gpu={model}"
        classes.append((np.array([label in lab for lab in p.node_labels]),
                        np.array([label in {x for r in req for x in r}
                                  for req in p.task_requires])))
    for nodes, tasks in classes:
        assert np.all(p.demand[tasks].sum(0) <= fill * p.capacity[nodes].sum(0) + tasks.sum())
    assert p.info["units"]["gpu"] == "1/1000 GPU" and p.info["params"]["fill"] == fill
    # a plan that fits exists (the GA finds one; one greedy pass may not)
    placement = p.replace(objective="max_utilization")
    res = gb.solve(placement, max_generations=3, seed=0)
    assert res.violation == 0 and gb.validate(placement, res.x).ok


def test_ai_cluster_argument_errors():
    for bad in (0, -0.5, 1.5, True, "0.8"):
        with pytest.raises(ValueError, match="fill must be a number in"):
            ai_cluster(4, 10, fill=bad)
    with pytest.raises(ValueError):
        ai_cluster(4, 10, gpu_fraction=1.5)
    with pytest.raises(ValueError):
        ai_cluster(4, 10, throughputs={("x", 1): {"k80": 1, "p100": 1, "v100": 1}},
                   dense_runtime=False)


@pytest.mark.data
def test_ai_cluster_gavel_runtimes(gavel_table):
    p = ai_cluster(24, 200, seed=4, throughputs=gavel_table)
    jobs = p.info["job_types"]
    gpu_tasks = [i for i, n in enumerate(p.task_names) if not n.startswith("data")]
    assert len(jobs) == len(gpu_tasks) > 0
    model_of = {}
    for j, labs in enumerate(p.node_labels):
        for lab in labs:
            if lab.startswith("gpu="):
                model_of[j] = lab[4:]
    ratios_seen = set()
    for i in gpu_tasks:
        job, sf = jobs[p.task_names[i]].rsplit(" x", 1)
        thr = gavel_table[(job, int(sf))]
        assert int(sf) == p.demand[i, 1]
        # runtime * throughput = steps, the same on every GPU node (runtimes are rounded
        # to 0.1 s)
        steps = [p.runtime[i, j] * thr[m] for j, m in model_of.items()]
        assert np.allclose(steps, steps[0], rtol=1e-9, atol=0.1 * max(thr.values()))
        if {"p100", "v100"} <= set(model_of.values()):
            ratios_seen.add(thr["p100"] > thr["v100"])
    # heterogeneity is not monotone: some jobs are faster on a P100 than on a V100
    assert ratios_seen == {True, False}


# --------------------------------------------------------------------------- random_dag


@pytest.mark.parametrize("kw", [
    {"v": 100},
    {"v": 200, "alpha": 0.5, "out_degree": 1},
    {"v": 150, "alpha": 2.0, "out_degree": 5, "beta": 1.0},
    {"v": 1},
    {"v": 2, "n_procs": 1},
])
def test_random_dag_shape(kw):
    p = random_dag(**kw, seed=11)
    v, out_degree = kw["v"], kw.get("out_degree", 3)
    levels = np.array(p.info["levels"])
    assert p.n_tasks == v and len(levels) == v
    assert np.all(np.diff(levels) >= 0)  # numbered level by level
    e = p.edges
    assert np.all(levels[e[:, 0]] < levels[e[:, 1]])  # acyclic, only to later levels
    assert len(set(map(tuple, e.tolist()))) == len(e)
    outdeg = np.bincount(e[:, 0], minlength=v)
    indeg = np.bincount(e[:, 1], minlength=v)
    assert outdeg.max(initial=0) <= out_degree
    # a task's level is the longest path reaching it; entries = level 0, exits = last level
    assert np.array_equal(_longest_path_levels(v, e), levels)
    assert np.array_equal(indeg == 0, levels == 0)
    assert np.array_equal(outdeg == 0, levels == levels.max())
    # HEFT's model: one task at a time per processor, runtimes within the beta range
    assert p.resources == ("slots",) and np.all(p.capacity == 1) and np.all(p.demand == 1)
    assert p.runtime.shape == (v, kw.get("n_procs", 4)) and p.bandwidth == 1.0
    assert p.objective == "makespan"
    beta = kw.get("beta", 0.5)
    spread = p.runtime.max(axis=1) - p.runtime.min(axis=1)
    assert np.all(spread <= beta * p.runtime.mean(axis=1) / (1 - beta / 2) + 1e-9)


def test_random_dag_large_statistics():
    v, alpha, ccr, w_dag = 2500, 1.0, 2.0, 40.0
    p = random_dag(v, alpha=alpha, ccr=ccr, w_dag=w_dag, n_procs=3, seed=1)
    levels = np.array(p.info["levels"])
    height = levels.max() + 1
    assert 0.6 * math.sqrt(v) / alpha < height < 1.6 * math.sqrt(v) / alpha
    assert p.data.mean() / p.runtime.mean() == pytest.approx(ccr, rel=1e-9)
    assert p.runtime.mean() == pytest.approx(w_dag, rel=0.05)
    widths = np.bincount(levels)
    assert widths[:-1].mean() == pytest.approx(alpha * math.sqrt(v), rel=0.25)


def test_random_dag_ccr_zero_and_errors():
    assert np.all(random_dag(50, ccr=0.0).data == 0)
    with pytest.raises(ValueError):
        random_dag(10, out_degree=0)
    with pytest.raises(ValueError):
        random_dag(10, beta=3.0)


@pytest.mark.parametrize("kw", [
    {"v": 80},
    {"v": 120, "ccr": 10.0, "beta": 1.5, "n_procs": 7},
    {"v": 40, "ccr": 0.1, "beta": 0.0, "n_procs": 2},
    {"v": 1, "n_procs": 3},
])
def test_random_dag_speeds(kw):
    """The related-processors option: duration and speed, no runtime matrix, same graph."""
    import gabalance as gb

    p = random_dag(**kw, seed=5, speeds=True)
    unrelated = random_dag(**kw, seed=5)
    v, m, beta, ccr = kw["v"], kw.get("n_procs", 4), kw.get("beta", 0.5), kw.get("ccr", 1.0)
    assert p.runtime is None
    assert p.duration.shape == (v,) and p.speed.shape == (m,)
    assert p.resources == ("slots",) and np.all(p.capacity == 1) and np.all(p.demand == 1)
    assert p.bandwidth == 1.0 and p.objective == "makespan"
    # the same graph (and the same w) as the default model from the same seed
    np.testing.assert_array_equal(p.edges, unrelated.edges)
    assert p.info["levels"] == unrelated.info["levels"]
    assert p.info["params"]["speeds"] is True and "speeds" not in unrelated.info["params"]
    assert np.all((p.duration >= 0) & (p.duration <= 2 * 50.0))
    # 1 / speed is the processor's runtime factor, within the beta range
    factor = 1.0 / p.speed
    assert np.all(factor >= 1 - beta / 2 - 1e-12) and np.all(factor <= 1 + beta / 2 + 1e-12)
    runtime = p.duration[:, None] / p.speed[None, :]
    np.testing.assert_array_equal(
        runtime, [[p.runtime_of(i, j) for j in range(m)] for i in range(v)])
    # CCR exact: mean edge cost / mean runtime over all task-processor pairs
    if p.n_edges:
        assert p.data.mean() / runtime.mean() == pytest.approx(ccr, rel=1e-12)
    # reproducible by seed, and a schedule of it passes validate
    assert random_dag(**kw, seed=5, speeds=True) == p
    assert random_dag(**kw, seed=6, speeds=True) != p
    res = gb.solve(p, "makespan", method="heft")
    assert res.success
    assert gb.validate(p, res.x, res.start).ok


def test_random_dag_speeds_rejects_beta_two():
    assert random_dag(10, beta=2.0).runtime is not None  # fine for unrelated runtimes
    with pytest.raises(ValueError, match="beta must be < 2"):
        random_dag(10, beta=2.0, speeds=True)


# --------------------------------------------------------------------------- gap_like


@pytest.mark.parametrize("kind", ["a", "b", "c", "d", "D"])
def test_gap_like_ranges(kind):
    m, n = 10, 100
    p = gap_like(m, n, kind=kind, seed=2)
    r, c, b = p.demand[:, :, 0], p.cost, p.capacity[:, 0]
    assert p.demand.shape == (n, m, 1) and c.shape == (n, m) and b.shape == (m,)
    assert r.dtype == np.int64 and c.dtype == np.int64
    assert p.objective == "cost" and p.sense == "min"
    k = kind.lower()
    if k == "d":
        assert r.min() >= 1 and r.max() <= 100
        e = c - (111 - r)
        assert e.min() >= -10 and e.max() <= 10
        assert e.min() < 0 < e.max()
    else:
        assert r.min() >= 5 and r.max() <= 25 and c.min() >= 10 and c.max() <= 50
    if k in ("c", "d"):
        assert np.array_equal(b, np.floor(0.8 * r.sum(axis=0) / m).astype(np.int64))
    else:
        best = np.argmin(c, axis=1)
        loads = np.bincount(best, weights=r[np.arange(n), best], minlength=m)
        cap = 0.6 * (n / m) * 15 + 0.4 * loads.max()
        cap *= 0.7 if k == "b" else 1.0
        assert np.all(b == math.floor(cap))
    assert p.allowed.any(axis=1).all()


def test_gap_like_small_is_valid_and_bad_kind():
    for s in range(20):
        gap_like(8, 8, kind="c", seed=s)  # redrawn until every job fits some agent
    with pytest.raises(ValueError):
        gap_like(kind="e")


# --------------------------------------------------------------------------- examples


def test_scenario_file():
    from gabalance import examples

    p = examples.load("scenario")
    assert p == Problem.from_json(ROOT / "examples" / "scenario.json")
    assert p.node_names == ("cpu-1", "cpu-2", "cpu-3", "gpu-1", "gpu-2")
    assert p.resources == ("cpu", "gpu")
    demands = {t: tuple(p.demand[i].tolist()) for i, t in enumerate(p.task_names)}
    assert demands == {"T1": (2, 1), "T2": (1, 1), "T3": (1, 0), "T4": (1, 1), "T5": (0, 2)}
    deps = {(p.task_names[a], p.task_names[b]) for a, b in p.edges.tolist()}
    assert deps == {("T2", "T1"), ("T4", "T3"), ("T1", "T5"), ("T4", "T5")}
    assert p.objective == "makespan" and np.all(p.data > 0) and math.isfinite(p.bandwidth)
    assert p.allowed.any(axis=1).all()
    assert "description" in p.info
    # GPU tasks are faster on gpu-1
    for t in ("T1", "T2", "T4", "T5"):
        i = p.task_names.index(t)
        assert p.runtime[i, 3] < p.runtime[i, 4]


def test_ai_cluster_file():
    from gabalance import examples

    assert set(examples.names()) == {"scenario", "ai_cluster"}
    f = examples.path("ai_cluster")
    assert f.is_file() and f.stat().st_size < 1_000_000
    p = examples.load("ai_cluster")
    assert (p.n_nodes, p.n_tasks) == (64, 500)
    assert p.n_edges > 0 and p.runtime is not None
    assert "Gavel" in p.info["source_data"] and "generated_by" in p.info
    with pytest.raises(KeyError):
        examples.path("nope")


@pytest.mark.data
def test_ai_cluster_file_is_current(gavel_table):
    from gabalance.examples import make_ai_cluster

    from gabalance import examples

    p = examples.load("ai_cluster")
    fresh = ai_cluster(64, 500, seed=make_ai_cluster.SEED, throughputs=gavel_table,
                       objective=make_ai_cluster.OBJECTIVE)
    assert fresh.replace(info=p.info, name=p.name) == p

"""The cupy backend: how it is chosen, how its kernels ship, and, on a CUDA device, its
parity with the NumPy reference and the GA running whole generations on the device.

The ``gpu``-marked tests skip without CuPy and a device; the host-compiled twins of the same
kernels are checked everywhere in ``tests/test_kernels.py``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given

import gabalance as gb
from gabalance import backend as be
from gabalance.backend import OBJECTIVE_CODES, pack
from gabalance.backend import _numpy as ref
from gabalance.backend._launch import KERNELS, options
from gabalance.cli import main
from gabalance.generate import gap_like

from strategies import GPU_SETTINGS, placement_cases, schedule_cases

ROOT = Path(__file__).resolve().parents[1]
HAVE_GPU = be.gpu_status()[0]
#: device tests: marked, warmed once per run, and ended by a thread timeout (a hung kernel
#: launch cannot be interrupted by a signal)
gpu = [pytest.mark.gpu, pytest.mark.usefixtures("gpu_warm"),
       pytest.mark.timeout(120, method="thread")]
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason="needs CuPy and a CUDA device")


@pytest.fixture
def fresh_gpu_status():
    """Let a test fake the device check; the real answer is restored afterwards."""
    saved = be._GPU
    yield
    be._GPU = saved


def mark(marks):
    """Apply a list of pytest marks."""
    def apply(fn):
        for m in reversed(marks):
            fn = m(fn)
        return fn
    return apply


def _raises(message):
    return pytest.raises(ValueError, match="^" + re.escape(message) + "$")


# --------------------------------------------------------------------------- choosing it


def test_auto_falls_back_to_numba_without_a_device(monkeypatch, fresh_gpu_status):
    monkeypatch.delenv("GABALANCE_BACKEND", raising=False)
    be._GPU = (False, "no CUDA device answers (test)")
    assert be.resolve_backend("auto") == "numba"
    assert be.resolve_backend(None) == "numba"
    msg = ("backend 'cupy' cannot run here: no CUDA device answers (test); use "
           "backend='numba' (or 'auto', which falls back to it)")
    with _raises(msg):
        be.resolve_backend("cupy")
    with _raises(msg):
        gb.solve(gap_like(2, 4, seed=0), "cost", backend="cupy", max_generations=1)
    monkeypatch.setenv("GABALANCE_BACKEND", "cupy")
    with _raises(msg):
        be.resolve_backend("auto")
    assert be.resolve_backend("numpy") == "numpy"  # an explicit choice wins


def test_auto_prefers_cupy_when_a_device_answers(monkeypatch, fresh_gpu_status):
    monkeypatch.delenv("GABALANCE_BACKEND", raising=False)
    be._GPU = (True, "1 CUDA device(s)")
    assert be.resolve_backend("auto") == "cupy"
    assert be.resolve_backend("cupy") == "cupy"
    monkeypatch.setenv("GABALANCE_BACKEND", "numba")
    assert be.resolve_backend("auto") == "numba"


def test_gpu_status_without_cupy(monkeypatch, fresh_gpu_status):
    monkeypatch.setitem(sys.modules, "cupy", None)  # "import cupy" now raises ImportError
    ok, why = be.gpu_status(refresh=True)
    assert not ok and why.startswith("CuPy is not importable (")


def test_info_reports_the_gpu(capsys, fresh_gpu_status):
    be._GPU = (False, "CuPy is not importable (test)")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "backends  numba, numpy, cupy; auto -> numba" in out
    assert "gpu       none: CuPy is not importable (test)" in out


# --------------------------------------------------------------------------- shipping it


def test_every_kernel_source_is_in_the_kernels_package():
    import importlib

    kernels = importlib.import_module("gabalance.kernels")
    for source, _ in KERNELS.values():
        assert kernels.path(source).is_file()
        assert "extern \"C\" __global__" in kernels.source(source)
    assert kernels.path("common.cuh").is_file()
    with pytest.raises(FileNotFoundError, match=r"no kernel source 'missing\.cu'"):
        kernels.path("missing.cu")


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed")
def test_kernels_compile_with_nvcc(tmp_path):
    """What .ci/run does: every source, both data variants, for sm_90."""
    for source in sorted((ROOT / "kernels").glob("*.cu")):
        for int_data in (False, True):
            cmd = ["nvcc", "-arch=sm_90", *options(int_data, int_data), f"-I{ROOT / 'kernels'}",
                   "-c", str(source), "-o", str(tmp_path / f"{source.stem}.o")]
            done = subprocess.run(cmd, capture_output=True, text=True)
            assert done.returncode == 0, done.stderr


def test_wheel_ships_the_kernels(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps",
                           "--no-build-isolation", "-q", "-w", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("gabalance-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "kernels").iterdir():
        if path.suffix in (".cu", ".cuh") or path.name == "__init__.py":
            assert f"gabalance/kernels/{path.name}" in names, path.name


# --------------------------------------------------------------------------- on a device


@mark(gpu)
@needs_gpu
@GPU_SETTINGS
@given(placement_cases(max_p=8))
def test_cupy_placement_equals_numpy(case):
    from gabalance.backend import _cupy as cu

    problem, pop = case
    pk = pack(problem)
    for objective in ("cost", "max_utilization", "nodes_used", "imbalance"):
        code = OBJECTIVE_CODES[objective]
        want = ref.placement(pk, pop, code)
        got = cu.placement(pk, pop, code)
        assert isinstance(got[0], np.ndarray)  # host in, host out
        np.testing.assert_allclose(got[0], want[0], rtol=1e-12, atol=0)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-12, atol=0)
        if problem.capacity.dtype.kind == "i":
            np.testing.assert_array_equal(got[1], want[1])


@mark(gpu)
@needs_gpu
@GPU_SETTINGS
@given(schedule_cases(max_p=8))
def test_cupy_schedule_equals_numpy(case):
    from gabalance.backend import _cupy as cu

    problem, pop, keys = case
    pk = pack(problem)
    rows = np.arange(pop.shape[0])
    for objective in ("makespan", "weighted_completion"):
        code = OBJECTIVE_CODES[objective]
        want = ref.schedule(pk, pop, keys, code, rows)
        got = cu.schedule(pk, pop, keys, code, rows)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w, rtol=1e-12, atol=0)


@mark(gpu)
@needs_gpu
@GPU_SETTINGS
@given(placement_cases(max_p=8))
def test_cupy_improve_equals_numba(case):
    from gabalance.backend import _cupy as cu
    from gabalance.backend import _numba as nb

    problem, pop = case
    pk = pack(problem)
    rng = np.random.default_rng(0)
    orders = np.argsort(rng.random(pop.shape), axis=1).astype(np.int64)
    for code in range(4):
        for weights in (None, rng.random(pop.shape[0]) * 3 if code == 0 else None):
            want = pop.astype(np.int32).copy()
            nb.improve_placement(pk, want, orders, code, 1.0, 2, weights)
            got = pop.astype(np.int32).copy()
            cu.improve_placement(pk, got, orders, code, 1.0, 2, weights)
            np.testing.assert_array_equal(got, want)


@mark(gpu)
@needs_gpu
def test_ga_runs_on_the_device_and_reproduces():
    p = gap_like(10, 60, kind="c", seed=3)
    a = gb.solve(p, "cost", backend="cupy", max_generations=30, seed=5)
    b = gb.solve(p, "cost", backend="cupy", max_generations=30, seed=5)
    assert a.backend == "cupy" and a.success and gb.validate(p, a.x).ok
    assert a.fun == b.fun and np.array_equal(a.x, b.x)
    cpu = gb.solve(p, "cost", backend="numba", max_generations=30, seed=5)
    assert abs(a.fun - cpu.fun) / cpu.fun < 0.02  # same algorithm, other random streams
    from gabalance import examples

    s = gb.solve(examples.load("scenario"), backend="cupy", max_generations=20, seed=0)
    assert s.success and s.fun == 110.0


@mark(gpu)
@needs_gpu
def test_evaluate_and_validate_take_device_arrays():
    """CuPy in, CuPy out (on the cupy backend and, through a host copy, on numba); the
    checks run on the device array and name the offending entry; NumPy in, NumPy out."""
    import cupy

    from gabalance import examples

    p = gap_like(5, 30, kind="c", seed=1)
    rng = np.random.default_rng(0)
    pop = rng.integers(0, p.n_nodes, (16, p.n_tasks)).astype(np.int32)
    want = gb.evaluate(p, pop, objective="cost", backend="numba")
    for backend in ("cupy", "numba"):
        ev = gb.evaluate(p, cupy.asarray(pop), objective="cost", backend=backend)
        assert isinstance(ev.objective, cupy.ndarray) and isinstance(ev.violation, cupy.ndarray)
        np.testing.assert_allclose(ev.objective.get(), want.objective, rtol=1e-12)
        np.testing.assert_array_equal(ev.violation.get(), want.violation)
    assert isinstance(gb.evaluate(p, pop, objective="cost", backend="cupy").objective,
                      np.ndarray)
    bad = cupy.asarray(pop)
    bad[3, 7] = p.n_nodes
    with _raises(f"population[3, 7] = {p.n_nodes} (task {p.task_names[7]!r}) is not a node "
                 f"index; the problem has {p.n_nodes} nodes"):
        gb.evaluate(p, bad, objective="cost", backend="cupy")
    s = examples.load("scenario")
    x = np.zeros((4, s.n_tasks), np.int32)
    keys = rng.random((4, s.n_tasks))
    host = gb.evaluate(s, x, keys, objective="makespan", backend="numba", schedule="best")
    dev = gb.evaluate(s, cupy.asarray(x), cupy.asarray(keys), objective="makespan",
                      backend="cupy", schedule="best")
    assert isinstance(dev.start, cupy.ndarray)
    np.testing.assert_allclose(dev.start.get(), host.start, rtol=1e-12)
    assert gb.validate(p, cupy.asarray(pop[0])).ok == gb.validate(p, pop[0]).ok


def test_gpu_check_reports_every_step_without_a_device(tmp_path, capsys):
    """bench/gpu_check.py on a CPU-only machine: the device rows are skipped, every other
    step runs and is reported (the equal-time step with the bundled instance only when the
    data folder is absent), and the JSON holds them."""
    if HAVE_GPU:
        pytest.skip("checks the CPU-only path")
    from bench import gpu_check

    out = tmp_path / "gpu_check.json"
    rc = gpu_check.main(["--data", str(tmp_path / "no-data"), "--out", str(out),
                         "--population", "64", "--ga-population", "8", "--generations", "1",
                         "--equal-time", "0.5", "--seeds", "0"])
    text = capsys.readouterr().out
    assert rc == 0, text
    for line in ("step evaluation:", "step ga:", "step equal_time:", "gpu tests: skipped",
                 "| ai_cluster | 0 | - |"):
        assert line in text
    doc = json.loads(out.read_text())
    assert doc["equal_time"]["rows"][0]["numba"]["valid"] is True

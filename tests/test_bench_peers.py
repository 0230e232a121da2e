"""The GAP benchmark's peer solvers (bench/suite/peers.py): CP-SAT, HiGHS and a DEAP GA."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gabalance as gb
from bench.suite import peers
from gabalance.generate import gap_like
from gabalance.io import data_dir, read_orlib_gap_one

ROOT = Path(__file__).resolve().parents[1]
DATA = data_dir()
#: OR-Library gap1, problem 1 (c515-1): optimum 336 as a maximisation (gap_orlib/readme.txt)
GAP1_1_OPTIMUM = 336
#: the modules each peer needs, for importorskip
NEEDS = {"cpsat": "ortools", "highs": "scipy", "deap": "deap"}


def _needs(name: str) -> None:
    pytest.importorskip(NEEDS[name])


@pytest.fixture(scope="module")
def small() -> dict[str, tuple[gb.Problem, float]]:
    """gap_like(3, 12) in both senses with HiGHS's proven optimum of each."""
    base = gap_like(3, 12, seed=1)
    out = {}
    for sense in ("min", "max"):
        p = base.replace(sense=sense)
        ref = gb.solve(p, "cost", method="milp", time_limit=2)
        assert ref.status == 0
        out[sense] = (p, float(ref.fun))
    # the two optima differ, so a peer that optimises the wrong way cannot pass
    assert out["min"][1] < out["max"][1]
    return out


def _check_answer(problem: gb.Problem, out: dict) -> None:
    """The common contract: x, value and feasibility agree with gabalance.evaluate."""
    assert set(out) == {"value", "x", "feasible", "bound", "status", "time", "evaluations",
                        "history"}
    assert out["feasible"] is True
    x = np.asarray(out["x"])
    assert x.shape == (problem.n_tasks,)
    ev = gb.evaluate(problem, x, objective="cost")
    assert ev.violation[0] == 0
    assert out["value"] == float(ev.objective[0])
    assert isinstance(out["value"], float)
    assert out["time"] > 0
    times = [t for t, _ in out["history"]]
    values = [v for _, v in out["history"]]
    assert times == sorted(times)
    assert values and values[-1] == out["value"]
    step = np.diff(values)
    assert np.all(step > 0) if problem.sense == "max" else np.all(step < 0)


# --------------------------------------------------------------------------- registry


def test_solvers_and_available_cover_the_same_peers():
    assert set(peers.SOLVERS) == {"cpsat", "highs", "deap"}
    status = peers.available()
    assert set(status) == set(peers.SOLVERS)
    for name, reason in status.items():
        assert reason is None or isinstance(reason, str)
        try:
            __import__(NEEDS[name])
        except ImportError:
            assert reason is not None
        else:
            assert reason is None


def test_module_imports_without_ortools_and_deap():
    # a fresh interpreter where both packages are blocked: the import stays lazy and
    # available() names what is missing
    code = (
        "import sys\n"
        "for m in ('ortools', 'ortools.sat', 'ortools.sat.python',\n"
        "          'ortools.sat.python.cp_model', 'deap', 'deap.base'):\n"
        "    sys.modules[m] = None\n"
        "import bench.suite.peers as p\n"
        "print(p.available())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    status = eval(done.stdout.strip())
    assert status == {"cpsat": "ortools not installed", "highs": None,
                      "deap": "deap not installed"}


# --------------------------------------------------------------------------- exact peers


@pytest.mark.parametrize("sense", ["min", "max"])
@pytest.mark.parametrize("name", ["cpsat", "highs"])
def test_exact_peers_reach_the_optimum(small, name, sense):
    _needs(name)
    problem, optimum = small[sense]
    out = peers.SOLVERS[name](problem, 2.0, seed=0)
    _check_answer(problem, out)
    assert out["value"] == optimum
    assert out["status"] == "optimal"
    assert out["bound"] == optimum
    assert out["evaluations"] is None


@pytest.mark.data
@pytest.mark.skipif(DATA is None, reason="benchmark data folder not found")
@pytest.mark.parametrize("name", ["cpsat", "highs"])
def test_exact_peers_on_orlib_gap1_1(name):
    _needs(name)
    path = DATA / "gap_orlib" / "gap1.txt"
    if not path.is_file():
        pytest.skip("gap_orlib/gap1.txt not found")
    problem = read_orlib_gap_one(path, 1)
    assert problem.sense == "max"
    out = peers.SOLVERS[name](problem, 2.0, seed=0)
    _check_answer(problem, out)
    assert out["value"] == GAP1_1_OPTIMUM
    assert out["bound"] == GAP1_1_OPTIMUM


def test_cpsat_workers_and_seed_are_passed(small):
    _needs("cpsat")
    problem, optimum = small["min"]
    out = peers.cpsat_gap(problem, 2.0, workers=1, seed=7)
    assert out["value"] == optimum


def test_cpsat_refuses_non_integer_demand(small):
    _needs("cpsat")
    problem, _ = small["min"]
    fractional = problem.replace(demand=problem.demand + 0.5)
    with pytest.raises(ValueError, match="integer"):
        peers.cpsat_gap(fractional, 1.0)


# --------------------------------------------------------------------------- DEAP


@pytest.mark.parametrize("sense", ["min", "max"])
def test_deap_finds_a_feasible_solution_in_the_right_sense(small, sense):
    _needs("deap")
    problem, _ = small[sense]
    out = peers.deap_gap(problem, 1.0, seed=0)
    _check_answer(problem, out)
    assert out["time"] < 1.5
    assert out["evaluations"] >= 300
    assert out["bound"] is None and out["status"] == "time_limit"
    # within the range of objective values, and on the side of the problem's sense: with
    # the sign flipped the GA would land near the other optimum
    lo, hi = small["min"][1], small["max"][1]
    assert lo <= out["value"] <= hi
    middle = (lo + hi) / 2
    assert out["value"] > middle if sense == "max" else out["value"] < middle


def test_deap_is_reproducible_by_seed(small):
    _needs("deap")
    problem, _ = small["min"]
    # a generation-limited comparison is not possible through the time limit, so compare the
    # first population only (time_limit 0: no generation after it)
    a = peers.deap_gap(problem, 0.0, seed=3)
    b = peers.deap_gap(problem, 0.0, seed=3)
    assert a["evaluations"] == b["evaluations"] == 300
    assert a["value"] == b["value"]
    np.testing.assert_array_equal(a["x"], b["x"])

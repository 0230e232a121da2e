"""gabalance.tune: the study, its reproduction from saved parameters, errors, the CLI."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

import gabalance as gb
from gabalance import generate
from gabalance.cli import main
from gabalance.tuning import INFEASIBLE_GAP, TuneError, TuneResult, _gap, load_params, score

optuna = pytest.importorskip("optuna")


def small_problems() -> list[gb.Problem]:
    """Five small instances, placement and schedule."""
    return ([generate.gap_like(5, 20, seed=s) for s in range(3)]
            + [generate.random_dag(15, n_procs=3, seed=s) for s in range(2)])


def test_gap_by_hand():
    assert _gap(110.0, 0.0, 100.0, "min") == pytest.approx(0.1)
    assert _gap(90.0, 0.0, 100.0, "max") == pytest.approx(0.1)
    assert _gap(95.0, 0.0, 100.0, "min") == pytest.approx(-0.05)   # better than the reference
    assert _gap(100.0, 2.0, 100.0, "min") == INFEASIBLE_GAP
    assert _gap(-50.0, 0.0, -40.0, "min") == pytest.approx(-0.25)  # |ref| normalises
    assert _gap(7.0, 0.0, None, "min") == 0.0


def test_max_evaluations_stops_the_search():
    p = generate.gap_like(5, 20, seed=0)
    res = gb.solve(p, max_evaluations=500, seed=1)
    assert res.nfev >= 500
    assert "evaluation limit" in res.message
    # it stops before the first generation that starts past the budget
    assert res.history["nfev"][-2] < 500
    again = gb.solve(p, max_evaluations=500, seed=1)
    assert again.fun == res.fun and np.array_equal(again.x, res.x)
    with pytest.raises(ValueError, match="max_evaluations must be a positive integer"):
        gb.solve(p, max_evaluations=0)
    with pytest.raises(ValueError, match="max_evaluations is only used by search methods"):
        gb.solve(p, method="round_robin", max_evaluations=10)


def test_cli_tune_five_instances_twenty_trials_reproduces(tmp_path, capsys):
    """The acceptance run: 5 small instances, 20 trials; the saved parameters, solved again
    with the study's seeds and budgets, give the reported tuned score."""
    files = []
    for p in small_problems():
        path = tmp_path / f"{p.name}.json"
        p.to_json(path)
        files.append(str(path))
    out, report = tmp_path / "params.json", tmp_path / "study.json"
    rc = main(["tune", *files, "--trials", "20", "--time-limit", "0.1", "--seed", "4",
               "--out", str(out), "--report", str(report), "--quiet"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "20 trials" in text and "best trial" in text
    res = TuneResult.load(report)
    assert res.n_trials == 20 and len(res.trials) == 20
    assert res.score <= res.base_score
    params = load_params(out)
    assert params.to_dict() == res.params
    # solve again, by hand, with the saved parameters
    gaps = []
    for i, path in enumerate(files):
        prob = gb.Problem.from_json(path)
        vals = [gb.solve(prob, params=params, seed=s, max_evaluations=res.budgets[i])
                for s in res.seeds[i]]
        gaps.append(np.mean([_gap(r.fun, r.violation, res.reference[i], res.senses[i])
                             for r in vals]))
    assert float(np.mean(gaps)) == res.score
    # and through the command line's solve --params --max-evaluations
    rc = main(["solve", files[0], "--params", str(out), "--seed", str(res.seeds[0][0]),
               "--max-evaluations", str(res.budgets[0])])
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("objective:"))
    first = gb.solve(gb.Problem.from_json(files[0]), params=params, seed=res.seeds[0][0],
                     max_evaluations=res.budgets[0])
    assert f"= {first.fun:.10g}" in line


def test_fixed_budgets_make_the_study_reproducible():
    probs = small_problems()[:2] + small_problems()[3:4]
    kw = dict(n_trials=6, seed=2, budgets=[400, 400, 2000])
    a = gb.tune(probs, "ga", **kw)
    b = gb.tune(probs, "ga", **kw)
    assert a.params == b.params and a.score == b.score
    assert [t["params"] for t in a.trials] == [t["params"] for t in b.trials]
    # the first trial is the starting point, so the best is never worse than it
    assert a.trials[0]["params"] == gb.GAParams().to_dict()
    assert a.score <= a.base_score
    assert a.rescore(probs)["score"] == a.score
    # a reference that is the study's best value gives no negative gap
    assert all(g >= 0 for t in a.trials if t["gaps"] for g in t["gaps"])


def test_best_known_and_report(tmp_path):
    probs = small_problems()[:2]
    known = {probs[0].name: 1.0}  # far below anything feasible: a large gap
    res = gb.tune(probs, "ga", n_trials=3, seed=0, budgets=[300, 300], best_known=known)
    assert res.reference[0] == 1.0 and res.reference_source == ["best known", "study best"]
    assert res.gaps[0] > 10
    text = res.report()
    assert probs[0].name in text and "best known" in text and "study best" in text
    path = tmp_path / "r.json"
    res.save(path)
    back = TuneResult.load(path)
    assert back == res
    assert load_params(path).to_dict() == res.params   # a report also loads as parameters
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(TuneError, match="not a gabalance tuning report"):
        TuneResult.load(tmp_path / "junk.json")


def test_pso_parameters_stay_valid():
    probs = small_problems()[:2]
    res = gb.tune(probs, "pso", n_trials=5, seed=1, budgets=[300, 300])
    for t in res.trials:
        p = gb.PSOParams.from_dict(t["params"])  # validates: keep + personal + social <= 1
        assert p.keep + p.personal + p.social <= 1 + 1e-12
    assert isinstance(res.best_params, gb.PSOParams)


def test_storage_continues_a_study(tmp_path):
    probs = small_problems()[:2]
    url = f"sqlite:///{tmp_path / 'study.db'}"
    first = gb.tune(probs, "ga", n_trials=3, seed=0, time_limit=0.05, storage=url)
    more = gb.tune(probs, "ga", n_trials=2, seed=0, time_limit=0.05, storage=url)
    assert more.n_trials == 5 and more.budgets == first.budgets   # not calibrated again
    assert [t["params"] for t in more.trials[:3]] == [t["params"] for t in first.trials]
    other = small_problems()[2:4]
    with pytest.raises(TuneError, match="tuned other problems"):
        gb.tune(other, "ga", n_trials=1, time_limit=0.05, storage=url)


def test_callback_sees_every_trial():
    seen = []
    gb.tune(small_problems()[:1], "ga", n_trials=4, seed=0, budgets=[200],
            callback=seen.append)
    assert [s["number"] for s in seen] == [0, 1, 2, 3]
    assert all(s["state"] in ("complete", "pruned") for s in seen)
    assert all(s["best"] is None or math.isfinite(s["best"]) for s in seen)


def _final_draw(err: str) -> str:
    """The last state the progress bar drew (draws are separated by carriage returns)."""
    assert err.endswith("\n"), err
    return err.rstrip("\n").split("\r")[-1]


def test_progress_shows_trials_and_the_best_score(capsys):
    probs = small_problems()[:2]
    res = gb.tune(probs, "ga", n_trials=4, seed=0, budgets=[200, 200], progress=True)
    last = _final_draw(capsys.readouterr().err)
    pruned = sum(t["state"] == "pruned" for t in res.trials)
    assert last.startswith("tune ga: 100%") and " 4/4 " in last
    # the best score it ends on is the study's
    assert last.endswith(f"best {100 * res.score:.4f}%, pruned {pruned}]")
    # with a timeout the bar fills with the seconds spent; trials are counted beside it
    res = gb.tune(probs[:1], "ga", n_trials=2, seed=0, budgets=[200], timeout=60,
                  progress=True)
    last = _final_draw(capsys.readouterr().err)
    assert re.search(r"\| [\d.]+/60 s, trials 2, best ", last), last
    assert f"best {100 * res.score:.4f}%" in last
    # calibration says what it measures; progress=False writes nothing
    gb.tune(probs[:1], "ga", n_trials=1, time_limit=0.05, progress=True)
    assert f"[tune ga] calibrating {probs[0].name} (0.05 s)\n" in capsys.readouterr().err
    gb.tune(probs[:1], "ga", n_trials=1, time_limit=0.05)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("kwargs, message", [
    (dict(problems=[]), "at least one problem"),
    (dict(method="milp"), "method must be one of ga, pso"),
    (dict(time_limit=0), "time_limit must be a positive number"),
    (dict(n_trials=0), "n_trials must be an integer >= 1"),
    (dict(repeats=0), "repeats must be an integer >= 1"),
    (dict(seed=-1), "seed must be a non-negative integer"),
    (dict(budgets=[10]), "budgets must be 2 positive integers"),
    (dict(best_known=[1.0]), "best_known must give one value"),
    (dict(best_known={"nope": 1.0}), "best_known names unknown problem"),
    (dict(best_known=[1.0, float("nan")]), "must be a finite number or None"),
    (dict(base=gb.PSOParams()), "base must be GAParams"),
])
def test_bad_input(kwargs, message):
    args = dict(problems=small_problems()[:2], method="ga", n_trials=1)
    args.update(kwargs)
    with pytest.raises(TuneError, match=message):
        gb.tune(args.pop("problems"), **args)


def test_duplicate_and_objectiveless_problems():
    p = small_problems()[0]
    with pytest.raises(TuneError, match="names must be unique"):
        gb.tune([p, p], n_trials=1)
    bare = gb.Problem.from_json(json.dumps({**json.loads(p.to_json()), "objective": None}))
    with pytest.raises(TuneError, match=f"problem {bare.name!r} sets no objective"):
        gb.tune([bare], n_trials=1)


def test_score_matches_solve():
    probs = small_problems()[:2]
    out = score(probs, {"population": 20}, budgets=[200, 200], seeds=[[5], [6]],
                reference=[None, None])
    assert out["gaps"] == [0.0, 0.0]  # no reference: feasible means gap 0
    r = gb.solve(probs[1], params=gb.GAParams(population=20), max_evaluations=200, seed=6)
    assert out["values"][1] == [r.fun]


def test_missing_optuna_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "optuna", None)
    with pytest.raises(ImportError, match=r"pip install \"gabalance\[tune\]\""):
        gb.tune(small_problems()[:1], n_trials=1)

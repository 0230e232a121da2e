"""The command line: solve, check-result, demo, show, info, and clear errors."""

from __future__ import annotations

import json

import pytest

from gabalance.cli import main

BASELINES = ("round_robin", "least_connections", "least_loaded", "first_fit_decreasing",
             "best_fit_decreasing", "heft", "cpop", "peft", "wspt", "random")


def test_demo_on_bundled_instances(capsys):
    assert main(["demo", "--instance", "scenario", "--time-limit", "2", "--backend", "numpy"]) \
        == 0
    out = capsys.readouterr().out
    assert "Problem('scenario', 5 tasks, 5 nodes" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    for name in ("ga", *BASELINES):
        assert lines[name][2:4] == ["0", "yes"], lines[name]  # schedules never overload
    assert float(lines["ga"][1]) <= float(lines["heft"][1])  # heft seeds the GA
    assert "best: " in out and "GA vs the best baseline" in out
    # the scenario has dependencies, so placement objectives are refused, plainly
    assert main(["demo", "--instance", "scenario", "--objective", "max_utilization"]) == 2
    assert "placement objective" in capsys.readouterr().err


def test_demo_placement_objective_has_no_heft_row(tmp_path, capsys):
    from pathlib import Path

    gap = Path(__file__).parent / "fixtures" / "gap_tiny.txt"
    problem = tmp_path / "gap.json"
    assert main(["show", "--format", "orlib-gap", "--sense", "max", f"{gap}#1",
                 "--out", str(problem)]) == 0
    capsys.readouterr()
    assert main(["demo", "--instance", str(problem), "--time-limit", "1", "--backend",
                 "numpy", "--objective", "max_utilization"]) == 0
    out = capsys.readouterr().out
    assert "max_utilization (placement mode)" in out
    assert not {"heft", "cpop", "peft", "wspt"} & set(out.split())
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == ["ga"]]
    assert rows and rows[0][3] == "yes"


def test_demo_default_instance_uses_its_objective(capsys):
    from gabalance import examples

    objective = examples.load("ai_cluster").objective
    assert main(["demo", "--time-limit", "1", "--backend", "numpy"]) == 0
    out = capsys.readouterr().out
    assert "500 tasks, 64 nodes" in out and "tasks to finish" in out
    assert f"objective: {objective} (schedule mode)" in out
    header = next(line for line in out.splitlines() if line.startswith("method "))
    assert header.split()[1] == objective
    assert "% better" in out or "% worse" in out


def test_solve_ga_and_check_result_round_trip(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["solve", "scenario", "--generations", "5", "--seed", "1",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    for label in ("method:      ga", "objective:   makespan (min) = ", "feasible:    yes",
                  "generations: 5", "status:      1 (limit reached)", "makespan:",
                  "last 5 tasks to finish:", f"wrote {out}"):
        assert label in text, label
    assert main(["check-result", str(out), "scenario"]) == 0
    assert capsys.readouterr().out.startswith("valid: ga result, makespan = ")
    # a tampered result is caught (exit 1), another problem too
    doc = json.loads(out.read_text())
    doc["fun"] += 1
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    assert main(["check-result", str(bad), "scenario"]) == 1
    assert "stored objective" in capsys.readouterr().err
    assert main(["check-result", str(out), "ai_cluster"]) == 1
    assert "result has 5 tasks, the problem 500" in capsys.readouterr().err
    assert main(["check-result", str(tmp_path / "none.json"), "scenario"]) == 2
    assert "No such file" in capsys.readouterr().err


def test_solve_baseline_placement_and_params(tmp_path, capsys):
    from gabalance import examples

    assert main(["solve", "scenario", "--method", "heft", "--backend", "numpy"]) == 0
    text = capsys.readouterr().out
    assert "method:      heft (backend numpy" in text and "status:      3 (completed)" in text
    assert "generations: 0, evaluations: 1" in text
    params = tmp_path / "params.json"
    params.write_text('{"population": 10, "local_search": 0}')
    out = tmp_path / "r.json"
    assert main(["solve", str(examples.path("scenario")), "--objective", "weighted_completion",
                 "--params", str(params), "--generations", "3", "--backend", "numpy",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert json.loads(out.read_text())["params"]["population"] == 10


def test_solve_gap_file_with_index(tmp_path, capsys):
    from pathlib import Path

    gap = Path(__file__).parent / "fixtures" / "gap_tiny.txt"
    out = tmp_path / "r.json"
    assert main(["solve", str(gap), "--format", "orlib-gap", "--index", "1", "--sense", "max",
                 "--generations", "3", "--backend", "numpy", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "objective:   cost (max) = " in text and "makespan" not in text
    assert main(["check-result", str(out), str(gap), "--format", "orlib-gap", "--index", "1",
                 "--sense", "max"]) == 0
    assert capsys.readouterr().out.startswith("valid: ga result, cost = ")
    # problem 2 puts loads 3 + 4 on one agent of capacity 5: no feasible plan, exit 1
    assert main(["solve", f"{gap}#2", "--format", "orlib-gap", "--sense", "max",
                 "--generations", "2", "--backend", "numpy", "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "feasible:    no" in text and "status:      2 (infeasible)" in text
    assert "over capacity" in text
    assert main(["check-result", str(out), f"{gap}#2", "--format", "orlib-gap",
                 "--sense", "max"]) == 1
    assert capsys.readouterr().out.startswith("infeasible: ga result, cost = ")
    assert main(["solve", f"{gap}#1", "--format", "orlib-gap", "--index", "1"]) == 2
    assert "not both" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["solve", "scenario", "--objective", "speed"], "unknown objective 'speed'"),
    (["solve", "scenario", "--method", "simplex"], "unknown method 'simplex'"),
    (["solve", "missing.json"], "No such file"),
    (["solve", "scenario", "--time-limit", "0"], "time_limit must be a positive number"),
    (["solve", "scenario", "--index", "2"], "needs --format orlib-gap"),
])
def test_solve_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert captured.err.startswith("gabalance: error: ") and captured.err.count("\n") == 1
    assert "Traceback" not in captured.err


def test_solve_bad_params_file(tmp_path, capsys):
    params = tmp_path / "params.json"
    for text, message in (('{"population": 1}', "GAParams.population must be an integer >= 2"),
                          ('{"popsize": 50}', "unknown GAParams field(s): popsize"),
                          ("[50]", "must be a JSON object"),
                          ("{population: 5", "invalid JSON")):
        params.write_text(text)
        assert main(["solve", "scenario", "--params", str(params)]) == 2
        assert message in capsys.readouterr().err, text
    params.write_text('{"population": 10}')
    assert main(["solve", "scenario", "--method", "heft", "--params", str(params)]) == 2
    assert "method 'heft' takes no params" in capsys.readouterr().err


def test_solve_milp_prints_bound_and_model(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["solve", "scenario", "--method", "milp", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "objective:   makespan (min) = 110\n" in text
    assert "bound:       110 (proven), gap 0%" in text
    assert "status:      0 (optimal): optimal (proven by HiGHS)" in text
    assert "model:       time_unit 1, horizon 110" in text and "generations" not in text
    assert main(["check-result", str(out), "scenario"]) == 0
    assert capsys.readouterr().out.startswith("valid: milp result, makespan = 110 ")


def test_solve_milp_params_and_refusals(tmp_path, capsys):
    from pathlib import Path

    gap = Path(__file__).parent / "fixtures" / "gap_tiny.txt"
    params = tmp_path / "milp.json"
    params.write_text('{"max_variables": 1}')
    out = tmp_path / "r.json"
    assert main(["solve", f"{gap}#1", "--format", "orlib-gap", "--sense", "max",
                 "--method", "milp", "--params", str(params), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "status:      6 (too large): too large for the exact model: 6 variables" in text
    assert json.loads(out.read_text())["x"] is None
    params.write_text('{"max_vars": 1}')
    assert main(["solve", f"{gap}#1", "--format", "orlib-gap", "--sense", "max",
                 "--method", "milp", "--params", str(params)]) == 2
    assert "unknown MILPParams field(s): max_vars" in capsys.readouterr().err
    assert main(["solve", f"{gap}#1", "--format", "orlib-gap", "--sense", "min",
                 "--method", "milp", "--objective", "imbalance"]) == 2
    assert "method 'milp' has no exact model for objective 'imbalance'" in \
        capsys.readouterr().err
    assert main(["solve", "scenario", "--method", "milp", "--generations", "5"]) == 2
    assert "max_generations is not used by method 'milp'" in capsys.readouterr().err


def test_check_ga_against_milp(capsys):
    from pathlib import Path

    assert main(["check", "scenario", "--time-limit", "1", "--backend", "numpy"]) == 0
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in text.splitlines() if line.strip()}
    assert rows["ga"][1] == "110" and rows["milp"][1:3] == ["110", "0"]
    assert "MILP bound: 110 (= the optimum)" in text
    assert "GA gap to the bound: 0% (the GA found an optimum)" in text
    gap = Path(__file__).parent / "fixtures" / "gap_tiny.txt"
    # problem 1 (max): both reach the optimum; problem 2 has no feasible assignment
    assert main(["check", f"{gap}#1", "--format", "orlib-gap", "--sense", "max",
                 "--time-limit", "1", "--backend", "numpy"]) == 0
    text = capsys.readouterr().out
    assert "objective: cost (max)" in text and "(the GA found an optimum)" in text
    assert main(["check", f"{gap}#2", "--format", "orlib-gap", "--sense", "max",
                 "--time-limit", "1", "--backend", "numpy"]) == 1
    text = capsys.readouterr().out
    assert "2 (infeasible)" in text and "GA: no feasible solution" in text
    assert "MILP bound: none (infeasible: HiGHS proved" in text


def test_show_and_errors(tmp_path, capsys):
    from gabalance import examples

    assert main(["show", str(examples.path("scenario"))]) == 0
    assert "5 tasks" in capsys.readouterr().out
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "gabalance-problem", "version": 1, "resources": ["cpu"],'
                   '"nodes": [{"name": "a", "capacity": {"cpu": 1}}],'
                   '"tasks": [{"name": "t", "demand": {"cpu": 2}}]}')
    assert main(["show", str(bad)]) == 2
    assert "gabalance: error: task 't' fits no node" in capsys.readouterr().err
    assert main(["show", str(tmp_path / "missing.json")]) == 2
    assert "No such file" in capsys.readouterr().err


def test_info(capsys):
    import numba

    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numba" in out and "auto -> numba" in out
    assert f"({numba.get_num_threads()} threads)" in out
    assert "search: ga, pso; exact: milp; baselines: round_robin, " in out and "heft" in out
    assert "population=100" in out and "seed_baselines=True" in out


def test_usage_error():
    with pytest.raises(SystemExit):
        main(["frobnicate"])


def test_show_converts_benchmark_formats(tmp_path, capsys):
    from pathlib import Path

    from gabalance import Problem

    fixtures = Path(__file__).parent / "fixtures"
    out = tmp_path / "p.json"
    assert main(["show", "--format", "psplib", str(fixtures / "psplib_tiny.sm"),
                 "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    assert Problem.from_json(out).objective == "makespan"
    assert main(["show", "--format", "orlib-gap", "--sense", "max",
                 f"{fixtures / 'gap_tiny.txt'}#2"]) == 0
    assert "objective='cost'" in capsys.readouterr().out


def test_bad_arguments_are_reported_plainly(capsys):
    assert main(["demo", "--instance", "scenario", "--objective", "speed"]) == 2
    captured = capsys.readouterr()
    assert "unknown objective 'speed'" in captured.err and "Problem(" not in captured.out
    assert main(["show", "--format", "orlib-gap", "gap1.txt#x"]) == 2
    assert "K picks the problem in the file and must be a whole number" in capsys.readouterr().err


def test_version(capsys):
    import gabalance as gb

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"gabalance {gb.__version__}"


@pytest.mark.parametrize("flag", ["--out", "--plot"])
def test_output_paths_are_checked_before_the_solve(tmp_path, capsys, flag):
    """A typo in --out or --plot is reported at once (exit 2), not after the solve."""
    missing = tmp_path / "no-such-folder" / "result.json"
    assert main(["solve", "scenario", "--generations", "1", flag, str(missing)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (f"gabalance: error: {flag} {missing}: folder "
                                    f"{str(missing.parent)!r} does not exist")
    assert "objective:" not in captured.out  # nothing was solved
    assert main(["solve", "scenario", "--generations", "1", flag, str(tmp_path)]) == 2
    assert "is a directory, expected a file name" in capsys.readouterr().err


def test_ctrl_c_exits_130_after_writing_the_best(tmp_path, capsys, monkeypatch):
    import gabalance as gb
    from gabalance.algorithms import ga as ga_module

    calls = {"n": 0}
    step = ga_module.Searcher.step

    def interrupted(self):  # Ctrl-C during the third generation
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        step(self)

    monkeypatch.setattr(ga_module.Searcher, "step", interrupted)
    out = tmp_path / "best.json"
    assert main(["solve", "scenario", "--generations", "50", "--out", str(out)]) == 130
    assert "interrupted" in capsys.readouterr().out
    from gabalance import examples

    res = gb.SolveResult.load(out, examples.load("scenario"))  # the best so far, kept
    assert res.status == 4 and res.x is not None


def test_demo_names_a_tie(capsys):
    """On the scenario the GA and several baselines reach the same makespan (110): the demo
    says so instead of crowning one and calling it 0.00% better."""
    assert main(["demo", "--instance", "scenario", "--time-limit", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "best: a tie of ga, " in out and "heft" in out.split("best: ")[1].split("(")[0]
    assert "GA vs the best baseline (least_loaded, 110): the same value" in out
    assert "0.00% better" not in out


# --------------------------------------------------------------------------- the parser itself


def _subcommands() -> dict:
    """Subcommand name -> its parser, as the parser itself lists them."""
    import argparse

    from gabalance.cli import build_parser

    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return dict(actions[0].choices)


def test_cli_functions_are_short():
    """main was one 150-line function; every function of cli.py stays under 60 lines."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(inspect.getmodule(main)))
    long = {f.name: f.end_lineno - f.lineno + 1 for f in ast.walk(tree)
            if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
            and f.end_lineno - f.lineno + 1 >= 60}
    assert long == {}


def test_help_is_plain_text(capsys):
    """No reST backticks (from docstrings) in the --help of gabalance or any subcommand."""
    names = _subcommands()
    assert {"solve", "check", "check-result", "show"} <= set(names)
    for argv in ([], *([name] for name in names)):
        with pytest.raises(SystemExit) as exc:
            main([*argv, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith("usage: gabalance"), argv
        assert "`" not in out, (argv, [line for line in out.splitlines() if "`" in line])


def _readme_synopsis() -> dict[str, str]:
    """The README's command-line synopsis: subcommand -> its lines, comments left out."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    start = text.index("```\ngabalance solve FILE")
    block = text[start + 4:text.index("```", start + 4)]
    sections: dict[str, str] = {}
    name = None
    for line in block.splitlines():
        line = line.split("#")[0]
        m = re.match(r"gabalance (\S+)", line)
        if m:
            name = m.group(1)
        assert name is not None, line
        sections[name] = sections.get(name, "") + line + "\n"
    return sections


def test_readme_synopsis_lists_every_option():
    """Every long option of every subcommand (--max-evaluations of solve among them) stands
    in the README's synopsis, no option the parser lacks does, and solve's choices are all
    spelled out."""
    import re

    synopsis = _readme_synopsis()
    subcommands = _subcommands()
    assert set(synopsis) == set(subcommands)
    for name, parser in subcommands.items():
        options = {s: a for a in parser._actions for s in a.option_strings
                   if s.startswith("--") and s != "--help"}
        written = dict(re.findall(r"\[(--[a-z][a-z-]*)(?: ([^\s\]]+))?", synopsis[name]))
        assert set(options) - set(written) == set(), name
        assert set(written) - set(options) == set(), name
        for flag, values in written.items():
            choices = options[flag].choices
            if choices and values != "...":
                shown = set(values.split("|"))
                assert shown <= set(choices), (name, flag, values)
                if name == "solve":
                    assert shown == set(choices), (flag, values)
    assert "--max-evaluations" in synopsis["solve"]


# --------------------------------------------------------------------------- show a saved result


def test_show_summarises_a_saved_schedule_result(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["solve", "scenario", "--generations", "5", "--seed", "3", "--backend", "numpy",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["show", str(out)]) == 0
    text = capsys.readouterr().out
    for label in (f"result:      {out}", "method:      ga (backend numpy, seed 3)",
                  "objective:   makespan (min) = 110",
                  "feasible:    yes (as saved; --problem re-validates), violation 0",
                  "generations: 5, evaluations: ",
                  "bound:       ", "(schedule lower bound, proven), gap ",
                  "time:        ", "status:      1 (limit reached): ", "tasks:       5 on ",
                  "busiest:     ", "makespan:    110", "last 5 tasks to finish:"):
        assert label in text, label
    assert "Problem(" not in text and "load per node" not in text
    # with its problem: re-validated, and each node's busy time
    assert main(["show", str(out), "--problem", "scenario"]) == 0
    text = capsys.readouterr().out
    assert "Problem('scenario', 5 tasks, 5 nodes" in text
    assert "feasible:    yes (gabalance.validate), violation 0" in text
    assert "tasks:       5 on " in text and " of 5 nodes" in text
    loads = text.split("load per node (nodes with tasks; peak demand / capacity):\n")[1]
    loads = loads.splitlines()
    assert loads and all(" tasks, busy " in line and "% of the makespan: cpu " in line
                         and ", gpu " in line for line in loads)
    assert sum(int(line.split()[1]) for line in loads) == 5
    assert "OVER CAPACITY" not in text


def test_show_saved_placement_and_milp_results(tmp_path, capsys):
    from pathlib import Path

    gap = Path(__file__).parent / "fixtures" / "gap_tiny.txt"
    out = tmp_path / "r.json"
    assert main(["solve", f"{gap}#1", "--format", "orlib-gap", "--sense", "max",
                 "--method", "milp", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["show", str(out), "--problem", f"{gap}#1", "--format", "orlib-gap",
                 "--sense", "max"]) == 0
    text = capsys.readouterr().out
    assert "method:      milp" in text and "objective:   cost (max) = " in text
    assert "(proven), gap 0%" in text and "model:       variables " in text
    assert "status:      0 (optimal)" in text
    loads = text.split("load per node (nodes with tasks; summed demand / capacity):\n")[1]
    assert loads.splitlines() and all(" tasks: capacity " in line and "%)" in line
                                      for line in loads.splitlines())
    assert "makespan" not in text
    # an infeasible result: saved, shown as such
    assert main(["solve", f"{gap}#2", "--format", "orlib-gap", "--sense", "max",
                 "--generations", "2", "--backend", "numpy", "--out", str(out)]) == 1
    capsys.readouterr()
    assert main(["show", str(out), "--problem", f"{gap}#2", "--format", "orlib-gap",
                 "--sense", "max"]) == 0
    text = capsys.readouterr().out
    assert "feasible:    no (gabalance.validate)" in text and "OVER CAPACITY" in text


def test_show_result_errors(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["solve", "scenario", "--method", "heft", "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["show", str(out), "--problem", "ai_cluster"]) == 2
    assert "does not check out against 'ai_cluster': result has 5 tasks" in \
        capsys.readouterr().err
    assert main(["show", str(out), "--out", str(tmp_path / "p.json")]) == 2
    assert "is a saved result" in capsys.readouterr().err
    from gabalance import examples

    scenario = str(examples.path("scenario"))
    assert main(["show", scenario, "--problem", "scenario"]) == 2
    assert f"{scenario}: not a gabalance result file" in capsys.readouterr().err


# --------------------------------------------------------------------------- MILP size advice


def test_hopeless_milp_is_not_told_to_raise_limits(capsys):
    """ai_cluster's exact model has trillions of variables: no limit makes it solvable, so
    the advice is the GA or a smaller instance, in solve and in check."""
    assert main(["solve", "ai_cluster", "--method", "milp", "--time-limit", "5"]) == 1
    text = capsys.readouterr().out
    status = next(line for line in text.splitlines() if line.startswith("status:"))
    assert "status:      6 (too large): too large for the exact model: " in status
    assert "raise the limits" not in status
    assert "out of reach for this instance" in status and "--method ga" in status
    assert "smaller instance" in status
    assert main(["check", "ai_cluster", "--time-limit", "1", "--backend", "numpy"]) == 0
    text = capsys.readouterr().out
    assert "raise the limits" not in text
    assert "MILP: too large for the exact model" in text and "out of reach" in text


def test_milp_just_over_the_limit_keeps_its_advice(tmp_path, capsys):
    from pathlib import Path

    gap = Path(__file__).parent / "fixtures" / "gap_tiny.txt"
    params = tmp_path / "milp.json"
    params.write_text('{"max_variables": 5}')  # 6 variables
    assert main(["solve", f"{gap}#1", "--format", "orlib-gap", "--sense", "max",
                 "--method", "milp", "--params", str(params)]) == 1
    text = capsys.readouterr().out
    assert "raise the limits or use method='ga'" in text and "out of reach" not in text
    out = tmp_path / "r.json"  # and show says the same of the saved result
    assert main(["solve", f"{gap}#1", "--format", "orlib-gap", "--sense", "max",
                 "--method", "milp", "--params", str(params), "--out", str(out)]) == 1
    capsys.readouterr()
    assert main(["show", str(out), "--problem", f"{gap}#1", "--format", "orlib-gap",
                 "--sense", "max"]) == 0
    text = capsys.readouterr().out
    assert "status:      6 (too large): too large for the exact model: 6 variables" in text
    assert "raise the limits or use method='ga'" in text and "objective:" not in text

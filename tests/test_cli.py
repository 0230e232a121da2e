"""The command line: demo, show, info, and clear errors."""

from __future__ import annotations

import pytest

from gabalance.cli import main


def test_demo_on_bundled_instances(capsys):
    assert main(["demo", "--instance", "scenario"]) == 0
    out = capsys.readouterr().out
    assert "Problem('scenario', 5 tasks, 5 nodes" in out
    lines = {line.split()[0]: line.split() for line in out.splitlines() if line.strip()}
    for name in ("round_robin", "least_connections", "least_loaded", "first_fit_decreasing",
                 "best_fit_decreasing", "heft", "random"):
        assert lines[name][2:4] == ["0", "yes"], lines[name]  # schedules never overload
    assert "best baseline:" in out
    assert main(["demo", "--backend", "numpy", "--instance", "scenario",
                 "--objective", "max_utilization"]) == 0
    out = capsys.readouterr().out
    assert "max_utilization (placement mode)" in out and "heft" not in out


def test_demo_default_instance(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "500 tasks, 64 nodes" in out and "last tasks to finish" in out


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
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "numba" in out and "auto -> numba" in out


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

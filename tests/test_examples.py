"""The example scripts run (they ship in the package as gabalance.examples)."""

from __future__ import annotations

import pytest
from gabalance.examples import tour

from gabalance.io import data_dir


def test_tour_generated_only(capsys):
    assert tour.main(["--no-data"]) == 0
    out = capsys.readouterr().out
    assert "random_dag-v60-seed1" in out and "valid" in out


@pytest.mark.data
def test_tour_with_benchmark_data(capsys):
    if data_dir() is None:
        pytest.skip("benchmark data folder not found")
    assert tour.main([]) == 0
    out = capsys.readouterr().out
    for name in ("gapd-1", "c10400", "j301_1", "openb_pod_list_default", "artifact_evaluation"):
        assert name in out

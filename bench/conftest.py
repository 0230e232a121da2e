"""pytest options and fixtures of the benchmark suite (``pytest bench/bench_evaluate.py``).

The suite is not part of the default test run (``testpaths = ["tests"]``). Benchmarks that
read third-party instances take them from ``--data`` (default: ``gabalance.io.data_dir()``)
and are skipped when the folder or the file is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gabalance.io import data_dir


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--data",
        action="store",
        default=None,
        metavar="DIR",
        help="benchmark data folder (default: gabalance.io.data_dir(), i.e. $GABALANCE_DATA "
             "or ../shared/data next to the repository)",
    )


@pytest.fixture(scope="session")
def data_root(request: pytest.FixtureRequest) -> Path | None:
    """The data folder, or None when it does not exist."""
    return data_dir(request.config.getoption("--data"))


@pytest.fixture(scope="session")
def data_file(data_root: Path | None):
    """``data_file("a/b.zip")``: that file under the data folder, or skip the benchmark."""

    def find(relative: str) -> Path:
        if data_root is None:
            pytest.skip("benchmark data folder not found (pass --data DIR or set "
                        "GABALANCE_DATA)")
        path = data_root / relative
        if not path.is_file():
            pytest.skip(f"{relative} not found under the data folder")
        return path

    return find


def pytest_benchmark_update_json(config, benchmarks, output_json) -> None:
    """Record the versions and the machine size next to pytest-benchmark's machine_info."""
    import os
    import platform

    import deap
    import numba
    import numpy

    import gabalance

    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel region has run yet
        layer = None
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        ram = None
    output_json["gabalance_bench"] = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "numba": numba.__version__,
        "deap": deap.__version__,
        "gabalance": gabalance.__version__,
        "numba_threads": numba.get_num_threads(),
        "numba_threading_layer": layer,
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "ram_bytes": ram,
        "platform": platform.platform(),
    }

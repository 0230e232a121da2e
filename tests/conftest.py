import json
import os
import signal
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# the benchmark suite (package `bench` at the repository root) is tested too; appended, so an
# installed gabalance still comes before the source tree
sys.path.append(str(Path(__file__).resolve().parents[1]))

settings.register_profile("ci", deadline=None, print_blob=True)
settings.load_profile("ci")


@pytest.fixture(scope="session")
def gpu_warm() -> None:
    """Compile the device kernels (NVRTC) and their numba twins once per test run, before
    the first device test, so that no single test pays for it under its timeout."""
    import gabalance as gb
    from gabalance.generate import gap_like

    problem = gap_like(3, 12, seed=0)
    for backend in ("numba", "cupy"):
        gb.solve(problem, "cost", backend=backend, max_generations=1, seed=0,
                 params=gb.GAParams(population=4))


# --------------------------------------------------------------------------- numba signatures
# Every numba kernel should compile for at most two signatures (the int64-data and the
# float64-data variant) over the whole suite: each extra one costs a cold compile. At the end
# of the run, print how many signatures each of the package's dispatchers holds (largest
# first) and, when GABALANCE_SIGNATURES names a file, write them there as JSON.


def _code_names(code: Any) -> set[str]:
    """Global and attribute names a code object (and the code nested in it) refers to."""
    names = set(code.co_names)
    for const in code.co_consts:
        if hasattr(const, "co_names"):
            names |= _code_names(const)
    return names


def _python_functions(module: Any, dispatcher: type) -> list[Any]:
    """Plain Python functions defined in ``module`` (module level and class methods)."""
    out = []
    for obj in list(vars(module).values()):
        members = list(vars(obj).values()) if isinstance(obj, type) else [obj]
        for fn in members:
            fn = getattr(fn, "__func__", getattr(fn, "fget", fn))
            if isinstance(fn, dispatcher) or not hasattr(fn, "__globals__"):
                continue
            if getattr(fn, "__module__", None) == module.__name__:
                out.append(fn)
    return out


def _called(fn: Any, dispatcher: type) -> set[int]:
    """ids of the dispatchers ``fn`` refers to, by global name or as ``module.name``."""
    names = _code_names(fn.__code__)
    found = set()
    for name in names:
        g = fn.__globals__.get(name)
        if isinstance(g, dispatcher):
            found.add(id(g))
        elif isinstance(g, types.ModuleType) and g.__name__.startswith("gabalance"):
            for attr in names:
                h = getattr(g, attr, None)
                if isinstance(h, dispatcher):
                    found.add(id(h))
    return found


def numba_signatures() -> list[dict[str, Any]]:
    """One entry per gabalance numba dispatcher that compiled (or loaded) a signature in this
    process: name, signature count and types, and whether Python code calls it (an entry
    point) or only other compiled functions do (then it is compiled once per signature of
    each caller, and not at all when the caller came from numba's on-disk cache)."""
    try:
        from numba.core.registry import CPUDispatcher
    except ImportError:  # pragma: no cover
        return []
    tests_dir = str(Path(__file__).resolve().parent)
    modules = [m for name, m in list(sys.modules.items()) if m is not None and (
        name == "gabalance" or name.startswith("gabalance.")
        or str(getattr(m, "__file__", "") or "").startswith(tests_dir))]
    dispatchers: dict[int, tuple[str, Any]] = {}
    from_python: set[int] = set()
    from_compiled: set[int] = set()
    for m in modules:
        for obj in list(vars(m).values()):
            if isinstance(obj, CPUDispatcher) and obj.py_func.__module__ == m.__name__:
                dispatchers[id(obj)] = (f"{m.__name__}.{obj.py_func.__name__}", obj)
                from_compiled |= _called(obj.py_func, CPUDispatcher)
        for fn in _python_functions(m, CPUDispatcher):
            from_python |= _called(fn, CPUDispatcher)
    rows = []
    for key, (name, d) in dispatchers.items():
        sigs = list(d.signatures)
        if not sigs:
            continue
        entry = key in from_python or key not in from_compiled
        rows.append({"name": name, "signatures": len(sigs), "entry": entry,
                     "types": [str(s) for s in sigs]})
    rows.sort(key=lambda r: (not r["entry"], -r["signatures"], r["name"]))
    return rows


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


# `timeout` ends a run with SIGTERM: make it an interruption, so pytest still reports (the
# signature table included) what ran
signal.signal(signal.SIGTERM, _interrupt)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    rows = numba_signatures()
    if not rows:
        return
    entry = [r for r in rows if r["entry"]]
    inner = [r for r in rows if not r["entry"]]
    tr = terminalreporter
    tr.section("numba signatures")
    tr.write_line("entry points (called from Python), signatures compiled or loaded:")
    for r in entry:
        tr.write_line(f"  {r['signatures']:3d}  {r['name']}")
    if inner:
        tr.write_line("called only from compiled code (once per caller signature; absent when "
                      "the caller came from numba's cache):")
        line = " "
        for r in inner:
            item = f" {r['name'].rsplit('.', 1)[1]}={r['signatures']}"
            if len(line) + len(item) > 100:
                tr.write_line(line)
                line = " "
            line += item
        tr.write_line(line)
    top = max((r["signatures"] for r in entry), default=0)
    top_inner = max((r["signatures"] for r in inner), default=0)
    tr.write_line(f"numba signatures: max {top} per kernel ({len(entry)} entry points; "
                  f"max {top_inner} for kernels called only from compiled code)")
    path = os.environ.get("GABALANCE_SIGNATURES")
    if path:
        Path(path).write_text(json.dumps({"max": top, "max_inner": top_inner, "kernels": rows},
                                         indent=1) + "\n")

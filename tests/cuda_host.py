"""Host harness for the CUDA kernels: compile ``kernels/*.cu`` with a C++ compiler through
``tests/cuda_shim.h`` and run them with one call per thread, so that the kernels that need no
inter-thread cooperation (one thread per individual) are checked against the NumPy
reference on machines without a GPU. The arguments come from the cupy backend's own builders
(``gabalance.backend._cupy``), run with NumPy arrays.
"""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from gabalance import kernels
from gabalance.backend._launch import KERNELS, grid_1d, options

__all__ = ["available", "runner"]

SHIM = Path(__file__).resolve().parent / "cuda_shim.h"
_BUILT: dict[tuple[str, bool, bool], ctypes.CDLL] = {}
_DIR = Path(tempfile.mkdtemp(prefix="gabalance-kernels-"))
_CTYPES = {"ptr": ctypes.c_void_p, "i32": ctypes.c_int, "f64": ctypes.c_double}


def compiler() -> str | None:
    return shutil.which("c++") or shutil.which("g++") or shutil.which("clang++")


def available() -> bool:
    return compiler() is not None


def build(source: str, int_data: bool, int_cost: bool) -> ctypes.CDLL:
    """Compile one kernel source for the host (cached per process)."""
    key = (source, int_data, int_cost)
    if key not in _BUILT:
        cxx = compiler()
        assert cxx is not None
        out = _DIR / f"{Path(source).stem}-{int(int_data)}{int(int_cost)}.so"
        defines = [o for o in options(int_data, int_cost) if o.startswith("-D")]
        cmd = [cxx, "-O1", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off",
               "-include", str(SHIM), f"-I{kernels.HERE}", *defines, "-x", "c++",
               str(kernels.path(source)), "-o", str(out)]
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        _BUILT[key] = ctypes.CDLL(str(out))
    return _BUILT[key]


def runner(name: str, threads: int, args: list[tuple[str, Any]], int_data: bool,
           int_cost: bool) -> None:
    """Run kernel ``name`` on the host: every thread of the launch the device would get."""
    source, _ = KERNELS[name]
    lib = build(source, int_data, int_cost)
    fn = getattr(lib, name)
    fn.restype = None
    fn.argtypes = [_CTYPES[kind] for kind, _ in args]
    values = []
    for kind, v in args:
        if kind == "ptr":
            assert isinstance(v, np.ndarray) and v.flags.c_contiguous, "pass C-ordered arrays"
            values.append(v.ctypes.data)
        else:
            values.append(v)
    grid, block = grid_1d(threads)
    for b in range(grid):
        for t in range(block):
            lib.gb_shim_set(b, t, block, grid)
            fn(*values)

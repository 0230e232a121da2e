"""Host harness for the CUDA kernels: compile ``kernels/*.cu`` with a C++ compiler through
``tests/cuda_shim.h`` and run them with one call per thread, so that every kernel is checked
against the NumPy / Numba references on machines without a GPU. Kernels launched without
shared memory run thread after thread; a cooperative launch (dynamic shared memory, or
``cooperative``: tiles, __syncthreads, shuffles) runs each block's threads as fibers inside
the compiled library, blocks one after the other (tests/cuda_shim.h). The arguments and
the launch shape come from the cupy backend's own builders (``gabalance.backend._cupy``),
run with NumPy arrays.
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
from gabalance.backend._launch import BLOCK, KERNELS, grid_1d, options

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
    """Compile one kernel source for the host (cached per process), with a
    ``gb_shim_launch_<kernel>(argv, grid, block, shared)`` entry per kernel of the source
    for cooperative launches (fibers; see tests/cuda_shim.h)."""
    key = (source, int_data, int_cost)
    if key not in _BUILT:
        cxx = compiler()
        assert cxx is not None
        stem = f"{Path(source).stem}-{int(int_data)}{int(int_cost)}"
        wrapper = _DIR / f"{stem}.cpp"
        lines = [f'#include "{kernels.path(source)}"']
        for name, (src, _) in KERNELS.items():
            if src == source:
                lines.append(
                    f'extern "C" void gb_shim_launch_{name}(void** argv, unsigned grid, '
                    f"unsigned block, unsigned long long shared) {{\n"
                    f"    gb_shim_launch([](void** a) {{ gb_shim_call({name}, a); }}, argv, "
                    f"grid, block, shared);\n}}")
        wrapper.write_text("\n".join(lines) + "\n")
        out = _DIR / f"{stem}.so"
        defines = [o for o in options(int_data, int_cost) if o.startswith("-D")]
        cmd = [cxx, "-O1", "-std=c++17", "-shared", "-fPIC", "-ffp-contract=off",
               "-include", str(SHIM), f"-I{kernels.HERE}", *defines, str(wrapper),
               "-o", str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"host build of {source} failed:\n{done.stderr[-4000:]}")
        _BUILT[key] = ctypes.CDLL(str(out))
    return _BUILT[key]


def runner(name: str, threads: int, args: list[tuple[str, Any]], int_data: bool,
           int_cost: bool, block: int = BLOCK, shared: int = 0, cooperative: bool = False
           ) -> None:
    """Run kernel ``name`` on the host: every thread of the launch the device would get
    (``block`` threads per block; ``shared`` bytes of dynamic shared memory per block; the
    threads of a block at once when ``cooperative`` or ``shared``)."""
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
    grid, block = grid_1d(threads, block)
    if shared == 0 and not cooperative:
        for b in range(grid):
            for t in range(block):
                lib.gb_shim_set(b, t, block, grid)
                fn(*values)
        return
    # cooperative: the shim runs each block's threads as fibers (tests/cuda_shim.h)
    cvalues = [_CTYPES[kind](v) for kind, v in zip([k for k, _ in args], values)]
    argv = (ctypes.c_void_p * len(cvalues))(*[ctypes.addressof(c) for c in cvalues])
    launch = getattr(lib, f"gb_shim_launch_{name}")
    launch.restype = None
    launch.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_uint, ctypes.c_ulonglong]
    launch(argv, grid, block, shared)

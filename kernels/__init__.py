"""CUDA C sources of the cupy backend (``gabalance/backend/_cupy.py`` compiles them at run
time with NVRTC through ``cupy.RawModule``). Shipped inside the wheel as ``gabalance.kernels``.

Each ``*.cu`` file starts with its thread mapping; ``common.cuh`` holds what they share.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["path", "source"]

HERE = Path(__file__).resolve().parent


def path(name: str) -> Path:
    """Path of one kernel source (``"placement.cu"``, ``"common.cuh"``, ...)."""
    p = HERE / name
    if not p.is_file():
        raise FileNotFoundError(f"no kernel source {name!r} in {HERE}")
    return p


def source(name: str) -> str:
    """Text of one kernel source."""
    return path(name).read_text(encoding="utf-8")

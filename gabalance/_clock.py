"""The solve's clock: wall time minus the one-time kernel compilation.

Numba compiles a kernel (or loads it from its on-disk cache) the first time it meets a new
argument type, under its global compiler lock; the cupy backend compiles each CUDA kernel
with NVRTC on its first launch. :class:`Clock` listens to that lock's events
(``numba:compiler_lock``), reads the cupy backend's NVRTC seconds, and keeps both apart,
so that ``time_limit`` bounds the search and the one-time compilation is reported on its
own (``SolveResult.compile_time``).
"""

from __future__ import annotations

import sys
import threading
import time
from contextlib import AbstractContextManager
from typing import Any

from numba.core import event

__all__ = ["Clock"]


class _CompileListener(event.Listener):
    """Adds up the time spent holding numba's (reentrant) compiler lock."""

    def __init__(self) -> None:
        self.depth = 0
        self.total = 0.0
        self.since = 0.0
        self.owner: int | None = None

    def on_start(self, ev: event.Event) -> None:
        if self.depth == 0:
            self.since = time.perf_counter()
            self.owner = threading.get_ident()
        self.depth += 1

    def on_end(self, ev: event.Event) -> None:
        self.depth = max(0, self.depth - 1)
        if self.depth == 0:
            self.total += time.perf_counter() - self.since


def _cuda_compile_seconds() -> float:
    """Seconds the cupy backend has spent compiling CUDA kernels (0 when it is not loaded)."""
    mod = sys.modules.get("gabalance.backend._cupy")
    return float(getattr(mod, "COMPILE_SECONDS", 0.0)) if mod is not None else 0.0


class Clock(AbstractContextManager):
    """Wall time since construction, less the compilation seen while it is entered.

    Parameters
    ----------
    limit : float or None
        Seconds the search may use (``None``: no limit).

    Use ``with Clock(limit) as clock: ...``; :meth:`elapsed` and :meth:`remaining` count
    search time only, :attr:`compile_time` the compilation.
    """

    def __init__(self, limit: float | None = None) -> None:
        self.limit = None if limit is None else float(limit)
        self.t0 = time.perf_counter()
        self._listener = _CompileListener()
        self._ctx: Any = None
        self._cuda0 = _cuda_compile_seconds()

    def __enter__(self) -> Clock:
        self._ctx = event.install_listener("numba:compiler_lock", self._listener)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._ctx is not None:
            self._ctx.__exit__(*exc)
            self._ctx = None

    @property
    def compile_time(self) -> float:
        """Seconds spent compiling or loading kernels so far (a compile in progress counts
        up to now)."""
        lst = self._listener
        extra = time.perf_counter() - lst.since if lst.depth > 0 else 0.0
        return lst.total + extra + (_cuda_compile_seconds() - self._cuda0)

    def wall(self) -> float:
        """Seconds since the clock was made, compilation included."""
        return time.perf_counter() - self.t0

    def elapsed(self) -> float:
        """Search seconds: wall time less compilation."""
        return self.wall() - self.compile_time

    def remaining(self) -> float:
        """Search seconds left before the limit (``inf`` without one)."""
        if self.limit is None:
            return float("inf")
        return self.limit - self.elapsed()

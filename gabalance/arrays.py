"""Host and device arrays: the few helpers every module that works over ``xp`` (numpy or
cupy) shares. Importing this module never imports cupy; only a device array in makes it."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["array_module", "as_module", "to_host"]


def to_host(a: Any) -> np.ndarray:
    """A NumPy array of a NumPy or CuPy array (CuPy arrays are copied from the device)."""
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def array_module(a: Any) -> Any:
    """``numpy``, or ``cupy`` when ``a`` is a CUDA device array (it has
    ``__cuda_array_interface__``)."""
    if hasattr(a, "__cuda_array_interface__") and not isinstance(a, np.ndarray):
        import cupy

        return cupy
    return np


def as_module(xp: Any, a: Any) -> Any:
    """``a`` as an array of module ``xp``: a host copy for numpy, a transfer for cupy."""
    return to_host(a) if xp is np else xp.asarray(a)

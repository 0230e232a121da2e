"""What every frozen parameter dataclass shares: plain-dict round trips for JSON."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

__all__ = ["DictRoundTrip"]

T = TypeVar("T", bound="DictRoundTrip")


class DictRoundTrip:
    """Mixin for frozen dataclasses: :meth:`to_dict` and its inverse :meth:`from_dict`."""

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for JSON."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], values: dict[str, Any]) -> T:
        """Inverse of :meth:`to_dict`; unknown names are an error."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(unknown)}")
        return cls(**values)

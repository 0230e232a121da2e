"""Progress display on stderr for long runs (:func:`gabalance.solve`, :func:`gabalance.tune`).

One facility built on tqdm: a :class:`ProgressBar` whose total is the run's time limit when
it has one (the bar then fills with the seconds spent), else a count (generations, trials),
and :func:`note` for a one-off line that does not break a bar. A disabled bar writes nothing.
"""

from __future__ import annotations

import sys
import time

from tqdm import tqdm

__all__ = ["ProgressBar", "note"]

#: seconds between two redraws of a bar (the final state is always drawn)
REDRAW_INTERVAL = 0.1
#: the bar's layout when its total is a time limit: seconds spent / limit, then the fields
_TIME_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:g} s{postfix}"


class ProgressBar:
    """A progress bar on stderr, redrawn at most every :data:`REDRAW_INTERVAL` seconds.

    Parameters
    ----------
    label : str
        Shown before the bar (``"gabalance ga"``).
    enabled : bool
        False: the bar writes nothing (every method returns at once).
    unit : str
        What the count counts (``"gen"``, ``"trials"``).
    total : int, optional
        The count's end (``max_generations``, ``n_trials``); None: a bare counter.
    time_limit : float, optional
        Seconds; when given, the bar's total is this limit and it fills with the elapsed
        time, the count is then shown among the fields.
    """

    def __init__(self, label: str, *, enabled: bool, unit: str, total: int | None = None,
                 time_limit: float | None = None) -> None:
        self.unit = unit
        self.time_limit = float(time_limit) if time_limit else None
        self._t0 = time.perf_counter()
        self._last = -float("inf")
        self._bar: tqdm | None = None
        if not enabled:
            return
        if self.time_limit is not None:
            self._bar = tqdm(desc=label, total=self.time_limit, unit="s",
                             bar_format=_TIME_FORMAT, **self._common())
        else:
            self._bar = tqdm(desc=label, total=total, unit=unit, **self._common())

    @staticmethod
    def _common() -> dict:
        # sys.stderr looked up now, not at import (a test's capture or a redirect counts);
        # the bar is drawn by refresh(), paced in update()
        return dict(file=sys.stderr, leave=True, dynamic_ncols=True)

    def elapsed(self) -> float:
        """Seconds since the bar was made."""
        return time.perf_counter() - self._t0

    def update(self, count: int, fields: str, elapsed: float | None = None,
               force: bool = False) -> None:
        """Show ``count`` (generations, trials done) and ``fields`` (best value, ...).

        Parameters
        ----------
        count : int
        fields : str
            What follows the bar, e.g. ``"evals 1200, best 42 (feasible)"``.
        elapsed : float, optional
            Seconds spent, for a bar whose total is a time limit (default: since the bar was
            made).
        force : bool, default False
            Draw now, whatever the time since the last redraw.
        """
        if self._bar is None:
            return
        if elapsed is None:
            elapsed = self.elapsed()
        if not force and elapsed - self._last < REDRAW_INTERVAL:
            return
        self._last = elapsed
        self._set(count, fields, elapsed)
        self._bar.refresh()

    def close(self, count: int, fields: str, elapsed: float | None = None) -> None:
        """Draw the final state and end the line."""
        if self._bar is None:
            return
        self._set(count, fields, self.elapsed() if elapsed is None else elapsed)
        self._bar.close()
        self._bar = None

    def _set(self, count: int, fields: str, elapsed: float) -> None:
        """Move the bar to ``count`` (or to ``elapsed`` seconds) and set its fields."""
        assert self._bar is not None
        if self.time_limit is not None:
            fields = f"{self.unit} {count}, {fields}"
            self._bar.n = min(max(elapsed, 0.0), self.time_limit)
        else:
            self._bar.n = count
        self._bar.set_postfix_str(fields, refresh=False)


def note(label: str, text: str, enabled: bool = True) -> None:
    """Write the line ``[label] text`` on stderr (through tqdm, so an open bar stays whole).

    Parameters
    ----------
    label : str
    text : str
    enabled : bool, default True
        False: write nothing.
    """
    if enabled:
        tqdm.write(f"[{label}] {text}", file=sys.stderr)

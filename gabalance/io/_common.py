"""Shared helpers of the instance readers: the error type, the data folder, tokenising."""

from __future__ import annotations

import contextlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from gabalance.problem import ProblemError

PathLike = str | os.PathLike

#: environment variable naming the benchmark data folder (see :func:`data_dir`)
DATA_ENV = "GABALANCE_DATA"


class FormatError(ProblemError):
    """An instance file is malformed; the message names the file and the line or token."""


def data_dir(path: PathLike | None = None) -> Path | None:
    """Locate the folder of third-party benchmark data.

    Parameters
    ----------
    path : str or os.PathLike, optional
        An explicit folder; wins over everything else.

    Returns
    -------
    pathlib.Path or None
        The first of: ``path``; the environment variable ``GABALANCE_DATA``; the folder
        ``../shared/data`` relative to the repository root (the nearest directory above this
        package, or else above the working directory, that holds ``pyproject.toml``; the
        second covers an installed package run from a checkout). ``None`` when the chosen
        folder does not exist (an explicit ``path`` or ``GABALANCE_DATA`` that does not exist
        is not replaced by the default) or when no repository root is found.

    Notes
    -----
    Tests and benchmarks that read real data call this and skip when it returns ``None``;
    the data themselves are never part of the package.
    """
    if path is None:
        env = os.environ.get(DATA_ENV)
        if env:
            path = env
    if path is not None:
        p = Path(path).expanduser()
        return p if p.is_dir() else None
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for parent in (start, *start.parents):
            if (parent / "pyproject.toml").is_file():
                p = parent.parent / "shared" / "data"
                if p.is_dir():
                    return p
                break
    return None


def display(path: PathLike) -> str:
    """How a file is named in error messages."""
    return os.fspath(path)


def base(path: PathLike) -> str:
    """File name without its directory (what ``info`` records, so no local paths leak)."""
    return os.path.basename(os.fspath(path))


def read_text(path: PathLike) -> tuple[str, str]:
    """Return ``(text, where)``; a ``.zip`` must hold exactly one file, which is read instead."""
    where = display(path)
    if os.fspath(path).lower().endswith(".zip"):
        try:
            with zipfile.ZipFile(path) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                if len(members) != 1:
                    raise FormatError(f"{where}: a zip instance must hold exactly one file, "
                                      f"found {len(members)}")
                raw = zf.read(members[0])
                where = f"{where}:{members[0].filename}"
        except zipfile.BadZipFile as exc:
            raise FormatError(f"{where}: not a valid zip file ({exc})") from None
    else:
        with open(path, "rb") as fh:
            raw = fh.read()
    try:
        return raw.decode("utf-8"), where
    except UnicodeDecodeError as exc:
        raise FormatError(f"{where}: not a text file ({exc})") from None


def line_of_token(text: str, index: int) -> int:
    """1-based line number of whitespace-separated token ``index`` (0-based) in ``text``."""
    seen = 0
    line = 0
    for line, row in enumerate(text.splitlines(), 1):
        n = len(row.split())
        if seen + n > index:
            return line
        seen += n
    return max(line, 1)


def to_int(token: str) -> int | None:
    """``int(token)`` or ``None`` when the token is not a decimal integer."""
    try:
        return int(token)
    except ValueError:
        return None


class Tokens:
    """Whitespace-separated integers of a text file, read in order, with located errors."""

    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        self.tokens = text.split()
        self.pos = 0

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def left(self) -> int:
        return len(self.tokens) - self.pos

    def at(self, index: int) -> str:
        """``"<file> line L"`` for token ``index``."""
        return f"{self.where} line {line_of_token(self.text, index)}"

    def ints(self, count: int, what: str) -> np.ndarray:
        """The next ``count`` tokens as int64; raises naming ``what`` when missing or bad."""
        if count > self.left:
            end = f"line {line_of_token(self.text, len(self.tokens))}" if self.tokens else \
                "the start"
            raise FormatError(
                f"{self.where}: file ends early at {end}: expected {count} {what}, "
                f"found only {self.left} more token(s)"
            )
        chunk = self.tokens[self.pos:self.pos + count]
        try:
            out = np.array(chunk, dtype=np.int64)
        except (ValueError, OverflowError):
            for k, tok in enumerate(chunk):
                if to_int(tok) is None or not -(2**63) <= int(tok) < 2**63:
                    raise FormatError(
                        f"{self.at(self.pos + k)}: token {tok!r} (in {what}) is not an integer"
                    ) from None
            raise  # pragma: no cover - numpy rejected something int() accepts
        self.pos += count
        return out

    def int(self, what: str) -> int:
        """The next token as a Python int."""
        return int(self.ints(1, what)[0])

    def finish(self, what: str = "the last problem") -> None:
        """Raise when tokens remain after ``what``."""
        if self.left:
            tok = self.tokens[self.pos]
            raise FormatError(
                f"{self.at(self.pos)}: {self.left} extra token(s) after {what}, "
                f"starting with {tok!r}"
            )


@contextlib.contextmanager
def located(where: str) -> Iterator[None]:
    """Prefix a :class:`ProblemError` raised while building a problem with the file name."""
    try:
        yield
    except FormatError:
        raise
    except ProblemError as exc:
        raise ProblemError(f"{where}: {exc}") from None


def stem(path: PathLike) -> str:
    """File name without its directory and its (last) extension."""
    return Path(path).stem


def servers(cluster: dict, gpus_per_node: int) -> list[tuple[str, str]]:
    """(server name, GPU type) of every ``gpus_per_node``-GPU server of a cluster given as
    GPU type -> GPU count, named ``<type>-<k>``; a count that is not a non-negative multiple
    of ``gpus_per_node``, or no server at all, is a :class:`ProblemError`."""
    out: list[tuple[str, str]] = []
    for w, count in cluster.items():
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 0 \
                or count % gpus_per_node:
            raise ProblemError(f"cluster[{w!r}] = {count!r} GPUs is not a non-negative "
                               f"multiple of gpus_per_node={gpus_per_node}")
        out += [(f"{w}-{k}", w) for k in range(int(count) // gpus_per_node)]
    if not out:
        raise ProblemError(f"the cluster {cluster} has no servers")
    return out

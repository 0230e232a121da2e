"""The README's and the docs' examples run and print what the pages show.

Conventions of the pages (README.md and docs/*.md):

* ```python: runs in a fresh namespace. A block that prints is followed, after one blank
  line, by a fenced block with the info string ``output`` holding what it prints, compared
  by doctest's OutputChecker with ELLIPSIS and NORMALIZE_WHITESPACE: ``...`` stands for what
  legitimately varies (timings, time-limited searches, whether a GPU exists); all the rest
  is exact. (```python ray blocks are tests/test_ray.py's.)
* ```console: ``$ gabalance ...`` lines, each followed by its output, compared the same way;
  each runs as ``python -m gabalance ...`` in an empty directory. With the info string
  ``console numbers-vary`` every number, and every word holding a digit (node and task names
  such as v100x4-32), is masked in both texts and whitespace collapsed before the
  comparison: the page keeps a real run's figures while the structure (lines, headers,
  methods in order) is checked. ``gabalance demo`` (20 s) is not run again here: CI's main
  job runs it and .ci/run exports its output as GABALANCE_DEMO_OUTPUT.
* ```sh: example commands without their output; every line runs in one temporary directory
  per block, in order, and must exit 0. A line is skipped, with the reason, when it is not a
  gabalance command (benchmark scripts) or names an input that is neither a bundled example
  nor written by an earlier line of the block (data that is not in the repository).
"""

from __future__ import annotations

import contextlib
import difflib
import doctest
import io
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

import gabalance as gb
from gabalance import examples

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^`\n]*)\n(.*?)^```[ \t]*$", re.M | re.S)
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
CHECKER = doctest.OutputChecker()
# numbers (ints, floats, exponents) and the words that hold them (v100x4-32, infer-185)
NUMBER_WORD = re.compile(r"[\w.+-]*\d[\w.+-]*")
# the README's two set-up commands; .ci/run must do what they do
SETUP = ['python3 -m venv .venv && . .venv/bin/activate && pip install . && gabalance demo',
         'python3 -m venv .venv && . .venv/bin/activate && pip install ".[test]" && pytest']
# console commands not run by the tests: CI's main job runs them and keeps their output
RECORDED = {"gabalance demo": "GABALANCE_DEMO_OUTPUT"}


@dataclass
class Block:
    page: Path
    line: int          # of the opening fence, 1-based
    info: str
    text: str
    output: str | None = None   # the ```output block after a ```python block

    @property
    def where(self) -> str:
        first = next((s for s in self.text.splitlines() if s.strip()), "")
        return f"{self.page.name}, the block at line {self.line} ({first.strip()!r})"


def page_blocks(path: Path) -> list[Block]:
    """The page's fenced blocks; each ```output block attached to the ```python before it."""
    text = path.read_text(encoding="utf-8")
    found, end = [], -1
    for m in FENCE.finditer(text):
        info = m.group(1).strip()
        if (info == "output" and found and found[-1].info == "python"
                and found[-1].output is None and text[end:m.start()] == "\n\n"):
            found[-1].output = m.group(2)
        else:
            found.append(Block(path, text.count("\n", 0, m.start()) + 1, info, m.group(2)))
        end = m.end()
    return found


def blocks(path: Path, lang: str) -> list[str]:
    return [b.text for b in page_blocks(path) if b.info == lang]


ALL = [b for page in PAGES for b in page_blocks(page)]
PYTHON = [b for b in ALL if b.info == "python"]
CONSOLE = [b for b in ALL if b.info.split()[:1] == ["console"]]
SH = [b for b in ALL if b.info == "sh"]


def block_id(b: Block) -> str:
    return f"{b.page.name}:{b.line}"


def mask(text: str) -> str:
    """Numbers and words holding digits as ``#``, whitespace collapsed, blank lines dropped."""
    lines = (" ".join(NUMBER_WORD.sub("#", line).split()) for line in text.splitlines())
    return "".join(f"{line}\n" for line in lines if line)


def check(want: str, got: str, where: str, numbers_vary: bool = False) -> None:
    """Fail, showing the difference, unless ``got`` is what ``want`` shows."""
    if numbers_vary:   # masked line by line: the lines themselves must match
        w, g = mask(want), mask(got)
        ok = CHECKER.check_output(w, g, doctest.ELLIPSIS)
        diff = "\n".join(difflib.unified_diff(w.splitlines(), g.splitlines(), "page (masked)",
                                              "output (masked)", lineterm=""))
    else:
        ok = CHECKER.check_output(want, got, FLAGS)
        diff = CHECKER.output_difference(doctest.Example("", want), got, FLAGS)
    if not ok:
        pytest.fail(f"{where}: the output differs from the page's\n{diff}", pytrace=False)


def cli(args: list[str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    """``python -m gabalance ARGS`` in ``cwd``, importing the gabalance this test imports."""
    package_root = str(Path(gb.__file__).resolve().parents[1])
    env = {**os.environ, "PATH": os.environ.get("PATH", ""),
           "PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                       os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "gabalance", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


# ------------------------------------------------------------------------------ python
def test_output_blocks_follow_python_blocks():
    orphans = [b.where for b in ALL if b.info == "output"]
    assert not orphans, ("an ```output block must follow a ```python block after one blank "
                         f"line: {orphans}")


@pytest.mark.parametrize("block", PYTHON, ids=block_id)
def test_python_example(block):
    out = io.StringIO()
    code = "\n" * block.line + block.text   # tracebacks give the page's line numbers
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(block.page), "exec"), {})
    got = out.getvalue()
    if block.output is None:
        assert not got, (f"{block.where} prints but no ```output block follows it; it "
                         f"printed:\n{got}")
    else:
        check(block.output, got, block.where)


# ----------------------------------------------------------------------------- console
def console_commands(block: Block) -> list[tuple[str, str]]:
    """(command, the output shown for it) for each ``$ `` line of a ```console block."""
    pairs: list[list[str]] = []
    for line in block.text.splitlines(keepends=True):
        if line.startswith("$ "):
            pairs.append([line[2:].strip(), ""])
        else:
            assert pairs, f"{block.where}: a console block starts with a `$ ` command"
            pairs[-1][1] += line
    return [(c, o) for c, o in pairs]


def test_console_blocks_found():
    commands = [c for b in CONSOLE for c, _ in console_commands(b)]
    assert "gabalance check scenario --time-limit 3" in commands
    assert "gabalance demo" in commands


@pytest.mark.parametrize("block", CONSOLE, ids=block_id)
def test_console_example(block, tmp_path):
    numbers_vary = "numbers-vary" in block.info.split()[1:]
    for command, want in console_commands(block):
        where = f"{block.where}: `{command}`"
        if command in RECORDED:
            var = RECORDED[command]
            if not os.environ.get(var):
                pytest.skip(f"{var} is not set: .ci/run's main job runs `{command}` and "
                            "exports its output there (too slow to run again here)")
            got = Path(os.environ[var]).read_text(encoding="utf-8")
        else:
            args = shlex.split(command)
            assert args[0] == "gabalance", f"{where}: only gabalance commands are run"
            proc = cli(args[1:], tmp_path)
            assert proc.returncode == 0, f"{where} exited {proc.returncode}:\n{proc.stderr}"
            got = proc.stdout
        check(want, got, where, numbers_vary)


# ---------------------------------------------------------------------------------- sh
INPUT_OPTIONS = {"--params", "--best-known", "--throughputs"}    # options naming a file read
FLAG_OPTIONS = {"--progress", "--quiet"}                           # options without a value


def sh_lines(block: Block) -> list[tuple[int, list[str]]]:
    """(line number on the page, tokens without the comment) of each command line."""
    lines = []
    for i, line in enumerate(block.text.splitlines()):
        tokens = shlex.split(line, comments=True)
        if tokens:
            lines.append((block.line + 1 + i, tokens))
    return lines


def inputs(tokens: list[str]) -> list[str]:
    """The files a gabalance command line reads: positionals and values of input options."""
    found, i = [], 2                          # after "gabalance SUBCOMMAND"
    while i < len(tokens):
        tok = tokens[i]
        if tok.startswith("--"):
            if tok in INPUT_OPTIONS:
                found.append(tokens[i + 1])
            i += 1 if tok in FLAG_OPTIONS or "=" in tok else 2
        else:
            found.append(tok)
            i += 1
    return found


def skip_reason(tokens: list[str], cwd: Path) -> str | None:
    """Why a ```sh line is not run (None: run it)."""
    if tokens[0] != "gabalance":
        assert tokens[0].startswith("python") and tokens[1].startswith("bench/"), (
            f"`{shlex.join(tokens)}`: a ```sh block holds gabalance commands and benchmark "
            "scripts only")
        return (f"`{shlex.join(tokens[:2])}` is a benchmark script: it reads the benchmark "
                "data and runs apart from the test suite")
    for name in inputs(tokens):
        bundled = name.split("#")[0] in examples.names() or re.fullmatch(r"generated(:\d+)?",
                                                                          name)
        if not bundled and not (cwd / name.split("#")[0]).is_file():
            return (f"reads {name}, which is neither a bundled example nor written by an "
                    "earlier line of the block (data that is not in the repository)")
    return None


SH_CASES = [pytest.param(b, n, id=f"{b.page.name}:{line}") for b in SH
            for n, (line, _) in enumerate(sh_lines(b))]


@pytest.fixture(scope="module")
def sh_state():
    """Per ```sh block: its directory and the indices of the lines already run there."""
    return {}


def run_sh_line(block: Block, line: int, tokens: list[str], cwd: Path) -> str:
    proc = cli(tokens[1:], cwd)
    assert proc.returncode == 0, (f"{block.page.name}:{line}: `{shlex.join(tokens)}` exited "
                                  f"{proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr}")
    return proc.stdout


def test_sh_blocks_found():
    lines = [shlex.join(t) for b in SH for _, t in sh_lines(b)]
    assert "gabalance check-result result.json ai_cluster" in lines
    assert "gabalance solve scenario --generations 50 --plot scenario.png" in lines
    assert any(s.startswith("gabalance simulate generated:") for s in lines)


@pytest.mark.parametrize(("block", "index"), SH_CASES)
def test_sh_example(block, index, sh_state, tmp_path_factory):
    key = (block.page.name, block.line)
    if key not in sh_state:
        sh_state[key] = (tmp_path_factory.mktemp("sh"), set())
    cwd, done = sh_state[key]
    lines = sh_lines(block)
    for n, (line, tokens) in enumerate(lines[:index]):   # what the earlier lines write
        if n not in done and skip_reason(tokens, cwd) is None:
            run_sh_line(block, line, tokens, cwd)
            done.add(n)
    line, tokens = lines[index]
    reason = skip_reason(tokens, cwd)
    if reason is not None:
        pytest.skip(f"{block.page.name}:{line}: {reason}")
    out = run_sh_line(block, line, tokens, cwd)
    done.add(index)
    if tokens[:2] == ["gabalance", "check-result"]:   # exit 0: the saved result checks out
        assert out.startswith("valid: "), out


# ---------------------------------------------------------------------------------- CI
def test_ci_runs_the_readme_commands():
    """The README's two set-up commands, and .ci/run doing what they do: a fresh virtualenv,
    the package with the test extra, the main job (its output kept), the tests."""
    first = next(b for b in page_blocks(ROOT / "README.md") if b.info == "bash")
    assert first.text.splitlines()[:2] == SETUP
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    code = [s.strip() for s in ci.splitlines() if s.strip() and not s.strip().startswith("#")]
    assert "set -euo pipefail" in code      # a failing demo fails the job despite the tee
    steps = [r'python3 -m venv "\$work/venv"',
             r'\. "\$work/venv/bin/activate"',
             r'(python -m )?pip install (--quiet )?"\.\[test\]"',
             r'gabalance demo \| tee "\$work/demo\.txt"',
             r'export GABALANCE_DEMO_OUTPUT="\$work/demo\.txt"',
             r'pytest( -q)?']
    at = []
    for step in steps:
        hits = [i for i, s in enumerate(code) if re.fullmatch(step, s)]
        assert hits, f".ci/run has no line {step!r}"
        at.append(hits[0])
    assert at == sorted(at), f".ci/run runs the steps out of order: {dict(zip(steps, at))}"


# ---------------------------------------------------------------------- the comparisons
def test_comparisons_can_fail():
    (demo,) = [o for b in CONSOLE for c, o in console_commands(b) if c == "gabalance demo"]
    other = demo.replace("cpu64-01 (97", "v100x8-38 (12").replace("9424359", "9.5e+06")
    assert other != demo and mask(other) == mask(demo)          # figures and names vary
    for broken in (demo.replace("\nheft ", "\nhefty "),         # a method renamed
                   demo.replace("makespan:", "span:"),          # a line changed
                   "\n".join(demo.splitlines()[:-1])):          # a line missing
        with pytest.raises(pytest.fail.Exception):
            check(demo, broken, "demo", numbers_vary=True)
    with pytest.raises(pytest.fail.Exception):
        check("110.0 True generation limit reached (50)\n", "111.0 True generation limit "
              "reached (50)\n", "quickstart")
    check("ga   110 1 (limit reached)   ...\n", "ga 110 1 (limit reached) 3.00\n", "check")


def test_json_schema_example_loads():
    (doc,) = blocks(ROOT / "docs" / "json-schema.md", "json")
    p = gb.Problem.from_json(doc)
    assert p.name == "tiny" and p.n_tasks == 2
    assert gb.Problem.from_json(p.to_json()) == p


def test_readme_solve_signature_is_the_real_one():
    """The README's ``gb.solve(...)`` line lists every parameter with its default (it once
    lacked ``max_evaluations``)."""
    import inspect

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    written = re.search(r"`gb\.solve\((.*?)\)` returns", text, re.S)
    assert written is not None
    shown = " ".join(written.group(1).split())
    params = [p.replace(annotation=inspect.Parameter.empty)
              for p in inspect.signature(gb.solve).parameters.values()]
    real = str(inspect.Signature(params))[1:-1].replace("'", '"')
    assert shown == real

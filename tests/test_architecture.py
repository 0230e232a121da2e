"""The package's module boundaries (docs/guide.md, "Architecture").

- A name that starts with one underscore stays in its module: no ``from m import _x`` and no
  ``m._x`` on an imported module of the package.
- A private module (``a/_m.py``) is imported only from inside its package ``a`` (and below).
- No import cycles, counting the imports made inside functions too (a lazy import that
  would close a cycle at module level is a cycle all the same).
- No function longer than 120 lines, numba kernels aside (one loop per individual, kept in
  one piece so it reads like the paper it follows).

Each rule is checked on the package, and on a small package written here that breaks it,
so a checker that stopped seeing anything would fail.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 120
#: packages installed from folders beside the source tree (pyproject's package-dir)
EXTRA_PACKAGES = ("gabalance.examples", "gabalance.kernels")
KERNEL_DECORATORS = ("njit", "jit", "vectorize", "guvectorize", "stencil")


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def modules(src: Path, top: str) -> dict[str, tuple[Path, str]]:
    """Dotted module name -> (file, the package its relative imports start from)."""
    out: dict[str, tuple[Path, str]] = {}
    for path in sorted((src / top).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
            package = ".".join(parts)
        else:
            package = ".".join(parts[:-1])
        out[".".join(parts)] = (path, package)
    return out


def _imports(tree: ast.AST, package: str) -> list[tuple[int, str, str | None, str]]:
    """(line, module imported from, name or None for ``import m``, the name bound) for every
    import, inside functions too; ``if TYPE_CHECKING:`` blocks are left out (never run)."""
    found: list[tuple[int, str, str | None, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom):
                source = child.module or ""
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    source = ".".join(base + ([child.module] if child.module else []))
                found.extend((child.lineno, source, a.name, a.asname or a.name)
                             for a in child.names)
            elif isinstance(child, ast.Import):
                found.extend((child.lineno, a.name, None, a.asname or a.name.split(".")[0])
                             for a in child.names)
            visit(child)

    visit(tree)
    return found


def _owner_of_private(module: str) -> str | None:
    """The package a private module belongs to (``a.b._c`` -> ``a.b``), or None."""
    parts = module.split(".")
    for k, part in enumerate(parts):
        if _private(part):
            return ".".join(parts[:k])
    return None


def boundary_violations(src: Path, top: str) -> list[str]:
    mods = modules(src, top)
    known = set(mods) | set(EXTRA_PACKAGES)
    bad: list[str] = []
    for name, (path, package) in mods.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = f"{path.relative_to(src)}"
        aliases: set[str] = set()
        for line, source, imported, bound in _imports(tree, package):
            if not (source == top or source.startswith(top + ".")):
                continue
            full = source if imported is None else f"{source}.{imported}"
            target = full if full in known else source
            if imported is not None and _private(imported) and full not in known:
                bad.append(f"{where}:{line}: imports private {imported} from {source}")
            owner = _owner_of_private(target)
            if owner is not None and not (name == owner or name.startswith(owner + ".")):
                bad.append(f"{where}:{line}: imports {target}, private to {owner}")
            if imported is None or full in known:
                aliases.add(bound)  # a module object
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and _private(node.attr)):
                bad.append(f"{where}:{node.lineno}: uses {node.value.id}.{node.attr}")
    return bad


def import_cycles(src: Path, top: str) -> list[list[str]]:
    """The strongly connected components of more than one module of the import graph."""
    mods = modules(src, top)
    graph: dict[str, set[str]] = {}
    for name, (path, package) in mods.items():
        edges = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for _, source, imported, _ in _imports(tree, package):
            full = source if imported is None else f"{source}.{imported}"
            if full in mods:
                edges.add(full)
            elif source in mods and full not in EXTRA_PACKAGES:
                edges.add(source)
        edges.discard(name)
        graph[name] = edges
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def connect(v: str) -> None:  # Tarjan (1972)
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return cycles


def _is_kernel(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for dec in fn.decorator_list:
        target = dec.func if isinstance(dec, ast.Call) else dec
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in KERNEL_DECORATORS:
            return True
    return False


def long_functions(src: Path, top: str, limit: int = MAX_LINES) -> list[str]:
    out = []
    for _, (path, _) in modules(src, top).items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not _is_kernel(node):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > limit:
                    out.append(f"{path.relative_to(src)}:{node.lineno} {node.name}: {n} lines")
    return out


# --------------------------------------------------------------------------- the package


def test_no_private_name_crosses_a_module_boundary():
    assert boundary_violations(ROOT, "gabalance") == []


def test_no_import_cycles():
    assert import_cycles(ROOT, "gabalance") == []


def test_no_function_over_120_lines_outside_kernels():
    assert long_functions(ROOT, "gabalance") == []


# --------------------------------------------------------------------------- the checkers


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    files = {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.b import _helper\nimport pkg.b as bee\n\n"
                    "def f():\n    from pkg import c\n    return bee._hidden + c.x\n",
        "pkg/b.py": "from pkg import a\n_helper = 1\n_hidden = 2\n",
        "pkg/c.py": "x = 1\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/_inner.py": "from pkg.sub import d\ny = 1\n",
        "pkg/sub/d.py": "from pkg.sub._inner import y\n",
        "pkg/e.py": "from pkg.sub._inner import y\n"
                    "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import f\n",
        "pkg/f.py": "import numba\nfrom pkg import e\n\n"
                    "def long():\n" + "    x = 1\n" * 130 + "\n"
                    "@numba.njit\ndef kernel():\n" + "    x = 1\n" * 130,
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def test_checkers_see_what_they_forbid(broken: Path):
    bad = boundary_violations(broken, "pkg")
    assert any("a.py:1: imports private _helper from pkg.b" in b for b in bad)
    assert any("a.py:6: uses bee._hidden" in b for b in bad)
    assert any("e.py:1: imports pkg.sub._inner, private to pkg.sub" in b for b in bad)
    assert not any(b.startswith("pkg/sub/d.py") for b in bad)  # inside its package: fine
    assert len(bad) == 3
    cycles = import_cycles(broken, "pkg")
    # a <-> b (module level), d <-> _inner; e -> f only under TYPE_CHECKING: no cycle
    assert sorted(cycles) == [["pkg.a", "pkg.b"], ["pkg.sub._inner", "pkg.sub.d"]]
    assert long_functions(broken, "pkg") == ["pkg/f.py:4 long: 131 lines"]

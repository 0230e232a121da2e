"""Write docs/api.md, the API reference, from the docstrings.

    python docs/make_api.py            # rewrite docs/api.md
    python docs/make_api.py --check    # exit 1 when docs/api.md is out of date

Covers every name in ``gabalance.__all__`` (with the public methods and properties a class
defines itself, e.g. ``SolveResult.plot_gantt``) and the plotting module
``gabalance.plot``: the call signature and the first paragraph of the docstring. The output
depends only on the code, so tests/test_api_doc.py can check the page is current.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

PAGE = Path(__file__).resolve().parent / "api.md"
WIDTH = 92
#: (module, its public names in order of appearance or None for ``__all__``, intro)
MODULES = (
    ("gabalance", "``import gabalance as gb``: the public API."),
    ("gabalance.plot", 'Plots of a result (``pip install "gabalance[plot]"``); the '
                       "``SolveResult.plot_*`` methods call these."),
    ("gabalance.tuning", 'Parameter tuning with Optuna (``pip install "gabalance[tune]"``); '
                         "``gb.tune`` and ``gb.TuneResult`` are these. See tuning.md."),
    ("gabalance.online", "Online balancing: events in, dispatch decisions out. See online.md."),
    ("gabalance.simulate", "Trace replay under online policies. See online.md."),
)

HEADER = """\
# API reference

Generated from the docstrings by `python docs/make_api.py`; do not edit by hand
(`tests/test_api_doc.py` fails when this page and the code disagree). Each entry gives the
call signature and the first paragraph of the docstring; `help(gb.<name>)` shows the rest.
The user guide is [guide.md](guide.md).
"""


class _Shown(str):
    """A default value shown by name (a module's repr would name a path of this machine)."""

    def __repr__(self) -> str:
        return str(self)


def markdown(text: str) -> str:
    """reST roles and double backquotes as Markdown code spans."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text)
    return text.replace("``", "`")


def first_paragraph(obj: Any) -> str:
    """The first paragraph of ``obj``'s own docstring, on one line ('' when none)."""
    doc = obj.__doc__ if isinstance(obj.__doc__, str) else None
    if not doc:
        return ""
    text = inspect.cleandoc(doc).strip()
    return markdown(" ".join(text.split("\n\n", 1)[0].split()))


def _param(p: inspect.Parameter) -> inspect.Parameter:
    p = p.replace(annotation=inspect.Parameter.empty)
    if inspect.ismodule(p.default):
        p = p.replace(default=_Shown(p.default.__name__))
    return p


def signature(name: str, obj: Any) -> str | None:
    """``name(params)`` without annotations, wrapped at WIDTH; None when there is none."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    params = [_param(p) for p in sig.parameters.values()]
    plain = sig.replace(parameters=params, return_annotation=inspect.Signature.empty)
    text = f"{name}{plain}"
    if len(text) <= WIDTH:
        return text
    head, _, rest = text.partition("(")
    lines = textwrap.wrap(rest, WIDTH - 4, break_long_words=False, break_on_hyphens=False)
    return head + "(\n" + "\n".join("    " + line for line in lines)


def _members(cls: type) -> list[tuple[str, Any, str]]:
    """Public methods and properties of ``cls``, its own and those it inherits from the
    package's classes (``GA.ask`` from ``Searcher``): (name, function, kind)."""
    out = []
    seen: set[str] = set()
    own = [k for k in cls.__mro__ if k.__module__.split(".")[0] == "gabalance"]
    for name, raw in ((n, r) for k in own for n, r in vars(k).items()):
        if name.startswith("_") or name in seen:
            continue
        seen.add(name)
        if isinstance(raw, property):
            out.append((name, raw.fget, "property"))
        elif isinstance(raw, classmethod):
            out.append((name, raw.__func__, "classmethod"))
        elif isinstance(raw, staticmethod):
            out.append((name, raw.__func__, "staticmethod"))
        elif inspect.isfunction(raw):
            out.append((name, raw, "method"))
    return out


def _entry(qual: str, name: str, obj: Any) -> list[str]:
    lines = [f"### `{qual}`", ""]
    if inspect.isclass(obj):
        sig = signature(name, obj)
        kind = "exception" if issubclass(obj, BaseException) else "class"
        lines += [f"*{kind}*", ""]
        if sig:
            lines += ["```text", sig, "```", ""]
        doc = first_paragraph(obj)
        if doc and not doc.startswith(f"{name}("):  # dataclasses' generated docstring
            lines += [doc, ""]
        for mname, func, kind in _members(obj):
            if kind == "property":
                head = f"* `{name}.{mname}` (property)"
            else:
                msig = signature(mname, func)
                msig = " ".join((msig or mname).split()).replace("( ", "(")
                if kind in ("method", "classmethod"):  # drop self / cls
                    msig = re.sub(r"\((self|cls)(, |\))", lambda m: "(" + (
                        ")" if m.group(2) == ")" else ""), msig, count=1)
                head = f"* `{name}.{msig}`" + (f" ({kind})" if kind != "method" else "")
            mdoc = first_paragraph(func)
            lines.append(head + (f": {mdoc}" if mdoc else ""))
        if _members(obj):
            lines.append("")
    elif inspect.ismodule(obj):
        lines += ["*module*", "", f"`{obj.__name__}`: " + first_paragraph(obj), ""]
    elif callable(obj):
        sig = signature(name, obj)
        lines += ["*function*", ""]
        if sig:
            lines += ["```text", sig, "```", ""]
        doc = first_paragraph(obj)
        if doc:
            lines += [doc, ""]
    else:
        value = repr(obj)
        if name == "__version__":
            lines += ["*str*: the package version.", ""]
        elif len(value) <= 300:
            lines += [f"*{type(obj).__name__}*", "", "```text", f"{name} = {value}", "```",
                      ""]
        else:
            lines += [f"*{type(obj).__name__}* of {len(obj)} entries.", ""]
    return lines


def render() -> str:
    """The page, as text."""
    out = [HEADER]
    for modname, intro in MODULES:
        mod = importlib.import_module(modname)
        names = list(mod.__all__)
        short = "gb" if modname == "gabalance" else modname
        out += [f"## `{modname}`", "", intro.replace("``", "`"), ""]
        for name in names:
            obj = getattr(mod, name)
            out += _entry(f"{short}.{name}", name, obj)
    text = "\n".join(out).rstrip() + "\n"
    return text


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = PAGE.read_text(encoding="utf-8") if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE.name} is out of date: run python docs/make_api.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text, encoding="utf-8")
    print(f"wrote docs/{PAGE.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

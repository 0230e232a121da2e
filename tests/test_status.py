"""``success`` and ``status``: one rule, documented beside SciPy's (README status table)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import gabalance as gb
from gabalance import examples
from gabalance.result import STATUS, SUCCESS_STATUSES, successful

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_table() -> dict[int, str]:
    text = README.read_text(encoding="utf-8")
    head = text.index("| `status` | `success` (when feasible) | meaning |")
    rows = {}
    for line in text[head:].split("\n")[2:]:
        m = re.match(r"\| (\d+) \| (yes|no) \|", line)
        if not m:
            break
        rows[int(m.group(1))] = m.group(2)
    return rows


def test_readme_status_table_is_the_code_s():
    table = _readme_table()
    assert sorted(table) == sorted(STATUS)
    assert {s for s, ok in table.items() if ok == "yes"} == set(SUCCESS_STATUSES)
    assert "SciPy's `milp` reports\nsuccess only when it proves optimality" in \
        README.read_text(encoding="utf-8")


@pytest.mark.parametrize("kwargs, status", [
    ({"max_generations": 3, "seed": 0}, 1),
    ({"method": "heft"}, 3),
    ({"method": "milp", "params": gb.MILPParams(max_variables=1)}, 6),
    ({"method": "milp"}, 0),
])
def test_success_follows_the_documented_rule(kwargs, status):
    problem = examples.load("scenario")
    res = gb.solve(problem, **kwargs)
    assert res.status == status
    assert res.success == successful(res.status, res.violation)
    assert res.success == (status in SUCCESS_STATUSES)

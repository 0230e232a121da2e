"""Instance readers (gabalance.io): hand-checked tiny fixtures, pinned errors, real data."""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gabalance import Problem, ProblemError
from gabalance.io import (
    DATA_ENV,
    FormatError,
    data_dir,
    gap_reference_values,
    gavel_throughput_table,
    psplib_optima,
    read_gavel,
    read_openb,
    read_orlib_gap,
    read_orlib_gap_one,
    read_psplib,
    read_yagiura_gap,
)

FIX = Path(__file__).parent / "fixtures"
DATA = data_dir()
needs_data = pytest.mark.skipif(DATA is None, reason="benchmark data folder not found")


def _write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _fixture(name: str) -> str:
    return (FIX / name).read_text()


def _critical_path(p: Problem) -> float:
    """Longest path over the dependency DAG with task durations (Kahn's order)."""
    n = p.n_tasks
    succ: list[list[int]] = [[] for _ in range(n)]
    indeg = np.zeros(n, int)
    for a, b in p.edges.tolist():
        succ[a].append(b)
        indeg[b] += 1
    start = np.zeros(n)
    ready = [i for i in range(n) if indeg[i] == 0]
    seen = 0
    while ready:
        i = ready.pop()
        seen += 1
        for s in succ[i]:
            start[s] = max(start[s], start[i] + p.duration[i])
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    assert seen == n
    return float(np.max(start + p.duration))


# --------------------------------------------------------------------------- data_dir


def test_data_dir_argument_env_and_missing(tmp_path, monkeypatch):
    assert data_dir(tmp_path) == tmp_path
    assert data_dir(tmp_path / "absent") is None
    monkeypatch.setenv(DATA_ENV, str(tmp_path))
    assert data_dir() == tmp_path
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "absent"))
    assert data_dir() is None


def test_data_dir_default_is_shared_data_next_to_repo(monkeypatch):
    monkeypatch.delenv(DATA_ENV, raising=False)
    repo = Path(__file__).resolve().parents[1]
    expected = repo.parent / "shared" / "data"
    assert data_dir() == (expected if expected.is_dir() else None)


# --------------------------------------------------------------------------- GAP


def test_orlib_gap_tiny_values():
    probs = read_orlib_gap(FIX / "gap_tiny.txt", sense="min")
    assert [p.name for p in probs] == ["gap_tiny-1", "gap_tiny-2"]
    p, q = probs
    assert p.resources == ("capacity",)
    assert p.node_names == ("agent1", "agent2") and p.task_names == ("job1", "job2", "job3")
    assert p.capacity.tolist() == [[6], [9]]
    assert p.demand.shape == (3, 2, 1) and p.demand.dtype == np.int64
    assert p.demand[:, :, 0].tolist() == [[1, 4], [2, 5], [3, 6]]
    assert p.cost.tolist() == [[5, 8], [6, 9], [7, 10]]
    assert p.objective == "cost" and p.sense == "min"
    assert p.info["format"] == "orlib-gap" and p.info["problem_index"] == 1
    assert p.info["file"] == "gap_tiny.txt"
    assert q.capacity.tolist() == [[5]] and q.cost.tolist() == [[3], [4]]
    assert q.demand[:, :, 0].tolist() == [[2], [5]]
    assert read_orlib_gap_one(FIX / "gap_tiny.txt", 2, sense="max").cost.tolist() == [[3], [4]]


def test_orlib_gap_sense_from_file_name(tmp_path):
    text = _fixture("gap_tiny.txt")
    assert {p.sense for p in read_orlib_gap(_write(tmp_path, "gap12.txt", text))} == {"max"}
    assert {p.sense for p in read_orlib_gap(_write(tmp_path, "gapb.txt", text))} == {"min"}
    assert read_orlib_gap(_write(tmp_path, "gap3", text))[1].name == "gap3-2"
    with pytest.raises(ProblemError, match=r"cannot infer the objective sense.*gap_tiny"):
        read_orlib_gap(FIX / "gap_tiny.txt")
    with pytest.raises(ProblemError, match="cannot infer"):
        read_orlib_gap(_write(tmp_path, "gap13.txt", text))
    with pytest.raises(ProblemError, match="sense must be 'min' or 'max'"):
        read_orlib_gap(FIX / "gap_tiny.txt", sense="minimise")
    with pytest.raises(ProblemError, match=r"holds 2 problems; index 3 is out of range"):
        read_orlib_gap_one(FIX / "gap_tiny.txt", 3, sense="min")


def test_orlib_gap_errors(tmp_path):
    text = _fixture("gap_tiny.txt")
    short = _write(tmp_path, "short.txt", text.rstrip()[:-1])  # drop the last capacity
    with pytest.raises(FormatError, match=re.escape(
            "short.txt: file ends early at line 11: expected 1 capacities b[i] of problem 2 "
            "of 2 (m = 1), found only 0 more token(s)")):
        read_orlib_gap(short, sense="min")
    bad = _write(tmp_path, "bad.txt", text.replace(" 8 9 10", " 8 x9 10"))
    with pytest.raises(FormatError, match=r"bad\.txt line 4: token 'x9' \(in costs c\[i\]\[j\] "
                                          r"of problem 1 of 2 \(m\*n = 2\*3\)\) is not an integer"):
        read_orlib_gap(bad, sense="min")
    frac = _write(tmp_path, "frac.txt", text.replace(" 6 9\n", " 6 9.5\n"))
    with pytest.raises(FormatError, match=r"frac\.txt line 7: token '9\.5'"):
        read_orlib_gap(frac, sense="min")
    extra = _write(tmp_path, "extra.txt", text + " 99 100\n")
    with pytest.raises(FormatError, match=r"extra\.txt line 12: 2 extra token\(s\) after the "
                                          r"last of the 2 problems, starting with '99'"):
        read_orlib_gap(extra, sense="min")
    zero = _write(tmp_path, "zero.txt", " 1\n 0 3\n")
    with pytest.raises(FormatError, match=r"zero\.txt line 2: problem 1 of 1 has m=0 agents"):
        read_orlib_gap(zero, sense="min")
    empty = _write(tmp_path, "empty.txt", "")
    with pytest.raises(FormatError, match=r"empty\.txt: file ends early at the start"):
        read_orlib_gap(empty, sense="min")
    # a job that fits no agent is a model error, located by file and problem
    unfit = _write(tmp_path, "unfit.txt", text.replace(" 6 9\n", " 2 3\n"))
    with pytest.raises(ProblemError, match=r"unfit\.txt \(unfit-1\): task 'job3' fits no node"):
        read_orlib_gap(unfit, sense="min")


def test_yagiura_gap_text_and_zip(tmp_path):
    p = read_yagiura_gap(FIX / "gap_single_tiny.txt")
    q = read_orlib_gap_one(FIX / "gap_tiny.txt", 1, sense="min")
    assert p.name == "gap_single_tiny" and p.sense == "min" and p.info["format"] == "yagiura-gap"
    for field in ("capacity", "demand", "cost"):
        np.testing.assert_array_equal(getattr(p, field), getattr(q, field))
    z = tmp_path / "d0203.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("d0203", _fixture("gap_single_tiny.txt"))
    r = read_yagiura_gap(z, sense="max")
    assert r.name == "d0203" and r.sense == "max"
    np.testing.assert_array_equal(r.cost, q.cost)


def test_yagiura_gap_errors(tmp_path):
    text = _fixture("gap_single_tiny.txt")
    with pytest.raises(FormatError, match=r"extra\.txt line 7: 1 extra token\(s\) after instance "
                                          r"extra, starting with '7'"):
        read_yagiura_gap(_write(tmp_path, "extra.txt", text + "7\n"))
    z = tmp_path / "two.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("a", text)
        zf.writestr("b", text)
    with pytest.raises(FormatError, match=r"two\.zip: a zip instance must hold exactly one file, "
                                          r"found 2"):
        read_yagiura_gap(z)
    with pytest.raises(FormatError, match=r"notzip\.zip: not a valid zip file"):
        read_yagiura_gap(_write(tmp_path, "notzip.zip", text))
    z1 = tmp_path / "cut.zip"
    with zipfile.ZipFile(z1, "w") as zf:
        zf.writestr("cut", text.replace("6 9\n", ""))
    with pytest.raises(FormatError, match=r"cut\.zip:cut: file ends early at line 5: expected 2 "
                                          r"capacities"):
        read_yagiura_gap(z1)


def test_gap_reference_values(tmp_path):
    ref = gap_reference_values(FIX / "gap_reference_tiny.csv")
    assert ref[("gap_single_tiny", "min")] == {
        "best_known_value": 18, "best_bound": 18, "proven_optimal": True}
    assert ref[("gap_single_tiny", "max")]["best_known_value"] == 24
    assert ref[("open_one", "min")] == {
        "best_known_value": None, "best_bound": 10, "proven_optimal": False}
    bad = _write(tmp_path, "ref.csv", _fixture("gap_reference_tiny.csv").replace(",min,", ",mn,"))
    with pytest.raises(FormatError, match=r"ref\.csv line 2: sense must be 'min' or 'max'"):
        gap_reference_values(bad)
    nocol = _write(tmp_path, "nocol.csv", "instance,sense\nx,min\n")
    with pytest.raises(FormatError, match=r"missing column\(s\) best_known_value, best_bound"):
        gap_reference_values(nocol)


# --------------------------------------------------------------------------- PSPLIB


def test_psplib_tiny_values():
    p = read_psplib(FIX / "psplib_tiny.sm")
    assert p.name == "psplib_tiny" and p.objective == "makespan"
    assert p.node_names == ("resource-pool",) and p.resources == ("R1", "R2")
    assert p.capacity.tolist() == [[4, 2]]
    assert p.task_names == ("1", "2", "3", "4", "5")
    assert p.duration.tolist() == [0, 3, 5, 4, 0]
    assert p.demand.tolist() == [[0, 0], [2, 1], [3, 0], [1, 2], [0, 0]]
    assert p.edges.tolist() == [[0, 1], [0, 2], [1, 3], [2, 4], [3, 4]]
    assert p.info["mpm_time"] == 7 and p.info["horizon"] == 12 and p.info["due_date"] == 9
    assert _critical_path(p) == p.info["mpm_time"]
    assert psplib_optima(FIX / "psplib_optimum_tiny.csv") == {"psplib_tiny": 8, "other_1": 12}


def test_psplib_errors(tmp_path):
    text = _fixture("psplib_tiny.sm")

    def bad(old: str, new: str) -> Path:
        assert old in text
        return _write(tmp_path, "bad.sm", text.replace(old, new, 1))

    with pytest.raises(FormatError, match=r"bad\.sm line 19: job 1 declares 2 successors but "
                                          r"lists 1"):
        read_psplib(bad("          2           2   3", "          2           2"))
    with pytest.raises(FormatError, match=r"bad\.sm line 29: token '3\.5' in REQUESTS/DURATIONS "
                                          r"is not an integer"):
        read_psplib(bad("  2      1     3 ", "  2      1     3.5 "))
    with pytest.raises(FormatError, match=r"bad\.sm: REQUESTS/DURATIONS has 4 line\(s\) \(last "
                                          r"at line 31\), expected 5"):
        read_psplib(bad("  5      1     0       0    0\n", ""))
    with pytest.raises(FormatError, match=r"bad\.sm line 28: expected 5 integers"):
        read_psplib(bad("  1      1     0       0    0", "  1      1     0       0"))
    with pytest.raises(FormatError, match=r"bad\.sm line 22: successor 9 of job 4 is not a job "
                                          r"number \(1\.\.5\)"):
        read_psplib(bad("   4        1          1           5",
                        "   4        1          1           9"))
    with pytest.raises(FormatError, match=r"bad\.sm line 20: job 2 has 2 modes"):
        read_psplib(bad("   2        1          1           4", "   2        2          1  4"))
    with pytest.raises(FormatError, match=r"bad\.sm line 10: 1 nonrenewable resource\(s\)"):
        read_psplib(bad(":  0   N", ":  1   N"))
    cut = _write(tmp_path, "cut.sm", text.split("RESOURCEAVAILABILITIES")[0])
    with pytest.raises(FormatError, match=r"cut\.sm: section RESOURCEAVAILABILITIES not found"):
        read_psplib(cut)
    with pytest.raises(FormatError, match=r"bad\.sm line 36: expected 2 resource availabilities, "
                                          r"found 3"):
        read_psplib(bad("    4    2\n", "    4    2    7\n"))
    # a request above the availability is a model error, located by file
    with pytest.raises(ProblemError, match=r"bad\.sm: task '3' fits no node"):
        read_psplib(bad("  3      1     5       3    0", "  3      1     5       5    0"))


# --------------------------------------------------------------------------- openb


def test_openb_tiny_values():
    p = read_openb(FIX / "openb_nodes_tiny.csv", FIX / "openb_pods_tiny.csv", pooled=True)
    assert p.name == "openb_pods_tiny" and p.objective == "max_utilization"
    assert p.resources == ("cpu_milli", "memory_mib", "gpu_milli")
    assert p.node_names == ("node-a", "node-b", "node-c")
    assert p.task_names == ("pod-0", "pod-1", "pod-2", "pod-3")
    assert p.capacity.tolist() == [[32000, 262144, 0], [64000, 524288, 2000],
                                   [96000, 786432, 8000]]
    assert p.demand.tolist() == [[4000, 8192, 0], [6000, 12288, 460], [8000, 16384, 2000],
                                 [16000, 32768, 8000]]
    assert p.node_labels == (frozenset({"cpu_only"}), frozenset({"gpu_model=P100"}),
                             frozenset({"gpu_model=V100M32"}))
    assert p.task_requires == ((), (), (frozenset({"gpu_model=P100", "gpu_model=V100M32"}),),
                               (frozenset({"gpu_model=V100M32"}),))
    assert p.allowed.tolist() == [[True, True, True], [False, True, True],
                                    [False, True, True], [False, False, True]]
    assert p.info["tasks_with_gpu_spec"] == 2 and p.info["total_gpus"] == 10
    assert "aggregate" in p.info["relaxation"] and p.info["gpu_model"] == "pooled relaxation"
    assert not p.has_devices


def test_openb_tiny_devices():
    p = read_openb(FIX / "openb_nodes_tiny.csv", FIX / "openb_pods_tiny.csv")
    assert p.objective == "gpu_allocation" and p.sense == "max"
    assert p.resources == ("cpu_milli", "memory_mib") and "relaxation" not in p.info
    assert p.gpus.tolist() == [0, 2, 8] and p.gpu_milli.tolist() == [0, 460, 2000, 8000]
    assert p.devices_needed.tolist() == [0, 1, 2, 8] and p.may_wait.all()
    # pod-3 needs 8 whole devices: only node-c has them (and the label)
    assert p.allowed.tolist() == [[True, True, True], [False, True, True],
                                    [False, True, True], [False, False, True]]
    back = Problem.from_json(p.to_json())
    assert back == p
    assert not read_openb(FIX / "openb_nodes_tiny.csv", FIX / "openb_pods_tiny.csv",
                          may_wait=False).may_wait.any()


def test_openb_errors(tmp_path):
    nodes = _fixture("openb_nodes_tiny.csv")
    pods = _fixture("openb_pods_tiny.csv")
    n_ok, p_ok = FIX / "openb_nodes_tiny.csv", FIX / "openb_pods_tiny.csv"
    with pytest.raises(FormatError, match=r"n\.csv line 1: missing column\(s\) model"):
        read_openb(_write(tmp_path, "n.csv", nodes.replace(",model", ",kind")), p_ok)
    with pytest.raises(FormatError, match=r"p\.csv line 3: cpu_milli '6000\.5' is not a "
                                          r"non-negative integer"):
        read_openb(n_ok, _write(tmp_path, "p.csv", pods.replace("pod-1,6000,", "pod-1,6000.5,")))
    with pytest.raises(FormatError, match=r"p2\.csv line 4: 12 fields, the header has 11"):
        read_openb(n_ok, _write(tmp_path, "p2.csv", pods.replace(",21\n", ",21,x\n")))
    with pytest.raises(FormatError, match=r"n2\.csv line 3: gpu '-2' is not a non-negative"):
        read_openb(_write(tmp_path, "n2.csv", nodes.replace(",2,P100", ",-2,P100")), p_ok)
    with pytest.raises(ProblemError, match=r"p3\.csv: task 'pod-3' fits no node \(it needs "
                                           r"cpu_milli=16000, memory_mib=32768, gpu_milli=8000 "
                                           r"and labels gpu_model=A10\)"):
        read_openb(n_ok, _write(tmp_path, "p3.csv", pods.replace(",V100M32,Burstable",
                                                                 ",A10,Burstable")))


# --------------------------------------------------------------------------- Gavel


def test_gavel_throughput_table():
    t = gavel_throughput_table(FIX / "gavel_throughputs_tiny.json")
    assert t == {("A", 1): {"k80": 1.0, "v100": 4.0}, ("A", 2): {"k80": 0.0, "v100": 5.0},
                 ("B", 1): {"k80": 2.0, "v100": 8.0}}


def test_gavel_ten_field_trace():
    p = read_gavel(FIX / "gavel_throughputs_tiny.json", FIX / "gavel_tiny10.trace",
                   cluster={"k80": 4, "v100": 4}, gpus_per_node=2)
    assert p.name == "gavel_tiny10" and p.objective == "weighted_completion"
    assert p.node_names == ("k80-0", "k80-1", "v100-0", "v100-1")
    assert p.node_labels == (frozenset({"gpu=k80"}),) * 2 + (frozenset({"gpu=v100"}),) * 2
    assert p.resources == ("gpu",) and p.capacity.tolist() == [[2]] * 4
    assert p.task_names == ("job0", "job1", "job2")
    assert p.demand.tolist() == [[1], [2], [1]]
    inf = math.inf
    assert p.runtime.tolist() == [[100, 100, 25, 25], [inf, inf, 10, 10], [40, 40, 10, 10]]
    assert p.duration.tolist() == [25, 10, 10]
    assert p.weight.tolist() == [2, 1, 1] and p.release.tolist() == [0, 5.5, 7]
    assert p.info["format"] == "gavel-trace-10" and p.info["job_types"] == ["A", "A", "B"]
    q = read_gavel(FIX / "gavel_throughputs_tiny.json", FIX / "gavel_tiny10.trace",
                   cluster={"v100_unconsolidated": 2}, gpus_per_node=2, oversize="drop")
    assert q.task_names == ("job1",) and q.runtime.tolist() == [[20.0]]
    assert q.info["dropped_no_throughput"] == 2
    r = read_gavel(FIX / "gavel_throughputs_tiny.json", FIX / "gavel_tiny10.trace",
                   cluster={"v100": 8}, gpus_per_node=4, limit=2)
    assert r.task_names == ("job0", "job1") and r.n_nodes == 2


def test_gavel_seven_field_trace_and_oversize():
    thr, trace = FIX / "gavel_throughputs_tiny.json", FIX / "gavel_tiny7.trace"
    with pytest.raises(FormatError, match=r"gavel_tiny7\.trace line 2: job 1 \(B\) needs "
                                          r"scale_factor=4 GPUs but a server has "
                                          r"gpus_per_node=2; pass oversize='drop'"):
        read_gavel(thr, trace, cluster={"k80": 2, "v100": 2}, gpus_per_node=2)
    p = read_gavel(thr, trace, cluster={"k80": 2, "v100": 2}, gpus_per_node=2, oversize="drop")
    assert p.task_names == ("job0", "job2")
    assert p.demand.tolist() == [[1], [2]]
    assert p.runtime.tolist() == [[100, 25], [math.inf, 12]]
    assert p.release.tolist() == [0, 4] and p.weight.tolist() == [1, 1]
    assert p.info["format"] == "gavel-trace-7" and p.info["jobs_read"] == 4
    assert p.info["dropped_oversize"] == 1 and p.info["dropped_no_throughput"] == 1
    assert p.info["trace_lines"] == [1, 3]
    with pytest.raises(FormatError, match=r"gavel_tiny7\.trace line 2: job 1 \(B, "
                                          r"scale_factor=4\) has no positive measured throughput "
                                          r"on any worker type of the cluster \(k80, v100\)"):
        read_gavel(thr, trace, cluster={"k80": 4, "v100": 4}, gpus_per_node=4)


def test_gavel_errors(tmp_path):
    thr = FIX / "gavel_throughputs_tiny.json"
    ten = _fixture("gavel_tiny10.trace")
    with pytest.raises(FormatError, match=r"t\.trace line 2: 9 tab-separated fields"):
        read_gavel(thr, _write(tmp_path, "t.trace", ten.replace("\t5.5\n", "\n")),
                   cluster={"v100": 4})
    with pytest.raises(FormatError, match=r"t2\.trace line 3: total_steps '8O' is not an "
                                          r"integer"):
        read_gavel(thr, _write(tmp_path, "t2.trace", ten.replace("\t80\t", "\t8O\t")),
                   cluster={"v100": 4})
    with pytest.raises(FormatError, match=r"t3\.trace line 2: 7 fields, but earlier lines have "
                                          r"10"):
        read_gavel(thr, _write(tmp_path, "t3.trace", ten.split("\n")[0] + "\n"
                               + _fixture("gavel_tiny7.trace")), cluster={"v100": 4})
    with pytest.raises(FormatError, match=r"t4\.trace line 1: priority_weight 0\.0 must be > 0"):
        read_gavel(thr, _write(tmp_path, "t4.trace", ten.replace("\t2\t-1", "\t0\t-1")),
                   cluster={"v100": 4})
    with pytest.raises(ProblemError, match=r"cluster names worker type .p100., which .*"
                                           r"gavel_throughputs_tiny\.json does not have"):
        read_gavel(thr, FIX / "gavel_tiny10.trace", cluster={"p100": 4})
    with pytest.raises(ProblemError, match=r"cluster\['v100'\] = 6 GPUs is not a non-negative "
                                           r"multiple of gpus_per_node=4"):
        read_gavel(thr, FIX / "gavel_tiny10.trace", cluster={"v100": 6})
    with pytest.raises(ProblemError, match="oversize must be 'error' or 'drop'"):
        read_gavel(thr, FIX / "gavel_tiny10.trace", oversize="skip")
    bad_json = _write(tmp_path, "thr.json", '{"k80": {"A, 1": {"null": 1.0}}}')
    with pytest.raises(FormatError, match=r"thr\.json: worker type 'k80': key 'A, 1' is not a"):
        gavel_throughput_table(bad_json)
    bad_json = _write(tmp_path, "thr2.json", '{"k80": {"(\'A\', 1)": {"null": -1}}}')
    with pytest.raises(FormatError, match=r"isolated throughput 'null' must be a number >= 0"):
        gavel_throughput_table(bad_json)


# --------------------------------------------------------------------------- real data


_GAP_SIZES = {
    **{f"gap{k}": (m, n) for k, (m, n) in enumerate(
        [(5, 15), (5, 20), (5, 25), (5, 30), (8, 24), (8, 32), (8, 40), (8, 48),
         (10, 30), (10, 40), (10, 50), (10, 60)], 1)},
}
_LARGE_SIZES = [(5, 100), (5, 200), (10, 100), (10, 200), (20, 100), (20, 200)]


@pytest.fixture(scope="module")
def orlib() -> dict[str, list[Problem]]:
    folder = DATA / "gap_orlib"
    names = [f"gap{k}" for k in range(1, 13)] + [f"gap{c}" for c in "abcd"]
    return {n: read_orlib_gap(folder / f"{n}.txt") for n in names}


@pytest.mark.data
@needs_data
def test_data_orlib_gap_all_problems(orlib):
    small = [p for k in range(1, 13) for p in orlib[f"gap{k}"]]
    large = [p for c in "abcd" for p in orlib[f"gap{c}"]]
    assert len(small) == 60 and len(large) == 24
    for k in range(1, 13):
        m, n = _GAP_SIZES[f"gap{k}"]
        assert [(p.n_nodes, p.n_tasks, p.sense) for p in orlib[f"gap{k}"]] == [(m, n, "max")] * 5
    for c in "abcd":
        assert [(p.n_nodes, p.n_tasks) for p in orlib[f"gap{c}"]] == _LARGE_SIZES
        assert {p.sense for p in orlib[f"gap{c}"]} == {"min"}
    assert orlib["gapd"][5].name == "gapd-6"


@pytest.mark.data
@needs_data
def test_data_yagiura_gap_matches_orlib(orlib):
    folder = DATA / "gap_yagiura" / "AssignmentProblems.jl" / "data"
    zips = sorted(folder.glob("*.zip"))
    assert len(zips) == 93
    by_size = {(p.n_nodes, p.n_tasks, p.info["problem_index"]): p
               for k in range(1, 13) for p in orlib[f"gap{k}"]}
    matched = 0
    for z in zips:
        y = read_yagiura_gap(z)
        assert y.name == z.stem
        m_small = re.fullmatch(r"c(\d\d)(\d+)_(\d)", y.name)
        m_large = re.fullmatch(r"([abcd])(\d\d)(\d+)", y.name)
        if m_small:
            o = by_size[(int(m_small[1]), int(m_small[2]), int(m_small[3]))]
        elif m_large and (int(m_large[2]), int(m_large[3])) in _LARGE_SIZES:
            o = orlib[f"gap{m_large[1]}"][_LARGE_SIZES.index((int(m_large[2]),
                                                               int(m_large[3])))]
        else:
            continue
        matched += 1
        for field in ("capacity", "demand", "cost"):
            np.testing.assert_array_equal(getattr(y, field), getattr(o, field), err_msg=y.name)
    assert matched == 84
    ref = gap_reference_values(DATA / "gap_yagiura" / "DERIVED_gap_reference_values.csv")
    assert len(ref) == 186 and {z.stem for z in zips} == {i for i, _ in ref}
    assert ref[("c0515_1", "max")]["best_known_value"] == 336
    assert ref[("d20200", "min")]["proven_optimal"] is False


@pytest.mark.data
@needs_data
def test_data_psplib_j30_critical_paths():
    files = sorted((DATA / "psplib_j30" / "j30").glob("*.sm"))
    assert len(files) == 336
    optima = psplib_optima(DATA / "psplib_j30" / "optimum" / "optimum.csv")
    assert len(optima) == 336
    for f in files:
        p = read_psplib(f)
        assert p.n_tasks == 32 and p.n_nodes == 1 and p.resources == ("R1", "R2", "R3", "R4")
        assert p.duration[0] == 0 and p.duration[-1] == 0
        assert _critical_path(p) == p.info["mpm_time"], p.name
        assert optima[p.name] >= p.info["mpm_time"], p.name


@pytest.mark.data
@needs_data
def test_data_openb_default():
    folder = DATA / "alibaba_gpu_v2023_openb" / "csv"
    p = read_openb(folder / "openb_node_list_all_node.csv", folder / "openb_pod_list_default.csv",
                   pooled=True)
    assert (p.n_nodes, p.n_tasks) == (1523, 8152)
    assert int(p.capacity[:, 2].sum()) == 6212 * 1000
    d = read_openb(folder / "openb_node_list_all_node.csv", folder / "openb_pod_list_default.csv")
    assert int(d.gpus.sum()) == 6212 and int(d.devices_needed.max()) == 8
    assert p.info["gpu_models"]["cpu_only"] == 310
    assert p.info["tasks_by_num_gpu"] == {"0": 1088, "1": 6989, "2": 16, "4": 15, "8": 44}


@pytest.mark.data
@needs_data
def test_data_gavel_traces():
    root = DATA / "gavel_throughputs" / "scheduler"
    thr = root / "simulation_throughputs.json"
    table = gavel_throughput_table(thr)
    assert len(table) == 83 and all(set(v) == {"k80", "p100", "v100"} for v in table.values())
    total = 0
    for trace in sorted((root / "traces" / "physical_cluster").glob("*.trace")):
        p = read_gavel(thr, trace)  # default cluster: 9 four-GPU servers per worker type
        assert p.n_nodes == 27 and p.node_names[9] == "p100-0"
        assert p.info["format"] == "gavel-trace-10" and p.info["dropped_oversize"] == 0
        total += p.n_tasks
    assert total == 287
    msr = root / "traces" / "msr" / "seed=0" / "11cb48.trace"
    with pytest.raises(FormatError, match="pass oversize='drop'"):
        read_gavel(thr, msr)
    p = read_gavel(thr, msr, oversize="drop")
    assert p.info["format"] == "gavel-trace-7" and p.info["jobs_read"] == 2000
    dropped = p.info["dropped_oversize"] + p.info["dropped_no_throughput"]
    assert p.n_tasks == 2000 - dropped and p.info["dropped_oversize"] > 0
    assert np.all(p.release[1:] >= p.release[:-1])
    assert np.all(np.isfinite(p.duration)) and np.all(p.duration > 0)

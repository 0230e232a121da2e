"""Problem construction, validation messages (each pinned) and the JSON round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

import gabalance as gb
from gabalance import Dependency, Node, Problem, ProblemError, Task


def small(**kw):
    args = dict(capacity=[[4, 2], [8, 0]], demand=[[2, 1], [1, 0], [3, 0]],
                resources=["cpu", "gpu"], task_names=["a", "b", "c"], node_names=["g", "c"])
    args.update(kw)
    cap, dem = args.pop("capacity"), args.pop("demand")
    return Problem(cap, dem, **args)


def test_arrays_and_defaults():
    p = small(edges=[[0, 1], [1, 2]])
    assert (p.n_tasks, p.n_nodes, p.n_resources, p.n_edges) == (3, 2, 2, 2)
    assert p.capacity.dtype == np.int64 and p.demand.dtype == np.int64
    np.testing.assert_array_equal(p.speed, [1, 1])
    np.testing.assert_array_equal(p.duration, [1, 1, 1])
    np.testing.assert_array_equal(p.data, [0, 0])
    assert p.bandwidth == math.inf
    np.testing.assert_array_equal(p.allowed, [[True, False], [True, True], [True, True]])
    np.testing.assert_array_equal(p.allowed_nodes(0), [0])
    assert p.runtime_of(0, 1) == 1.0
    assert [list(v) for v in p.predecessors] == [[], [0], [1]]


def test_immutable():
    p = small()
    with pytest.raises(ValueError):
        p.capacity[0, 0] = 7
    with pytest.raises(AttributeError, match="immutable"):
        p.capacity = None


def test_mixed_dtypes_become_float():
    p = small(capacity=[[4.5, 2], [8, 0]])
    assert p.capacity.dtype == np.float64 and p.demand.dtype == np.float64


def test_per_node_demand_and_runtime():
    dem = np.ones((3, 2, 1), int)
    dem[2, 0, 0] = 5  # task c does not fit node g
    p = Problem([[4], [4]], dem, runtime=[[1, np.inf], [2, 3], [1, 1]])
    assert p.per_node_demand
    np.testing.assert_array_equal(p.allowed, [[True, False], [True, True], [False, True]])
    assert p.runtime_of(1, 1) == 3


@pytest.mark.parametrize("kw, message", [
    (dict(capacity=[[4, 2], [-8, 0]]), r"capacity of node 'c' for 'cpu' is negative \(-8\)"),
    (dict(capacity=[[4, 2], [np.nan, 0]]), r"capacity of node 'c' for 'cpu' is NaN"),
    (dict(capacity=[[4, 2], [np.inf, 0]]), r"capacity of node 'c' for 'cpu' is infinite"),
    (dict(demand=[[2, 1], [1, -1], [3, 0]]), r"demand of task 'b' for 'gpu' is negative"),
    (dict(demand=[[2, 1], [1, np.nan], [3, 0]]), r"demand of task 'b' for 'gpu' is NaN"),
    (dict(speed=[1, 0]), r"speed of node 'c' must be > 0 \(0\.0\)"),
    (dict(duration=[1, -2, 1]), r"duration of task 'b' is negative"),
    (dict(duration=[1, np.nan, 1]), r"duration of task 'b' is NaN"),
    (dict(weight=[1, 0, 1]), r"weight of task 'b' must be > 0"),
    (dict(release=[1, -1, 1]), r"release of task 'b' is negative"),
    (dict(runtime=[[1, 1], [1, -1], [1, 1]]), r"runtime of task 'b' on node 'c' is negative"),
    (dict(runtime=[[1, 1], [1, np.nan], [1, 1]]), r"runtime of task 'b' on node 'c' is NaN"),
    (dict(cost=[[1, 1], [1, -1], [1, 1]]), r"cost of task 'b' on node 'c' is negative"),
    (dict(edges=[[0, 1]], data=[-3]), r"data of dependency 0 is negative"),
    (dict(bandwidth=0), r"bandwidth must be > 0"),
    (dict(bandwidth=[[1, 0], [1, 1]]), r"bandwidth from node 'g' to 'c' must be > 0"),
    (dict(bandwidth=[[1, 1, 1]]), r"bandwidth must be a number or have shape \(2, 2\)"),
    (dict(capacity=[[], []], demand=[[], [], []], resources=[]), None),
    (dict(capacity=np.zeros((0, 2)), node_names=[]), r"the problem has no nodes"),
    (dict(demand=np.zeros((0, 2)), task_names=[]), r"the problem has no tasks"),
    (dict(capacity=[4, 2]), r"capacity must have shape \(M, K\), got shape \(2,\)"),
    (dict(demand=[[1], [1], [1]]), r"demand has shape \(3, 1\), expected \(3, 2\) or \(3, 2, 2\)"),
    (dict(demand=[1, 1]), r"demand must have shape \(N, K\) or \(N, M, K\)"),
    (dict(speed=[1, 1, 1]), r"speed must have shape \(2,\) \(one per node\), got shape \(3,\)"),
    (dict(duration=[1]), r"duration must have shape \(3,\) \(one per task\)"),
    (dict(runtime=[[1, 1]]), r"runtime must have shape \(3, 2\) \(tasks x nodes\)"),
    (dict(cost=np.ones((2, 3))), r"cost must have shape \(3, 2\)"),
    (dict(edges=[[0, 1, 2]]), r"edges must have shape \(E, 2\), got shape \(1, 3\)"),
    (dict(edges=[[0, 1]], data=[1, 2]), r"data must have shape \(1,\) \(one per edge\)"),
    (dict(edges=[[0, 7]]), r"dependency 0 refers to task index 7, but there are 3 tasks"),
    (dict(edges=[[0.5, 1]]), r"edges must hold integer task indices"),
    (dict(edges=[[0, 1], [1, 2], [2, 0]]), r"dependency cycle: a -> b -> c -> a"),
    (dict(edges=[[1, 1]]), r"dependency cycle: b -> b"),
    (dict(resources=["cpu"]), r"resources has 1 names but capacity has 2 columns"),
    (dict(resources=["cpu", "cpu"]), r"duplicate resource name 'cpu'"),
    (dict(task_names=["a", "a", "c"]), r"duplicate task name 'a'"),
    (dict(node_names=["g"]), r"node_names has 1 names but there are 2 nodes"),
    (dict(task_names=["a"]), r"task_names has 1 names but there are 3 tasks"),
    (dict(demand=[[2, 1], [1, 0], [9, 0]]), r"task 'c' fits no node \(it needs cpu=9, gpu=0\)"),
    (dict(demand=[[2, 3], [1, 0], [3, 0]]), r"task 'a' fits no node \(it needs cpu=2, gpu=3\)"),
    (dict(runtime=[[1, 1], [np.inf, np.inf], [1, 1]]), r"task 'b' fits no node"),
    (dict(task_requires=[["x"], [], []]), r"task 'a' fits no node \(it needs cpu=2, gpu=1 and "
                                          r"labels x\)"),
    (dict(node_labels=[["x"]]), r"node_labels has 1 entries but there are 2 nodes"),
    (dict(task_requires=[[]]), r"task_requires has 1 entries but there are 3 tasks"),
    (dict(task_requires=[[[]], [], []]), r"requires of task 'a' holds an empty list"),
    (dict(objective="speed"), r"unknown objective 'speed' \(choose from cost, max_utilization"),
    (dict(objective="makespan", sense="max"), r"objective 'makespan' can only be minimised"),
    (dict(sense="up"), r"sense must be 'min' or 'max', got 'up'"),
    (dict(capacity=[["a", "b"], ["c", "d"]]), r"capacity must be numeric"),
    (dict(capacity=[[True, False], [True, True]]), r"capacity must be numeric, got dtype bool"),
    (dict(info={"x": {1, 2}}), r"info must be JSON-serialisable"),
])
def test_validation_messages(kw, message):
    if message is None:  # zero resources is allowed: nodes without capacity limits
        assert small(**kw).n_resources == 0
        return
    with pytest.raises(ProblemError, match=message):
        small(**kw)


def test_labels_any_of():
    p = small(node_labels=[["gpu", "v100"], ["cpu"]],
              task_requires=[["gpu"], [["cpu", "v100"]], []])
    np.testing.assert_array_equal(p.allowed, [[True, False], [True, True], [True, True]])
    assert p.task_requires[1] == (frozenset({"cpu", "v100"}),)


SCENARIO = dict(
    nodes=[{"name": "cpu-1", "capacity": {"cpu": 4, "gpu": 0}, "labels": ["cpu"]},
           {"name": "gpu-1", "capacity": {"cpu": 8, "gpu": 2}, "speed": 2.0, "labels": ["gpu"]}],
    tasks=[{"name": "T1", "demand": {"cpu": 2, "gpu": 1}, "duration": 4, "requires": ["gpu"]},
           {"name": "T2", "demand": {"cpu": 1}, "duration": 2, "release": 1, "weight": 3},
           {"name": "T3", "demand": [1, 0], "runtime": {"cpu-1": 5}, "after": ["T1"]}],
    dependencies=[{"pred": "T2", "succ": "T1", "data": 10}],
)


def test_from_dicts():
    p = Problem.from_dicts(**SCENARIO, bandwidth=5, objective="makespan")
    assert p.resources == ("cpu", "gpu")
    assert p.task_names == ("T1", "T2", "T3")
    np.testing.assert_array_equal(p.demand, [[2, 1], [1, 0], [1, 0]])
    np.testing.assert_array_equal(p.runtime, [[4, 2], [2, 1], [5, np.inf]])
    np.testing.assert_array_equal(p.edges, [[0, 2], [1, 0]])
    np.testing.assert_array_equal(p.data, [0, 10])
    np.testing.assert_array_equal(p.allowed, [[False, True], [True, True], [True, False]])
    assert p.weight[1] == 3 and p.release[1] == 1


def test_from_dataclasses_equals_dicts():
    a = Problem.from_dicts(
        [Node("n1", {"cpu": 2}), Node("n2", {"cpu": 4}, speed=2, labels=["x"])],
        [Task("t1", {"cpu": 1}, duration=3), Task("t2", {"cpu": 2}, requires=["x"])],
        [Dependency("t1", "t2", 4.0)])
    b = Problem.from_dicts(
        [{"name": "n1", "capacity": {"cpu": 2}},
         {"name": "n2", "capacity": {"cpu": 4}, "speed": 2, "labels": ["x"]}],
        [{"name": "t1", "demand": {"cpu": 1}, "duration": 3},
         {"name": "t2", "demand": {"cpu": 2}, "requires": "x"}],
        [("t1", "t2", 4.0)])
    assert a == b


@pytest.mark.parametrize("change, message", [
    (lambda d: d["tasks"][0].update(durations=3),
     r"unknown field 'durations' in task 0 \(allowed: name, demand"),
    (lambda d: d["nodes"][0].update(cores=3), r"unknown field 'cores' in node 0"),
    (lambda d: d["tasks"][0].update(demand={"tpu": 1}),
     r"demand of task 'T1' names unknown resource 'tpu' \(resources: cpu, gpu\)"),
    (lambda d: d["tasks"][2].update(runtime={"gpu-9": 1}),
     r"runtime of task 'T3' names unknown node 'gpu-9'"),
    (lambda d: d["dependencies"].append({"pred": "T2", "succ": "T9"}),
     r"dependency 1 names unknown task 'T9'"),
    (lambda d: d["dependencies"].append({"pred": "T2", "succ": "T1", "size": 1}),
     r"unknown field 'size' in dependency 1"),
    (lambda d: d["tasks"][2].update(after=["T0"]), r"'after' of task 'T3' names unknown task 'T0'"),
    (lambda d: d["tasks"][1].update(name="T1"), r"duplicate task name 'T1'"),
    (lambda d: d["nodes"][1].update(capacity=[1, 2, 3]),
     r"capacity of node 'gpu-1' has 3 values, expected 2"),
    (lambda d: d["tasks"][0].update(duration="long"),
     r"duration of task 'T1' must be a number, got 'long'"),
    (lambda d: d["tasks"][1].update(demand_by_node={"cpu-1": {"cpu": 1}, "gpu-1": {"cpu": 1}}),
     r"either every task gives 'demand_by_node' or none does"),
    (lambda d: d["tasks"][0].update(cost={"cpu-1": 1, "gpu-1": 2}),
     r"task 'T2' has no 'cost' while others do"),
    (lambda d: d["tasks"].append({"demand": {}}), r"task 3 needs a 'name'"),
    (lambda d: d["nodes"].append({"name": "x"}), r"node 2 needs a 'name' and a 'capacity'"),
    (lambda d: d["dependencies"].append(("T2",)), r"dependency 1 must be \(pred, succ\)"),
])
def test_from_dicts_messages(change, message):
    doc = json.loads(json.dumps(SCENARIO))
    change(doc)
    with pytest.raises(ProblemError, match=message):
        Problem.from_dicts(**doc)


def test_json_round_trip(tmp_path):
    p = Problem.from_dicts(**SCENARIO, bandwidth=5, objective="weighted_completion",
                           name="demo", info={"source": "test"})
    text = p.to_json(tmp_path / "p.json")
    assert json.loads(text)["version"] == 1
    q = Problem.from_json(tmp_path / "p.json")
    assert q == p
    assert Problem.from_json(text) == p


def test_json_round_trip_arrays():
    rng = np.random.default_rng(3)
    p = Problem(rng.integers(5, 9, (3, 2)), rng.integers(0, 4, (4, 3, 2)),
                cost=rng.random((4, 3)), runtime=np.where(rng.random((4, 3)) < 0.3, np.inf, 2.5),
                weight=[1, 2, 3, 4], release=[0, 0, 1.5, 2], edges=[[0, 1], [2, 3]],
                data=[1.0, 0.0], bandwidth=np.full((3, 3), 2.0), objective="cost", sense="max",
                node_labels=[["a"], ["a", "b"], []], task_requires=[["a"], [["a", "b"]], [], []])
    assert Problem.from_json(p.to_json()) == p


@pytest.mark.parametrize("doc, message", [
    ({"format": "gabalance-problem", "version": 2, "resources": [], "nodes": [], "tasks": []},
     r"unsupported problem document version 2 \(this gabalance reads version 1\)"),
    ({"format": "other", "version": 1}, r"not a gabalance problem document"),
    ({"format": "gabalance-problem", "version": 1, "resources": [], "nodes": [], "tasks": [],
      "extra": 1}, r"unknown field 'extra' in problem document"),
    ({"format": "gabalance-problem", "version": 1, "nodes": []},
     r"lacks the required field 'resources'"),
    ([1, 2], r"a problem document must be a JSON object"),
])
def test_json_errors(doc, message):
    with pytest.raises(ProblemError, match=message):
        Problem.from_json(json.dumps(doc))


def test_json_invalid_text():
    with pytest.raises(ProblemError, match="invalid JSON"):
        Problem.from_json("{not json")


def test_replace_and_repr():
    p = small(objective="cost")
    q = p.replace(sense="max")
    assert q.sense == "max" and p.sense == "min"
    assert "3 tasks, 2 nodes" in repr(p)
    assert gb.mode_of("makespan") == "schedule" and p.mode == "placement"


def test_runtime_filled_from_numpy_speed():
    p = Problem.from_dicts(
        [{"name": "a", "capacity": {"c": 1}, "speed": np.int64(2)}],
        [{"name": "x", "duration": 4}, {"name": "y", "runtime": {"a": 1.5}}])
    np.testing.assert_array_equal(p.runtime, [[2.0], [1.5]])


# --------------------------------------------------------------------------- review findings


@pytest.mark.parametrize("make, message", [
    (lambda: Problem([[1]], [[1]], node_labels=[["a"], ["b"]]),
     r"node_labels has 2 entries but there are 1 nodes"),
    (lambda: Problem([[1]], [[1]], node_labels=5), r"node_labels must be a list, got int"),
    (lambda: Problem([[1]], [[1]], task_requires=[[], []]),
     r"task_requires has 2 entries but there are 1 tasks"),
    (lambda: Problem([[1]], [[1]], resources="c"), r"resources must be a list, got str"),
    (lambda: Problem([[1]], [[1]], task_requires=[{"a": 1}]),
     r"requires of task 't0' must be a list of labels"),
    (lambda: Problem(np.array([[2**64 - 1]], np.uint64), [[1]]),
     r"integer capacity of node 'n0' for 'r0' is too large for int64 "
     r"\(18446744073709551615, over 2\*\*63 - 1\); pass floats"),
    (lambda: Problem([[2**62]], [[1]]), r"integer demand or capacity for 'r0' is too large"),
    (lambda: Problem([[2**62 - 1]], [[2**61]] * 3), r"too large to sum exactly in int64"),
    (lambda: Problem([[1]], [[0], [0]], cost=[[2**62], [2**62]]),
     r"integer costs are too large to sum exactly"),
    (lambda: Problem([[1]], [[1]], duration=[1e308], speed=[0.5]),
     r"runtime of task 't0' on node 'n0' overflows \(duration / speed is infinite\)"),
    (lambda: Problem([[1]], [[1], [1]], edges=np.zeros((3, 0))),
     r"edges must have shape \(E, 2\), got shape \(3, 0\)"),
    (lambda: Problem([[1]], [[1], [1]], edges=[[0, 1e30]]),
     r"dependency 0 refers to task index 1e\+30, but there are 2 tasks"),
    (lambda: Problem([[1]], [[1]], info=[1]), r"info must be a mapping \(a JSON object\)"),
])
def test_more_bad_input(make, message):
    with pytest.raises(ProblemError, match=message):
        make()


@pytest.mark.parametrize("doc_change, message", [
    (lambda d: d.update(nodes=None), r"nodes must be a list, got NoneType"),
    (lambda d: d.update(tasks=None), r"tasks must be a list, got NoneType"),
    (lambda d: d.update(dependencies=None), r"dependencies must be a list, got NoneType"),
    (lambda d: d["nodes"][0].update(capacity=None),
     r"capacity of node 'cpu-1' must be a mapping resource -> amount, got None"),
    (lambda d: d["nodes"][1].update(capacity=None),
     r"capacity of node 'gpu-1' \(a mapping resource -> amount, or a list\) must be a list"),
    (lambda d: d["tasks"][0].update(demand=1), r"demand of task 'T1' .* must be a list, got int"),
    (lambda d: d.update(bandwidth=[1, 2]), r"bandwidth must be a number or an 2 x 2 list"),
    (lambda d: d.update(bandwidth=[[1, "x"], [1, 1]]), r"bandwidth\[0\]\[1\] must be a number"),
    (lambda d: d["dependencies"].append([["T1"], "T2"]), r"dependency 1 names unknown task"),
    (lambda d: d.update(info="abc"), r"info must be a mapping"),
    (lambda d: d["tasks"][0].update(duration=None), r"duration of task 'T1' must be a number, "
                                                    r"got None"),
    (lambda d: d["nodes"][0].update(name=None), r"node 0 needs a non-empty name, got None"),
])
def test_more_bad_plain_input(doc_change, message):
    doc = json.loads(json.dumps(SCENARIO))
    doc_change(doc)
    with pytest.raises(ProblemError, match=message):
        Problem.from_dicts(**doc)


def test_plain_input_conveniences():
    p = Problem.from_dicts(
        [{"name": 1, "capacity": {"c": 2}}],
        [{"name": 1, "demand": {"c": 1}}, {"name": 2, "after": [1]}, {"name": 3, "after": "2"}],
        [(1, 3)])
    assert p.task_names == ("1", "2", "3") and p.node_names == ("1",)
    np.testing.assert_array_equal(p.edges, [[0, 1], [1, 2], [0, 2]])
    q = Problem([[1]], [[1]], info={1: (2, 3)})
    assert q.info == {"1": [2, 3]}
    assert Problem.from_json(q.to_json()) == q


@pytest.mark.parametrize("doc_change, message", [
    (lambda d: d["nodes"].__setitem__(0, ["cpu-1"]),
     r"node 0 must be a mapping or a dataclass, got list"),
    (lambda d: d["nodes"][0].update(capacity=[4, 0]),
     r"resources must be given when capacities are lists"),
    (lambda d: d["tasks"][2].update(runtime=[5]), r"runtime of task 'T3' must map node names"),
    (lambda d: [t.update(demand_by_node={"cpu-1": {"cpu": 1}, "gpu-1": {"cpu": 1}})
                for t in d["tasks"]],
     r"task 'T1' gives both 'demand' and 'demand_by_node'"),
    (lambda d: [t.update(demand=None, demand_by_node={"cpu-1": {"cpu": 1}})
                for t in d["tasks"]],
     r"demand_by_node of task 'T1' lacks node 'gpu-1'"),
    (lambda d: [t.update(cost={"cpu-1": 1}) for t in d["tasks"]],
     r"cost of task 'T1' lacks node 'gpu-1'"),
    (lambda d: d["dependencies"].append({"pred": "T1"}), r"dependency 1 needs 'pred' and 'succ'"),
    (lambda d: d["nodes"][0].update(labels=[1, 2]), r"labels of node 'cpu-1' must be a list of "
                                                    r"strings"),
    (lambda d: d["nodes"][0].update(labels=3), r"labels of node 'cpu-1' must be a list of "
                                               r"strings"),
    (lambda d: d["tasks"][0].update(requires=[[]]),
     r"requires of task 'T1' holds an empty list of alternatives"),
])
def test_from_dicts_structure_messages(doc_change, message):
    doc = json.loads(json.dumps(SCENARIO))
    doc_change(doc)
    with pytest.raises(ProblemError, match=message):
        Problem.from_dicts(**doc)


def test_ragged_arrays_are_reported():
    with pytest.raises(ProblemError, match=r"demand is not a rectangular numeric array"):
        Problem([[1]], [[1], [1, 2]])


def test_deeply_nested_json_is_a_named_error(tmp_path):
    """A 200,000-level nesting ends in a ProblemError (exit 2 from the CLI), not a
    RecursionError traceback."""
    path = tmp_path / "deep.json"
    path.write_text('{"nodes": ' + "[" * 200_000 + "]" * 200_000 + "}")
    with pytest.raises(ProblemError, match="nested too deeply"):
        Problem.from_json(path)
    from gabalance.cli import main

    assert main(["show", str(path)]) == 2


# --------------------------------------------------------------------------- integers beyond int64

_TOO_LARGE = r"is too large for int64 \({}, over 2\*\*63 - 1\)"


@pytest.mark.parametrize("make, message", [
    # numpy makes these floats (mixed with a float or a negative, or beyond uint64): the
    # demand 2**63 + 1000 then "fits" the capacity 2**63 + 1
    (lambda: Problem([[2**63 + 1, 1.5]], [[2**63 + 1000, 0]]),
     r"integer capacity of node 'n0' for 'r0' " + _TOO_LARGE.format(2**63 + 1) + "; pass floats"),
    (lambda: Problem([[2**64 + 1]], [[1]]),
     r"integer capacity of node 'n0' for 'r0' " + _TOO_LARGE.format(2**64 + 1)),
    (lambda: Problem([[2**2000]], [[1]]),
     r"integer capacity of node 'n0' for 'r0' " + _TOO_LARGE.format("a 2001-bit integer")),
    (lambda: Problem([[10, 1]], [[-2**70, 0]]),
     r"integer demand of task 't0' for 'r0' is too small for int64 \(-1180591620717411303424, "
     r"under -2\*\*63\); pass floats"),
    (lambda: Problem([[5], [5]], [[[1], [2**64]]]),
     r"integer demand of task 't0' on node 'n1' for 'r0' " + _TOO_LARGE.format(2**64)),
    (lambda: Problem([[5]], [[1]], speed=[2**64]), r"integer speed of node 'n0' is too large"),
    (lambda: Problem([[5]], [[1]], duration=[2**64]),
     r"integer duration of task 't0' is too large"),
    (lambda: Problem([[5]], [[1]], runtime=[[2**64]]),
     r"integer runtime of task 't0' on node 'n0' is too large"),
    (lambda: Problem([[5]], [[1], [1]], cost=[[1.5], [2**64]]),
     r"integer cost of task 't1' on node 'n0' is too large"),
    (lambda: Problem([[5]], [[1]], weight=np.array([2**64 - 1], np.uint64)),
     r"integer weight of task 't0' " + _TOO_LARGE.format(2**64 - 1)),
    (lambda: Problem([[5]], [[1]], release=[2**65]), r"integer release of task 't0' is too large"),
    (lambda: Problem([[5]], [[1], [1]], edges=[[0, 1]], data=[2**64]),
     r"integer data of dependency 0 is too large"),
    (lambda: Problem([[5]], [[1]], bandwidth=2**64), r"integer bandwidth is too large"),
    (lambda: Problem([[5], [5]], [[1]], bandwidth=[[1, 2**64], [1.5, 1]]),
     r"integer bandwidth from node 'n0' to 'n1' is too large"),
    (lambda: Problem([[5]], [[1]], gpus=[2**64]),
     r"integer gpus of node 'n0' " + _TOO_LARGE.format(2**64) + "$"),
    (lambda: Problem([[5]], [[1]], gpu_milli=[2**64]),
     r"integer gpu_milli of task 't0' is too large"),
])
def test_integers_beyond_int64_are_refused(make, message):
    with pytest.raises(ProblemError, match=message):
        make()


def test_large_numbers_within_int64_or_floats_still_pass():
    assert Problem([[1.5e19]], [[1e19]]).capacity.dtype == np.float64
    assert Problem([[5]], [[1]], duration=[2**63 - 1]).duration[0] == 2.0**63
    p = Problem(np.array([[2**61]], np.uint64), [[1]])
    assert p.capacity.dtype == np.int64 and p.capacity[0, 0] == 2**61


@pytest.mark.parametrize("doc_change, message", [
    (lambda d: (d["nodes"][0]["capacity"].update(cpu=2**63 + 1),
                d["tasks"][0]["demand"].update(cpu=2**63 + 1000)),
     r"integer capacity of node 'cpu-1' for 'cpu' " + _TOO_LARGE.format(2**63 + 1)),
    (lambda d: d["nodes"][1].update(capacity=[2**64, 2]),
     r"integer capacity of node 'gpu-1' for 'cpu' is too large"),
    (lambda d: d["tasks"][1]["demand"].update(cpu=-2**64),
     r"integer demand of task 'T2' for 'cpu' is too small for int64"),
    (lambda d: [t.update(demand=None, demand_by_node={"cpu-1": {"cpu": 1}, "gpu-1": {"gpu": g}})
                for t, g in zip(d["tasks"], (1, 0, 2**64))],
     r"integer demand of task 'T3' on node 'gpu-1' for 'gpu' is too large"),
    (lambda d: d["nodes"][0].update(speed=2**2000),
     r"integer speed of node 'cpu-1' " + _TOO_LARGE.format("a 2001-bit integer")),
    (lambda d: d["tasks"][0].update(duration=2**64), r"integer duration of task 'T1' is too large"),
    (lambda d: d["tasks"][2]["runtime"].update({"gpu-1": 2**64}),
     r"integer runtime of task 'T3' on node 'gpu-1' is too large"),
    (lambda d: d["dependencies"][0].update(data=2**64),  # edge 0 is T3's 'after'
     r"integer data of dependency 1 is too large"),
    (lambda d: d.update(bandwidth=[[None, 2**70], [1.5, None]]),
     r"integer bandwidth from node 'cpu-1' to 'gpu-1' is too large"),
    (lambda d: d["nodes"][1].update(gpus=2**64), r"integer gpus of node 'gpu-1' is too large"),
])
def test_integers_beyond_int64_from_dicts_and_json(doc_change, message):
    doc = json.loads(json.dumps(SCENARIO))
    doc_change(doc)
    with pytest.raises(ProblemError, match=message):
        Problem.from_dicts(**doc)
    text = json.dumps({"format": "gabalance-problem", "version": 1, "resources": ["cpu", "gpu"],
                       **doc})
    with pytest.raises(ProblemError, match=message):
        Problem.from_json(text)


def test_derived_values_are_not_part_of_a_problem():
    import pickle

    p, q = small(), small()
    allowed = p.allowed  # built and memoised on p
    assert p == q and p.allowed is allowed
    r = pickle.loads(pickle.dumps(p))
    assert r == p and np.array_equal(r.allowed, allowed) and r.allowed is not allowed
    assert Problem.from_json(p.to_json()) == p
    with pytest.raises(AttributeError, match="immutable"):
        p._cache_anything = 1


def test_from_dicts_takes_resources_from_every_node():
    """A node need not list the resources it lacks: the resources are the union of all
    nodes' capacity keys (the first node's keys alone refused 'gpu' of a later node)."""
    p = Problem.from_dicts(
        nodes=[{"name": "cpu-1", "capacity": {"cpu": 4}},
               {"name": "gpu-1", "capacity": {"cpu": 8, "gpu": 2}}],
        tasks=[{"name": "a", "demand": {"gpu": 1}}])
    assert p.resources == ("cpu", "gpu")
    assert p.capacity.tolist() == [[4, 0], [8, 2]]
    with pytest.raises(ProblemError, match="unknown resource 'tpu'"):
        Problem.from_dicts(nodes=[{"name": "n", "capacity": {"cpu": 1}}],
                           tasks=[{"name": "a", "demand": {"tpu": 1}}])

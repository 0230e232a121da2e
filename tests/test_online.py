"""The online Balancer: events, dispatch, re-planning, learning and its error messages."""

from __future__ import annotations

import math

import pytest

import gabalance as gb
from gabalance.online import Balancer, BalancerError, node_type

FAST = {"time_budget": 30.0, "max_generations": 2, "seed": 0}


def cluster() -> list[gb.Node]:
    return [gb.Node("k80-0", {"gpu": 4}), gb.Node("v100-0", {"gpu": 4}),
            gb.Node("v100-1", {"gpu": 4})]


def job(name: str, gpus: int = 1, k80: float = 100.0, v100: float = 20.0, **kw) -> gb.Task:
    return gb.Task(name, demand={"gpu": gpus}, runtime={"k80": k80, "v100": v100}, **kw)


def check_capacity(b: Balancer, nodes: list[gb.Node]) -> None:
    caps = {n.name: n.capacity["gpu"] for n in nodes}
    used: dict[str, float] = {}
    for t, n in b.running.items():
        used[n] = used.get(n, 0) + b._tasks[t].demand.get("gpu", 0)
    assert all(used[n] <= caps[n] for n in used)


def test_node_type_rule():
    assert node_type(gb.Node("k80-3", {"gpu": 4})) == "k80"
    assert node_type(gb.Node("v100x4-07", {"gpu": 4})) == "v100x4"
    assert node_type(gb.Node("gpu_box_12", {"gpu": 4})) == "gpu_box"
    assert node_type(gb.Node("node12", {"gpu": 4})) == "node12"
    assert node_type(gb.Node("a-1", {"gpu": 4}, labels=["type=fast"])) == "fast"


def test_dispatch_respects_dependencies_capacity_and_prefers_fast_nodes():
    nodes = cluster()
    b = Balancer(nodes, **FAST)
    b.submit(job("prep", gpus=4), now=0.0)
    b.submit(job("train", gpus=4, after=["prep"]), now=0.0)
    for i in range(3):
        b.submit(job(f"small{i}", gpus=4), now=0.0)
    started = dict(b.dispatch(0.0))
    assert "train" not in started and "prep" in started
    assert set(started.values()) <= {"v100-0", "v100-1"} | {"k80-0"}
    check_capacity(b, nodes)
    assert b.replan_latency and all(v > 0 for v in b.replan_latency)
    # nothing changed: a second dispatch at the same instant starts nothing and does not re-plan
    count = len(b.replan_latency)
    assert b.dispatch(0.0) == []
    assert len(b.replan_latency) == count
    t = 0.0
    while b.queued or b.running:
        t += 5.0
        for name in list(b.running):
            if t - b._tasks[name].started >= b._tasks[name].expected:
                b.finished(name, now=t)
        for name, _ in b.dispatch(t):
            if name == "train":
                assert "prep" in b.done
        check_capacity(b, nodes)
        assert t < 10_000
    assert sorted(b.done) == sorted(["prep", "train", "small0", "small1", "small2"])


def test_ewma_update_by_hand():
    nodes = cluster()
    b = Balancer(nodes, smoothing=0.5, **FAST)
    b.remove_node("v100-0", now=0.0)               # a runs on the K80: the V100s are gone
    b.remove_node("v100-1", now=0.0)
    b.submit(job("a", gpus=4, k80=100.0), now=0.0, kind="resnet")
    assert b.dispatch(0.0) == [("a", "k80-0")]
    b.submit(job("b", gpus=4, k80=300.0), now=1.0, kind="resnet")
    b.submit(job("c", gpus=4, k80=100.0), now=1.0, kind="other")
    assert b.expected_runtime("b", "k80-0") == 300.0
    b.finished("a", now=250.0)                     # measured 250 s against 100 s: ratio 2.5
    assert b.runtime_ratio("resnet", "k80") == pytest.approx(0.5 * 1 + 0.5 * 2.5)
    assert b.expected_runtime("b", "k80-0") == pytest.approx(300.0 * 1.75)
    assert b.expected_runtime("c", "k80-0") == 100.0                 # another kind
    assert b.runtime_ratio("resnet", "v100") == 1.0                  # another node type
    b.add_node(gb.Node("v100-0", {"gpu": 4}), now=250.0)
    assert b.expected_runtime("b", "v100-0") == 20.0
    started = dict(b.dispatch(250.0))
    assert started == {"b": "v100-0", "c": "k80-0"} or started == {"b": "v100-0"}
    b.finished("b", now=251.0, runtime=40.0)        # an explicit runtime wins over the clock
    assert b.runtime_ratio("resnet", "v100") == pytest.approx(0.5 * 1 + 0.5 * 2.0)
    assert b.runtime_ratio("resnet", "k80") == pytest.approx(1.75)


def test_numpy_runtimes_capacity_view_and_bad_times():
    import numpy as np

    b = Balancer(cluster(), **FAST)
    assert b.capacity == {"k80-0": {"gpu": 4.0}, "v100-0": {"gpu": 4.0},
                          "v100-1": {"gpu": 4.0}}
    b.capacity["k80-0"]["gpu"] = 0                   # a copy: the balancer is not changed
    assert b.capacity["k80-0"] == {"gpu": 4.0}
    b.submit(job("a", gpus=4), now=0.0)
    ((_, node),) = b.dispatch(0.0)
    b.finished("a", now=np.float64(30.0), runtime=np.int64(25))   # numpy numbers are numbers
    assert b.done == {"a": node}
    with pytest.raises(BalancerError, match="duration of task 'neg' must be a finite number"):
        b.submit(gb.Task("neg", demand={"gpu": 1}, duration=-1.0), now=1.0)
    with pytest.raises(BalancerError, match="release of task 'nan' must be a finite number"):
        b.submit(gb.Task("nan", demand={"gpu": 1}, release=math.nan), now=1.0)
    assert b.queued == [] and b.dispatch(2.0) == []  # the refused tasks left no trace


def test_remove_node_requeues_and_tasks_are_replaced_elsewhere():
    nodes = [gb.Node("v100-0", {"gpu": 4}), gb.Node("v100-1", {"gpu": 4})]
    b = Balancer(nodes, **FAST)
    for i in range(4):
        b.submit(job(f"t{i}", gpus=2), now=0.0)
    started = b.dispatch(0.0)
    assert len(started) == 4
    on0 = sorted(t for t, n in b.running.items() if n == "v100-0")
    back = b.remove_node("v100-0", now=5.0)
    assert sorted(back) == on0 and len(back) == 2
    assert all(t in b.queued for t in back)
    assert "v100-0" not in b.nodes
    assert b.dispatch(5.0) == []                     # v100-1 is full
    for t in list(b.running):
        b.finished(t, now=25.0)
    again = b.dispatch(25.0)
    assert sorted(t for t, _ in again) == sorted(back)
    assert {n for _, n in again} == {"v100-1"}


def test_failed_task_goes_back_to_the_queue_and_runs_again():
    b = Balancer(cluster(), **FAST)
    b.submit(job("x"), now=0.0)
    assert [t for t, _ in b.dispatch(0.0)] == ["x"]
    b.failed("x", now=3.0)
    assert b.queued == ["x"] and b.running == {} and b.failures == {"x": 1}
    ((_, node),) = b.dispatch(3.0)
    b.finished("x", now=30.0)
    assert b.done == {"x": node}


def test_task_waits_while_no_node_fits_then_runs_on_a_new_node():
    b = Balancer([gb.Node("v100-0", {"gpu": 4})], **FAST)
    b.submit(job("big", gpus=4), now=0.0)
    b.dispatch(0.0)
    assert b.running == {"big": "v100-0"}
    assert b.remove_node("v100-0", now=1.0) == ["big"]
    assert b.dispatch(1.0) == [] and b.queued == ["big"]     # no node: it waits
    b.add_node(gb.Node("p100-0", {"gpu": 8}), now=2.0)
    assert b.dispatch(2.0) == []                             # no runtime for p100: waits
    b.add_node(gb.Node("v100-7", {"gpu": 4}), now=3.0)       # runtime by node type
    assert b.dispatch(3.0) == [("big", "v100-7")]


def test_running_tasks_are_never_moved_and_release_is_honoured():
    b = Balancer(cluster(), **FAST)
    b.submit(job("a", gpus=4), now=0.0)
    b.dispatch(0.0)
    before = b.running
    b.submit(job("later", gpus=1, release=50.0), now=1.0)
    assert b.dispatch(1.0) == []
    assert b.running == before
    assert b.plan["later"][1] >= 50.0
    assert b.next_start(1.0) == pytest.approx(b.plan["later"][1])
    b.finished("a", now=20.0)
    assert b.dispatch(20.0) == []
    assert [t for t, _ in b.dispatch(50.0)] == ["later"]


def test_error_messages_name_the_task_or_node():
    b = Balancer(cluster(), **FAST)
    b.submit(job("a"), now=0.0)
    with pytest.raises(BalancerError, match="task 'a' was already submitted"):
        b.submit(job("a"), now=0.0)
    with pytest.raises(BalancerError, match="task 'b' depends on unknown task 'ghost'"):
        b.submit(job("b", after=["ghost"]), now=0.0)
    with pytest.raises(BalancerError, match=r"task 'huge' fits no node \(it needs gpu=8"):
        b.submit(job("huge", gpus=8), now=0.0)
    with pytest.raises(BalancerError, match=r"task 'tpu' fits no node .*labels tpu"):
        b.submit(job("tpu", requires=["tpu"]), now=0.0)
    with pytest.raises(BalancerError, match="finished: unknown task 'nope'"):
        b.finished("nope", now=1.0)
    with pytest.raises(BalancerError, match="finished: task 'a' is not running \\(it is queued\\)"):
        b.finished("a", now=1.0)
    with pytest.raises(BalancerError, match="failed: unknown task 'nope'"):
        b.failed("nope", now=1.0)
    with pytest.raises(BalancerError, match="remove_node: unknown node 'gpu-9'"):
        b.remove_node("gpu-9", now=1.0)
    with pytest.raises(BalancerError, match="add_node: node 'k80-0' is already up"):
        b.add_node(gb.Node("k80-0", {"gpu": 4}), now=1.0)
    with pytest.raises(BalancerError, match="capacity of node 'x' must be a mapping"):
        b.add_node(gb.Node("x", [4]), now=1.0)
    with pytest.raises(BalancerError, match="now must be a finite number"):
        b.dispatch(math.nan)
    with pytest.raises(BalancerError, match="objective must be a schedule objective"):
        Balancer(cluster(), objective="cost")
    with pytest.raises(BalancerError, match="smoothing must be in"):
        Balancer(cluster(), smoothing=0.0)
    assert isinstance(BalancerError("x"), ValueError)


def test_stability_penalty_keeps_the_planned_node_of_a_queued_task():
    # two identical nodes; a queued task planned on one stays there through re-plans
    nodes = [gb.Node("v100-0", {"gpu": 1}), gb.Node("v100-1", {"gpu": 1})]
    b = Balancer(nodes, migration_cost=50.0, **FAST)
    b.submit(job("r0"), now=0.0)
    b.submit(job("r1"), now=0.0)
    b.dispatch(0.0)
    b.submit(job("q"), now=1.0)
    b.dispatch(1.0)
    first = b.plan["q"][0]
    for k in range(3):
        b.submit(job(f"extra{k}", v100=1000.0), now=2.0 + k)
        b.dispatch(2.0 + k)
        assert b.plan["q"][0] == first

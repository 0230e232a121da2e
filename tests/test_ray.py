"""The Ray executor: node rule and monitoring without Ray, then a real local Ray cluster
(three raylets on this machine) running a 50-task DAG, once whole and once losing a node."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import pytest

from gabalance.online import BalancerError
from gabalance.online.monitor import gpu_snapshot, local_snapshot
from gabalance.online.ray_executor import (
    RayExecutor,
    RayExecutorError,
    ResultOf,
    TaskFailedError,
    node_from_ray,
)

ROOT = Path(__file__).resolve().parents[1]
MB = 2**20
# fast node-death detection: Ray's default health check needs ~15 s to declare a node dead
FAST_HEALTH = {"health_check_period_ms": 500, "health_check_failure_threshold": 2,
               "health_check_initial_delay_ms": 0}
ALLOWED_ALL = {"head", "w1", "w2"}


# ---------------------------------------------------------------------- without Ray
def test_node_rule_from_ray_nodes_entry():
    info = {"NodeID": "ab" * 28, "Alive": True,
            "Resources": {"CPU": 4.0, "GPU": 2.0, "memory": 8.0 * 2**30,
                          "object_store_memory": 1e8, "node:10.0.0.1": 1.0,
                          "node:__internal_head__": 1.0, "gb_node_gpu-3": 1.0,
                          "accelerator_type:A100": 1.0, "licence": 3.0},
            "Labels": {"ray.io/node-id": "ab" * 28, "type": "a100"}}
    node = node_from_ray(info)
    assert node.name == "gpu-3"
    assert node.capacity == {"cpu": 4.0, "gpu": 2.0, "mem_gb": 8.0,
                             "accelerator_type:A100": 1.0, "licence": 3.0}
    assert set(node.labels) == {"gb_node_gpu-3", "accelerator_type:A100", "licence",
                                "type=a100"}
    plain = node_from_ray({"NodeID": "0123456789abcdef" * 3, "Resources": {"CPU": 1.0}})
    assert plain.name == "0123456789ab" and plain.capacity == {"cpu": 1.0}
    with pytest.raises(RayExecutorError, match="several node names"):
        node_from_ray({"NodeID": "ff" * 28, "Resources": {"gb_node_a": 1, "gb_node_b": 1}})


def test_missing_ray_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RayExecutorError, match=re.escape("pip install gabalance[ray]")):
        RayExecutor()


def test_import_gabalance_does_not_import_ray():
    code = ("import sys, gabalance, gabalance.online, gabalance.online.ray_executor, "
            "gabalance.online.monitor; assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_local_snapshot_with_psutil():
    pytest.importorskip("psutil")
    snap = local_snapshot(interval=0.01)
    assert 0.0 <= snap["cpu_percent"] <= 100.0 * (os.cpu_count() or 1)
    assert 0 < snap["mem_used_gb"] <= snap["mem_total_gb"]
    assert isinstance(snap["gpus"], list)


def test_snapshot_without_psutil_and_nvml(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    snap = local_snapshot()
    assert snap["cpu_percent"] is None and snap["mem_total_gb"] is None
    assert snap["gpus"] == [] and snap["cpu_count"] == os.cpu_count()


def test_gpu_snapshot_reads_nvml(monkeypatch):
    calls = []
    fake = types.SimpleNamespace(
        nvmlInit=lambda: calls.append("init"),
        nvmlShutdown=lambda: calls.append("shutdown"),
        nvmlDeviceGetCount=lambda: 2,
        nvmlDeviceGetHandleByIndex=lambda i: i,
        nvmlDeviceGetName=lambda h: b"H200" if h == 0 else "H100",
        nvmlDeviceGetUtilizationRates=lambda h: types.SimpleNamespace(gpu=10 * (h + 1)),
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=2**30, total=4 * 2**30))
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    gpus = gpu_snapshot()
    assert [g["name"] for g in gpus] == ["H200", "H100"]
    assert [g["util_percent"] for g in gpus] == [10.0, 20.0]
    assert gpus[0]["mem_used_gb"] == 1.0 and gpus[0]["mem_total_gb"] == 4.0
    assert calls == ["init", "shutdown"]

    def no_driver():
        raise RuntimeError("NVML Shared Library Not Found")

    monkeypatch.setitem(sys.modules, "pynvml", types.SimpleNamespace(nvmlInit=no_driver))
    assert gpu_snapshot() == []


# ---------------------------------------------------------------------- a local Ray cluster
@pytest.fixture(scope="module")
def cluster():
    """Head ``head`` and workers ``w1``, ``w2``: one CPU and 100 MB of object store each."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 1, "resources": {"gb_node_head": 1}, "object_store_memory": 100 * MB,
        "include_dashboard": False, "_system_config": FAST_HEALTH})
    try:
        workers = {name: c.add_node(num_cpus=1, resources={f"gb_node_{name}": 1},
                                    object_store_memory=100 * MB) for name in ("w1", "w2")}
        c.wait_for_nodes()
        ray.init(address=c.address, log_to_driver=False)
        yield c, workers
    finally:
        ray.shutdown()
        c.shutdown()


def make_work(log_dir: str):
    """The task function (defined here so that Ray pickles it by value): sleeps, writes a
    start and an end record of this attempt, returns (name, attempt id)."""

    def work(name: str, seconds: float) -> tuple[str, str]:
        import json
        import os
        import time
        import uuid

        import ray

        attempt = uuid.uuid4().hex
        record = {"task": name, "attempt": attempt,
                  "node_id": ray.get_runtime_context().get_node_id(), "start": time.time()}
        with open(os.path.join(log_dir, f"{name}.{attempt}.start"), "w") as fh:
            json.dump(record, fh)
        time.sleep(seconds)
        record["end"] = time.time()
        with open(os.path.join(log_dir, f"{name}.{attempt}.end"), "w") as fh:
            json.dump(record, fh)
        return name, attempt

    return work


def random_dag(n: int = 50, seed: int = 7):
    """(name, seconds, after, options) of ``n`` tasks: every 5th needs label gb_node_w1
    (node w1 only), every 7th has runtimes for head and w2 only."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        seconds = rng.uniform(0.05, 0.2)
        after = [f"t{j}" for j in sorted(rng.sample(range(i), rng.randint(0, min(i, 3))))]
        opts: dict = {}
        allowed = ALLOWED_ALL
        if i % 5 == 4:
            opts["requires"] = ["gb_node_w1"]
            allowed = {"w1"}
        elif i % 7 == 6:
            opts["runtime"] = {"head": seconds, "w2": seconds}
            allowed = {"head", "w2"}
        out.append((f"t{i}", seconds, after, opts, allowed))
    return out


def read_records(log_dir: Path, node_names: dict[str, str]):
    """Attempt id -> record (start, and end when it completed), node ids mapped to names."""
    records: dict[str, dict] = {}
    for path in sorted(log_dir.iterdir()):
        rec = json.loads(path.read_text())
        rec["node"] = node_names.get(rec["node_id"], rec["node_id"])
        records.setdefault(rec["attempt"], {}).update(rec)
    return records


def run_dag(log_dir: Path, callback=None, timeout: float = 60.0):
    ex = RayExecutor(time_budget=0.05, seed=0, node_check=0.25)
    assert set(ex.node_ids) == ALLOWED_ALL
    names = {rid: name for name, rid in ex.node_ids.items()}
    work = make_work(str(log_dir))
    dag = random_dag()
    for name, seconds, after, opts, _ in dag:
        ex.submit(work, name, seconds, name=name, after=after, duration=seconds,
                  demand={"cpu": 1}, kind="work", **opts)
    res = ex.run(timeout=timeout, callback=callback)
    return ex, res, dag, read_records(log_dir, names)


def check_run(res, dag, records) -> None:
    """Each task completed exactly once (per the executor), on an allowed node, with a
    matching end record, after all its dependencies had finished."""
    assert len(res.tasks) == len(dag)
    done = {}
    for name, _, after, _, allowed in dag:
        rec = res.tasks[name]
        assert rec.status == "done", name
        assert [a.status for a in rec.attempts].count("done") == 1, name
        assert rec.node in allowed, (name, rec.node, allowed)
        got_name, attempt = rec.result
        assert got_name == name
        run = records[attempt]
        assert "end" in run and run["node"] == rec.node, (name, run)
        done[name] = run
        for p in after:
            assert run["start"] >= done[p]["end"], (name, p)
    assert res.results == {name: res.tasks[name].result for name, *_ in dag}


def test_dag_on_three_ray_nodes(cluster, tmp_path):
    t0 = time.monotonic()
    ex, res, dag, records = run_dag(tmp_path)
    check_run(res, dag, records)
    assert all(r.n_attempts == 1 for r in res.tasks.values())
    assert sum(1 for r in records.values() if "end" in r) == len(dag)  # no extra completions
    assert len(records) == len(dag)
    used = {r.node for r in res.tasks.values()}
    assert used == ALLOWED_ALL, used
    assert not res.nodes_lost and res.replans > 0
    snap = ex.snapshot(timeout=30)
    assert set(snap) == ALLOWED_ALL
    assert all(s.get("cpu_percent") is not None for s in snap.values()), snap
    print(f"50-task DAG on 3 Ray nodes: run {res.wall:.1f} s, "
          f"test {time.monotonic() - t0:.1f} s, {res.replans} re-plans")


def kill_node(c, node) -> None:
    """Kill a node as a machine dies: SIGKILL its raylet and its workers at once (a raylet
    killed alone leaves its workers running, and returning results, for a while)."""
    import psutil

    sock = node.raylet_socket_name
    raylets = [p for p in psutil.process_iter(["cmdline"])
               if any(sock in arg for arg in p.info["cmdline"] or ())]
    assert len(raylets) == 1, raylets
    for proc in [*raylets[0].children(recursive=True), raylets[0]]:  # workers, agents
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            pass
    c.remove_node(node, allow_graceful=False)


def test_dag_survives_losing_a_node(cluster, tmp_path):
    pytest.importorskip("psutil")
    c, workers = cluster
    killed: dict = {}

    def kill_w2(ex):
        n_done = len(ex.balancer.done)
        on_w2 = [t for t, n in ex.balancer.running.items() if n == "w2"]
        # kill while a task has just been launched there (so it is still running)
        fresh = [t for t in on_w2 if ex.now() - ex.records[t].attempts[-1].dispatched < 0.02]
        if not killed and n_done >= 17 and fresh:
            killed["running"] = on_w2
            killed["done_before"] = n_done
            kill_node(c, workers["w2"])
            killed["time"] = time.time()
            killed["clock"] = ex.now()

    ex, res, dag, records = run_dag(tmp_path, callback=kill_w2)
    assert killed, "w2 was never killed"
    check_run(res, dag, records)
    assert [n for _, n, _ in res.nodes_lost] == ["w2"]
    assert "w2" not in ex.node_ids and "w2" not in ex.balancer.nodes
    # the tasks running on w2 were lost and re-ran elsewhere, unless they had returned
    # before the kill (then their result was collected and they count as done on w2)
    lost = []
    for name in killed["running"]:
        rec = res.tasks[name]
        first = rec.attempts[0]
        assert first.node == "w2" and first.status in ("lost", "done"), rec
        if first.status == "lost":
            lost.append(name)
            assert rec.n_attempts >= 2 and rec.node != "w2", rec
        else:
            assert rec.n_attempts == 1 and records[rec.result[1]]["end"] <= killed["time"]
    assert lost, killed
    print(f"w2 killed after {killed['done_before']} tasks; lost and re-run: "
          + ", ".join(f"{t} -> {res.tasks[t].node}" for t in lost)
          + f"; run {res.wall:.1f} s; removal: {res.nodes_lost[0][2]}")
    # nothing was dispatched to w2, nor started there, after it was killed
    for rec in res.tasks.values():
        for a in rec.attempts:
            if a.node == "w2":
                assert a.dispatched <= killed["clock"] + 1e-6, (rec.name, a)
    for run in records.values():
        if run["node"] == "w2":
            assert run["start"] <= killed["time"], run
    # a task completes on w2 only if it did so before the kill; other ends there are orphans
    for name, *_ in dag:
        ends = [r for r in records.values() if r["task"] == name and "end" in r]
        assert sum(r["attempt"] == res.tasks[name].result[1] for r in ends) == 1
        assert all(r["node"] == "w2" for r in ends if r["attempt"] != res.tasks[name].result[1])


def test_worker_crash_is_retried_on_a_live_node(cluster, tmp_path):
    marker = str(tmp_path / "crashed")

    def crash_once() -> str:
        import os

        if not os.path.exists(marker):
            open(marker, "w").close()
            os._exit(1)  # the worker process dies; its node lives
        return "ok"

    ex = RayExecutor(time_budget=0.05, seed=0, max_retries=1)
    ex.submit(crash_once, name="flaky")
    res = ex.run(timeout=60)
    rec = res.tasks["flaky"]
    assert rec.result == "ok" and [a.status for a in rec.attempts] == ["failed", "done"]
    assert "WorkerCrashedError" in (rec.attempts[0].error or ""), rec.attempts[0].error
    assert not res.nodes_lost and ex.balancer.failures == {"flaky": 1}


def test_results_flow_and_errors(cluster):
    ex = RayExecutor(time_budget=0.05, seed=0)

    def first() -> int:
        return 20

    def second(x: int, plus: int = 0) -> int:
        return x + plus

    ex.submit(first, name="a")
    ex.submit(second, ResultOf("a"), name="b", kwargs={"plus": 1}, requires=["gb_node_w1"])
    ex.submit(second, ResultOf("b"), name="c", kwargs={"plus": ResultOf("a")})
    assert ex.balancer._tasks["c"].task.after == ("b", "a")
    with pytest.raises(BalancerError, match=r"task 'big' fits no node .*alive Ray nodes: head"):
        ex.submit(first, name="big", demand={"gpu": 1})
    with pytest.raises(BalancerError, match="task 'frac': Ray needs whole amounts above 1"):
        ex.submit(first, name="frac", demand={"cpu": 1.5})
    with pytest.raises(BalancerError, match="takes the result of unknown task 'zz'"):
        ex.submit(second, ResultOf("zz"), name="d")
    with pytest.raises(BalancerError, match="task 'neg': duration must be a finite number"):
        ex.submit(first, name="neg", duration=-1.0)
    with pytest.raises(BalancerError, match="task 'a' was already submitted"):
        ex.submit(first, name="a")
    res = ex.run(timeout=60)
    assert res.results == {"a": 20, "b": 21, "c": 41}
    assert res.tasks["b"].node == "w1"

    def boom() -> None:
        raise KeyError("boom")

    ex2 = RayExecutor(time_budget=0.05, seed=0, retry_exceptions=1)
    ex2.submit(boom, name="bad")
    with pytest.raises(TaskFailedError, match=r"task 'bad' failed on node .*it raised 2") as err:
        ex2.run(timeout=60)
    assert err.value.task == "bad" and err.value.attempts == 2
    assert [a.status for a in ex2.records["bad"].attempts] == ["failed", "failed"]
    assert "KeyError" in (ex2.records["bad"].attempts[0].error or "")


def test_nodes_join_and_leave(cluster):
    """A Ray node that joins is added to the balancer; one that dies with nothing running is
    seen gone by the look at ray.nodes()."""
    pytest.importorskip("psutil")
    c, _ = cluster
    ex = RayExecutor(time_budget=0.05, seed=0)
    before = set(ex.node_ids)
    w3 = c.add_node(num_cpus=1, resources={"gb_node_w3": 1}, object_store_memory=100 * MB)
    c.wait_for_nodes()
    ex.refresh_nodes()
    assert set(ex.node_ids) == before | {"w3"} and "w3" in ex.balancer.nodes
    assert [n for _, n in ex.nodes_added] == ["w3"]

    def three() -> int:
        return 3

    ex.submit(three, name="on-w3", requires=["gb_node_w3"])
    assert ex.run(timeout=60).tasks["on-w3"].node == "w3"
    kill_node(c, w3)
    deadline = time.monotonic() + 20
    while "w3" in ex.node_ids and time.monotonic() < deadline:
        time.sleep(0.2)
        ex.refresh_nodes()
    assert [(n, why) for _, n, why in ex.nodes_lost] == [("w3", "not alive in ray.nodes()")]
    assert "w3" not in ex.balancer.nodes


def run_script(args: list[str], timeout: float = 120.0) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env,
                         timeout=timeout, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    return out.stdout


def test_example_script():
    pytest.importorskip("ray")
    out = run_script([str(ROOT / "examples" / "ray_balancer.py")])
    assert "ran on" in out and "prep" in out


def test_docs_ray_example():
    """docs/online.md's ```python ray block (skipped by test_docs, which runs ```python)."""
    pytest.importorskip("ray")
    text = (ROOT / "docs" / "online.md").read_text(encoding="utf-8")
    (code,) = re.findall(r"```python ray\n(.*?)```", text, re.S)
    out = run_script(["-c", code])
    assert "90 {'load': 'local-0', 'sum': 'local-0'}\n1 True\n" in out, out

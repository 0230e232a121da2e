"""The GPU-device model: kernels against the oracle, validate's messages, the policies, the
arrival protocol, the bounds and the packing search (docs/model.md, "GPU devices")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gabalance as gb
from gabalance import gpushare
from gabalance.algorithms.packing import pack_search
from gabalance.backend import _numba, _numpy
from gabalance.devices import device_loads, device_record, mask_devices, pack_order

import naive
from strategies import device_problems, device_solutions

ENGINES = {"numpy": _numpy, "numba": _numba}
EXAMPLES = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def tiny(**kw):
    """Two nodes: n0 with 2 devices, n1 with 1; 8 CPUs each."""
    args = dict(gpus=[2, 1], may_wait=True, objective="gpu_allocation",
                resources=["cpu"], node_names=["n0", "n1"])
    args.update(kw)
    cap = args.pop("cap", [[8], [8]])
    dem = args.pop("dem")
    return gb.Problem(np.array(cap), np.array(dem), **args)


@pytest.mark.parametrize("engine", ENGINES)
@EXAMPLES
@given(data=st.data())
def test_device_kernels_equal_oracle(engine, data):
    problem = data.draw(device_problems())
    pop, masks = data.draw(device_solutions(problem))
    rec = device_record(problem)
    for given_masks in (None, masks):
        alloc, viol, out = ENGINES[engine].devices(rec, pop, given_masks)
        for p in range(pop.shape[0]):
            want = naive.devices(problem, pop[p], None if given_masks is None
                                 else given_masks[p])
            assert alloc[p] == pytest.approx(want[0], rel=1e-12, abs=1e-15)
            assert viol[p] == pytest.approx(want[1], rel=1e-9, abs=1e-12)
            assert out[p].tolist() == want[2]


@EXAMPLES
@given(data=st.data())
def test_validate_agrees_with_oracle(data):
    problem = data.draw(device_problems())
    pop, masks = data.draw(device_solutions(problem, max_p=1))
    x, m = pop[0], masks[0]
    # validate also refuses a device named by a placed task that asks for no GPU (the
    # kernels ignore such masks and return 0 there)
    stray = any(x[i] >= 0 and problem.gpu_milli[i] == 0 and m[i] for i in range(len(x)))
    expect = naive.devices(problem, x, m)[1] == 0 and not stray
    assert gb.validate(problem, x, devices=m).ok == expect
    # the canonical packing, as evaluate returns it, validates iff its violation is 0
    ev = gb.evaluate(problem, pop, backend="numpy")
    assert gb.validate(problem, x, devices=ev.devices[0]).ok == (ev.violation[0] == 0)


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_evaluate_device_problem(backend):
    p = tiny(dem=[[1], [1], [1], [1]], gpu_milli=[600, 600, 2000, 500])
    ev = gb.evaluate(p, np.array([[0, 0, 0, 1], [0, 1, -1, 0]]), backend=backend)
    # row 0: two 0.6 shares and a 2-device task on the 2-device node: over-committed
    assert ev.violation[0] > 0 and ev.objective[0] == pytest.approx(3.7 / 3)
    assert ev.violation[1] == 0 and ev.objective[1] == pytest.approx(1.7 / 3)
    assert ev.devices.tolist()[1] == [1, 1, 0, 2]
    assert ev.sense == "max"


def test_evaluate_device_errors():
    p = tiny(dem=[[1], [1]], gpu_milli=[600, 0])
    with pytest.raises(gb.ProblemError, match="placement mode only"):
        gb.evaluate(p, [[0, 0]], objective="makespan")
    with pytest.raises(gb.ProblemError, match="can only be maximised"):
        gb.evaluate(p, [[0, 0]], sense="min")
    with pytest.raises(gb.ProblemError, match=r"needs every task placed, but task 't0' waits"):
        gb.evaluate(p, [[-1, 0]], objective="max_utilization")
    plain = gb.Problem(np.array([[4]]), np.array([[1]]))
    with pytest.raises(gb.ProblemError, match="'gpu_allocation' needs GPU devices"):
        gb.evaluate(plain, [[0]], objective="gpu_allocation")


def test_validate_names_the_device():
    p = tiny(dem=[[1], [1], [1]], gpu_milli=[600, 600, 1000], may_wait=[True, False, True])
    v = gb.validate(p, [0, 0, -1], devices=[1, 1, 0])
    assert v.problems == ["node 'n0' GPU device 0 over-committed: 1200 milli-GPU > 1000 "
                          "(tasks t0, t1)"]
    v = gb.validate(p, [0, -1, 1], devices=[1, 0, 1])
    assert v.problems == ["task 't1' waits (is not placed) but may not"]
    v = gb.validate(p, [0, 0, 0], devices=[1, 2, 3])
    assert any("'t2'" in s and "names 2 device(s) [0, 1], the task takes 1 whole" in s
               for s in v.problems)
    v = gb.validate(p, [1, 0, 0], devices=[2, 1, 2])
    assert any("'t0'" in s and "device 1" in s for s in v.problems)
    assert gb.validate(p, [0, 0, 1], devices=[1, 2, 1]).ok
    with pytest.raises(gb.ProblemError, match="devices"):
        gb.validate(p, [0, 0, 1])


def test_problem_device_fields():
    p = tiny(dem=[[1], [1], [9]], gpu_milli=[500, 2000, 0], cap=[[8], [9]])
    assert p.devices_needed.tolist() == [1, 2, 0] and p.has_devices
    assert p.allowed.tolist() == [[True, True], [True, False], [False, True]]
    assert pack_order(p).tolist() == [1, 0, 2]
    assert mask_devices(0b101) == [0, 2]
    assert device_loads(p, [0, 0, 1], [1, 3, 0]).tolist() == [[1500, 1000], [0, 0]]
    with pytest.raises(gb.ProblemError, match=r"gpu_milli of task 't0' is 1500"):
        tiny(dem=[[1]], gpu_milli=[1500])
    with pytest.raises(gb.ProblemError, match=r"task 't0' fits no node"):
        tiny(dem=[[1]], gpu_milli=[3000])
    back = gb.Problem.from_json(p.to_json())
    assert back == p and back.gpus.tolist() == [2, 1]


# ----------------------------------------------------------------------------- policies


def test_policies_on_a_hand_case():
    # n0: devices 0.7 and 0.0 free after the first task; a 0.3 task best fits device 0 of n0
    p = tiny(dem=[[1], [1], [1]], gpu_milli=[300, 700, 1000])
    for policy in gpushare.POLICIES:
        run = gpushare.run_policy(p, policy, seed=1)
        assert gb.validate(p, run.x, devices=run.devices).ok, policy
        assert run.allocation == pytest.approx(2 / 3), policy
        assert run.used.tolist() == [300, 1000, 2000], policy
    bf = gpushare.run_policy(p, "best_fit", seed=1)
    # best fit leaves the least free: the 0.3 share and the 0.7 share fill n1's device, the
    # whole-device task goes to n0
    assert bf.x.tolist() == [1, 1, 0] and bf.devices.tolist() == [1, 1, 1]


def test_policy_waits_when_nothing_fits():
    p = tiny(dem=[[1], [1], [1]], gpu_milli=[2000, 1000, 1000])
    run = gpushare.run_policy(p, "fgd", seed=0)
    assert run.x.tolist()[0] == 0 and sorted(run.x.tolist()) == [-1, 0, 1]
    assert run.used.tolist() == [2000, 3000, 3000]


def test_run_policy_errors():
    p = tiny(dem=[[1]], gpu_milli=[300])
    with pytest.raises(ValueError, match="unknown policy 'fgdd'"):
        gpushare.run_policy(p, "fgdd")
    with pytest.raises(ValueError, match="order must list task indices"):
        gpushare.run_policy(p, "fgd", order=[3])


def test_arrivals_protocol():
    dem = [[1]] * 6
    p = tiny(dem=dem, gpu_milli=[500, 1000, 250, 0, 2000, 700], cap=[[64], [64]])
    a = gpushare.arrivals(p, seed=42, ratio=1.3)
    total = 1000 * 3
    # the list asks 4450 milli-GPU, above 1.3x the cluster's 3000: tasks are dropped until
    # the request is within the target
    assert a.problem.info["arrivals"]["clones"] == 0
    assert 1.3 * total - 2000 < a.arrived[-1] <= 1.3 * total
    assert (np.diff(a.arrived) >= 0).all()
    # at 3x the list is too short: clones are drawn until the next would pass the target
    b = gpushare.arrivals(p, seed=42, ratio=3.0)
    assert b.problem.info["arrivals"]["clones"] > 0
    assert 3 * total - 2000 < b.arrived[-1] <= 3 * total + 1000
    again = gpushare.arrivals(p, seed=42, ratio=1.3)
    assert again.problem.task_names == a.problem.task_names
    assert gpushare.arrivals(p, seed=43).problem.task_names != a.problem.task_names
    half = a.upto(0.5)
    assert half.gpu_milli.sum() <= 0.5 * total + 2000


def test_allocation_curve_is_monotone_in_arrivals():
    p = tiny(dem=[[1]] * 5, gpu_milli=[500, 500, 1000, 700, 300])
    run = gpushare.run_policy(p, "best_fit")
    curve = run.curve(range(0, 101, 10))
    assert curve.shape == (11,)
    assert np.all(np.isfinite(curve[~np.isnan(curve)]))


# ----------------------------------------------------------------------------- bounds, search


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=device_problems(max_n=5, max_m=2, max_gpus=2))
def test_bounds_cover_the_optimum(problem):
    if not problem.may_wait.any() and naive.device_brute_force(problem) < 0:
        return  # no valid plan at all
    best = naive.device_brute_force(problem)
    bound = gpushare.allocation_bound(problem)
    assert bound["bound"] >= best - 1e-9
    assert bound["resources"] >= best - 1e-9
    if "devices" in bound:
        assert bound["devices"] >= best - 1e-9


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=device_problems(max_n=7, max_m=3, max_gpus=3))
def test_improve_and_pack_search_keep_plans_valid(problem):
    problem = problem.replace(may_wait=True)
    run = gpushare.run_policy(problem, "best_fit")
    x, m, _ = gpushare.improve(problem, run.x, run.devices)
    assert gb.validate(problem, x, devices=m).ok
    before = float((problem.weight * problem.gpu_milli)[run.x >= 0].sum())
    after = float((problem.weight * problem.gpu_milli)[x >= 0].sum())
    assert after >= before
    out = pack_search(problem, max_generations=5, seed=3)
    assert gb.validate(problem, out.x, devices=out.devices).ok
    # the best-fit seed, improved, is in the first population: the search never ends below
    assert out.value * 1000 * problem.gpus.sum() >= after - 1e-6
    again = pack_search(problem, max_generations=5, seed=3)
    assert again.x.tolist() == out.x.tolist()


# ----------------------------------------------------------------------------- solve()


def _cluster(seed=0, n=40):
    """A small saturated GPU-sharing cluster: 6 nodes of 1..4 devices, n tasks of shares and
    whole devices (more GPU asked than the cluster holds)."""
    rng = np.random.default_rng(seed)
    gpus = [1, 2, 4, 4, 2, 1]
    milli = rng.choice([100, 250, 500, 700, 1000, 2000], size=n)
    return gb.Problem(np.full((6, 1), 32), rng.integers(1, 6, size=(n, 1)), gpus=gpus,
                      gpu_milli=milli, may_wait=True, objective="gpu_allocation")


def test_solve_ga_on_devices(tmp_path):
    p = _cluster()
    res = gb.solve(p, method="ga", max_generations=20, seed=4)
    assert res.success and res.sense == "max" and res.violation == 0
    assert gb.validate(p, res.x, devices=res.devices).ok
    placed = res.x >= 0
    assert res.fun == pytest.approx(
        float(p.gpu_milli[placed].sum()) / (1000 * p.gpus.sum()))
    assert res.fun >= gb.solve(p, method="fgd").fun - 1e-12
    assert res.fun <= gpushare.allocation_bound(p)["bound"] + 1e-9
    assert [res.assignment[t] is None for t in p.task_names] == (~placed).tolist()
    again = gb.solve(p, method="ga", max_generations=20, seed=4)
    assert again.x.tolist() == res.x.tolist() and again.devices.tolist() == res.devices.tolist()
    path = tmp_path / "res.json"
    res.save(path)
    back = gb.SolveResult.load(path, p)
    assert back.devices.dtype == np.int64 and back.devices.tolist() == res.devices.tolist()
    # a device moved onto a full one is caught on reload
    doc = res.to_dict()
    i = int(np.flatnonzero(p.gpu_milli == 1000)[0]) if (p.gpu_milli == 1000).any() else 0
    doc["devices"][i] = 1 << 10
    path.write_text(__import__("json").dumps(doc))
    with pytest.raises(ValueError):
        gb.SolveResult.load(path, p)


@pytest.mark.parametrize("policy", ["fgd", "best_fit", "random", "dotprod"])
def test_solve_policies_equal_run_policy(policy):
    p = _cluster(1)
    res = gb.solve(p, method=policy, seed=2)
    run = gpushare.run_policy(p, policy, seed=2)
    assert res.x.tolist() == run.x.tolist() and res.devices.tolist() == run.devices.tolist()
    assert res.fun == pytest.approx(run.allocation) and res.status == 3


def test_solve_devices_stops_and_errors():
    p = _cluster(2)
    seen = []
    res = gb.solve(p, method="ga", max_generations=50, seed=0,
                   callback=lambda r: seen.append(r.fun) or len(seen) >= 3)
    assert res.status == 4 and res.nit == 3 and res.success
    assert seen == sorted(seen)
    with pytest.raises(ValueError, match="method 'pso' has no GPU-device model"):
        gb.solve(p, method="pso")
    with pytest.raises(ValueError, match=r"has GPU devices: solve\(\) packs them per device only"):
        gb.solve(p, "imbalance")
    with pytest.raises(ValueError, match="method 'fgd' is a GPU-sharing policy"):
        gb.solve(gb.Problem(np.array([[4]]), np.array([[1]])), "cost", method="fgd")
    with pytest.raises(TypeError, match="params are not used on objective 'gpu_allocation'"):
        gb.solve(p, params={"pop_size": 4})
    with pytest.raises(ValueError, match="can only be maximised"):
        gb.solve(p, sense="min")


# ----------------------------------------------------------------------------- online


def _objects(p):
    """gb.Node / gb.Task lists of a device problem (one resource, no labels)."""
    from gabalance.problem import Node, Task

    nodes = [Node(p.node_names[j], {r: float(p.capacity[j, k]) for k, r in
                                    enumerate(p.resources)}, gpus=int(p.gpus[j]))
             for j in range(p.n_nodes)]
    tasks = [Task(p.task_names[i], demand={r: float(p.demand[i, k]) for k, r in
                                           enumerate(p.resources)},
                  gpu_milli=int(p.gpu_milli[i])) for i in range(p.n_tasks)]
    return nodes, tasks


@pytest.mark.parametrize("policy", list(gpushare.POLICIES))
def test_balancer_device_mode_equals_the_policy(policy):
    from gabalance.online import Balancer

    rng = np.random.default_rng(0)
    n = 150
    p = gb.Problem(np.full((6, 1), 24), rng.integers(1, 9, size=(n, 1)),
                   gpus=[1, 2, 4, 8, 2, 8], resources=["cpu"], may_wait=True,
                   gpu_milli=rng.choice([0, 100, 250, 500, 700, 1000, 2000, 4000], size=n),
                   objective="gpu_allocation")
    nodes, tasks = _objects(p)
    b = Balancer(nodes, objective="gpu_allocation", policy=policy, seed=3, workload=tasks)
    for i, t in enumerate(tasks):
        b.submit(t, now=i)
        b.dispatch(now=i)
    run = gpushare.run_policy(p, policy, seed=3)
    x = [p.node_names.index(b.running[t]) if t in b.running else -1 for t in p.task_names]
    assert x == run.x.tolist()
    masks = [sum(1 << d for d in b.devices.get(t, [])) for t in p.task_names]
    assert masks == run.devices.tolist()
    assert b.allocation == pytest.approx(run.allocation)
    assert b.queued == [t for t, j in zip(p.task_names, x) if j < 0]


def test_balancer_device_mode_events():
    from gabalance.online import Balancer, BalancerError
    from gabalance.problem import Node, Task

    nodes = [Node("a", {"cpu": 8}, gpus=1), Node("b", {"cpu": 8}, gpus=2)]
    b = Balancer(nodes, objective="gpu_allocation", policy="best_fit")
    b.submit(Task("big", demand={"cpu": 1}, gpu_milli=2000), now=0)
    b.submit(Task("s1", demand={"cpu": 1}, gpu_milli=700), now=0)
    b.submit(Task("s2", demand={"cpu": 1}, gpu_milli=700), now=0)
    assert b.dispatch(0) == [("big", "b"), ("s1", "a")]
    assert b.queued == ["s2"] and b.allocation == pytest.approx(2.7 / 3)
    assert b.dispatch(1) == []                     # nothing freed: s2 keeps waiting
    b.finished("s1", now=2)
    assert b.dispatch(2) == [("s2", "a")] and b.done == {"s1": "a"}
    assert b.devices == {"big": [0, 1], "s2": [0]}
    assert b.remove_node("b", now=3) == ["big"] and b.queued == ["big"]
    b.add_node(Node("c", {"cpu": 8}, gpus=4), now=4)
    assert b.dispatch(4) == [("big", "c")] and b.devices["big"] == [0, 1]
    b.failed("big", now=5)
    assert b.queued == ["big"] and b.failures == {"big": 1}
    with pytest.raises(BalancerError, match="task 'huge' fits no node"):
        b.submit(Task("huge", demand={"cpu": 1}, gpu_milli=8000), now=6)
    with pytest.raises(BalancerError, match="gpu_milli of task 'odd'"):
        b.submit(Task("odd", gpu_milli=1500), now=6)
    with pytest.raises(BalancerError, match="unknown policy 'fdg'"):
        Balancer(nodes, objective="gpu_allocation", policy="fdg")
    with pytest.raises(BalancerError, match="only kept with objective 'gpu_allocation'"):
        _ = Balancer(nodes).allocation

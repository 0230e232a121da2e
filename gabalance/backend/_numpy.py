"""The readable reference backend: NumPy, vectorised over the population where that is clear.

Placement is fully vectorised; the schedule decoder loops over individuals and follows
docs/model.md step by step (a heap of ready tasks, a step profile per node).
"""

from __future__ import annotations

import heapq
from typing import Any

import numpy as np

from gabalance.backend import Packed
from gabalance.profile import NodeProfile


def _runtime(pk: Packed, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    if pk.has_runtime:
        return pk.runtime[tasks, nodes]
    return pk.duration[tasks] / pk.speed[nodes]


def _demand(pk: Packed, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Demand of each (task, node) pair, shape ``tasks.shape + (K,)``."""
    per_node = pk.demand3.shape[1] > 1
    return pk.demand3[tasks, nodes if per_node else 0]


def _allowed(pk: Packed, tasks: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    ok = pk.group_ok[pk.task_group[tasks], nodes]
    if pk.has_runtime:
        ok &= np.isfinite(pk.runtime[tasks, nodes])
    ok &= np.all(_demand(pk, tasks, nodes) <= pk.capacity[nodes], axis=-1)
    return ok


def _in_order(terms: np.ndarray) -> np.ndarray:
    """Row sums (P, n) -> (P,) added left to right, as the kernels add them (``sum`` pairs)."""
    if terms.shape[1] == 0:
        return np.zeros(terms.shape[0], terms.dtype)
    return np.cumsum(terms, axis=1)[:, -1]


def placement(pk: Packed, pop: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray]:
    """Placement objective and violation of every individual; ``pop`` is (P, N) int32."""
    # extreme float data overflow to inf (and inf - inf to nan) silently, as in the kernels
    with np.errstate(over="ignore", invalid="ignore"):
        return _placement(pk, pop, code)


def _placement(pk: Packed, pop: np.ndarray, code: int) -> tuple[np.ndarray, np.ndarray]:
    P, N = pop.shape
    M, K = pk.capacity.shape
    tasks = np.broadcast_to(np.arange(N), (P, N))
    # loads L[p, j, k], accumulated in the data's dtype (int64 stays exact)
    load = np.zeros((P, M, K), pk.capacity.dtype)
    rows = np.broadcast_to(np.arange(P)[:, None], (P, N))
    np.add.at(load, (rows, pop), _demand(pk, tasks, pop))

    over = np.maximum(load - pk.capacity, 0)
    safe = np.where(pk.scale > 0, pk.scale, 1.0)
    violation = _in_order(np.where(pk.scale > 0, over / safe, 0.0).reshape(P, -1))
    violation = violation + (~_allowed(pk, tasks, pop)).sum(axis=1)

    if code == 0:  # cost
        if pk.has_cost:
            objective = _in_order(pk.cost[tasks, pop]).astype(np.float64)
        else:
            objective = _in_order(_runtime(pk, tasks, pop))
    elif code == 2:  # nodes_used
        used = np.zeros((P, M), bool)
        used[rows, pop] = True
        objective = used.sum(axis=1).astype(np.float64)
    else:
        positive = pk.capacity > 0
        util = np.where(positive, load / np.where(positive, pk.capacity, 1), 0.0)
        if code == 1:  # max_utilization
            util = np.where(~positive & (load > 0), np.inf, util)
            objective = util.reshape(P, -1).max(axis=1) if M * K else np.zeros(P)
        else:  # imbalance: population std over the pairs with positive capacity, two passes
            values = util[:, positive]
            count = values.shape[1]
            if count:
                mean = _in_order(values) / count
                objective = np.sqrt(_in_order((values - mean[:, None]) ** 2) / count)
            else:
                objective = np.zeros(P)
    return objective.astype(np.float64), violation.astype(np.float64)


def decode_one(pk: Packed, x: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Serial schedule generation for one individual: (start (N,), finish (N,), violation)."""
    N = x.shape[0]
    K = pk.capacity.shape[1]
    tasks = np.arange(N)
    # per-task facts for this assignment, as Python lists (the loop below is scalar work)
    allowed = _allowed(pk, tasks, x).tolist()
    length = _runtime(pk, tasks, x).tolist()
    need = _demand(pk, tasks, x).tolist()
    capacity = pk.capacity.tolist()
    node, keys, release = x.tolist(), key.tolist(), pk.release.tolist()
    pred_ptr, pred_src, pred_data = (pk.pred_ptr.tolist(), pk.pred_src.tolist(),
                                     pk.pred_data.tolist())
    succ_ptr, succ_dst = pk.succ_ptr.tolist(), pk.succ_dst.tolist()
    bw = pk.bw.tolist()

    start = [0.0] * N
    finish = [0.0] * N
    violation = 0
    waiting = [pred_ptr[i + 1] - pred_ptr[i] for i in range(N)]  # unscheduled predecessors
    ready = [(keys[i], i) for i in range(N) if waiting[i] == 0]
    heapq.heapify(ready)
    profiles: dict[int, NodeProfile] = {}
    while ready:
        _, i = heapq.heappop(ready)
        j = node[i]
        r = release[i]
        for e in range(pred_ptr[i], pred_ptr[i + 1]):
            q = pred_src[e]
            transfer = 0.0
            if node[q] != j and pred_data[e] != 0:
                transfer = pred_data[e] / (bw[node[q]][j] if pk.bw_matrix else bw[0][0])
            r = max(r, finish[q] + transfer)
        if not allowed[i]:
            violation += 1
            t = r
        elif length[i] == 0:
            t = r
        else:
            prof = profiles.setdefault(j, NodeProfile(K))
            t = prof.earliest_start(r, length[i], need[i], capacity[j])
            prof.occupy(t, t + length[i], need[i])
        start[i], finish[i] = t, t + length[i]
        for e in range(succ_ptr[i], succ_ptr[i + 1]):
            s = succ_dst[e]
            waiting[s] -= 1
            if waiting[s] == 0:
                heapq.heappush(ready, (keys[s], s))
    return np.array(start), np.array(finish), violation


def schedule(pk: Packed, pop: np.ndarray, keys: np.ndarray, code: int, rows: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Decode every individual; start/finish (len(rows), N) for the individuals in ``rows``."""
    P, N = pop.shape
    objective = np.zeros(P)
    violation = np.zeros(P)
    start = np.zeros((len(rows), N))
    finish = np.zeros((len(rows), N))
    where = {int(p): r for r, p in enumerate(rows)}
    for p in range(P):
        s, f, v = decode_one(pk, pop[p], keys[p])
        violation[p] = v
        if code == 0:
            objective[p] = f.max()
        else:
            total = 0.0
            for i in range(N):
                total += pk.weight[i] * f[i]
            objective[p] = total
        if p in where:
            start[where[p]], finish[where[p]] = s, f
    return objective, violation, start, finish


# --------------------------------------------------------------------------- repair and search
# Per individual, in the order the caller drew; candidate nodes are compared as vectors. The
# rule for every move (and every tie: lowest node index, then earliest task in the order) is
# the one written out in docs/search.md and mirrored by the Numba kernel.


class _Placement:
    """One individual's loads and the per-node quantities the moves compare."""

    def __init__(self, pk: Packed, x: np.ndarray, ok: np.ndarray, sign: float) -> None:
        self.pk, self.x, self.ok = pk, x, ok
        N = len(x)
        M = pk.capacity.shape[0]
        self.per = pk.demand3.shape[1] > 1
        self.load = np.zeros(pk.capacity.shape, pk.capacity.dtype)
        for i in range(N):
            self.load[x[i]] += self.d(i)[x[i]]
        if pk.has_cost:
            self.score = sign * pk.cost.astype(np.float64)
        elif pk.has_runtime:
            self.score = sign * pk.runtime
        else:
            self.score = sign * (pk.duration[:, None] / pk.speed[None, :])
        self.nodes = np.arange(M)

    def d(self, i: int) -> np.ndarray:
        """(M, K) demand of task i on every node."""
        row = self.pk.demand3[i]
        return row if self.per else np.broadcast_to(row, self.pk.capacity.shape)

    def fits(self, i: int) -> np.ndarray:
        return np.all(self.load + self.d(i) <= self.pk.capacity, axis=1)

    def over(self, j: int) -> bool:
        return bool(np.any(self.load[j] > self.pk.capacity[j]))

    def overflow(self, load: np.ndarray, nodes: Any = slice(None)) -> np.ndarray:
        """Scaled overload of each row of ``load`` (n, K), the loads of ``nodes`` (default
        all), added over k left to right."""
        cap = self.pk.capacity[nodes]
        total = np.zeros(load.shape[:-1])
        for k in range(load.shape[-1]):
            over = load[..., k] - cap[..., k]
            if self.pk.scale[k] > 0:
                total = total + np.where(over > 0, over / self.pk.scale[k], 0.0)
        return total

    def util(self, load: np.ndarray, nodes: Any = slice(None)) -> np.ndarray:
        """Largest utilization of ``nodes`` (default all) for their loads ``load`` (n, K)."""
        cap = self.pk.capacity[nodes]
        best = np.zeros(load.shape[0])
        with np.errstate(divide="ignore", invalid="ignore"):
            for k in range(load.shape[1]):
                u = np.where(cap[:, k] > 0, load[:, k] / np.where(cap[:, k] > 0, cap[:, k], 1),
                             np.where(load[:, k] > 0, np.inf, 0.0))
                best = np.maximum(best, u)
        return best

    def move(self, i: int, j: int) -> None:
        src = self.x[i]
        self.load[src] -= self.d(i)[src]
        self.load[j] += self.d(i)[j]
        self.x[i] = j


def _first_min(values: np.ndarray) -> int:
    """Index of the first smallest finite value, or -1."""
    if not np.isfinite(values).any():
        return -1
    return int(np.argmin(values))


def _improve_one(pk: Packed, x: np.ndarray, order: np.ndarray, ok: np.ndarray, code: int,
                 sign: float, passes: int, weight: float = 0.0) -> None:
    s = _Placement(pk, x, ok, sign)
    N = len(x)
    cap = pk.capacity
    # 1. eligibility
    for i in order:
        if ok[i, x[i]]:
            continue
        added = s.overflow(s.load + s.d(i)) - s.overflow(s.load)
        sc = s.score[i] if code == 0 else s.util(s.load + s.d(i))
        cand = np.flatnonzero(ok[i])
        if len(cand):
            pick = np.lexsort((cand, sc[cand], added[cand]))[0]
            s.move(i, int(cand[pick]))
    if weight > 0:
        _penalized(s, order, weight, passes)
    # 2. capacity
    for _ in range(passes):
        moved = False
        for i in order:
            src = x[i]
            if not s.over(src):
                continue
            sc = s.score[i] if code == 0 else s.util(s.load + s.d(i))
            valid = ok[i] & s.fits(i) & (s.nodes != src)
            j = _first_min(np.where(valid, sc, np.inf))
            if j >= 0 and sc[j] < np.inf:
                s.move(i, j)
                moved = True
        if not moved:
            break
    for i in order:
        src = x[i]
        if not s.over(src):
            continue
        without = s.load[src] - s.d(i)[src]
        gain_src = s.overflow(without[None], [src])[0] - s.overflow(s.load[src][None], [src])[0]
        d = gain_src + s.overflow(s.load + s.d(i)) - s.overflow(s.load)
        d = np.where(ok[i] & (s.nodes != src), d, np.inf)
        j = _first_min(d)
        if j >= 0 and d[j] < 0:
            s.move(i, j)
    # 3. local improvement
    if code == 0:
        _improve_cost(s, order, passes)
    elif code == 1:
        for _ in range(passes * N):
            u = s.util(s.load)
            top = int(np.argmax(u)) if len(u) else 0
            u_top = u[top]
            moved = False
            for i in order:
                if x[i] != top:
                    continue
                u_src = s.util((s.load[top] - s.d(i)[top])[None], [top])[0]
                if not u_src < u_top:
                    continue
                after = s.util(s.load + s.d(i))
                valid = ok[i] & s.fits(i) & (s.nodes != top) & (after < u_top)
                j = _first_min(np.where(valid, after, np.inf))
                if j >= 0:
                    s.move(i, j)
                    moved = True
                    break
            if not moved:
                break
    elif code == 2:
        count = np.bincount(x, minlength=cap.shape[0])
        for _ in range(passes):
            improved = False
            for src in np.argsort(count, kind="mergesort"):
                if count[src] == 0:
                    continue
                saved, saved_load = x.copy(), s.load.copy()
                for i in order:
                    if x[i] != src:
                        continue
                    valid = ok[i] & s.fits(i) & (count > 0) & (s.nodes != src)
                    if not valid.any():
                        x[:] = saved
                        s.load[:] = saved_load
                        break
                    s.move(i, int(np.argmax(valid)))
                else:
                    count += np.bincount(x[saved == src], minlength=len(count))
                    count[src] = 0
                    improved = True
            if not improved:
                break
    else:
        _improve_imbalance(s, order, passes)


def _penalized(s: _Placement, order: np.ndarray, weight: float, passes: int) -> None:
    """Shift descent on score + weight * scaled overload (strategic oscillation)."""
    x = s.x
    for _ in range(passes):
        improved = False
        for i in order:
            src = x[i]
            without = s.load[src] - s.d(i)[src]
            rel = s.overflow(without[None], [src])[0] - s.overflow(s.load[src][None], [src])[0]
            d = (s.score[i] - s.score[i, src]) + weight * (
                rel + s.overflow(s.load + s.d(i)) - s.overflow(s.load))
            d = np.where(s.ok[i] & (s.nodes != src), d, np.inf)
            j = _first_min(d)
            if j >= 0 and d[j] < 0:
                s.move(int(i), j)
                improved = True
        N = len(x)
        rows = np.arange(N)
        for a in order:  # swaps, partners by index
            ja = x[a]
            jb = x.copy()
            d = (s.score[a, jb] + s.score[:, ja]) - (s.score[a, ja] + s.score[rows, jb])
            old_a = s.overflow(s.load[ja][None], [ja])[0]
            dem = np.stack([s.d(int(b)) for b in range(N)])  # (N, M, K)
            da = s.d(int(a))
            new_a = s.load[ja][None] - da[ja][None] + dem[:, ja]
            new_b = s.load[jb] - dem[rows, jb] + da[jb]
            pen = (s.overflow(new_a, [ja]) - old_a) + (
                s.overflow(new_b, jb) - s.overflow(s.load[jb], jb))
            d = d + weight * pen
            d = np.where((jb != ja) & s.ok[a, jb] & s.ok[:, ja], d, np.inf)
            b = _first_min(d)
            if b >= 0 and d[b] < 0:
                s.move(int(a), int(jb[b]))
                s.move(b, int(ja))
                improved = True
        if not improved:
            break


def _improve_cost(s: _Placement, order: np.ndarray, passes: int) -> None:
    x, ok, score = s.x, s.ok, s.score
    N = len(x)
    for _ in range(passes):
        improved = False
        for i in order:  # shift
            src = x[i]
            valid = ok[i] & (s.nodes != src) & (score[i] < score[i, src]) & s.fits(i)
            j = _first_min(np.where(valid, score[i], np.inf))
            if j >= 0:
                s.move(i, j)
                improved = True
        for a in order:  # swap: the best partner, scanned by index
            ja = x[a]
            jb = x
            d = (score[a, jb] + score[:, ja]) - (score[a, ja] + score[np.arange(N), jb])
            valid = (jb != ja) & (d < 0)
            if not valid.any():
                continue
            vb = np.flatnonzero(valid)
            jbv = jb[vb]
            da = s.d(int(a))
            db = np.stack([s.d(int(q)) for q in vb])
            cap, load = s.pk.capacity, s.load
            rows = np.arange(len(vb))
            fit_a = np.all(load[ja] - da[ja] + db[rows, ja] <= cap[ja], axis=1)
            fit_b = np.all(load[jbv] - db[rows, jbv] + da[jbv] <= cap[jbv], axis=1)
            dd = np.where(fit_a & fit_b & ok[a, jbv] & ok[vb, ja], d[vb], np.inf)
            pick = _first_min(dd)
            if pick >= 0:
                partner = int(vb[pick])
                s.move(int(a), int(jbv[pick]))
                s.move(partner, int(ja))
                improved = True
        if _chains(s, order):
            improved = True
        if not improved:
            break


def _alternatives(s: _Placement) -> tuple[np.ndarray, np.ndarray]:
    """Each task's best other allowed node with room now (-1: none) and the score change."""
    pk, x = s.pk, s.x
    N = len(x)
    d = pk.demand3 if s.per else np.broadcast_to(pk.demand3, (N, *pk.capacity.shape))
    fits = np.all(s.load[None] + d <= pk.capacity[None], axis=2)
    valid = s.ok & fits
    valid[np.arange(N), x] = False
    masked = np.where(valid, s.score, np.inf)
    node = np.argmin(masked, axis=1)
    found = np.isfinite(masked[np.arange(N), node])
    cur = s.score[np.arange(N), x]
    delta = np.where(found, masked[np.arange(N), node] - cur, np.inf)
    return np.where(found, node, -1), delta


def _chains(s: _Placement, order: np.ndarray) -> bool:
    """Ejection chains of length two: a moves to b's node j, b to its best other node."""
    x, score, cap = s.x, s.score, s.pk.capacity
    alt_node, alt_delta = _alternatives(s)
    applied = False
    for a in order:
        src = x[a]
        ca = score[a, src]
        j = x
        g = (score[a, j] - ca) + alt_delta
        valid = (j != src) & (alt_node >= 0) & (g < 0) & s.ok[a, j]
        if not valid.any():
            continue
        cand = np.flatnonzero(valid)
        jc = j[cand]
        da = s.d(int(a))[jc]
        db = np.stack([s.d(int(c))[jj] for c, jj in zip(cand, jc)])
        fit = np.all(s.load[jc] + da - db <= cap[jc], axis=1)
        pick = _first_min(np.where(fit, g[cand], np.inf))
        if pick < 0:
            continue
        b = int(cand[pick])
        target = int(x[b])
        s.move(b, int(alt_node[b]))
        s.move(int(a), target)
        applied = True
        alt_node, alt_delta = _alternatives(s)
    return applied


def _improve_imbalance(s: _Placement, order: np.ndarray, passes: int) -> None:
    """Shift moves lowering the std of utilization; scalar arithmetic in the kernel's order."""
    x, cap, load = s.x, s.pk.capacity, s.load
    M, K = cap.shape
    count = int((cap > 0).sum())
    if count == 0:
        return
    for _ in range(passes):
        improved = False
        for i in order:
            src = int(x[i])
            s1 = s2 = 0.0
            for j in range(M):
                for k in range(K):
                    if cap[j, k] > 0:
                        u = load[j, k] / cap[j, k]
                        s1 += u
                        s2 += u * u
            var0 = s2 / count - (s1 / count) ** 2
            best, b_var = -1, var0 - 1e-12 * (1.0 + abs(var0))
            d = s.d(i)
            fits = s.fits(i)
            for j in range(M):
                if j == src or not s.ok[i, j] or not fits[j]:
                    continue
                a1, a2 = s1, s2
                for k in range(K):
                    for node, sgn in ((src, -1), (j, 1)):
                        c = cap[node, k]
                        if c > 0:
                            old = load[node, k] / c
                            new = (load[node, k] + sgn * d[node, k]) / c
                            a1 += new - old
                            a2 += new * new - old * old
                var = a2 / count - (a1 / count) ** 2
                if var < b_var:
                    best, b_var = j, var
            if best >= 0:
                s.move(i, best)
                improved = True
        if not improved:
            break


def allowed_table(pk: Packed) -> np.ndarray:
    """(N, M) bool eligibility, whatever ``pk.elig_mode`` is (the reference builds it dense)."""
    N, M = pk.demand3.shape[0], pk.capacity.shape[0]
    if pk.elig_mode == 0:
        return np.ones((N, M), bool)
    if pk.elig_mode == 1:
        return pk.allowed
    tasks, nodes = np.meshgrid(np.arange(N), np.arange(M), indexing="ij")
    return _allowed(pk, tasks, nodes)


def improve_placement(pk: Packed, pop: np.ndarray, orders: np.ndarray, code: int, sign: float,
                      passes: int, weights: np.ndarray | None = None) -> None:
    """Repair and locally improve every placement in ``pop`` (P, N) int32, in place.

    ``orders`` (P, N): the order in which each individual's tasks are visited. ``sign``: 1.0
    minimises the cost objective, -1.0 maximises it. ``weights`` (P,): penalty weight of the
    oscillation phase per individual (cost objective; 0 skips it). See docs/search.md.
    """
    ok = allowed_table(pk)
    with np.errstate(over="ignore", invalid="ignore"):
        for p in range(pop.shape[0]):
            _improve_one(pk, pop[p], orders[p], ok, code, sign, passes,
                         0.0 if weights is None else float(weights[p]))


def devices(rec: Any, pop: np.ndarray, masks: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """GPU-device model (``gabalance.devices``): allocated GPU share, violation and device
    masks of every individual, vectorised over the population; tasks one after the other in
    ``rec.order``, packing devices with the canonical rule when ``masks`` is None."""
    P, N = pop.shape
    M, K = rec.capacity.shape
    rows = np.arange(P)
    load = np.zeros((P, M, K), rec.capacity.dtype)
    dev = np.zeros((P, M, rec.width + 1), np.int64)  # column `width`: scratch for no-device
    out = np.zeros((P, N), np.int64)
    alloc, viol = np.zeros(P), np.zeros(P)
    bits = np.int64(1) << np.arange(rec.width, dtype=np.int64)
    for t in rec.order:
        j = pop[:, t].astype(np.int64)
        placed = j >= 0
        viol += (~placed & ~rec.may_wait[t]).astype(float)
        jj = np.where(placed, j, 0)
        load[rows[placed], jj[placed]] += rec.demand[t]
        viol += (placed & ~rec.group_ok[rec.task_group[t], jj]).astype(float)
        if rec.gpu[t] == 0:
            continue
        alloc += np.where(placed, rec.weight[t] * rec.gpu[t], 0.0)
        n_dev = rec.gpus[jj]
        ok = placed & (rec.need[t] <= n_dev)
        viol += (placed & ~ok).astype(float)
        share = int(rec.gpu[t]) if rec.gpu[t] < 1000 else 0
        inside = np.arange(rec.width)[None, :] < n_dev[:, None]  # (P, width)
        state = dev[rows, jj, :rec.width]  # (P, width) loads of each individual's node
        if masks is not None:
            m = masks[:, t].astype(np.int64)
            chosen = (m[:, None] & bits[None, :]) != 0
            outside = (m >> np.minimum(n_dev, 63)) != 0  # a bit at or beyond the node's count
            good = ok & (chosen.sum(axis=1) == rec.need[t]) & ~outside
            viol += (ok & ~good).astype(float)
            ok = good
        elif share:
            left = np.where(inside, 1000 - state - share, -1)
            fits = left >= 0
            tight = np.argmin(np.where(fits, left, 10**9), axis=1)
            least = np.argmin(np.where(inside, state, 10**18), axis=1)
            pick = np.where(fits.any(axis=1), tight, least)
            chosen = np.zeros((P, rec.width), bool)
            chosen[rows, pick] = True
        else:
            chosen = np.zeros((P, rec.width), bool)
            free = inside & (state == 0)
            enough = free.sum(axis=1) >= rec.need[t]
            first = free & (np.cumsum(free, axis=1) <= rec.need[t])
            # too few free: the `need` least loaded devices, ties to the lowest index
            rank = np.argsort(np.where(inside, state, 10**18), axis=1, kind="stable")
            least = np.zeros((P, rec.width), bool)
            np.put_along_axis(least, rank[:, :rec.need[t]], True, axis=1)
            chosen = np.where(enough[:, None], first, least)
        chosen &= ok[:, None]
        out[:, t] = (chosen * bits[None, :]).sum(axis=1)
        amount = share if share else 1000
        dev[rows, jj, :rec.width] += chosen * amount
    for node in range(M):
        for k in range(K):
            over = load[:, node, k] - rec.capacity[node, k]
            if rec.scale[k] > 0:
                viol += np.where(over > 0, over / rec.scale[k], 0.0)
    for node in range(M):
        for d in range(int(rec.gpus[node])):
            over = dev[:, node, d] - 1000
            viol += np.where(over > 0, over / 1000, 0.0)
    return alloc / rec.total_gpu, viol, out

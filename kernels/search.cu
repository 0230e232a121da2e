// Incremental local search for the cost objective: every individual of a population, in place.
//
// Thread mapping: one warp per individual (p = global thread index / 32, lane = index % 32)
// running exactly _search_one of gabalance/backend/_numba_search.py on its row pop[p],
// visiting the tasks in orders[p]: the same cached loads and overloads, candidate lists,
// neighbourhoods (shift, swap, ejection chain of depth two), scan orders, ties (strict <,
// first found wins), don't-look bits, node task lists (head insertion), weight updates and
// best-solution tracking, with the floating-point operations in the same order (compile with
// --fmad=false), so the moves are those of the Numba kernel for integer and float data.
// Every Numba helper has a __device__ twin below, named after it (_over_of -> over_of, ...).
//
// The lanes split the neighbourhood scan of each move (best_move: lane r prices shift
// candidate r, r + 32, ..., and swap / chain candidate r with every task on its node), each
// keeping its best (lowest delta, then earliest position in the sequential scan order), and
// a shuffle reduction picks the warp's best with the same tie rule: the move the sequential
// scan finds. Copies of the solution and the weight updates are split over the lanes too;
// the move itself, which changes the shared state, is made by lane 0, and the warp
// synchronises (__syncwarp) before reading that state again. The scalars every lane needs
// (cost, overloaded-node count) are lane 0's, broadcast by shuffles.
//
// Arguments (see KERNELS["gb_search_cost"] in gabalance/backend/_launch.py), the fields of
// gabalance.backend._numba_search.CostRecord first:
//   pop (P, N) int32, read and rewritten with the best solution found; orders (P, N) int64;
//   capacity (M, K) data_t; demand (N, Md, K) data_t, Md = 1 (per task) or M (per node);
//   scale (K,) float64; score (N, M) float64, the signed cost; cand (N, L) int64 candidate
//   nodes per task, best first, padded with -1; allowed (N, M) bytes;
//   w0 (P,) float64 starting penalty weight; unit float64 (weights never fall below
//   0.01 * unit); rounds, passes, wide, deep as search_cost; moves (P,) int64 out.
//
// Scratch, one row per individual:
//   load  (P, M * K) data_t   node loads
//   over  (P, M)     float64  scaled overload of each node (0 on a node within capacity)
//   w     (P, M)     float64  penalty weight of each node
//   head  (P, M)     int32    first task of each node's list
//   nxt   (P, N)     int32    next task on the same node (-1 ends the list)
//   prv   (P, N)     int32    previous task on the same node
//   dirty (P, N)     bytes    don't-look bits (1: look at the task again)
//   best  (P, N)     int32    best solution seen
#include "common.cuh"

namespace {

// The module constants of _numba_search.
constexpr double TOL = 1e-9;
constexpr double UP = 2.0;
constexpr double DOWN = 0.7;

// The record as every helper reads it (CostRecord).
struct Rec {
    int N, M, K, Md, L;
    const data_t* capacity;
    const data_t* demand;
    const double* scale;
    const double* score;
    const i64* cand;
    const u8* allowed;
};

// demand3[i, j if per else 0, k]
__device__ __forceinline__ data_t dem(const Rec& q, int i, int j, int k) {
    return q.demand[((i64)i * q.Md + (q.Md > 1 ? j : 0)) * q.K + k];
}

__device__ __forceinline__ data_t cap(const Rec& q, int j, int k) {
    return q.capacity[(i64)j * q.K + k];
}

__device__ __forceinline__ double score(const Rec& q, int i, int j) {
    return q.score[(i64)i * q.M + j];
}

__device__ __forceinline__ int cand(const Rec& q, int i, int r) {
    return (int)q.cand[(i64)i * q.L + r];
}

__device__ __forceinline__ bool allowed(const Rec& q, int i, int j) {
    return q.allowed[(i64)i * q.M + j] != 0;
}

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

// Scaled overload of node j.
__device__ __forceinline__ double over_of(const Rec& q, const data_t* load, int j) {
    double total = 0.0;
    for (int k = 0; k < q.K; ++k) {
        const data_t o = load[(i64)j * q.K + k] - cap(q, j, k);
        if (o > 0 && q.scale[k] > 0) total += (double)o / q.scale[k];
    }
    return total;
}

// over_j after task `out` (or -1) leaves node j and task `into` (or -1) arrives.
__device__ __forceinline__ double over_change(const Rec& q, const data_t* load, int j, int out,
                                              int into) {
    double total = 0.0;
    for (int k = 0; k < q.K; ++k) {
        data_t v = load[(i64)j * q.K + k];
        if (out >= 0) v = v - dem(q, out, j, k);
        if (into >= 0) v = v + dem(q, into, j, k);
        const data_t o = v - cap(q, j, k);
        if (o > 0 && q.scale[k] > 0) total += (double)o / q.scale[k];
    }
    return total;
}

// Move task i to node j, updating loads, overloads and the overloaded-node count.
__device__ int shift(const Rec& q, int* x, data_t* load, double* over, int nbad, int i,
                     int j) {
    const int K = q.K;
    const int s = x[i];
    for (int k = 0; k < K; ++k) {
        load[(i64)s * K + k] -= dem(q, i, s, k);
        load[(i64)j * K + k] += dem(q, i, j, k);
    }
    x[i] = j;
    for (int side = 0; side < 2; ++side) {
        const int n = side == 0 ? s : j;
        const bool was = over[n] > 0;
        over[n] = over_of(q, load, n);
        bool bad = false;
        for (int k = 0; k < K; ++k)
            if (load[(i64)n * K + k] > cap(q, n, k)) bad = true;
        if (bad && !was)
            nbad += 1;
        else if (was && !bad)
            nbad -= 1;
        if (!bad) over[n] = 0.0;
    }
    return nbad;
}

// Loads and overloads from scratch; returns the number of overloaded nodes.
__device__ int state(const Rec& q, const int* x, data_t* load, double* over) {
    const int N = q.N, M = q.M, K = q.K;
    for (i64 r = 0; r < (i64)M * K; ++r) load[r] = 0;
    for (int i = 0; i < N; ++i)
        for (int k = 0; k < K; ++k) load[(i64)x[i] * K + k] += dem(q, i, x[i], k);
    int nbad = 0;
    for (int j = 0; j < M; ++j) {
        bool bad = false;
        for (int k = 0; k < K; ++k)
            if (load[(i64)j * K + k] > cap(q, j, k)) bad = true;
        over[j] = bad ? over_of(q, load, j) : 0.0;
        if (bad) nbad += 1;
    }
    return nbad;
}

constexpr int WARP = 32;

// Keep (d, pos, b, k) when it beats (bd, bpos): lower delta, then earlier scan position.
__device__ __forceinline__ void take(double d, i64 pos, int b, int k, double* bd, i64* bpos,
                                     int* bb, int* bk) {
    if (d < *bd || (d == *bd && pos < *bpos)) {
        *bd = d;
        *bpos = pos;
        *bb = b;
        *bk = k;
    }
}

// The best move of task i: (bb, bk) as _best_move's (b, dest). bb = -1: shift i to bk;
// bk = -1: swap i with bb; else chain: i to bb's node, bb to bk. (-1, -1) when nothing
// lowers F by more than tol. Ties: shift before swap before chain, earlier candidates first,
// then the order of the node's task list: the sequential scan position, which each lane
// records with its best and the reduction compares. Every lane returns the same move.
__device__ void best_move(const Rec& q, const int* x, const data_t* load, const double* over,
                          const double* w, const int* head, const int* nxt, int i, int wide,
                          int deep, double tol, int lane, int* out_b, int* out_k) {
    const int L = q.L;
    const int s = x[i];
    const double base = score(q, i, s);
    const double rel = w[s] * (over_change(q, load, s, i, -1) - over[s]);
    const i64 none = 0x7fffffffffffffffLL;
    double bd = -tol;
    i64 bpos = none;
    int bb = -1;
    int bk = -1;
    for (int r = lane; r < L; r += WARP) {  // shift
        const int j = cand(q, i, r);
        if (j < 0) break;  // the padding comes last
        if (j == s) continue;
        const double d = (score(q, i, j) - base) + rel
                         + w[j] * (over_change(q, load, j, -1, i) - over[j]);
        if (d < bd) {  // a lane's own candidates come in scan order
            bd = d;
            bpos = r;
            bb = -1;
            bk = j;
        }
    }
    const int n_wide = imin(L, wide);
    const int n_deep = imin(L, deep);
    for (int r = lane; r < n_wide; r += WARP) {  // swap and chain: i -> j, b -> s or k
        const int j = cand(q, i, r);
        if (j < 0) break;
        if (j == s) continue;
        const double move_i = score(q, i, j) - base;
        int b = head[j];
        i64 pos = L + (i64)r * q.N * (n_deep + 1);
        while (b >= 0) {
            const double base_b = score(q, b, j);
            const double pen_j = w[j] * (over_change(q, load, j, b, i) - over[j]);
            if (allowed(q, b, s)) {
                const double d = move_i + (score(q, b, s) - base_b) + pen_j
                                 + w[s] * (over_change(q, load, s, i, b) - over[s]);
                take(d, pos, b, -1, &bd, &bpos, &bb, &bk);
            }
            for (int t = 0; t < n_deep; ++t) {
                const int k = cand(q, b, t);
                if (k < 0) break;
                if (k == s || k == j) continue;
                const double d = move_i + (score(q, b, k) - base_b) + pen_j + rel
                                 + w[k] * (over_change(q, load, k, -1, b) - over[k]);
                take(d, pos + 1 + t, b, k, &bd, &bpos, &bb, &bk);
            }
            b = nxt[b];
            pos += n_deep + 1;
        }
    }
    for (int off = WARP / 2; off > 0; off /= 2) {  // the warp's best, ties as in the scan
        const double od = __shfl_down_sync(0xffffffffu, bd, off);
        const i64 opos = __shfl_down_sync(0xffffffffu, bpos, off);
        const int ob = __shfl_down_sync(0xffffffffu, bb, off);
        const int ok = __shfl_down_sync(0xffffffffu, bk, off);
        take(od, opos, ob, ok, &bd, &bpos, &bb, &bk);
    }
    *out_b = __shfl_sync(0xffffffffu, bb, 0);
    *out_k = __shfl_sync(0xffffffffu, bk, 0);
}

// Mark every task on node j for another look.
__device__ __forceinline__ void wake(const int* head, const int* nxt, u8* dirty, int j) {
    int b = head[j];
    while (b >= 0) {
        dirty[b] = 1;
        b = nxt[b];
    }
}

__device__ __forceinline__ void unlink(int* head, int* nxt, int* prv, int j, int i) {
    if (prv[i] >= 0)
        nxt[prv[i]] = nxt[i];
    else
        head[j] = nxt[i];
    if (nxt[i] >= 0) prv[nxt[i]] = prv[i];
    nxt[i] = -1;
    prv[i] = -1;
}

__device__ __forceinline__ void link(int* head, int* nxt, int* prv, int j, int i) {
    nxt[i] = head[j];
    prv[i] = -1;
    if (head[j] >= 0) prv[head[j]] = i;
    head[j] = i;
}

// Search from x (N,); best_x receives the result. Returns the moves made (every lane).
__device__ i64 search_one(const Rec& q, int* x, const i64* order, double w0, double unit,
                          int rounds, int passes, int wide, int deep, data_t* load,
                          double* over, double* w, int* head, int* nxt, int* prv, u8* dirty,
                          int* best_x, int lane) {
    const int N = q.N, M = q.M;
    const unsigned all = 0xffffffffu;
    int nbad = 0;
    double cost = 0.0;
    if (lane == 0) {
        // eligibility first: a task on a node it may not use goes to its first candidate
        for (int i = 0; i < N; ++i)
            if (q.L > 0 && !allowed(q, i, x[i]) && cand(q, i, 0) >= 0) x[i] = cand(q, i, 0);
        nbad = state(q, x, load, over);
        // a doubly linked list of the tasks on each node (swap and chain partners)
        for (int j = 0; j < M; ++j) head[j] = -1;
        for (int i = 0; i < N; ++i) {
            nxt[i] = -1;
            prv[i] = -1;
        }
        for (int i = N - 1; i >= 0; --i) link(head, nxt, prv, x[i], i);
        for (int i = 0; i < N; ++i) cost += score(q, i, x[i]);
    }
    nbad = __shfl_sync(all, nbad, 0);
    cost = __shfl_sync(all, cost, 0);
    for (int i = lane; i < N; i += WARP) dirty[i] = 1;
    for (int j = lane; j < M; j += WARP) w[j] = w0;
    __syncwarp();
    const double floor_w = 0.01 * unit;
    const double tol = TOL * (1.0 + fabs(cost) / (double)(N > 1 ? N : 1));
    for (int i = lane; i < N; i += WARP) best_x[i] = x[i];
    double best_cost = cost;
    double best_viol = 0.0;
    for (int j = 0; j < M; ++j) best_viol += over[j];
    bool best_feasible = nbad == 0;
    i64 moves = 0;
    for (int rd = 0; rd < rounds; ++rd) {
        for (int ps = 0; ps < passes; ++ps) {
            bool improved = false;
            for (int t = 0; t < N; ++t) {
                const int i = (int)order[t];
                if (!dirty[i]) continue;
                int b, k;
                best_move(q, x, load, over, w, head, nxt, i, wide, deep, tol, lane, &b, &k);
                __syncwarp();  // every lane has read the state before lane 0 changes it
                if (b < 0 && k < 0) {
                    if (lane == 0) dirty[i] = 0;
                    __syncwarp();
                    continue;
                }
                if (lane == 0) {
                    const int s = x[i];
                    if (b < 0) {  // shift i -> k
                        cost += score(q, i, k) - score(q, i, s);
                        unlink(head, nxt, prv, s, i);
                        nbad = shift(q, x, load, over, nbad, i, k);
                        link(head, nxt, prv, k, i);
                        wake(head, nxt, dirty, s);
                        wake(head, nxt, dirty, k);
                    } else {  // b leaves j (for s, or for k), i takes its place
                        const int j = x[b];
                        const int dest = k < 0 ? s : k;
                        cost += (score(q, i, j) - score(q, i, s))
                                + (score(q, b, dest) - score(q, b, j));
                        unlink(head, nxt, prv, j, b);
                        nbad = shift(q, x, load, over, nbad, b, dest);
                        link(head, nxt, prv, dest, b);
                        unlink(head, nxt, prv, s, i);
                        nbad = shift(q, x, load, over, nbad, i, j);
                        link(head, nxt, prv, j, i);
                        wake(head, nxt, dirty, s);
                        wake(head, nxt, dirty, j);
                        wake(head, nxt, dirty, dest);
                    }
                }
                cost = __shfl_sync(all, cost, 0);
                nbad = __shfl_sync(all, nbad, 0);
                __syncwarp();
                improved = true;
                moves += 1;
                if (nbad == 0 && (!best_feasible || cost < best_cost)) {
                    for (int e = lane; e < N; e += WARP) best_x[e] = x[e];
                    best_cost = cost;
                    best_viol = 0.0;
                    best_feasible = true;
                }
            }
            if (!best_feasible) {
                double viol = 0.0;
                for (int j = 0; j < M; ++j) viol += over[j];
                if (viol < best_viol || (viol == best_viol && cost < best_cost)) {
                    for (int e = lane; e < N; e += WARP) best_x[e] = x[e];
                    best_cost = cost;
                    best_viol = viol;
                }
            }
            if (!improved) break;
        }
        // a local optimum of F: adapt the weights (strategic oscillation) and wake the tasks
        // on the nodes whose weight changed; the nodes are split over the lanes (each node's
        // weight depends on itself alone, and waking only sets bits)
        __syncwarp();
        if (nbad > 0) {
            for (int j = lane; j < M; j += WARP)
                if (over[j] > 0) {
                    // max(w[j], floor): the first argument unless the second is larger
                    w[j] = (floor_w > w[j] ? floor_w : w[j]) * UP;
                    wake(head, nxt, dirty, j);
                }
        } else {
            for (int j = lane; j < M; j += WARP)
                if (w[j] > floor_w) {
                    const double down = w[j] * DOWN;
                    w[j] = down > floor_w ? down : floor_w;  // max(floor, w[j] * DOWN)
                    wake(head, nxt, dirty, j);
                }
        }
        __syncwarp();
    }
    return moves;
}

}  // namespace

extern "C" __global__ void gb_search_cost(
    int* __restrict__ pop, const i64* __restrict__ orders, int P, int N, int M, int K, int Md,
    int L, const data_t* __restrict__ capacity, const data_t* __restrict__ demand,
    const double* __restrict__ scale, const double* __restrict__ score_nm,
    const i64* __restrict__ cand_nl, const u8* __restrict__ allowed_nm,
    const double* __restrict__ w0, double unit, int rounds, int passes, int wide, int deep,
    i64* __restrict__ moves, data_t* __restrict__ load_all, double* __restrict__ over_all,
    double* __restrict__ w_all, int* __restrict__ head_all, int* __restrict__ nxt_all,
    int* __restrict__ prv_all, u8* __restrict__ dirty_all, int* __restrict__ best_all) {
    const i64 g = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    const int p = (int)(g / WARP), lane = (int)(g % WARP);
    if (p >= P) return;  // whole warps: the launch has 32 threads per individual
    const Rec q = {N, M, K, Md, L, capacity, demand, scale, score_nm, cand_nl, allowed_nm};
    int* x = pop + (i64)p * N;
    int* best = best_all + (i64)p * N;
    const i64 m = search_one(q, x, orders + (i64)p * N, w0[p], unit, rounds, passes, wide,
                             deep, load_all + (i64)p * M * K, over_all + (i64)p * M,
                             w_all + (i64)p * M, head_all + (i64)p * M, nxt_all + (i64)p * N,
                             prv_all + (i64)p * N, dirty_all + (i64)p * N, best, lane);
    __syncwarp();
    if (lane == 0) moves[p] = m;
    for (int i = lane; i < N; i += WARP) x[i] = best[i];
}

// Placement repair and local improvement: every individual of a population, in place.
//
// Thread mapping: one warp per individual (p = global thread index / 32, lane = index % 32)
// running exactly _improve_one of gabalance/backend/_numba.py on its row pop[p], visiting
// the tasks in orders[p]: the same phases, candidates, scan orders, ties and float
// operations in the same order (compile with --fmad=false), so the moves - decisions taken
// on comparisons of sums - are those of the CPU backends, for integer and float data. Every
// Numba helper has a __device__ twin below, named after it (_overflow -> overflow, ...).
//
// The O(N^2) scans of the cost objective (swap partners, ejection-chain partners, the
// oscillation phase's swaps, and every task's alternative node) are split over the lanes:
// lane l takes partners l, l + 32, ..., keeps its best by (delta, index), and a shuffle
// reduction picks the warp's best with the sequential rule (lowest delta, then lowest
// index: the first found by a strict <). Lane 0 makes every move; the warp synchronises
// before the state is read again. The phases with O(N * M) scans run on lane 0 alone.
//
// Arguments (see KERNELS["gb_improve_placement"] in gabalance/backend/_launch.py):
//   pop (P, N) int32, read and rewritten; orders (P, N) int64, read only;
//   demand_t: node-major copy of demand (M, N, K) when Md > 1 (unused when Md == 1);
//   score (N, M) / score_t (M, N) float64: sign * cost (or runtime), (1, 1) when has_score
//   is 0 (scores are then sign * duration / speed); weights (P,) float64: the penalty weight
//   of the oscillation phase per individual (0 skips it); sign: 1 minimises, -1 maximises.
//
// Scratch, one row per individual, each used only by the objective that needs it (the
// others may be given as (1, 1) arrays):
//   load        (P, M * K) data_t  node loads, always
//   saved_load  (P, M * K) data_t  loads before trying to empty a node      (code 2)
//   saved       (P, N)     int32   assignment before trying to empty a node (code 2)
//   count       (P, M)     int64   tasks per node                           (code 2)
//   sorted      (P, M)     int32   nodes by increasing count, stable        (code 2)
//   cur         (P, N)     float64 current score of each task, swap moves   (code 0)
//   alt_node    (P, N)     int32   best other node with room, chain moves   (code 0)
//   alt_sc      (P, N)     float64 its score                                (code 0)
//   alt_delta   (P, N)     float64 its score change                         (code 0)
//
// Objective codes: 0 cost, 1 max_utilization, 2 nodes_used, 3 imbalance.
#include "common.cuh"

namespace {

// The problem as every helper reads it.
struct Prob {
    int N, M, K, Md;
    const data_t* capacity;
    const data_t* demand;
    const data_t* demand_t;
    const double* scale;
    int has_runtime;
    const double* runtime;
    const double* duration;
    const double* speed;
    int has_score;
    const double* score;
    const double* score_t;
    int elig_mode;
    const u8* allowed;
    const u8* group_ok;
    const int* task_group;
    double sign;
};

// demand3[i, j if per else 0, :]
__device__ __forceinline__ const data_t* dem(const Prob& q, int i, int j) {
    return q.demand + ((i64)i * q.Md + (q.Md > 1 ? j : 0)) * q.K;
}

__device__ __forceinline__ data_t cap(const Prob& q, int j, int k) {
    return q.capacity[(i64)j * q.K + k];
}

__device__ __forceinline__ bool ok(const Prob& q, int i, int j) {
    return gb_ok(q.elig_mode, q.allowed, q.capacity, q.demand, q.Md, q.K, q.has_runtime,
                 q.runtime, q.group_ok, q.task_group, q.M, i, j);
}

// The signed cost of task i on node j: score when given, else duration / speed.
__device__ __forceinline__ double score(const Prob& q, int i, int j) {
    if (q.has_score) return q.score[(i64)i * q.M + j];
    return q.sign * (q.duration[i] / q.speed[j]);
}

__device__ __forceinline__ bool fits(const Prob& q, const data_t* load, int i, int j) {
    const data_t* d = dem(q, i, j);
    for (int k = 0; k < q.K; ++k)
        if (load[(i64)j * q.K + k] + d[k] > cap(q, j, k)) return false;
    return true;
}

__device__ __forceinline__ void move(const Prob& q, data_t* load, int* x, int i, int j) {
    const int src = x[i];
    const data_t* ds = dem(q, i, src);
    const data_t* dj = dem(q, i, j);
    for (int k = 0; k < q.K; ++k) {
        load[(i64)src * q.K + k] -= ds[k];
        load[(i64)j * q.K + k] += dj[k];
    }
    x[i] = j;
}

__device__ __forceinline__ bool over(const Prob& q, const data_t* load, int j) {
    for (int k = 0; k < q.K; ++k)
        if (load[(i64)j * q.K + k] > cap(q, j, k)) return true;
    return false;
}

// Scaled overload of node j after adding (sgn=1) or removing (sgn=-1) task i's demand
// (extra true), or as it is (extra false).
__device__ __forceinline__ double overflow(const Prob& q, const data_t* load, int j,
                                           bool extra, int i, int sgn) {
    double total = 0.0;
    for (int k = 0; k < q.K; ++k) {
        data_t v = load[(i64)j * q.K + k];
        if (extra) v = v + sgn * dem(q, i, j)[k];
        const data_t ov = v - cap(q, j, k);
        if (ov > 0 && q.scale[k] > 0) total += (double)ov / q.scale[k];
    }
    return total;
}

// Largest utilization of node j, with task i added (sgn=1), removed (-1) or not (0).
__device__ __forceinline__ double util(const Prob& q, const data_t* load, int j, int i,
                                       int sgn) {
    double best = 0.0;
    for (int k = 0; k < q.K; ++k) {
        data_t v = load[(i64)j * q.K + k];
        if (sgn != 0) v = v + sgn * dem(q, i, j)[k];
        const data_t c = cap(q, j, k);
        double u;
        if (c > 0) u = (double)v / (double)c;
        else if (v > 0) u = GB_INF;
        else u = 0.0;
        if (u > best) best = u;
    }
    return best;
}

// Scaled overload of node j after task `out` leaves it and task `into` arrives.
__device__ __forceinline__ double swapped_overflow(const Prob& q, const data_t* load, int j,
                                                   int out, int into) {
    const data_t* dout = dem(q, out, j);
    const data_t* din = dem(q, into, j);
    double total = 0.0;
    for (int k = 0; k < q.K; ++k) {
        const data_t ov = load[(i64)j * q.K + k] - dout[k] + din[k] - cap(q, j, k);
        if (ov > 0 && q.scale[k] > 0) total += (double)ov / q.scale[k];
    }
    return total;
}

constexpr int WARP = 32;
constexpr int NONE = 0x7fffffff;
constexpr unsigned FULL = 0xffffffffu;

// The warp's best (d, idx): lowest d, then lowest idx (NONE: no candidate); every lane
// gets it.
__device__ __forceinline__ void warp_best(double* d, int* idx) {
    for (int off = WARP / 2; off > 0; off /= 2) {
        const double od = __shfl_down_sync(FULL, *d, off);
        const int oi = __shfl_down_sync(FULL, *idx, off);
        if (od < *d || (od == *d && oi < *idx)) {
            *d = od;
            *idx = oi;
        }
    }
    *d = __shfl_sync(FULL, *d, 0);
    *idx = __shfl_sync(FULL, *idx, 0);
}

// Swap moves (cost): each task a exchanges nodes with the partner b that lowers the score
// most while both nodes keep within capacity. Returns whether a swap was made (every lane).
__device__ bool swaps(const Prob& q, int* x, const i64* order, data_t* load, double* cur,
                      int lane) {
    const int N = q.N, M = q.M, K = q.K;
    const bool per = q.Md > 1;
    for (int b = lane; b < N; b += WARP) cur[b] = score(q, b, x[b]);
    __syncwarp();
    bool swapped = false;
    for (int ta = 0; ta < N; ++ta) {
        const int a = (int)order[ta];
        const int ja = x[a];
        const double ca = cur[a];
        int best = NONE;
        double b_d = 0.0;
        for (int b = lane; b < N; b += WARP) {
            const int jb = x[b];
            if (jb == ja) continue;
            double d;
            if (q.has_score)
                d = (q.score[(i64)a * M + jb] + q.score_t[(i64)ja * N + b]) - (ca + cur[b]);
            else
                d = (q.sign * (q.duration[a] / q.speed[jb])
                     + q.sign * (q.duration[b] / q.speed[ja])) - (ca + cur[b]);
            if (d < b_d) {
                bool fit = true;
                for (int k = 0; k < K; ++k) {
                    data_t da_a, da_b, db_b, db_a;
                    if (per) {
                        da_a = q.demand[((i64)a * M + ja) * K + k];
                        da_b = q.demand_t[((i64)ja * N + b) * K + k];
                        db_b = q.demand_t[((i64)jb * N + b) * K + k];
                        db_a = q.demand[((i64)a * M + jb) * K + k];
                    } else {
                        da_a = q.demand[(i64)a * K + k];
                        da_b = q.demand[(i64)b * K + k];
                        db_b = q.demand[(i64)b * K + k];
                        db_a = q.demand[(i64)a * K + k];
                    }
                    if (load[(i64)ja * K + k] - da_a + da_b > cap(q, ja, k)
                        || load[(i64)jb * K + k] - db_b + db_a > cap(q, jb, k)) {
                        fit = false;
                        break;
                    }
                }
                if (fit && ok(q, a, jb) && ok(q, b, ja)) {
                    best = b;
                    b_d = d;
                }
            }
        }
        warp_best(&b_d, &best);
        if (best != NONE) {
            if (lane == 0) {
                const int jb = x[best];
                move(q, load, x, a, jb);
                move(q, load, x, best, ja);
                cur[a] = score(q, a, jb);
                cur[best] = score(q, best, ja);
            }
            __syncwarp();
            swapped = true;
        }
    }
    return swapped;
}

// Shift and swap descent on score + weight * scaled overload (oscillation phase): the
// shifts on lane 0, the swap partners over the lanes.
__device__ void penalized(const Prob& q, int* x, const i64* order, data_t* load,
                          double weight, int passes, int lane) {
    const int N = q.N, M = q.M;
    for (int it = 0; it < passes; ++it) {
        int improved = 0;
        if (lane == 0) {
            for (int t = 0; t < N; ++t) {
                const int i = (int)order[t];
                const int src = x[i];
                const double base = score(q, i, src);
                const double rel = overflow(q, load, src, true, i, -1)
                                   - overflow(q, load, src, false, i, 0);
                int best = -1;
                double b_d = 0.0;
                for (int j = 0; j < M; ++j) {
                    if (j == src || !ok(q, i, j)) continue;
                    const double d = (score(q, i, j) - base)
                                     + weight * (rel + overflow(q, load, j, true, i, 1)
                                                 - overflow(q, load, j, false, i, 0));
                    if (d < b_d) {
                        best = j;
                        b_d = d;
                    }
                }
                if (best >= 0) {
                    move(q, load, x, i, best);
                    improved = 1;
                }
            }
        }
        __syncwarp();  // lane 0's moves are seen by every lane
        improved = __shfl_sync(FULL, improved, 0);
        for (int t = 0; t < N; ++t) {  // swaps, partners by index
            const int a = (int)order[t];
            const int ja = x[a];
            const double ca = score(q, a, ja);
            const double old_a = overflow(q, load, ja, false, a, 0);
            int best = NONE;
            double b_d = 0.0;
            for (int b = lane; b < N; b += WARP) {
                const int jb = x[b];
                if (jb == ja) continue;
                double d = (score(q, a, jb) + score(q, b, ja)) - (ca + score(q, b, jb));
                const double pen = (swapped_overflow(q, load, ja, a, b) - old_a)
                                   + (swapped_overflow(q, load, jb, b, a)
                                      - overflow(q, load, jb, false, b, 0));
                d = d + weight * pen;
                if (d < b_d && ok(q, a, jb) && ok(q, b, ja)) {
                    best = b;
                    b_d = d;
                }
            }
            warp_best(&b_d, &best);
            if (best != NONE) {
                if (lane == 0) {
                    const int jb = x[best];
                    move(q, load, x, a, jb);
                    move(q, load, x, best, ja);
                }
                __syncwarp();
                improved = 1;
            }
        }
        if (!improved) break;
    }
}

// Task b's best other allowed node with room now, its score and the score change.
__device__ void alternative(const Prob& q, int b, const int* x, const data_t* load,
                            int* alt_node, double* alt_sc, double* alt_delta) {
    const double cur = score(q, b, x[b]);
    int best = -1;
    double b_sc = GB_INF;
    for (int j = 0; j < q.M; ++j) {
        if (j == x[b] || !ok(q, b, j)) continue;
        const double sc = score(q, b, j);
        if (sc < b_sc && fits(q, load, b, j)) {
            best = j;
            b_sc = sc;
        }
    }
    alt_node[b] = best;
    alt_sc[b] = b_sc;
    alt_delta[b] = best >= 0 ? b_sc - cur : GB_INF;
}

// Ejection chains of length two: task a moves to the node j of task b, and b leaves j for
// its best other node with room. Returns whether a chain was applied.
__device__ bool chains(const Prob& q, int* x, const i64* order, data_t* load, int* alt_node,
                       double* alt_sc, double* alt_delta, int lane) {
    const int N = q.N, K = q.K;
    for (int b = lane; b < N; b += WARP)
        alternative(q, b, x, load, alt_node, alt_sc, alt_delta);
    __syncwarp();
    bool applied = false;
    for (int ta = 0; ta < N; ++ta) {
        const int a = (int)order[ta];
        const int src = x[a];
        const double ca = score(q, a, src);
        int best = NONE;
        double b_g = 0.0;
        for (int b = lane; b < N; b += WARP) {  // partners by index: the lowest among equals
            const int j = x[b];
            if (j == src || alt_node[b] < 0) continue;
            const double g = (score(q, a, j) - ca) + alt_delta[b];
            if (g < b_g && ok(q, a, j)) {
                const data_t* da = dem(q, a, j);
                const data_t* db = dem(q, b, j);
                bool fit = true;
                for (int k = 0; k < K; ++k)
                    if (load[(i64)j * K + k] + da[k] - db[k] > cap(q, j, k)) {
                        fit = false;
                        break;
                    }
                if (fit) {
                    best = b;
                    b_g = g;
                }
            }
        }
        warp_best(&b_g, &best);
        if (best != NONE) {
            const int j = x[best];
            const int dest = alt_node[best];
            __syncwarp();  // every lane has read them
            if (lane == 0) {
                move(q, load, x, best, dest);
                move(q, load, x, a, j);
            }
            __syncwarp();
            applied = true;
            // update the alternatives for the loads that changed (src lost a, j swapped a
            // for b, dest gained b); each lane its own tasks
            for (int t = lane; t < N; t += WARP) {
                if (t == a || t == best || alt_node[t] == dest || alt_node[t] == j) {
                    alternative(q, t, x, load, alt_node, alt_sc, alt_delta);
                    continue;
                }
                const double cur = score(q, t, x[t]);
                for (int side = 0; side < 2; ++side) {
                    const int n = side == 0 ? src : j;
                    if (n == x[t] || !ok(q, t, n)) continue;
                    const double sc = score(q, t, n);
                    const double held = alt_sc[t];
                    if ((sc < held || (sc == held && n < alt_node[t])) && fits(q, load, t, n)) {
                        alt_node[t] = n;
                        alt_sc[t] = sc;
                        alt_delta[t] = sc - cur;
                    }
                }
            }
            __syncwarp();
        }
    }
    return applied;
}

// Shift moves that lower the standard deviation of utilization (imbalance).
__device__ void improve_imbalance(const Prob& q, int* x, const i64* order, data_t* load,
                                  int passes) {
    const int N = q.N, M = q.M, K = q.K;
    int count = 0;
    for (int j = 0; j < M; ++j)
        for (int k = 0; k < K; ++k)
            if (cap(q, j, k) > 0) count += 1;
    if (count == 0) return;
    const double cnt = (double)count;
    for (int it = 0; it < passes; ++it) {
        bool improved = false;
        for (int t = 0; t < N; ++t) {
            const int i = (int)order[t];
            const int src = x[i];
            double s1 = 0.0;
            double s2 = 0.0;
            for (int j = 0; j < M; ++j)
                for (int k = 0; k < K; ++k) {
                    const data_t c = cap(q, j, k);
                    if (c > 0) {
                        const double u = (double)load[(i64)j * K + k] / (double)c;
                        s1 += u;
                        s2 += u * u;
                    }
                }
            const double m0 = s1 / cnt;
            const double var0 = s2 / cnt - m0 * m0;
            int best = -1;
            double b_var = var0 - 1e-12 * (1.0 + fabs(var0));
            for (int j = 0; j < M; ++j) {
                if (j == src || !ok(q, i, j)) continue;
                if (!fits(q, load, i, j)) continue;
                double a1 = s1;
                double a2 = s2;
                for (int k = 0; k < K; ++k)
                    for (int side = 0; side < 2; ++side) {
                        const int node = side == 0 ? src : j;
                        const int sgn = side == 0 ? -1 : 1;
                        const data_t c = cap(q, node, k);
                        if (c > 0) {
                            const data_t l = load[(i64)node * K + k];
                            const double old = (double)l / (double)c;
                            const double nw = (double)(l + sgn * dem(q, i, node)[k]) / (double)c;
                            a1 += nw - old;
                            a2 += nw * nw - old * old;
                        }
                    }
                const double m = a1 / cnt;
                const double var = a2 / cnt - m * m;
                if (var < b_var) {
                    best = j;
                    b_var = var;
                }
            }
            if (best >= 0) {
                move(q, load, x, i, best);
                improved = true;
            }
        }
        if (!improved) break;
    }
}

}  // namespace

extern "C" __global__ void gb_improve_placement(
    int* __restrict__ pop, const i64* __restrict__ orders, int P, int N, int M, int K, int Md,
    const data_t* __restrict__ capacity, const data_t* __restrict__ demand,
    const data_t* __restrict__ demand_t, const double* __restrict__ scale, int has_runtime,
    const double* __restrict__ runtime, const double* __restrict__ duration,
    const double* __restrict__ speed, int has_score, const double* __restrict__ score_nm,
    const double* __restrict__ score_t, int elig_mode, const u8* __restrict__ allowed,
    const u8* __restrict__ group_ok, const int* __restrict__ task_group, int code,
    double sign, int passes, const double* __restrict__ weights,
    data_t* __restrict__ load_all, data_t* __restrict__ saved_load_all,
    int* __restrict__ saved_all, i64* __restrict__ count_all, int* __restrict__ sorted_all,
    double* __restrict__ cur_all, int* __restrict__ alt_node_all,
    double* __restrict__ alt_sc_all, double* __restrict__ alt_delta_all) {
    const i64 g = (i64)blockIdx.x * blockDim.x + threadIdx.x;
    const int p = (int)(g / WARP), lane = (int)(g % WARP);
    if (p >= P) return;  // whole warps: the launch has 32 threads per individual
    const Prob q = {N, M, K, Md, capacity, demand, demand_t, scale, has_runtime, runtime,
                    duration, speed, has_score, score_nm, score_t, elig_mode, allowed,
                    group_ok, task_group, sign};
    int* x = pop + (i64)p * N;
    const i64* order = orders + (i64)p * N;
    data_t* load = load_all + (i64)p * M * K;
    if (lane == 0) {  // loads, eligibility: O(N * M), lane 0
        for (int r = 0; r < M * K; ++r) load[r] = 0;
        for (int i = 0; i < N; ++i) {
            const data_t* d = dem(q, i, x[i]);
            for (int k = 0; k < K; ++k) load[(i64)x[i] * K + k] += d[k];
        }
        // 1. eligibility: a task on a node it may not use goes to the allowed node with the
        //    least added overload, then the best score (cost) or the lowest utilization after
        //    the move
        for (int t = 0; t < N; ++t) {
            const int i = (int)order[t];
            if (ok(q, i, x[i])) continue;
            int best = -1;
            double b_over = GB_INF;
            double b_sc = GB_INF;
            for (int j = 0; j < M; ++j) {
                if (!ok(q, i, j)) continue;
                const double ov = overflow(q, load, j, true, i, 1)
                                   - overflow(q, load, j, false, i, 0);
                const double sc = code == 0 ? score(q, i, j) : util(q, load, j, i, 1);
                if (ov < b_over || (ov == b_over && sc < b_sc)) {
                    best = j;
                    b_over = ov;
                    b_sc = sc;
                }
            }
            if (best >= 0) move(q, load, x, i, best);
        }
    }
    __syncwarp();
    const double weight = weights[p];
    if (weight > 0) penalized(q, x, order, load, weight, passes, lane);
    if (lane == 0) {  // capacity: O(N * M), lane 0
        // 2. capacity: tasks leave overloaded nodes for allowed nodes with room (best score
        //    first), then, where nothing has room, for the node that reduces the total overload
        for (int rep = 0; rep < passes; ++rep) {
            bool moved = false;
            for (int t = 0; t < N; ++t) {
                const int i = (int)order[t];
                const int src = x[i];
                if (!over(q, load, src)) continue;
                int best = -1;
                double b_sc = GB_INF;
                for (int j = 0; j < M; ++j) {
                    if (j == src || !ok(q, i, j)) continue;
                    if (!fits(q, load, i, j)) continue;
                    const double sc = code == 0 ? score(q, i, j) : util(q, load, j, i, 1);
                    if (sc < b_sc) {
                        best = j;
                        b_sc = sc;
                    }
                }
                if (best >= 0) {
                    move(q, load, x, i, best);
                    moved = true;
                }
            }
            if (!moved) break;
        }
        for (int t = 0; t < N; ++t) {
            const int i = (int)order[t];
            const int src = x[i];
            if (!over(q, load, src)) continue;
            const double gain_src = overflow(q, load, src, true, i, -1)
                                    - overflow(q, load, src, false, i, 0);
            int best = -1;
            double b_d = 0.0;
            for (int j = 0; j < M; ++j) {
                if (j == src || !ok(q, i, j)) continue;
                const double d = gain_src + overflow(q, load, j, true, i, 1)
                                 - overflow(q, load, j, false, i, 0);
                if (d < b_d) {
                    best = j;
                    b_d = d;
                }
            }
            if (best >= 0) move(q, load, x, i, best);
        }
    }
    __syncwarp();
    // 3. local improvement that never adds overload
    if (code == 0) {
        double* cur = cur_all + (i64)p * N;
        int* alt_node = alt_node_all + (i64)p * N;
        double* alt_sc = alt_sc_all + (i64)p * N;
        double* alt_delta = alt_delta_all + (i64)p * N;
        for (int it = 0; it < passes; ++it) {
            int improved = 0;
            if (lane == 0)
            for (int t = 0; t < N; ++t) {  // shift: the best node with room (lane 0)
                const int i = (int)order[t];
                const int src = x[i];
                int best = -1;
                double b_sc = score(q, i, src);
                for (int j = 0; j < M; ++j) {
                    if (j == src || !ok(q, i, j)) continue;
                    const double sc = score(q, i, j);
                    if (sc < b_sc && fits(q, load, i, j)) {
                        best = j;
                        b_sc = sc;
                    }
                }
                if (best >= 0) {
                    move(q, load, x, i, best);
                    improved = 1;
                }
            }
            __syncwarp();  // lane 0's moves are seen by every lane
            improved = __shfl_sync(FULL, improved, 0);
            if (swaps(q, x, order, load, cur, lane)) improved = 1;
            if (chains(q, x, order, load, alt_node, alt_sc, alt_delta, lane)) improved = 1;
            if (!improved) break;
        }
    } else if (lane != 0) {
        return;  // the other objectives' improvement runs on lane 0
    } else if (code == 1) {
        for (i64 it = 0; it < (i64)passes * N; ++it) {
            int top = 0;
            double u_top = util(q, load, 0, 0, 0);
            for (int j = 1; j < M; ++j) {
                const double u = util(q, load, j, 0, 0);
                if (u > u_top) {
                    top = j;
                    u_top = u;
                }
            }
            bool found = false;
            for (int t = 0; t < N; ++t) {
                const int i = (int)order[t];
                if (x[i] != top) continue;
                const double u_src = util(q, load, top, i, -1);
                int best = -1;
                double b_u = u_top;
                for (int j = 0; j < M; ++j) {
                    if (j == top || !ok(q, i, j)) continue;
                    const double u = util(q, load, j, i, 1);
                    if (u < b_u && u_src < u_top && fits(q, load, i, j)) {
                        best = j;
                        b_u = u;
                    }
                }
                if (best >= 0) {
                    move(q, load, x, i, best);
                    found = true;
                    break;
                }
            }
            if (!found) break;
        }
    } else if (code == 2) {
        data_t* saved_load = saved_load_all + (i64)p * M * K;
        int* saved = saved_all + (i64)p * N;
        i64* count = count_all + (i64)p * M;
        int* sorted = sorted_all + (i64)p * M;
        for (int j = 0; j < M; ++j) count[j] = 0;
        for (int i = 0; i < N; ++i) count[x[i]] += 1;
        for (int it = 0; it < passes; ++it) {
            bool improved = false;
            // np.argsort(count, kind="mergesort"), taken as the pass starts: a stable
            // insertion sort (equal counts keep increasing node order)
            for (int j = 0; j < M; ++j) {
                const int v = j;
                const i64 key = count[v];
                int s = j;
                while (s > 0 && count[sorted[s - 1]] > key) {
                    sorted[s] = sorted[s - 1];
                    --s;
                }
                sorted[s] = v;
            }
            for (int r = 0; r < M; ++r) {
                const int src = sorted[r];
                if (count[src] == 0) continue;
                for (int i = 0; i < N; ++i) saved[i] = x[i];
                for (int e = 0; e < M * K; ++e) saved_load[e] = load[e];
                bool emptied = true;
                for (int t = 0; t < N; ++t) {
                    const int i = (int)order[t];
                    if (x[i] != src) continue;
                    int dest = -1;
                    for (int j = 0; j < M; ++j)
                        if (j != src && count[j] > 0 && ok(q, i, j) && fits(q, load, i, j)) {
                            dest = j;
                            break;
                        }
                    if (dest < 0) {
                        emptied = false;
                        break;
                    }
                    move(q, load, x, i, dest);
                }
                if (emptied) {
                    for (int i = 0; i < N; ++i)
                        if (saved[i] == src) count[x[i]] += 1;
                    count[src] = 0;
                    improved = true;
                } else {
                    for (int i = 0; i < N; ++i) x[i] = saved[i];
                    for (int e = 0; e < M * K; ++e) load[e] = saved_load[e];
                }
            }
            if (!improved) break;
        }
    } else {
        improve_imbalance(q, x, order, load, passes);
    }
}

// Placement evaluation: objective and violation of every individual of a population.
//
// Thread mapping: one thread per individual (p = blockIdx.x * blockDim.x + threadIdx.x)
// walking its tasks in order, the loop of the Numba kernel (_placement_kernel in
// gabalance/backend/_numba.py): every sum runs in the same order as on the CPU, so integer
// data agree exactly and float data to the last bit (no atomics, no tree reductions).
//
// Memory: the population (P, N) is row-major, so threads reading their own rows directly
// would touch N * 4 bytes apart. The block instead copies a tile of GB_TILE tasks of its
// blockDim.x rows into shared memory, consecutive threads reading consecutive tasks of one
// row (coalesced), and each thread then walks its row of the tile (rows padded by one word
// so that the threads of a warp hit different banks). Each thread's loads (M * K) and, for
// nodes_used, its used flags (M) live in shared memory when the launch gives room for them
// (`in_shared`; entry q of thread t at q * blockDim.x + t, conflict-free), else in the
// global scratch `load_all` / `used_all`, entry q of individual p at q * P + p (coalesced
// when the threads of a warp touch the same entry). The launcher (gabalance.backend._cupy)
// chooses the block size and the shared bytes (placement_shared_bytes in _launch.py).
//
// Objective codes: 0 cost, 1 max_utilization, 2 nodes_used, 3 imbalance.
#include "common.cuh"

#define GB_TILE 32

extern "C" __global__ void gb_placement(
    const int* __restrict__ pop, int P, int N, int M, int K, int Md,
    const data_t* __restrict__ capacity, const data_t* __restrict__ demand,
    const double* __restrict__ scale, int has_runtime, const double* __restrict__ runtime,
    const double* __restrict__ duration, const double* __restrict__ speed, int has_cost,
    const cost_t* __restrict__ cost, int elig_mode, const u8* __restrict__ allowed,
    const u8* __restrict__ group_ok, const int* __restrict__ task_group, int code,
    int in_shared, data_t* __restrict__ load_all, u8* __restrict__ used_all,
    double* __restrict__ out_obj, double* __restrict__ out_viol) {
    const int t = threadIdx.x, B = blockDim.x;
    const int p0 = blockIdx.x * B, p = p0 + t;
    const bool live = p < P;
    const int MK = M * K;
    // shared layout: the tile (B rows of GB_TILE + 1 ints, 8-byte aligned), then the loads
    // and the used flags when in_shared
    int* tile = (int*)GB_SHARED_BYTES;
    const i64 tile_words = ((i64)B * (GB_TILE + 1) + 1) / 2 * 2;
    data_t* load;
    u8* used;
    i64 stride;
    if (in_shared) {
        load = (data_t*)(tile + tile_words) + t;
        used = (u8*)((data_t*)(tile + tile_words) + (i64)MK * B) + t;
        stride = B;
    } else {
        load = load_all + (live ? p : 0);
        used = used_all + (live ? p : 0);
        stride = P;
    }
    if (live) {
        for (int q = 0; q < MK; ++q) load[q * stride] = 0;
        if (code == 2)
            for (int j = 0; j < M; ++j) used[j * stride] = 0;
    }
    int bad = 0;
    cost_t total = 0;
    double acc = 0.0;
    for (int i0 = 0; i0 < N; i0 += GB_TILE) {
        const int T = N - i0 < GB_TILE ? N - i0 : GB_TILE;
        __syncthreads();  // every thread is done with the previous tile
        for (int e = t; e < B * T; e += B) {
            const int r = e / T, c = e - r * T;
            tile[r * (GB_TILE + 1) + c] = p0 + r < P ? pop[(i64)(p0 + r) * N + i0 + c] : 0;
        }
        __syncthreads();
        if (!live) continue;
        const int* row = tile + t * (GB_TILE + 1);
        for (int c = 0; c < T; ++c) {
            const int i = i0 + c, j = row[c];
            const data_t* d = demand + ((i64)i * Md + (Md > 1 ? j : 0)) * K;
            for (int k = 0; k < K; ++k) load[((i64)j * K + k) * stride] += d[k];
            if (elig_mode != 0 && !gb_ok(elig_mode, allowed, capacity, demand, Md, K,
                                         has_runtime, runtime, group_ok, task_group, M, i, j))
                bad += 1;
            if (code == 0) {
                if (has_cost) total += cost[(i64)i * M + j];
                else acc += gb_runtime(has_runtime, runtime, duration, speed, M, i, j);
            } else if (code == 2) {
                used[(i64)j * stride] = 1;
            }
        }
    }
    if (!live) return;
    double viol = 0.0;
    for (int j = 0; j < M; ++j)
        for (int k = 0; k < K; ++k) {
            const data_t over = load[((i64)j * K + k) * stride] - capacity[(i64)j * K + k];
            if (over > 0 && scale[k] > 0) viol += (double)over / scale[k];
        }
    out_viol[p] = viol + bad;
    if (code == 0) {
        out_obj[p] = has_cost ? (double)total : acc;
    } else if (code == 2) {
        int count = 0;
        for (int j = 0; j < M; ++j) count += used[(i64)j * stride];
        out_obj[p] = (double)count;
    } else if (code == 1) {
        double best = 0.0;
        for (int j = 0; j < M; ++j)
            for (int k = 0; k < K; ++k) {
                const data_t c = capacity[(i64)j * K + k];
                const data_t l = load[((i64)j * K + k) * stride];
                double u;
                if (c > 0) u = (double)l / (double)c;
                else if (l > 0) u = GB_INF;
                else u = 0.0;
                if (u > best) best = u;
            }
        out_obj[p] = best;
    } else {
        double total_u = 0.0;
        int count = 0;
        for (int j = 0; j < M; ++j)
            for (int k = 0; k < K; ++k) {
                const data_t c = capacity[(i64)j * K + k];
                if (c > 0) {
                    total_u += (double)load[((i64)j * K + k) * stride] / (double)c;
                    count += 1;
                }
            }
        if (count == 0) {
            out_obj[p] = 0.0;
        } else {
            const double mean = total_u / count;
            double sq = 0.0;
            for (int j = 0; j < M; ++j)
                for (int k = 0; k < K; ++k) {
                    const data_t c = capacity[(i64)j * K + k];
                    if (c > 0) {
                        const double dev =
                            (double)load[((i64)j * K + k) * stride] / (double)c - mean;
                        sq += dev * dev;
                    }
                }
            out_obj[p] = sqrt(sq / count);
        }
    }
}

// Placement evaluation: objective and violation of every individual of a population.
//
// Thread mapping: one thread per individual (p = blockIdx.x * blockDim.x + threadIdx.x), a
// plain loop over its tasks, exactly the loop of the Numba kernel (_placement_kernel in
// gabalance/backend/_numba.py). One thread per individual keeps every sum in the same order
// as on the CPU, so integer data agree exactly and float data to the last bit (no atomics,
// no tree reductions). Each thread's loads live in its own row of the scratch buffer
// `load` (P, M * K); `used` (P, M) serves nodes_used.
//
// Objective codes: 0 cost, 1 max_utilization, 2 nodes_used, 3 imbalance.
#include "common.cuh"

extern "C" __global__ void gb_placement(
    const int* __restrict__ pop, int P, int N, int M, int K, int Md,
    const data_t* __restrict__ capacity, const data_t* __restrict__ demand,
    const double* __restrict__ scale, int has_runtime, const double* __restrict__ runtime,
    const double* __restrict__ duration, const double* __restrict__ speed, int has_cost,
    const cost_t* __restrict__ cost, int elig_mode, const u8* __restrict__ allowed,
    const u8* __restrict__ group_ok, const int* __restrict__ task_group, int code,
    data_t* __restrict__ load_all, u8* __restrict__ used_all, double* __restrict__ out_obj,
    double* __restrict__ out_viol) {
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= P) return;
    const int* x = pop + (i64)p * N;
    data_t* load = load_all + (i64)p * M * K;
    for (int q = 0; q < M * K; ++q) load[q] = 0;
    for (int i = 0; i < N; ++i) {
        const int j = x[i];
        const data_t* d = demand + ((i64)i * Md + (Md > 1 ? j : 0)) * K;
        for (int k = 0; k < K; ++k) load[(i64)j * K + k] += d[k];
    }
    int bad = 0;
    if (elig_mode != 0) {
        for (int i = 0; i < N; ++i)
            if (!gb_ok(elig_mode, allowed, capacity, demand, Md, K, has_runtime, runtime,
                       group_ok, task_group, M, i, x[i]))
                bad += 1;
    }
    double viol = 0.0;
    for (int j = 0; j < M; ++j)
        for (int k = 0; k < K; ++k) {
            const data_t over = load[(i64)j * K + k] - capacity[(i64)j * K + k];
            if (over > 0 && scale[k] > 0) viol += (double)over / scale[k];
        }
    out_viol[p] = viol + bad;
    if (code == 0) {
        if (has_cost) {
            cost_t total = 0;
            for (int i = 0; i < N; ++i) total += cost[(i64)i * M + x[i]];
            out_obj[p] = (double)total;
        } else {
            double acc = 0.0;
            for (int i = 0; i < N; ++i)
                acc += gb_runtime(has_runtime, runtime, duration, speed, M, i, x[i]);
            out_obj[p] = acc;
        }
    } else if (code == 2) {
        u8* used = used_all + (i64)p * M;
        for (int j = 0; j < M; ++j) used[j] = 0;
        for (int i = 0; i < N; ++i) used[x[i]] = 1;
        int count = 0;
        for (int j = 0; j < M; ++j) count += used[j];
        out_obj[p] = (double)count;
    } else if (code == 1) {
        double best = 0.0;
        for (int j = 0; j < M; ++j)
            for (int k = 0; k < K; ++k) {
                const data_t c = capacity[(i64)j * K + k];
                const data_t l = load[(i64)j * K + k];
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
                    total_u += (double)load[(i64)j * K + k] / (double)c;
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
                        const double dev = (double)load[(i64)j * K + k] / (double)c - mean;
                        sq += dev * dev;
                    }
                }
            out_obj[p] = sqrt(sq / count);
        }
    }
}

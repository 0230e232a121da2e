// Schedule decoding: serial schedule generation of every individual (assignment + keys), its
// objective and violation, and the start/finish times of the individuals asked for.
//
// Thread mapping: one thread per individual (p = blockIdx.x * blockDim.x + threadIdx.x)
// running exactly the loop of the Numba decoder (_decode and _schedule_kernel in
// gabalance/backend/_numba.py): the same binary heap of ready tasks (smallest key first, ties
// to the smaller task index), the same per-node step profiles split at the same breakpoints,
// the same float operations in the same order (compiled with --fmad=false), so integer data
// agree exactly and float data to the last bit.
//
// Memory: every buffer below is one row per individual, addressed by p (row-major):
//   times  (P, 2N + M) double,   usage (P, (2N + M) * K) data_t:  the per-node step
//          profiles in one pool, as in the Numba code: node j owns slots
//          base[j] .. base[j] + 2 count[j] (count[j] = tasks of this individual on node j),
//          usage[s] (K values) holding on [times[s], times[s + 1]);
//   heap_key (P, N) double, heap_idx (P, N) int: the heap of ready tasks;
//   waiting (P, N) int: unscheduled predecessors of each task;
//   nodes (P, 3M) int: base (M), nbreak (M, breakpoints in use), count (M) of every node;
//   start, finish (P, N) double: the schedule being built.
// Outputs: out_obj, out_viol (P); out_start, out_finish (R, N) filled in row row_of[p] for
// the individuals with row_of[p] >= 0.
//
// Problem arrays (see common.cuh): capacity (M, K), demand (N, Md, K), runtime (N, M) or
// duration (N) / speed (M), group_ok (G, M), task_group (N), weight and release (N);
// predecessors of task i: pred_src[pred_ptr[i] .. pred_ptr[i + 1]) with pred_data (transfer
// sizes), successors: succ_dst[succ_ptr[i] .. succ_ptr[i + 1]) (int64); bw (M, M) when
// bw_matrix, else (1, 1) holding the scalar bandwidth.
//
// Objective codes: 0 makespan (largest finish), 1 weighted completion (sum of
// weight * finish in task order).
#include "common.cuh"

// Heap order: smaller key first, equal keys by smaller task index (_less).
__device__ __forceinline__ bool gb_less(const double* hk, const int* hi, int a, int b) {
    return hk[a] < hk[b] || (hk[a] == hk[b] && hi[a] < hi[b]);
}

__device__ __forceinline__ void gb_swap(double* hk, int* hi, int a, int b) {
    const double k = hk[a];
    hk[a] = hk[b];
    hk[b] = k;
    const int i = hi[a];
    hi[a] = hi[b];
    hi[b] = i;
}

// _heap_push: returns the new size.
__device__ int gb_heap_push(double* hk, int* hi, int size, double key, int idx) {
    int c = size;
    hk[c] = key;
    hi[c] = idx;
    while (c > 0) {
        const int parent = (c - 1) / 2;
        if (gb_less(hk, hi, c, parent)) {
            gb_swap(hk, hi, c, parent);
            c = parent;
        } else {
            break;
        }
    }
    return size + 1;
}

// _heap_pop: returns the task on top, *size decremented.
__device__ int gb_heap_pop(double* hk, int* hi, int* size) {
    const int top = hi[0];
    const int n = *size - 1;
    *size = n;
    hk[0] = hk[n];
    hi[0] = hi[n];
    int c = 0;
    while (true) {
        const int left = 2 * c + 1;
        if (left >= n) break;
        int small = left;
        if (left + 1 < n && gb_less(hk, hi, left + 1, left)) small = left + 1;
        if (gb_less(hk, hi, small, c)) {
            gb_swap(hk, hi, c, small);
            c = small;
        } else {
            break;
        }
    }
    return top;
}

// _segment: index (relative to b) of the profile segment containing t.
__device__ __forceinline__ int gb_segment(const double* times, int b, int n, double t) {
    int s = 0;
    while (s + 1 < n && times[b + s + 1] <= t) s += 1;
    return s;
}

// _split: make t a breakpoint of the profile at b (*n breakpoints); returns its index.
__device__ int gb_split(double* times, data_t* usage, int K, int b, int* n, double t) {
    const int s = gb_segment(times, b, *n, t);
    if (times[b + s] == t) return s;
    for (int q = *n; q > s + 1; --q) {  // shift segments s+1.. one place right
        times[b + q] = times[b + q - 1];
        for (int k = 0; k < K; ++k)
            usage[(i64)(b + q) * K + k] = usage[(i64)(b + q - 1) * K + k];
    }
    times[b + s + 1] = t;
    for (int k = 0; k < K; ++k) usage[(i64)(b + s + 1) * K + k] = usage[(i64)(b + s) * K + k];
    *n += 1;
    return s + 1;
}

extern "C" __global__ void gb_schedule(
    const int* __restrict__ pop, const double* __restrict__ keys, int P, int N, int M, int K,
    int Md, const data_t* __restrict__ capacity, const data_t* __restrict__ demand,
    int has_runtime, const double* __restrict__ runtime, const double* __restrict__ duration,
    const double* __restrict__ speed, const u8* __restrict__ group_ok,
    const int* __restrict__ task_group, const double* __restrict__ weight,
    const double* __restrict__ release, const i64* __restrict__ pred_ptr,
    const i64* __restrict__ pred_src, const double* __restrict__ pred_data,
    const i64* __restrict__ succ_ptr, const i64* __restrict__ succ_dst, int bw_matrix,
    const double* __restrict__ bw, int code, const int* __restrict__ row_of,
    double* __restrict__ times_all, data_t* __restrict__ usage_all,
    double* __restrict__ heap_key_all, int* __restrict__ heap_idx_all,
    int* __restrict__ waiting_all, int* __restrict__ nodes_all, double* __restrict__ start_all,
    double* __restrict__ finish_all, double* __restrict__ out_obj,
    double* __restrict__ out_viol, double* __restrict__ out_start,
    double* __restrict__ out_finish) {
    const int p = blockIdx.x * blockDim.x + threadIdx.x;
    if (p >= P) return;
    const int* x = pop + (i64)p * N;
    const double* key = keys + (i64)p * N;
    const int pool = 2 * N + M;
    double* times = times_all + (i64)p * pool;
    data_t* usage = usage_all + (i64)p * pool * K;
    double* hk = heap_key_all + (i64)p * N;
    int* hi = heap_idx_all + (i64)p * N;
    int* waiting = waiting_all + (i64)p * N;
    int* base = nodes_all + (i64)p * 3 * M;
    int* nbreak = base + M;
    int* count = base + 2 * M;
    double* start = start_all + (i64)p * N;
    double* finish = finish_all + (i64)p * N;

    // per-node step profiles in one pool: node j owns slots base[j] .. base[j] + 2 count[j]
    for (int j = 0; j < M; ++j) {
        nbreak[j] = 1;
        count[j] = 0;
    }
    for (int i = 0; i < N; ++i) count[x[i]] += 1;
    int total = 0;
    for (int j = 0; j < M; ++j) {
        base[j] = total;
        total += 2 * count[j] + 1;
    }
    for (int s = 0; s < total; ++s) times[s] = 0.0;
    for (i64 q = 0; q < (i64)total * K; ++q) usage[q] = 0;
    for (int i = 0; i < N; ++i) {
        start[i] = 0.0;
        finish[i] = 0.0;
    }

    int size = 0;
    for (int i = 0; i < N; ++i) {
        waiting[i] = (int)(pred_ptr[i + 1] - pred_ptr[i]);
        if (waiting[i] == 0) size = gb_heap_push(hk, hi, size, key[i], i);
    }
    int violation = 0;
    while (size > 0) {
        const int i = gb_heap_pop(hk, hi, &size);
        const int j = x[i];
        const int jj = Md > 1 ? j : 0;
        const data_t* d = demand + ((i64)i * Md + jj) * K;
        const data_t* cap = capacity + (i64)j * K;
        double r = release[i];
        for (i64 e = pred_ptr[i]; e < pred_ptr[i + 1]; ++e) {
            const i64 q = pred_src[e];
            double tr = 0.0;
            if (x[q] != j && pred_data[e] != 0)
                tr = pred_data[e] / (bw_matrix ? bw[(i64)x[q] * M + j] : bw[0]);
            if (finish[q] + tr > r) r = finish[q] + tr;
        }
        const double length = gb_runtime(has_runtime, runtime, duration, speed, M, i, j);
        double t = r;
        if (!gb_allowed(capacity, demand, Md, K, has_runtime, runtime, group_ok, task_group, M,
                        i, j)) {
            violation += 1;
        } else if (length != 0) {
            const int b = base[j];
            int n = nbreak[j];
            int s = gb_segment(times, b, n, t);
            while (s < n && times[b + s] < t + length) {
                for (int k = 0; k < K; ++k) {
                    if (usage[(i64)(b + s) * K + k] + d[k] > cap[k]) {
                        // the last segment is empty, so this never reads past the profile
                        t = times[b + s + 1];
                        break;
                    }
                }
                s += 1;
            }
            const int a = gb_split(times, usage, K, b, &n, t);
            const int z = gb_split(times, usage, K, b, &n, t + length);
            for (int s2 = a; s2 < z; ++s2)
                for (int k = 0; k < K; ++k) usage[(i64)(b + s2) * K + k] += d[k];
            nbreak[j] = n;
        }
        start[i] = t;
        finish[i] = t + length;
        for (i64 e = succ_ptr[i]; e < succ_ptr[i + 1]; ++e) {
            const int s2 = (int)succ_dst[e];
            waiting[s2] -= 1;
            if (waiting[s2] == 0) size = gb_heap_push(hk, hi, size, key[s2], s2);
        }
    }

    out_viol[p] = (double)violation;
    if (code == 0) {
        double best = N > 0 ? finish[0] : 0.0;
        for (int i = 1; i < N; ++i)
            if (finish[i] > best) best = finish[i];
        out_obj[p] = best;
    } else {
        double acc = 0.0;
        for (int i = 0; i < N; ++i) acc += weight[i] * finish[i];
        out_obj[p] = acc;
    }
    const int row = row_of[p];
    if (row >= 0) {
        double* os = out_start + (i64)row * N;
        double* of = out_finish + (i64)row * N;
        for (int i = 0; i < N; ++i) {
            os[i] = start[i];
            of[i] = finish[i];
        }
    }
}

// Shared by every kernel of the cupy backend (gabalance/backend/_cupy.py).
//
// Compile-time choices (NVRTC options, see gabalance/backend/_launch.py):
//   GB_DATA_INT  defined: capacities, demands and loads are int64 (exact sums, as on the CPU
//                backends); otherwise float64.
//   GB_COST_INT  defined: the cost matrix is int64; otherwise float64.
// Always compile with --fmad=false: a fused multiply-add rounds differently from the
// CPU backends' separate multiply and add, and the backends must agree bit for bit.
//
// Array layouts are those of gabalance.backend.Packed, row-major (C order):
//   capacity (M, K); demand (N, Md, K) with Md = 1 (per-task demand) or M (per node);
//   runtime (N, M) when has_runtime, else duration (N) / speed (M);
//   group_ok (G, M) bytes; task_group (N) int32; allowed (N, M) bytes when elig_mode == 1.
#pragma once

#ifdef GB_DATA_INT
typedef long long data_t;
#else
typedef double data_t;
#endif

#ifdef GB_COST_INT
typedef long long cost_t;
#else
typedef double cost_t;
#endif

typedef long long i64;
typedef unsigned char u8;

#define GB_INF (__longlong_as_double(0x7ff0000000000000LL))

// The block's dynamic shared memory (size given at launch), 16-byte aligned bytes. Under the
// host shim of the tests it is the shim's per-block buffer.
#ifdef GB_HOST_SHIM
#define GB_SHARED_BYTES gb_shim_shared
#else
extern __shared__ __align__(16) unsigned char gb_shared_bytes[];
#define GB_SHARED_BYTES gb_shared_bytes
#endif

// Runtime of task i on node j.
__device__ __forceinline__ double gb_runtime(int has_runtime, const double* runtime,
                                             const double* duration, const double* speed,
                                             int M, int i, int j) {
    if (has_runtime) return runtime[(i64)i * M + j];
    return duration[i] / speed[j];
}

// Eligibility worked out from labels, runtime and the empty node's capacity.
__device__ __forceinline__ bool gb_allowed(const data_t* capacity, const data_t* demand,
                                           int Md, int K, int has_runtime,
                                           const double* runtime, const u8* group_ok,
                                           const int* task_group, int M, int i, int j) {
    if (!group_ok[(i64)task_group[i] * M + j]) return false;
    if (has_runtime && !isfinite(runtime[(i64)i * M + j])) return false;
    const int jj = Md > 1 ? j : 0;
    const data_t* d = demand + ((i64)i * Md + jj) * K;
    for (int k = 0; k < K; ++k)
        if (d[k] > capacity[(i64)j * K + k]) return false;
    return true;
}

// Eligibility by mode: 0 everywhere, 1 the dense table, 2 worked out.
__device__ __forceinline__ bool gb_ok(int elig_mode, const u8* allowed, const data_t* capacity,
                                      const data_t* demand, int Md, int K, int has_runtime,
                                      const double* runtime, const u8* group_ok,
                                      const int* task_group, int M, int i, int j) {
    if (elig_mode == 0) return true;
    if (elig_mode == 1) return allowed[(i64)i * M + j] != 0;
    return gb_allowed(capacity, demand, Md, K, has_runtime, runtime, group_ok, task_group, M,
                      i, j);
}

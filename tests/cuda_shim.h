// Host shim: compiles the kernels/*.cu sources with a C++ compiler so that kernels without
// inter-thread cooperation (one thread per individual) can be run and checked on a machine
// without a GPU. The harness (tests/cuda_host.py) sets the block and thread index, then calls
// the kernel as a plain function, once per thread.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

using std::isfinite;
using std::sqrt;

struct gb_dim3 { unsigned x, y, z; };
extern "C" {
gb_dim3 threadIdx = {0, 0, 0}, blockIdx = {0, 0, 0}, blockDim = {1, 1, 1},
        gridDim = {1, 1, 1};
void gb_shim_set(unsigned block, unsigned thread, unsigned block_dim, unsigned grid_dim) {
    blockIdx.x = block; threadIdx.x = thread; blockDim.x = block_dim; gridDim.x = grid_dim;
}
}

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__

static inline double __longlong_as_double(long long v) {
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
}

// Host shim: compiles the kernels/*.cu sources with a C++ compiler so that they can be run
// and checked on a machine without a GPU (tests/cuda_host.py builds and calls them):
//
// * kernels without inter-thread cooperation (one thread per individual) are called one
//   thread after the other, the harness setting the block and thread index;
// * cooperative kernels (block-shared memory, __syncthreads, warp shuffles) are launched
//   through gb_shim_launch: each block runs as blockDim.x fibers (stacks from makecontext,
//   switches by _setjmp / _longjmp) on one OS thread, blocks one after the other. A fiber
//   runs until it waits at a barrier (__syncthreads over the block, __syncwarp and every
//   shuffle over its warp) or returns;
//   a barrier opens when every fiber of its group that has not returned is waiting (as
//   exited threads leave barriers on the device), so early exits cannot hang the others.
//   Block-shared memory is one zeroed buffer per block.
#pragma once
#include <setjmp.h>
#include <ucontext.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <utility>
#include <vector>

#define GB_HOST_SHIM 1

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

// ---------------------------------------------------------------- cooperative blocks
struct gb_barrier { unsigned expected = 0, arrived = 0, generation = 0; };
struct gb_fiber {
    ucontext_t ctx;
    jmp_buf env;
    std::vector<char> stack;
    bool started = false, done = false;
};

static unsigned char* gb_shim_shared = nullptr;  // the block's dynamic shared memory
static gb_barrier gb_shim_block;
static std::vector<gb_barrier> gb_shim_warps;
static std::vector<gb_fiber> gb_shim_fibers;
static jmp_buf gb_shim_scheduler;
static ucontext_t gb_shim_first;  // left once per fiber, never resumed
static unsigned gb_shim_current = 0;
static unsigned long long gb_shim_lanes[1024];  // what each thread offers to a shuffle
static void (*gb_shim_body)(void**) = nullptr;
static void** gb_shim_argv = nullptr;

// Back to the scheduler (a fiber switch without the signal-mask system calls of
// swapcontext: _setjmp / _longjmp; makecontext only gives each fiber its stack).
static inline void gb_shim_yield() {
    if (!_setjmp(gb_shim_fibers[gb_shim_current].env)) _longjmp(gb_shim_scheduler, 1);
}

static inline void gb_shim_wait(gb_barrier& b) {
    const unsigned gen = b.generation;
    if (++b.arrived == b.expected) {
        b.arrived = 0;
        ++b.generation;
        return;
    }
    while (b.generation == gen) gb_shim_yield();
    threadIdx.x = gb_shim_current;
}

static inline void gb_shim_leave(gb_barrier& b) {
    --b.expected;
    if (b.arrived > 0 && b.arrived == b.expected) {
        b.arrived = 0;
        ++b.generation;
    }
}

static void gb_shim_fiber_main() {
    gb_shim_body(gb_shim_argv);
    const unsigned t = gb_shim_current;
    gb_shim_leave(gb_shim_block);
    gb_shim_leave(gb_shim_warps[t / 32]);
    gb_shim_fibers[t].done = true;
    _longjmp(gb_shim_scheduler, 1);
}

// Run `body(argv)` as every thread of a (grid x block) launch, each block's threads as
// fibers scheduled round-robin, with `shared` bytes of zeroed block-shared memory.
static void gb_shim_launch(void (*body)(void**), void** argv, unsigned grid, unsigned block,
                           unsigned long long shared) {
    gb_shim_body = body;
    gb_shim_argv = argv;
    const unsigned long long bytes = (shared + 16) / 16 * 16;
    std::free(gb_shim_shared);
    gb_shim_shared = static_cast<unsigned char*>(std::aligned_alloc(16, bytes));
    for (unsigned g = 0; g < grid; ++g) {
        std::memset(gb_shim_shared, 0, bytes);
        gb_shim_block = gb_barrier{block, 0, 0};
        gb_shim_warps.assign((block + 31) / 32, gb_barrier{});
        for (unsigned w = 0; w * 32 < block; ++w)
            gb_shim_warps[w].expected = block - w * 32 < 32 ? block - w * 32 : 32;
        gb_shim_fibers.assign(block, gb_fiber{});
        for (unsigned t = 0; t < block; ++t) {
            gb_fiber& f = gb_shim_fibers[t];
            f.stack.resize(1 << 16);
            getcontext(&f.ctx);
            f.ctx.uc_stack.ss_sp = f.stack.data();
            f.ctx.uc_stack.ss_size = f.stack.size();
            f.ctx.uc_link = nullptr;
            makecontext(&f.ctx, gb_shim_fiber_main, 0);
        }
        blockIdx.x = g; blockDim.x = block; gridDim.x = grid;
        for (bool live = true; live;) {
            live = false;
            for (unsigned t = 0; t < block; ++t) {
                if (gb_shim_fibers[t].done) continue;
                live = true;
                gb_shim_current = t;
                threadIdx.x = t;
                gb_fiber& f = gb_shim_fibers[t];
                if (!_setjmp(gb_shim_scheduler)) {
                    if (f.started) _longjmp(f.env, 1);
                    f.started = true;
                    swapcontext(&gb_shim_first, &f.ctx);
                }
            }
        }
    }
}

// gb_shim_call(kernel, argv): call a kernel with its arguments read from argv[i], each the
// address of the value (a pointer, an int or a double), typed after the kernel's parameters.
template <typename T>
static inline T gb_shim_arg(void* p) {
    return *static_cast<T*>(p);
}
template <typename... A, std::size_t... I>
static inline void gb_shim_call_(void (*f)(A...), void** argv, std::index_sequence<I...>) {
    f(gb_shim_arg<A>(argv[I])...);
}
template <typename... A>
static inline void gb_shim_call(void (*f)(A...), void** argv) {
    gb_shim_call_(f, argv, std::index_sequence_for<A...>{});
}

static inline void __syncthreads() { gb_shim_wait(gb_shim_block); }
static inline void __syncwarp(unsigned = 0xffffffffu) {
    gb_shim_wait(gb_shim_warps[threadIdx.x / 32]);
}

template <typename T>
static inline T gb_shim_exchange(T v, unsigned from) {
    static_assert(sizeof(T) <= sizeof(unsigned long long), "shuffle of a wide type");
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof v);
    gb_shim_lanes[threadIdx.x] = bits;
    __syncwarp();
    T out;
    std::memcpy(&out, &gb_shim_lanes[from], sizeof out);
    __syncwarp();
    return out;
}
// The value of lane (lane + delta) of the same warp, or the caller's own when that lane is
// past the warp's end (as on the device).
template <typename T>
static inline T __shfl_down_sync(unsigned, T v, unsigned delta, int width = 32) {
    const unsigned lane = threadIdx.x % 32, base = threadIdx.x - lane;
    const unsigned active = blockDim.x - base < 32 ? blockDim.x - base : 32;
    const unsigned src = lane % width + delta < (unsigned)width && lane + delta < active
                             ? threadIdx.x + delta : threadIdx.x;
    return gb_shim_exchange(v, src);
}
// The value of lane `src` of the same warp.
template <typename T>
static inline T __shfl_sync(unsigned, T v, int src, int = 32) {
    return gb_shim_exchange(v, threadIdx.x - threadIdx.x % 32 + (unsigned)src % 32);
}

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__
#define __shared__ static

static inline double __longlong_as_double(long long v) {
    double d;
    std::memcpy(&d, &v, sizeof d);
    return d;
}

// The CPU emulation of CUDA that runs the CUDA backend's sources in every build (ctest test_cuda_emulated), so
// that their logic -- index math, shared memory, barriers, warp shuffles, flags, the phases -- is exercised on
// machines without a GPU. Each block runs its threads as coroutines on the calling host thread, switching only at
// __syncthreads and warp shuffles, so a launch is deterministic. Checked here: launch configurations (as the GPU
// does), barriers that not every thread of a block or warp reaches, and, under AddressSanitizer, every access
// outside device allocations. Not modelled: the memory model (a missing __syncthreads between a write and another
// thread's read goes unnoticed only if the order of the coroutines hides it), occupancy and launch bounds, and
// the special-function unit's rounding (exp2f replaces ex2.approx).
#ifndef GRPO4J_CUDA_EMULATION_H
#define GRPO4J_CUDA_EMULATION_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <functional>
#include <tuple>
#include <utility>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __launch_bounds__(...)
// Block-shared: one copy for all threads of a block; blocks run one after another.
#define __shared__ static

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

struct alignas(16) uint4 {
  unsigned int x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
inline uint4 make_uint4(unsigned int x, unsigned int y, unsigned int z, unsigned int w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }

enum cudaError_t : int;
typedef struct CUstream_st* cudaStream_t;

namespace grpo4j_emulation {

// The coordinates of the thread that runs now.
const dim3& thread_index();
const dim3& block_index();
const dim3& block_dim();
const dim3& grid_dim();
// The launch's dynamic shared memory.
void* dynamic_shared_memory();

void sync_threads();
// Exchanges 8 bytes with lane (own lane ^ lane_mask) of the calling warp; every lane of the warp must call it.
uint64_t shuffle_xor(uint64_t bits, int lane_mask);

// Runs body() as every thread of every block of the grid; returns the launch's error (cudaSuccess = 0).
cudaError_t run_grid(dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream, std::function<void()> body);

template <typename... Params>
class Launch {
 public:
  Launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream)
      : kernel_(kernel), grid_(grid), block_(block), shared_bytes_(shared_bytes), stream_(stream) {}

  // The arguments are converted to the kernel's parameter types once, as a launch copies them.
  template <typename... Args>
  void operator()(Args&&... args) const {
    std::tuple<std::decay_t<Params>...> values(std::forward<Args>(args)...);
    void (*kernel)(Params...) = kernel_;
    run_grid(grid_, block_, shared_bytes_, stream_, [kernel, &values] { std::apply(kernel, values); });
  }

 private:
  void (*kernel_)(Params...);
  dim3 grid_, block_;
  size_t shared_bytes_;
  cudaStream_t stream_;
};

template <typename... Params>
Launch<Params...> launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared_bytes = 0,
                         cudaStream_t stream = nullptr) {
  return Launch<Params...>(kernel, grid, block, shared_bytes, stream);
}

}  // namespace grpo4j_emulation

#define threadIdx (::grpo4j_emulation::thread_index())
#define blockIdx (::grpo4j_emulation::block_index())
#define blockDim (::grpo4j_emulation::block_dim())
#define gridDim (::grpo4j_emulation::grid_dim())

inline void __syncthreads() { ::grpo4j_emulation::sync_threads(); }

template <typename T>
inline T __shfl_xor_sync(unsigned int mask, T value, int lane_mask) {
  static_assert(sizeof(T) <= 8, "shuffles move at most 8 bytes");
  (void)mask;
  uint64_t bits = 0;
  memcpy(&bits, &value, sizeof(T));
  bits = ::grpo4j_emulation::shuffle_xor(bits, lane_mask);
  T result;
  memcpy(&result, &bits, sizeof(T));
  return result;
}

// Coroutines switch only at barriers and shuffles, so a read-modify-write is atomic as it stands.
template <typename T>
inline T atomicOr(T* address, T value) {
  T old = *address;
  *address = old | value;
  return old;
}
template <typename T>
inline T atomicMax(T* address, T value) {
  T old = *address;
  *address = old > value ? old : value;
  return old;
}
template <typename T>
inline T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}

inline float __uint_as_float(unsigned int u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
inline unsigned int __float_as_uint(float f) {
  unsigned int u;
  memcpy(&u, &f, 4);
  return u;
}
inline float cospif(float x) { return (float)cos(M_PI * (double)x); }

#endif

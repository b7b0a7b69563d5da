// Normal(0, scale) values on the device by Box-Muller over a counter hash: billions of test logits in
// milliseconds, the same for a seed on every run. Shared by the CUDA test and the CUDA timing program.
#ifndef GRPO4J_FILL_NORMAL_CUH
#define GRPO4J_FILL_NORMAL_CUH

#include <stdint.h>

#include "../src/cuda/launch.cuh"
#include "../src/internal.h"

namespace grpo4j_test {

__device__ inline uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

__global__ void fill_normal(void* out, int32_t type, int64_t n, uint64_t seed, float scale) {
  for (int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const uint64_t h = splitmix64(seed ^ ((uint64_t)i * 0xd1b54a32d192ed03ull));
    const float u1 = ((float)(h >> 40) + 1.0f) * 5.9604645e-8f;  // (0, 1]
    const float u2 = (float)(h & 0xffffffu) * 5.9604645e-8f;
    grpo4j::store_logit(out, type, i, scale * sqrtf(-2.0f * logf(u1)) * cospif(2.0f * u2));
  }
}

}  // namespace grpo4j_test

#endif

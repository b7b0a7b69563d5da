// Checks of the CPU emulation of CUDA itself, on kernels written for the purpose: warp shuffles, barriers, 3-D grid
// and block coordinates, atomics, launch configurations refused as a GPU refuses them, copies in the wrong direction,
// pointer attributes, dynamic shared memory, and that a kernel whose threads do not all reach __syncthreads ends its
// process with SIGABRT (in a child process). ctest runs it in both orders (GRPO4J_CUDA_EMULATION_ORDER).
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <vector>

#include "../../src/cuda/launch.cuh"
#include "cuda_runtime.h"

namespace {

int g_failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    ++g_failures;
    printf("FAIL  %s\n", what);
  }
}

// out[t] = the sum of (lane + 1) over t's warp, by a butterfly of xor shuffles (whole warps, as the kernels use them).
__global__ void warp_sum(int* out) {
  int value = (int)(threadIdx.x % 32) + 1;
  for (int offset = 16; offset > 0; offset >>= 1) value += __shfl_xor_sync(0xffffffffu, value, offset);
  out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}

// Thread 0 writes, everyone reads after the barrier; without it the reverse order would read the old value.
__global__ void broadcast_after_barrier(int* out) {
  __shared__ int shared_value;
  if (threadIdx.x == 0) shared_value = 1000 + (int)blockIdx.x;
  __syncthreads();
  out[blockIdx.x * blockDim.x + threadIdx.x] = shared_value;
}

__global__ void coordinates(unsigned* out) {
  const unsigned block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned thread = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  out[block * (blockDim.x * blockDim.y * blockDim.z) + thread] = block * 1000 + thread;
}

__global__ void count_and_max(int* counter, int* maximum) {
  atomicAdd(counter, 1);
  atomicMax(maximum, (int)(blockIdx.x * blockDim.x + threadIdx.x));
}

__global__ void dynamic_shared_sum(double* out, int n) {
  GRPO4J_DYNAMIC_SHARED(double, values);
  for (int i = threadIdx.x; i < n; i += blockDim.x) values[i] = i;
  __syncthreads();
  if (threadIdx.x == 0) {
    double sum = 0;
    for (int i = 0; i < n; ++i) sum += values[i];
    *out = sum;
  }
}

__global__ void divergent_barrier(int* out) {
  if (threadIdx.x < 16) __syncthreads();
  else (void)__shfl_xor_sync(0xffffffffu, 1, 1);
  out[threadIdx.x] = 1;
}

template <typename T>
T* device_array(size_t n) {
  void* p = nullptr;
  expect(cudaMalloc(&p, n * sizeof(T)) == cudaSuccess, "cudaMalloc");
  expect(cudaMemset(p, 0, n * sizeof(T)) == cudaSuccess, "cudaMemset");
  return static_cast<T*>(p);
}

}  // namespace

int main() {
  {
    fflush(stdout);
    const pid_t child = fork();
    if (child == 0) {
      int* out = device_array<int>(32);
      GRPO4J_LAUNCH(1, 32, 0, nullptr, divergent_barrier)(out);
      _exit(0);
    }
    int status = 0;
    waitpid(child, &status, 0);
    expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
           "a barrier that half the block never reaches aborts as a deadlock");
  }

  {
    const int blocks = 3, threads = 96;
    int* out = device_array<int>(blocks * threads);
    GRPO4J_LAUNCH(blocks, threads, 0, nullptr, warp_sum)(out);
    expect(cudaGetLastError() == cudaSuccess, "warp_sum launch");
    std::vector<int> host(blocks * threads);
    cudaMemcpy(host.data(), out, host.size() * sizeof(int), cudaMemcpyDeviceToHost);
    bool all = true;
    for (int v : host) all = all && v == 32 * 33 / 2;
    expect(all, "every lane holds the warp's sum after the xor butterfly");
    cudaFree(out);
  }
  {
    const int blocks = 4, threads = 64;
    int* out = device_array<int>(blocks * threads);
    GRPO4J_LAUNCH(blocks, threads, 0, nullptr, broadcast_after_barrier)(out);
    std::vector<int> host(blocks * threads);
    cudaMemcpy(host.data(), out, host.size() * sizeof(int), cudaMemcpyDeviceToHost);
    bool all = true;
    for (int i = 0; i < blocks * threads; ++i) all = all && host[i] == 1000 + i / threads;
    expect(all, "a value written before __syncthreads is seen by every thread after it");
    cudaFree(out);
  }
  {
    const dim3 grid(3, 2, 2), block(4, 3, 2);
    const int n = 12 * 24;
    unsigned* out = device_array<unsigned>(n);
    GRPO4J_LAUNCH(grid, block, 0, nullptr, coordinates)(out);
    std::vector<unsigned> host(n);
    cudaMemcpy(host.data(), out, n * sizeof(unsigned), cudaMemcpyDeviceToHost);
    bool all = true;
    for (int i = 0; i < n; ++i) all = all && host[i] == (unsigned)(i / 24 * 1000 + i % 24);
    expect(all, "3-D grid and block coordinates cover every thread once");
    cudaFree(out);
  }
  {
    int* counter = device_array<int>(1);
    int* maximum = device_array<int>(1);
    GRPO4J_LAUNCH(5, 128, 0, nullptr, count_and_max)(counter, maximum);
    int c = 0, m = 0;
    cudaMemcpy(&c, counter, 4, cudaMemcpyDeviceToHost);
    cudaMemcpy(&m, maximum, 4, cudaMemcpyDeviceToHost);
    expect(c == 640 && m == 639, "atomicAdd and atomicMax over 640 threads");
    cudaFree(counter);
    cudaFree(maximum);
  }
  {
    double* out = device_array<double>(1);
    const int n = 1000;
    GRPO4J_LAUNCH(1, 256, n * sizeof(double), nullptr, dynamic_shared_sum)(out, n);
    double sum = 0;
    cudaMemcpy(&sum, out, sizeof sum, cudaMemcpyDeviceToHost);
    expect(sum == 999.0 * 1000 / 2, "dynamic shared memory of the launch's size");
    cudaFree(out);
  }
  {
    int* out = device_array<int>(2048);
    GRPO4J_LAUNCH(1, 1025, 0, nullptr, warp_sum)(out);
    expect(cudaGetLastError() == cudaErrorInvalidConfiguration, "1025 threads per block are refused");
    expect(cudaGetLastError() == cudaSuccess, "the launch error is reported once");
    GRPO4J_LAUNCH(0, 32, 0, nullptr, warp_sum)(out);
    expect(cudaGetLastError() == cudaErrorInvalidConfiguration, "an empty grid is refused");
    double* sum = device_array<double>(1);
    GRPO4J_LAUNCH(1, 32, 49 * 1024, nullptr, dynamic_shared_sum)(sum, 1);
    expect(cudaGetLastError() == cudaErrorInvalidValue, "more than 48 KiB of dynamic shared memory is refused");
    int host = 0;
    expect(cudaMemcpy(out, &host, 4, cudaMemcpyDeviceToHost) == cudaErrorInvalidMemcpyDirection,
           "a host-to-device copy named device-to-host is refused");
    expect(cudaMemcpy(out, &host, 4, cudaMemcpyDefault) == cudaSuccess, "cudaMemcpyDefault takes either side");
    cudaPointerAttributes attributes;
    cudaPointerGetAttributes(&attributes, out + 100);
    expect(attributes.type == cudaMemoryTypeDevice, "a pointer inside an allocation is device memory");
    cudaPointerGetAttributes(&attributes, &host);
    expect(attributes.type == cudaMemoryTypeUnregistered, "a stack variable is unregistered host memory");
    cudaFree(sum);
    cudaFree(out);
  }
  printf("%s\n", g_failures == 0 ? "emulation checks passed" : "emulation checks FAILED");
  return g_failures == 0 ? 0 : 1;
}

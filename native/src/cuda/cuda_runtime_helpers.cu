// The C ABI's small CUDA helpers: device count, malloc/free, memcpy (cudaMemcpyDefault: either side host or
// device), stream synchronisation. They exist so that callers without a CUDA binding (the JVM through FFM)
// can stage device memory. The library links the CUDA runtime statically, so it loads on machines without a
// driver; there every helper returns GRPO4J_NO_CUDA_DEVICE with a message instead of crashing.
#include <cuda_runtime.h>

#include "../internal.h"
#include "cuda_check.cuh"

using grpo4j::cuda_status;
using grpo4j::fail;
using grpo4j::require_device;

extern "C" {

int32_t grpo4j_cuda_compiled(void) { return 1; }

grpo4j_status grpo4j_cuda_device_count(int32_t* count) {
  grpo4j::clear_error();
  if (count) *count = 0;
  if (!count) return fail(GRPO4J_INVALID_ARGUMENT, "count is NULL: pass a pointer to an int32");
  int n = 0;
  cudaError_t error = cudaGetDeviceCount(&n);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();
    return fail(GRPO4J_NO_CUDA_DEVICE, "no usable CUDA device: cudaGetDeviceCount failed (%s: %s)",
                cudaGetErrorName(error), cudaGetErrorString(error));
  }
  if (n < 1) return fail(GRPO4J_NO_CUDA_DEVICE, "no usable CUDA device: the CUDA runtime reports 0 devices");
  *count = n;
  return GRPO4J_OK;
}

grpo4j_status grpo4j_cuda_malloc(void** ptr, int64_t bytes) {
  grpo4j::clear_error();
  if (!ptr) return fail(GRPO4J_INVALID_ARGUMENT, "ptr is NULL: pass a pointer to receive the device address");
  *ptr = nullptr;
  if (bytes < 0) return fail(GRPO4J_INVALID_ARGUMENT, "bytes = %lld: must be >= 0", (long long)bytes);
  grpo4j_status status = require_device();
  if (status != GRPO4J_OK) return status;
  if (bytes == 0) return GRPO4J_OK;
  void* p = nullptr;
  status = cuda_status(cudaMalloc(&p, (size_t)bytes), "cudaMalloc");
  if (status != GRPO4J_OK) {
    (void)cudaGetLastError();  // an allocation failure is not sticky: keep it out of later launch checks
    return status;
  }
  *ptr = p;
  return GRPO4J_OK;
}

grpo4j_status grpo4j_cuda_free(void* ptr) {
  grpo4j::clear_error();
  grpo4j_status status = require_device();
  if (status != GRPO4J_OK) return status;
  return cuda_status(cudaFree(ptr), "cudaFree");
}

grpo4j_status grpo4j_cuda_memcpy(void* dst, const void* src, int64_t bytes, void* stream) {
  grpo4j::clear_error();
  if (bytes < 0) return fail(GRPO4J_INVALID_ARGUMENT, "bytes = %lld: must be >= 0", (long long)bytes);
  grpo4j_status status = require_device();
  if (status != GRPO4J_OK) return status;
  if (bytes == 0) return GRPO4J_OK;
  if (!dst || !src) return fail(GRPO4J_INVALID_ARGUMENT, "%s is NULL", !dst ? "dst" : "src");
  return cuda_status(cudaMemcpyAsync(dst, src, (size_t)bytes, cudaMemcpyDefault, (cudaStream_t)stream),
                     "cudaMemcpyAsync");
}

grpo4j_status grpo4j_cuda_synchronize(void* stream) {
  grpo4j::clear_error();
  grpo4j_status status = require_device();
  if (status != GRPO4J_OK) return status;
  return cuda_status(cudaStreamSynchronize((cudaStream_t)stream), "cudaStreamSynchronize");
}

}  // extern "C"

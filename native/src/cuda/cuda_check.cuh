// CUDA runtime results -> grpo4j statuses, shared by every file of the CUDA backend. Each failure keeps the
// call that failed and cudaGetErrorString in the message, because the caller (the JVM) sees nothing else.
#ifndef GRPO4J_CUDA_CHECK_CUH
#define GRPO4J_CUDA_CHECK_CUH

#include <cuda_runtime.h>

#include "../internal.h"

namespace grpo4j {

// Results that mean "this machine has no usable GPU" rather than "the GPU failed".
inline bool is_no_device_error(cudaError_t error) {
  return error == cudaErrorNoDevice || error == cudaErrorInsufficientDriver || error == cudaErrorInitializationError ||
         error == cudaErrorSystemDriverMismatch || error == cudaErrorCompatNotSupportedOnDevice ||
         error == cudaErrorDevicesUnavailable || error == cudaErrorSystemNotReady;
}

// GRPO4J_OK for cudaSuccess; otherwise sets the thread's message, naming `what`, and returns the status.
inline grpo4j_status cuda_status(cudaError_t error, const char* what) {
  if (error == cudaSuccess) return GRPO4J_OK;
  if (error == cudaErrorMemoryAllocation)
    return fail(GRPO4J_OUT_OF_MEMORY, "%s: out of GPU memory (%s: %s)", what, cudaGetErrorName(error),
                cudaGetErrorString(error));
  if (is_no_device_error(error))
    return fail(GRPO4J_NO_CUDA_DEVICE, "%s: no usable CUDA device (%s: %s)", what, cudaGetErrorName(error),
                cudaGetErrorString(error));
  return fail(GRPO4J_CUDA_ERROR, "%s failed: %s: %s", what, cudaGetErrorName(error), cudaGetErrorString(error));
}

// GRPO4J_OK when the runtime sees at least one device; else GRPO4J_NO_CUDA_DEVICE, never a crash.
inline grpo4j_status require_device() {
  int count = 0;
  cudaError_t error = cudaGetDeviceCount(&count);
  if (error != cudaSuccess) {
    (void)cudaGetLastError();  // the failed query must not surface later as a launch error
    return fail(GRPO4J_NO_CUDA_DEVICE, "no usable CUDA device: cudaGetDeviceCount failed (%s: %s)",
                cudaGetErrorName(error), cudaGetErrorString(error));
  }
  if (count < 1)
    return fail(GRPO4J_NO_CUDA_DEVICE, "no usable CUDA device: the CUDA runtime reports 0 devices");
  return GRPO4J_OK;
}

}  // namespace grpo4j

// Returns from the enclosing function (which returns grpo4j_status) when a CUDA call fails.
#define GRPO4J_CUDA_TRY(call)                                                 \
  do {                                                                        \
    const grpo4j_status grpo4j_status_ = grpo4j::cuda_status((call), #call); \
    if (grpo4j_status_ != GRPO4J_OK) return grpo4j_status_;                  \
  } while (0)

#endif

package dev.grpo4j.platform;

import java.lang.reflect.InvocationTargetException;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.pytorch.cuda.CUDAStream;
import org.bytedeco.pytorch.global.torch_cuda;

/**
 * libtorch's current CUDA stream as a {@code cudaStream_t} address, loaded only on the CUDA path (the GPU build of
 * bytedeco pytorch, {@code -Pgpu}). {@code CUDAStream.asCUstream_st()} is called reflectively: its return type lives
 * in bytedeco's CUDA module, which the pytorch module does not read, so no module-path build can compile a direct
 * call, and the CPU build need not carry the CUDA API jar at all.
 */
public final class CudaStreams {
  static {
    LibTorch.load();
  }

  private CudaStreams() {}

  /** The current stream of GPU {@code deviceIndex} (-1: the current device). */
  public static long current(int deviceIndex) {
    CUDAStream stream = deviceIndex < 0 ? torch_cuda.getCurrentCUDAStream()
        : torch_cuda.getCurrentCUDAStream((byte) deviceIndex);
    try {
      return ((Pointer) CUDAStream.class.getMethod("asCUstream_st").invoke(stream)).address();
    } catch (NoSuchMethodException | IllegalAccessException | InvocationTargetException | LinkageError e) {
      throw new IllegalStateException("cannot read libtorch's current CUDA stream (" + e + "): run the GPU build "
          + "(-Pgpu), whose bytedeco cuda classes provide it", e);
    }
  }
}

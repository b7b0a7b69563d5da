package dev.grpo4j.bench;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Direct downcalls into libgrpo4j (bypassing grpo4j-core's Java layer) and libc, for the baselines: an empty native
 * call, the raw fused kernel call, memcpy, and the CUDA memory helpers. The library is the one inside the core
 * jar, extracted once; its path is handed to grpo4j-core through {@code grpo4j.library.path} so that both load
 * the same file (one dlopen handle, one thread pool).
 */
final class NativeLib {
  static final SymbolLookup LIBRARY = load();
  private static final Linker LINKER = Linker.nativeLinker();

  static final MethodHandle ABI_VERSION = link("grpo4j_abi_version", FunctionDescriptor.of(JAVA_INT));
  static final MethodHandle LOSS_FORWARD_BACKWARD = link("grpo4j_loss_forward_backward",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS));
  static final MethodHandle CUDA_MALLOC = link("grpo4j_cuda_malloc",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
  static final MethodHandle CUDA_FREE = link("grpo4j_cuda_free", FunctionDescriptor.of(JAVA_INT, ADDRESS));
  static final MethodHandle CUDA_MEMCPY = link("grpo4j_cuda_memcpy",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
  static final MethodHandle CUDA_SYNCHRONIZE = link("grpo4j_cuda_synchronize",
      FunctionDescriptor.of(JAVA_INT, ADDRESS));
  static final MethodHandle MEMCPY = LINKER.downcallHandle(LINKER.defaultLookup().find("memcpy").orElseThrow(),
      FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS, JAVA_LONG));

  private NativeLib() {}

  /** Makes sure grpo4j-core will load the same library file as this class (call before using grpo4j-core). */
  static void init() {
    LIBRARY.find("grpo4j_abi_version").orElseThrow();
  }

  private static SymbolLookup load() {
    String path = System.getProperty("grpo4j.library.path");
    if (path == null) {
      String resource = "/dev/grpo4j/native/linux-x86_64/libgrpo4j.so";
      try (InputStream in = NativeLib.class.getResourceAsStream(resource)) {
        if (in == null) {
          throw new IllegalStateException("no " + resource + " on the class path: build grpo4j-core first");
        }
        Path dir = Files.createTempDirectory("grpo4j-bench");
        Path file = dir.resolve("libgrpo4j.so");
        Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
        file.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        path = file.toString();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      System.setProperty("grpo4j.library.path", path);
    }
    return SymbolLookup.libraryLookup(Path.of(path), Arena.global());
  }

  private static MethodHandle link(String name, FunctionDescriptor descriptor) {
    return LINKER.downcallHandle(LIBRARY.find(name).orElseThrow(), descriptor);
  }

  static void memcpy(MemorySegment dst, MemorySegment src, long bytes) {
    try {
      MemorySegment ignored = (MemorySegment) MEMCPY.invokeExact(dst, src, bytes);
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }

}

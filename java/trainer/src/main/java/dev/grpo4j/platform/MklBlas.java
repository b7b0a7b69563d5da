package dev.grpo4j.platform;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.net.URL;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.bytedeco.javacpp.Loader;

/**
 * Intel oneMKL (bytedeco's {@code mkl} redist jar) in place of OpenBLAS for libtorch's matrix products, run on
 * libtorch's own OpenMP threads.
 *
 * <p>Why: bytedeco's libtorch multiplies matrices with OpenBLAS, whose pthreads pool is a second set of threads
 * beside libtorch's OpenMP ones, and whose jobs wait on each other by spinning. With one busy process beside a
 * 2-thread step on 2 cores, that step slowed x2.1–2.7 where TRL's (pip torch: MKL on GNU OpenMP) slowed x1.55.
 * MKL's GNU threading layer runs each product on the same libgomp pool as libtorch's loops, whose threads sleep
 * when idle ({@code OMP_WAIT_POLICY=PASSIVE}): one thread pool, nothing spinning (bench/README.md, "Steady on a busy
 * machine").
 *
 * <p>How: libtorch_cpu names {@code libopenblas.so.0} as a dependency, and the dynamic loader looks a symbol up in
 * the global scope before a library's own dependencies. So MKL's interface layer ({@code sgemm_}, the CBLAS and
 * LAPACK entry points), its threading and core layers are opened with {@code RTLD_GLOBAL} before libtorch_cpu is
 * loaded, and libtorch's calls bind to MKL; OpenBLAS is still loaded but idle. The threading layer takes its
 * OpenMP symbols from the global scope too, so libtorch's libgomp is promoted there first: one OpenMP runtime. MKL's
 * core opens its per-CPU kernels by name at the first call; they are opened here by path first, so that name finds
 * the bundled copy and never an MKL installed on the machine.
 *
 * <p>{@value #PROPERTY}{@code =openblas} keeps OpenBLAS; so does a class path without the MKL redist jar.
 */
final class MklBlas {
  /** System property choosing the BLAS: {@code mkl} (the default where its natives are bundled) or {@code openblas}. */
  static final String PROPERTY = "grpo4j.blas";

  /** Opened global, in this order: the core, the threading layer (libgomp's), the interface layer libtorch calls. */
  private static final List<String> GLOBAL = List.of("libmkl_core.so.2", "libmkl_gnu_thread.so.2",
      "libmkl_intel_lp64.so.2");
  /** The kernels MKL's core picks per CPU (def also serves AMD's), and the vector-math ones it opens at start-up. */
  private static final List<String> KERNELS = List.of("libmkl_def.so.2", "libmkl_mc3.so.2", "libmkl_avx2.so.2",
      "libmkl_avx512.so.2", "libmkl_vml_def.so.2", "libmkl_vml_mc3.so.2", "libmkl_vml_avx2.so.2",
      "libmkl_vml_avx512.so.2", "libmkl_vml_cmpt.so.2");
  private static final String OPENMP = "libgomp.so.1";

  private static final int RTLD_LAZY = 0x1;
  private static final int RTLD_NOLOAD = 0x4;
  private static final int RTLD_GLOBAL = 0x100;

  private static MethodHandle setNumThreads;
  private static String version;

  private MklBlas() {}

  /**
   * Whether MKL should replace OpenBLAS in this process, from {@value #PROPERTY} and whether the MKL natives of
   * {@code platform} are on the class path.
   *
   * @throws IllegalArgumentException for a property value other than {@code mkl} or {@code openblas}, or {@code mkl}
   *     asked for where the natives are missing
   */
  static boolean wanted(String platform) {
    String requested = System.getProperty(PROPERTY);
    boolean bundled = resource(platform, GLOBAL.getFirst()) != null;
    if (requested == null) {
      return bundled;
    }
    return switch (requested) {
      case "openblas" -> false;
      case "mkl" -> {
        if (!bundled) {
          throw new IllegalArgumentException("-D" + PROPERTY + "=mkl, but bytedeco's mkl " + platform
              + "-redist jar is not on the class path: add org.bytedeco:mkl:...:" + platform + "-redist, or use -D"
              + PROPERTY + "=openblas");
        }
        yield true;
      }
      default -> throw new IllegalArgumentException("-D" + PROPERTY + "=" + requested + ": use mkl or openblas");
    };
  }

  /**
   * Opens MKL as described above. Call after libtorch's libgomp and before libtorch_cpu are loaded.
   *
   * @throws IllegalStateException when a library cannot be opened
   * @throws UncheckedIOException when the libraries cannot be unpacked into JavaCPP's cache
   */
  static void load(String platform) {
    Linker linker = Linker.nativeLinker();
    SymbolLookup libc = linker.defaultLookup();
    MethodHandle dlopen = linker.downcallHandle(libc.find("dlopen").orElseThrow(),
        FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    MethodHandle dlerror = linker.downcallHandle(libc.find("dlerror").orElseThrow(),
        FunctionDescriptor.of(ValueLayout.ADDRESS));
    List<Path> global = unpack(platform, GLOBAL);
    List<Path> kernels = unpack(platform, KERNELS);
    open(dlopen, dlerror, OPENMP, RTLD_LAZY | RTLD_NOLOAD | RTLD_GLOBAL,
        "libtorch's OpenMP runtime must be loaded before MKL");
    for (Path library : global) {
      open(dlopen, dlerror, library.toString(), RTLD_LAZY | RTLD_GLOBAL, null);
    }
    for (Path library : kernels) {
      open(dlopen, dlerror, library.toString(), RTLD_LAZY, null);
    }
    SymbolLookup mkl = SymbolLookup.libraryLookup(global.getLast(), Arena.global());
    setNumThreads = linker.downcallHandle(mkl.find("MKL_Set_Num_Threads").orElseThrow(),
        FunctionDescriptor.ofVoid(ValueLayout.JAVA_INT));
    version = versionString(linker, mkl);
  }

  /** The loaded MKL's version, e.g. {@code Intel(R) oneAPI Math Kernel Library Version 2025.3...}; empty if none. */
  static Optional<String> version() {
    return Optional.ofNullable(version);
  }

  /** Sets the threads MKL uses for each product, for every calling thread; a no-op where MKL is not loaded. */
  static void setThreads(int threads) {
    if (setNumThreads == null) {
      return;
    }
    try {
      setNumThreads.invokeExact(threads);
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new IllegalStateException("MKL_Set_Num_Threads(" + threads + ") failed", e);
    }
  }

  /** Through the class loader: the redist jar's folders are no Java packages, so no module hides them. */
  private static URL resource(String platform, String name) {
    return MklBlas.class.getClassLoader().getResource(folder(platform).substring(1) + name);
  }

  private static String folder(String platform) {
    return "/org/bytedeco/mkl/" + platform + "/";
  }

  private static List<Path> unpack(String platform, List<String> names) {
    List<Path> paths = new ArrayList<>();
    for (String name : names) {
      URL resource = resource(platform, name);
      if (resource == null) {
        throw new IllegalStateException(folder(platform) + name + " is missing from the class path although "
            + GLOBAL.getFirst() + " is there: the mkl " + platform + "-redist jar is incomplete; use -D" + PROPERTY
            + "=openblas");
      }
      try {
        // One file at a time: the redist jar holds 470 MB, of which these are 390.
        paths.add(Loader.cacheResource(resource).toPath());
      } catch (IOException e) {
        throw new UncheckedIOException("could not unpack " + resource + " into the JavaCPP cache: "
            + e.getMessage() + "; free space there or point -Dorg.bytedeco.javacpp.cachedir at another folder", e);
      }
    }
    return paths;
  }

  private static void open(MethodHandle dlopen, MethodHandle dlerror, String library, int flags, String hint) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment handle = (MemorySegment) dlopen.invokeExact(arena.allocateFrom(library), flags);
      if (handle.equals(MemorySegment.NULL)) {
        MemorySegment error = (MemorySegment) dlerror.invokeExact();
        String why = error.equals(MemorySegment.NULL) ? "" : error.reinterpret(4096).getString(0);
        throw new IllegalStateException("could not open " + library + " for MKL: " + why
            + (hint != null ? " (" + hint + ")" : "") + "; -D" + PROPERTY + "=openblas keeps OpenBLAS");
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new IllegalStateException("dlopen(" + library + ") failed", e);
    }
  }

  private static String versionString(Linker linker, SymbolLookup mkl) {
    MethodHandle get = linker.downcallHandle(mkl.find("MKL_Get_Version_String").orElseThrow(),
        FunctionDescriptor.ofVoid(ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buffer = arena.allocate(256);
      get.invokeExact(buffer, 256);
      return buffer.getString(0).strip();
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new IllegalStateException("MKL_Get_Version_String failed", e);
    }
  }
}

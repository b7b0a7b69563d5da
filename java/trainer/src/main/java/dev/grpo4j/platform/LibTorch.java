package dev.grpo4j.platform;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.bytedeco.javacpp.Loader;

/**
 * Loads bytedeco's libtorch so that no other libtorch on the machine can be mixed into the process.
 *
 * <p>Left to itself, JavaCPP unpacks and loads a preset's libraries one at a time, not in dependency order: it
 * loads {@code libtorch.so} before {@code libtorch_cpu.so}. The dynamic loader then resolves
 * {@code libtorch.so}'s dependency by name, searching {@code LD_LIBRARY_PATH} before the library's own folder, and
 * on a cold cache the bundled copy is not even unpacked yet. A system libtorch of another version (Debian's
 * {@code libtorch-dev}, a libtorch on {@code LD_LIBRARY_PATH}) is then loaded beside the bundled one and the JVM
 * dies in native code. So {@link #load()} first unpacks every library of the presets, then loads the non-JNI ones
 * by absolute path, dependencies first: each later lookup by name finds the bundled copy already loaded.
 *
 * <p>The GPU build ({@code -Pgpu}) puts a second libtorch on the class path, bytedeco's {@code linux-x86_64-gpu}
 * natives, beside the CPU ones. Both sets use the same file names, so exactly one may be loaded: JavaCPP, given
 * both, loads parts of each and the JVM dies. {@link #load()} takes the GPU set only when every library it needs
 * outside the jars (the CUDA runtime, cuBLAS, cuDNN, NCCL, ...) can be found, and the CPU set otherwise, then tells
 * JavaCPP which one through {@value #EXTENSION_PROPERTY}; setting that property to {@code -gpu} or to an empty
 * string beforehand forces the choice. {@link #cudaUnavailable()} says why a process has no CUDA.
 *
 * <p>Call it before the first use of any {@code org.bytedeco.pytorch} class; the {@code grpo4j} commands do. The
 * unpacked libraries (about 450 MB; 1.3 GB more for the GPU set) live in JavaCPP's cache, {@code ~/.javacpp/cache}
 * unless {@code -Dorg.bytedeco.javacpp.cachedir} says otherwise.
 */
public final class LibTorch {
  /** JavaCPP's system property naming the natives' variant: {@code -gpu}, or empty for the plain (CPU) one. */
  public static final String EXTENSION_PROPERTY = "org.bytedeco.javacpp.platform.extension";
  static final String GPU_EXTENSION = "-gpu";
  /** Environment variable that keeps libtorch's own diagnostics (C++ traces, c10 log lines). */
  public static final String DEBUG_ENV = "GRPO4J_DEBUG";
  /** OpenMP's wait policy; grpo4j sets it to {@code PASSIVE} where the environment leaves it unset. */
  public static final String OMP_WAIT_POLICY = "OMP_WAIT_POLICY";

  /** The libraries of one variant of libtorch, and why it cannot run CUDA (null when it can). */
  record Natives(String extension, List<Path> libraries, String cudaUnavailable) {}

  /** Whether the dynamic loader can load a library the jars do not bundle, searching {@code folders} too. */
  interface SystemLibraries {
    boolean find(String soname, List<String> folders);
  }

  private static Natives loaded;

  private LibTorch() {}

  /**
   * Unpacks and loads libtorch; later calls return at once.
   *
   * @throws UncheckedIOException when the libraries cannot be unpacked into the cache (full disk, no permission)
   * @throws IllegalStateException when a library cannot be loaded, or the variant asked for cannot run here
   */
  public static synchronized void load() {
    if (loaded != null) {
      return;
    }
    String platform = Loader.getPlatform();
    String openblasFolder = "/org/bytedeco/openblas/" + platform + "/";
    List<Path> common = unpack(openblasFolder).orElseThrow(() -> new IllegalStateException(
        "no native libraries for " + platform + " in " + openblasFolder + " on the class path: the bytedeco "
            + "openblas jar of this platform is missing"));
    // CUDA's own libraries, when a redist jar of bytedeco's cuda preset bundles them: part of the GPU set. The
    // preset's JNI libraries are not libtorch's concern.
    List<Path> cuda = unpack("/org/bytedeco/cuda/" + platform + "/").orElse(List.of()).stream()
        .filter(LibTorch::isLoadableLibrary).toList();
    Optional<List<Path>> gpu = unpack(torchFolder(platform, GPU_EXTENSION)).map(torch -> concat(cuda, torch));
    // CUDA's libraries may also sit in a Python's nvidia-* wheels: found there, they are loaded by path, and libtorch
    // then finds them loaded by their sonames.
    List<String> wheels = gpu.isPresent() ? CudaWheels.folders() : List.of();
    Natives natives = choose(common, gpu, unpack(torchFolder(platform, "")), System.getProperty(EXTENSION_PROPERTY),
        (soname, folders) -> loadSystemLibrary(soname, concatFolders(folders, wheels)));
    System.setProperty(EXTENSION_PROPERTY, natives.extension());
    passiveOpenMpThreads();
    List<Path> loadable = natives.libraries().stream().filter(LibTorch::isLoadableLibrary).toList();
    boolean mkl = MklBlas.wanted(platform);
    for (Path library : dependenciesFirst(loadable)) {
      if (mkl && needsOpenBlas(library)) {
        MklBlas.load(platform);
        mkl = false;
      }
      try {
        System.load(library.toString());
      } catch (UnsatisfiedLinkError e) {
        throw new IllegalStateException("could not load " + library + ": " + e.getMessage()
            + " (delete that folder to have it unpacked again, or set -Dorg.bytedeco.javacpp.cachedir)", e);
      }
    }
    Loader.load(org.bytedeco.pytorch.global.torch.class);
    loaded = natives;
  }

  /**
   * The BLAS that multiplies libtorch's matrices in this process: oneMKL's version string, or {@code OpenBLAS} where
   * {@code -Dgrpo4j.blas=openblas} or a class path without bytedeco's mkl redist jar keeps bytedeco's default. Loads
   * libtorch first.
   */
  public static String blas() {
    load();
    return MklBlas.version().orElse("OpenBLAS");
  }

  /**
   * Sets the threads of each matrix product, which libtorch's {@code set_num_threads} does not reach: OpenBLAS keeps
   * a pool of its own, and MKL, though it runs on libtorch's OpenMP threads, counts them itself.
   */
  public static void setBlasThreads(int threads) {
    load();
    MklBlas.setThreads(threads);
    org.bytedeco.openblas.presets.openblas_nolapack.blas_set_num_threads(threads);
  }

  private static boolean needsOpenBlas(Path library) {
    return readElf(library).map(elf -> elf.needed().contains("libopenblas.so.0")).orElse(false);
  }

  /**
   * Makes libtorch's OpenMP threads (its intra-op pool) sleep when they run out of work instead of spinning, unless
   * the environment sets {@value #OMP_WAIT_POLICY} already: OpenMP reads it once, when its library is loaded, so this
   * runs just before. Spinning OpenMP threads made each small training step tens of times slower on 2 cores (SPEC
   * §7). OpenBLAS's own spin-then-sleep default stays: with shorter spins (OPENBLAS_THREAD_TIMEOUT 16 or less, or
   * its jobs on sleeping threads) a step on an idle 2-core VM took 10x as long, waking halted cores.
   */
  private static void passiveOpenMpThreads() {
    Linker linker = Linker.nativeLinker();
    MethodHandle setenv = linker.downcallHandle(linker.defaultLookup().find("setenv").orElseThrow(),
        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
    try (Arena arena = Arena.ofConfined()) {
      // Last argument 0: a policy the environment already has is kept.
      int status = (int) setenv.invokeExact(arena.allocateFrom(OMP_WAIT_POLICY), arena.allocateFrom("PASSIVE"), 0);
      if (status != 0) {
        throw new IllegalStateException("setenv(" + OMP_WAIT_POLICY + ") failed");
      }
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable e) {
      throw new IllegalStateException("setenv(" + OMP_WAIT_POLICY + ") failed", e);
    }
  }

  /**
   * Keeps libtorch's own log lines (c10's {@code [W1207 12:00:00 socket.cpp:469] [c10d] ...}, C++ frames
   * included) off standard error, where c10 prints them directly: grpo4j reports the failures they describe in one
   * line of its own. Left alone when {@value #DEBUG_ENV} or libtorch's {@code TORCH_CPP_LOG_LEVEL} is set, so
   * they can still be had.
   */
  public static void quietNativeLogs() {
    load();
    if (System.getenv(DEBUG_ENV) != null || System.getenv("TORCH_CPP_LOG_LEVEL") != null) {
      return;
    }
    // c10's threshold: 0 INFO, 1 WARNING, 2 ERROR, 3 FATAL. c10d logs a failed rendezvous at ERROR, with frames.
    SymbolLookup.loaderLookup().find("FLAGS_caffe2_log_level")
        .ifPresent(flag -> flag.reinterpret(Integer.BYTES).set(ValueLayout.JAVA_INT, 0, 3));
  }

  /**
   * Why the loaded libtorch cannot run CUDA at all (the CPU build, or the GPU build without CUDA's libraries), or
   * empty when it is the GPU variant; whether a GPU is present is then libtorch's {@code cuda_is_available()}.
   * Loads libtorch first.
   */
  public static Optional<String> cudaUnavailable() {
    load();
    return Optional.ofNullable(loaded.cudaUnavailable());
  }

  private static String torchFolder(String platform, String extension) {
    return "/org/bytedeco/pytorch/" + platform + extension + "/";
  }

  /**
   * The variant to load: the GPU one when it is on the class path and can be loaded here, else the CPU one;
   * {@code requested} (the extension property, null when unset) forces one.
   */
  static Natives choose(List<Path> common, Optional<List<Path>> gpu, Optional<List<Path>> cpu, String requested,
      SystemLibraries system) {
    String platform = Loader.getPlatform();
    boolean wantGpu = requested == null ? gpu.isPresent() : requested.equals(GPU_EXTENSION);
    if (wantGpu) {
      if (gpu.isEmpty()) {
        throw new IllegalStateException("-D" + EXTENSION_PROPERTY + "=" + requested + " asks for the GPU libtorch, "
            + "but no bytedeco pytorch " + platform + GPU_EXTENSION + " jar is on the class path: build with "
            + "./mvnw -Pgpu, or drop that option");
      }
      List<Path> libraries = concat(common, gpu.get());
      SortedSet<String> missing = unresolved(libraries, system);
      if (missing.isEmpty()) {
        return new Natives(GPU_EXTENSION, libraries, null);
      }
      String problem = "bytedeco's GPU libtorch (" + platform + GPU_EXTENSION + ") is on the class path, but the "
          + "dynamic loader cannot find " + String.join(", ", missing) + ", which it needs: install the CUDA 13 "
          + "libraries, cuDNN 9 and NCCL 2 (a Python's nvidia-* wheels, as PyTorch installs them, are searched too), "
          + "or put the folders that hold them on LD_LIBRARY_PATH or " + CudaWheels.LIBRARY_PATH_ENV;
      if (requested != null || cpu.isEmpty()) {
        throw new IllegalStateException(problem + (cpu.isEmpty() ? ""
            : "; or drop -D" + EXTENSION_PROPERTY + "=" + GPU_EXTENSION + " to run on the CPU libtorch"));
      }
      return new Natives("", concat(common, cpu.get()), problem + "; this process runs the CPU libtorch instead");
    }
    if (cpu.isEmpty()) {
      throw new IllegalStateException("no native libraries for " + platform + " in " + torchFolder(platform, "")
          + " on the class path: the bytedeco pytorch jar of this platform is missing"
          + (gpu.isPresent() ? " (the GPU one is there: drop -D" + EXTENSION_PROPERTY + "=" + requested + ")" : ""));
    }
    return new Natives("", concat(common, cpu.get()), gpu.isPresent()
        ? "-D" + EXTENSION_PROPERTY + "=" + requested
            + " chose the CPU libtorch although the GPU one is on the class path"
        : "this build bundles bytedeco's CPU libtorch only: build with ./mvnw -Pgpu (bytedeco pytorch's "
            + platform + GPU_EXTENSION + " natives) for CUDA");
  }

  /**
   * The libraries that {@code libraries} need and do not provide themselves which {@code system} cannot find,
   * searching each needing library's run path too ({@code $ORIGIN} entries point among {@code libraries}).
   */
  static SortedSet<String> unresolved(List<Path> libraries, SystemLibraries system) {
    Map<Path, ElfDependencies> elf = new LinkedHashMap<>();
    Set<String> provided = new HashSet<>();
    for (Path library : libraries) {
      ElfDependencies dependencies = readElf(library).orElse(null);
      if (dependencies != null) {
        elf.put(library, dependencies);
        provided.add(library.getFileName().toString());
        dependencies.soname().ifPresent(provided::add);
      }
    }
    SortedSet<String> missing = new TreeSet<>();
    Map<String, Boolean> found = new HashMap<>();
    for (ElfDependencies dependencies : elf.values()) {
      List<String> folders = dependencies.runpath().stream().filter(folder -> !folder.contains("$")).toList();
      for (String needed : dependencies.needed()) {
        if (!provided.contains(needed) && !found.computeIfAbsent(needed + ":" + folders,
            key -> system.find(needed, folders))) {
          missing.add(needed);
        }
      }
    }
    return missing;
  }

  /**
   * Loads {@code soname} as the dynamic loader finds it by name (already loaded, {@code LD_LIBRARY_PATH}, the
   * ldconfig cache, the default folders), else from the first of {@code folders} that holds it. Loading, not just
   * looking, is the only faithful test, and what is loaded here is what libtorch needs next anyway.
   */
  static boolean loadSystemLibrary(String soname, List<String> folders) {
    if (canLoad(soname)) {
      return true;
    }
    for (String folder : folders) {
      Path candidate = Path.of(folder, soname);
      if (Files.isRegularFile(candidate) && canLoad(candidate.toString())) {
        return true;
      }
    }
    return false;
  }

  private static boolean canLoad(String nameOrPath) {
    try {
      SymbolLookup.libraryLookup(nameOrPath, Arena.global());
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  private static List<String> concatFolders(List<String> first, List<String> second) {
    List<String> all = new ArrayList<>(first);
    all.addAll(second);
    return all;
  }

  private static List<Path> concat(List<Path> first, List<Path> second) {
    List<Path> all = new ArrayList<>(first);
    all.addAll(second);
    return all;
  }

  /** The shared libraries in a platform folder of the class path, unpacked into JavaCPP's cache; empty if absent. */
  private static Optional<List<Path>> unpack(String folder) {
    File[] unpacked;
    try {
      unpacked = Loader.cacheResources(org.bytedeco.pytorch.global.torch.class, folder);
    } catch (IOException e) {
      throw new UncheckedIOException("could not unpack the native libraries of " + folder + " into the JavaCPP "
          + "cache " + cacheDirectory() + ": " + e.getMessage() + "; free space there or point "
          + "-Dorg.bytedeco.javacpp.cachedir at another folder", e);
    }
    if (unpacked == null || unpacked.length == 0) {
      return Optional.empty();
    }
    List<Path> libraries = new ArrayList<>();
    for (File root : unpacked) {
      try (Stream<Path> files = Files.walk(root.toPath())) {
        files.filter(LibTorch::isSharedLibrary).sorted().forEach(libraries::add);
      } catch (IOException e) {
        throw new UncheckedIOException("could not list " + root + ": " + e.getMessage(), e);
      }
    }
    return Optional.of(libraries);
  }

  /** Plain shared library files; symbolic links are JavaCPP's aliases of other files. */
  private static boolean isSharedLibrary(Path file) {
    String name = file.getFileName().toString();
    return Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) && name.startsWith("lib")
        && (name.endsWith(".so") || name.contains(".so."));
  }

  /** JNI libraries are JavaCPP's to load, because their {@code JNI_OnLoad} registers its classes. */
  private static boolean isLoadableLibrary(Path file) {
    return !file.getFileName().toString().startsWith("libjni");
  }

  /** Orders {@code libraries} so that each comes after the ones among them it names as {@code DT_NEEDED}. */
  static List<Path> dependenciesFirst(List<Path> libraries) {
    Map<String, Path> bySoname = new HashMap<>();
    Map<Path, List<String>> needed = new HashMap<>();
    for (Path library : libraries) {
      ElfDependencies elf = readElf(library).orElse(null);
      if (elf != null) {
        bySoname.putIfAbsent(elf.soname().orElse(library.getFileName().toString()), library);
        needed.put(library, elf.needed());
      }
    }
    List<Path> order = new ArrayList<>();
    Set<Path> visited = new HashSet<>();
    for (Path library : libraries) {
      if (needed.containsKey(library)) {
        visit(library, bySoname, needed, visited, order);
      }
    }
    return order;
  }

  private static void visit(Path library, Map<String, Path> bySoname, Map<Path, List<String>> needed, Set<Path> visited,
      List<Path> order) {
    if (!visited.add(library)) {
      return;
    }
    for (String dependency : needed.get(library)) {
      Path provider = bySoname.get(dependency);
      if (provider != null) {
        visit(provider, bySoname, needed, visited, order);
      }
    }
    order.add(library);
  }

  private static Optional<ElfDependencies> readElf(Path library) {
    try {
      return ElfDependencies.read(library);
    } catch (IOException e) {
      throw new UncheckedIOException("could not read " + library + ": " + e.getMessage(), e);
    }
  }

  private static String cacheDirectory() {
    try {
      return Loader.getCacheDir().toString();
    } catch (IOException e) {
      return "(unknown: " + e.getMessage() + ")";
    }
  }
}

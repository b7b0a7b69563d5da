package dev.grpo4j.torch;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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
 * <p>Call it before the first use of any {@code org.bytedeco.pytorch} class; the {@code grpo4j} commands do. The
 * unpacked libraries (about 450 MB) live in JavaCPP's cache, {@code ~/.javacpp/cache} unless
 * {@code -Dorg.bytedeco.javacpp.cachedir} says otherwise.
 */
public final class LibTorch {
  /** The presets whose libraries libtorch needs, in JavaCPP's own loading order; any class of each jar. */
  private static final List<Class<?>> PRESETS =
      List.of(org.bytedeco.openblas.global.openblas.class, org.bytedeco.pytorch.global.torch.class);

  private static boolean loaded;

  private LibTorch() {}

  /**
   * Unpacks and loads libtorch; later calls return at once.
   *
   * @throws UncheckedIOException when the libraries cannot be unpacked into the cache (full disk, no permission)
   * @throws IllegalStateException when a library cannot be loaded
   */
  public static synchronized void load() {
    if (loaded) {
      return;
    }
    List<Path> libraries = new ArrayList<>();
    for (Class<?> preset : PRESETS) {
      libraries.addAll(unpack(preset));
    }
    for (Path library : dependenciesFirst(libraries)) {
      try {
        System.load(library.toString());
      } catch (UnsatisfiedLinkError e) {
        throw new IllegalStateException("could not load " + library + ": " + e.getMessage()
            + " (delete that folder to have it unpacked again, or set -Dorg.bytedeco.javacpp.cachedir)", e);
      }
    }
    Loader.load(org.bytedeco.pytorch.global.torch.class);
    loaded = true;
  }

  /** The shared libraries of one preset's platform folder, unpacked into JavaCPP's cache. */
  private static List<Path> unpack(Class<?> preset) {
    String folder = "/" + preset.getPackageName().replace(".global", "").replace('.', '/') + "/" + Loader.getPlatform()
        + "/";
    File[] unpacked;
    try {
      unpacked = Loader.cacheResources(preset, folder);
    } catch (IOException e) {
      throw new UncheckedIOException("could not unpack libtorch's native libraries (about 450 MB) into the JavaCPP "
          + "cache " + cacheDirectory() + ": " + e.getMessage() + "; free space there or point "
          + "-Dorg.bytedeco.javacpp.cachedir at another folder", e);
    }
    if (unpacked == null || unpacked.length == 0) {
      throw new IllegalStateException("no native libraries for " + Loader.getPlatform() + " in " + folder
          + " on the class path: the bytedeco jars of this platform are missing");
    }
    List<Path> libraries = new ArrayList<>();
    for (File root : unpacked) {
      try (Stream<Path> files = Files.walk(root.toPath())) {
        files.filter(LibTorch::isLoadableLibrary).sorted().forEach(libraries::add);
      } catch (IOException e) {
        throw new UncheckedIOException("could not list " + root + ": " + e.getMessage(), e);
      }
    }
    return libraries;
  }

  /**
   * Plain shared libraries only: symbolic links are JavaCPP's aliases of other files, and JNI libraries are
   * JavaCPP's to load, because their {@code JNI_OnLoad} registers its classes.
   */
  private static boolean isLoadableLibrary(Path file) {
    String name = file.getFileName().toString();
    return Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS) && name.startsWith("lib") && !name.startsWith("libjni")
        && (name.endsWith(".so") || name.contains(".so."));
  }

  /** Orders {@code libraries} so that each comes after the ones among them it names as {@code DT_NEEDED}. */
  static List<Path> dependenciesFirst(List<Path> libraries) {
    Map<String, Path> bySoname = new HashMap<>();
    Map<Path, List<String>> needed = new HashMap<>();
    for (Path library : libraries) {
      try {
        ElfDependencies elf = ElfDependencies.read(library).orElse(null);
        if (elf == null) {
          continue;
        }
        bySoname.putIfAbsent(elf.soname().orElse(library.getFileName().toString()), library);
        needed.put(library, elf.needed());
      } catch (IOException e) {
        throw new UncheckedIOException("could not read " + library + ": " + e.getMessage(), e);
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

  private static String cacheDirectory() {
    try {
      return Loader.getCacheDir().toString();
    } catch (IOException e) {
      return "(unknown: " + e.getMessage() + ")";
    }
  }
}

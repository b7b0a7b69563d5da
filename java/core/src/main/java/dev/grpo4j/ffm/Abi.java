package dev.grpo4j.ffm;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;
import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_DOUBLE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import dev.grpo4j.NativeKernelException;
import dev.grpo4j.NonFiniteInputException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The C ABI of native/include/grpo4j.h: struct layouts, method handles (linked once, when this class
 * initialises) and the mapping of status codes to Java exceptions.
 */
final class Abi {
  static final int OK = 0;
  static final int INVALID_ARGUMENT = 1;
  static final int NON_FINITE_INPUT = 2;
  static final int NO_CUDA_DEVICE = 3;
  static final int CUDA_ERROR = 4;
  static final int OUT_OF_MEMORY = 5;

  static final int FLAG_NON_FINITE = 1;
  static final int FLAG_LABEL_RANGE = 2;
  static final int FLAG_GROUP_RANGE = 4;
  static final int FLAG_GROUP_SIZE = 8;
  static final int FLAG_GRAD_RANGE = 16;
  static final int FLAG_GROUP_STATS = 32;

  static final StructLayout TOKENS = MemoryLayout.structLayout(
      ADDRESS.withName("logits"),
      ADDRESS.withName("labels"),
      JAVA_LONG.withName("rows"),
      JAVA_LONG.withName("seq_len"),
      JAVA_LONG.withName("vocab"),
      JAVA_INT.withName("logits_type"),
      JAVA_INT.withName("label_type"));

  /** GRPO4J_MAX_LOSS_TERMS. */
  static final int MAX_LOSS_TERMS = 4;

  static final StructLayout OPTIONS = MemoryLayout.structLayout(
      JAVA_DOUBLE.withName("beta"),
      JAVA_DOUBLE.withName("label_smoothing"),
      JAVA_DOUBLE.withName("eta"),
      JAVA_DOUBLE.withName("chi"),
      JAVA_DOUBLE.withName("adjustment"),
      JAVA_INT.withName("loss_type"),
      JAVA_INT.withName("weighting"),
      JAVA_INT.withName("group_norm"),
      JAVA_INT.withName("ipo_length_norm"),
      JAVA_INT.withName("f_divergence"),
      JAVA_INT.withName("num_terms"),
      JAVA_DOUBLE.withName("f_alpha"),
      JAVA_DOUBLE.withName("discopop_tau"),
      JAVA_DOUBLE.withName("simpo_gamma"),
      MemoryLayout.sequenceLayout(MAX_LOSS_TERMS, JAVA_DOUBLE).withName("term_weights"),
      MemoryLayout.sequenceLayout(MAX_LOSS_TERMS, JAVA_INT).withName("term_types"));

  /** grpo4j_outputs: 16 pointers, in this order. */
  static final String[] OUTPUT_FIELDS = {
    "loss", "pair_loss", "pair_margin", "pair_chosen_reward", "pair_rejected_reward", "pair_chosen_logp",
    "pair_rejected_logp", "group_loss", "group_weight", "group_reward_accuracy", "group_logp_accuracy",
    "group_chosen_reward", "group_rejected_reward", "group_margin", "group_count", "flags"
  };

  static final StructLayout OUTPUTS = outputsLayout();

  static final StructLayout BATCH = MemoryLayout.structLayout(
      TOKENS.withName("tokens"),
      ADDRESS.withName("ref_logps"),
      ADDRESS.withName("group_ids"),
      ADDRESS.withName("group_sizes"),
      ADDRESS.withName("log_alpha"),
      ADDRESS.withName("grad"),
      JAVA_LONG.withName("num_pairs"),
      JAVA_INT.withName("num_groups"),
      JAVA_INT.withName("reserved"),
      OUTPUTS.withName("out"));

  static final StructLayout EXEC = MemoryLayout.structLayout(
      ADDRESS.withName("stream"),
      JAVA_INT.withName("backend"),
      JAVA_INT.withName("num_threads"));

  static final MethodHandle LOSS_FORWARD_BACKWARD;
  static final MethodHandle LOSS_FORWARD;
  static final MethodHandle SEQUENCE_LOGPROBS;
  static final MethodHandle WORKSPACE_BYTES;
  static final MethodHandle LOSS_STATISTICS;
  static final MethodHandle GROUP_STEP;
  static final MethodHandle LOGITS_GRADIENT;
  static final MethodHandle SEQUENCE_STATISTICS;
  static final MethodHandle SEQUENCE_GRADIENT;
  static final MethodHandle TOKEN_LOGPROBS;
  static final MethodHandle TOKEN_GRADIENT;
  static final MethodHandle LAST_ERROR;
  static final MethodHandle LOSS_COUNT;
  static final MethodHandle LOSS_INFO_AT;
  static final MethodHandle ABI_VERSION;
  static final MethodHandle ABI_LAYOUT;
  static final MethodHandle CPU_DEFAULT_THREADS;
  static final MethodHandle CUDA_COMPILED;
  static final MethodHandle CUDA_DEVICE_COUNT;
  static final MethodHandle CUDA_MALLOC;
  static final MethodHandle CUDA_FREE;
  static final MethodHandle CUDA_MEMCPY;
  static final MethodHandle CUDA_SYNCHRONIZE;

  private static final int EXPECTED_ABI_VERSION = 4;
  /** Columns of the group statistics, GRPO4J_GROUP_STATS. */
  static final int GROUP_STATS = 7;
  /** Upper bound on the layout string's length, for reading it through a zero-length pointer. */
  private static final long LAYOUT_TEXT_LIMIT = 1 << 16;

  static {
    SymbolLookup library = NativeLibrary.load();
    Linker linker = Linker.nativeLinker();
    FunctionDescriptor lossDescriptor = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
    LOSS_FORWARD_BACKWARD = link(linker, library, "grpo4j_loss_forward_backward", lossDescriptor);
    LOSS_FORWARD = link(linker, library, "grpo4j_loss_forward", lossDescriptor);
    SEQUENCE_LOGPROBS = link(linker, library, "grpo4j_sequence_logprobs",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    WORKSPACE_BYTES = link(linker, library, "grpo4j_workspace_bytes",
        FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG));
    LOSS_STATISTICS = link(linker, library, "grpo4j_loss_statistics",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    GROUP_STEP = link(linker, library, "grpo4j_group_step",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS));
    LOGITS_GRADIENT = link(linker, library, "grpo4j_logits_gradient",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    LAST_ERROR = link(linker, library, "grpo4j_last_error", FunctionDescriptor.of(ADDRESS));
    LOSS_COUNT = link(linker, library, "grpo4j_loss_count", FunctionDescriptor.of(JAVA_INT));
    LOSS_INFO_AT = link(linker, library, "grpo4j_loss_info_at", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));
    SEQUENCE_STATISTICS = link(linker, library, "grpo4j_sequence_statistics",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    SEQUENCE_GRADIENT = link(linker, library, "grpo4j_sequence_gradient",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    TOKEN_LOGPROBS = link(linker, library, "grpo4j_token_logprobs",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    TOKEN_GRADIENT = link(linker, library, "grpo4j_token_gradient",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS));
    ABI_VERSION = link(linker, library, "grpo4j_abi_version", FunctionDescriptor.of(JAVA_INT));
    ABI_LAYOUT = link(linker, library, "grpo4j_abi_layout", FunctionDescriptor.of(ADDRESS));
    CPU_DEFAULT_THREADS = link(linker, library, "grpo4j_cpu_default_threads", FunctionDescriptor.of(JAVA_INT));
    CUDA_COMPILED = link(linker, library, "grpo4j_cuda_compiled", FunctionDescriptor.of(JAVA_INT));
    CUDA_DEVICE_COUNT = link(linker, library, "grpo4j_cuda_device_count", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    CUDA_MALLOC = link(linker, library, "grpo4j_cuda_malloc", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    CUDA_FREE = link(linker, library, "grpo4j_cuda_free", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    CUDA_MEMCPY = link(linker, library, "grpo4j_cuda_memcpy",
        FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
    CUDA_SYNCHRONIZE = link(linker, library, "grpo4j_cuda_synchronize", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    int version = call(() -> (int) ABI_VERSION.invokeExact());
    if (version != EXPECTED_ABI_VERSION) {
      throw new IllegalStateException("grpo4j native library has ABI version " + version + ", this jar expects "
          + EXPECTED_ABI_VERSION + ": the jar and the library come from different builds");
    }
    // A struct that drifted between the header and these layouts would let every call read or write past its
    // fields: refuse to run at all.
    List<String> mismatches = layoutMismatches(nativeLayout());
    if (!mismatches.isEmpty()) {
      throw new IllegalStateException("grpo4j native library's struct layout differs from this jar's ("
          + String.join("; ", mismatches) + "): the jar and the library come from different builds");
    }
  }

  private Abi() {}

  /** The struct layouts as the native library was compiled: {@code grpo4j_abi_layout()}. */
  static String nativeLayout() {
    MemorySegment text = call(() -> (MemorySegment) ABI_LAYOUT.invokeExact());
    return text.reinterpret(LAYOUT_TEXT_LIMIT).getString(0);
  }

  /**
   * Where {@code nativeLayout} ({@code "grpo4j_batch.size=232;grpo4j_batch.grad=72;..."}) and this class's
   * layouts disagree: each struct's size and each field's offset, one line per difference; empty when they agree.
   */
  static List<String> layoutMismatches(String nativeLayout) {
    Map<String, Long> actual = new TreeMap<>();
    for (String entry : nativeLayout.split(";")) {
      int eq = entry.indexOf('=');
      if (eq > 0) {
        actual.put(entry.substring(0, eq), Long.parseLong(entry.substring(eq + 1)));
      }
    }
    Map<String, Long> expected = new TreeMap<>();
    Map<String, StructLayout> structs = Map.of("grpo4j_tokens", TOKENS, "grpo4j_options", OPTIONS, "grpo4j_outputs",
        OUTPUTS, "grpo4j_batch", BATCH, "grpo4j_exec", EXEC);
    structs.forEach((name, layout) -> {
      expected.put(name + ".size", layout.byteSize());
      for (MemoryLayout member : layout.memberLayouts()) {
        member.name().ifPresent(field -> expected.put(name + "." + field, layout.byteOffset(groupElement(field))));
      }
    });
    List<String> mismatches = new ArrayList<>();
    Set<String> keys = new TreeSet<>(expected.keySet());
    keys.addAll(actual.keySet());
    for (String key : keys) {
      Long library = actual.get(key);
      Long jar = expected.get(key);
      if (!Objects.equals(library, jar)) {
        mismatches.add(key + ": " + (library == null ? "absent" : library) + " in the library, "
            + (jar == null ? "absent" : jar) + " in this jar");
      }
    }
    return mismatches;
  }

  private static StructLayout outputsLayout() {
    MemoryLayout[] fields = new MemoryLayout[OUTPUT_FIELDS.length];
    for (int i = 0; i < fields.length; i++) {
      fields[i] = ADDRESS.withName(OUTPUT_FIELDS[i]);
    }
    return MemoryLayout.structLayout(fields);
  }

  private static MethodHandle link(Linker linker, SymbolLookup library, String name, FunctionDescriptor descriptor) {
    MemorySegment symbol = library.find(name)
        .orElseThrow(() -> new IllegalStateException("grpo4j native library lacks symbol " + name));
    return linker.downcallHandle(symbol, descriptor);
  }

  static long offset(StructLayout layout, String... path) {
    MemoryLayout.PathElement[] elements = new MemoryLayout.PathElement[path.length];
    for (int i = 0; i < path.length; i++) {
      elements[i] = groupElement(path[i]);
    }
    return layout.byteOffset(elements);
  }

  /** A native call that may throw only what the method handle declares. */
  @FunctionalInterface
  interface NativeCall<T> {
    T run() throws Throwable;
  }

  static <T> T call(NativeCall<T> body) {
    try {
      return body.run();
    } catch (RuntimeException | Error e) {
      throw e;
    } catch (Throwable t) {
      throw new IllegalStateException("unexpected exception from a grpo4j native call", t);
    }
  }

  static String lastError() {
    MemorySegment message = call(() -> (MemorySegment) LAST_ERROR.invokeExact());
    return message.reinterpret(1024).getString(0);
  }

  /** Throws the exception that matches a non-OK status, with the native message of this thread. */
  static void check(int status, String operation) {
    if (status == OK) {
      return;
    }
    String message = operation + ": " + lastError();
    switch (status) {
      case INVALID_ARGUMENT -> throw new IllegalArgumentException(message);
      case NON_FINITE_INPUT -> throw new NonFiniteInputException(message);
      case NO_CUDA_DEVICE -> throw new IllegalStateException(message);
      default -> throw new NativeKernelException(status, message);
    }
  }

  static int cpuDefaultThreads() {
    return call(() -> (int) CPU_DEFAULT_THREADS.invokeExact());
  }

  static boolean cudaCompiled() {
    return call(() -> (int) CUDA_COMPILED.invokeExact()) != 0;
  }

  static int cudaDeviceCount() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment count = arena.allocate(JAVA_INT);
      int status = call(() -> (int) CUDA_DEVICE_COUNT.invokeExact(count));
      return status == OK ? count.get(JAVA_INT, 0) : 0;
    }
  }
}

package dev.grpo4j.safetensors;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.grpo4j.platform.LibTorch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.ref.Reference;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Tensor;

/**
 * One safetensors file, memory-mapped read-only: its header is parsed and checked when it is opened, and tensor data
 * is read straight from the mapping into libtorch's memory, never through the Java heap.
 *
 * <p>Every inconsistency in the file (a truncated file, a header that is not JSON, an unknown dtype, a shape that
 * does not match the byte range, overlapping tensors) is reported by {@link #open} as a {@link SafeTensorsException}
 * naming the file and the tensor; failures to read the file at all are {@link UncheckedIOException}s. Gaps between
 * tensors and bytes after the last one are tolerated.
 *
 * <p>The object owns the mapping: {@link #close()} unmaps it, after which every method, and every segment returned
 * by {@link #data}, throws {@link IllegalStateException}. Tensors returned by {@link #toTensor} are copies and stay
 * valid. Instances may be used from several threads.
 */
public final class SafeTensorsFile implements AutoCloseable {
  static {
    LibTorch.load();
  }

  /** The key of the optional string-to-string map in the header. */
  static final String METADATA_KEY = "__metadata__";

  /** The reference implementation's limit; it keeps a corrupt length from making us read gigabytes of "JSON". */
  static final long MAX_HEADER_BYTES = 100L << 20;

  private static final int LENGTH_PREFIX_BYTES = 8;

  private static final JsonMapper JSON = JsonMapper.builder()
      // A repeated tensor name would otherwise silently keep the last entry.
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .build();

  private final Path file;
  private final Arena arena;
  private final MemorySegment mapping;
  private final Map<String, TensorInfo> tensors;
  private final Map<String, String> metadata;
  private final AtomicBoolean closed = new AtomicBoolean();

  private SafeTensorsFile(
      Path file, Arena arena, MemorySegment mapping, Map<String, TensorInfo> tensors, Map<String, String> metadata) {
    this.file = file;
    this.arena = arena;
    this.mapping = mapping;
    this.tensors = Collections.unmodifiableMap(tensors);
    this.metadata = Collections.unmodifiableMap(metadata);
  }

  /**
   * Maps {@code file} and checks its header against the file's size.
   *
   * @throws SafeTensorsException if the file is not a well-formed safetensors file; the message says what is wrong
   * @throws UncheckedIOException if the file cannot be opened or mapped (missing, unreadable)
   * @throws UnsupportedOperationException on a big-endian platform, where the little-endian data would need swapping
   */
  public static SafeTensorsFile open(Path file) {
    if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
      throw new UnsupportedOperationException(
          "safetensors data is little-endian and is copied into tensors unconverted; this platform is big-endian");
    }
    Arena arena = Arena.ofShared();
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      long size = channel.size();
      if (size < LENGTH_PREFIX_BYTES) {
        throw new SafeTensorsException("not a safetensors file: " + file + " has " + size
            + " bytes, fewer than the 8-byte header length that starts every safetensors file");
      }
      MemorySegment mapping = channel.map(FileChannel.MapMode.READ_ONLY, 0, size, arena).asReadOnly();
      Header header = Header.parse(file, mapping);
      return new SafeTensorsFile(file, arena, mapping, header.tensors(), header.metadata());
    } catch (IOException e) {
      arena.close();
      throw new UncheckedIOException("cannot read safetensors file " + file + ": " + e, e);
    } catch (RuntimeException | Error e) {
      arena.close();
      throw e;
    }
  }

  /** The file this object maps. */
  public Path path() {
    return file;
  }

  /** The tensor names in the order the header lists them (for files grpo4j writes, also the order of the data). */
  public List<String> names() {
    ensureOpen("names()");
    return List.copyOf(tensors.keySet());
  }

  /** Whether the file holds a tensor named {@code name}. */
  public boolean contains(String name) {
    ensureOpen("contains(" + name + ")");
    return tensors.containsKey(name);
  }

  /**
   * The header entry of tensor {@code name}.
   *
   * @throws SafeTensorsException if there is no such tensor; the message lists similar names
   */
  public TensorInfo info(String name) {
    ensureOpen(name);
    TensorInfo info = tensors.get(name);
    if (info == null) {
      throw new SafeTensorsException(Names.unknown(name, file.toString(), tensors.keySet()));
    }
    return info;
  }

  /** The {@code __metadata__} strings of the header, empty if it has none. */
  public Map<String, String> metadata() {
    ensureOpen("metadata()");
    return metadata;
  }

  /**
   * The bytes of tensor {@code name}: a read-only slice of the mapping, little-endian and row-major. It is valid
   * until {@link #close()}; later accesses throw {@link IllegalStateException}.
   */
  public MemorySegment data(String name) {
    TensorInfo info = info(name);
    return mapping.asSlice(info.byteOffset(), info.byteLength());
  }

  /** A new CPU tensor of the file's dtype and shape holding a copy of tensor {@code name}. */
  public Tensor toTensor(String name) {
    TensorInfo info = info(name);
    Tensor tensor = TensorMemory.emptyCpu(info.dtype(), info.shape());
    MemorySegment.copy(data(name), 0, TensorMemory.bytes(tensor), 0, info.byteLength());
    Reference.reachabilityFence(tensor);
    return tensor;
  }

  /**
   * Overwrites {@code target} with tensor {@code name}, e.g. to load a model parameter in place.
   *
   * <p>The target keeps its identity, device, dtype and {@code requires_grad}; no autograd history is recorded.
   * Floating-point data is converted to the target's floating-point type the way libtorch's {@code copy_} (and
   * {@code to}) converts it; integer and boolean tensors must match the target's type exactly, since silently
   * turning them into another type hides a wrong name. The data passes through one CPU tensor of the file's dtype,
   * freed before returning, which {@code copy_} then moves to the target's device.
   *
   * @throws SafeTensorsException if there is no such tensor, the shapes differ or the types cannot be converted
   */
  @SuppressWarnings("try") // the guard and the scope act by existing; the body never names them
  public void copyInto(String name, Tensor target) {
    TensorInfo info = info(name);
    checkTarget(info, file.toString(), target);
    // The scope frees the staging tensor right away rather than when the GC gets to it: loading a model
    // would otherwise hold a second copy of every parameter in native memory.
    try (PointerScope scope = new PointerScope();
        NoGradGuard noGrad = new NoGradGuard()) {
      target.copy_(toTensor(name));
    }
  }

  private static void checkTarget(TensorInfo info, String where, Tensor target) {
    if (target == null || target.isNull() || !target.defined()) {
      throw new SafeTensorsException("cannot copy tensor '" + info.name() + "' of " + where
          + " into an undefined tensor; allocate the target (e.g. with torch.empty) first");
    }
    long[] targetShape = TensorMemory.shape(target);
    if (!Arrays.equals(targetShape, info.shape())) {
      throw new SafeTensorsException("tensor '" + info.name() + "' in " + where + " has shape "
          + TensorMemory.format(info.shape()) + " but the target has shape " + TensorMemory.format(targetShape)
          + "; the checkpoint and the model's configuration do not match");
    }
    DType targetType = DType.fromScalarType(target.scalar_type()).orElse(null);
    boolean convertible = info.dtype().isFloatingPoint() && target.is_floating_point();
    if (targetType != info.dtype() && !convertible) {
      throw new SafeTensorsException("tensor '" + info.name() + "' in " + where + " is " + info.dtype().code()
          + " but the target is " + target.scalar_type().intern() + "; only floating-point types are converted, "
          + "so load it with toTensor and convert explicitly if that is what you want");
    }
  }

  /** Unmaps the file. Calling it again does nothing. */
  @Override
  public void close() {
    if (closed.compareAndSet(false, true)) {
      arena.close();
    }
  }

  @Override
  public String toString() {
    return "SafeTensorsFile[" + file + ", " + tensors.size() + " tensors" + (closed.get() ? ", closed]" : "]");
  }

  private void ensureOpen(String access) {
    if (closed.get()) {
      throw new IllegalStateException("safetensors file " + file + " is closed, so " + access
          + " cannot be read; open it again with SafeTensorsFile.open");
    }
  }

  /** The parsed and checked header: entries with absolute byte offsets, in header order. */
  private record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {
    static Header parse(Path file, MemorySegment mapping) {
      long fileSize = mapping.byteSize();
      long headerLength = mapping.get(JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
      // The length is unsigned: a value past Long.MAX_VALUE reads as negative.
      if (headerLength < 0 || headerLength > fileSize - LENGTH_PREFIX_BYTES) {
        throw new SafeTensorsException("header length " + Long.toUnsignedString(headerLength) + " of " + file
            + " is beyond the file, which has " + fileSize + " bytes: the file is truncated or not a safetensors "
            + "file; download or save it again");
      }
      if (headerLength > MAX_HEADER_BYTES) {
        throw new SafeTensorsException("header of " + file + " is " + headerLength + " bytes, more than the "
            + MAX_HEADER_BYTES + " the format allows: the file is corrupt or not a safetensors file");
      }
      byte[] headerBytes = mapping.asSlice(LENGTH_PREFIX_BYTES, headerLength).toArray(JAVA_BYTE);
      JsonNode root;
      try {
        root = JSON.readTree(headerBytes);
      } catch (JacksonException e) {
        throw new SafeTensorsException("header of " + file + " is not valid JSON (" + e.getOriginalMessage()
            + "): the file is corrupt or not a safetensors file", e);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      if (root == null || !root.isObject()) {
        throw new SafeTensorsException("header of " + file + " is not a JSON object but "
            + (root == null ? "empty" : root.getNodeType().toString().toLowerCase(Locale.ROOT))
            + ": the file is corrupt or not a safetensors file");
      }
      long dataStart = LENGTH_PREFIX_BYTES + headerLength;
      long dataSize = fileSize - dataStart;
      Map<String, TensorInfo> tensors = new LinkedHashMap<>();
      Map<String, String> metadata = new LinkedHashMap<>();
      for (Map.Entry<String, JsonNode> field : root.properties()) {
        if (field.getKey().equals(METADATA_KEY)) {
          readMetadata(file, field.getValue(), metadata);
        } else {
          String name = field.getKey();
          tensors.put(name, readEntry(file, name, field.getValue(), dataStart, dataSize));
        }
      }
      checkDisjoint(file, tensors.values());
      return new Header(tensors, metadata);
    }

    private static void readMetadata(Path file, JsonNode node, Map<String, String> into) {
      if (!node.isObject()) {
        throw new SafeTensorsException(METADATA_KEY + " in the header of " + file
            + " must be an object of strings, not " + node);
      }
      for (Map.Entry<String, JsonNode> entry : node.properties()) {
        if (!entry.getValue().isTextual()) {
          throw new SafeTensorsException(METADATA_KEY + " entry '" + entry.getKey() + "' in the header of " + file
              + " must be a string, not " + entry.getValue());
        }
        into.put(entry.getKey(), entry.getValue().textValue());
      }
    }

    private static TensorInfo readEntry(Path file, String name, JsonNode node, long dataStart, long dataSize) {
      String where = "tensor '" + name + "' in " + file;
      if (!node.isObject()) {
        throw new SafeTensorsException(where + " must be described by an object with dtype, shape and "
            + "data_offsets, not " + node);
      }
      JsonNode dtypeNode = node.get("dtype");
      if (dtypeNode == null || !dtypeNode.isTextual()) {
        throw new SafeTensorsException(where + " has no dtype string");
      }
      DType dtype = DType.fromCode(dtypeNode.textValue()).orElseThrow(() -> new SafeTensorsException(
          where + " has dtype '" + dtypeNode.textValue() + "', which grpo4j does not support (supported: "
              + DType.supportedCodes() + "); convert the checkpoint, e.g. to BF16 or F32"));
      long[] shape = readNonNegativeLongs(node.get("shape"), -1, where, "shape");
      long[] offsets = readNonNegativeLongs(node.get("data_offsets"), 2, where, "data_offsets");
      long begin = offsets[0];
      long end = offsets[1];
      if (begin > end) {
        throw new SafeTensorsException(where + " has data_offsets [" + begin + ", " + end
            + "], which end before they begin: the header is corrupt");
      }
      long expectedLength = byteLength(dtype, shape, where);
      if (end - begin != expectedLength) {
        throw new SafeTensorsException(where + " has data_offsets [" + begin + ", " + end + "] spanning "
            + (end - begin) + " bytes, but its shape " + TensorMemory.format(shape) + " of " + dtype.code()
            + " needs " + expectedLength + " bytes: the header is corrupt");
      }
      if (end > dataSize) {
        throw new SafeTensorsException("truncated file: " + where + " ends at byte " + end + " of the data area; "
            + "expected at least " + (dataStart + end) + " bytes, file has " + (dataStart + dataSize)
            + "; download or save it again");
      }
      return new TensorInfo(name, dtype, shape, dataStart + begin, expectedLength);
    }

    private static long[] readNonNegativeLongs(JsonNode node, int requiredLength, String where, String field) {
      String expectation = requiredLength == 2
          ? "an array [begin, end] of two non-negative integers"
          : "an array of non-negative integers";
      if (node == null || !node.isArray() || (requiredLength >= 0 && node.size() != requiredLength)) {
        throw new SafeTensorsException(where + " must have " + field + " as " + expectation + ", not " + node);
      }
      long[] values = new long[node.size()];
      for (int i = 0; i < values.length; i++) {
        JsonNode element = node.get(i);
        if (!element.isIntegralNumber() || !element.canConvertToLong() || element.longValue() < 0) {
          String negativeShape = field.equals("shape") ? " (a negative shape is invalid)" : "";
          throw new SafeTensorsException(where + " has " + field + " " + node + " with element " + element
              + ": each must be a non-negative integer" + negativeShape + "; the header is corrupt");
        }
        values[i] = element.longValue();
      }
      return values;
    }

    private static long byteLength(DType dtype, long[] shape, String where) {
      try {
        long length = dtype.byteSize();
        for (long dim : shape) {
          length = Math.multiplyExact(length, dim);
        }
        return length;
      } catch (ArithmeticException e) {
        throw new SafeTensorsException(where + " has shape " + TensorMemory.format(shape)
            + ", too large to address: the header is corrupt", e);
      }
    }

    private static void checkDisjoint(Path file, Iterable<TensorInfo> infos) {
      List<TensorInfo> byOffset = new ArrayList<>();
      for (TensorInfo info : infos) {
        // An empty tensor occupies no bytes, so it cannot overlap anything wherever it points.
        if (info.byteLength() > 0) {
          byOffset.add(info);
        }
      }
      byOffset.sort(Comparator.comparingLong(TensorInfo::byteOffset));
      for (int i = 1; i < byOffset.size(); i++) {
        TensorInfo previous = byOffset.get(i - 1);
        TensorInfo current = byOffset.get(i);
        if (current.byteOffset() < previous.byteOffset() + previous.byteLength()) {
          throw new SafeTensorsException("tensors '" + previous.name() + "' and '" + current.name() + "' in "
              + file + " have overlapping data_offsets: the header is corrupt; safetensors stores every tensor "
              + "in bytes of its own");
        }
      }
    }
  }
}

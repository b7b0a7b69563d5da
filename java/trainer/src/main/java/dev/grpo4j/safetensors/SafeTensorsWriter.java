package dev.grpo4j.safetensors;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.Tensor;

/**
 * Writes tensors to a safetensors file in the layout Hugging Face's library writes: the JSON header padded with
 * spaces to a multiple of 8 bytes, then each tensor's bytes, contiguous and in the order of the map given.
 *
 * <p>Tensors may live on any device, have any strides and share storage with each other: each is written as a
 * dense copy of its own, as the format has no aliasing. Data goes from libtorch's memory to the file through
 * {@link FileChannel} writes of buffers that wrap that memory, so no tensor is copied into the Java heap.
 */
public final class SafeTensorsWriter {
  /** Below the 2 GiB limit of one {@link ByteBuffer}; large tensors are written in slices of this size. */
  private static final long WRITE_CHUNK_BYTES = 1L << 30;

  private static final int HEADER_ALIGNMENT = 8;

  private static final ObjectMapper JSON = new ObjectMapper();

  private SafeTensorsWriter() {}

  /**
   * Writes {@code tensors} to {@code file}, replacing it if it exists.
   *
   * @param file the file to write; its folder must exist
   * @param tensors the tensors by name, written in the map's iteration order (pass a {@code LinkedHashMap} or
   *     {@code TreeMap} for a reproducible file)
   * @param metadata the header's {@code __metadata__} strings; null or empty for none. Hugging Face transformers
   *     expects {@code {"format": "pt"}} in model files ({@link SafeTensorsCheckpoint#save} adds it)
   * @throws SafeTensorsException if a name is empty or {@code __metadata__}, a tensor is undefined or not dense,
   *     or its dtype has no safetensors code; nothing is written then
   * @throws UncheckedIOException if the file cannot be written; a partly written file is deleted
   */
  public static void write(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) {
    List<Planned> plan = plan(file, tensors);
    byte[] header = header(file, plan, metadata);
    FileChannel channel;
    try {
      channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
          StandardOpenOption.TRUNCATE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create safetensors file " + file + ": " + e, e);
    }
    // Only a file this method has opened (and so truncated) is deleted when writing fails.
    try (channel) {
      ByteBuffer prefix = ByteBuffer.allocate(Long.BYTES + header.length).order(ByteOrder.LITTLE_ENDIAN);
      prefix.putLong(header.length).put(header).flip();
      writeFully(channel, prefix);
      for (Planned entry : plan) {
        writeData(channel, entry);
      }
      // A caller that renames the finished folder into place needs the bytes on disk before the rename.
      channel.force(true);
    } catch (IOException | RuntimeException e) {
      deletePartial(file, e);
      if (e instanceof IOException io) {
        throw new UncheckedIOException("cannot write safetensors file " + file + ": " + io, io);
      }
      throw (RuntimeException) e;
    }
  }

  /**
   * The number of bytes {@code tensor} takes in a safetensors file, after checking that it can be written.
   *
   * @throws SafeTensorsException as {@link #write} does for an unwritable name or tensor
   */
  static long byteLength(String name, Tensor tensor, Path file) {
    return planEntry(file, name, tensor).byteLength();
  }

  /** A tensor with its place in the data area; offsets are relative to the end of the header. */
  private record Planned(String name, Tensor tensor, DType dtype, long[] shape, long begin, long byteLength) {}

  private static List<Planned> plan(Path file, Map<String, Tensor> tensors) {
    if (tensors == null) {
      throw new SafeTensorsException("no tensor map given for " + file + "; pass an empty map for a file without "
          + "tensors");
    }
    List<Planned> plan = new ArrayList<>(tensors.size());
    long offset = 0;
    for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
      Planned unplaced = planEntry(file, entry.getKey(), entry.getValue());
      plan.add(new Planned(unplaced.name(), unplaced.tensor(), unplaced.dtype(), unplaced.shape(), offset,
          unplaced.byteLength()));
      offset = Math.addExact(offset, unplaced.byteLength());
    }
    return plan;
  }

  private static Planned planEntry(Path file, String name, Tensor tensor) {
    if (name == null || name.isEmpty()) {
      throw new SafeTensorsException("tensor names must be non-empty, but " + file
          + " was given " + (name == null ? "a null" : "an empty") + " name; give every tensor a name");
    }
    if (name.equals(SafeTensorsFile.METADATA_KEY)) {
      throw new SafeTensorsException("'" + name + "' is reserved for the header's metadata and cannot name a "
          + "tensor in " + file + "; rename the tensor");
    }
    if (tensor == null || tensor.isNull() || !tensor.defined()) {
      throw new SafeTensorsException("tensor '" + name + "' for " + file + " is undefined; pass an allocated "
          + "tensor or leave the name out");
    }
    if (tensor.is_sparse() || tensor.is_sparse_csr() || tensor.is_quantized() || tensor.is_meta()
        || tensor.is_mkldnn()) {
      throw new SafeTensorsException("tensor '" + name + "' for " + file + " has no dense data (sparse, "
          + "quantized, meta or mkldnn); convert it to a dense tensor first");
    }
    DType dtype = DType.fromScalarType(tensor.scalar_type()).orElseThrow(() -> new SafeTensorsException(
        "tensor '" + name + "' for " + file + " has dtype " + tensor.scalar_type().intern() + ", which has no "
            + "safetensors code here (supported: " + DType.supportedCodes() + "); convert it with to(...) first"));
    long[] shape = TensorMemory.shape(tensor);
    long length = dtype.byteSize();
    for (long dim : shape) {
      length = Math.multiplyExact(length, dim);
    }
    return new Planned(name, tensor, dtype, shape, -1, length);
  }

  private static byte[] header(Path file, List<Planned> plan, Map<String, String> metadata) {
    ObjectNode root = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode meta = root.putObject(SafeTensorsFile.METADATA_KEY);
      List<Map.Entry<String, String>> entries = new ArrayList<>(metadata.entrySet());
      for (Map.Entry<String, String> entry : entries) {
        if (entry.getKey() == null || entry.getValue() == null) {
          throw new SafeTensorsException("metadata for " + file + " has a null key or value (" + entry.getKey()
              + " = " + entry.getValue() + "); safetensors metadata maps strings to strings");
        }
      }
      // In key order: a Map.of iterates in an order that changes from one JVM to the next, and two runs that
      // compute the same numbers must write the same bytes.
      entries.sort(Map.Entry.comparingByKey());
      for (Map.Entry<String, String> entry : entries) {
        meta.put(entry.getKey(), entry.getValue());
      }
    }
    for (Planned entry : plan) {
      ObjectNode node = root.putObject(entry.name());
      node.put("dtype", entry.dtype().code());
      ArrayNode shape = node.putArray("shape");
      Arrays.stream(entry.shape()).forEach(shape::add);
      node.putArray("data_offsets").add(entry.begin()).add(entry.begin() + entry.byteLength());
    }
    byte[] json;
    try {
      json = JSON.writeValueAsBytes(root);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot serialise the header of " + file, e);
    }
    // The padding makes the data area start 8-byte aligned in the file, so a mapping of it can be read in place.
    int padded = Math.ceilDiv(json.length, HEADER_ALIGNMENT) * HEADER_ALIGNMENT;
    if (padded > SafeTensorsFile.MAX_HEADER_BYTES) {
      throw new SafeTensorsException("the header of " + file + " would be " + padded + " bytes, more than the "
          + SafeTensorsFile.MAX_HEADER_BYTES + " readers accept; split the tensors over several files");
    }
    byte[] header = Arrays.copyOf(json, padded);
    Arrays.fill(header, json.length, padded, (byte) ' ');
    return header;
  }

  @SuppressWarnings("try") // the scope frees the host copies it collects; the body never names it
  private static void writeData(FileChannel channel, Planned entry) throws IOException {
    // Host copies of device tensors are freed as soon as they are written, not when the GC gets to them.
    try (PointerScope scope = new PointerScope()) {
      // A tensor with its negation or conjugation pending as a flag has memory that differs from its values.
      Tensor host = entry.tensor().detach().resolve_conj().resolve_neg().cpu().contiguous();
      if (host.nbytes() != entry.byteLength()) {
        throw new IllegalStateException("tensor '" + entry.name() + "' changed size while being written ("
            + host.nbytes() + " bytes, planned " + entry.byteLength() + "); do not modify tensors being saved");
      }
      MemorySegment bytes = TensorMemory.bytes(host);
      for (long offset = 0; offset < entry.byteLength(); offset += WRITE_CHUNK_BYTES) {
        long length = Math.min(WRITE_CHUNK_BYTES, entry.byteLength() - offset);
        writeFully(channel, bytes.asSlice(offset, length).asByteBuffer());
      }
    }
  }

  private static void writeFully(FileChannel channel, ByteBuffer buffer) throws IOException {
    while (buffer.hasRemaining()) {
      channel.write(buffer);
    }
  }

  private static void deletePartial(Path file, Exception cause) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      cause.addSuppressed(e);
    }
  }
}

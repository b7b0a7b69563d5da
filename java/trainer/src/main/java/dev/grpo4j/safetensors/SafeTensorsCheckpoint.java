package dev.grpo4j.safetensors;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.bytedeco.pytorch.Tensor;

/**
 * The weights of a Hugging Face model folder: one {@code model.safetensors}, or shards
 * {@code model-00001-of-00003.safetensors}, ... listed by {@code model.safetensors.index.json}. The prefix is a
 * parameter, as PEFT adapters use {@code adapter_model}.
 *
 * <p>Reads look up the shard holding a tensor and delegate to its {@link SafeTensorsFile}; errors are
 * {@link SafeTensorsException}s as there. {@link #close()} unmaps every shard.
 */
public final class SafeTensorsCheckpoint implements AutoCloseable {
  /** The file-name prefix of model weights. */
  public static final String MODEL_PREFIX = "model";

  /** The file-name prefix of PEFT (LoRA) adapter weights. */
  public static final String ADAPTER_PREFIX = "adapter_model";

  private static final String EXTENSION = ".safetensors";
  private static final String INDEX_SUFFIX = ".index.json";
  private static final int MISSING_SHOWN = 5;

  private static final JsonMapper JSON = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .build();

  private final Path directory;
  private final List<SafeTensorsFile> files;
  private final Map<String, SafeTensorsFile> fileOfTensor;
  private final AtomicBoolean closed = new AtomicBoolean();

  private SafeTensorsCheckpoint(Path directory, List<SafeTensorsFile> files, Map<String, SafeTensorsFile> fileOf) {
    this.directory = directory;
    this.files = List.copyOf(files);
    this.fileOfTensor = Collections.unmodifiableMap(fileOf);
  }

  /**
   * Opens the model weights in {@code dir}: the shards of {@code model.safetensors.index.json} if that exists,
   * otherwise {@code model.safetensors}.
   *
   * @throws SafeTensorsException if neither exists, a shard is missing or does not hold the tensors the index
   *     assigns to it, or a file is malformed
   */
  public static SafeTensorsCheckpoint open(Path dir) {
    return open(dir, MODEL_PREFIX + EXTENSION, MODEL_PREFIX + EXTENSION + INDEX_SUFFIX);
  }

  /**
   * Opens the weights in {@code dir} under other file names, e.g. {@code adapter_model.safetensors}: the shards
   * listed by {@code indexFileName} if that file exists, otherwise {@code singleFileName}.
   *
   * @throws SafeTensorsException as {@link #open(Path)}
   */
  public static SafeTensorsCheckpoint open(Path dir, String singleFileName, String indexFileName) {
    Path index = dir.resolve(indexFileName);
    if (Files.isRegularFile(index)) {
      return openSharded(dir, index);
    }
    Path single = dir.resolve(singleFileName);
    if (Files.isRegularFile(single)) {
      SafeTensorsFile file = SafeTensorsFile.open(single);
      Map<String, SafeTensorsFile> fileOf = new LinkedHashMap<>();
      file.names().forEach(name -> fileOf.put(name, file));
      return new SafeTensorsCheckpoint(dir, List.of(file), fileOf);
    }
    if (!Files.isDirectory(dir)) {
      throw new SafeTensorsException("checkpoint directory " + dir + " does not exist or is not a directory");
    }
    throw new SafeTensorsException("no " + singleFileName + " or " + indexFileName + " in " + dir
        + "; point at the folder that holds the model's safetensors weights");
  }

  private static SafeTensorsCheckpoint openSharded(Path dir, Path index) {
    Map<String, String> shardOfTensor = readWeightMap(index);
    // By file name, which for Hugging Face's names is shard order.
    Map<String, List<String>> tensorsOfShard = new TreeMap<>();
    shardOfTensor.forEach((tensor, shard) -> tensorsOfShard.computeIfAbsent(shard, s -> new ArrayList<>())
        .add(tensor));
    Map<String, SafeTensorsFile> openShards = new LinkedHashMap<>();
    try {
      List<String> missing = new ArrayList<>();
      for (Map.Entry<String, List<String>> shard : tensorsOfShard.entrySet()) {
        Path shardPath = dir.resolve(shard.getKey());
        if (!Files.isRegularFile(shardPath)) {
          throw new SafeTensorsException("shard " + shardPath + " listed in " + index + " for "
              + shard.getValue().size() + " tensors (e.g. '" + shard.getValue().getFirst() + "') is missing; "
              + "the checkpoint is incomplete, download or save it again");
        }
        SafeTensorsFile file = SafeTensorsFile.open(shardPath);
        openShards.put(shard.getKey(), file);
        for (String tensor : shard.getValue()) {
          if (!file.contains(tensor)) {
            missing.add("'" + tensor + "' (" + shard.getKey() + ")");
          }
        }
      }
      if (!missing.isEmpty()) {
        throw new SafeTensorsException(missing.size() + " tensors listed in " + index + " are missing from their "
            + "shards: " + missing.stream().limit(MISSING_SHOWN).collect(Collectors.joining(", "))
            + (missing.size() > MISSING_SHOWN ? ", ..." : "")
            + "; the index and the shards do not belong together, download or save the checkpoint again");
      }
    } catch (RuntimeException e) {
      openShards.values().forEach(SafeTensorsFile::close);
      throw e;
    }
    Map<String, SafeTensorsFile> fileOf = new LinkedHashMap<>();
    shardOfTensor.forEach((tensor, shard) -> fileOf.put(tensor, openShards.get(shard)));
    return new SafeTensorsCheckpoint(dir, new ArrayList<>(openShards.values()), fileOf);
  }

  private static Map<String, String> readWeightMap(Path index) {
    JsonNode root;
    try {
      root = JSON.readTree(index.toFile());
    } catch (JacksonException e) {
      throw new SafeTensorsException("index " + index + " is not valid JSON (" + e.getOriginalMessage()
          + "); download or save the checkpoint again", e);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read checkpoint index " + index + ": " + e, e);
    }
    JsonNode weightMap = root == null ? null : root.get("weight_map");
    if (weightMap == null || !weightMap.isObject()) {
      throw new SafeTensorsException("index " + index + " has no \"weight_map\" object mapping tensor names to "
          + "shard files; it is not a safetensors index");
    }
    Map<String, String> shardOfTensor = new LinkedHashMap<>();
    for (Map.Entry<String, JsonNode> entry : weightMap.properties()) {
      JsonNode shard = entry.getValue();
      if (!shard.isTextual() || !isPlainFileName(shard.textValue())) {
        throw new SafeTensorsException("index " + index + " maps tensor '" + entry.getKey() + "' to " + shard
            + "; shards must be named by a plain file name in the index's folder");
      }
      shardOfTensor.put(entry.getKey(), shard.textValue());
    }
    return shardOfTensor;
  }

  private static boolean isPlainFileName(String name) {
    return !name.isEmpty() && !name.equals(".") && !name.equals("..") && name.indexOf('/') < 0
        && name.indexOf('\\') < 0;
  }

  /**
   * Saves {@code tensors} into {@code dir} as model weights ({@code model.safetensors}, or shards and
   * {@code model.safetensors.index.json}); see {@link #save(Path, String, Map, long, Map)}.
   */
  public static void save(Path dir, Map<String, Tensor> tensors, long maxShardBytes, Map<String, String> metadata) {
    save(dir, MODEL_PREFIX, tensors, maxShardBytes, metadata);
  }

  /**
   * Saves {@code tensors} into {@code dir} the way Hugging Face's {@code save_pretrained} does.
   *
   * <p>Tensors are taken in the map's iteration order and packed into shards: a new shard starts when the next
   * tensor would take the current one past {@code maxShardBytes}, and a tensor larger than the limit gets a shard
   * of its own. One shard is written as {@code PREFIX.safetensors}; several as
   * {@code PREFIX-00001-of-0000N.safetensors} plus {@code PREFIX.safetensors.index.json}, whose
   * {@code metadata.total_size} is the sum of the tensors' bytes and whose {@code weight_map} maps each name to
   * its shard. Every file's header gets {@code metadata}, with {@code "format": "pt"} added if absent, as
   * transformers expects it.
   *
   * <p>{@code dir} is created if missing. It must not already hold weights under {@code prefix}: shards of an
   * earlier save that this one does not overwrite would be left behind and mix with the new ones, so save into an
   * empty or new folder (and rename it into place for an atomic update). If writing fails part-way, the files
   * already written stay behind; the index, written last, is then missing.
   *
   * @param prefix {@link #MODEL_PREFIX} or {@link #ADAPTER_PREFIX}
   * @throws SafeTensorsException if {@code dir} already holds weights under {@code prefix}, or a tensor cannot be
   *     written (see {@link SafeTensorsWriter#write})
   * @throws IllegalArgumentException if {@code maxShardBytes} is not positive
   * @throws UncheckedIOException if a file cannot be written
   */
  public static void save(
      Path dir, String prefix, Map<String, Tensor> tensors, long maxShardBytes, Map<String, String> metadata) {
    if (maxShardBytes <= 0) {
      throw new IllegalArgumentException("maxShardBytes must be positive, got " + maxShardBytes
          + "; pass e.g. 5_000_000_000 for 5 GB shards");
    }
    if (prefix == null || !isPlainFileName(prefix)) {
      throw new IllegalArgumentException("prefix must be a plain file-name prefix such as \"model\", got " + prefix);
    }
    Objects.requireNonNull(tensors, "tensors");
    Map<String, String> fileMetadata = new LinkedHashMap<>(metadata == null ? Map.of() : metadata);
    fileMetadata.putIfAbsent("format", "pt");

    List<Map<String, Tensor>> shards = new ArrayList<>();
    Map<String, Tensor> current = new LinkedHashMap<>();
    long currentBytes = 0;
    long totalBytes = 0;
    Path sizingName = dir.resolve(prefix + EXTENSION);
    for (Map.Entry<String, Tensor> entry : tensors.entrySet()) {
      long bytes = SafeTensorsWriter.byteLength(entry.getKey(), entry.getValue(), sizingName);
      if (!current.isEmpty() && currentBytes + bytes > maxShardBytes) {
        shards.add(current);
        current = new LinkedHashMap<>();
        currentBytes = 0;
      }
      current.put(entry.getKey(), entry.getValue());
      currentBytes += bytes;
      totalBytes += bytes;
    }
    shards.add(current);
    // Only now, with every tensor checked, is anything created.
    createEmptyTarget(dir, prefix);

    if (shards.size() == 1) {
      SafeTensorsWriter.write(dir.resolve(prefix + EXTENSION), shards.getFirst(), fileMetadata);
      return;
    }
    Map<String, String> weightMap = new TreeMap<>();
    for (int i = 0; i < shards.size(); i++) {
      String shardName = shardFileName(prefix, i + 1, shards.size());
      SafeTensorsWriter.write(dir.resolve(shardName), shards.get(i), fileMetadata);
      shards.get(i).keySet().forEach(name -> weightMap.put(name, shardName));
    }
    // The index is written last, so a folder with an index always has the shards it lists.
    writeIndex(dir.resolve(prefix + EXTENSION + INDEX_SUFFIX), totalBytes, weightMap);
  }

  /** Hugging Face's shard name: {@code model-00002-of-00005.safetensors} for shard 2 of 5. */
  static String shardFileName(String prefix, int shard, int shardCount) {
    return String.format("%s-%05d-of-%05d%s", prefix, shard, shardCount, EXTENSION);
  }

  private static void createEmptyTarget(Path dir, String prefix) {
    Pattern ours = Pattern.compile(Pattern.quote(prefix) + "(-\\d{5}-of-\\d{5})?" + Pattern.quote(EXTENSION)
        + "(" + Pattern.quote(INDEX_SUFFIX) + ")?");
    try {
      Files.createDirectories(dir);
      try (Stream<Path> entries = Files.list(dir)) {
        List<String> stale = entries.map(p -> p.getFileName().toString())
            .filter(name -> ours.matcher(name).matches())
            .sorted()
            .toList();
        if (!stale.isEmpty()) {
          throw new SafeTensorsException(dir + " already holds " + String.join(", ", stale) + "; save into an "
              + "empty or new folder so no shards of an earlier save are left mixed with the new ones");
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot prepare checkpoint folder " + dir + ": " + e, e);
    }
  }

  private static void writeIndex(Path index, long totalBytes, Map<String, String> weightMap) {
    ObjectNode root = JSON.createObjectNode();
    root.putObject("metadata").put("total_size", totalBytes);
    ObjectNode map = root.putObject("weight_map");
    weightMap.forEach(map::put);
    // Hugging Face writes `"key": value` with a two-space indent; matching it keeps diffs against its files small.
    DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
        .withSeparators(Separators.createDefaultInstance().withObjectFieldValueSpacing(Separators.Spacing.AFTER));
    try {
      String text = JSON.writer(printer).writeValueAsString(root) + "\n";
      Files.writeString(index, text, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write checkpoint index " + index + ": " + e, e);
    }
  }

  /** The folder the checkpoint was opened from. */
  public Path directory() {
    return directory;
  }

  /** The safetensors files of the checkpoint: its shards ordered by file name, or its single file. */
  public List<Path> files() {
    return files.stream().map(SafeTensorsFile::path).toList();
  }

  /**
   * The tensor names: in the index's {@code weight_map} order (alphabetical in the indexes Hugging Face and
   * {@link #save} write), or in a single file's header order.
   */
  public List<String> names() {
    ensureOpen("names()");
    return List.copyOf(fileOfTensor.keySet());
  }

  /** Whether the checkpoint holds a tensor named {@code name}. */
  public boolean contains(String name) {
    ensureOpen("contains(" + name + ")");
    return fileOfTensor.containsKey(name);
  }

  /**
   * The header entry of tensor {@code name}; its byte offset is within the tensor's shard, see {@link #fileOf}.
   *
   * @throws SafeTensorsException if there is no such tensor; the message lists similar names
   */
  public TensorInfo info(String name) {
    return fileOf(name).info(name);
  }

  /** The bytes of tensor {@code name} in its shard's mapping; see {@link SafeTensorsFile#data}. */
  public MemorySegment data(String name) {
    return fileOf(name).data(name);
  }

  /** A new CPU tensor holding a copy of tensor {@code name}; see {@link SafeTensorsFile#toTensor}. */
  public Tensor toTensor(String name) {
    return fileOf(name).toTensor(name);
  }

  /** Overwrites {@code target} with tensor {@code name}; see {@link SafeTensorsFile#copyInto}. */
  public void copyInto(String name, Tensor target) {
    fileOf(name).copyInto(name, target);
  }

  /**
   * The open file that holds tensor {@code name}.
   *
   * @throws SafeTensorsException if there is no such tensor
   */
  public SafeTensorsFile fileOf(String name) {
    ensureOpen(name);
    SafeTensorsFile file = fileOfTensor.get(name);
    if (file == null) {
      throw new SafeTensorsException(Names.unknown(name, "checkpoint " + directory, fileOfTensor.keySet()));
    }
    return file;
  }

  /** Unmaps every file. Calling it again does nothing. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    RuntimeException failure = null;
    for (SafeTensorsFile file : files) {
      try {
        file.close();
      } catch (RuntimeException e) {
        if (failure == null) {
          failure = e;
        } else {
          failure.addSuppressed(e);
        }
      }
    }
    if (failure != null) {
      throw failure;
    }
  }

  private void ensureOpen(String access) {
    if (closed.get()) {
      throw new IllegalStateException("checkpoint " + directory + " is closed, so " + access
          + " cannot be read; open it again with SafeTensorsCheckpoint.open");
    }
  }
}

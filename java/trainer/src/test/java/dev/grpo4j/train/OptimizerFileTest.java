package dev.grpo4j.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.platform.HostTensors;
import dev.grpo4j.platform.LibTorch;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.AdamW;
import org.bytedeco.pytorch.AdamWOptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The optimizer state on disk: written through a Java channel so that a full disk is an {@link IOException} (libtorch's
 * own file writer aborts the process), read back with errors that name the file.
 */
class OptimizerFileTest {
  private static final long[] IDS = {3, 1, 4, 1, 5, 9, 2, 6, 5, 3};

  @TempDir
  Path dir;

  @BeforeAll
  static void loadLibtorch() {
    LibTorch.load();
  }

  @Test
  void aFullDeviceIsAnIOExceptionNotAnAbort() throws IOException {
    AdamW optimizer = trainedOptimizer();
    Path full = Path.of("/dev/full");
    try (FileChannel channel = FileChannel.open(full, StandardOpenOption.WRITE)) {
      IOException e = assertThrows(IOException.class, () -> OptimizerFile.write(optimizer, channel, full));
      assertTrue(e.getMessage().contains("No space left on device") && e.getMessage().contains("/dev/full"),
          e.getMessage());
    }
    // The process is alive and libtorch still works: the same state saves fine elsewhere.
    OptimizerFile.save(optimizer, dir.resolve("optimizer.pt"));
    assertTrue(Files.size(dir.resolve("optimizer.pt")) > 0);
  }

  @Test
  void damagedOrMissingFilesAreNamed() throws IOException {
    AdamW optimizer = trainedOptimizer();
    Path file = dir.resolve("optimizer.pt");
    OptimizerFile.save(optimizer, file);
    byte[] bytes = Files.readAllBytes(file);

    Path truncated = Files.write(dir.resolve("truncated.pt"), Arrays.copyOf(bytes, bytes.length / 3));
    assertRestoreFails(truncated, "is damaged");
    assertRestoreFails(Files.writeString(dir.resolve("text.pt"), "not an archive"), "is damaged");
    assertRestoreFails(dir.resolve("missing.pt"), "is missing");
    IOException exists = assertThrows(IOException.class, () -> OptimizerFile.save(optimizer, file));
    assertTrue(exists.getMessage().contains(file.toString()), exists.getMessage());
  }

  @Test
  void aStateOfAnotherModelIsRefused() throws IOException {
    Path file = dir.resolve("optimizer.pt");
    OptimizerFile.save(trainedOptimizer(), file);
    TransformerLm wider = Models.random(ModelConfig.tiny("tiny-qwen2", 257), 1);
    AdamW other = new AdamW(wider.parameters(), new AdamWOptions(1e-2));
    step(wider, other);
    IOException e = assertThrows(IOException.class, () -> OptimizerFile.restore(other, file));
    assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
  }

  private static void assertRestoreFails(Path file, String expected) {
    IOException e = assertThrows(IOException.class, () -> OptimizerFile.restore(trainedOptimizer(), file));
    assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains(expected), e.getMessage());
    assertEquals(-1, e.getMessage().indexOf("frame #"), "no C++ frames in the message: " + e.getMessage());
  }

  private static AdamW trainedOptimizer() {
    TransformerLm model = Models.random(ModelConfig.tiny("tiny-llama", 257), 4);
    AdamW optimizer = new AdamW(model.parameters(), new AdamWOptions(1e-2));
    step(model, optimizer);
    return optimizer;
  }

  private static void step(TransformerLm model, AdamW optimizer) {
    try (PointerScope scope = new PointerScope()) {
      optimizer.zero_grad();
      model.forward(HostTensors.longs(IDS, 2, 5)).square().sum().backward();
      optimizer.step();
    }
  }
}

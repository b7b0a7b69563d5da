package dev.grpo4j.torch;

import dev.grpo4j.Backend;
import dev.grpo4j.GroupRobustLoss;
import dev.grpo4j.platform.LibTorch;
import dev.grpo4j.testing.LossConfig;
import dev.grpo4j.testing.RandomPreferences;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.bytedeco.javacpp.PointerScope;
import org.bytedeco.pytorch.BoolOptional;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorArrayRefOptional;

/**
 * Prints "whole N fused M": the bytes one training call raised the process's resident set by at its highest, for
 * the whole logits (written over in place) and for the fused head with a 4 MB chunk budget, at V = 32000 and 512
 * positions. Run in a JVM of its own with {@code MALLOC_MMAP_THRESHOLD_=65536}, so that glibc maps every block above
 * 64 KB separately and returns it on free: a freed block can then not be reused unseen by a later call. The high-water
 * mark is reset through /proc/self/clear_refs before each call; the second of two rounds is reported.
 */
@SuppressWarnings("try") // PointerScope acts by existing
final class FusedLmHeadMemoryProbe {
  static {
    LibTorch.load();
  }

  static final long LOGITS_BYTES = 8L * 64 * 32000 * 4;

  private FusedLmHeadMemoryProbe() {}

  public static void main(String[] args) throws IOException {
    FusedLmHeadTest.HeadCase h = new FusedLmHeadTest.HeadCase("memory",
        new RandomPreferences.Shape("", 4, 64, 32000, 2, 0, -1, -1), 64, false, false, false, 0);
    RandomPreferences batch = RandomPreferences.generate(new Random(3), h.shape(), 1.0);
    LossConfig c = TorchAutogradTest.configs().get(0);
    long[] peaks = new long[2];
    try (PointerScope scope = new PointerScope(); GroupRobustLoss loss = c.build(batch.groupSizes())) {
      FusedLmHeadTest.Parameters p = FusedLmHeadTest.Parameters.make(3, h);
      Tensor labels = PreferenceTensors.labels(batch, false);
      FusedLmHead fused = FusedLmHead.withMemoryBudget(Backend.CPU, 2, 0, 4L << 20);
      for (int round = 0; round < 2; round++) {
        peaks[0] = callPeak(p, () -> {
          try (PointerScope call = new PointerScope()) {
            Tensor logits = p.logits(p.hidden(h, null));
            new TorchPreferenceLoss(loss).forwardBackward(logits, labels, PreferenceTensors.ref(batch),
                PreferenceTensors.groupIds(batch),
                logits.detach());
            logits.backward(logits.detach(), new BoolOptional(), false, new TensorArrayRefOptional());
          }
        });
        peaks[1] = callPeak(p, () -> {
          try (PointerScope call = new PointerScope()) {
            fused.forwardBackward(loss, p.hidden(h, null), p.head(), labels, batch.ref(), batch.groupIds(), 1.0,
                s -> loss.groupStep(s.groupStatistics(), true));
          }
        });
      }
    }
    System.out.println("whole " + peaks[0] + " fused " + peaks[1]);
  }

  /** The head's gradients are dropped first, so that each call allocates them anew. */
  private static long callPeak(FusedLmHeadTest.Parameters p, Runnable call) throws IOException {
    for (Tensor t : new Tensor[] {p.hiddenLeaf(), p.weight()}) {
      t.mutable_grad().reset();
    }
    System.gc();
    Files.writeString(Path.of("/proc/self/clear_refs"), "5");
    long before = statusKb("VmRSS");
    call.run();
    return (statusKb("VmHWM") - before) * 1024;
  }

  private static long statusKb(String field) throws IOException {
    Matcher m = Pattern.compile(field + ":\\s+(\\d+) kB").matcher(Files.readString(Path.of("/proc/self/status")));
    if (!m.find()) {
      throw new IllegalStateException(field + " missing from /proc/self/status");
    }
    return Long.parseLong(m.group(1));
  }
}

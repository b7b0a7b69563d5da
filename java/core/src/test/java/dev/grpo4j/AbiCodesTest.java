package dev.grpo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.ToIntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Every enum the kernels take carries the code {@code native/include/grpo4j.h} gives it: read from the header itself,
 * so that reordering the Java constants, or renumbering the C ones, fails here rather than silently selecting another
 * loss or backend.
 */
class AbiCodesTest {
  private static final Pattern ENUMERATOR = Pattern.compile("\\b(GRPO4J_[A-Z0-9_]+)\\s*=\\s*(\\d+)");

  @Test
  void everyJavaConstantHasItsHeaderCode() throws IOException {
    Map<String, Integer> header = enumerators();
    check(header, Backend.values(), "GRPO4J_BACKEND_", Backend::abiCode);
    check(header, LossType.values(), "GRPO4J_LOSS_", LossType::abiCode);
    check(header, Weighting.values(), "GRPO4J_WEIGHTING_", Weighting::abiCode);
    check(header, LogitsType.values(), "GRPO4J_", LogitsType::abiCode);
    check(header, LabelType.values(), "GRPO4J_", LabelType::abiCode);
    assertEquals(header.get("GRPO4J_NORM_BATCH_MEAN"), GroupNormalization.BATCH_MEAN.abiCode());
    assertEquals(header.get("GRPO4J_NORM_DATASET_FREQUENCY"), GroupNormalization.DATASET_FREQUENCY.abiCode());
  }

  private static <E extends Enum<E>> void check(Map<String, Integer> header, E[] constants, String prefix,
                                                ToIntFunction<E> code) {
    for (E constant : constants) {
      String name = prefix + constant.name().toUpperCase(Locale.ROOT);
      Integer expected = header.get(name);
      assertNotNull(expected, name + " (for " + constant.getDeclaringClass().getSimpleName() + "." + constant
          + ") is not in grpo4j.h");
      assertEquals(expected, code.applyAsInt(constant), constant.getDeclaringClass().getSimpleName() + "." + constant);
    }
  }

  private static Map<String, Integer> enumerators() throws IOException {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null && !Files.isRegularFile(dir.resolve("native/include/grpo4j.h"))) {
      dir = dir.getParent();
    }
    assertNotNull(dir, "native/include/grpo4j.h not found above " + Path.of("").toAbsolutePath());
    Map<String, Integer> out = new HashMap<>();
    Matcher m = ENUMERATOR.matcher(Files.readString(dir.resolve("native/include/grpo4j.h")));
    while (m.find()) {
      out.put(m.group(1), Integer.parseInt(m.group(2)));
    }
    return out;
  }
}

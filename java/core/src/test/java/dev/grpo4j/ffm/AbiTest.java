package dev.grpo4j.ffm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The structs of the C header and of {@link Abi} agree, field by field, and a drift is reported by name. */
class AbiTest {
  @Test
  void theLibraryAndTheJarAgreeOnEveryStruct() {
    String layout = Abi.nativeLayout();
    assertTrue(layout.contains("grpo4j_batch.size=") && layout.contains("grpo4j_outputs.flags="), layout);
    assertEquals(List.of(), Abi.layoutMismatches(layout));
  }

  @Test
  void aDriftedFieldAMissingOneAndAnExtraOneAreNamed() {
    String layout = Abi.nativeLayout();
    long grad = Abi.offset(Abi.BATCH, "grad");
    String drifted = layout.replace("grpo4j_batch.grad=" + grad + ";", "grpo4j_batch.grad=" + (grad + 8) + ";")
        .replace("grpo4j_exec.num_threads=", "grpo4j_exec.threads=");
    List<String> mismatches = Abi.layoutMismatches(drifted);
    assertTrue(mismatches.contains("grpo4j_batch.grad: " + (grad + 8) + " in the library, " + grad + " in this jar"),
        mismatches.toString());
    assertTrue(mismatches.stream().anyMatch(m -> m.startsWith("grpo4j_exec.num_threads: absent in the library")),
        mismatches.toString());
    assertTrue(mismatches.stream().anyMatch(m -> m.startsWith("grpo4j_exec.threads:") && m.endsWith("absent in this jar")),
        mismatches.toString());
    assertEquals(3, mismatches.size(), mismatches.toString());
  }
}

package dev.grpo4j.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import dev.grpo4j.LossResult;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Training metrics as JSON Lines: one object per optimisation step with the step, the method, the objective J,
 * the per-group losses {@code L_g} of the batch and the group weights {@code w_g} after the step.
 */
final class MetricsLog implements AutoCloseable {
  /**
   * One line of the log.
   *
   * @param step 1-based step of this method
   * @param method method name, e.g. {@code DPO} or {@code GR-DPO}
   * @param loss the objective J of the step
   * @param worstGroupLoss largest {@code L_g} among the groups in the batch
   * @param groupLosses {@code L_g} per group (0 for a group absent from the batch)
   * @param groupWeights {@code w_g} per group: the robust weights after this step's update, or for plain DPO
   *     each group's share of the batch
   * @param groupPairs pairs of each group in the batch
   */
  record Step(int step, String method, float loss, float worstGroupLoss, float[] groupLosses,
              float[] groupWeights, int[] groupPairs) {
    static Step of(int step, String method, LossResult r) {
      // The kernel computes in float32; widening to double would only print digits it never had.
      return new Step(step, method, (float) r.loss(), (float) r.worstGroupLoss(), r.groupLosses(), r.groupWeights(),
          r.groupCounts());
    }
  }

  private final ObjectMapper mapper =
      new ObjectMapper().setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE);
  private final BufferedWriter file;

  MetricsLog(Path path) throws IOException {
    file = Files.newBufferedWriter(path);
  }

  void write(Step step) {
    try {
      file.write(mapper.writeValueAsString(step));
      file.newLine();
      // Flushed per line so that a run can be followed with tail -f.
      file.flush();
    } catch (IOException e) {
      throw new UncheckedIOException("could not write the metrics log", e);
    }
  }

  @Override
  public void close() throws IOException {
    file.close();
  }
}

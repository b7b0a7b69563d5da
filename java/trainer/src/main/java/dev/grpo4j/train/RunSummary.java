package dev.grpo4j.train;

import dev.grpo4j.Weighting;
import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.report.ReportSettings;
import dev.grpo4j.report.RunReport;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What a run tells about itself: the settings its report lists, and the summary it prints at the end. */
final class RunSummary {
  private RunSummary() {}

  /** The report's title and settings table. */
  static ReportSettings reportSettings(TrainConfig config, List<String> groups) {
    return new ReportSettings("grpo4j train: " + config.method().displayName() + " on " + config.model(),
        config.method().displayName(), settings(config), groups);
  }

  /** The final split's per-group table (when there was an evaluation) and where everything was written. */
  static void print(PrintWriter out, EvalMetrics eval, List<String> groups, double[] weights, Path finalDir,
                    Path referenceModel, Path report, double seconds) {
    if (eval != null) {
      out.println();
      out.println(eval.split().label() + " split, per group (step " + eval.step() + "):");
      out.println();
      out.print(RunReport.groupTable(eval, groups, weights));
    }
    out.println();
    out.printf(Locale.ROOT, "Finished in %.1f s. Model: %s; reference model: %s; report: %s%n", seconds, finalDir,
        referenceModel, report);
    out.flush();
  }

  private static Map<String, String> settings(TrainConfig config) {
    Map<String, String> s = new LinkedHashMap<>();
    s.put("model", config.model() + (config.adapter() != null ? " + adapter " + config.adapter() : ""));
    s.put("fine-tuning", config.lora() != null ? "LoRA rank " + config.lora().rank() + ", alpha "
        + config.lora().alpha() + ", dropout " + config.lora().dropout() + ", " + config.lora().targetModules()
        : config.adapter() != null ? "LoRA (continued adapter)" : "full");
    s.put("data", "train " + config.trainData() + (config.validationData() != null ? ", validation "
        + config.validationData() : "") + (config.testData() != null ? ", test " + config.testData() : ""));
    s.put("beta", Double.toString(config.beta()));
    if (config.method().weighting() == Weighting.ROBUST) {
      s.put("eta", Double.toString(config.eta()));
      s.put("chi", Double.toString(config.chi()));
      s.put("adjustment", Double.toString(config.adjustment()));
    }
    s.put("group normalisation", config.groupNormalization().name());
    s.put("label smoothing", Double.toString(config.labelSmoothing()));
    s.put("SFT steps", config.sftSteps() + (config.sftSteps() > 0 ? " (lr " + config.sftLearningRate() + ")" : ""));
    s.put("steps", config.steps() + " of " + config.batchSize() + " x " + config.gradientAccumulation() + " pairs");
    s.put("learning rate", config.learningRate() + ", " + config.decay().cliName() + " after "
        + config.warmupSteps() + " warm-up steps" + (config.plateauPatience() >= 0 ? ", reduce-on-plateau patience "
        + config.plateauPatience() + " factor " + config.plateauFactor() : ""));
    s.put("weight decay", Double.toString(config.weightDecay()));
    s.put("max grad norm", config.maxGradNorm() > 0 ? Double.toString(config.maxGradNorm()) : "off");
    s.put("max lengths", "prompt " + config.maxPromptTokens() + ", total " + config.maxLength());
    s.put("seed", Long.toString(config.seed()));
    return s;
  }
}

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
    String method = config.loss().label();
    return new ReportSettings("grpo4j train: " + method + " on " + config.model().name(), method, settings(config),
        groups);
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
    ModelSpec model = config.model();
    DataSpec data = config.data();
    LossSpec loss = config.loss();
    OptimizerSpec optimizer = config.optimizer();
    LoopSpec loop = config.loop();
    Map<String, String> s = new LinkedHashMap<>();
    s.put("model", model.name() + (model.adapter() != null ? " + adapter " + model.adapter() : ""));
    s.put("fine-tuning", model.lora() != null ? "LoRA rank " + model.lora().rank() + ", alpha "
        + model.lora().alpha() + ", dropout " + model.lora().dropout() + ", " + model.lora().targetModules()
        : model.adapter() != null ? "LoRA (continued adapter)" : "full");
    s.put("data", "train " + data.train() + (data.validation() != null ? ", validation " + data.validation() : "")
        + (data.test() != null ? ", test " + data.test() : ""));
    s.put("beta", Double.toString(loss.beta()));
    if (loss.weighting() == Weighting.ROBUST) {
      s.put("eta", Double.toString(loss.eta()));
      s.put("chi", Double.toString(loss.chi()));
      s.put("adjustment", Double.toString(loss.adjustment()));
    }
    s.put("group normalisation", loss.groupNormalization().name());
    s.put("label smoothing", Double.toString(loss.labelSmoothing()));
    if (loss.lossParameters() != null) {
      LossParameters p = loss.lossParameters();
      s.put("loss options", "f-divergence " + p.fDivergence().trlName() + " (alpha " + p.alphaDivergence()
          + "), discopop tau " + p.discopopTau() + ", simpo gamma " + p.simpoGamma());
    }
    s.put("SFT steps", config.sft().steps() + (config.sft().steps() > 0 ? " (lr " + config.sft().learningRate() + ")"
        : ""));
    s.put("steps", loop.steps() + " of " + loop.batchSize() + " x " + loop.gradientAccumulation() + " pairs");
    s.put("learning rate", optimizer.learningRate() + ", " + optimizer.decay().cliName() + " after "
        + optimizer.warmupSteps() + " warm-up steps" + (optimizer.plateauPatience() >= 0
        ? ", reduce-on-plateau patience " + optimizer.plateauPatience() + " factor " + optimizer.plateauFactor() : ""));
    s.put("weight decay", optimizer.weightDecay() + (optimizer.weightDecay() == 0 ? ""
        : optimizer.exemptNormsAndBiases() ? " (not on biases and norm weights)" : " (on every parameter)"));
    s.put("max grad norm", optimizer.maxGradNorm() > 0 ? Double.toString(optimizer.maxGradNorm()) : "off");
    s.put("max lengths", "prompt " + data.maxPromptTokens() + ", total " + data.maxLength());
    s.put("seed", Long.toString(loop.seed()));
    return s;
  }
}

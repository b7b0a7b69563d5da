package dev.grpo4j.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.text.Content;
import dev.grpo4j.text.GroupIndex;
import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.PreferenceData;
import dev.grpo4j.text.PreferenceRecord;
import dev.grpo4j.torch.SequenceScorer;
import dev.grpo4j.train.PairFiles;
import dev.grpo4j.train.Progress;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import me.tongfei.progressbar.ProgressBar;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code grpo4j score}: the sequence log-probs of every preference pair's chosen and rejected response under a
 * model, e.g. the reference model of DPO, through the fused kernel's sequence-log-prob pass.
 */
@Command(name = "score",
    sortOptions = false,
    description = {
        "Writes, for each preference pair of --data (in TRL's forms, any data file format), one JSON line with "
            + "the pair's fields and chosen_logp / rejected_logp: the sum of the response tokens' log-probs under "
            + "the model given the prompt (text: prompt and response tokenised separately; messages: through the chat "
            + "template). Output "
            + "lines follow the input's records in order; the output file appears only once complete.",
        ""})
public final class ScoreCommand implements Callable<Integer>, UsesLibTorch {
  /** Groups written as JSON integers in the input are read as their decimal text; they are written back as numbers. */
  private static final Pattern PLAIN_INTEGER = Pattern.compile("0|[1-9][0-9]{0,17}");

  @Spec
  private CommandSpec spec;

  @Mixin
  private ModelOptions modelOptions;

  @Mixin
  private PairOptions pairOptions;

  @Option(names = "--data", required = true, paramLabel = "FILE",
      description = "Preference pairs (JSONL, JSON, CSV or Parquet): prompt (or none), chosen, rejected as text or "
          + "messages, and a group label; other fields are ignored.")
  private Path data;

  @Option(names = "--out", required = true, paramLabel = "FILE", description = "Output JSONL.")
  private Path out;

  @Option(names = "--batch-size", defaultValue = "8", paramLabel = "PAIRS",
      description = "Pairs per forward pass (2 rows each) (default: ${DEFAULT-VALUE}).")
  private int batchSize;

  @Option(names = "--seed", defaultValue = "0",
      description = "Seed of a built-in model's random weights (default: ${DEFAULT-VALUE}).")
  private long seed;

  @Option(names = "--no-progress", description = "No progress bar.")
  private boolean noProgress;

  @Override
  public Integer call() throws IOException {
    PrintWriter err = spec.commandLine().getErr();
    Main.warnIfOpenMpSpins(err);
    Main.warnIfOversubscribed(modelOptions.threads, err);
    PreferenceData.Loaded loaded = PairFiles.read("--data", data, pairOptions.readOptions(), err);
    try (ModelOptions.Loaded m = modelOptions.load(seed, err)) {
      PairEncoder.EncodeOptions lengths = pairOptions.encodeOptions(m.model().config().maxPositions());
      PairEncoder encoder = pairOptions.encoder(loaded, modelOptions, m.tokenizer(), GroupIndex.of(loaded.records()),
          m.model().config().maxPositions());
      PairEncoder.Encoded encoded = encoder.encode(loaded.records());
      PairFiles.reportDegenerate(data.getFileName().toString(), encoded, false, err);
      PairFiles.reportTextSplits(data.getFileName().toString(), encoded, err);
      if (encoded.truncatedPairs() > 0) {
        err.println("truncated " + encoded.truncatedPairs() + " of " + encoded.pairs().size() + " pairs to "
            + "--max-length " + lengths.maxTotalTokens() + " (prompts cut: " + encoded.truncatedPrompts()
            + ", responses cut: " + encoded.truncatedResponses() + ")");
      }
      SequenceScorer.Scores scores;
      try (ProgressBar bar = noProgress ? null : Progress.bar("score", encoded.pairs().size(), " pairs")) {
        scores = new SequenceScorer(m.model(), m.backend(), m.device(),
            modelOptions.fusedHead(m.model(), m.backend()))
            .score(encoded.pairs(), batchSize, done -> {
              if (bar != null) {
                bar.stepBy(done);
              }
            });
      }
      write(loaded, scores);
      err.println("scored " + encoded.pairs().size() + " pairs with " + m.name() + " into " + out);
    }
    return 0;
  }

  private static JsonNode json(ObjectMapper json, Content content) {
    return switch (content) {
      case Content.Text text -> json.getNodeFactory().textNode(text.text());
      case Content.Messages messages -> json.valueToTree(messages.messages());
    };
  }

  /** Writes next to the target and moves it into place, so a failed run never leaves a partial output file. */
  private void write(PreferenceData.Loaded loaded, SequenceScorer.Scores scores) throws IOException {
    ObjectMapper json = new ObjectMapper();
    Path target = out.toAbsolutePath();
    Files.createDirectories(target.getParent());
    AtomicFiles.write(target, stream -> {
      Writer w = new BufferedWriter(new OutputStreamWriter(stream, StandardCharsets.UTF_8));
      for (int i = 0; i < loaded.records().size(); i++) {
        PreferenceRecord r = loaded.records().get(i);
        ObjectNode line = json.createObjectNode();
        line.set("prompt", json(json, r.prompt()));
        line.set("chosen", json(json, r.chosen()));
        line.set("rejected", json(json, r.rejected()));
        if (PLAIN_INTEGER.matcher(r.group()).matches()) {
          line.put("group", Long.parseLong(r.group()));
        } else {
          line.put("group", r.group());
        }
        line.put("chosen_logp", scores.chosen()[i]);
        line.put("rejected_logp", scores.rejected()[i]);
        w.write(json.writeValueAsString(line));
        w.write('\n');
      }
      w.flush();
    });
  }

}

package dev.grpo4j.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.grpo4j.model.Checkpoints;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.report.EvalMetrics;
import dev.grpo4j.report.RunLog;
import dev.grpo4j.testing.Close;
import dev.grpo4j.text.ByteTextTokenizer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code grpo4j eval}: a policy equal to its reference has margin 0 on every pair, so every group's DPO loss is
 * exactly {@code log 2} and its IPO loss {@code 1/(4 beta^2)}; a policy without a reference is refused.
 */
class EvalCommandTest {
  private static final String PAIRS = """
      {"prompt": "a", "chosen": " yes", "rejected": " no", "group": "x"}
      {"prompt": "bb", "chosen": " maybe", "rejected": " no way", "group": "y"}
      {"prompt": "ccc", "chosen": " no", "rejected": " yes", "group": "x"}
      """;

  @TempDir
  Path tmp;

  @Test
  void policyEqualToItsReferenceHasTheZeroMarginLoss() throws IOException {
    Path data = Files.writeString(tmp.resolve("pairs.jsonl"), PAIRS);
    Path out = tmp.resolve("out/eval.jsonl");
    CliRun dpo = CliRun.of("eval", "--model", "tiny-llama", "--reference", "tiny-llama", "--seed", "3", "--data",
        data.toString(), "--out", out.toString(), "--threads", "1");
    assertEquals(0, dpo.exitCode(), dpo.err());
    assertTrue(dpo.out().contains("| x "), dpo.out());
    EvalMetrics e = RunLog.readEval(out).getFirst();
    assertEquals(java.util.List.of("x", "y"), e.groups());
    Close.assertClose("DPO loss at margin 0", e.groupLoss(), new double[] {Math.log(2), Math.log(2)}, 1e-6, 1e-6);
    Close.assertClose("margins", e.groupMargin(), new double[] {0, 0}, 1e-6, 0);

    CliRun ipo = CliRun.of("eval", "--model", "tiny-llama", "--reference", "tiny-llama", "--data", data.toString(),
        "--method", "gr-ipo", "--beta", "0.5", "--out", out.toString(), "--overwrite", "--threads", "1");
    assertEquals(0, ipo.exitCode(), ipo.err());
    Close.assertClose("IPO loss at margin 0", RunLog.readEval(out).getFirst().groupLoss(), new double[] {1, 1}, 1e-5,
        1e-5);
  }

  /**
   * {@code --loss} by TRL's names: at margin 0 (log-ratios 0) hinge is 1, apo_zero 1, sppo_hard with beta 0.5 is 2,
   * bco_pair 2 log 2, and a mixture their weighted sum; a reference-free loss needs no reference model.
   */
  @Test
  void lossesByNameReportTheirValueAtMarginZero() throws IOException {
    Path data = Files.writeString(tmp.resolve("pairs.jsonl"), PAIRS);
    String[][] cases = {{"hinge", "", "1"}, {"apo_zero", "", "1"}, {"sppo_hard", "", "2"},
        {"bco_pair", "", Double.toString(2 * Math.log(2))}, {"hinge,apo_zero", "1,2", "3"}};
    for (String[] c : cases) {
      Path out = tmp.resolve(c[0] + ".jsonl");
      java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("eval", "--model", "tiny-llama",
          "--reference", "tiny-llama", "--data", data.toString(), "--loss", c[0], "--beta", "0.5", "--out",
          out.toString(), "--threads", "1"));
      if (!c[1].isEmpty()) {
        args.addAll(java.util.List.of("--loss-weights", c[1]));
      }
      CliRun run = CliRun.of(args.toArray(new String[0]));
      assertEquals(0, run.exitCode(), run.err());
      assertTrue(run.out().contains(c[0] + " loss"), run.out());
      double want = Double.parseDouble(c[2]);
      Close.assertClose(c[0] + " at margin 0", RunLog.readEval(out).getFirst().groupLoss(), new double[] {want, want},
          1e-5, 1e-5);
    }
    CliRun simpo = CliRun.of("eval", "--model", "tiny-llama", "--data", data.toString(), "--loss", "simpo",
        "--threads", "1");
    assertEquals(0, simpo.exitCode(), simpo.err());
    assertTrue(simpo.out().contains("simpo loss"), simpo.out());
  }

  @Test
  void anExistingOutFileIsReplacedOnlyWithOverwrite() throws IOException {
    Path data = Files.writeString(tmp.resolve("pairs.jsonl"), PAIRS);
    Path mine = Files.writeString(tmp.resolve("results.jsonl"), "my own results\n");
    String[] eval = {"eval", "--model", "tiny-llama", "--reference", "tiny-llama", "--data", data.toString(),
        "--threads", "1", "--out", mine.toString()};
    CliRun refused = CliRun.of(eval);
    assertEquals(1, refused.exitCode(), refused.err());
    assertTrue(refused.err().contains("--out " + mine + " already exists; choose a new file, or pass --overwrite"),
        refused.err());
    assertEquals("my own results\n", Files.readString(mine));

    CliRun folder = CliRun.of("eval", "--model", "tiny-llama", "--reference", "tiny-llama", "--data",
        data.toString(), "--out", tmp.toString(), "--overwrite");
    assertEquals(1, folder.exitCode(), folder.err());
    assertTrue(folder.err().contains("is a folder"), folder.err());

    String[] replace = java.util.Arrays.copyOf(eval, eval.length + 1);
    replace[eval.length] = "--overwrite";
    CliRun replaced = CliRun.of(replace);
    assertEquals(0, replaced.exitCode(), replaced.err());
    assertEquals(1, RunLog.readEval(mine).size());
  }

  @Test
  void aReferenceOfAnotherVocabularyIsAClearError() throws IOException {
    Path data = Files.writeString(tmp.resolve("pairs.jsonl"), PAIRS);
    Path other = tmp.resolve("other");
    Checkpoints.save(Models.random(ModelConfig.tiny("tiny-llama", 300), 1), other, ScalarType.Float,
        Checkpoints.DEFAULT_MAX_SHARD_BYTES);
    ByteTextTokenizer.writeMarker(other);
    CliRun run = CliRun.of("eval", "--model", "tiny-llama", "--reference", other.toString(), "--data",
        data.toString(), "--threads", "1");
    assertEquals(1, run.exitCode(), run.err());
    assertTrue(run.err().contains("--reference " + other + " has a vocabulary of 300 tokens but --model tiny-llama "
        + "has 257"), run.err());
    assertFalse(run.err().contains("\tat ") || run.err().contains("frame #"), run.err());
  }

  @Test
  void policyWithoutReferenceIsRefused() throws IOException {
    Path data = Files.writeString(tmp.resolve("pairs.jsonl"), PAIRS);
    CliRun run = CliRun.of("eval", "--model", "tiny-llama", "--data", data.toString());
    assertEquals(1, run.exitCode());
    assertTrue(run.err().contains("--reference"), run.err());
    assertFalse(run.err().contains("\tat "), run.err());
  }
}

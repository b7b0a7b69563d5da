package dev.grpo4j.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** {@code grpo4j losses}: the pair losses {@code --loss} takes, as the native library registers them. */
@Command(name = "losses",
    description = {"Lists the pair losses --loss takes (TRL's names) with one line of formula each: s a sequence's "
        + "log-prob, ref the reference's, x = s - ref, n the response tokens, score = f(x) of --f-divergence, "
        + "d = score_w - score_l.", ""})
final class LossesCommand implements Callable<Integer> {
  @Spec
  private CommandSpec spec;

  @Override
  public Integer call() {
    spec.commandLine().getOut().println(LossOptions.table());
    spec.commandLine().getOut().flush();
    return 0;
  }
}

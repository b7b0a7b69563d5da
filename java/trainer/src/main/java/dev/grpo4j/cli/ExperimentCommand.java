package dev.grpo4j.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/** {@code grpo4j experiment}: reproductions of the paper's experiments, one subcommand each. */
@Command(name = "experiment",
    description = "Reproduces experiments of Ramesh et al. (2024); see the subcommands.",
    subcommands = {SyntheticCommand.class})
public final class ExperimentCommand implements Runnable {
  @Spec
  private CommandSpec spec;

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "Missing experiment: choose one of "
        + spec.subcommands().keySet());
  }
}

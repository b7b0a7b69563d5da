package dev.grpo4j.cli;

import dev.grpo4j.dist.DistributedException;
import dev.grpo4j.platform.LibTorch;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.NoSuchFileException;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * The {@code grpo4j} command line: group-robust preference optimisation (GR-DPO / GR-IPO, Ramesh et al. 2024) on
 * libtorch. Each job is a subcommand; {@code grpo4j demo} trains plain DPO and GR-DPO on a built-in synthetic
 * multi-group data set and compares them per group; {@code grpo4j experiment synthetic} reproduces the paper's
 * log-linear bandit experiment.
 *
 * <p>Run as {@code java --enable-native-access=ALL-UNNAMED -jar grpo4j.jar <command>}.
 */
@Command(name = "grpo4j",
    // Inherited: every subcommand gets -h/--help and -V/--version without repeating them.
    scope = CommandLine.ScopeType.INHERIT,
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = {
        "Group Robust Preference Optimization (GR-DPO / GR-IPO, Ramesh et al., NeurIPS 2024) on the JVM.",
        "Not DeepSeek's Group Relative Policy Optimization: nothing here samples completions."},
    subcommands = {DemoCommand.class, TrainCommand.class, EvalCommand.class, ScoreCommand.class, LossesCommand.class,
        MergeAdapterCommand.class, ConvertSurveyCommand.class, ExperimentCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
  /** Environment variable libtorch's OpenMP runtime reads once, when the native library loads. */
  static final String OMP_WAIT_POLICY = LibTorch.OMP_WAIT_POLICY;
  /** Environment variable that keeps libtorch's C++ trace (as a stack trace) when libtorch raises an error. */
  static final String DEBUG = LibTorch.DEBUG_ENV;

  @Spec
  private CommandSpec spec;

  public static void main(String[] args) {
    System.exit(commandLine().execute(args));
  }

  /** The configured command line, for {@link #main} and for tests that capture its output. */
  public static CommandLine commandLine() {
    return new CommandLine(new Main()).setCaseInsensitiveEnumValuesAllowed(true)
        .setExecutionStrategy(Main::execute)
        .setExecutionExceptionHandler(Main::reportError)
        .setParameterExceptionHandler(Main::reportBadArguments);
  }

  /**
   * A bad command line (an unknown option, a value of the wrong type or outside its choices, a missing option):
   * picocli's message, which names the option, the value and what is accepted, and a pointer to the help, instead of
   * the whole usage, which buries the one line that matters. Exit code 2, as picocli's own handler.
   */
  private static int reportBadArguments(ParameterException e, String[] args) {
    CommandLine commandLine = e.getCommandLine();
    PrintWriter err = commandLine.getErr();
    String command = commandLine.getCommandSpec().qualifiedName();
    err.println(command + ": error: " + e.getMessage());
    CommandLine.UnmatchedArgumentException.printSuggestions(e, err);
    err.println("see " + command + " --help");
    err.flush();
    return commandLine.getCommandSpec().exitCodeOnInvalidInput();
  }

  /**
   * Runs the chosen command, loading libtorch first for the commands that use it ({@link UsesLibTorch}): through
   * {@link LibTorch#load()}, never through JavaCPP's first touch, so that another libtorch on the machine cannot be
   * mixed in. Help and version requests load nothing.
   */
  private static int execute(CommandLine.ParseResult parseResult) {
    CommandLine.ParseResult command = parseResult;
    while (command.hasSubcommand()) {
      command = command.subcommand();
    }
    boolean helpOnly = command.isUsageHelpRequested() || command.isVersionHelpRequested();
    if (!helpOnly && command.commandSpec().userObject() instanceof UsesLibTorch) {
      try {
        LibTorch.load();
      } catch (UncheckedIOException | IllegalStateException e) {
        CommandLine commandLine = command.commandSpec().commandLine();
        commandLine.getErr().println("grpo4j " + commandLine.getCommandName() + ": error: " + e.getMessage());
        commandLine.getErr().flush();
        return 1;
      }
    }
    return new CommandLine.RunLast().execute(parseResult);
  }

  /**
   * Bad input (a missing file, a malformed line, an unsupported model, a folder in use) is the user's to fix: one
   * line naming the command and the problem, exit code 1. An error libtorch raised (its message carries C++ frames)
   * is also reported in one line, with the frames kept for {@value #DEBUG}=1. Anything else is a bug and keeps its
   * stack trace. A data-parallel job that cannot go on (a rank gone, stuck or configured differently) is reported in
   * one line with exit code {@value DistributedException#EXIT_CODE}.
   */
  private static int reportError(Exception e, CommandLine commandLine, CommandLine.ParseResult parseResult)
      throws Exception {
    String message = e.getMessage() != null ? e.getMessage() : e.toString();
    if (e instanceof DistributedException) {
      // A data-parallel job that cannot go on: the launcher and scripts tell it from bad input by the exit code.
      commandLine.getErr().println("grpo4j " + commandLine.getCommandName() + ": error: " + firstLine(message));
      commandLine.getErr().flush();
      return DistributedException.EXIT_CODE;
    }
    if (e instanceof IllegalArgumentException || e instanceof IOException || e instanceof UncheckedIOException) {
      if (e instanceof NoSuchFileException) {
        message = "no such file: " + message;
      }
    } else if (isLibtorchError(e) && System.getenv(DEBUG) == null) {
      message = "libtorch: " + firstLine(message) + " (set " + DEBUG + "=1 for libtorch's C++ trace)";
    } else {
      throw e;
    }
    commandLine.getErr().println("grpo4j " + commandLine.getCommandName() + ": error: " + message);
    commandLine.getErr().flush();
    return 1;
  }

  /** c10::Error reaches Java as a RuntimeException whose message lists C++ frames after the first line. */
  private static boolean isLibtorchError(Exception e) {
    return e.getClass() == RuntimeException.class && e.getMessage() != null
        && (e.getMessage().contains("Exception raised from") || e.getMessage().contains("frame #"));
  }

  private static String firstLine(String message) {
    int end = message.indexOf('\n');
    return end < 0 ? message : message.substring(0, end).strip();
  }

  @Override
  public void run() {
    throw new ParameterException(spec.commandLine(), "Missing command: choose one of "
        + spec.subcommands().keySet().stream().filter(name -> !name.equals("help")).toList());
  }

  /**
   * Warns when the environment asks libtorch's OpenMP threads to spin-wait ({@link LibTorch} makes them sleep when
   * it is left unset): on small machines that makes every training step tens of times slower (SPEC §7).
   */
  static void warnIfOpenMpSpins(PrintWriter err) {
    String policy = System.getenv(OMP_WAIT_POLICY);
    if (policy != null && !policy.equalsIgnoreCase("PASSIVE")) {
      err.println("grpo4j: warning: " + OMP_WAIT_POLICY + " is '" + policy + "'; libtorch's OpenMP threads will "
          + "spin-wait between operations, which makes small training steps many times slower. Unset it, or set it "
          + "to PASSIVE.");
      err.flush();
    }
  }

  /**
   * Warns when {@code --threads} asks for more threads than the machine has cores: libtorch's threads would then
   * take turns on the cores, which is slower than one thread per core.
   */
  static void warnIfOversubscribed(Integer threads, PrintWriter err) {
    int cores = Runtime.getRuntime().availableProcessors();
    if (threads != null && threads > cores) {
      err.println("grpo4j: warning: --threads " + threads + " is more than the " + cores + " cores this process may "
          + "use; extra threads only wait for each other (use --threads " + cores + " or fewer)");
      err.flush();
    }
  }

  /** Reads the version Maven wrote into the jar at build time, and names the BLAS libtorch's products run on. */
  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() throws IOException {
      Properties p = new Properties();
      try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
        if (in != null) {
          p.load(in);
        }
      }
      return new String[] {"grpo4j " + p.getProperty("version", "(unknown version)"),
          "JVM " + System.getProperty("java.vm.name") + " " + Runtime.version(), blas()};
    }

    /**
     * The BLAS line. picocli asks for the version while it builds the command line, before any command runs: a
     * libtorch that cannot load must not take every command down with it, so its message is the line instead (the
     * commands that need libtorch then fail with it themselves).
     */
    private static String blas() {
      try {
        return "BLAS " + LibTorch.blas();
      } catch (RuntimeException e) {
        return "BLAS unknown: libtorch did not load (" + e.getMessage() + ")";
      }
    }
  }
}

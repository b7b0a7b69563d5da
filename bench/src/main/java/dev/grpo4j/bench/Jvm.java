package dev.grpo4j.bench;

/**
 * Flags of every benchmark fork (annotation constants). The heap is fixed and pre-touched so that its growth never
 * shows up in the resident-memory peaks; OMP_WAIT_POLICY=PASSIVE, which libtorch needs on small machines (SPEC
 * §7), is an environment variable: JMH forks inherit ci/bench.sh's environment, which exports it.
 */
final class Jvm {
  static final String NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED";
  static final String XMS = "-Xms1g";
  static final String XMX = "-Xmx1g";
  static final String PRETOUCH = "-XX:+AlwaysPreTouch";
  /**
   * JavaCPP refuses allocations once the process's RSS passes 4 x -Xmx (4 GB here): libtorch at 2x1024x128256 needs
   * ~9 GB. 0 lifts the limit (the libtorch variants free their tensors per call through PointerScope anyway).
   */
  static final String JAVACPP_NO_LIMIT = "-Dorg.bytedeco.javacpp.maxPhysicalBytes=0";

  private Jvm() {}
}

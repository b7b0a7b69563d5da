package dev.grpo4j.platform;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Loads bytedeco's libtorch through {@link LibTorch#load()} when a test JVM's launcher session opens, before any
 * test class exists: test helpers and oracles (the testing module's libtorch objective among them) touch bytedeco
 * directly, and the first such touch would otherwise let JavaCPP load libtorch the plain way, which mixes a system
 * libtorch into the process. Registered in {@code META-INF/services}.
 */
public final class LoadLibTorchFirst implements LauncherSessionListener {
  @Override
  public void launcherSessionOpened(LauncherSession session) {
    LibTorch.load();
  }
}

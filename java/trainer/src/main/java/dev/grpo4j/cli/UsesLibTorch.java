package dev.grpo4j.cli;

/** Marks the commands that run libtorch, so that {@link Main} loads it through {@code LibTorch.load()} first. */
interface UsesLibTorch {}

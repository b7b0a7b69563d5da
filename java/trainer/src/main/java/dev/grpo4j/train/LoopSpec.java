package dev.grpo4j.train;

import static dev.grpo4j.train.TrainConfig.require;

/**
 * The shape of the training loop: its steps and batches, when it evaluates and checkpoints, its seed and its
 * processes.
 *
 * @param steps optimiser steps ({@code --steps}, or derived from {@code --epochs})
 * @param batchSize pairs per micro-batch ({@code --batch-size}), of all ranks' micro-batches together
 * @param gradientAccumulation micro-batches per optimiser step ({@code --grad-accumulation})
 * @param evalInterval steps between validation evaluations, 0 for only at the end ({@code --eval-every})
 * @param evalBatchSize pairs per evaluation forward ({@code --eval-batch-size})
 * @param checkpointInterval steps between checkpoints, 0 for only at the end ({@code --checkpoint-every})
 * @param keepCheckpoints checkpoints kept ({@code --keep-checkpoints})
 * @param seed {@code --seed}
 * @param worldSize data-parallel processes ({@code --nproc-per-node} x {@code --nnodes}); 0 (run folders written
 *     before the option) reads as 1
 */
public record LoopSpec(int steps, int batchSize, int gradientAccumulation, int evalInterval, int evalBatchSize,
    int checkpointInterval, int keepCheckpoints, long seed, int worldSize) {

  public LoopSpec {
    require(steps >= 1, "the run has " + steps + " steps: --steps (or --epochs) must give at least one");
    require(batchSize >= 1, "--batch-size = " + batchSize + ": must be >= 1");
    worldSize = worldSize == 0 ? 1 : worldSize;
    require(worldSize >= 1, "world size " + worldSize + ": must be >= 1");
    requireBatchSplits(batchSize, worldSize);
    require(gradientAccumulation >= 1, "--grad-accumulation = " + gradientAccumulation + ": must be >= 1");
    require(evalInterval >= 0, "--eval-every = " + evalInterval + ": must be >= 0 (0: only at the end)");
    require(evalBatchSize >= 1, "--eval-batch-size = " + evalBatchSize + ": must be >= 1");
    require(checkpointInterval >= 0, "--checkpoint-every = " + checkpointInterval
        + ": must be >= 0 (0: only at the end)");
    require(keepCheckpoints >= 1, "--keep-checkpoints = " + keepCheckpoints + ": must be >= 1");
  }

  /**
   * {@code steps} of {@code batchSize} pairs in one process with the {@code train} command's defaults: no
   * accumulation, validation and a checkpoint only at the end, 16 pairs per evaluation forward, 2 checkpoints kept.
   */
  public static LoopSpec of(int steps, int batchSize, long seed) {
    return new LoopSpec(steps, batchSize, 1, 0, 16, 0, 2, seed, 1);
  }

  /** Validation every {@code interval} steps, {@code batchSize} pairs per forward. */
  public LoopSpec withEvaluation(int interval, int batchSize) {
    return new LoopSpec(steps, this.batchSize, gradientAccumulation, interval, batchSize, checkpointInterval,
        keepCheckpoints, seed, worldSize);
  }

  public LoopSpec withKeepCheckpoints(int keep) {
    return new LoopSpec(steps, batchSize, gradientAccumulation, evalInterval, evalBatchSize, checkpointInterval,
        keep, seed, worldSize);
  }

  /** Training pairs per optimiser step. */
  public int pairsPerStep() {
    return batchSize * gradientAccumulation;
  }

  /** Refuses a micro-batch of {@code batchSize} pairs that {@code worldSize} processes cannot share evenly. */
  public static void requireBatchSplits(int batchSize, int worldSize) {
    require(batchSize % worldSize == 0, "--batch-size " + batchSize + " is the pairs of one micro-batch over all "
        + worldSize + " processes and must be a multiple of their number");
  }
}

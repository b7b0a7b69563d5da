/**
 * grpo4j-trainer: preference training on bytedeco's libtorch with grpo4j-core's fused loss, the {@code grpo4j}
 * command line, models, checkpoints, data and reports. An open module: Jackson reads the run files into its records
 * and picocli fills the commands' fields by reflection.
 */
open module dev.grpo4j.trainer {
  requires transitive dev.grpo4j.core;
  requires transitive org.bytedeco.pytorch;
  requires org.bytedeco.openblas;
  requires transitive com.fasterxml.jackson.databind;
  requires com.fasterxml.jackson.dataformat.csv;
  requires info.picocli;
  requires me.tongfei.progressbar;
  requires ai.djl.tokenizers;
  requires jinjava;
  requires dev.hardwood.core;
  requires xchart;
  requires java.desktop;
  requires java.logging;
  requires java.management;
  requires jdk.unsupported;

  exports dev.grpo4j.chat;
  exports dev.grpo4j.cli;
  exports dev.grpo4j.data;
  exports dev.grpo4j.dist;
  exports dev.grpo4j.io;
  exports dev.grpo4j.model;
  exports dev.grpo4j.platform;
  exports dev.grpo4j.report;
  exports dev.grpo4j.safetensors;
  exports dev.grpo4j.survey;
  exports dev.grpo4j.synthetic;
  exports dev.grpo4j.text;
  exports dev.grpo4j.torch;
  exports dev.grpo4j.train;
}

/** Example programs of grpo4j-core, written only against its public API. */
module dev.grpo4j.examples {
  requires dev.grpo4j.core;

  exports dev.grpo4j.examples;
}

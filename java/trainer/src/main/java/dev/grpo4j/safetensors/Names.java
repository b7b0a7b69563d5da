package dev.grpo4j.safetensors;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.stream.Collectors;

/** The hint in "no tensor named X" errors: names close to X, or else the first few names, so typos show. */
final class Names {
  private static final int SHOWN = 5;

  private Names() {}

  /** A message for a lookup of {@code wanted} that failed in {@code where}, which holds {@code available}. */
  static String unknown(String wanted, String where, Collection<String> available) {
    if (available.isEmpty()) {
      return "no tensor named '" + wanted + "' in " + where + ": it holds no tensors at all";
    }
    // Names that differ by a prefix ("model.") are the usual mix-up between Hugging Face and local naming.
    List<String> related = new ArrayList<>();
    for (String name : available) {
      if (name.endsWith(wanted) || wanted.endsWith(name)) {
        related.add(name);
      }
    }
    List<String> shown = (related.isEmpty() ? new ArrayList<>(available) : related).stream().limit(SHOWN).toList();
    String listed = shown.stream().map(name -> "'" + name + "'").collect(Collectors.joining(", "));
    String hint = related.isEmpty() ? "it holds e.g. " + listed + "." : "did you mean " + listed + "?";
    return "no tensor named '" + wanted + "' in " + where + " (" + available.size() + " tensors); " + hint
        + " Check the name against names()";
  }
}

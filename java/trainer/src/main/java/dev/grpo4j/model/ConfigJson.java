package dev.grpo4j.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Typed reads of a Hugging Face {@code config.json} object, each failure naming the field. A field that is absent or
 * {@code null} takes the fallback; where transformers tells the two apart (a soft-cap left out takes the class
 * default, an explicit {@code null} switches it off) {@link #has} and {@link #isNull} do.
 */
public final class ConfigJson {
  private final ObjectNode json;

  public ConfigJson(ObjectNode json) {
    this.json = Objects.requireNonNull(json, "json");
  }

  /** The object itself (not a copy). */
  public ObjectNode node() {
    return json;
  }

  /** Whether {@code field} is present, {@code null} included. */
  public boolean has(String field) {
    return json.has(field);
  }

  /** Whether {@code field} is present and {@code null}. */
  public boolean isNull(String field) {
    return json.has(field) && json.get(field).isNull();
  }

  /** The nested object {@code field}, or null when it is absent or {@code null}. */
  public ConfigJson object(String field) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (!(v instanceof ObjectNode o)) {
      throw new IllegalArgumentException(field + " must be an object, got " + v);
    }
    return new ConfigJson(o);
  }

  public String text(String field, String fallback) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isTextual()) {
      throw new IllegalArgumentException(field + " must be a string, got " + v);
    }
    return v.asText();
  }

  /** An integer; a null fallback makes the field required. */
  public int integer(String field, Integer fallback) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      if (fallback == null) {
        throw new IllegalArgumentException(field + " is missing");
      }
      return fallback;
    }
    if (!v.canConvertToInt() || !v.isIntegralNumber()) {
      throw new IllegalArgumentException(field + " must be an integer, got " + v);
    }
    return v.intValue();
  }

  /** A number; a null fallback makes the field required. */
  public double number(String field, Double fallback) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      if (fallback == null) {
        throw new IllegalArgumentException(field + " is missing");
      }
      return fallback;
    }
    if (!v.isNumber()) {
      throw new IllegalArgumentException(field + " must be a number, got " + v);
    }
    return v.doubleValue();
  }

  public boolean bool(String field, boolean fallback) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      return fallback;
    }
    if (!v.isBoolean()) {
      throw new IllegalArgumentException(field + " must be true or false, got " + v);
    }
    return v.booleanValue();
  }

  /** A list of strings of exactly {@code size} entries, or null when absent or {@code null}. */
  public List<String> texts(String field, int size) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    requireArray(field, v, size);
    List<String> out = new ArrayList<>();
    for (JsonNode e : v) {
      if (!e.isTextual()) {
        throw new IllegalArgumentException(field + " must hold strings, got " + e);
      }
      out.add(e.asText());
    }
    return out;
  }

  /**
   * A list of integers of exactly {@code size} entries (any length when {@code size} is negative), or null when absent
   * or {@code null}.
   */
  public List<Integer> integers(String field, int size) {
    JsonNode v = json.get(field);
    if (v == null || v.isNull()) {
      return null;
    }
    if (size < 0 && !v.isArray()) {
      throw new IllegalArgumentException(field + " must be a list, got " + v);
    }
    if (size >= 0) {
      requireArray(field, v, size);
    }
    List<Integer> out = new ArrayList<>();
    for (JsonNode e : v) {
      if (!e.isIntegralNumber() && !e.isBoolean()) {
        throw new IllegalArgumentException(field + " must hold integers, got " + e);
      }
      out.add(e.isBoolean() ? (e.booleanValue() ? 1 : 0) : e.intValue());
    }
    return out;
  }

  private static void requireArray(String field, JsonNode v, int size) {
    if (!v.isArray()) {
      throw new IllegalArgumentException(field + " must be a list, got " + v);
    }
    if (v.size() != size) {
      throw new IllegalArgumentException(field + " has " + v.size() + " entries but the model has " + size
          + " layers: one entry per layer");
    }
  }
}

package dev.grpo4j.report;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.deser.std.StdDeserializer;
import com.fasterxml.jackson.databind.deser.std.StdScalarDeserializer;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.util.Arrays;

/**
 * The JSON mapping shared by the run-log files. JSON has no NaN, and a NaN is how the trainer says "no value" (a
 * group absent from the batch, a group without evaluation pairs), so every non-finite double is written as
 * {@code null} and every {@code null} read back as NaN. Reading is strict about what the writer always produces
 * (every field present, integers for integer fields, numbers for numbers) so that a damaged line is reported rather
 * than read as zeros, and lenient about extra fields so that a newer trainer's files stay readable. Every field a
 * record cannot do without is {@code @JsonProperty(required = true)}.
 */
final class RunJson {
  static final ObjectMapper MAPPER = JsonMapper.builder()
      .addModule(new SimpleModule("grpo4j-run-log")
          .addSerializer(Double.class, new DoubleOrNull())
          .addSerializer(Double.TYPE, new DoubleOrNull())
          .addSerializer(double[].class, new DoublesOrNulls())
          .addDeserializer(Double.class, new NumberOrNaN())
          .addDeserializer(Double.TYPE, new NumberOrNaN())
          .addDeserializer(double[].class, new NumbersOrNaNs()))
      // Required fields are marked so on the records (a missing one is an error); an optional one may be absent or
      // null, and a record's constructor rejects a null where a value is needed.
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES, DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT, DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .disable(MapperFeature.ALLOW_COERCION_OF_SCALARS)
      .build();

  private RunJson() {}

  private static final class DoubleOrNull extends StdSerializer<Double> {
    private static final long serialVersionUID = 1L;

    DoubleOrNull() {
      super(Double.class);
    }

    @Override
    public void serialize(Double value, JsonGenerator out, SerializerProvider provider) throws IOException {
      if (Double.isFinite(value)) {
        out.writeNumber(value);
      } else {
        out.writeNull();
      }
    }
  }

  private static final class DoublesOrNulls extends StdSerializer<double[]> {
    private static final long serialVersionUID = 1L;

    DoublesOrNulls() {
      super(double[].class);
    }

    @Override
    public void serialize(double[] values, JsonGenerator out, SerializerProvider provider) throws IOException {
      out.writeStartArray(values, values.length);
      for (double v : values) {
        if (Double.isFinite(v)) {
          out.writeNumber(v);
        } else {
          out.writeNull();
        }
      }
      out.writeEndArray();
    }
  }

  private static final class NumberOrNaN extends StdScalarDeserializer<Double> {
    private static final long serialVersionUID = 1L;

    NumberOrNaN() {
      super(Double.class);
    }

    @Override
    public Double deserialize(JsonParser in, DeserializationContext context) throws IOException {
      JsonToken token = in.currentToken();
      if (token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT) {
        return in.getDoubleValue();
      }
      return (Double) context.reportInputMismatch(this, "expected a number or null, got %s", describe(token));
    }

    @Override
    public Double getNullValue(DeserializationContext context) {
      return Double.NaN;
    }
  }

  private static final class NumbersOrNaNs extends StdDeserializer<double[]> {
    private static final long serialVersionUID = 1L;

    NumbersOrNaNs() {
      super(double[].class);
    }

    @Override
    public double[] deserialize(JsonParser in, DeserializationContext context) throws IOException {
      if (!in.isExpectedStartArrayToken()) {
        return (double[]) context.reportInputMismatch(this, "expected an array of numbers, got %s",
            describe(in.currentToken()));
      }
      double[] values = new double[8];
      int n = 0;
      JsonToken token;
      while ((token = in.nextToken()) != JsonToken.END_ARRAY) {
        double value = switch (token) {
          case VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT -> in.getDoubleValue();
          case VALUE_NULL -> Double.NaN;
          default -> (Double) context.reportInputMismatch(this,
              "expected numbers or nulls in the array, got %s at index %d", describe(token), n);
        };
        if (n == values.length) {
          values = Arrays.copyOf(values, 2 * n);
        }
        values[n++] = value;
      }
      return Arrays.copyOf(values, n);
    }
  }

  private static String describe(JsonToken token) {
    if (token == null) {
      return "nothing";
    }
    return switch (token) {
      case VALUE_STRING -> "a string";
      case VALUE_TRUE, VALUE_FALSE -> "a boolean";
      case START_ARRAY -> "an array";
      case START_OBJECT -> "an object";
      case VALUE_NULL -> "null";
      default -> token.asString() == null ? token.name() : token.asString();
    };
  }
}

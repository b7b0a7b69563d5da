package dev.grpo4j.safetensors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.global.torch.ScalarType;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files exchanged with an independent reader and writer: a few lines of Python over numpy, following the format
 * description rather than this code. Skipped where python3 with numpy is not installed.
 */
class SafeTensorsNumpyInteropTest {
  private static final String SCRIPT = """
      import json, struct, sys
      import numpy as np
      types = {"F32": "<f4", "F16": "<f2", "F64": "<f8", "I64": "<i8", "I32": "<i4", "I16": "<i2",
               "I8": "i1", "U8": "u1", "BOOL": "?"}
      directory = sys.argv[1]
      with open(directory + "/from_java.safetensors", "rb") as f:
          raw = f.read()
      (n,) = struct.unpack("<Q", raw[:8])
      assert n % 8 == 0, "header length %d is not a multiple of 8" % n
      header = json.loads(raw[8:8 + n])
      values = {"__metadata__": header.pop("__metadata__", {})}
      for name, entry in header.items():
          begin, end = entry["data_offsets"]
          array = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=types[entry["dtype"]])
          values[name] = array.reshape(entry["shape"]).astype(np.float64).ravel().tolist()
      print(json.dumps(values))

      arrays = {"f32": np.array([[1.25, -3.5], [1e-3, 7.0]], dtype="<f4"),
                "f16": np.array([0.1, 65504.0, -2.0], dtype="<f2"),
                "i32": np.array([-7, 0, 2147483647], dtype="<i4"),
                "f64": np.array(2.718281828459045, dtype="<f8")}
      codes = {"<f4": "F32", "<f2": "F16", "<i4": "I32", "<f8": "F64"}
      out_header, data, offset = {}, b"", 0
      for name, array in arrays.items():
          chunk = array.tobytes()
          out_header[name] = {"dtype": codes[array.dtype.str], "shape": list(array.shape),
                              "data_offsets": [offset, offset + len(chunk)]}
          data += chunk
          offset += len(chunk)
      encoded = json.dumps(out_header).encode()
      with open(directory + "/from_numpy.safetensors", "wb") as f:
          f.write(struct.pack("<Q", len(encoded)) + encoded + data)
      """;

  @TempDir Path dir;

  @Test
  void numpyReadsOurFileAndWeReadItsFile() throws IOException, InterruptedException {
    Assumptions.assumeTrue(numpyAvailable(), "python3 with numpy is not installed");

    Map<String, Tensor> tensors = new LinkedHashMap<>();
    tensors.put("matrix", TestTensors.floats(new float[] {0, 1.5f, -2, 3, 4, 5}, 2, 3));
    tensors.put("half", TestTensors.floats(new float[] {0.5f, -2, 65504}, 3).to(ScalarType.Half));
    tensors.put("longs", TestTensors.floats(new float[] {-5, 1L << 20}, 2).to(ScalarType.Long));
    tensors.put("bytes", TestTensors.floats(new float[] {0, 255}, 2).to(ScalarType.Byte));
    tensors.put("flags", TestTensors.floats(new float[] {0, 1, 1}, 3).to(ScalarType.Bool));
    tensors.put("empty", TestTensors.floats(new float[] {}, 0, 2));
    SafeTensorsWriter.write(dir.resolve("from_java.safetensors"), tensors, Map.of("format", "pt"));

    Process python = new ProcessBuilder("python3", "-c", SCRIPT, dir.toString()).redirectErrorStream(true).start();
    String output = new String(python.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(python.waitFor(60, TimeUnit.SECONDS), "python finished");
    assertEquals(0, python.exitValue(), output);

    JsonNode seen = new ObjectMapper().readTree(output);
    assertEquals("pt", seen.get("__metadata__").get("format").asText());
    assertEquals("[0.0,1.5,-2.0,3.0,4.0,5.0]", seen.get("matrix").toString());
    assertEquals("[0.5,-2.0,65504.0]", seen.get("half").toString());
    assertEquals("[-5.0,1048576.0]", seen.get("longs").toString());
    assertEquals("[0.0,255.0]", seen.get("bytes").toString());
    assertEquals("[0.0,1.0,1.0]", seen.get("flags").toString());
    assertEquals("[]", seen.get("empty").toString());

    try (SafeTensorsFile file = SafeTensorsFile.open(dir.resolve("from_numpy.safetensors"))) {
      assertArrayEquals(new double[] {1.25, -3.5, 1e-3f, 7.0}, doubles(file.toTensor("f32")));
      assertArrayEquals(new long[] {2, 2}, file.info("f32").shape());
      // numpy and libtorch must agree on binary16 rounding: 0.1 becomes 0.0999755859375 in both.
      assertArrayEquals(new double[] {0.0999755859375, 65504.0, -2.0}, doubles(file.toTensor("f16")));
      assertArrayEquals(new double[] {-7, 0, Integer.MAX_VALUE}, doubles(file.toTensor("i32")));
      assertEquals(0, file.info("f64").shape().length);
      assertEquals(Math.E, file.toTensor("f64").item_double());
    }
  }

  private static double[] doubles(Tensor tensor) {
    Tensor flat = tensor.to(ScalarType.Double).contiguous().view(-1);
    double[] out = new double[(int) flat.numel()];
    for (int i = 0; i < out.length; i++) {
      out[i] = flat.select(0, i).item_double();
    }
    return out;
  }

  private static boolean numpyAvailable() {
    try {
      Process probe = new ProcessBuilder("python3", "-c", "import numpy").redirectErrorStream(true).start();
      probe.getInputStream().readAllBytes();
      return probe.waitFor(30, TimeUnit.SECONDS) && probe.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }
}

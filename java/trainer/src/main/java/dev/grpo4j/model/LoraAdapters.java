package dev.grpo4j.model;

import dev.grpo4j.platform.LibTorch;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.pytorch.NoGradGuard;
import org.bytedeco.pytorch.Scalar;
import org.bytedeco.pytorch.Tensor;
import org.bytedeco.pytorch.TensorOptions;
import org.bytedeco.pytorch.global.torch;
import org.bytedeco.pytorch.global.torch.ScalarType;

/**
 * LoRA on a {@link TransformerLm}: attaching adapters (base weights frozen), merging them into the base weights,
 * and the PEFT names of their parameters. Saving and loading the PEFT folder is in {@link Checkpoints}.
 */
public final class LoraAdapters {
  static {
    LibTorch.load();
  }

  /** PEFT's prefix in front of the Hugging Face parameter names inside {@code adapter_model.safetensors}. */
  public static final String PEFT_PREFIX = "base_model.model.";

  private LoraAdapters() {}

  /**
   * Adds adapters to every linear layer {@code config} targets, initialised as PEFT does ({@code A} uniform in
   * {@code ±1/sqrt(in)}, {@code B} zero, so the model's outputs are unchanged) from libtorch's generator seeded
   * with {@code seed}, in the model's dtype and on its device; then freezes every base parameter, so
   * {@link TransformerLm#parameters()} returns the adapters only.
   *
   * @return the number of adapted layers
   */
  @SuppressWarnings("try") // the guard acts by existing
  public static int attach(TransformerLm model, LoraConfig config, long seed) {
    if (hasAdapters(model)) {
      throw new IllegalStateException("the model already has LoRA adapters: merge or load into a fresh model");
    }
    List<String> linear = linearLayers(model);
    List<String> absent = config.targetModules().stream().filter(m -> !linear.contains(m)).toList();
    if (!absent.isEmpty()) {
      throw new IllegalArgumentException("LoRA target modules " + absent + " are not linear layers of this "
          + model.config().modelType() + " model: its linear layers are " + linear);
    }
    torch.manual_seed(seed);
    List<String> adapted = new ArrayList<>();
    try (NoGradGuard noGrad = new NoGradGuard()) {
      model.forEachProjection((name, p) -> {
        if (!config.targetModules().contains(lastComponent(name))) {
          return;
        }
        Tensor like = p.weight;
        ScalarType dtype = like.scalar_type().intern();
        double bound = 1.0 / Math.sqrt(p.inFeatures);
        Tensor a = torch.rand(new long[] {config.rank(), p.inFeatures}, new TensorOptions(ScalarType.Float))
            .mul_(new Scalar(2 * bound)).sub_(new Scalar(bound)).to(like.device(), dtype);
        Tensor b = torch.zeros(new long[] {p.outFeatures, config.rank()}, new TensorOptions(ScalarType.Float))
            .to(like.device(), dtype);
        p.addAdapter(a, b, config.scale(), config.dropout());
        adapted.add(name);
      });
    }
    if (adapted.isEmpty()) {
      throw new IllegalArgumentException("no layer matches LoRA target modules " + config.targetModules());
    }
    for (Tensor t : model.namedParameters().values()) {
      t.requires_grad_(false);
    }
    return adapted.size();
  }

  /**
   * The names LoRA can target in {@code model}: the last component of each linear layer's Hugging Face name
   * ({@code q_proj}, ..., Phi-3's {@code qkv_proj}, {@code lm_head} when the head is not tied), in layer order.
   */
  public static List<String> linearLayers(TransformerLm model) {
    Set<String> names = new LinkedHashSet<>();
    model.forEachProjection((name, p) -> names.add(lastComponent(name)));
    return List.copyOf(names);
  }

  /** Whether any layer carries an adapter. */
  public static boolean hasAdapters(TransformerLm model) {
    boolean[] any = {false};
    model.forEachProjection((name, p) -> any[0] |= p.hasAdapter());
    return any[0];
  }

  /**
   * Folds every adapter into its base weight ({@code W += scale * B A}, computed in float32) and removes the
   * adapters; the base parameters become trainable again. The merged model gives the adapted model's outputs.
   */
  @SuppressWarnings("try") // the guard acts by existing
  public static void merge(TransformerLm model) {
    try (NoGradGuard noGrad = new NoGradGuard()) {
      model.forEachProjection((name, p) -> {
        if (!p.hasAdapter()) {
          return;
        }
        Tensor delta = torch.matmul(p.loraB.to(ScalarType.Float), p.loraA.to(ScalarType.Float))
            .mul_(new Scalar(p.loraScale));
        ScalarType dtype = p.weight.scalar_type().intern();
        p.weight.copy_(p.weight.to(ScalarType.Float).add(delta).to(dtype));
        p.removeAdapter();
      });
    }
    for (Tensor t : model.namedParameters().values()) {
      t.requires_grad_(true);
    }
  }

  /** Adapter parameters under PEFT's names ({@code base_model.model.<module>.lora_A.weight}), in layer order. */
  public static Map<String, Tensor> peftNamedAdapters(TransformerLm model) {
    Map<String, Tensor> out = new LinkedHashMap<>();
    model.forEachProjection((name, p) -> {
      if (p.hasAdapter()) {
        out.put(PEFT_PREFIX + name + ".lora_A.weight", p.loraA);
        out.put(PEFT_PREFIX + name + ".lora_B.weight", p.loraB);
      }
    });
    return out;
  }

  private static String lastComponent(String moduleName) {
    return moduleName.substring(moduleName.lastIndexOf('.') + 1);
  }
}

// Writes a randomly initialised Llama model folder that reads bytes (grpo4j's byte tokenizer): a model between the
// built-in tiny one and a real one, for timing training. VOCAB (default 257, the bytes) may be larger, to time a
// real vocabulary's head: the byte ids then use only its first rows. Run with the trainer jar on the class path:
//   java --enable-native-access=ALL-UNNAMED -cp java/trainer/target/grpo4j.jar MakeModel.java DIR HIDDEN LAYERS [VOCAB]
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.model.ModelConfig;
import dev.grpo4j.model.Models;
import dev.grpo4j.model.TransformerLm;
import dev.grpo4j.train.RunCheckpoints;
import java.nio.file.Path;
import org.bytedeco.pytorch.global.torch.ScalarType;

public class MakeModel {
  public static void main(String[] args) throws Exception {
    int hidden = Integer.parseInt(args[1]);
    int layers = Integer.parseInt(args[2]);
    ObjectNode json = new ObjectMapper().createObjectNode();
    json.putArray("architectures").add("LlamaForCausalLM");
    json.put("model_type", "llama");
    json.put("vocab_size", args.length > 3 ? Integer.parseInt(args[3]) : 257);
    json.put("hidden_size", hidden);
    json.put("intermediate_size", hidden * 11 / 4);
    json.put("num_hidden_layers", layers);
    json.put("num_attention_heads", hidden / 32);
    json.put("num_key_value_heads", hidden / 64);
    json.put("hidden_act", "silu");
    json.put("rms_norm_eps", 1e-6);
    json.put("rope_theta", 10000.0);
    json.put("max_position_embeddings", 512);
    json.put("tie_word_embeddings", false);
    json.put("attention_bias", false);
    json.put("mlp_bias", false);
    json.put("torch_dtype", "float32");
    TransformerLm model = Models.random(ModelConfig.fromJson(json), 1);
    RunCheckpoints.saveWholeModel(model, ScalarType.Float, null, Path.of(args[0]));
  }
}

package dev.grpo4j.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.grpo4j.chat.ChatTemplate;
import dev.grpo4j.io.AtomicFiles;
import dev.grpo4j.io.RunFolder;
import dev.grpo4j.text.GroupIndex;
import dev.grpo4j.text.PairEncoder;
import dev.grpo4j.text.PreferenceData;
import dev.grpo4j.text.PreferenceRecord;
import dev.grpo4j.text.TextTokenizer;
import dev.grpo4j.text.TokenPair;
import dev.grpo4j.torch.EncodedPairs;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A run's data: the training, validation and test files read, grouped by the training data's groups, and tokenised
 * (with the chat template where a file is conversational), with what was dropped or cut reported on the way.
 *
 * @param groups the training data's groups, in id order
 * @param groupSizes training pairs per group
 * @param validation null without {@code --validation}
 * @param test null without {@code --test}
 */
record RunData(GroupIndex groups, long[] groupSizes, Split train, Split validation, Split test) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** One split, as read, tokenised and laid out as rows (without reference log-probs). */
  record Split(String name, Path file, List<PreferenceRecord> records, List<TokenPair> pairs, EncodedPairs rows) {}

  static RunData read(TrainConfig config, TextTokenizer tokenizer, PrintWriter err) throws IOException {
    PreferenceData.Loaded train = read(config, "--train", config.data().train(), err);
    PreferenceData.Loaded validation = read(config, "--validation", config.data().validation(), err);
    PreferenceData.Loaded test = read(config, "--test", config.data().test(), err);
    PairFiles.warnIfUngrouped(train, config.data().reading().groupField(), config.loss(), err);
    GroupIndex groups = GroupIndex.of(train.records());
    ChatTemplate template = PairFiles.anyConversational(train, validation, test)
        ? ModelSource.chatTemplate(config.model().name(), config.model().tokenizer(),
            config.data().reading().chatTemplate(), config.data().reading().chatTemplateKwargs()) : null;
    PairEncoder encoder = new PairEncoder(tokenizer, template, groups, new PairEncoder.EncodeOptions(
        config.data().maxPromptTokens(), config.data().maxLength(), config.data().appendEos()));
    Split trainSplit = encode(config, "train", config.data().train(), train, encoder, err);
    return new RunData(groups, groups.counts(trainSplit.records()), trainSplit,
        encode(config, "validation", config.data().validation(), validation, encoder, err),
        encode(config, "test", config.data().test(), test, encoder, err));
  }

  /** The line a run prints about its data: pairs per group and per split. */
  String summary() {
    List<String> parts = new ArrayList<>();
    for (int g = 0; g < groupSizes.length; g++) {
      parts.add(groups.name(g) + ": " + groupSizes[g]);
    }
    return "data: " + train.pairs().size() + " training pairs in " + groups.size() + " groups ("
        + String.join(", ", parts) + ")" + (validation == null ? "" : ", " + validation.pairs().size()
        + " validation") + (test == null ? "" : ", " + test.pairs().size() + " test");
  }

  /**
   * Writes {@value RunFolder#GROUPS}: each group's id, label and training pairs, so that the ids in the logs and the
   * checkpoints can be read without re-deriving them from the data.
   */
  void writeGroups(RunFolder folder) throws IOException {
    ObjectNode json = JSON.createObjectNode();
    ArrayNode list = json.putArray("groups");
    for (int g = 0; g < groups.size(); g++) {
      list.addObject().put("id", g).put("label", groups.name(g)).put("train_pairs", groupSizes[g]);
    }
    AtomicFiles.write(folder.groups(), stream -> stream.write(JSON.writerWithDefaultPrettyPrinter()
        .writeValueAsBytes(json)));
  }

  private static PreferenceData.Loaded read(TrainConfig config, String option, String file, PrintWriter err)
      throws IOException {
    return file == null ? null
        : PairFiles.read(option, Path.of(file), config.data().reading().readOptions(config.data().skipBadLines()), err);
  }

  private static Split encode(TrainConfig config, String name, String fileName, PreferenceData.Loaded data,
                              PairEncoder encoder, PrintWriter err) {
    if (data == null) {
      return null;
    }
    Path file = Path.of(fileName);
    PairEncoder.Encoded encoded;
    try {
      encoded = encoder.encode(data.records());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(file + ": " + e.getMessage()
          + (name.equals("train") ? "" : " (groups come from the training data)"), e);
    }
    PairFiles.reportDegenerate(file.getFileName().toString(), encoded, name.equals("train"), err);
    PairFiles.reportTextSplits(file.getFileName().toString(), encoded, err);
    if (encoded.truncatedPairs() > 0) {
      err.println(name + ": truncated " + encoded.truncatedPairs() + " of " + encoded.pairs().size() + " pairs to "
          + "--max-length " + config.data().maxLength() + " (prompts cut: " + encoded.truncatedPrompts()
          + ", responses cut: " + encoded.truncatedResponses() + ")");
    }
    return new Split(name, file, data.records(), encoded.pairs(), EncodedPairs.encode(encoded.pairs()));
  }
}

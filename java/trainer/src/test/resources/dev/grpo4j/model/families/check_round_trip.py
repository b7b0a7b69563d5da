"""Loads the model folders grpo4j saved after training (and after merge-adapter) in transformers 5.17 and checks that
transformers scores their pairs as grpo4j did: the round trip of issue 25, which the Java tests cannot run (no Python
there). Write the folders with

  ./mvnw -pl java/trainer test -Dtest=FamilyTrainCommandTest -Dgrpo4j.roundTripDir=/tmp/rt

then, in the venv of make_family_goldens.py,

  python check_round_trip.py /tmp/rt      # with peft installed too (pip install peft)

Each <family>/<trained|merged>/ holds config.json and model.safetensors, <family>/adapter/ a PEFT adapter folder
with its base model in base/ (PEFT 0.21 loads it), each with pairs.jsonl (word "t<i>" is token i) and
grpo4j_scores.jsonl. Prints the largest difference per folder; exits 1 if any exceeds 2e-3.
"""
import json
import pathlib
import sys

import torch
import transformers

TOLERANCE = 2e-3


def ids(text):
    return [int(word[1:]) for word in text.split()]


def logp(model, prompt, response):
    row = torch.tensor([prompt + response])
    with torch.no_grad():
        logprobs = torch.log_softmax(model(input_ids=row).logits[0].double(), dim=-1)
    return sum(logprobs[t - 1, row[0, t]].item() for t in range(len(prompt), row.shape[1]))


def main(root):
    worst = 0.0
    folders = sorted(p.parent for p in pathlib.Path(root).glob("*/*/grpo4j_scores.jsonl"))
    if not folders:
        sys.exit(f"no <family>/<run>/grpo4j_scores.jsonl under {root}")
    for folder in folders:
        adapter = (folder / "adapter_config.json").exists()
        model = transformers.AutoModelForCausalLM.from_pretrained(
            folder / "base" if adapter else folder, attn_implementation="eager", experts_implementation="eager",
            dtype=torch.float64).eval()
        if adapter:
            import peft
            model = peft.PeftModel.from_pretrained(model, folder).eval()
        pairs = [json.loads(line) for line in (folder / "pairs.jsonl").read_text().splitlines() if line.strip()]
        scores = [json.loads(line) for line in (folder / "grpo4j_scores.jsonl").read_text().splitlines()]
        diff = 0.0
        for pair, score in zip(pairs, scores, strict=True):
            for side in ("chosen", "rejected"):
                theirs = logp(model, ids(pair["prompt"]), ids(pair[side]))
                diff = max(diff, abs(theirs - score[f"{side}_logp"]))
        worst = max(worst, diff)
        print(f"{folder.parent.name}/{folder.name}: {type(model).__name__}, max |transformers - grpo4j| = {diff:.2e}")
    print(f"largest difference {worst:.2e} (tolerance {TOLERANCE})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))

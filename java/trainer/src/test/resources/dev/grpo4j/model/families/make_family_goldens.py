"""Tiny random checkpoints of every model family issue 25 names, and what transformers 5.17 computes on them in
float64, for the family tests of TransformerLm (Python is not needed to run those).

Each family gets a folder <model_type>/ (a variant: <model_type>_<variant>/) with config.json and model.safetensors
(float32, as save_pretrained writes them) and goldens.json: two token rows, the logits transformers computes from
those float32 weights in float64 (eager attention, so that sliding windows and soft-capping are what the family
defines) and in bfloat16 (the weights cast down), and each row's log-prob of its completion (positions PROMPT.. of the
row, predicted from the position before); and pairs.jsonl with a tokenizer.json whose word "t<i>" is token i, with
each pair's chosen and rejected log-probs (pair_logps), for `grpo4j score`. default_configs.json holds each configuration class's defaults. The weights are redrawn far from
the default init (norm weights around 1 +- 0.5, projections N(0, 0.2^2)), sliding windows (5) are shorter than the
rows (14 tokens), and families with several layer types get each.

  python -m venv /tmp/tf && /tmp/tf/bin/pip install --index-url file:///opt/pypi/simple transformers==5.17.0 torch
  /tmp/tf/bin/python make_family_goldens.py           # writes next to this file
"""
import json
import pathlib
import sys

import torch
import transformers

# Eager attention and experts: what the families define, in float64 too.
EAGER = dict(attn_implementation="eager", experts_implementation="eager")
PAIR_LENGTHS = [(3, 9, 4), (6, 2, 11), (1, 12, 7)]
VOCAB, HIDDEN, INTERMEDIATE, LAYERS, HEADS, KV_HEADS, ROWS, TOKENS, PROMPT, WINDOW = 101, 32, 48, 3, 4, 2, 2, 14, 5, 5
COMMON = dict(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE, num_hidden_layers=LAYERS,
              num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=64, rms_norm_eps=1e-6,
              bos_token_id=1, eos_token_id=2, pad_token_id=0)

FAMILIES = {
    "llama": (transformers.LlamaConfig, dict(attention_bias=True, mlp_bias=True, tie_word_embeddings=False)),
    "qwen2": (transformers.Qwen2Config, dict(tie_word_embeddings=True)),
    "qwen3": (transformers.Qwen3Config, dict(head_dim=12, tie_word_embeddings=False)),
    "mistral": (transformers.MistralConfig, dict(head_dim=8, sliding_window=WINDOW, tie_word_embeddings=False)),
    "ministral": (transformers.MinistralConfig,
                  dict(head_dim=8, sliding_window=WINDOW, tie_word_embeddings=False,
                       layer_types=["sliding_attention", "full_attention", "sliding_attention"])),
    "gemma": (transformers.GemmaConfig, dict(head_dim=8, tie_word_embeddings=True)),
    "gemma2": (transformers.Gemma2Config,
               dict(head_dim=8, sliding_window=WINDOW, attn_logit_softcapping=5.0, final_logit_softcapping=3.0,
                    query_pre_attn_scalar=10, tie_word_embeddings=True,
                    layer_types=["sliding_attention", "full_attention", "sliding_attention"])),
    "gemma3_text": (transformers.Gemma3TextConfig,
                    dict(head_dim=8, sliding_window=WINDOW, query_pre_attn_scalar=10, tie_word_embeddings=True,
                         final_logit_softcapping=3.0,
                         layer_types=["sliding_attention", "sliding_attention", "full_attention"],
                         rope_parameters={"sliding_attention": {"rope_type": "default", "rope_theta": 100.0},
                                          "full_attention": {"rope_type": "default", "rope_theta": 10000.0}})),
    "phi3": (transformers.Phi3Config,
             dict(tie_word_embeddings=False,
                  rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5})),
    "olmo2": (transformers.Olmo2Config, dict(tie_word_embeddings=False)),
    "smollm3": (transformers.SmolLM3Config, dict(no_rope_layers=[1, 0, 1], tie_word_embeddings=True)),
    "granite": (transformers.GraniteConfig,
                dict(embedding_multiplier=3.0, attention_multiplier=0.2, residual_multiplier=0.6, logits_scaling=2.5,
                     tie_word_embeddings=False)),
    # LongRoPE: every row here (up to 17 tokens) stays under original_max_position_embeddings, so the short factors
    # apply; long_row (24 tokens) passes it and takes the long ones.
    "phi3_longrope": (transformers.Phi3Config,
                      dict(tie_word_embeddings=False, original_max_position_embeddings=20,
                           rope_parameters={"rope_type": "longrope", "rope_theta": 10000.0,
                                            "short_factor": [1.0, 1.3, 2.1, 3.7], "long_factor": [1.0, 2.0, 5.0, 11.0],
                                            "original_max_position_embeddings": 20})),
    # Mixtures of experts: 4 experts, 2 per token; Qwen3-MoE with a dense layer (mlp_only_layers) among sparse ones.
    "qwen3_moe": (transformers.Qwen3MoeConfig,
                  dict(head_dim=8, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=24, norm_topk_prob=True,
                       mlp_only_layers=[1], tie_word_embeddings=False)),
    "mixtral": (transformers.MixtralConfig,
                dict(head_dim=8, num_local_experts=4, num_experts_per_tok=2, sliding_window=WINDOW,
                     tie_word_embeddings=False)),
}


def redraw(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if "norm" in name:
                p.copy_(1.0 + 0.5 * noise)
            elif "embed" in name:
                p.copy_(0.5 * noise)
            else:
                p.copy_(0.2 * noise)


def word_tokenizer():
    """A WordLevel tokenizer whose word "t<i>" is token i, without special tokens around the text: the pairs below
    encode to exactly the ids transformers scores."""
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": [], "normalizer": None,
            "pre_tokenizer": {"type": "Whitespace"}, "post_processor": None, "decoder": None,
            "model": {"type": "WordLevel", "unk_token": "t0", "vocab": {f"t{i}": i for i in range(VOCAB)}}}


def score_pairs(model, pairs):
    """Each pair's chosen and rejected log-probs, every row scored alone and unpadded, in float64."""
    out = []
    for prompt, chosen, rejected in pairs:
        logps = []
        for response in (chosen, rejected):
            row = torch.tensor([prompt + response])
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=row).logits[0], dim=-1)
            logps.append(sum(logp[t - 1, row[0, t]].item() for t in range(len(prompt), row.shape[1])))
        out.append(logps)
    return out


def main():
    out = pathlib.Path(__file__).resolve().parent
    # Each configuration class's defaults (the full-size model it describes), every field written out: what
    # transformers 5.17 puts in a config.json, for the parser's tests.
    defaults = {config_class.model_type: config_class().to_dict() for config_class, _ in FAMILIES.values()}
    (out / "default_configs.json").write_text(json.dumps(defaults, indent=1, sort_keys=True) + "\n")
    ids = torch.randint(3, VOCAB, (ROWS, TOKENS), generator=torch.Generator().manual_seed(7))
    # A folder per entry, named by the entry: a family's model_type, or model_type_variant.
    for index, (name, (config_class, extra)) in enumerate(FAMILIES.items()):
        config = config_class(**COMMON, **extra)
        config._attn_implementation = "eager"
        torch.manual_seed(index)
        model = transformers.AutoModelForCausalLM.from_config(config, **EAGER)
        redraw(model, 1000 + index)
        folder = out / name
        model.save_pretrained(folder, safe_serialization=True)
        # The goldens come from the saved float32 weights, computed in float64.
        saved = transformers.AutoModelForCausalLM.from_pretrained(folder, **EAGER,
                                                                  dtype=torch.float32).to(torch.float64).eval()
        with torch.no_grad():
            logits = saved(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
            # What transformers computes with the weights cast to bfloat16 (eager attention, the same CPU kernels).
            low = transformers.AutoModelForCausalLM.from_pretrained(folder, **EAGER,
                                                                    dtype=torch.bfloat16).eval()
            logits_bf16 = low(input_ids=ids, attention_mask=torch.ones_like(ids)).logits.double()
        logp = torch.log_softmax(logits, dim=-1)
        sequence = [sum(logp[r, t - 1, ids[r, t]].item() for t in range(PROMPT, TOKENS)) for r in range(ROWS)]
        goldens = {"transformers": transformers.__version__, "torch": torch.__version__,
                   "model_type": config.model_type,
                   "input_ids": ids.tolist(), "prompt_tokens": PROMPT, "logits": logits.reshape(-1).tolist(),
                   "logits_bf16": logits_bf16.reshape(-1).tolist(),
                   "sequence_logps": sequence}
        # Pairs of several lengths (rows padded to the longest in a batch, windows of 5 passed) for `grpo4j score`.
        g = torch.Generator().manual_seed(11)
        pairs = [([int(t) for t in torch.randint(3, VOCAB, (p,), generator=g)],
                  [int(t) for t in torch.randint(3, VOCAB, (c,), generator=g)],
                  [int(t) for t in torch.randint(3, VOCAB, (r,), generator=g)]) for p, c, r in PAIR_LENGTHS]
        with open(folder / "pairs.jsonl", "w") as f:
            for i, (prompt, chosen, rejected) in enumerate(pairs):
                words = lambda ids: " ".join(f"t{t}" for t in ids)
                f.write(json.dumps({"prompt": words(prompt), "chosen": words(chosen), "rejected": words(rejected),
                                    "group": f"g{i % 2}"}) + "\n")
        (folder / "tokenizer.json").write_text(json.dumps(word_tokenizer()) + "\n")
        goldens["pair_logps"] = score_pairs(saved, pairs)
        if name == "phi3_longrope":
            long_row = torch.randint(3, VOCAB, (1, 24), generator=torch.Generator().manual_seed(13))
            with torch.no_grad():
                goldens["long_row"] = long_row.tolist()
                goldens["long_row_logits"] = saved(input_ids=long_row).logits.reshape(-1).tolist()
        (folder / "goldens.json").write_text(json.dumps(goldens) + "\n")
        print(f"{name}: {sum(p.numel() for p in model.parameters())} parameters, sequence log-probs {sequence}")


if __name__ == "__main__":
    sys.exit(main())

"""Writes goldens.json: what transformers and TRL make of the chat templates in templates/.

The templates are copies of the originals that TRL 1.13.0 ships in trl/chat_templates/ (its README there names the
checkpoints each comes from: qwen2_5 = Qwen2.5-Instruct, llama3 = Meta-Llama-3-Instruct, gemma = Gemma and Gemma 2
instruct, which has no system role, ...). Expected texts come from running the real libraries, not from reading the
templates: transformers' render_jinja_template (what tokenizer.apply_chat_template(..., tokenize=False) calls) and
TRL's apply_chat_template and extract_prompt (the preprocessing of its DPO trainer).

    python3 -m venv venv && venv/bin/pip install transformers==5.17.0 trl==1.13.0 jinja2==3.1.6
    venv/bin/python render_goldens.py      # run in this folder

Templates that print the date (llama3_2) are rendered on a fixed day by passing date_string, as a caller may.

It also writes a small model folder, tokenizer/ (a byte-level BPE trained here on a few sentences, with Qwen2.5's
special tokens and template, saved by transformers' save_pretrained), and the token ids TRL's DPO trainer computes
for the preference examples with it (its tokenize_fn: the prompt tokenised with the generation prompt, each response
as the rest of the tokenised prompt + response).
"""
import json
import os

import tokenizers
import transformers
import trl
from transformers import PreTrainedTokenizerFast
from transformers.utils.chat_template_utils import render_jinja_template
from trl.data_utils import apply_chat_template, extract_prompt

TOKENS = {
    "qwen2_5": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "qwen2_5_training": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "qwen3": {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
    "llama3": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "llama3_2": {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
    "gemma": {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"},
    "gemma3": {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>", "unk_token": "<unk>"},
    "phi3": {"bos_token": "<s>", "eos_token": "<|endoftext|>", "unk_token": "<unk>"},
    "deepseek_r1_distill": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
}

CONVERSATIONS = {
    "one user turn": [{"role": "user", "content": "Is tea healthy?"}],
    "system first": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Is tea healthy?"}],
    "several turns": [
        {"role": "user", "content": "  Café or tea? \n"},
        {"role": "assistant", "content": "Tea, \"green\" if you can.\n\n"},
        {"role": "user", "content": "Why?"},
    ],
    "reasoning": [
        {"role": "user", "content": "2+2?"},
        {"role": "assistant", "content": "<think>\nadd them\n</think>\n\nIt is 4."},
        {"role": "user", "content": "And 3+3?"},
    ],
    "tool call": [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "get_weather", "arguments": {"city": "Paris", "unit": "°C", "days": 2, "ratio": 0.5}}}]},
        {"role": "tool", "content": "{\"temperature\": 21}"},
    ],
    "roles not alternating": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
}

PREFERENCES = {
    "explicit prompt": {
        "prompt": [{"role": "user", "content": "Is tea healthy?"}],
        "chosen": [{"role": "assistant", "content": "In moderation, yes."}],
        "rejected": [{"role": "assistant", "content": "No."}],
    },
    "system and two turns": {
        "prompt": [
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Café or tea?"},
            {"role": "assistant", "content": "Tea."},
            {"role": "user", "content": "Why?"},
        ],
        "chosen": [{"role": "assistant", "content": " Antioxidants. "}],
        "rejected": [{"role": "assistant", "content": "Because."}],
    },
}

IMPLICIT = {
    "conversations": {
        "chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}],
        "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Go away."}],
    },
    "longer shared history": {
        "chosen": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                   {"role": "user", "content": "Tea?"}, {"role": "assistant", "content": "Yes please."}],
        "rejected": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"},
                     {"role": "user", "content": "Tea?"}, {"role": "assistant", "content": "No."}],
    },
    "text with a space before the split": {
        "chosen": "Human: Is tea healthy? Assistant: Yes.",
        "rejected": "Human: Is tea healthy? Assistant: No.",
    },
    "text, one a prefix of the other": {"chosen": "Question: tea? Yes", "rejected": "Question: tea? Yes, always"},
}


class Tokenizer:
    """The parts of a tokenizer TRL's apply_chat_template uses, without vocabulary files."""

    def __init__(self, template, tokens):
        self.template = template
        self.tokens = tokens

    def apply_chat_template(self, messages, tools=None, tokenize=False, add_generation_prompt=False,
                            continue_final_message=False, **kwargs):
        rendered, _ = render_jinja_template([messages], tools=tools, chat_template=self.template,
                                            add_generation_prompt=add_generation_prompt,
                                            continue_final_message=continue_final_message,
                                            **{**self.tokens, **kwargs})
        return rendered[0]


def outcome(run):
    try:
        return {"text": run()}
    except Exception as e:  # the template's raise_exception and jinja2's errors
        return {"error": str(e).split("\n")[0]}


CORPUS = [
    "Is tea healthy? In moderation, yes. No.", "Café or tea? Why? Antioxidants. Because.",
    "Answer briefly. You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
    "system user assistant", "Hello, how are you? I am fine.",
]


def write_tokenizer(folder, template):
    model = tokenizers.models.BPE()
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = tokenizers.decoders.ByteLevel()
    trainer = tokenizers.trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
        initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>")
    fast.chat_template = template
    fast.save_pretrained(folder)
    return fast


def token_goldens(fast):
    out = []
    for example, record in PREFERENCES.items():
        def ids(messages, generation=False):
            return fast.apply_chat_template(messages, tokenize=True, return_dict=True,
                                            add_generation_prompt=generation)["input_ids"]
        prompt = ids(record["prompt"], True)
        chosen = ids(record["prompt"] + record["chosen"])
        rejected = ids(record["prompt"] + record["rejected"])
        assert chosen[:len(prompt)] == prompt and rejected[:len(prompt)] == prompt
        out.append({"example": example, "prompt": prompt, "chosen": chosen[len(prompt):],
                    "rejected": rejected[len(prompt):]})
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    renderings, splits = [], []
    for name in sorted(TOKENS):
        with open(os.path.join(here, "templates", name + ".jinja"), encoding="utf-8") as f:
            template = f.read()
        tokenizer = Tokenizer(template, TOKENS[name])
        extra = {"date_string": "26 Jul 2024"} if name == "llama3_2" else {}
        for conversation, messages in CONVERSATIONS.items():
            for generation in (False, True):
                renderings.append({
                    "template": name, "conversation": conversation, "add_generation_prompt": generation,
                    "variables": extra,
                    **outcome(lambda: tokenizer.apply_chat_template(messages, add_generation_prompt=generation,
                                                                    **extra))})
        for example, record in PREFERENCES.items():
            splits.append({"template": name, "example": example, "variables": extra,
                           **outcome(lambda: apply_chat_template(record, tokenizer, **extra))})
    implicit = [{"example": k, "record": v, "split": extract_prompt(v)} for k, v in IMPLICIT.items()]
    with open(os.path.join(here, "templates", "qwen2_5.jinja"), encoding="utf-8") as f:
        fast = write_tokenizer(os.path.join(here, "tokenizer"), f.read())
    goldens = {
        "made_with": {"transformers": transformers.__version__, "trl": trl.__version__,
                      "tokenizers": tokenizers.__version__},
        "token_ids": token_goldens(fast),
        "tokens": TOKENS, "conversations": CONVERSATIONS, "preferences": PREFERENCES,
        "renderings": renderings, "splits": splits, "implicit_prompts": implicit,
    }
    with open(os.path.join(here, "goldens.json"), "w", encoding="utf-8") as f:
        json.dump(goldens, f, ensure_ascii=False, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

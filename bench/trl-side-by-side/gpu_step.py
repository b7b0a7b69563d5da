"""The Qwen2.5-0.5B-shaped DPO step in grpo4j and in TRL's DPOTrainer on one GPU (issue 26, step 4): random weights
(bf16), a byte-level tokenizer both sides read, STEPS steps of 8 pairs whose sequences are 1024 tokens (prompt,
response and EOS), the reference log-probs precomputed on both sides. grpo4j runs from the kit (ci/gpu-kit.sh
grpo4j, fused head); TRL on the machine's PyTorch (TRL and datasets carried as wheels, see ci/gpu-kit.sh). Prints
one JSON line per system and a table: median seconds per step after WARMUP steps, tokens per second, and the peak
GPU memory nvidia-smi saw for the process (the CUDA context included, on both sides), besides TRL's own peak of
allocated memory.

Usage (from the repository root): python3 bench/trl-side-by-side/gpu_step.py OUT [STEPS] [SHAPE] [DEVICE]
  SHAPE qwen2.5-0.5b (default) or tiny (to try the script on a CPU); DEVICE cuda (default) or cpu.
"""
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare import make_tokenizer  # noqa: E402  (the byte-level tokenizer of the CPU side-by-side)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WARMUP = 2
PAIRS = 8
SHAPES = {
    # Qwen2.5-0.5B: hidden 896, 24 layers, 14 heads of 64, 2 KV heads, MLP 4864, V 151936, tied embeddings.
    "qwen2.5-0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                         num_key_value_heads=2, vocab_size=151936, sequence=1024, prompt=256),
    "tiny": dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                 num_key_value_heads=2, vocab_size=512, sequence=64, prompt=16),
}


def make_model(folder, shape):
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM
    torch.manual_seed(1)
    config = Qwen2Config(hidden_size=shape["hidden_size"], intermediate_size=shape["intermediate_size"],
                         num_hidden_layers=shape["num_hidden_layers"],
                         num_attention_heads=shape["num_attention_heads"],
                         num_key_value_heads=shape["num_key_value_heads"], vocab_size=shape["vocab_size"],
                         max_position_embeddings=32768, rope_theta=1e6, tie_word_embeddings=True,
                         eos_token_id=256, bos_token_id=256, pad_token_id=256)
    Qwen2ForCausalLM(config).to(torch.bfloat16).save_pretrained(folder)


def make_pairs(path, count, shape):
    """Printable ASCII, one byte one token: prompt + response + EOS = the shape's sequence length."""
    rng = random.Random(7)
    text = lambda n: "".join(chr(rng.randint(97, 122)) if rng.random() > 0.15 else " " for _ in range(n))
    response = shape["sequence"] - shape["prompt"] - 1
    with open(path, "w") as out:
        for i in range(count):
            out.write(json.dumps({"prompt": text(shape["prompt"]), "chosen": text(response),
                                  "rejected": text(response)}) + "\n")


def run(name, command, out, memory):
    """Runs to the end; the peak GPU memory nvidia-smi reports for the run's processes, in MiB (None without it)."""
    sampler = None
    if memory:
        sampler = subprocess.Popen(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits",
                                    "-lms", "100"], stdout=open(out / f"{name}.gpu-memory", "w"),
                                   stderr=subprocess.DEVNULL)
    started = time.perf_counter()
    with open(out / f"{name}.log", "w") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT).returncode
    wall = time.perf_counter() - started
    if sampler:
        sampler.terminate()
        sampler.wait()
    if status != 0:
        sys.exit(f"{name} failed ({status}); see {out / (name + '.log')}")
    peak = None
    if memory:
        used = [int(line.split(",")[1]) for line in (out / f"{name}.gpu-memory").read_text().splitlines()
                if "," in line and line.split(",")[1].strip().isdigit()]
        peak = max(used) if used else None
    return wall, peak


def main():
    out = Path(sys.argv[1]).resolve()
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    shape_name = sys.argv[3] if len(sys.argv) > 3 else "qwen2.5-0.5b"
    device = sys.argv[4] if len(sys.argv) > 4 else "cuda"
    shape = SHAPES[shape_name]
    out.mkdir(parents=True, exist_ok=True)
    model = out / f"model-{shape_name}"
    if not model.exists():
        make_model(model, shape)
        make_tokenizer(model)
    data = out / "pairs.jsonl"
    make_pairs(data, steps * PAIRS, shape)
    cuda = device == "cuda"
    rows = []
    wall, peak = run("trl", [sys.executable, str(HERE / "trl_dpo.py"), str(model), str(data), str(steps), str(PAIRS),
                             "4", "precomputed", str(out / "trl-out"), device], out, cuda)
    trl = json.loads((out / "trl.log").read_text().strip().splitlines()[-1])
    rows.append(("trl-precomputed", trl["step_seconds"], sum(trl["tokens"]) / len(trl["tokens"]), peak, wall,
                 trl.get("peak_allocated_mb")))
    grpo4j = ["ci/gpu-kit.sh", "grpo4j", "train", "--model", str(model), "--train", str(data), "--method", "dpo",
              "--steps", str(steps), "--batch-size", str(PAIRS), "--lr", "1e-4", "--append-eos", "--no-progress",
              "--max-prompt-tokens", str(shape["prompt"]), "--max-length", str(shape["sequence"]),
              "--device", device, "--dtype", "bfloat16" if cuda else "float32", "--threads", "4",
              "--reference-cache", str(out / "reference-cache"), "--out", str(out / "grpo4j-out")]
    subprocess.run(["rm", "-rf", str(out / "grpo4j-out")])
    wall, peak = run("grpo4j", grpo4j, out, cuda)
    metrics = [json.loads(line) for line in (out / "grpo4j-out" / "metrics.jsonl").read_text().splitlines()]
    rows.append(("grpo4j-fused", [m["step_seconds"] for m in metrics],
                 statistics.mean(m["tokens_per_second"] * m["step_seconds"] for m in metrics), peak, wall, None))
    print(f"| system | s/step (median after {WARMUP}) | tokens/step | peak GPU MiB (nvidia-smi) | TRL allocated MiB "
          "| wall s |")
    print("|:--|--:|--:|--:|--:|--:|")
    for name, seconds, tokens, peak, wall, allocated in rows:
        median = statistics.median(seconds[WARMUP:]) if len(seconds) > WARMUP else statistics.median(seconds)
        summary = {"system": name, "shape": shape_name, "device": device, "s_per_step": median,
                   "step_seconds": seconds, "tokens_per_step": tokens, "peak_gpu_mib": peak,
                   "peak_allocated_mb": allocated, "wall_s": wall}
        (out / f"{name}.summary.json").write_text(json.dumps(summary))
        print(f"| {name} | {median:.3f} | {tokens if tokens is None else round(tokens)} | {peak} | "
              f"{allocated if allocated is None else round(allocated)} | {wall:.0f} |")


if __name__ == "__main__":
    main()

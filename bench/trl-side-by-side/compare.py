"""grpo4j train against TRL's DPOTrainer on the same random Llama checkpoint, tokenizer and pairs (issue 22).

For each vocabulary: writes the checkpoint (bench/data-parallel/MakeModel.java, grpo4j's writer, which
transformers loads as it is), a byte-level tokenizer.json both sides read, and STEPS x PAIRS pairs (one epoch);
then runs, in fresh processes and in turns, TRL with a precomputed reference, TRL as it comes (reference model
forward every step), grpo4j with the fused head, grpo4j with whole logits, grpo4j with the fused head as 2
data-parallel processes of one thread each, and grpo4j with the fused head on OpenBLAS instead of MKL: quiet, then
beside one busy process (a Python spin loop). Each run's
steps after the first WARMUP give its median s/step and its worst step; the table takes the best of the rounds'
medians, tokens/s is the epoch's non-pad tokens per step over it, and peak RSS is the run's (see run()), the
largest of the rounds.

Usage (run.sh sets it up): python compare.py JAR WORK VOCABS ROUNDS STEPS PAIRS THREADS CONDITIONS
  VOCABS: comma-separated, of 4000, 32000, 151936; CONDITIONS: quiet,busy (or one of them)
  GRPO4J_BENCH_SYSTEMS (environment): comma-separated, a subset of SYSTEMS below; default all of them
"""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

HERE = Path(__file__).resolve().parent
WARMUP = 2
# hidden size and layers per vocabulary: the two models, and Qwen2.5-0.5B's head width for its vocabulary.
SHAPES = {4000: (256, 4), 32000: (512, 2), 151936: (896, 2)}
SYSTEMS = ["trl-precomputed", "trl-default", "grpo4j-fused", "grpo4j-whole", "grpo4j-fused-2proc",
           "grpo4j-fused-openblas"]


def make_tokenizer(model_dir):
    """Bytes as tokens (byte-level BPE without merges) and </s> as end of sequence: ids 0..256, in every vocab."""
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokenizer = Tokenizer(models.BPE(vocab={c: i for i, c in enumerate(alphabet)}, merges=[]))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens(["</s>"])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, eos_token="</s>", pad_token="</s>")
    fast.save_pretrained(model_dir)
    return fast


def make_pairs(path, count):
    subprocess.run([sys.executable, str(HERE.parent / "data-parallel" / "make_pairs.py"), str(path)], check=True)
    lines = path.read_text().splitlines()[:count]
    path.write_text("\n".join(lines) + "\n")
    return [json.loads(line) for line in lines]


def tree_rss_mb(root):
    """Resident memory of a process and all its descendants, in MB (0 once it is gone)."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            pass
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def run(command, busy, log):
    """Runs a command to its end; its peak resident memory in MB: the largest sum over its process tree, sampled
    every 0.2 s, or the kernel's peak of its largest process if that is higher (a single process's exact peak)."""
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    # Each side in the environment it is used in: no thread settings from outside (grpo4j makes libtorch's OpenMP
    # threads sleep itself; PyTorch's OpenMP default spins a while).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "OPENBLAS_", "MKL_"))}
    peak = 0.0
    try:
        with open(log, "w") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
            while True:
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    break
                peak = max(peak, tree_rss_mb(process.pid))
                time.sleep(0.2)
    finally:
        if spinner:
            spinner.kill()
            spinner.wait()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(map(str, command))}; see {log}")
    return max(peak, usage.ru_maxrss / 1024)


def main():
    jar, work, vocabs, rounds, steps, pairs, threads, conditions = sys.argv[1:9]
    work, steps, pairs, rounds = Path(work), int(steps), int(pairs), int(rounds)
    java = [os.path.join(os.environ["JAVA_HOME"], "bin", "java"), "--enable-native-access=ALL-UNNAMED"]
    systems = os.environ.get("GRPO4J_BENCH_SYSTEMS", ",".join(SYSTEMS)).split(",")
    unknown = sorted(set(systems) - set(SYSTEMS))
    if unknown:
        sys.exit(f"GRPO4J_BENCH_SYSTEMS: unknown {unknown}; choose from {SYSTEMS}")
    results = []
    for vocab in map(int, vocabs.split(",")):
        hidden, layers = SHAPES[vocab]
        model = work / f"llama-{hidden}x{layers}-v{vocab}"
        if not model.exists():
            subprocess.run(java + ["-cp", jar, str(HERE.parent / "data-parallel" / "MakeModel.java"), str(model),
                                   str(hidden), str(layers), str(vocab)], check=True)
        tokenizer = make_tokenizer(model)
        data = work / "pairs.jsonl"
        records = make_pairs(data, steps * pairs)
        # The epoch's non-pad tokens (prompt + response + </s>, both responses) per step, on both sides.
        tokens = sum(len(tokenizer(r["prompt"] + r[side])["input_ids"]) + 1 for r in records
                     for side in ("chosen", "rejected")) / steps
        commands = {
            f"trl-{mode}": [sys.executable, str(HERE / "trl_dpo.py"), str(model), str(data), str(steps), str(pairs),
                            threads, mode, str(work / "trl-out")] for mode in ("precomputed", "default")}
        for head in ("fused", "whole"):
            commands[f"grpo4j-{head}"] = java + [
                "-jar", jar, "train", "--model", str(model), "--train", str(data), "--method", "dpo",
                "--steps", str(steps), "--batch-size", str(pairs), "--lr", "1e-4", "--threads", threads,
                "--append-eos", "--no-progress", "--fused-head", "on" if head == "fused" else "off",
                "--reference-cache", str(work / "reference-cache"), "--out", str(work / "grpo4j-out")]
        # The same cores as data-parallel processes of one thread each (bench/README.md: "Steady on a busy machine").
        commands["grpo4j-fused-2proc"] = commands["grpo4j-fused"] + ["--nproc-per-node", "2"]
        # bytedeco's own BLAS, whose threads spin beside libtorch's (bench/README.md: "Steady on a busy machine").
        jar_at = commands["grpo4j-fused"].index("-jar")
        commands["grpo4j-fused-openblas"] = (commands["grpo4j-fused"][:jar_at] + ["-Dgrpo4j.blas=openblas"]
                                             + commands["grpo4j-fused"][jar_at:])
        for condition in conditions.split(","):
            for round_ in range(rounds):
                for system in systems:
                    log = work / f"{system}-v{vocab}-{condition}-{round_}.log"
                    for out in ("grpo4j-out", "trl-out"):
                        shutil.rmtree(work / out, ignore_errors=True)
                    started = time.perf_counter()
                    command = commands[system]
                    if system.endswith("2proc"):
                        command = command + ["--master-port", str(random.randint(20000, 60000))]
                    rss = run(command, condition == "busy", log)
                    wall = time.perf_counter() - started
                    if system.startswith("trl"):
                        seconds = json.loads(log.read_text().strip().splitlines()[-1])["step_seconds"]
                    else:
                        seconds = [json.loads(line)["step_seconds"]
                                   for line in (work / "grpo4j-out" / "metrics.jsonl").read_text().splitlines()]
                    measured = seconds[WARMUP:]
                    median = statistics.median(measured)
                    row = {"vocab": vocab, "hidden": hidden, "layers": layers, "condition": condition,
                           "round": round_, "system": system, "s_per_step": median,
                           "worst_over_median": max(measured) / median, "tokens_per_step": tokens,
                           "peak_rss_mb": rss, "wall_s": wall, "step_seconds": seconds}
                    results.append(row)
                    print(json.dumps(row), flush=True)
    summarise(results)


def summarise(results):
    print()
    print("| vocab (hidden x layers) | condition | system | s/step | tokens/s | worst step / median | peak RSS MB "
          "| vs TRL precomputed |")
    print("|:--|:--|:--|--:|--:|--:|--:|--:|")
    keys = sorted({(r["vocab"], r["condition"]) for r in results}, key=lambda k: (k[0], k[1] != "quiet"))
    for vocab, condition in keys:
        rows = [r for r in results if r["vocab"] == vocab and r["condition"] == condition]
        per = {s: [r for r in rows if r["system"] == s] for s in SYSTEMS}
        best = {s: min(x["s_per_step"] for x in per[s]) for s in SYSTEMS if per[s]}
        for s in SYSTEMS:
            if not per[s]:
                continue
            r = per[s][0]
            rss = max(x["peak_rss_mb"] for x in per[s])
            trl_rss = max(x["peak_rss_mb"] for x in per["trl-precomputed"])
            worst = max(x["worst_over_median"] for x in per[s])
            print(f"| {vocab} ({r['hidden']}x{r['layers']}) | {condition} | {s} | {best[s]:.2f} "
                  f"| {r['tokens_per_step'] / best[s]:.0f} | {worst:.2f} | {rss:.0f} "
                  f"| x{best['trl-precomputed'] / best[s]:.2f} speed, x{rss / trl_rss:.2f} RSS |")
    slow = {}
    for r in results:
        slow.setdefault((r["vocab"], r["system"]), {}).setdefault(r["condition"], []).append(r["s_per_step"])
    print()
    for (vocab, system), by in sorted(slow.items()):
        if "quiet" in by and "busy" in by:
            print(f"V {vocab} {system}: busy/quiet slowdown x{min(by['busy']) / min(by['quiet']):.2f}")


if __name__ == "__main__":
    main()

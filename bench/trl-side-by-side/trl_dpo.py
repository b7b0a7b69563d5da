"""One TRL DPOTrainer run for the side-by-side benchmark: trains MODEL on DATA (prompt/chosen/rejected JSON Lines)
for STEPS steps of PAIRS pairs, fp32 on the CPU with THREADS threads (or bf16 on CUDA), and prints one JSON line:
each step's wall seconds (from the trainer's step-begin to its step-end callback: forward, backward and the
optimizer; on CUDA the device is synchronised at both ends), non-pad tokens, and on CUDA the peak of allocated GPU
memory.  Usage: python trl_dpo.py MODEL DATA STEPS PAIRS THREADS precomputed|default OUT_DIR [cpu|cuda]"""
import json
import sys
import time

import torch
from datasets import load_dataset
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl import DPOConfig, DPOTrainer

model_dir, data, steps, pairs, threads, reference, out = sys.argv[1:8]
cuda = len(sys.argv) > 8 and sys.argv[8] == "cuda"
torch.set_num_threads(int(threads))
seconds, tokens = [], []


class StepClock(TrainerCallback):
    def on_step_begin(self, args, state, control, **kwargs):
        if cuda:
            torch.cuda.synchronize()
        self.start = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if cuda:
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - self.start)


class CountingDPOTrainer(DPOTrainer):
    def training_step(self, model, inputs, *args, **kwargs):
        tokens.append(int(inputs["attention_mask"].sum()))
        return super().training_step(model, inputs, *args, **kwargs)


config = DPOConfig(output_dir=out, per_device_train_batch_size=int(pairs), max_steps=int(steps), learning_rate=1e-4,
                   beta=0.1, bf16=cuda, fp16=False, use_cpu=not cuda, logging_steps=1, save_strategy="no",
                   report_to="none", precompute_ref_log_probs=reference == "precomputed", max_length=None,
                   lr_scheduler_type="constant", dataloader_num_workers=0, disable_tqdm=True, seed=1)
trainer = CountingDPOTrainer(model=AutoModelForCausalLM.from_pretrained(model_dir,
                                                                        dtype=torch.bfloat16 if cuda else torch.float32),
                             args=config, train_dataset=load_dataset("json", data_files=data, split="train"),
                             processing_class=AutoTokenizer.from_pretrained(model_dir),
                             callbacks=[StepClock()])
trainer.train()
result = {"step_seconds": seconds, "tokens": tokens}
if cuda:
    result["peak_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
print(json.dumps(result))

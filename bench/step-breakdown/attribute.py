"""Where a training step's time goes: attributes the main thread's JFR samples (jdk.NativeMethodSample and
jdk.ExecutionSample, from `jfr print --json`) of the training steps to the parts of the step. The main thread sits in
the JNI call while libtorch's and OpenBLAS's threads compute, so its samples measure wall-clock time per part.
Reference scoring and evaluation are left out.  Usage: python3 attribute.py samples.json"""
import json, sys, collections
data = json.load(open(sys.argv[1]))
c = collections.Counter(); total = 0
for e in data["recording"]["events"]:
    v = e["values"]; st = v.get("stackTrace")
    if not st or (v.get("sampledThread") or {}).get("javaName") != "main": continue
    fr = [(f["method"]["type"]["name"].replace("/", ".") + "." + f["method"]["name"], f.get("lineNumber"))
          for f in st["frames"]]
    ms = [m for m, _ in fr]
    s = " ".join(ms)
    in_step = "PreferenceTrainer.accumulate" in s or ("TrainingRun.run" in s and (
        "Optimizer.step" in s or "AdamW.step" in s or "clip_grad_norm" in s or "allReduce" in s))
    if not in_step or "SequenceScorer" in s or "evaluate" in s: continue
    total += 1
    if "Optimizer.step" in s or "AdamW.step" in s: k = "optimizer (AdamW step)"
    elif "clip_grad_norm" in s: k = "gradient clipping"
    elif "TransformerLm.hiddenStates" in s and "FusedLmHead" not in s: k = "body forward"
    elif "TokenPasses" in s or "GroupRobustLoss" in s: k = "fused loss kernels (token passes, group step)"
    elif "FusedLmHead.backward" in s:
        # What FusedLmHead.backward was calling: the frame just inside it.
        i = next(i for i, m in enumerate(ms) if m.endswith("FusedLmHead.backward"))
        callee = ms[i - 1] if i > 0 else ""
        if callee.endswith("global.torch.backward"):
            k = "body backward (autograd from dX)"
        elif callee.endswith("Tensor.mm"):
            k = "head: dX = g W"
        elif "addProduct" in callee or "addmm_" in callee:
            k = "head: dW += g^T X"
        elif callee.endswith("FusedLmHead.logits"):
            k = "head: logits recomputed (pass 2)"
        else:
            k = "head backward other (" + callee.split(".")[-1] + ")"
    elif "FusedLmHead.logits" in s: k = "head: logits (pass 1)"
    elif "FusedLmHead" in s: k = "head: other (" + next(m for m in ms if "FusedLmHead" in m).split(".")[-1] + ")"
    else: k = "other: " + next((m for m in ms if m.startswith("dev.grpo4j")), ms[0])
    c[k] += 1
for k, n in c.most_common(20): print(f"{n:6d} {100*n/total:5.1f}%  {k}")
print("samples", total)

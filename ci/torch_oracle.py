#!/usr/bin/env python3
"""Independent PyTorch oracle for grpo4j's CUDA backend.

Reads the cases that `test_cuda_vs_reference --dump DIR` wrote (inputs, the CUDA backend's outputs, and a
manifest.json), recomputes the whole GR-DPO / GR-IPO step in float64 with plain torch ops -- log_softmax,
gather, logsigmoid, index_add for the group sums, logsumexp for the weight update -- takes the gradient
with autograd, and compares. Nothing here shares code with grpo4j, so it checks the formulas as well as
the kernels.

    python3 ci/torch_oracle.py DIR        exit 0 when every case matches, 1 otherwise
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

FLOAT_TYPES = {"f32": torch.float32, "bf16": torch.bfloat16, "f16": torch.float16}
LABEL_TYPES = {"i32": torch.int32, "i64": torch.int64}
# Relative tolerance of the gradient (against the exact one rounded to the logits type): fp32 arithmetic, and
# a rounding that may land one unit in the last place away.
GRAD_TOL = {"f32": 1e-5, "bf16": 1e-2, "f16": 2e-3}
# Values are computed from the same input numbers in fp32 with double row sums.
VALUE_TOL = 2e-5
DPO, IPO = 0, 1
ROBUST, IMPORTANCE_SAMPLING, AVERAGE = 0, 1, 2
BATCH_MEAN, DATASET_FREQUENCY = 0, 1


def load(directory, case, name, dtype, device):
    with open(os.path.join(directory, f"{case}.{name}.bin"), "rb") as f:
        data = bytearray(f.read())
    return torch.frombuffer(data, dtype=dtype).clone().to(device)


def oracle(c, o, inputs, train):
    """Returns the expected outputs of one case as a dict of float64 tensors."""
    B, T, V, K = c["pairs"], c["seq_len"], c["vocab"], c["groups"]
    beta, eps, eta, chi, adj = o["beta"], o["label_smoothing"], o["eta"], o["chi"], o["adjustment"]
    z = inputs["logits"].to(torch.float64).reshape(2 * B, T, V).requires_grad_(True)
    labels = inputs["labels"].to(torch.int64).reshape(2 * B, T)
    ref = inputs["ref_logps"].to(torch.float64)
    gid = inputs["group_ids"].to(torch.int64)
    sizes = inputs["group_sizes"].to(torch.float64)
    log_alpha = inputs["log_alpha_in"]

    mask = labels != -100
    picked = torch.log_softmax(z, dim=-1).gather(-1, torch.where(mask, labels, 0).unsqueeze(-1)).squeeze(-1)
    s = torch.where(mask, picked, torch.zeros_like(picked)).sum(-1)
    n = mask.sum(-1).to(torch.float64)
    sw, sl = s[:B], s[B:]
    rw, rl = sw - ref[:B], sl - ref[B:]
    h = rw - rl
    if o["loss_type"] == IPO:
        nw = n[:B].clamp(min=1) if o["ipo_length_norm"] else torch.ones_like(rw)
        nl = n[B:].clamp(min=1) if o["ipo_length_norm"] else torch.ones_like(rl)
        pair_loss = (rw / nw - rl / nl - 1.0 / (2.0 * beta)) ** 2
    else:
        pair_loss = -(1 - eps) * F.logsigmoid(beta * h) - eps * F.logsigmoid(-beta * h)

    zeros_k = torch.zeros(K, dtype=torch.float64, device=z.device)
    count = zeros_k.index_add(0, gid, torch.ones_like(pair_loss))
    present = count > 0
    if o["group_norm"] == DATASET_FREQUENCY:
        norm = torch.where(present, sizes.sum() / (sizes * B), zeros_k)
    else:
        norm = torch.where(present, 1.0 / count.clamp(min=1), zeros_k)
    group_loss = norm * zeros_k.index_add(0, gid, pair_loss)
    adjusted = group_loss + (adj / torch.sqrt(sizes) if adj != 0 else 0.0)

    log_alpha_out = log_alpha.clone()
    if o["weighting"] == ROBUST:
        if train:
            log_alpha_out = log_alpha + eta * adjusted.detach()
            log_alpha_out = log_alpha_out - torch.logsumexp(log_alpha_out, 0)
        weight = (1 - chi) / K + chi * torch.exp(log_alpha_out)
    elif o["weighting"] == IMPORTANCE_SAMPLING:
        weight = (1.0 / sizes) / (1.0 / sizes).sum()
    else:
        weight = count / B
    objective = pair_loss.mean() if o["weighting"] == AVERAGE else (weight.detach() * adjusted).sum()
    objective.backward()

    def group_mean(x):
        return zeros_k.index_add(0, gid, x.detach().to(torch.float64)) / count.clamp(min=1)

    with torch.no_grad():
        return {
            "loss": objective.detach().reshape(1),
            "pair_loss": pair_loss.detach(),
            "pair_margin": h.detach(),
            "pair_chosen_reward": beta * rw.detach(),
            "pair_rejected_reward": beta * rl.detach(),
            "pair_chosen_logp": sw.detach(),
            "pair_rejected_logp": sl.detach(),
            "group_loss": group_loss.detach(),
            "group_weight": weight.detach(),
            "group_reward_accuracy": group_mean(h > 0),
            "group_logp_accuracy": group_mean(sw > sl),
            "group_chosen_reward": group_mean(beta * rw),
            "group_rejected_reward": group_mean(beta * rl),
            "group_margin": group_mean(h),
            "group_count": count,
            "log_alpha": log_alpha_out.detach(),
            "grad": z.grad.reshape(-1),
        }


def relative_error(got, want):
    """max |got - want| / max(max |want|, 1e-6); inf when anything is not finite."""
    got, want = got.to(torch.float64), want.to(torch.float64)
    if not bool(torch.isfinite(got).all()) or not bool(torch.isfinite(want).all()):
        return math.inf
    scale = max(float(want.abs().max()) if want.numel() else 0.0, 1e-6)
    return float((got - want).abs().max()) / scale if want.numel() else 0.0


def check_case(directory, c, device):
    name = c["name"]
    ft = c["logits_type"]
    o = c["options"]

    def get(key, dtype):
        return load(directory, name, key, dtype, device)

    inputs = {
        "logits": get("logits", FLOAT_TYPES[ft]),
        "labels": get("labels", LABEL_TYPES[c["label_type"]]),
        "ref_logps": get("ref_logps", torch.float32),
        "group_ids": get("group_ids", torch.int32),
        "group_sizes": get("group_sizes", torch.int64),
        "log_alpha_in": get("log_alpha_in", torch.float64),
    }
    want = oracle(c, o, inputs, c["train"])
    got = {key: get(key, torch.float32) for key in want if key not in ("group_count", "log_alpha", "grad")}
    got["group_count"] = get("group_count", torch.int32)
    got["log_alpha"] = get("log_alpha_out", torch.float64)
    got["grad"] = get("grad", FLOAT_TYPES[ft])
    flags = int(get("flags", torch.int32)[0])

    errors = {key: relative_error(got[key], want[key]) for key in want if key != "grad"}
    # Against the exact gradient rounded to the logits type: what a perfect kernel would return. Without the
    # rounding, f16's subnormal range (|g| < 6.1e-5, where softmax terms times small coefficients land)
    # alone gives errors of ~1e-2.
    rounded = want["grad"].to(FLOAT_TYPES[ft]).to(torch.float64)
    grad_diff = got["grad"].to(torch.float64) - rounded
    grad_norm = float(want["grad"].norm())
    grad_error = float(grad_diff.norm()) / max(grad_norm, 1e-30) if bool(torch.isfinite(got["grad"]).all()) else math.inf
    worst_key = max(errors, key=errors.get)
    failures = [f"{k} {e:.2e}" for k, e in errors.items() if not e <= VALUE_TOL]
    if not grad_error <= GRAD_TOL[ft]:
        failures.append(f"grad {grad_error:.2e}")
    if flags != 0:
        failures.append(f"flags {flags}")
    for f in failures:
        print(f"  MISMATCH {name}: {f}", file=sys.stderr)
    return {
        "name": name,
        "dtype": ft,
        "shape": f"{c['pairs']}x2x{c['seq_len']}x{c['vocab']} K={c['groups']}",
        "worst_value": f"{worst_key} {errors[worst_key]:.1e}",
        "grad_error": grad_error,
        "grad_tol": GRAD_TOL[ft],
        "ok": not failures,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("directory", help="folder written by test_cuda_vs_reference --dump")
    args = parser.parse_args()
    with open(os.path.join(args.directory, "manifest.json")) as f:
        manifest = json.load(f)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"torch {torch.__version__} on {device}, float64")
    rows = [check_case(args.directory, c, device) for c in manifest["cases"]]
    print(f"\n{'case':<32} {'dtype':<5} {'shape':<24} {'worst value rel err':<34} {'grad rel err':>12} {'tol':>8}  result")
    for r in rows:
        print(f"{r['name']:<32} {r['dtype']:<5} {r['shape']:<24} {r['worst_value']:<34} {r['grad_error']:>12.2e} "
              f"{r['grad_tol']:>8.0e}  {'ok' if r['ok'] else 'FAIL'}")
    passed = sum(r["ok"] for r in rows)
    print(f"torch oracle: {passed} passed, {len(rows) - passed} failed (values tol {VALUE_TOL:.0e})")
    return 0 if passed == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())

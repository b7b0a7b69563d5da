"""Goldens for every preference loss, computed by TRL 1.13 itself, for LossTableGoldenTest: in float64, except
the alpha divergence, which TRL computes in float16, bfloat16 or float32 only (float32 here; column dtype).

DPO losses go through DPOTrainer._compute_loss, the trainer's own loss code, on a stand-in model whose per-token
log-probs are leaf tensors (logits [L, log(1 - e^L)] give log_softmax[0] = L exactly, with dL = 1); SimPO through
CPOTrainer.cpo_loss. Each pair is scored alone ("pair" rows: its loss and dl/ds_w, dl/ds_l) and all pairs as one
batch ("batch" rows: the batch loss and each row's derivative of it). Every loss TRL's DPOConfig lists is covered;
which losses read label smoothing, tau or the f-divergence is not assumed here: every combination is written, and
the test uses the ones its loss reads. Zero-length responses have no tokens to differentiate: their derivative is
written as 0.

  python -m venv /tmp/trl && /tmp/trl/bin/pip install --index-url file:///opt/pypi/simple trl==1.13.* torch
  /tmp/trl/bin/python trl_loss_goldens.py > trl_loss_goldens.tsv
"""
import collections
import itertools
import re
import sys
import types

import torch
import trl
from trl.experimental.cpo.cpo_trainer import CPOTrainer
from trl.trainer.dpo_config import DPOConfig
from trl.trainer.dpo_trainer import DPOTrainer

# s_w, s_l, ref_w, ref_l, n_w, n_l: ordinary, margins of +50 and -50, a tie, zero-length chosen and rejected,
# long responses, large log-ratios, tiny values.
PAIRS = [
    (-12.3, -15.1, -13.0, -14.2, 7, 9),
    (-10.0, -60.0, -10.0, -10.0, 5, 12),
    (-60.0, -10.0, -10.0, -10.0, 12, 5),
    (-20.0, -20.0, -18.0, -18.0, 6, 6),
    (0.0, -7.5, 0.0, -6.0, 0, 4),
    (-3.3, 0.0, -4.1, 0.0, 3, 0),
    (-250.0, -240.0, -245.0, -238.0, 200, 180),
    (-1.0, -2.0, -40.0, -30.0, 2, 3),
    (-0.5, -0.7, -0.6, -0.65, 1, 1),
]
BETAS = [0.1, 1.0]
SMOOTHINGS = [0.0, 1e-3, 0.49]
F_DIVERGENCES = [("reverse_kl", 0.5), ("forward_kl", 0.5), ("js_divergence", 0.5), ("alpha_divergence", 0.5),
                 ("alpha_divergence", 2.0)]
TAUS = [0.05, 0.5]
MIXTURES = [("sigmoid,sft", [1.0, 0.2]), ("hinge,ipo,apo_zero", [0.5, 1.0, 2.0]), ("aot,bco_pair", [1.0, 1.0])]
GAMMAS = [0.5, 1.4]


def dpo_loss_types():
    help_text = DPOConfig.__dataclass_fields__["loss_type"].metadata["help"]
    return re.findall(r"`'([a-z_]+)'`", help_text)


def fake_dpo_trainer(losses, weights, beta, eps, fdiv, alpha, tau):
    accelerator = types.SimpleNamespace(device=torch.device("cpu"), gather_for_metrics=lambda t: t.reshape(-1),
                                        gather=lambda t: t.reshape(-1))
    return types.SimpleNamespace(
        model=types.SimpleNamespace(training=True), accelerator=accelerator, ld_alpha=None,
        precompute_ref_logps=True, f_divergence_type=fdiv, f_alpha_divergence_coef=alpha, loss_types=losses,
        loss_weights=weights, beta=beta, label_smoothing=eps, args=types.SimpleNamespace(discopop_tau=tau),
        use_weighting=False, aux_loss_enabled=False, _tp_size=1, _total_train_tokens=0,
        _metrics=collections.defaultdict(lambda: collections.defaultdict(list)))


def dpo_call(pairs, losses, weights, beta, eps, fdiv, alpha, tau):
    """TRL's loss on `pairs` as one batch and d loss / d s of every row (chosen rows, then rejected rows)."""
    b = len(pairs)
    rows = [(p[0], p[4]) for p in pairs] + [(p[1], p[5]) for p in pairs]
    t = max(n for _, n in rows) + 2
    per_token = torch.full((2 * b, t - 1), -1.0)
    completion = torch.zeros(2 * b, t, dtype=torch.long)
    for r, (s, n) in enumerate(rows):
        if n > 0:
            per_token[r, :n] = s / n
            completion[r, 1:n + 1] = 1
    per_token.requires_grad_(True)

    def model(input_ids, attention_mask, use_cache):
        other = torch.log(-torch.expm1(per_token))
        logits = torch.stack([per_token, other], dim=-1)
        logits = torch.cat([logits, torch.zeros(2 * b, 1, 2)], dim=1)
        return types.SimpleNamespace(logits=logits)

    inputs = {"input_ids": torch.zeros(2 * b, t, dtype=torch.long), "attention_mask": torch.ones(2 * b, t),
              "completion_mask": completion,
              "ref_chosen_logps": torch.tensor([p[2] for p in pairs]),
              "ref_rejected_logps": torch.tensor([p[3] for p in pairs])}
    trainer = fake_dpo_trainer(losses, weights, beta, eps, fdiv, alpha, tau)
    loss = DPOTrainer._compute_loss(trainer, model, inputs, False)
    loss.backward()
    grads = [per_token.grad[r, 0].item() if n > 0 else 0.0 for r, (_, n) in enumerate(rows)]
    return loss.item(), grads


def simpo_call(pairs, beta, eps, gamma):
    mean_w = torch.tensor([p[0] / max(p[4], 1) for p in pairs], requires_grad=True)
    mean_l = torch.tensor([p[1] / max(p[5], 1) for p in pairs], requires_grad=True)
    trainer = types.SimpleNamespace(alpha=0.0, loss_type="simpo", simpo_gamma=gamma, beta=beta, label_smoothing=eps,
                                    accelerator=types.SimpleNamespace(device=torch.device("cpu")))
    losses, _, _ = CPOTrainer.cpo_loss(trainer, mean_w, mean_l)
    loss = losses.mean()
    loss.backward()
    grads = [mean_w.grad[i].item() / max(p[4], 1) if p[4] > 0 else 0.0 for i, p in enumerate(pairs)]
    grads += [mean_l.grad[i].item() / max(p[5], 1) if p[5] > 0 else 0.0 for i, p in enumerate(pairs)]
    return loss.item(), grads


def emit(out, losses, weights, beta, eps, fdiv, alpha, tau, gamma, call):
    dtype = torch.float32 if fdiv == "alpha_divergence" else torch.float64
    torch.set_default_dtype(dtype)
    settings = [str(dtype).removeprefix("torch."), losses, ",".join(repr(w) for w in weights), beta, eps, fdiv,
                alpha, tau, gamma]
    b = len(PAIRS)
    for i, pair in enumerate(PAIRS):
        loss, grads = call([pair])
        out.append(["pair", *settings, i, *pair, loss, grads[0], grads[1]])
    loss, grads = call(PAIRS)
    for i, pair in enumerate(PAIRS):
        out.append(["batch", *settings, i, *pair, loss, grads[i], grads[b + i]])


def main():
    out = []
    names = dpo_loss_types()
    terms = [(name, [1.0]) for name in names] + [(m, w) for m, w in MIXTURES]
    for (losses, weights), beta, eps, (fdiv, alpha), tau in itertools.product(terms, BETAS, SMOOTHINGS,
                                                                               F_DIVERGENCES, TAUS):
        if "exo_pair" in losses.split(",") and eps == 0.0:
            continue  # TRL refuses it: log(0)
        emit(out, losses, weights, beta, eps, fdiv, alpha, tau, 0.0,
             lambda pairs: dpo_call(pairs, losses.split(","), weights, beta, eps, fdiv, alpha, tau))
    for beta, eps, gamma in itertools.product(BETAS, SMOOTHINGS, GAMMAS):
        emit(out, "simpo", [1.0], beta, eps, "reverse_kl", 0.5, 0.05, gamma,
             lambda pairs: simpo_call(pairs, beta, eps, gamma))
    print(f"# TRL {trl.__version__}, torch {torch.__version__}: java/core/src/test/resources/dev/grpo4j/"
          "trl_loss_goldens.py")
    print("\t".join(["kind", "dtype", "loss", "weights", "beta", "eps", "fdiv", "alpha", "tau", "gamma", "pair", "sw",
                     "sl", "refw", "refl", "nw", "nl", "value", "dsw", "dsl"]))
    for row in out:
        print("\t".join(repr(v) if isinstance(v, float) else str(v) for v in row))


if __name__ == "__main__":
    sys.exit(main())

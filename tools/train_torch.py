#!/usr/bin/env python3
"""PyTorch + peft (+ AdapterHub's `adapters`) training on GLUE-format data, the reference that
peftgrid's training loop is checked against.

The loop is transformers' `Trainer` recipe written out, so that every step can be replayed:
AdamW (`torch.optim.AdamW`) in Trainer's two groups (no decay on biases and LayerNorm weights),
`get_linear_schedule_with_warmup` with ceil(warmup_ratio x updates) warm-up steps,
`clip_grad_norm_` over the trained tensors, random batches each epoch with the last one kept
(`DataLoader(shuffle=True)`), each padded to its longest, mean cross-entropy. The model is a
BERT body with a new classification head (the data's classes) on the mean of the last hidden states (dropout =
hidden_dropout_prob before it, weights normal(0, initializer_range), bias 0), as peftgrid's
`head_pooling = "mean"`.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch transformers peft adapters
    # Step for step: writes init.safetensors (the trainable tensors, by peftgrid module path),
    # order.json (the batches), reference.json (per-step losses) and final.safetensors.
    train_torch.py parity --backbone DIR --data DIR --method lora:2 --out DIR
    # Real data: dev accuracy of methods x seeds, for `peftgrid compare-torch`.
    train_torch.py glue --backbone models/all-MiniLM-L6-v2 --data datasets/samples/glue/SST-2 \\
        --methods linear_probe,full,lora:8 --seeds 0,1,2 --out torch.json

Method arguments are peftgrid's presets; each maps to what its reference library builds:
  full, linear_probe, bitfit   requires_grad by hand
  lora:R                       peft LoraConfig(r=R, lora_alpha=16, query/value)
  prefix:L                     peft PrefixTuningConfig(L tokens, MLP 512 reparameterisation)
  prefix_flat:L                the same without the MLP (peftgrid: a prefix spec without reparam)
  ia3                          peft IA3Config(key, value, FFN output input-side)
  parallel:R                   adapters ParBnConfig(bottleneck R, relu, scaling 1: He et al.'s PA)
"""

import argparse
import json
import math
import os
import re
import statistics
import sys
import time

import numpy as np
import torch
from torch import nn


def parse_method(method):
    name, _, b = method.partition(":")
    return name, (int(b) if b else None)


# ---- the model ----------------------------------------------------------------------------


class Classifier(nn.Module):
    """A BERT body and a new head on the mean of its last hidden states."""

    def __init__(self, body, config, num_labels):
        super().__init__()
        self.body = body
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        self.head = nn.Linear(config.hidden_size, num_labels)
        # transformers' _init_weights for a Linear.
        self.head.weight.data.normal_(0.0, config.initializer_range)
        self.head.bias.data.zero_()

    def forward(self, input_ids, attention_mask, token_type_ids):
        # Positions 0..n-1 given explicitly: transformers 4.x's BERT shifts them by the length of
        # past keys (peft's prefix) when left to itself; 5.x (the fixtures' version) does not.
        positions = torch.arange(input_ids.shape[1]).unsqueeze(0).expand_as(input_ids)
        h = self.body(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=positions,
        ).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp_min(1e-9)
        return self.head(self.dropout(pooled))


def build(method, backbone, num_labels, seed):
    """The model with `method` applied and only what it trains requiring gradients."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    config = BertConfig.from_pretrained(backbone)
    body = BertModel.from_pretrained(backbone, config=config, add_pooling_layer=False)
    name, b = parse_method(method)
    FLAT_PREFIX[0] = name == "prefix_flat"
    hidden = config.hidden_size
    if name == "parallel":
        import adapters
        from adapters import ParBnConfig

        adapters.init(body)
        cfg = ParBnConfig(reduction_factor=hidden / (b or 64), non_linearity="relu", scaling=1.0)
        body.add_adapter("pa", config=cfg)
        body.train_adapter("pa")
    elif name in ("lora", "prefix", "prefix_flat", "ia3"):
        from peft import IA3Config, LoraConfig, PrefixTuningConfig, get_peft_model

        if name == "lora":
            cfg = LoraConfig(r=b or 8, lora_alpha=16, target_modules=["query", "value"])
        elif name in ("prefix", "prefix_flat"):
            cfg = PrefixTuningConfig(
                task_type="FEATURE_EXTRACTION",
                num_virtual_tokens=b or 30,
                prefix_projection=name == "prefix",
                encoder_hidden_size=512,
            )
        else:
            ffn_out = r".*layer\.\d+\.output\.dense$"
            cfg = IA3Config(
                target_modules=rf".*\.(key|value)$|{ffn_out}", feedforward_modules=ffn_out
            )
        body = get_peft_model(body, cfg)
    elif name in ("full", "linear_probe", "bitfit"):
        for n, p in body.named_parameters():
            p.requires_grad = name == "full" or (name == "bitfit" and n.endswith(".bias"))
    else:
        raise SystemExit(f"train_torch.py: no PyTorch equivalent for method {method!r}")
    model = Classifier(body, config, num_labels)
    return model, config


# ---- peftgrid's names ----------------------------------------------------------------------

# torch parameter name (of `Classifier`) -> peftgrid module path, and whether the value is the
# transpose (torch Linear weights are [out, in], Burn's [in, out]).
LAYER = r"(?:base_model\.model\.)?encoder\.layer\.(\d+)\."
RULES = [
    (r"head\.(weight|bias)$", r"Text.head.out.\1"),
    (r"embeddings\.word_embeddings\.weight$", "Text.embeddings.word.weight"),
    (r"embeddings\.position_embeddings\.weight$", "Text.embeddings.position.weight"),
    (r"embeddings\.token_type_embeddings\.weight$", "Text.embeddings.token_type.weight"),
    (r"embeddings\.LayerNorm\.weight$", "Text.embeddings.norm.gamma"),
    (r"embeddings\.LayerNorm\.bias$", "Text.embeddings.norm.beta"),
    (LAYER + r"attention\.self\.(query|key|value)\.(weight|bias)$", r"Text.layers.\1.attention.\2.\3"),
    (LAYER + r"attention\.output\.dense\.(weight|bias)$", r"Text.layers.\1.attention.output.\2"),
    (LAYER + r"attention\.output\.LayerNorm\.weight$", r"Text.layers.\1.attention_norm.gamma"),
    (LAYER + r"attention\.output\.LayerNorm\.bias$", r"Text.layers.\1.attention_norm.beta"),
    (LAYER + r"intermediate\.dense\.(weight|bias)$", r"Text.layers.\1.ffn.up.\2"),
    (LAYER + r"output\.dense\.(weight|bias)$", r"Text.layers.\1.ffn.down.\2"),
    (LAYER + r"output\.LayerNorm\.weight$", r"Text.layers.\1.ffn_norm.gamma"),
    (LAYER + r"output\.LayerNorm\.bias$", r"Text.layers.\1.ffn_norm.beta"),
    # peft LoRA on query/value
    (LAYER + r"attention\.self\.query\.lora_A\.default\.weight$", r"Text.layers.\1.sites.q.mods.0.LowRank.down"),
    (LAYER + r"attention\.self\.query\.lora_B\.default\.weight$", r"Text.layers.\1.sites.q.mods.0.LowRank.up"),
    (LAYER + r"attention\.self\.value\.lora_A\.default\.weight$", r"Text.layers.\1.sites.v.mods.0.LowRank.down"),
    (LAYER + r"attention\.self\.value\.lora_B\.default\.weight$", r"Text.layers.\1.sites.v.mods.0.LowRank.up"),
    # peft IA3: keys, values (output side), the FFN's second linear (input side)
    (LAYER + r"attention\.self\.key\.ia3_l\.default$", r"Text.layers.\1.sites.k.mods.0.Rescale.scale"),
    (LAYER + r"attention\.self\.value\.ia3_l\.default$", r"Text.layers.\1.sites.v.mods.0.Rescale.scale"),
    (LAYER + r"output\.dense\.ia3_l\.default$", r"Text.layers.\1.sites.ffn_out.mods.0.Rescale.scale"),
    # AdapterHub's parallel bottleneck at the FFN
    (LAYER + r"output\.adapters\.pa\.adapter_down\.0\.(weight|bias)$", r"Text.layers.\1.sites.ffn.mods.0.Bottleneck.down.Dense.\2"),
    (LAYER + r"output\.adapters\.pa\.adapter_up\.(weight|bias)$", r"Text.layers.\1.sites.ffn.mods.0.Bottleneck.up.Dense.\2"),
    # peft's prefix encoder (shared by every layer)
    (r"prompt_encoder\.default\.embedding\.weight$", "Text.shared.prefixes.0.source.Mlp.wte"),
    (r"prompt_encoder\.default\.transform\.0\.(weight|bias)$", r"Text.shared.prefixes.0.source.Mlp.hidden.\1"),
    (r"prompt_encoder\.default\.transform\.2\.(weight|bias)$", r"Text.shared.prefixes.0.source.Mlp.out.\1"),
]


def peftgrid_key(name):
    if "prompt_encoder" in name and name.endswith("embedding.weight") and FLAT_PREFIX[0]:
        # Without the MLP, peft's embedding holds the prefixes themselves.
        return "Text.shared.prefixes.0.source.Flat"
    for pattern, target in RULES:
        m = re.search(pattern, name)
        if m:
            return m.expand(target)
    raise SystemExit(f"train_torch.py: no peftgrid name for trained tensor {name!r}")


# Whether the model's prefix encoder has no MLP (set by `build`).
FLAT_PREFIX = [False]


def to_peftgrid(name, t):
    """`t` in peftgrid's layout: a Linear (or LoRA factor) weight transposed (torch's are
    [out, in], Burn's [in, out]), IA3's [d, 1] / [1, d] vectors flat, the rest as they are."""
    t = t.detach().float().cpu()
    if "ia3_l" in name:
        return t.flatten().contiguous()
    if t.dim() == 2 and "embedding" not in name:
        return t.t().contiguous()
    return t.contiguous()


def trained(model):
    return [(n, p) for n, p in model.named_parameters() if p.requires_grad]


def peftgrid_state(model, keep=None):
    """The trained tensors by peftgrid module path, in peftgrid's layout (those whose path
    matches the regular expression `keep`, when given)."""
    out = {peftgrid_key(n): to_peftgrid(n, p) for n, p in trained(model)}
    return {k: v for k, v in out.items() if keep is None or re.search(keep, k)}


# ---- data ----------------------------------------------------------------------------------


# GLUE's TSV columns: the text column(s) and the label, by task (CoLA has no header).
TEXT_COLUMNS = [("sentence1", "sentence2"), ("question1", "question2"), ("question", "sentence"),
                ("#1 String", "#2 String"), ("sentence",)]
LABEL_COLUMNS = ["label", "Quality", "is_duplicate", "gold_label"]


def read_tsv(path):
    """(text or (text_a, text_b), label) rows of a GLUE-format TSV file."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n").split("\t") for line in f if line.strip()]
    header = lines[0]
    if "label" not in header and len(header) == 4 and not any(h in header for h in ("sentence",)):
        # CoLA: source, label, original label, sentence; no header row.
        return [(r[3], int(r[1])) for r in lines]
    text = next((cols for cols in TEXT_COLUMNS if all(c in header for c in cols)), None)
    label = next((c for c in LABEL_COLUMNS if c in header), None)
    if text is None or label is None:
        raise SystemExit(f"{path}: no GLUE text/label columns in header {header}")
    idx = [header.index(c) for c in text]
    li = header.index(label)
    values = sorted({r[li] for r in lines[1:]})
    classes = {v: i for i, v in enumerate(values)} if not all(v.isdigit() for v in values) else None
    rows = []
    for r in lines[1:]:
        t = r[idx[0]] if len(idx) == 1 else (r[idx[0]], r[idx[1]])
        rows.append((t, classes[r[li]] if classes else int(r[li])))
    return rows


def encode(tokenizer, examples, max_len):
    texts = [t for t, _ in examples]
    if texts and isinstance(texts[0], tuple):
        enc = tokenizer([a for a, _ in texts], [b for _, b in texts], truncation=True,
                        max_length=max_len)
    else:
        enc = tokenizer(texts, truncation=True, max_length=max_len)
    types = enc.get("token_type_ids") or [[0] * len(ids) for ids in enc["input_ids"]]
    return [(ids, label, tt) for ids, tt, (_, label) in zip(enc["input_ids"], types, examples)]


def collate(encoded, indices, pad_id):
    longest = max(len(encoded[i][0]) for i in indices)
    ids = torch.full((len(indices), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(indices), longest), dtype=torch.long)
    for row, i in enumerate(indices):
        tokens = encoded[i][0]
        ids[row, : len(tokens)] = torch.tensor(tokens)
        mask[row, : len(tokens)] = 1
    types = torch.zeros_like(ids)
    for row, i in enumerate(indices):
        tt = encoded[i][2]
        types[row, : len(tt)] = torch.tensor(tt)
    labels = torch.tensor([encoded[i][1] for i in indices])
    return ids, mask, types, labels


def random_order(n, batch, epochs, seed):
    """PyTorch's RandomSampler + DataLoader(batch, drop_last=False), one permutation an epoch."""
    g = torch.Generator().manual_seed(seed)
    order = []
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g).tolist()
        order.append([perm[i : i + batch] for i in range(0, n, batch)])
    return order


# ---- the loop ------------------------------------------------------------------------------


def no_decay(name):
    # Trainer's get_decay_parameter_names: everything but biases and LayerNorm weights.
    return name.endswith("bias") or "LayerNorm" in name


def train(model, encoded, order, hp, pad_id, evaluate=None, on_step=None):
    from transformers import get_linear_schedule_with_warmup

    params = trained(model)
    groups = [
        {"params": [p for n, p in params if not no_decay(n)], "weight_decay": hp["weight_decay"]},
        {"params": [p for n, p in params if no_decay(n)], "weight_decay": 0.0},
    ]
    optim = torch.optim.AdamW(groups, lr=hp["lr"], betas=(0.9, 0.999), eps=1e-8)
    total = sum(len(epoch) for epoch in order)
    warmup = math.ceil(hp["warmup_ratio"] * total)
    sched = get_linear_schedule_with_warmup(optim, warmup, total)
    loss_fn = nn.CrossEntropyLoss()
    losses, evals = [], []
    best = None
    for epoch in order:
        model.train()
        for indices in epoch:
            ids, mask, types, labels = collate(encoded, indices, pad_id)
            loss = loss_fn(model(ids, mask, types), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for _, p in params], hp["grad_clip"])
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            losses.append(loss.item())
            if on_step:
                on_step(len(losses), total, losses[-1])
        if evaluate:
            score = evaluate(model)
            evals.append(score)
            best = score if best is None else max(best, score)
    return losses, evals, best


def accuracy(model, encoded, pad_id, batch=64):
    model.eval()
    right = 0
    with torch.inference_mode():
        for start in range(0, len(encoded), batch):
            indices = list(range(start, min(start + batch, len(encoded))))
            ids, mask, types, labels = collate(encoded, indices, pad_id)
            right += (model(ids, mask, types).argmax(-1) == labels).sum().item()
    return 100.0 * right / len(encoded)


def tokenizer_for(backbone, max_len):
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(backbone, "tokenizer.json"))
    tok.model_max_length = max_len
    pad = tok.convert_tokens_to_ids("[PAD]")
    return tok, (pad if pad is not None else 0)


# ---- commands ------------------------------------------------------------------------------


def save(path, tensors):
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in tensors.items()}, path)


def parity(args):
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    model, _ = build(args.method, args.backbone, 2, args.seed)
    tok, pad_id = tokenizer_for(args.backbone, args.max_len)
    encoded = encode(tok, read_tsv(os.path.join(args.data, "train.tsv")), args.max_len)
    order = random_order(len(encoded), args.batch, args.epochs, args.seed)
    os.makedirs(args.out, exist_ok=True)
    # A subset (`--init-keys`) where the rest is the checkpoint itself (full fine-tuning).
    save(os.path.join(args.out, "init.safetensors"), peftgrid_state(model, args.init_keys))
    with open(os.path.join(args.out, "order.json"), "w") as f:
        json.dump({"epochs": order}, f)
    hp = {"lr": args.lr, "weight_decay": args.weight_decay, "warmup_ratio": args.warmup_ratio,
          "grad_clip": args.grad_clip}
    losses, _, _ = train(model, encoded, order, hp, pad_id)
    save(os.path.join(args.out, "final.safetensors"), peftgrid_state(model, args.final_keys))
    import peft
    import transformers

    with open(os.path.join(args.out, "reference.json"), "w") as f:
        json.dump({
            "method": args.method, "seed": args.seed, "epochs": args.epochs,
            "batch": args.batch, "max_len": args.max_len, **hp,
            "init_keys": args.init_keys, "final_keys": args.final_keys,
            "versions": f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}",
            "losses": losses,
        }, f, indent=1)
    print(f"{args.method}: {len(losses)} steps, loss {losses[0]:.6f} -> {losses[-1]:.6f}")


def glue(args):
    torch.set_num_threads(args.threads)
    tok, pad_id = tokenizer_for(args.backbone, args.max_len)
    train_set = encode(tok, read_tsv(os.path.join(args.data, "train.tsv")), args.max_len)
    dev_set = encode(tok, read_tsv(os.path.join(args.data, "dev.tsv")), args.max_len)
    if args.max_train:
        train_set = train_set[: args.max_train]
    rows = []
    if os.path.exists(args.out):
        with open(args.out) as f:
            rows = json.load(f)["runs"]
    done = {(r["method"], r["seed"]) for r in rows}
    lrs = dict(item.split("=") for item in args.lr.split(",")) if args.lr else {}
    for method in args.methods.split(","):
        for seed in [int(s) for s in args.seeds.split(",")]:
            if (method, seed) in done:
                continue
            num_labels = 1 + max(label for _, label, _ in train_set + dev_set)
            model, _ = build(method, args.backbone, num_labels, seed)
            lr = float(lrs.get(parse_method(method)[0], lrs.get("default", 1e-4)))
            hp = {"lr": lr, "weight_decay": args.weight_decay, "warmup_ratio": args.warmup_ratio,
                  "grad_clip": args.grad_clip}
            order = random_order(len(train_set), args.batch, args.epochs, seed)
            start = time.time()
            _, evals, best = train(model, train_set, order, hp, pad_id,
                                   evaluate=lambda m: accuracy(m, dev_set, pad_id))
            rows.append({"method": method, "seed": seed, "lr": lr, "epochs": args.epochs,
                         "batch": args.batch, "max_len": args.max_len,
                         "train_examples": len(train_set), "dev_examples": len(dev_set),
                         "accuracy": best, "evals": evals, "seconds": time.time() - start})
            print(f"{method} seed {seed}: dev accuracy {best:.2f} (epochs {evals})", flush=True)
            # Written after every run: an interrupted comparison keeps what it has.
            with open(args.out, "w") as f:
                json.dump({"tool": "pytorch", "data": args.data, "backbone": args.backbone,
                           "runs": rows}, f, indent=1)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("parity", "glue"):
        s = sub.add_parser(name)
        s.add_argument("--backbone", required=True)
        s.add_argument("--data", required=True, help="a GLUE-format folder (train.tsv, dev.tsv)")
        s.add_argument("--out", required=True)
        s.add_argument("--epochs", type=int, default=3)
        s.add_argument("--batch", type=int, default=32)
        s.add_argument("--max-len", type=int, default=64)
        s.add_argument("--weight-decay", type=float, default=0.01)
        s.add_argument("--warmup-ratio", type=float, default=0.06)
        s.add_argument("--grad-clip", type=float, default=1.0)
        s.add_argument("--threads", type=int, default=2)
    s = sub.choices["parity"]
    s.add_argument("--method", required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--lr", type=float, default=1e-3)
    s.add_argument("--init-keys", default=None, help="write only these initial tensors (regex)")
    s.add_argument("--final-keys", default=None, help="write only these final tensors (regex)")
    s = sub.choices["glue"]
    s.add_argument("--methods", required=True)
    s.add_argument("--seeds", default="0,1,2")
    s.add_argument("--lr", default="", help="per method, e.g. full=5e-5,lora=5e-4,default=1e-3")
    s.add_argument("--max-train", type=int, default=None)
    args = p.parse_args()
    {"parity": parity, "glue": glue}[args.command](args)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""PyTorch + peft (+ AdapterHub's `adapters`) side of `peftgrid bench`.

The same configurations as `peftgrid bench`: a backbone config.json's size with random weights,
a new 2-class head on the mean of the last hidden states (dropout = hidden_dropout_prob before
it, as peftgrid's head), fixed token ids (batch x seq_len, no padding), the model in train mode
(dropout on), AdamW in Trainer's two groups (no decay on biases and LayerNorms), global clipping
at 1.0, the loss read every step. Timed: `--steps` updates after `--warmup` untimed ones, then
as many forward-only batches under torch.inference_mode(); rates are per-step medians. Each method runs in its own process
so that its peak RSS (ru_maxrss) is its own.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch transformers peft adapters
    /tmp/torchenv/bin/python tools/bench_torch.py --threads 2 --out reports/bench/torch.json
    peftgrid bench-compare --torch reports/bench/torch.json

Method arguments are peftgrid's (`lora:8`, `parallel:64`, ...); each maps to what its paper's
reference library builds:
  full, linear_probe, bitfit        requires_grad by hand
  lora:R                            peft LoraConfig(r=R, lora_alpha=16, query/value)
  prefix:L                          peft PrefixTuningConfig(L tokens, MLP 512 reparameterisation)
  ia3                               peft IA3Config(key, value, FFN output input-side)
  parallel:R / houlsby:R            adapters ParBnConfig / DoubleSeqBnConfig, bottleneck R
"""

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

DEFAULT_METHODS = "full,linear_probe,bitfit,lora:8,parallel:64,houlsby:64,prefix:10,ia3"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def budget(method, default):
    name, _, b = method.partition(":")
    return name, (int(b) if b else default)


def build(method, config_path, device):
    import torch
    from torch import nn
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig.from_json_file(config_path)
    body = BertModel(config, add_pooling_layer=False)
    name, b = budget(method, None)
    hidden = config.hidden_size

    if name in ("parallel", "houlsby"):
        import adapters
        from adapters import DoubleSeqBnConfig, ParBnConfig

        adapters.init(body)
        r = b or 64
        cfg = (ParBnConfig if name == "parallel" else DoubleSeqBnConfig)(
            reduction_factor=hidden / r, non_linearity="relu"
        )
        body.add_adapter("bench", config=cfg)
        body.train_adapter("bench")
    elif name in ("lora", "prefix", "ia3"):
        from peft import IA3Config, LoraConfig, PrefixTuningConfig, get_peft_model

        if name == "lora":
            cfg = LoraConfig(r=b or 8, lora_alpha=16, target_modules=["query", "value"])
        elif name == "prefix":
            cfg = PrefixTuningConfig(
                task_type="FEATURE_EXTRACTION",
                num_virtual_tokens=b or 30,
                prefix_projection=True,
                encoder_hidden_size=512,
            )
        else:
            ffn_out = r".*layer\.\d+\.output\.dense$"
            cfg = IA3Config(
                target_modules=rf".*\.(key|value)$|{ffn_out}",
                feedforward_modules=ffn_out,
            )
        body = get_peft_model(body, cfg)
    elif name == "full":
        pass
    elif name in ("linear_probe", "bitfit"):
        for n, p in body.named_parameters():
            p.requires_grad = name == "bitfit" and n.endswith(".bias")
    else:
        raise SystemExit(f"bench_torch.py: no PyTorch equivalent for method {method!r}")

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = body
            self.dropout = nn.Dropout(config.hidden_dropout_prob)
            self.head = nn.Linear(hidden, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.body(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp_min(1e-9)
            return self.head(self.dropout(pooled))

    model = Classifier().to(device)
    if name == "full":
        for p in model.parameters():
            p.requires_grad = True
    return model, config


def one(args):
    import torch

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model, config = build(args.method, args.config, device)
    g = torch.Generator().manual_seed(0)
    b, s = args.batch, args.seq_len
    ids = torch.randint(1000, config.vocab_size, (b, s), generator=g).to(device)
    mask = torch.ones(b, s, dtype=torch.long, device=device)
    types = torch.zeros(b, s, dtype=torch.long, device=device)
    labels = torch.randint(0, 2, (b,), generator=g).to(device)

    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    no_decay = lambda n: n.endswith("bias") or "LayerNorm" in n or "norm" in n.lower()
    groups = [
        {"params": [p for n, p in trained if not no_decay(n)], "weight_decay": 0.01},
        {"params": [p for n, p in trained if no_decay(n)], "weight_decay": 0.0},
    ]
    optim = torch.optim.AdamW(groups, lr=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    model.train()
    losses, timed = [], []
    for step in range(args.warmup + args.steps):
        start = time.perf_counter()
        loss = loss_fn(model(ids, mask, types), labels)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in trained], 1.0)
        optim.step()
        value = loss.item()
        sync()
        if step >= args.warmup:
            timed.append(time.perf_counter() - start)
            losses.append(value)

    model.eval()
    infer = []
    with torch.inference_mode():
        for step in range(args.warmup + args.steps):
            start = time.perf_counter()
            model(ids, mask, types).cpu()
            if step >= args.warmup:
                infer.append(time.perf_counter() - start)

    import peft
    import transformers

    if device.type == "cuda":
        peak, kind, dev = torch.cuda.max_memory_allocated(), "device", torch.cuda.get_device_name()
    else:
        peak, kind, dev = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "rss", cpu_name()
    # Per-step medians, as peftgrid bench: robust to a neighbour's burst on a shared machine.
    samples = b
    row = {
        "tool": "pytorch",
        "version": f"torch {torch.__version__} / transformers {transformers.__version__} / peft {peft.__version__}",
        "backend": device.type,
        "device": dev,
        "dtype": "f32",
        "threads": args.threads,
        "model": os.path.splitext(os.path.basename(args.config))[0],
        "method": args.method,
        "batch": b,
        "seq_len": s,
        "warmup": args.warmup,
        "steps": args.steps,
        "trainable_params": sum(p.numel() for _, p in trained),
        "train_samples_per_s": samples / statistics.median(timed),
        "infer_samples_per_s": samples / statistics.median(infer),
        "peak_memory_bytes": peak,
        "memory_kind": kind,
        "first_loss": losses[0],
        "last_loss": losses[-1],
    }
    print("BENCH_ROW " + json.dumps(row))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="crates/model/tests/configs/all-MiniLM-L6-v2.json")
    p.add_argument("--methods", default=DEFAULT_METHODS)
    p.add_argument("--method", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq-len", type=int, default=64)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="reports/bench/torch.json")
    args = p.parse_args()
    if args.method:
        return one(args)
    rows, failed = [], []
    for m in args.methods.split(","):
        cmd = [sys.executable, __file__, "--method", m]
        for k in ("config", "batch", "seq_len", "warmup", "steps", "threads", "device"):
            cmd += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            # The other methods still run: one missing library (adapters) should not cost the rest.
            failed.append(m)
            print(f"bench of {m} failed:\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        line = next(l for l in out.stdout.splitlines() if l.startswith("BENCH_ROW "))
        row = json.loads(line[len("BENCH_ROW "):])
        print(
            f"{m:<16} train {row['train_samples_per_s']:7.1f} samples/s   inference "
            f"{row['infer_samples_per_s']:7.1f} samples/s   peak {row['peak_memory_bytes'] / 2**20:6.0f} MiB"
        )
        rows.append(row)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(rows, f, indent=2)
    print(f"rows: {args.out}")
    if failed:
        raise SystemExit(f"failed: {', '.join(failed)} (the others' rows are in {args.out})")


if __name__ == "__main__":
    main()

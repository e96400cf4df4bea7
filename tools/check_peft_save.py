#!/usr/bin/env python3
"""Check that adapters written by peftgrid load in peft itself.

For every fixture in ../shared/fixtures/peft-methods (DoRA, rsLoRA, LoRA on the FFN, VeRA, LoHa,
LoKr, OFT, BOFT, HRA, MiSS, FourierFT, AdaLoRA, LN tuning: saved by peft 0.21.2), `peftgrid
convert --to peft` reads the fixture's adapter onto base/ and writes it again in peft's format;
this script loads the written folder with `PeftModel.from_pretrained(base, dir)` and compares
`last_hidden_state` with the fixture's golden output, and the trainable count peft reports with
golden.json's. The adapter must matter: the output must be far from the base model's.

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch transformers==4.57.6 peft==0.21.2
    cargo build --release -p peftgrid-runner
    /tmp/torchenv/bin/python tools/check_peft_save.py [--fixtures ../shared/fixtures] [--peftgrid target/release/peftgrid]

The tests of the workspace do not need Python; this is the check against the library.
"""
import argparse
import json
import pathlib
import subprocess
import sys
import tempfile

import torch
from peft import PeftModel
from safetensors.torch import load_file
from transformers import BertModel

parser = argparse.ArgumentParser()
root = pathlib.Path(__file__).resolve().parent.parent
parser.add_argument("--fixtures", default=root.parent / "shared" / "fixtures", type=pathlib.Path)
parser.add_argument("--peftgrid", default=root / "target" / "release" / "peftgrid", type=pathlib.Path)
parser.add_argument("--tolerance", default=1e-4, type=float)
args = parser.parse_args()

fixtures = args.fixtures / "peft-methods"
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for folder in sorted(p for p in fixtures.iterdir() if p.name.startswith("peft_")):
        out = pathlib.Path(tmp) / folder.name
        run = subprocess.run(
            [str(args.peftgrid), "convert", "--model", str(folder / "base"),
             "--adapter", str(folder / "adapter"), "--to", "peft", "--out", str(out)],
            capture_output=True, text=True,
        )
        if run.returncode != 0:
            failures += 1
            print(f"{folder.name:<16} convert failed: {run.stderr.strip()}")
            continue
        config = json.loads((out / "adapter_config.json").read_text())
        base = BertModel.from_pretrained(folder / "base", attn_implementation="eager").eval()
        golden = load_file(folder / "golden.safetensors")
        inputs = dict(input_ids=golden["input_ids"], attention_mask=golden["attention_mask"])
        with torch.no_grad():
            base_out = base(**inputs).last_hidden_state
        model = PeftModel.from_pretrained(base, out, is_trainable=True).eval()
        with torch.no_grad():
            hidden = model(**inputs).last_hidden_state
        diff = (hidden - golden["last_hidden_state"]).abs().max().item()
        effect = (hidden - base_out).abs().max().item()
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        expected = json.loads((folder / "golden.json").read_text())["trainable_params"]
        ok = diff < args.tolerance and effect > 10 * args.tolerance and trainable == expected
        failures += not ok
        print(f"{folder.name:<16} {config['peft_type']:<10} max abs diff {diff:.3e} (adapter effect {effect:.3e}), "
              f"trainable {trainable} (golden {expected})  {'ok' if ok else 'FAIL'}")
sys.exit(1 if failures else 0)

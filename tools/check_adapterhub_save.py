#!/usr/bin/env python3
"""Check that adapters written by peftgrid load in AdapterHub's `adapters` library.

For every fixture in ../shared/fixtures/adapters, `peftgrid convert --to adapterhub` reads the
fixture's adapter onto base/ and writes it again in AdapterHub's format; this script then loads the
written folder with `model.load_adapter(dir, use_safetensors=True)` into a fresh base/ and compares
`last_hidden_state` with the fixture's golden output (and reports missing/unexpected keys).

    python3 -m venv /tmp/ahvenv && /tmp/ahvenv/bin/pip install adapters==1.3.0 torch safetensors
    cargo build --release -p peftgrid-runner
    /tmp/ahvenv/bin/python tools/check_adapterhub_save.py [--fixtures ../shared/fixtures] [--peftgrid target/release/peftgrid]

The tests of the workspace do not need Python; this is the one-off check against the library.
"""
import argparse
import pathlib
import subprocess
import sys
import tempfile

import adapters
import torch
from safetensors.torch import load_file
from transformers import BertModel

parser = argparse.ArgumentParser()
root = pathlib.Path(__file__).resolve().parent.parent
parser.add_argument("--fixtures", default=root.parent / "shared" / "fixtures", type=pathlib.Path)
parser.add_argument("--peftgrid", default=root / "target" / "release" / "peftgrid", type=pathlib.Path)
parser.add_argument("--tolerance", default=1e-4, type=float)
args = parser.parse_args()

fixtures = args.fixtures / "adapters"
base = fixtures / "base"
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    for folder in sorted(p for p in fixtures.iterdir() if p.name.startswith("ad_")):
        name = folder.name.removeprefix("ad_")
        out = pathlib.Path(tmp) / name
        subprocess.run(
            [str(args.peftgrid), "convert", "--model", str(base), "--adapter", str(folder / "adapter"),
             "--to", "adapterhub", "--name", name, "--out", str(out)],
            check=True, capture_output=True,
        )
        model = BertModel.from_pretrained(base, attn_implementation="eager")
        adapters.init(model)
        loaded = model.load_adapter(str(out), use_safetensors=True)
        model.set_active_adapters(loaded)
        model.eval()
        golden = load_file(folder / "golden.safetensors")
        with torch.no_grad():
            hidden = model(input_ids=golden["input_ids"], attention_mask=golden["attention_mask"]).last_hidden_state
        diff = (hidden - golden["last_hidden_state"]).abs().max().item()
        # The adapter must matter: the output is far from the base model's.
        base_out = golden["base_last_hidden_state"]
        if hidden.shape == base_out.shape:
            effect = (hidden - base_out).abs().max().item()
        else:  # prompt tuning adds positions
            effect = (hidden[:, -base_out.shape[1]:] - base_out).abs().max().item()
        ok = diff < args.tolerance and effect > 10 * args.tolerance
        failures += not ok
        print(f"{folder.name:<22} loaded as `{loaded}`  max abs diff {diff:.3e} (adapter effect {effect:.3e})  {'ok' if ok else 'FAIL'}")
sys.exit(1 if failures else 0)

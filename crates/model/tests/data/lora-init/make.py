#!/usr/bin/env python3
"""Reference for PiSSA and OLoRA initialisation (peft 0.21.2, torch 2.15, CPU, float32).

On the BERT fixture (../../../../../shared/fixtures/hf/bert), LoraConfig(r=4, lora_alpha=8,
target_modules=["query", "value"]) with init_lora_weights="pissa" and "olora": writes, for every
targeted projection, the residual base weight peft leaves (`<module>.residual`, [out, in]) and the
product B·A of its initial adapter (`<module>.delta`, [out, in], unscaled), plus the model's
output on the fixture's golden inputs (`<init>.last_hidden_state`; equal to the base model's,
since W_res + s·B·A = W). A and B themselves are fixed only up to the signs of singular /
QR vectors, so the products are what a test compares.

    /tmp/torchenv/bin/python crates/model/tests/data/lora-init/make.py
"""
import pathlib

import torch
from peft import LoraConfig, get_peft_model
from safetensors.torch import load_file, save_file
from transformers import BertModel

here = pathlib.Path(__file__).resolve().parent
fixture = here.parents[5] / "shared" / "fixtures" / "hf" / "bert"
golden = load_file(fixture / "golden.safetensors")
out = {}
for init in ["pissa", "olora"]:
    base = BertModel.from_pretrained(fixture, attn_implementation="eager").eval()
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"], init_lora_weights=init)
    model = get_peft_model(base, config).eval()
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and "default" in module.lora_A:
            short = name.split("encoder.", 1)[1]
            out[f"{init}.{short}.residual"] = module.base_layer.weight.detach().clone()
            out[f"{init}.{short}.delta"] = (module.lora_B["default"].weight @ module.lora_A["default"].weight).detach().clone()
    inputs = {k: golden[k] for k in ["input_ids", "attention_mask", "token_type_ids"] if k in golden}
    with torch.no_grad():
        out[f"{init}.last_hidden_state"] = model(**inputs).last_hidden_state
save_file({k: v.contiguous() for k, v in out.items()}, here / "reference.safetensors")
print(sorted(out))

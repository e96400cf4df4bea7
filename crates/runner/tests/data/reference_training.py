"""Reference for the step-for-step training test (tests/cli.rs,
`training_equals_pytorch_step_for_step`): PyTorch + peft (+ adapters) train six methods on the
fixture BERT (dropout off) through tools/train_torch.py's loop, and write per method what
peftgrid must reproduce: the initial trainable tensors, the batch order, the per-step losses
and the final trainable tensors.

    /tmp/torchenv/bin/python crates/runner/tests/data/reference_training.py   # from the repo root

Writes crates/runner/tests/data/training/: tokenizer.json (word level: "w17" is id 17, BERT's
special tokens), SST-2/{train,dev}.tsv (synthetic sentences), and per method <name>/
{init.safetensors, order.json, reference.json, final.safetensors}.
"""

import json
import os
import random
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "../../../.."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import train_torch  # noqa: E402

FIXTURES = os.environ.get("PEFTGRID_FIXTURES", os.path.join(ROOT, "../shared/fixtures"))
OUT = os.path.join(HERE, "training")
# (directory name, peftgrid method, learning rate)
METHODS = [
    ("linear_probe", "linear_probe", 1e-2),
    ("full", "full", 1e-3),
    ("lora", "lora:2", 5e-3),
    ("parallel", "parallel:4", 5e-3),
    ("prefix", "prefix:3", 5e-3),
    ("ia3", "ia3", 1e-2),
]
SPECIAL = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3}


def tokenizer_json():
    vocab = {name: i for name, i in SPECIAL.items()}
    for i in range(512):
        if i not in SPECIAL.values():
            vocab[f"w{i}"] = i
    added = [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t, i in SPECIAL.items()]
    single = [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
              {"Sequence": {"id": "A", "type_id": 0}},
              {"SpecialToken": {"id": "[SEP]", "type_id": 0}}]
    special = {t: {"id": t, "ids": [SPECIAL[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]")}
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
            "normalizer": None, "pre_tokenizer": {"type": "WhitespaceSplit"},
            "post_processor": {"type": "TemplateProcessing", "single": single, "pair": single,
                               "special_tokens": special},
            "decoder": None, "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}}


def sentences(n, rng):
    """Sentences of 2-12 words; the label says whether low ids outnumber high ones."""
    rows = []
    for _ in range(n):
        words = [rng.randrange(4, 512) for _ in range(rng.randrange(2, 13))]
        label = int(sum(w < 258 for w in words) * 2 > len(words))
        rows.append((" ".join(f"w{w}" for w in words), label))
    return rows


def write_tsv(path, rows):
    with open(path, "w") as f:
        f.write("sentence\tlabel\n")
        for s, label in rows:
            f.write(f"{s}\t{label}\n")


def main():
    os.makedirs(os.path.join(OUT, "SST-2"), exist_ok=True)
    with open(os.path.join(OUT, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f)
    rng = random.Random(7)
    write_tsv(os.path.join(OUT, "SST-2/train.tsv"), sentences(48, rng))
    write_tsv(os.path.join(OUT, "SST-2/dev.tsv"), sentences(12, rng))

    backbone = tempfile.mkdtemp()
    with open(os.path.join(FIXTURES, "hf/bert/config.json")) as f:
        config = json.load(f)
    # Dropout off: the comparison is of the loop, not of two random streams.
    config["hidden_dropout_prob"] = 0.0
    config["attention_probs_dropout_prob"] = 0.0
    with open(os.path.join(backbone, "config.json"), "w") as f:
        json.dump(config, f)
    shutil.copy(os.path.join(FIXTURES, "hf/bert/model.safetensors"), backbone)
    shutil.copy(os.path.join(OUT, "tokenizer.json"), backbone)

    for name, method, lr in METHODS:
        args = type("Args", (), dict(
            method=method, backbone=backbone, data=os.path.join(OUT, "SST-2"),
            out=os.path.join(OUT, name), epochs=5, batch=8, max_len=32, seed=0, lr=lr,
            weight_decay=0.01, warmup_ratio=0.06, grad_clip=1.0, threads=1))
        train_torch.parity(args)
    shutil.rmtree(backbone)


if __name__ == "__main__":
    main()

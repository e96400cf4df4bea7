"""Reference for the step-for-step training test (tests/cli.rs,
`training_equals_pytorch_step_for_step`): PyTorch + peft (+ adapters) train six methods on the
fixture BERT (dropout off) through tools/train_torch.py's loop, and write per method what
peftgrid must reproduce: the initial trainable tensors, the batch order, the per-step losses
and the final trainable tensors.

    /tmp/torchenv/bin/python crates/runner/tests/data/reference_training.py   # from the repo root

Writes crates/runner/tests/data/training/: tokenizer.json (word level: "w17" is id 17, BERT's
special tokens), SST-2/{train,dev}.tsv (synthetic sentences), and per method <name>/
{init.safetensors, order.json, reference.json, final.safetensors}; and the same under
minilm/ for all-MiniLM-L6-v2 on datasets/samples/tiny.
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
MINILM_METHODS = [
    ("linear_probe", "linear_probe", 1e-2),
    ("full", "full", 3e-5),
    ("lora", "lora:8", 1e-3),
    ("parallel", "parallel:8", 1e-3),
    ("prefix", "prefix_flat:10", 5e-3),
    ("ia3", "ia3", 5e-3),
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


def dropout_free(model_dir, tokenizer):
    """A temporary copy of `model_dir` with every dropout off (the comparison is of the loop,
    not of two random streams) and `tokenizer` as its tokenizer.json."""
    backbone = tempfile.mkdtemp()
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    config["hidden_dropout_prob"] = 0.0
    config["attention_probs_dropout_prob"] = 0.0
    with open(os.path.join(backbone, "config.json"), "w") as f:
        json.dump(config, f)
    shutil.copy(os.path.join(model_dir, "model.safetensors"), backbone)
    shutil.copy(tokenizer, os.path.join(backbone, "tokenizer.json"))
    return backbone


def run(backbone, data, out, methods, epochs):
    for name, method, lr, keys in methods:
        args = type("Args", (), dict(
            method=method, backbone=backbone, data=data, out=os.path.join(out, name),
            epochs=epochs, batch=8, max_len=32, seed=0, lr=lr, weight_decay=0.01,
            warmup_ratio=0.06, grad_clip=1.0, threads=1, init_keys=keys[0],
            final_keys=keys[1]))
        train_torch.parity(args)


def main():
    os.makedirs(os.path.join(OUT, "SST-2"), exist_ok=True)
    with open(os.path.join(OUT, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f)
    rng = random.Random(7)
    write_tsv(os.path.join(OUT, "SST-2/train.tsv"), sentences(48, rng))
    write_tsv(os.path.join(OUT, "SST-2/dev.tsv"), sentences(12, rng))

    backbone = dropout_free(os.path.join(FIXTURES, "hf/bert"), os.path.join(OUT, "tokenizer.json"))
    everything = (None, None)
    run(backbone, os.path.join(OUT, "SST-2"), OUT,
        [(n, m, lr, everything) for n, m, lr in METHODS], epochs=5)
    shutil.rmtree(backbone)

    # MiniLM (`just fetch-minilm`), its WordPiece tokenizer, on the committed 24-sentence
    # sample: 10 epochs of 3 batches. Full fine-tuning starts from the checkpoint (only the
    # head is written) and its final tensors are checked on the head and the last layer (the
    # whole model would be 90 MB); the prefix is peft's flat one (no MLP: 2 MB less).
    minilm = os.path.join(ROOT, "models/all-MiniLM-L6-v2")
    if not os.path.isfile(os.path.join(minilm, "model.safetensors")):
        print("models/all-MiniLM-L6-v2 missing (just fetch-minilm): MiniLM references not made")
        return
    backbone = dropout_free(minilm, os.path.join(minilm, "tokenizer.json"))
    run(backbone, os.path.join(ROOT, "datasets/samples/tiny/SST-2"), os.path.join(OUT, "minilm"),
        [(n, m, lr, (r"\.head\.", r"\.head\.|layers\.5\..*(bias|beta|gamma)$") if n == "full" else everything)
         for n, m, lr in MINILM_METHODS], epochs=10)
    shutil.rmtree(backbone)


if __name__ == "__main__":
    main()

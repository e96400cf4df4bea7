"""Reference teacher-forced losses for `tasks::seq2seq`'s unit test (transformers 5.17, torch 2.15).

The fixture checkpoints of ../shared/fixtures/hf/{bart,mbart,t5} in eval mode (no dropout), on three
source/target pairs written with a word-level vocabulary ("w17" is id 17). Ids are laid out as the
real tokenizers lay them out:
  BART   source <s> ... </s>,       target <s> ... </s>            (decoder start </s>, id 2)
  T5     source ... </s>,           target ... </s>                (decoder start <pad>, id 0)
  mBART  source ... </s> en_XX,     target ... </s> ro_RO          (en_XX 500, ro_RO 501;
         MBartForConditionalGeneration shifts the labels with the language code wrapped to the front)
Labels are padded with -100 (DataCollatorForSeq2Seq); the model builds decoder_input_ids from them.
Prints the loss with label smoothing 0 (the model's own loss) and 0.1 (Trainer's LabelSmoother).

Run: python reference_seq2seq_loss.py ../../../../shared/fixtures/hf
"""
import sys

import torch
from transformers import AutoModelForSeq2SeqLM
from transformers.trainer_pt_utils import LabelSmoother

root = sys.argv[1]
sources = ["w10 w11 w12 w13 w14", "w20 w21", "w30 w31 w32"]
targets = ["w40 w41 w42", "w50", "w60 w61 w62 w63"]
words = lambda t: [int(w[1:]) for w in t.split()]
layouts = {
    "bart": (lambda s: [0] + words(s) + [2], lambda t: [0] + words(t) + [2], 1),
    "t5": (lambda s: words(s) + [1], lambda t: words(t) + [1], 0),
    "mbart": (lambda s: words(s) + [2, 500], lambda t: words(t) + [2, 501], 1),
}


def pad(rows, value):
    n = max(len(r) for r in rows)
    return torch.tensor([r + [value] * (n - len(r)) for r in rows])


for name, (src, tgt, pad_id) in layouts.items():
    model = AutoModelForSeq2SeqLM.from_pretrained(f"{root}/{name}").eval()
    ids = pad([src(s) for s in sources], pad_id)
    mask = pad([[1] * len(src(s)) for s in sources], 0)
    labels = pad([tgt(t) for t in targets], -100)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, labels=labels)
        smoothed = LabelSmoother(epsilon=0.1)(out, labels)
    print(f"{name}: loss {out.loss.item():.8f}, label-smoothed (0.1) {smoothed.item():.8f}")

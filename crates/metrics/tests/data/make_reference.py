#!/usr/bin/env python3
"""Computes every reference value that tests/metrics.rs checks, into reference.json.

Versions used to produce the committed reference.json (see requirements.txt):
    Python 3.11.7, sacrebleu==2.6.0, rouge-score==0.1.2, nltk==3.10.4, sacremoses==0.2.0,
    regex==2026.11.19, scipy==1.17.1, scikit-learn==1.9.1, numpy==2.4.6

    python3 -m venv /tmp/venv-metrics
    /tmp/venv-metrics/bin/pip install -r crates/metrics/tests/data/requirements.txt
    /tmp/venv-metrics/bin/python crates/metrics/tests/data/make_corpus.py
    /tmp/venv-metrics/bin/python crates/metrics/tests/data/make_reference.py

Inputs: corpus.jsonl, strings.json, glue.json (written by make_corpus.py).
"""
import json
import math
import os
import sys
import warnings

import nltk
import numpy as np
import regex
import sacrebleu
import sacremoses
import scipy
import scipy.stats
import sklearn
from importlib.metadata import version
from nltk.stem.porter import PorterStemmer
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU
from sacremoses import MosesPunctNormalizer, MosesTokenizer
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

HERE = os.path.dirname(os.path.abspath(__file__))
warnings.simplefilter("ignore")

# ---------------------------------------------------------------------------
# The fairseq mBART en-ro evaluation pipeline, as Python:
#   replace-unicode-punctuation.perl | normalize-punctuation.perl -l ro |
#   remove-non-printing-char.perl | normalise-romanian.py | remove-diacritics.py |
#   tokenizer.perl -no-escape -l ro
# The Moses steps are sacremoses; the two WMT16 steps (rsennrich/wmt16-scripts,
# preprocess/normalise-romanian.py and preprocess/remove-diacritics.py, by Barry Haddow)
# are plain character replacements, restated here.
# ---------------------------------------------------------------------------
NORMALIZER = MosesPunctNormalizer(lang="ro", pre_replace_unicode_punct=True, post_remove_control_chars=True)
TOKENIZER = MosesTokenizer(lang="ro")


def normalise_romanian(text):
    """WMT16 normalise-romanian.py: s/t with cedilla -> s/t with comma below."""
    for a, b in (("\u015e", "\u0218"), ("\u015f", "\u0219"), ("\u0162", "\u021a"), ("\u0163", "\u021b")):
        text = text.replace(a, b)
    return text


def remove_diacritics(text):
    """WMT16 remove-diacritics.py: strip Romanian diacritics (expects comma-below s/t)."""
    for a, b in (("\u0218", "S"), ("\u0219", "s"), ("\u021a", "T"), ("\u021b", "t"),
                 ("\u0102", "A"), ("\u0103", "a"), ("\u00c2", "A"), ("\u00e2", "a"),
                 ("\u00ce", "I"), ("\u00ee", "i")):
        text = text.replace(a, b)
    return text


def ro_stages(text):
    normalized = NORMALIZER.normalize(text)
    romanian = remove_diacritics(normalise_romanian(normalized))
    tokenized = TOKENIZER.tokenize(romanian, escape=False, return_str=True)
    return {"normalized": normalized, "romanian": romanian, "tokenized": tokenized}


def ro_pipeline(text):
    return ro_stages(text)["tokenized"]


# ---------------------------------------------------------------------------
# Load inputs
# ---------------------------------------------------------------------------
with open(os.path.join(HERE, "corpus.jsonl"), encoding="utf-8") as f:
    pairs = [json.loads(line) for line in f]
with open(os.path.join(HERE, "strings.json"), encoding="utf-8") as f:
    strings = json.load(f)
with open(os.path.join(HERE, "glue.json"), encoding="utf-8") as f:
    glue = json.load(f)

hyps = [p["hyp"] for p in pairs]
refs = [p["ref"] for p in pairs]
ro_idx = [i for i, p in enumerate(pairs) if p["lang"] == "ro"]
en_idx = [i for i, p in enumerate(pairs) if p["lang"] == "en"]

# ---------------------------------------------------------------------------
# ROUGE (rouge-score, use_stemmer=True)
# ---------------------------------------------------------------------------
ROUGE_TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]
scorer = rouge_scorer.RougeScorer(ROUGE_TYPES, use_stemmer=True)
tokenizer = scorer._tokenizer

bleu13a = BLEU()  # tokenize=13a, smooth exp, for the per-line tokenised strings
per_pair = []
for i, p in enumerate(pairs):
    s = scorer.score(p["ref"], p["hyp"])  # score(target, prediction)
    entry = {
        "id": i,
        "rouge": {t: [s[t].precision, s[t].recall, s[t].fmeasure] for t in ROUGE_TYPES},
        "rouge_tokens_hyp": " ".join(tokenizer.tokenize(p["hyp"])),
        "rouge_tokens_ref": " ".join(tokenizer.tokenize(p["ref"])),
        "tok13a_hyp": bleu13a._preprocess_segment(p["hyp"]),
        "tok13a_ref": bleu13a._preprocess_segment(p["ref"]),
        "moses_ro_hyp": ro_pipeline(p["hyp"]),
        "moses_ro_ref": ro_pipeline(p["ref"]),
    }
    per_pair.append(entry)


def rouge_corpus(indices):
    out = {}
    for t in ROUGE_TYPES:
        f = [per_pair[i]["rouge"][t][2] for i in indices]
        out[t] = sum(f) / len(f) * 100
    return out


# ---------------------------------------------------------------------------
# sacreBLEU
# ---------------------------------------------------------------------------
def bleu_case(name, indices, variant, smooth, smooth_value=None, subset=None):
    if variant == "13a":
        h = [hyps[i] for i in indices]
        r = [refs[i] for i in indices]
        metric = BLEU(tokenize="13a", smooth_method=smooth, smooth_value=smooth_value)
    else:
        h = [ro_pipeline(hyps[i]) for i in indices]
        r = [ro_pipeline(refs[i]) for i in indices]
        metric = BLEU(tokenize="none", smooth_method=smooth, smooth_value=smooth_value)
    res = metric.corpus_score(h, [r])
    sig = metric.get_signature().format()
    return {
        "name": name,
        # "subset": "all"/"ro"/"en" (see "subsets"), else the explicit pair indices
        **({"subset": subset} if subset else {"indices": list(indices)}),
        "variant": variant,
        "smooth": smooth,
        "smooth_value": smooth_value,
        "score": res.score,
        "counts": [int(c) for c in res.counts],
        "totals": [int(t) for t in res.totals],
        "precisions": [float(p) for p in res.precisions],
        "bp": res.bp,
        "sys_len": int(res.sys_len),
        "ref_len": int(res.ref_len),
        "signature": sig,
        "formatted": res.format(),
    }


all_idx = list(range(len(pairs)))
bleu_cases = []
for smooth, value in (("exp", None), ("floor", None), ("floor", 0.25), ("none", None), ("add-k", None), ("add-k", 2)):
    tag = smooth if value is None else f"{smooth}-{value}"
    bleu_cases.append(bleu_case(f"all-13a-{tag}", all_idx, "13a", smooth, value, "all"))
    bleu_cases.append(bleu_case(f"ro-13a-{tag}", ro_idx, "13a", smooth, value, "ro"))
    bleu_cases.append(bleu_case(f"en-13a-{tag}", en_idx, "13a", smooth, value, "en"))
    # single segments exercise zero counts and every smoothing branch
    for i in list(range(0, 62, 3)) + [62, 63, 90, 91, 120, 150, 200, 261]:
        bleu_cases.append(bleu_case(f"seg{i}-13a-{tag}", [i], "13a", smooth, value))
bleu_cases.append(bleu_case("empty-hyps-13a-exp", [3, 5, 6], "13a", "exp"))
bleu_cases.append(bleu_case("no-match-13a-exp", [48], "13a", "exp"))
for smooth in ("none", "exp"):
    bleu_cases.append(bleu_case(f"ro-moses-{smooth}", ro_idx, "ro-moses", smooth, subset="ro"))
    bleu_cases.append(bleu_case(f"all-moses-{smooth}", all_idx, "ro-moses", smooth, subset="all"))
for i in ro_idx[:20]:
    bleu_cases.append(bleu_case(f"seg{i}-moses-none", [i], "ro-moses", "none"))

# ---------------------------------------------------------------------------
# Porter stemmer, tokeniser fuzz
# ---------------------------------------------------------------------------
stemmer = PorterStemmer()
porter = {w: stemmer.stem(w) for w in strings["porter_words"]}

# One entry per strings.json "fuzz_lines" item, in order.
fuzz = []
for line in strings["fuzz_lines"]:
    stages = ro_stages(line)
    fuzz.append({
        "tok13a": bleu13a._preprocess_segment(line),
        "rouge_tokens": " ".join(tokenizer.tokenize(line)),
        "normalized": stages["normalized"],
        "tokenized": stages["tokenized"],
        # the tokenizer alone on the raw line (reaches characters the normaliser removes)
        "moses_tokenized_only": TOKENIZER.tokenize(line, escape=False, return_str=True),
    })

# ---------------------------------------------------------------------------
# GLUE metrics (scikit-learn, scipy)
# ---------------------------------------------------------------------------
def attempt(fn):
    try:
        v = fn()
        if isinstance(v, float) and math.isnan(v):
            return {"error": "nan"}
        return {"value": float(v)}
    except Exception as e:  # noqa: BLE001 - recorded as an expected error
        return {"error": f"{type(e).__name__}: {e}"}


glue_out = {"classification": [], "regression": []}
for c in glue["classification"]:
    g, p = c["gold"], c["pred"]
    glue_out["classification"].append({
        "name": c["name"],
        "accuracy": attempt(lambda: accuracy_score(g, p)),
        "f1": attempt(lambda: f1_score(g, p)),
        "mcc": attempt(lambda: matthews_corrcoef(g, p)),
    })
for r in glue["regression"]:
    x, y = r["x"], r["y"]
    glue_out["regression"].append({
        "name": r["name"],
        "pearson": attempt(lambda: scipy.stats.pearsonr(x, y)[0]),
        "spearman": attempt(lambda: scipy.stats.spearmanr(x, y)[0]),
    })

out = {
    "versions": {
        "python": sys.version.split()[0],
        "sacrebleu": sacrebleu.__version__,
        "rouge-score": version("rouge-score"),
        "nltk": nltk.__version__,
        "sacremoses": version("sacremoses"),
        "regex": regex.__version__,
        "scipy": scipy.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
    },
    "pairs": per_pair,
    "rouge_corpus": {"all": rouge_corpus(all_idx), "ro": rouge_corpus(ro_idx), "en": rouge_corpus(en_idx)},
    "subsets": {"all": all_idx, "ro": ro_idx, "en": en_idx},
    "bleu": bleu_cases,
    "porter": porter,
    "fuzz": fuzz,
    "glue": glue_out,
}
with open(os.path.join(HERE, "reference.json"), "w", encoding="utf-8") as f:
    # compact JSON, one list element / object member per line (readable diffs)
    def dump(v):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))

    def block(v):
        if isinstance(v, list):
            return "[\n" + ",\n".join(dump(x) for x in v) + "\n]"
        if isinstance(v, dict) and len(v) > 20:
            return "{\n" + ",\n".join(dump(k) + ":" + dump(x) for k, x in v.items()) + "\n}"
        return dump(v)

    f.write("{\n" + ",\n".join(dump(k) + ":" + block(v) for k, v in out.items()) + "\n}")
    f.write("\n")
print(f"{len(per_pair)} pairs, {len(bleu_cases)} BLEU cases, {len(porter)} stems, {len(fuzz)} fuzz lines")

"""Reference outputs of Hugging Face `generate` (greedy + beam search) for BART / mBART / T5.

What it makes (everything next to this file, in crates/model/tests/data/generation/):

* ``bart_eos/``, ``mbart_eos/``, ``t5_eos/`` -- modified copies of the tiny random fixtures in
  ``<fixtures>/hf/{bart,mbart,t5}`` (config.json and generation_config.json copied verbatim,
  model.safetensors with the same keys, shapes and dtypes).  The fixtures hardly ever emit EOS
  at a useful step (BART/mBART copy their decoder start token, which *is* EOS, at step 1 and
  never again; T5 never emits it), so they cannot exercise EOS handling, early stopping, length
  penalty or min-length.  The derived models are edited so that, on ``inputs_*.safetensors``,
  greedy decoding ends different rows at different steps:

  - ``t5_eos``: only the EOS row (id 1) of ``shared.weight`` is shifted by a vector ``delta``
    (T5 ties lm_head to ``shared`` and scales the decoder output by d_model**-0.5 before it).
    With these inputs the encoder/decoder never read token 1, so only the EOS logit changes.
  - ``bart_eos`` / ``mbart_eos``: the fixtures ignore their input almost completely (every row
    gets practically the same logits), so no change of the EOS logit alone can make rows differ.
    Therefore (1) the decoder cross-attention ``v_proj`` and ``out_proj`` weights of every
    decoder layer are multiplied by ``xattn_scale`` (the output now depends on the input), (2) the
    EOS row (id 2) of ``model.shared.weight`` is shifted by ``delta`` and ``final_logits_bias[0, 2]``
    by ``bias``, and (3) because the decoder start token is also id 2, the decoder position
    embedding of step 0 (``model.decoder.embed_positions.weight[2]``, BART's offset is 2) is
    shifted by ``-embed_scale * delta`` so the step-0 decoder input is unchanged.  generate never
    feeds EOS back (finished greedy rows are fed pad, finished beams are dropped) and the inputs
    contain no id 2, so apart from the cross-attention scaling only the EOS logit changes.

  ``delta`` (and ``bias``) are fitted here with a small hinge-loss optimisation against the
  decoder states of the EOS-suppressed greedy path, so that greedy decoding of
  ``inputs_*.safetensors`` emits EOS as generated token ``DESIGN[family]["targets"][row]``
  (0 = not within 20 tokens), with a margin on the logit.  Single-threaded and deterministic
  (a rerun reproduces the files byte for byte).  The applied edits are recorded in
  cases.json["derived_models"].
* ``inputs_bart.safetensors`` (BART and mBART, pad 1) and ``inputs_t5.safetensors`` (pad 0):
  ``input_ids`` [3, 10] int64 with ids in 3..499 (torch seed 1234), ``attention_mask`` [3, 10]
  int64; row 0 unpadded, row 1 right-padded by 3, row 2 right-padded by 6.
* ``cases.json``: ``{"versions", "generator", "note", "defaults" (transformers' global generation
  defaults), "derived_models", "cases": [...]}``.
  Each case: ``name``, ``model`` (folder relative to the repo root), ``inputs`` (file relative to
  the repo root + the keys used), ``kwargs`` (exactly what was passed to ``model.generate``),
  ``resolved`` (the generation config fields after transformers merged kwargs,
  generation_config.json and its global defaults; ``max_length`` here is before
  ``max_new_tokens`` is applied), ``effective_max_length`` (1 + max_new_tokens, else max_length),
  ``ids`` (returned sequences, decoder start token included),
  ``sequences_scores`` (beam search only, from a second identical run with
  ``output_scores=True, return_dict_in_generate=True``), ``eos`` (per row: index of the
  first EOS in ``ids`` after the start token or null, and the count of rows with one), and
  ``f64_agrees`` (whether the same call on a float64 copy of the model gives the same ids; a
  false means the case hinges on float rounding and is fragile) and ``stable_under_noise``
  (whether the ids stay the same when uniform noise of +-1e-5 / +-1e-4 is added to the processed
  scores at every step, 3 seeds each -- a check that no near-tie decides the case).

Versions: transformers 5.17.0, torch 2.15 (CPU), safetensors 0.8; the exact versions used are
written to cases.json["versions"].

Rerun (from the repo root; no network needed; the fixtures are read from $PEFTGRID_FIXTURES
or ../shared/fixtures):

    /tmp/tf5py crates/model/tests/data/generation/make_reference.py

(``/tmp/tf5py`` is any Python with transformers 5.17 + torch.)  It rewrites the three derived
folders, the two inputs files and cases.json, and fails if a model loads with missing or
unexpected keys, if transformers logs or raises any warning during a case, or if a derived model
does not end the greedy rows at the target steps.
"""

import json
import logging
import os
import shutil
import sys
import warnings
from pathlib import Path

import safetensors
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import AutoModelForSeq2SeqLM, LogitsProcessor, LogitsProcessorList
from transformers.utils import logging as hf_logging

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[4]  # <repo>/crates/model/tests/data/generation -> <repo>
FIXTURES = Path(os.environ.get("PEFTGRID_FIXTURES", ROOT.parent / "shared" / "fixtures"))

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
hf_logging.set_verbosity_warning()
hf_logging.disable_progress_bar()

# ---------------------------------------------------------------------------------------------
# Derived-model design parameters.
# DESIGN[family]["targets"][row]: generated-token index (1-based; == index in the returned ids) at which greedy
# decoding of the batch-3 inputs must emit EOS; 0 = no EOS within DESIGN_STEPS tokens.
DESIGN = {
    "bart": dict(xattn_scale=6.0, targets=(13, 4, 2), margin=0.5),
    "mbart": dict(xattn_scale=5.0, targets=(15, 5, 3), margin=0.5),
    "t5": dict(xattn_scale=1.0, targets=(0, 2, 5), margin=0.3),
}
DESIGN_STEPS = 20
INPUT_SEED = 1234


def save(tensors, path):
    save_file(tensors, str(path), metadata={"format": "pt"})
    os.chmod(path, 0o644)


def rel(p: Path) -> str:
    return os.path.relpath(Path(p).resolve(), ROOT)


class _Capture(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record.getMessage())


CAPTURE = _Capture()
hf_logging.get_logger("transformers").addHandler(CAPTURE)


class no_warnings:
    """Fail if transformers logs a warning or Python raises a warning inside the block."""

    def __init__(self, what):
        self.what = what

    def __enter__(self):
        hf_logging.warning_once.cache_clear()
        hf_logging.info_once.cache_clear() if hasattr(hf_logging, "info_once") else None
        CAPTURE.records.clear()
        self._w = warnings.catch_warnings(record=True)
        self._list = self._w.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._w.__exit__(*exc)
        msgs = CAPTURE.records + [str(w.message) for w in self._list]
        if exc[0] is None and msgs:
            raise RuntimeError(f"{self.what}: warnings: {msgs}")
        return False


def load_model(path, dtype=torch.float32):
    with no_warnings(f"loading {path}"):
        model, info = AutoModelForSeq2SeqLM.from_pretrained(str(path), output_loading_info=True)
    bad = {k: v for k, v in info.items() if v}
    if bad:
        raise RuntimeError(f"{path}: loading info {bad}")
    return model.to(dtype).eval()


# ---------------------------------------------------------------------------------------------
# Inputs


def make_inputs(pad_id):
    g = torch.Generator().manual_seed(INPUT_SEED)
    ids = torch.randint(3, 500, (3, 10), generator=g, dtype=torch.int64)
    mask = torch.ones(3, 10, dtype=torch.int64)
    for row, n in [(1, 3), (2, 6)]:
        ids[row, 10 - n :] = pad_id
        mask[row, 10 - n :] = 0
    return {"input_ids": ids.contiguous(), "attention_mask": mask.contiguous()}


# ---------------------------------------------------------------------------------------------
# Derived models


def xattn_keys(family, sd):
    if family == "t5":
        return [k for k in sd if ".EncDecAttention." in k and (k.endswith(".v.weight") or k.endswith(".o.weight"))]
    return [
        k
        for k in sd
        if ".encoder_attn." in k and (k.endswith("v_proj.weight") or k.endswith("out_proj.weight"))
    ]


def emb_key(family):
    return "shared.weight" if family == "t5" else "model.shared.weight"


def eos_suppressed_path(model, inputs):
    """Decoder states feeding lm_head and best non-EOS logit along the EOS-suppressed greedy path."""
    gc = model.generation_config
    caps = []
    hook = model.lm_head.register_forward_hook(lambda m, i, o: caps.append(i[0][:, -1].detach().clone()))
    with torch.no_grad():
        out = model.generate(
            **inputs,
            max_new_tokens=DESIGN_STEPS,
            do_sample=False,
            num_beams=1,
            suppress_tokens=[gc.eos_token_id],
            output_logits=True,
            return_dict_in_generate=True,
        )
    hook.remove()
    h = torch.stack(caps, 1)  # [B, T, d]
    logits = torch.stack(out.logits, 1)  # raw logits [B, T, V]
    other = logits.clone()
    other[:, :, gc.eos_token_id] = float("-inf")
    return h, logits, other.max(-1).values


def fit_delta(h, base_gap, targets, margin, use_bias):
    sign = torch.zeros_like(base_gap)
    for r, tg in enumerate(targets):
        for s in range(base_gap.shape[1]):
            if tg <= 0 or s + 1 < tg:
                sign[r, s] = -1.0
            elif s + 1 == tg:
                sign[r, s] = 1.0
    delta = torch.zeros(h.shape[-1], dtype=h.dtype, requires_grad=True)
    bias = torch.zeros((), dtype=h.dtype, requires_grad=True)
    opt = torch.optim.Adam([delta, bias], lr=0.01)
    sel = sign != 0
    for _ in range(3000):
        gap = base_gap + h @ delta + (bias if use_bias else 0.0)
        loss = torch.relu(margin - sign * gap)[sel].sum() + 1e-3 * (delta**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        gap = base_gap + h @ delta + (bias if use_bias else 0.0)
        worst = (sign * gap)[sel].min().item()
    return delta.detach(), (bias.detach() if use_bias else torch.zeros(())), worst


def build_derived(family, inputs):
    src = FIXTURES / "hf" / family
    dst = HERE / f"{family}_eos"
    prm = DESIGN[family]
    dst.mkdir(exist_ok=True)
    for f in ["config.json", "generation_config.json"]:
        shutil.copyfile(src / f, dst / f)
    sd0 = load_file(str(src / "model.safetensors"))
    cfg = json.loads((src / "config.json").read_text())
    eos = cfg["eos_token_id"]
    sd = {k: v.clone() for k, v in sd0.items()}
    scaled = []
    if prm["xattn_scale"] != 1.0:
        for k in xattn_keys(family, sd):
            sd[k] = sd[k] * prm["xattn_scale"]
            scaled.append(k)
    save(sd, dst / "model.safetensors")

    model = load_model(dst)
    h, logits, best_other = eos_suppressed_path(model, inputs)
    w = model.lm_head.weight[eos].detach()
    fb = model.final_logits_bias[0, eos].item() if hasattr(model, "final_logits_bias") else 0.0
    recon = (h @ w + fb - logits[:, :, eos]).abs().max().item()
    assert recon < 1e-4, f"{family}: lm_head reconstruction off by {recon}"
    base_gap = (h @ w + fb) - best_other
    delta, bias, worst = fit_delta(h, base_gap, prm["targets"], prm["margin"], family != "t5")
    if worst <= 0:
        raise RuntimeError(f"{family}: could not fit EOS targets (worst signed gap {worst})")

    ek = emb_key(family)
    sd[ek] = sd[ek].clone()
    sd[ek][eos] += delta
    desc = {
        "source": rel(src),
        "xattn_scale": prm["xattn_scale"],
        "xattn_scaled_keys": scaled,
        "eos_token_id": eos,
        "eos_row_shift_norm": round(delta.norm().item(), 4),
        "eos_row_norm_before": round(w.norm().item(), 4),
        "greedy_eos_targets": list(prm["targets"]),
        "fit_margin": prm["margin"],
        "fit_worst_signed_gap": round(worst, 4),
    }
    if family != "t5":
        sd["final_logits_bias"] = sd["final_logits_bias"].clone()
        sd["final_logits_bias"][0, eos] += bias
        embed_scale = cfg["d_model"] ** 0.5 if cfg.get("scale_embedding") else 1.0
        pk = "model.decoder.embed_positions.weight"
        sd[pk] = sd[pk].clone()
        sd[pk][2] -= embed_scale * delta  # decoder step 0 = learned position 0 + offset 2
        desc["final_logits_bias_eos"] = round(sd["final_logits_bias"][0, eos].item(), 6)
        desc["decoder_pos0_compensation"] = f"{pk}[2] -= {embed_scale:g} * delta"
    for k in sd0:
        assert sd[k].dtype == sd0[k].dtype and sd[k].shape == sd0[k].shape
    assert set(sd) == set(sd0)
    save({k: v.contiguous() for k, v in sd.items()}, dst / "model.safetensors")

    # Verify: loads cleanly, step-0 decoder state unchanged, greedy EOS where designed.
    model2 = load_model(dst)
    h2, _, _ = eos_suppressed_path(model2, inputs)
    d0 = (h2[:, 0] - h[:, 0]).abs().max().item()
    assert d0 < 1e-4, f"{family}: step-0 decoder state changed by {d0}"
    gc = model2.generation_config
    with torch.no_grad():
        out = model2.generate(**inputs, max_new_tokens=DESIGN_STEPS, do_sample=False, num_beams=1)
    got = [first_eos(row, gc.eos_token_id) or 0 for row in out.tolist()]
    if got != list(prm["targets"]):
        raise RuntimeError(f"{family}: greedy EOS steps {got}, wanted {prm['targets']}")
    return desc


# ---------------------------------------------------------------------------------------------
# Cases


def first_eos(row, eos):
    for i, t in enumerate(row):
        if i > 0 and t == eos:
            return i
    return None


def settings(family):
    """(name, kwargs without token ids) per case, for one model family."""
    g = [
        ("greedy", dict(num_beams=1, max_new_tokens=12)),
        ("greedy_min_new5", dict(num_beams=1, max_new_tokens=12, min_new_tokens=5)),
        ("greedy_nrng2", dict(num_beams=1, max_new_tokens=12, no_repeat_ngram_size=2)),
        ("greedy_maxlen9_minlen4", dict(num_beams=1, max_length=9, min_length=4)),
        ("greedy_max_new20", dict(num_beams=1, max_new_tokens=20)),
        ("beam4_es_true", dict(num_beams=4, early_stopping=True, max_new_tokens=12)),
        ("beam4_es_false", dict(num_beams=4, early_stopping=False, max_new_tokens=12)),
        ("beam4_es_never", dict(num_beams=4, early_stopping="never", max_new_tokens=12)),
        ("beam3_lp0.5", dict(num_beams=3, length_penalty=0.5, max_new_tokens=12)),
        ("beam5_lp2_nrng3", dict(num_beams=5, length_penalty=2.0, no_repeat_ngram_size=3, max_new_tokens=12)),
        ("beam4_min_new6", dict(num_beams=4, min_new_tokens=6, max_new_tokens=12)),
        ("beam2_max_new20", dict(num_beams=2, max_new_tokens=20)),
    ]
    eos = {"bart": 2, "mbart": 2, "t5": 1}[family]
    g += [
        ("greedy_forced_eos", dict(num_beams=1, max_new_tokens=8, forced_eos_token_id=eos)),
        ("beam4_forced_eos", dict(num_beams=4, max_new_tokens=8, forced_eos_token_id=eos)),
    ]
    if family != "t5":
        bos = 250 if family == "mbart" else 0
        g += [
            ("greedy_forced_bos", dict(num_beams=1, max_new_tokens=12, forced_bos_token_id=bos)),
            ("beam4_forced_bos", dict(num_beams=4, max_new_tokens=12, forced_bos_token_id=bos)),
        ]
    return g


# Subset run on the unmodified fixtures (golden inputs, and the batch-3 inputs).
FIXTURE_GOLDEN = ["greedy", "greedy_min_new5", "beam4_es_true", "beam5_lp2_nrng3", "beam2_max_new20"]
FIXTURE_BATCH3 = ["greedy", "beam4_es_false"]

RESOLVED_FIELDS = [
    "num_beams",
    "early_stopping",
    "length_penalty",
    "no_repeat_ngram_size",
    "max_length",
    "max_new_tokens",
    "min_length",
    "min_new_tokens",
    "forced_bos_token_id",
    "forced_eos_token_id",
    "repetition_penalty",
    "decoder_start_token_id",
    "bos_token_id",
    "eos_token_id",
    "pad_token_id",
    "do_sample",
    "num_return_sequences",
]


class _Noise(LogitsProcessor):
    """Adds uniform noise in [-amp, amp] to the processed scores (robustness diagnostic only)."""

    def __init__(self, seed, amp):
        self.gen = torch.Generator().manual_seed(seed)
        self.amp = amp

    def __call__(self, input_ids, scores):
        noise = torch.rand(scores.shape, generator=self.gen, dtype=torch.float64).to(scores.dtype)
        return scores + (noise * 2 - 1) * self.amp


NOISE_AMPS = [1e-5, 1e-4]
NOISE_SEEDS = 3


def run_case(name, model, model64, model_dir, inputs, inputs_file, settings_kw):
    gc = model.generation_config
    kwargs = dict(settings_kw)
    kwargs.update(
        do_sample=False,
        num_return_sequences=1,
        decoder_start_token_id=gc.decoder_start_token_id,
        eos_token_id=gc.eos_token_id,
        pad_token_id=gc.pad_token_id,
    )
    with no_warnings(f"case {name} on {model_dir}"):
        resolved_cfg, _ = model._prepare_generation_config(None, **dict(kwargs))
        with torch.no_grad():
            ids = model.generate(**inputs, **kwargs)
            beam = kwargs["num_beams"] > 1
            scores = None
            if beam:
                out = model.generate(**inputs, **kwargs, output_scores=True, return_dict_in_generate=True)
                assert torch.equal(out.sequences, ids), name
                scores = [round(float(s), 6) for s in out.sequences_scores]
            ids64 = model64.generate(**inputs, **kwargs)
            stable = {}
            for amp in NOISE_AMPS:
                same = True
                for seed in range(NOISE_SEEDS):
                    lp = LogitsProcessorList([_Noise(seed, amp)])
                    idsn = model.generate(**inputs, **kwargs, logits_processor=lp)
                    same &= bool(idsn.shape == ids.shape and torch.equal(idsn, ids))
                stable[f"{amp:g}"] = same
    rows = ids.tolist()
    eos_at = [first_eos(r, gc.eos_token_id) for r in rows]
    case = {
        "name": name,
        "model": rel(model_dir),
        "inputs": {"file": rel(inputs_file), "keys": ["input_ids", "attention_mask"]},
        "kwargs": kwargs,
        "resolved": {f: getattr(resolved_cfg, f) for f in RESOLVED_FIELDS},
        # decoder length limit actually used: 1 (decoder start) + max_new_tokens, else max_length
        "effective_max_length": (
            1 + resolved_cfg.max_new_tokens if resolved_cfg.max_new_tokens is not None else resolved_cfg.max_length
        ),
        "ids": rows,
        "eos": {"first_eos_index": eos_at, "rows_with_eos": sum(e is not None for e in eos_at)},
        "f64_agrees": bool(ids64.shape == ids.shape and torch.equal(ids64, ids)),
        "stable_under_noise": stable,
    }
    if scores is not None:
        case["sequences_scores"] = scores
    return case


def main():
    out_cases = []
    derived = {}
    inputs_files = {}
    for fam_inputs, pad in [("bart", 1), ("t5", 0)]:
        t = make_inputs(pad)
        f = HERE / f"inputs_{fam_inputs}.safetensors"
        save(t, f)
        inputs_files[fam_inputs] = f
    inputs_of = {"bart": "bart", "mbart": "bart", "t5": "t5"}

    def batch3(fam):
        f = inputs_files[inputs_of[fam]]
        return load_file(str(f)), f

    for fam in ["bart", "mbart", "t5"]:
        inp, _ = batch3(fam)
        derived[f"{fam}_eos"] = build_derived(fam, inp)

    runs = []  # (model_dir, inputs, inputs_file, case names or None=all, family, tag)
    for fam in ["bart", "mbart", "t5"]:
        inp, f = batch3(fam)
        runs.append((HERE / f"{fam}_eos", inp, f, None, fam, "batch3"))
    for fam in ["bart", "mbart", "t5"]:
        src = FIXTURES / "hf" / fam
        gold = load_file(str(src / "golden.safetensors"))
        ginp = {"input_ids": gold["input_ids"], "attention_mask": gold["attention_mask"]}
        runs.append((src, ginp, src / "golden.safetensors", FIXTURE_GOLDEN, fam, "golden"))
        inp, f = batch3(fam)
        runs.append((src, inp, f, FIXTURE_BATCH3, fam, "batch3"))

    for model_dir, inp, f, names, fam, tag in runs:
        model = load_model(model_dir)
        model64 = load_model(model_dir, torch.float64)
        for name, kw in settings(fam):
            if names is not None and name not in names:
                continue
            case = run_case(
                f"{Path(model_dir).name}/{tag}/{name}", model, model64, model_dir, inp, f, kw
            )
            if Path(model_dir).resolve().is_relative_to(FIXTURES.resolve()):
                case["model_in_fixtures"] = os.path.relpath(Path(model_dir).resolve(), FIXTURES.resolve())
                if f.resolve().is_relative_to(FIXTURES.resolve()):
                    case["inputs"]["file_in_fixtures"] = os.path.relpath(f.resolve(), FIXTURES.resolve())
            out_cases.append(case)

    doc = {
        "versions": {
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "safetensors": safetensors.__version__,
            "python": sys.version.split()[0],
        },
        "generator": rel(Path(__file__)),
        "note": (
            "ids include the decoder start token; finished greedy rows are padded with pad_token_id; "
            "first_eos_index is the index in ids (>0) of the first eos_token_id, null if none; "
            "model paths are relative to the repo root (fixtures: also relative to $PEFTGRID_FIXTURES "
            "as model_in_fixtures)."
        ),
        "defaults": transformers.GenerationConfig._get_default_generation_params(),
        "derived_models": derived,
        "cases": out_cases,
    }
    (HERE / "cases.json").write_text(json.dumps(doc, indent=1) + "\n")

    # Summary
    print(f"{'case':46s} {'shape':>6s} rows_eos first_eos_index  f64   noise1e-5 noise1e-4")
    for c in out_cases:
        shape = f"{len(c['ids'])}x{len(c['ids'][0])}"
        fe = ",".join("-" if e is None else str(e) for e in c["eos"]["first_eos_index"])
        st = c["stable_under_noise"]
        print(
            f"{c['name']:46s} {shape:>6s} {c['eos']['rows_with_eos']:>8d} {fe:16s} {c['f64_agrees']!s:5s} "
            f"{st['1e-05']!s:9s} {st['0.0001']!s:9s}"
        )
    print(f"{len(out_cases)} cases -> {rel(HERE / 'cases.json')}")
    print("\nper-row lengths (ids up to and including the first EOS, else all) on the batch-3 inputs:")
    by_name = {c["name"]: c for c in out_cases}
    for fam in ["bart", "mbart", "t5"]:
        for n in ["greedy", "greedy_max_new20", "beam4_es_true", "beam4_es_false", "beam4_es_never"]:
            c = by_name[f"{fam}_eos/batch3/{n}"]
            lens = [len(r) if e is None else e + 1 for r, e in zip(c["ids"], c["eos"]["first_eos_index"])]
            print(f"  {fam + '_eos':10s} {n:18s} {lens}")
    print(json.dumps(derived, indent=1))


if __name__ == "__main__":
    main()

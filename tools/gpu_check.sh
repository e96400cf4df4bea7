#!/usr/bin/env bash
# The GPU checks of issue 14 as one script, for a machine with an NVIDIA GPU and no Rust
# toolchain: the fixtures' parity on `--backend cuda`, three training steps of LoRA and full
# fine-tuning equal to the CPU backend's, then train/inference samples/s of peftgrid on CUDA and
# of `tools/bench_torch.py --device cuda` on the same GPU, back to back.
#
#   tools/gpu_check.sh BINARY FIXTURES OUT
#
# BINARY: a release peftgrid built with `--features cuda` (`just build-gpu cuda`);
# FIXTURES: ../shared/fixtures (its hf/ folder is read); OUT: where logs go (OUT/summary.txt).
# Python needs torch, transformers 4.57, peft 0.21 and adapters 1.3 (for the bottleneck adapters).
# Each step has its own time limit (device time is short) and a failed step does not stop the
# later ones. METHODS and SIZES (env) choose the bench rows.
set -uo pipefail
export bin=$1 fixtures=$2 out=$3
mkdir -p "$out"
log() { echo "== $*" | tee -a "$out/summary.txt"; }
# step SECONDS NAME 'COMMAND': run with a limit (bash -c, so functions below work), log to
# OUT/NAME.log as it goes, note exit status and seconds.
step() {
    local limit=$1 name=$2 t0=$SECONDS
    timeout "$limit" bash -c "$3" 2>&1 | tee "$out/$name.log" | grep -E '^(LOSS|BENCH_ROW|--|max|FAILED|error)|samples/s' | cut -c1-400
    log "$name: exit ${PIPESTATUS[0]} in $((SECONDS - t0)) s"
}

# cudarc loads libnvrtc at run time: find it (CUDA's lib64, else wherever it is installed).
nvrtc=$(ls /usr/local/cuda*/lib64/libnvrtc.so* /usr/local/cuda*/targets/*/lib/libnvrtc.so* 2>/dev/null | head -1)
[ -n "$nvrtc" ] || nvrtc=$(find / -xdev -name 'libnvrtc.so*' 2>/dev/null | head -1)
export LD_LIBRARY_PATH=$(dirname "${nvrtc:-/usr/local/cuda/lib64/x}"):${LD_LIBRARY_PATH:-}
log "nvrtc: ${nvrtc:-not found}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$out/summary.txt"

parity() {
    for m in bert vit bart; do
        echo "-- $m"
        "$bin" --backend cuda forward --model "$fixtures/hf/$m" \
            --inputs "$fixtures/hf/$m/golden.safetensors" --out "/tmp/$m.safetensors" \
            --compare "$fixtures/hf/$m/golden.safetensors" || echo "FAILED $m"
    done
}
steps_agree() {
    python3 - "$fixtures/hf/bert/config.json" /tmp/tiny-bert.json <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c["hidden_dropout_prob"] = 0.0
c["attention_probs_dropout_prob"] = 0.0
json.dump(c, open(sys.argv[2], "w"))
EOF
    for method in lora:2 full; do
        for backend in flex cuda; do
            echo "-- $method $backend"
            "$bin" --backend "$backend" bench-one --config /tmp/tiny-bert.json --method "$method" \
                --batch 4 --seq-len 12 --warmup 0 --steps 3 --print-losses
        done
    done
}
# bench_one METHOD BATCH SEQ: one peftgrid row on CUDA (MiniLM-L6's size, random weights).
bench_one() {
    "$bin" --backend cuda bench-one --config crates/model/tests/configs/all-MiniLM-L6-v2.json \
        --method "$1" --batch "$2" --seq-len "$3" --warmup 3 --steps 10
}
export -f parity steps_agree bench_one

step 90 parity parity
step 60 steps-agree steps_agree
step 90 peftgrid-lora-32x64 'bench_one lora:8 32 64'
step 60 peftgrid-full-32x64 'bench_one full 32 64'
step 50 torch-32x64 "python3 tools/bench_torch.py --device cuda --batch 32 --seq-len 64 --warmup 3 --steps 10 --methods lora:8,prefix:10 --out $out/torch-cuda-32x64.json"
step 50 peftgrid-lora-256x128 'bench_one lora:8 256 128'

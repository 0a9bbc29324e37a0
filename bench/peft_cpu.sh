#!/usr/bin/env bash
# HF PEFT prompt tuning against `cargo xtask bench configs/sst2.toml` on this CPU, on the same
# work: the frozen SmolLM2-135M-Instruct from the same GGUF file (float32), a k-token soft
# prompt, 2 warm-up + N timed training steps (AdamW, lr 0.03) on the same SST-2 batches (the
# project's seed-0 bucketed order), then the first E dev sentences scored in length-sorted
# batches. bench/peft_cpu.py is the PEFT side; both processes' peak RSS is taken with
# /usr/bin/time.
#
#   bash bench/peft_cpu.sh [--threads 2] [--k 20] [--batch 16] [--eval-batch 64] \
#       [--steps 20] [--eval-examples 256] [-- extra args for cargo xtask bench]
#
# The first run makes a virtualenv in .stage/peft-venv (git-ignored) with the pinned torch,
# transformers, peft and gguf from PyPI (torch's PyPI wheel brings the nvidia-* packages, a
# few GB; they stay unused on a CPU); later runs reuse it. The model must be in the cache
# (`cargo xtask fetch smollm2-135m-instruct`).
set -euo pipefail
cd "$(dirname "$0")/.."

threads=2 k=20 batch=16 eval_batch=64 steps=20 eval_examples=256
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --k) k=$2; shift 2 ;;
    --batch) batch=$2; shift 2 ;;
    --eval-batch) eval_batch=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    --eval-examples) eval_examples=$2; shift 2 ;;
    --) shift; break ;;
    *) sed -n '2,15p' "$0"; exit 2 ;;
  esac
done

packages="torch==2.11.0 transformers==5.24.0 peft==0.21.2 gguf==0.19.0"
venv=.stage/peft-venv
if [ "$(cat "$venv/installed" 2>/dev/null)" != "$packages" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet $packages
  echo "$packages" > "$venv/installed"
fi
if [ ! -x /usr/bin/time ]; then
  echo "needs GNU time for the peak RSS: apt-get install -y time" >&2
  exit 1
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "HF PEFT: $steps timed steps of $batch, $eval_examples dev sentences in batches of $eval_batch, k = $k, $threads thread(s)" >&2
# Its stderr (transformers' GGUF progress bars and warnings) is shown only if it fails.
if ! /usr/bin/time -f %M -o "$out/peft.rss" "$venv/bin/python" bench/peft_cpu.py \
    --threads "$threads" --k "$k" --batch "$batch" --eval-batch "$eval_batch" \
    --steps "$steps" --eval-examples "$eval_examples" > "$out/peft.txt" 2> "$out/peft.log"; then
  cat "$out/peft.log" "$out/peft.txt" >&2
  exit 1
fi
head -n -1 "$out/peft.txt" >&2

# Build first, so that the timed process below only runs the bench.
cargo build --quiet --release --package xtask
echo "cargo xtask bench configs/sst2.toml (same settings)" >&2
/usr/bin/time -f %M -o "$out/ours.rss" cargo xtask bench configs/sst2.toml \
  --steps "$steps" --eval-examples "$eval_examples" --set threads="$threads" \
  --set prompt.length="$k" --set train.batch_size="$batch" \
  --set train.eval_batch_size="$eval_batch" --json "$@" > "$out/ours.json"

"$venv/bin/python" - "$out" <<'EOF'
import json, sys
out = sys.argv[1]
peft = json.loads(open(f"{out}/peft.txt").read().strip().splitlines()[-1])
ours = json.load(open(f"{out}/ours.json"))
rss = {name: int(open(f"{out}/{name}.rss").read().split()[-1]) / 1024 for name in ("peft", "ours")}
print(f"torch {peft['torch']}, transformers {peft['transformers']}, peft {peft['peft']}; "
      f"{peft['threads']} thread(s); {peft['cpu']}")
peak = ours["matmul_gflops"]
print(f"f32 matmul rate at the model's shapes (cargo xtask bench): {peak:.1f} GFLOP/s")
print(f"{'phase':<7}{'batch':>6}{'examples':>9}{'mean tokens':>12}{'PEFT ex/s':>11}"
      f"{'of peak':>9}{'this project ex/s':>19}{'of peak':>9}{'ratio':>8}")
for phase in ("train", "eval"):
    batch = ours["batch_size" if phase == "train" else "eval_batch_size"]
    a, b = peft[f"{phase}_examples_per_s"], ours[f"{phase}_examples_per_s"]
    tokens = f"{ours[f'{phase}_mean_tokens']:.1f}"
    if abs(peft[f"{phase}_mean_tokens"] - ours[f"{phase}_mean_tokens"]) > 1e-6:
        tokens += f" (PEFT {peft[f'{phase}_mean_tokens']:.1f})"
    # The same count for both: 2·N·T per example forward, as much again backward (the bench's).
    flops = (4 if phase == "train" else 2) * ours["matmul_weights"] * peft[f"{phase}_mean_tokens"]
    print(f"{phase:<7}{batch:>6}{ours[f'{phase}_examples']:>9}{tokens:>12}{a:>11.2f}"
          f"{a * flops / 1e9 / peak:>9.0%}{b:>19.2f}{ours[f'{phase}_gflops'] / peak:>9.0%}"
          f"{b / a:>7.1f}x")
print(f"peak RSS: PEFT {rss['peft']:.0f} MB, this project {rss['ours']:.0f} MB "
      f"(ratio {rss['peft'] / rss['ours']:.1f}x)")
print("ratio = this project's examples/s / PEFT's; for the RSS, PEFT's / this project's")
EOF

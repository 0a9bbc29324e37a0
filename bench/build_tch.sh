#!/usr/bin/env bash
# Builds `cargo xtask` with burn's LibTorch backend (feature `tch`) for the GPU machine, which
# has torch 2.11 but no Rust toolchain: the binary is compiled here against the headers and
# libraries of the torch 2.11.0 wheel from PyPI and, on the GPU machine, loads that machine's
# own torch libraries:
#
#   LD_LIBRARY_PATH=$(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))')/lib \
#     ./xtask bench configs/sst2.toml --device cuda
#
# Output: target/tch/release/xtask. The wheel (530 MB) and its unpacked include/ and lib/ stay in
# .stage/torch-2.11.0 (git-ignored) for the next build.
set -euo pipefail
cd "$(dirname "$0")/.."

stage=.stage/torch-2.11.0
if [ ! -f "$stage/torch/lib/libtorch.so" ]; then
  mkdir -p "$stage"
  python3 -m pip download --no-deps torch==2.11.0 --python-version 3.11 \
    --platform manylinux_2_28_x86_64 --only-binary=:all: -d "$stage"
  unzip -q -o "$stage"/torch-2.11.0-*.whl 'torch/include/*' 'torch/lib/*' -d "$stage"
fi

# tch 0.22 was written for torch 2.9; its C++ shim compiles against 2.11's headers.
export LIBTORCH="$PWD/$stage/torch" LIBTORCH_BYPASS_VERSION_CHECK=1 LIBTORCH_CXX11_ABI=1
# libtorch_cuda.so needs the CUDA libraries, which only the GPU machine has: leave those
# symbols to be resolved there. A target folder of its own keeps these flags from forcing a
# rebuild of the normal CPU build.
export RUSTFLAGS="-C link-arg=-Wl,--allow-shlib-undefined"
cargo build --release -p xtask --features tch --target-dir target/tch
ls -l target/tch/release/xtask

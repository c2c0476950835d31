#!/usr/bin/env bash
# One command for the first GPU this project is lent (under 10 minutes on one GPU): the GPU paths checked against
# references (benchmarks/results/gpu_check.{md,json}), then the kernel's speed against SDPA
# (benchmarks/results/kernel.{md,json}). Run from the repository root with the CUDA build of torch and triton.
set -euo pipefail
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
status=0
timeout 300 python benchmarks/gpu_check.py "$@" || status=$?
timeout 180 python benchmarks/kernel.py --lengths 128,512,2048,8192 || status=$?
# exact pseudo-log-likelihoods against one masked position per forward pass (benchmarks/results/gpu/likelihood.*)
timeout 120 python benchmarks/likelihood.py --genome benchmarks/data/multispecies_mini.fa --output_dir \
    benchmarks/results/gpu --timed_sequences 4 --agreement_sequences 12 --large_sequences 2 || status=$?
exit $status

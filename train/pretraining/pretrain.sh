#!/usr/bin/env bash
# The shipped model's pretraining run (4 layers x 256, from scratch, three species held out whole).
# Run from the repository root, in the background on a CPU: nohup bash train/pretraining/pretrain.sh > runs/pretrain.log &
# Rerunning resumes exactly from the newest runs/pretrain-v2/checkpoint-N (see train/pretraining/README.md to continue
# from the shipped weights on a new machine). Arguments are appended (a repeated flag takes the last value): the
# shipped model is steps 0-5,000 of this schedule, then `bash train/pretraining/pretrain.sh --max_steps 7000` (README).
set -euo pipefail
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec nice -n 5 python train/run_mlm.py --config_name train/configs/dnabert2-small.json \
  --config_overrides hidden_dropout_prob=0.0 --tokenizer_name . \
  --train_file "../shared/data/genomes/*.fa.gz" \
  --validation_species "protist_Plasmodium_knowlesi*" "bacteria_Vibrio_cholerae_N16961*" "plant_Arabidopsis_arenosa_chr1_chr2*" \
  --validation_split_percentage 5 --max_seq_length 128 --per_device_train_batch_size 32 --per_device_eval_batch_size 64 \
  --learning_rate 1e-3 --warmup_steps 500 --max_steps 30000 --eval_steps 500 --save_steps 500 --save_total_limit 100 \
  --logging_steps 50 --max_eval_samples 2000 --output_dir runs/pretrain-v2 --cache_dir runs/cache \
  --disable_tqdm True --seed 42 "$@"

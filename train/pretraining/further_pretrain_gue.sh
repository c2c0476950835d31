#!/usr/bin/env bash
# The DNABERT-2 diamond recipe here: the shipped model, further MLM-pretrained for 2,000 steps of 64 sequences (128k
# sequences, half an epoch: what fits in about an hour on 2 CPU cores) on the training splits of every GUE task in
# ../shared/data/GUE (13 tasks, 254k sequences, 23.7 Mbp; dev and test never read), 2 % of those rows held out for
# the loss; lr 5e-4 after 200 warmup steps, linear decay to 0 at step 2,000.
# Run from the repository root, in the background: nohup bash train/pretraining/further_pretrain_gue.sh > runs/further.log 2>&1 &
# Rerunning resumes exactly from the newest runs/further-gue/checkpoint-N. Arguments are appended.
set -euo pipefail
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
nice -n 5 python train/run_mlm.py --model_name_or_path . --config_overrides hidden_dropout_prob=0.0 \
  --gue_dir ../shared/data/GUE --validation_split_percentage 2 --max_seq_length 128 \
  --per_device_train_batch_size 64 --per_device_eval_batch_size 128 --learning_rate 5e-4 --warmup_steps 200 \
  --max_steps 2000 --eval_steps 500 --save_steps 500 --save_total_limit 3 --logging_steps 50 \
  --max_eval_samples 2000 --output_dir runs/further-gue --disable_tqdm True --seed 42 "$@"
# fine-tune it as the shipped model is fine-tuned: the root config's dropout (the run trained with 0)
python -c "import json; root = json.load(open('config.json')); path = 'runs/further-gue/config.json'; c = json.load(open(path)); c.update({k: root[k] for k in ('hidden_dropout_prob', 'attention_probs_dropout_prob')}); json.dump(c, open(path, 'w'), indent=2)"

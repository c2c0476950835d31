#!/usr/bin/env bash
# The explanations pipeline end to end on a GUE transcription-factor task, with the documented commands only:
# fine-tune the shipped model, explain held-out positives by ism, find motifs with tfmodisco-lite.
#
#   bash benchmarks/explain_gue.sh [GUE task folder] [work folder] [results folder]
#   (default: ../shared/data/GUE/tf/0 outputs/explain_gue benchmarks/results/explain/gue_tf_0; ~15 min on 2 cores)
#
# The first POSITIVES (default 600: all of tf_0's) sequences labelled 1 in the held-out SPLITS (default: test) are
# explained; STEPS (default 600) fine-tuning steps; SEQLET_FDR (default 0.05, tfmodisco-lite's) the seqlet calling.
# A rerun keeps the fine-tuned model and the finished explanations.
set -euo pipefail
TASK=${1:-../shared/data/GUE/tf/0}
WORK=${2:-outputs/explain_gue}
RESULTS=${3:-benchmarks/results/explain/gue_tf_0}
POSITIVES=${POSITIVES:-600}
STEPS=${STEPS:-600}
SPLITS=${SPLITS:-test}
mkdir -p "$WORK" "$RESULTS"

if [ ! -e "$WORK/finetuned/finetune.txt" ]; then
    dnabert2-finetune --data_path "$TASK" --output_dir "$WORK/finetuned" --save_model True \
        --max_steps "$STEPS" --learning_rate 1e-4 --per_device_train_batch_size 32 --seed 1 \
        | tee "$WORK/finetune.txt.partial"
    mv "$WORK/finetune.txt.partial" "$WORK/finetuned/finetune.txt"
fi

# the held-out splits' first POSITIVES sequences labelled 1, as FASTA (records named <split>_line_<n>)
awk -F, -v n="$POSITIVES" 'FNR > 1 && $2 == 1 && kept < n {
    kept++; name = FILENAME; sub(/.*\//, "", name); sub(/\.csv$/, "", name); print ">" name "_line_" FNR "\n" $1
}' $(for name in $SPLITS; do echo "$TASK/$name.csv"; done) > "$WORK/positives.fa"

EXPLAINED="$WORK/ism-$(echo $SPLITS | tr ' ' '-')-$POSITIVES"
dnabert2-explain --model_name_or_path "$WORK/finetuned" --input "$WORK/positives.fa" --output_dir "$EXPLAINED" \
    --method ism --target 1 --modisco "$EXPLAINED/arrays" --plot "$RESULTS/ism_logos.png" --plot_top 3

dnabert2-motifs --input_dir "$EXPLAINED/arrays" --output_dir "$WORK/motifs" \
    --sliding_window 10 --flank 3 --trim 20 --min_seqlets 20 --seqlet_fdr "${SEQLET_FDR:-0.05}"

cp "$WORK/motifs/motifs.md" "$WORK/motifs/motifs.json" "$WORK/finetuned/finetune.txt" "$RESULTS/"
for logo in "$WORK"/motifs/report/trimmed_logos/pos_patterns.pattern_{0,1,2}.cwm.fwd.png; do
    if [ -e "$logo" ]; then cp "$logo" "$RESULTS/"; fi
done
echo "Wrote $RESULTS"

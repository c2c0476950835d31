"""Command lines (run_mlm, finetune, predict, score_variants, train_tokenizer, build_gue_dataset, ship_model) over the
subject libraries below them: data, pretraining, finetuning, inference, hub, runtime. Imports run one way:
benchmarks -> train -> the model files."""

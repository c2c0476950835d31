"""Data: the DNA alphabet, FASTA reading, the tokenizer, pretraining windows, fine-tuning tasks and GUE."""

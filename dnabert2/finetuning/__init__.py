"""Fine-tuning: arguments, LoRA, the Trainer run, and the evaluate metric modules (metrics/, loaded by path)."""

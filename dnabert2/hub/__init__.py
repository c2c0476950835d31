"""The Hugging Face Hub: model and dataset cards, pushes."""

"""The GUE runner's library: task settings, fine-tuning runs, the results store, statistics, reports and plots,
the one-hot CNN baseline and the embedded default task (``python benchmarks/gue.py`` is its command line)."""

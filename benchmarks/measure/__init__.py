"""What the benchmark scripts share: FLOP counts, the original release's design as a baseline, report writing."""

"""Benchmark command lines (speed, memory, FLOPs, tokenizer study, GUE runner) over their libraries gue_runner/ and
measure/; results/ holds committed outputs."""

"""Console entry points (``dnabert2-*``, declared in setup.cfg).

Each runs a script's ``main`` and exits 0: ``main`` returns its results (metrics, paths) to Python callers, and a
console entry point would print a returned value as an error and exit 1. Expected errors end as one ``error:`` line
and exit code 2 (``run_command``).
"""

from importlib import import_module


def _entry_point(module: str):
    def run():
        from dnabert2.runtime.errors import run_command

        run_command(import_module(module).main)

    run.__doc__ = f"Run {module}.main()."
    return run


pretrain = _entry_point("dnabert2.train.run_mlm")
finetune = _entry_point("dnabert2.train.finetune")
predict = _entry_point("dnabert2.train.predict")
embed = _entry_point("dnabert2.train.embed")
gue = _entry_point("dnabert2.benchmarks.gue")
gue_contamination = _entry_point("dnabert2.benchmarks.gue_contamination")
train_tokenizer = _entry_point("dnabert2.train.train_tokenizer")
build_gue = _entry_point("dnabert2.train.build_gue_dataset")
score_variants = _entry_point("dnabert2.train.score_variants")
score = _entry_point("dnabert2.train.score")
ship_model = _entry_point("dnabert2.train.ship_model")
explain = _entry_point("dnabert2.train.explain")
motifs = _entry_point("dnabert2.train.motifs")

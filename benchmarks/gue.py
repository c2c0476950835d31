"""Fine-tune and evaluate a DNABERT-2 model on GUE tasks with the paper's per-task settings; write a table and plot.

Main job of the README. With nothing but the repository it runs the embedded default task (species of origin of
100-bp fragments, from benchmarks/data) with the shipped model:

    python benchmarks/gue.py

With GUE (folder in the official layout, or a dataset built by train/build_gue_dataset.py, local or on the Hub):

    python benchmarks/gue.py --gue_dir ../shared/data/GUE                      # every complete task
    python benchmarks/gue.py --gue_dir ../shared/data/GUE --tasks tf_0,mouse_0 --seeds 1,2,3

Results go to --output_dir (results.json, results.csv, results.md, results.png). results.json records the run's
settings (model and a digest of its weights, learning rate, batch size, max_steps, epochs_scale, LoRA, from scratch,
strand augmentation, architecture); a rerun with the same
settings skips the finished (task, seed) pairs (a classification run without its stored per-example test predictions
is run again), one with other settings is refused.

Pretraining ablation: ``--from_scratch True`` fine-tunes a randomly initialised model of the same config (same
tokenizer, budgets and seeds). ``--ablation True`` runs the pretrained model, the same fine-tuned on a random strand per
example (--rc_augment), random weights, the one-hot CNN baseline and the base-composition baseline (logistic regression
on base and dinucleotide frequencies), into <output_dir>/pretrained, /pretrained_rc_augment, /from_scratch, /cnn and
/composition and writes comparison.{md,json,png}: every side's scores, paired t-tests over seeds, means with collapsed
runs scored and left out; with ``--rc_average True`` the strand table also scores each test sequence as the mean of both
strands. ``--further_pretrained_model DIR`` adds a side, /further_pretrained: DIR (further MLM-pretrained on GUE
training splits) fine-tuned like the pretrained model. ``--compare_with <folder>`` compares this run with an earlier one
of the opposite --from_scratch. ``--report_only True`` runs nothing and writes the comparison from the stored results
(each side as far as it got).
"""

import dataclasses
import shlex
import sys
from pathlib import Path

from dnabert2.benchmarks.gue_runner.reports import report_paths, write_comparison
from dnabert2.benchmarks.gue_runner.runs import run_benchmark, selected_tasks
from dnabert2.benchmarks.gue_runner.settings import ABLATION_SIDES, FURTHER_PRETRAINED, GueArguments
from dnabert2.benchmarks.gue_runner.store import check_comparable, check_model, open_results
from dnabert2.runtime.arguments import command_parser
from dnabert2.runtime.errors import InputError, run_command


def ablation_sides(args: GueArguments) -> list[str]:
    """The sides of --ablation: ABLATION_SIDES, and further_pretrained when --further_pretrained_model names a model."""
    return [*ABLATION_SIDES, *([FURTHER_PRETRAINED] if args.further_pretrained_model else [])]


def ablation_runs(args: GueArguments) -> list[GueArguments]:
    """The runs of --ablation, one per side (ablation_sides), each into <output_dir>/<side>; else the run itself."""
    if not args.ablation:
        return [args]
    return [
        dataclasses.replace(
            args,
            output_dir=str(Path(args.output_dir) / side),
            from_scratch=side == "from_scratch",
            architecture=side if side in ("cnn", "composition") else args.architecture,
            ablation=False,
            rc_augment=side == "pretrained_rc_augment",
            further_pretrained_model=None,
            model_name_or_path=args.further_pretrained_model if side == FURTHER_PRETRAINED else args.model_name_or_path,
        )
        for side in ablation_sides(args)
    ]


def main(argv=None):
    """Run every (task, seed) not yet done, print and write the reports (and the comparison of the sides)."""
    parser = command_parser(
        GueArguments,
        usage="dnabert2-gue [--gue_dir GUE | --dataset_name NAME] [--tasks T1,T2] [--seeds 1,2,3] "
        "[--ablation True] [options]",
        description=__doc__.split("\n\n")[0],
    )
    (args,) = parser.parse_args_into_dataclasses(argv)
    command = " ".join(["python benchmarks/gue.py", shlex.join(sys.argv[1:] if argv is None else argv)]).strip()
    if args.ablation and (args.from_scratch or args.compare_with or args.rc_augment):
        raise InputError(
            "--ablation runs every side itself: leave out --from_scratch, --compare_with and --rc_augment."
        )
    if args.further_pretrained_model and not args.ablation:
        raise InputError("--further_pretrained_model is a side of the ablation: add --ablation True.")
    tasks, seeds = selected_tasks(args), [int(s) for s in args.seeds.split(",")]
    output_dir = Path(args.output_dir)
    runs = ablation_runs(args)
    if not args.report_only:  # a report reads the stored results as they are, without the models that made them
        for model in (args.model_name_or_path, args.further_pretrained_model):
            if model:
                check_model(model)
        for run in runs:  # every refusal before any training
            open_results(run)
    if args.compare_with:
        check_comparable(args, args.compare_with)
    if args.report_only and not (args.ablation or args.compare_with):
        raise InputError("--report_only writes a comparison: add --ablation True or --compare_with.")
    folders = []
    for run in runs:
        if not args.report_only:
            print(run_benchmark(run, tasks, seeds, command))
        folders.append(Path(run.output_dir))
    paths = [path for folder in folders for path in report_paths(folder, "results")]
    if args.ablation or args.compare_with:
        augmented_dir = None
        if args.ablation:
            sides = dict(zip(ablation_sides(args), folders))
            augmented_dir = sides.pop("pretrained_rc_augment")
        elif args.from_scratch:
            sides = {"pretrained": Path(args.compare_with), "from_scratch": output_dir}
        else:
            sides = {"pretrained": output_dir, "from_scratch": Path(args.compare_with)}
        print(write_comparison(sides, output_dir, augmented_dir, args.contamination))
        paths += report_paths(output_dir, "comparison")
    print("Outputs written:\n" + "\n".join(f"  {path}" for path in paths))


if __name__ == "__main__":
    run_command(main)
